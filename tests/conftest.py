"""Shared fixtures. Database tests take `db_url` / `db_engine` to run on SQLite and PostgreSQL.

- `db_url`: URL of a new, empty database; parametrized "sqlite" (a file under tmp_path)
  and "postgresql" (a database on the session's server from tests/kit/pg.py).
- `db_engine`: an engine on `db_url`, migrated to head.
- `sqlite_url` / `sqlite_engine`: the same for SQLite alone (engine migrated to head).
- `pg_server` / `pg_url`: see tests/kit/pg.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from responder.db import make_engine
from responder.migrate import upgrade

pytest_plugins = ["kit.pg", "kit.feedserver"]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a new, empty SQLite file under tmp_path."""
    return f"sqlite:///{tmp_path / 'responder.sqlite3'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """URL of a new, empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))


def _migrated_engine(url: str) -> Iterator[Engine]:
    upgrade(url)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    """An engine on a real SQLite file under tmp_path, migrated to head."""
    yield from _migrated_engine(sqlite_url)


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    """An engine on `db_url` (SQLite and PostgreSQL), migrated to head."""
    yield from _migrated_engine(db_url)
