"""Database engine and sessions: a SQLite file by default, PostgreSQL by DATABASE_URL."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, create_engine

from . import models  # noqa: F401  (registers the tables)

__all__ = ["DEFAULT_SQLITE", "database_url", "insert_ignore", "make_engine", "redact_url", "session_scope"]

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


def _enable_wal(cur: sqlite3.Cursor) -> None:
    """Switch the file to WAL once; later connections find it so and skip the switch.

    Switching needs an exclusive lock and SQLite answers "database is locked" at once,
    without the busy timeout, when several processes open a new file together: retry
    until one of them has switched it.
    """
    for _attempt in range(200):
        if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
            return
        try:
            cur.execute("PRAGMA journal_mode=WAL")  # ':memory:' answers 'memory', which is fine
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            time.sleep(0.05)  # the busy timeout does not cover this one statement
    raise sqlite3.OperationalError("could not switch the SQLite file to WAL: database stayed locked")


def make_engine(url: str | None = None) -> Engine:
    """Create the engine. SQLite gets WAL and a busy timeout so a briefly locked file is waited for."""
    url = database_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]  # sqlite3 objects, not typed by the event API
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=30000")
            _enable_wal(cur)
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


def insert_ignore(session: Session, row: SQLModel, conflict_cols: Sequence[str]) -> bool:
    """Insert `row` unless a row with the same unique key (`conflict_cols`) exists.

    `conflict_cols` must be exactly the columns of one unique constraint (the database
    refuses others); empty means "any unique constraint". Returns True when inserted (and sets the row's generated primary key), False when
    the key was already there. One `INSERT ... ON CONFLICT DO NOTHING`, so two cycles or
    two instances queuing the same outbox message at once store it once, without an
    IntegrityError spoiling the surrounding transaction. `row` is not added to the session.
    """
    mapper = sa.inspect(type(row))
    table = mapper.local_table
    values = {}
    for attr in mapper.column_attrs:
        column = attr.columns[0]
        value = getattr(row, attr.key)
        if value is None and column.primary_key:
            continue  # let the database number it
        values[column.name] = value
    pk = [c for c in table.primary_key.columns if c.name not in values]
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        # No columns: any unique constraint (a report is one by identity or by link).
        stmt = insert(table).values(values).on_conflict_do_nothing(index_elements=list(conflict_cols) or None)
        if pk:
            stmt = stmt.returning(*pk)  # type: ignore[assignment]  # still the dialect's Insert, stubs say otherwise
            generated = session.execute(stmt).first()
            if generated is None:
                return False
            for column, value in zip(pk, generated, strict=True):
                setattr(row, mapper.get_property_by_column(column).key, value)
            return True
        return bool(session.execute(stmt).rowcount == 1)  # type: ignore[attr-defined]  # a CursorResult at run time
    # Other databases: try, and roll back only the savepoint when the key exists.
    try:
        with session.begin_nested():
            result = session.execute(sa.insert(table).values(values))
    except IntegrityError:
        return False
    inserted = result.inserted_primary_key or ()  # type: ignore[attr-defined]  # a CursorResult at run time
    for column, value in zip(pk, inserted, strict=False):
        setattr(row, mapper.get_property_by_column(column).key, value)
    return True
