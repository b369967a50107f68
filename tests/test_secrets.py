"""The database password never reaches output, whatever characters it holds; database files are private.

Every command that takes a database (migrate, status, run, summary, report annual) runs as
a child process, as an operator runs it, with DATABASE_URL holding a password full of the
characters that break URL parsing (`@ : / # ?`), written raw the way people paste them.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from kit.enginekit import ROOT
from kit.pg import PgServer
from kit.servicekit import wait_until, write_service_config

from responder.db import DatabaseUrlError, database_url, make_engine, parse_database_url, redact_url

PASSWORD = "Pw@LEAK:x/1#y?z"
# Pieces of the password that must never show: each would be read wrongly by a naive parser.
FRAGMENTS = ("LEAK", "Pw@", "x/1", "#y", "y?z")
COMMANDS = [
    ["migrate"],
    ["status"],
    ["summary", "--week", "2026-W47"],
    ["report", "annual", "--year", "2026"],
]


def _run(args: list[str], url: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_URL"))}
    env["DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def _assert_clean(output: str) -> None:
    for fragment in FRAGMENTS:
        assert fragment not in output, f"password fragment {fragment!r} leaked:\n{output}"
    assert "Traceback" not in output, output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    "password", ["p@ss", "a:b", "x/y", "h#sh", "q?uery", "Pw@LEAK:x/1#y?z", "50%off", "sp ace"]
)
def test_any_password_is_read_whole_and_hidden(password: str) -> None:
    url = parse_database_url(
        f"postgresql+psycopg://resp:{password}@db.internal:5433/responder?sslmode=require"
    )
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "resp", password, "db.internal", 5433, "responder",
    )  # fmt: skip
    assert url.query == {"sslmode": "require"}
    assert redact_url(f"postgresql+psycopg://resp:{password}@db.internal:5433/responder") == (
        "postgresql+psycopg://resp:***@db.internal:5433/responder"
    )
    # What the service hands to SQLAlchemy parses back to the same password.
    assert (
        parse_database_url(database_url(str(url.render_as_string(hide_password=False)))).password == password
    )


def test_a_percent_encoded_password_means_the_same() -> None:
    assert parse_database_url("postgresql://u:p%40ss%23@h/db").password == "p@ss#"


@pytest.mark.parametrize(
    "raw",
    [
        "postgresql+psycopg://resp:LEAKpw@db:notaport/responder",
        "LEAKpw@db.internal/responder",
        "postgresql+psycopg://resp:LEAK pw@db host/x",
    ],
)
def test_a_malformed_url_is_refused_without_echoing_it(raw: str) -> None:
    with pytest.raises(DatabaseUrlError) as exc:
        parse_database_url(raw)
    assert "LEAK" not in str(exc.value) and "DATABASE_URL" in str(exc.value)
    assert "LEAK" not in redact_url(raw)


# --------------------------------------------------------------------------- every command


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0])
def test_postgresql_down_is_one_line_without_the_password(args: list[str], tmp_path: Path) -> None:
    url = f"postgresql+psycopg://resp:{PASSWORD}@127.0.0.1:{_free_port()}/responder"
    done = _run(args, url, tmp_path)
    assert done.returncode == 1
    _assert_clean(done.stdout + done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "无法连接数据库 postgresql+psycopg://resp:***@127.0.0.1:" in lines[0]


@pytest.mark.parametrize("args", [*COMMANDS, ["run"]], ids=lambda a: a[0])
def test_a_malformed_url_is_one_line_for_every_command(args: list[str], tmp_path: Path) -> None:
    if args == ["run"]:
        args = ["run", "--config", str(write_service_config(tmp_path / "cfg", [("新闻", "feeds/none.xml")]))]
    done = _run(args, f"postgresql+psycopg://resp:{PASSWORD}@127.0.0.1:notaport/responder", tmp_path)
    assert done.returncode == 2
    _assert_clean(done.stdout + done.stderr)
    assert done.stderr.count("\n") == 1 and "数据库地址无法识别" in done.stderr


@pytest.fixture
def leak_url(pg_server: PgServer) -> str:
    """A database owned by a role whose password is PASSWORD, checked by the server (scram),
    so a password that reached the server mangled would fail to log in."""
    with pg_server.admin() as conn:
        hba = Path(conn.execute("SHOW hba_file").fetchone()[0])  # type: ignore[index]
        if "leakcheck" not in hba.read_text():
            rule = "host all leakcheck 127.0.0.1/32 scram-sha-256\n"
            hba.write_text(rule + hba.read_text())
            conn.execute("SELECT pg_reload_conf()")
        conn.execute("DROP DATABASE IF EXISTS leakcheck")
        conn.execute("DROP ROLE IF EXISTS leakcheck")
        conn.execute("SET password_encryption = 'scram-sha-256'")
        conn.execute(f"CREATE ROLE leakcheck LOGIN PASSWORD '{PASSWORD}'")
        conn.execute("CREATE DATABASE leakcheck OWNER leakcheck")
    return f"postgresql+psycopg://leakcheck:{PASSWORD}@127.0.0.1:{pg_server.port}/leakcheck"


def test_every_command_works_on_postgresql_and_never_prints_the_password(
    leak_url: str, tmp_path: Path
) -> None:
    for args in COMMANDS:
        done = _run(args, leak_url, tmp_path)
        assert done.returncode == 0, done.stderr
        _assert_clean(done.stdout + done.stderr)
    migrated = _run(["migrate"], leak_url, tmp_path)
    assert "postgresql+psycopg://leakcheck:***@127.0.0.1" in migrated.stdout
    status = _run(["status"], leak_url, tmp_path)
    assert "数据库：postgresql+psycopg://leakcheck:***@127.0.0.1" in status.stdout

    cfg = write_service_config(tmp_path / "cfg", [("新闻", "feeds/none.xml")])
    log = tmp_path / "run.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_URL"))}
    env["DATABASE_URL"] = leak_url
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "main.py"), "run", "--config", str(cfg), "--cycle-seconds", "1"],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_until(lambda: "已启动" in log.read_text() or proc.poll() is not None, 60, "run to start")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    text = log.read_text()
    assert "已启动" in text and proc.returncode == 0, text
    _assert_clean(text)

    wrong = leak_url.replace("LEAK", "LEAK2")
    done = _run(["status"], wrong, tmp_path)
    assert done.returncode == 1 and "password authentication failed" in done.stderr
    _assert_clean(done.stdout + done.stderr)


# --------------------------------------------------------------------------- file modes


def test_a_new_sqlite_database_is_private_wal_and_shm_included(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual login umask: files 644, folders 755
    try:
        path = tmp_path / "var" / "responder.sqlite3"
        done = _run(["migrate"], f"sqlite:///{path}", tmp_path)
        assert done.returncode == 0, done.stderr
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        engine = make_engine(f"sqlite:///{path}")
        with engine.connect() as conn:  # WAL and SHM exist while a connection is open
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS probe (x INTEGER)")
            conn.exec_driver_sql("INSERT INTO probe VALUES (1)")
            conn.commit()
            for suffix in ("-wal", "-shm"):
                side = path.with_name(path.name + suffix)
                assert side.exists() and stat.S_IMODE(side.stat().st_mode) == 0o600, suffix
        engine.dispose()
    finally:
        os.umask(old)


def test_the_unit_sets_a_private_umask() -> None:
    unit = (ROOT / "deploy" / "responder.service").read_text(encoding="utf-8")
    assert "\nUMask=0077\n" in unit
