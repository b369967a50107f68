"""Alembic environment, configured from code (responder.migrate), not from an alembic.ini.

responder.migrate hands over an open connection in `config.attributes["connection"]`
so migrations run with the same engine settings as the service (SQLite pragmas,
PostgreSQL pool). Without one, an engine is made from the `sqlalchemy.url` option.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from responder import models
from responder.db import make_engine
from responder.migrate import PG_MIGRATION_LOCK

target_metadata = SQLModel.metadata


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Spell our column types so that a generated migration imports what it uses.

    UTCDateTime comes from responder.models (so it must stay there for old migrations);
    SQLModel's AutoString is plain VARCHAR and is written as sa.String to keep
    migrations free of SQLModel internals, and so is a vocabulary column (VocabText),
    which the database sees as VARCHAR too.
    """
    if type_ == "type" and isinstance(obj, models.VocabText):
        return "sa.String()"
    if type_ == "type" and isinstance(obj, models.UTCDateTime):
        autogen_context.imports.add("from responder.models import UTCDateTime")
        return "UTCDateTime()"
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=render_item,
        compare_type=True,
    )


def _run(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several instances may run `migrate` at once: the first migrates, the rest wait
            # and then find nothing left to do. (Re-entrant: upgrade() may hold it already.)
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})")
        context.run_migrations()


def run_migrations_offline() -> None:
    """Print the SQL instead of running it (`--sql`)."""
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run against the connection responder.migrate gave us, or one made from the URL."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(context.config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
