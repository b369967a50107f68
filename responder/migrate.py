"""Schema migrations with Alembic, configured in code: no alembic.ini to keep in step.

The service refuses to start on a database that is not at the head revision
(`check_migrated`); `python main.py migrate` (`upgrade`) brings it there. New
revisions are generated from the models with

    .venv/bin/python -m responder.migrate revision -m "what changed"

which autogenerates against a scratch SQLite database upgraded to head.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from .db import database_url, make_engine
from .i18n import t

__all__ = [
    "MIGRATIONS_DIR",
    "PG_MIGRATION_LOCK",
    "NotMigratedError",
    "alembic_config",
    "check_migrated",
    "current_revision",
    "head_revision",
    "main",
    "model_differences",
    "revision",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"
# Any number fits: it only has to be the same in every instance that may run `migrate`.
PG_MIGRATION_LOCK = 0x7265_7370  # "resp"


class NotMigratedError(RuntimeError):
    """The database is not at the schema this code needs; the message says what to run."""


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config pointing at the migrations packaged inside responder."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # '%%' because Config options go through ConfigParser interpolation.
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest revision this code ships."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine | Connection) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    if isinstance(engine, Connection):
        return MigrationContext.configure(engine).get_current_revision()
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_migrated(engine: Engine) -> None:
    """Raise NotMigratedError unless the database is exactly at the head revision."""
    url = engine.url.render_as_string(hide_password=True)
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is None:
        tables = set(sa.inspect(engine).get_table_names()) - {VERSION_TABLE}
        key = "db_unversioned" if tables else "db_no_schema"
        raise NotMigratedError(t(key, url=url))
    known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current not in known:
        raise NotMigratedError(t("db_unknown_revision", url=url, current=current))
    raise NotMigratedError(t("db_behind", url=url, current=current, head=head))


def upgrade(url: str | None = None, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate the database at `url` (default: DATABASE_URL or the SQLite file) to `revision`.

    Returns the revisions before and after, for the operator's log line.
    """
    url = database_url(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                # Batch migrations copy and drop tables; with foreign keys enforced the drop
                # would fail or cascade. The pragma only takes effect outside a transaction.
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.commit()
                # One write transaction for the whole upgrade: SQLite has transactional DDL,
                # so a failed migration leaves nothing half done, and a second `migrate`
                # waits for the lock (busy timeout) and then finds nothing to do.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            elif conn.dialect.name == "postgresql":
                # The same for several instances starting at once on PostgreSQL.
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})")
            before = current_revision(conn)
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            after = current_revision(conn)
            if sqlite:
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left rows with dangling foreign keys: {broken[:5]}")
            conn.commit()
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()
    finally:
        engine.dispose()
    return before, after


def model_differences(bind: Engine | Connection) -> list[Any]:
    """What autogenerate would change to make the database match responder.models (empty: in step)."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return model_differences(conn)
    ctx = MigrationContext.configure(
        bind, opts={"compare_type": True, "render_as_batch": bind.dialect.name == "sqlite"}
    )
    return list(compare_metadata(ctx, SQLModel.metadata))


def _next_rev_id() -> str:
    """Revisions are numbered 0001, 0002 ... so their order shows in the file names."""
    numbers = [
        int(s.revision)
        for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()
        if s.revision.isdigit()
    ]
    return f"{max(numbers, default=0) + 1:04d}"


def _tidy(path: Path) -> None:
    """Format a generated migration with ruff when it is installed (best effort)."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if not ruff:
        return
    subprocess.run([ruff, "check", "--fix", "--quiet", str(path)], check=False)
    subprocess.run([ruff, "format", "--quiet", str(path)], check=False)


def revision(message: str, rev_id: str | None = None) -> Path | None:
    """Autogenerate a revision from the models; None when they already match the migrations."""
    with tempfile.TemporaryDirectory(prefix="responder-autogen-") as tmp:
        url = f"sqlite:///{tmp}/autogen.sqlite3"
        upgrade(url)
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                if not model_differences(conn):
                    return None
                cfg = alembic_config(url)
                cfg.attributes["connection"] = conn
                script = command.revision(
                    cfg, message=message, autogenerate=True, rev_id=rev_id or _next_rev_id()
                )
        finally:
            engine.dispose()
    assert script is not None and not isinstance(script, list)
    path = Path(script.path)
    _tidy(path)
    return path


def main(argv: list[str] | None = None) -> int:
    """`python -m responder.migrate revision -m MSG` and `... check`, for developers."""
    p = argparse.ArgumentParser(
        prog="python -m responder.migrate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("revision", help="autogenerate a migration from responder/models.py")
    r.add_argument("-m", "--message", required=True, help="what the revision changes")
    r.add_argument("--rev-id", help="revision id (default: the next number, e.g. 0002)")
    sub.add_parser("check", help="list differences between the models and the migrations")
    args = p.parse_args(argv)

    if args.command == "check":
        with tempfile.TemporaryDirectory(prefix="responder-check-") as tmp:
            url = f"sqlite:///{tmp}/check.sqlite3"
            upgrade(url)
            engine = make_engine(url)
            try:
                diffs = model_differences(engine)
            finally:
                engine.dispose()
        for d in diffs:
            print(d)
        print(f"{len(diffs)} difference(s) between responder/models.py and the migrations")
        return 1 if diffs else 0

    path = revision(args.message, args.rev_id)
    if path is None:
        print("the models already match the migrations; nothing generated")
        return 0
    print(f"generated {path}; read it before committing (renames show up as drop + add)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
