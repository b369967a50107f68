"""Database engine and sessions: a SQLite file by default, PostgreSQL by DATABASE_URL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine

from . import models  # noqa: F401  (registers the tables)

__all__ = ["DEFAULT_SQLITE", "database_url", "make_engine", "redact_url", "session_scope"]

DEFAULT_SQLITE = "var/responder.sqlite3"


def database_url(explicit: str | None = None) -> str:
    """DATABASE_URL from the environment, else a SQLite file under ./var."""
    url = explicit or os.environ.get("DATABASE_URL")
    if url:
        return url
    Path(DEFAULT_SQLITE).parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_SQLITE}"


def redact_url(url: str) -> str:
    """The URL with any password replaced, safe for a log line."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str | None = None) -> Engine:
    """Create the engine. SQLite gets WAL and a busy timeout so a briefly locked file is waited for."""
    url = database_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def create_all(engine: Engine) -> None:
    """Create tables directly (tests and scan); the service uses migrations."""
    SQLModel.metadata.create_all(engine)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed on success, rolled back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
