"""Migrations: they build exactly the models' schema, keep records on upgrade, and ship in the package."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from responder.db import make_engine
from responder.migrate import (
    MIGRATIONS_DIR,
    alembic_config,
    current_revision,
    head_revision,
    model_differences,
    upgrade,
)

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = '.venv/bin/python -m responder.migrate revision -m "what changed"'


def test_models_match_migrations(db_url: str) -> None:
    """A database migrated to head has exactly the tables, columns and indexes of responder/models.py."""
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        diffs = model_differences(engine)
    finally:
        engine.dispose()
    listing = "\n".join(f"  {d}" for d in diffs)
    assert not diffs, (
        f"responder/models.py differs from the migrations ({len(diffs)} difference(s)):\n{listing}\n"
        f"Generate a migration with `{REGENERATE}`, read it, and commit it."
    )


def test_revisions_form_one_numbered_line() -> None:
    """One head, revisions numbered 0001, 0002 ... in order, each file named after its revision."""
    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_heads() == [head_revision()]
    chain = list(reversed(list(scripts.walk_revisions())))
    assert [s.revision for s in chain] == [f"{n:04d}" for n in range(1, len(chain) + 1)]
    for s in chain:
        assert Path(s.path).name.startswith(f"{s.revision}_"), s.path


def _sample(column: sa.Column[Any], table: str, row: int) -> Any:
    """A value of the column's type, distinct per table and row, with Chinese in strings."""
    kind = column.type
    if isinstance(kind, sa.TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, sa.JSON):
        return {"地域词": [f"{table}-{row}", "合肥"]}
    if isinstance(kind, sa.DateTime):
        return datetime(2026, 1, 2, 3, 4, 5, row, tzinfo=UTC)
    if isinstance(kind, sa.Boolean):
        return row % 2 == 1
    if isinstance(kind, sa.Integer):
        return row  # also the foreign keys: every table has rows 1 and 2
    if isinstance(kind, sa.Float | sa.Numeric):
        return row + 0.5
    if isinstance(kind, sa.LargeBinary):
        return bytes([row, 0, 255])
    return f"{table}.{column.name} 第{row}行"


def _reflected_tables(conn: sa.Connection) -> list[sa.Table]:
    meta = sa.MetaData()
    meta.reflect(conn)
    return [t for t in meta.sorted_tables if t.name != "alembic_version"]


def _typed(table: sa.Table) -> sa.Table:
    """The reflected table with the DateTime columns read and written as aware UTC."""
    from responder.models import UTCDateTime

    for col in table.columns:
        if isinstance(col.type, sa.DateTime):
            col.type = UTCDateTime()
    return table


def test_upgrade_keeps_records(db_url: str) -> None:
    """Rows written at the first revision are all there, unchanged, after upgrading to head.

    Written generally: every table the first revision has gets two rows, so each later
    revision is checked against real data whatever it changes.
    """
    upgrade(db_url, "0001")
    engine = make_engine(db_url)
    try:
        written: dict[str, list[dict[str, Any]]] = {}
        with engine.begin() as conn:
            for table in map(_typed, _reflected_tables(conn)):
                rows = [{c.name: _sample(c, table.name, n) for c in table.columns} for n in (1, 2)]
                conn.execute(table.insert(), rows)
                written[table.name] = rows
        assert written, "revision 0001 created no tables"

        assert upgrade(db_url) == ("0001", head_revision())

        with engine.connect() as conn:
            tables = {t.name: _typed(t) for t in _reflected_tables(conn)}
            for name, rows in written.items():
                assert name in tables, f"table {name} disappeared on upgrade"
                table = tables[name]
                pk = list(table.primary_key.columns)
                found = [r._asdict() for r in conn.execute(sa.select(table).order_by(*pk))]
                assert len(found) == len(rows), name
                for before, after in zip(rows, found, strict=True):
                    kept = {k: after[k] for k in before if k in after}
                    assert kept == {k: before[k] for k in kept}, name
    finally:
        engine.dispose()


def test_downgrade_to_base_and_up_again(db_url: str) -> None:
    """Every revision's downgrade runs, so a bad release can be rolled back."""
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            cfg = alembic_config(db_url)
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
            conn.commit()
            assert current_revision(conn) is None
            assert _reflected_tables(conn) == []
    finally:
        engine.dispose()
    assert upgrade(db_url) == (None, head_revision())


def _main_py(args: list[str], url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "RESPONDER_LANG": "zh"}
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_migrate_command_reports_from_and_to(db_url: str, tmp_path: Path) -> None:
    """`python main.py migrate` migrates DATABASE_URL and prints from → to; a second run has nothing to do."""
    head = head_revision()
    first = _main_py(["migrate"], db_url, tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"（空） → {head}" in first.stdout

    second = _main_py(["migrate"], db_url, tmp_path)
    assert second.returncode == 0, second.stderr
    assert f"已是最新版本 {head}" in second.stdout


def test_migrate_command_names_an_unreachable_database(tmp_path: Path) -> None:
    """A database that cannot be reached gives one clear line and exit status 1, not a traceback."""
    url = "postgresql+psycopg://someone:topsecret@127.0.0.1:1/nowhere"
    result = _main_py(["migrate"], url, tmp_path)
    assert result.returncode == 1
    assert "无法连接数据库 postgresql+psycopg://someone:***@127.0.0.1:1/nowhere" in result.stderr
    assert "topsecret" not in result.stderr
    assert "Traceback" not in result.stderr


def test_migrations_ship_in_the_package() -> None:
    """Every migration file matches a package-data pattern, so `pip install` carries it."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "responder"
    ]
    package = MIGRATIONS_DIR.parent
    shipped = {p for pattern in patterns for p in package.glob(pattern)}
    files = [p for p in MIGRATIONS_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert MIGRATIONS_DIR / "env.py" in files and MIGRATIONS_DIR / "script.py.mako" in files
    missing = [p.relative_to(package).as_posix() for p in files if p not in shipped]
    assert not missing, f"add package-data patterns in pyproject.toml for {missing}"


def test_instances_migrating_at_once_migrate_once(db_url: str) -> None:
    """Several instances started together all run `migrate`: one migrates, the others wait and find it done."""
    barrier = threading.Barrier(4)
    results: list[tuple[str | None, str | None]] = []
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            results.append(upgrade(db_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)  # a guard against a deadlock hanging the suite, not a measurement
    assert not any(th.is_alive() for th in threads), "concurrent migrations deadlocked"
    assert not errors, errors
    head = head_revision()
    assert sorted(results, key=str) == sorted([(None, head)] + [(head, head)] * 3, key=str)
