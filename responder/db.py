"""Database engine and sessions: a SQLite file by default, PostgreSQL by DATABASE_URL."""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl, unquote

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError
from sqlmodel import Session, SQLModel, create_engine

from . import models  # noqa: F401  (registers the tables)
from .i18n import t

__all__ = [
    "DEFAULT_SQLITE",
    "DatabaseUrlError",
    "database_url",
    "insert_ignore",
    "make_engine",
    "parse_database_url",
    "redact_url",
    "session_scope",
    "sqlite_path",
]

DEFAULT_SQLITE = "var/responder.sqlite3"

# scheme://userinfo@host:port/database?query, read from the right: a password may hold
# any character (@ : / # ? …), written raw or percent-encoded.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://(.*)$", re.S)
_HOSTPART = re.compile(
    r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._\-,%]*)(?::(?P<port>\d{1,5}))?"
    r"(?:/(?P<database>[^?#]*))?(?:\?(?P<query>[^#]*))?$",
    re.S,
)


class DatabaseUrlError(ValueError):
    """The database URL cannot be used. The message never repeats the URL: it may hold a password."""


def parse_database_url(raw: str) -> URL:
    """Read a database URL whatever characters its password holds; never echoes it on error.

    SQLAlchemy's own parser splits at the first `@`, so a password such as `p@ss#1` turns
    into a host name that then appears in error messages. Here the credentials end at the
    last `@`, the user name at the first `:` of what precedes it, and both are
    percent-decoded (an encoded `%40` and a raw `@` mean the same).
    """
    text = (raw or "").strip()
    m = _SCHEME.match(text)
    if not m:
        raise DatabaseUrlError(t("db_url_malformed", reason=t("db_url_no_scheme")))
    driver, rest = m.groups()
    if driver.split("+", 1)[0] == "sqlite":
        try:
            return make_url(text)
        except ArgumentError:
            raise DatabaseUrlError(t("db_url_malformed", reason=t("db_url_bad_sqlite"))) from None
    creds, at, hostpart = rest.rpartition("@")
    hm = _HOSTPART.match(hostpart)
    if not hm:
        raise DatabaseUrlError(t("db_url_malformed", reason=t("db_url_bad_host")))
    user = password = None
    if at:
        user_raw, colon, pw_raw = creds.partition(":")
        user = unquote(user_raw) or None
        password = unquote(pw_raw) if colon else None
    query: dict[str, list[str]] = {}
    for key, value in parse_qsl(hm["query"] or "", keep_blank_values=True):
        query.setdefault(key, []).append(value)
    return URL.create(
        driver,
        username=user,
        password=password,
        host=unquote(hm["host"]) or None,
        port=int(hm["port"]) if hm["port"] else None,
        database=unquote(hm["database"]) if hm["database"] else None,
        query={k: v[0] if len(v) == 1 else tuple(v) for k, v in query.items()},
    )


def database_url(
    explicit: str | None = None, configured: Path | None = None, environment: str | None = None
) -> str:
    """The database to use, as a URL string SQLAlchemy parses back correctly.

    In order: `explicit` (a --database option); `configured`, the SQLite file a config
    names with `database:` (the offline example keeps its own); `environment`, the
    DATABASE_URL the command line read at start (`responder.env`), or for callers that
    pass none (`python -m responder.migrate`) DATABASE_URL itself; else the SQLite file
    under ./var. Raises DatabaseUrlError (without the URL) when unusable.
    """
    if explicit:
        raw = explicit
    elif configured is not None:
        raw = f"sqlite:///{configured}"
    else:
        raw = environment or os.environ.get("DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE}"
    return parse_database_url(raw).render_as_string(hide_password=False)


def redact_url(url: str | URL) -> str:
    """The URL with its password hidden, safe for a log line; a placeholder if it cannot be read."""
    try:
        parsed = url if isinstance(url, URL) else parse_database_url(url)
    except DatabaseUrlError:
        return t("db_url_unreadable")
    return parsed.render_as_string(hide_password=True)


def sqlite_path(url: str | URL) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL, in-memory or URI databases)."""
    parsed = url if isinstance(url, URL) else parse_database_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    name = parsed.database or ""
    if not name or name == ":memory:" or name.startswith("file:") or parsed.query.get("uri"):
        return None
    return Path(name)


def _create_private(path: Path) -> None:
    """Create the folder (0700) and the empty database file (0600) before SQLite does.

    SQLite gives its -wal and -shm files the mode of the database file, so they stay
    private too. An existing file or folder keeps the mode it has.
    """
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


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


class NoDatabaseError(Exception):
    """A command that only reads was pointed at a SQLite file that does not exist yet."""


def reader_engine(url: str, create_with: str) -> Engine:
    """An engine for a command that only reads (status, summary, report).

    A SQLite file that is not there is not created (an empty file would only hide the
    mistake): NoDatabaseError says so in one line, naming `create_with`, the command that
    makes it.
    """
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise NoDatabaseError(t("db_missing", path=path, command=create_with))
    return make_engine(url)


def make_engine(url: str | None = None) -> Engine:
    """Create the engine. SQLite gets WAL and a busy timeout so a briefly locked file is waited for,
    and a new file is created private (0600 in a 0700 folder)."""
    url = database_url(url)
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None:
            _create_private(path)
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
