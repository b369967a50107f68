"""A real PostgreSQL server for the test session, started from the installed binaries.

Fixtures (registered through `pytest_plugins` in conftest.py):

- `pg_server` (session): the running server; `pg_server.create_database()` returns the
  URL of a new, empty database.
- `pg_url` (function): the URL of a new, empty database for one test.

The server listens on 127.0.0.1 only, on a free port, with its socket and data in a
temporary directory, fsync off (nothing here needs to survive a power cut). PostgreSQL
refuses to run as root, so as root it runs as the `postgres` system user when that
exists, else as `nobody`. Without the binaries the tests FAIL and say how to install
them, unless RESPONDER_SKIP_PG=1 asks to skip them.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

__all__ = ["PgServer", "find_pg_bin", "pg_server", "pg_url", "start_pg"]

SUPERUSER = "postgres"
INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH or under "
    "/usr/lib/postgresql/*/bin (or RESPONDER_PG_BIN). Install them (Debian/Ubuntu: `apt-get install postgresql`; "
    ".ci/run does this), or set RESPONDER_SKIP_PG=1 to skip the PostgreSQL tests."
)
SKIP_REASON = "RESPONDER_SKIP_PG=1: PostgreSQL tests skipped"
DIR_PREFIX = "responder-pg-"


def find_pg_bin() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres, or None when not installed.

    RESPONDER_PG_BIN, when set, is the only place looked at (a build of one's own).
    """
    explicit = os.environ.get("RESPONDER_PG_BIN")
    if explicit:
        candidates = [Path(explicit)]
    else:
        on_path = shutil.which("initdb")
        candidates = [Path(on_path).resolve().parent] if on_path else []
        # Debian keeps them off PATH, one directory per major version: take the newest.
        versions = glob.glob("/usr/lib/postgresql/*/bin")
        candidates += [Path(p) for p in sorted(versions, key=_major, reverse=True)]
    for d in candidates:
        if all((d / exe).exists() for exe in ("initdb", "pg_ctl", "postgres")):
            return d
    return None


def _major(path: str) -> int:
    part = Path(path).parent.name
    return int(part) if part.isdigit() else 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as_user() -> tuple[list[str], pwd.struct_passwd | None]:
    """Command prefix for the postgres binaries: drops root, and ties the server to us.

    `--pdeathsig` makes the kernel stop the server when this test process dies, even by
    SIGKILL or a CI timeout, so no orphaned servers pile up.
    """
    setpriv = shutil.which("setpriv")
    guard = ["--pdeathsig", "SIGTERM"]
    if os.geteuid() != 0:
        return ([setpriv, *guard, "--"] if setpriv else []), None
    for name in ("postgres", "nobody"):
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue
        if setpriv:
            ids = [f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]
            return [setpriv, *ids, *guard, "--"], user
        runuser = shutil.which("runuser")
        if runuser:
            return [runuser, "-u", name, "--"], user
        raise RuntimeError("running as root and neither setpriv nor runuser is available to drop privileges")
    raise RuntimeError("running as root and no unprivileged user (postgres, nobody) exists to run PostgreSQL")


@dataclass
class PgServer:
    """A running PostgreSQL server owned by this test session."""

    base: Path
    port: int
    process: subprocess.Popen[bytes]
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL of database `dbname` on this server."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def admin(self) -> psycopg.Connection:
        """An autocommit connection to the maintenance database (CREATE DATABASE needs it)."""
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        )

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database and return its URL."""
        name = name or f"test_{next(self._names)}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Fast shutdown (disconnects clients), then remove the cluster."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.base, ignore_errors=True)


def _log_tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def _remove_stale_dirs() -> None:
    """Clusters left by sessions that were killed: their server is gone (no postmaster.pid)."""
    cutoff = time.time() - 600  # a live session's directory has a postmaster.pid within seconds
    for d in Path(tempfile.gettempdir()).glob(f"{DIR_PREFIX}*"):
        try:
            if not (d / "data" / "postmaster.pid").exists() and d.stat().st_mtime < cutoff:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            continue


def _wait_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> bool:
    """True once the server accepts connections; False if it exited (e.g. port taken)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            psycopg.connect(
                host="127.0.0.1", port=port, user=SUPERUSER, dbname="postgres", connect_timeout=2
            ).close()
            return True
        except psycopg.OperationalError:
            time.sleep(0.05)  # polling a starting server, not test logic
    process.kill()
    raise RuntimeError(f"PostgreSQL did not accept connections within 60 s:\n{_log_tail(log)}")


def start_pg(bin_dir: Path) -> PgServer:
    """initdb a cluster in a temporary directory and start it on a free loopback port."""
    _remove_stale_dirs()
    prefix, user = _run_as_user()
    # Not under pytest's tmp_path: its parents are private to root, and the server
    # runs as another user that must reach its own directory.
    base = Path(tempfile.mkdtemp(prefix=DIR_PREFIX))
    if user is not None:
        os.chown(base, user.pw_uid, user.pw_gid)
    data, log = base / "data", base / "server.log"
    init = subprocess.run(
        [*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER,
         "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if init.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"initdb failed ({init.returncode}):\n{init.stdout}\n{init.stderr}")
    # The port is free when chosen but could be taken before the server binds: retry.
    for _attempt in range(5):
        port = _free_port()
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(base),
            "fsync": "off",  # nothing here has to survive a power cut
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
        }
        options = [arg for k, v in settings.items() for arg in ("-c", f"{k}={v}")]
        with log.open("ab") as out:
            process = subprocess.Popen(
                [*prefix, str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), *options],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C reaches pytest, which then stops the server
            )
        if _wait_ready(process, port, log):
            return PgServer(base=base, port=port, process=process)
        if "could not bind" not in _log_tail(log):
            break
    tail = _log_tail(log)
    shutil.rmtree(base, ignore_errors=True)
    raise RuntimeError(f"PostgreSQL did not start:\n{tail}")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL server (fails with install instructions when missing)."""
    if os.environ.get("RESPONDER_SKIP_PG") == "1":
        pytest.skip(SKIP_REASON)
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    server = start_pg(bin_dir)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """URL of a new, empty PostgreSQL database for this test."""
    return pg_server.create_database()
