"""Faults of the service itself: telling a full disk from other errors, and their records.

A full disk shows up differently per layer: SQLite says SQLITE_FULL ("database or disk
is full", also when its file reached `max_page_count`), PostgreSQL SQLSTATE 53100
(`disk_full`, "could not extend file"), the operating system ENOSPC or EDQUOT. All of
them mean the same to an operator: nothing can be written until there is room.

`fault` rows record clock jumps and full disks so `status` (another process) can name
them; a full disk is recorded once there is room again, since nothing can be written
while it lasts.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from .db import session_scope
from .models import Fault
from .vocab import FaultKind

__all__ = ["disk_error_text", "is_disk_full", "open_fault", "recent_faults", "update_fault"]

_SQLITE_FULL = 13
_PG_DISK_FULL = "53100"
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT}


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what it wraps (SQLAlchemy's `.orig`) and its causes, each once."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        orig = getattr(e, "orig", None)
        todo += [orig if isinstance(orig, BaseException) else None, e.__cause__, e.__context__]


def is_disk_full(exc: BaseException) -> bool:
    """True when `exc` (or what it wraps) says the disk or the database is full."""
    for e in _chain(exc):
        full = getattr(e, "sqlite_errorcode", None) == _SQLITE_FULL or "database or disk is full" in str(e)
        if isinstance(e, sqlite3.Error) and full:
            return True
        if getattr(e, "sqlstate", None) == _PG_DISK_FULL:
            return True
        if isinstance(e, OSError) and e.errno in _NO_ROOM:
            return True
    return False


def disk_error_text(exc: BaseException) -> str:
    """The database's own words for a full disk, one line (no SQL, no parameters, no URL)."""
    for e in _chain(exc):
        if isinstance(e, sqlite3.Error | OSError) or getattr(e, "sqlstate", None) == _PG_DISK_FULL:
            text = str(e).strip().splitlines()
            return text[0][:200] if text else type(e).__name__
    return type(exc).__name__


def open_fault(
    engine: Engine, kind: FaultKind, instance: str, started_at: datetime, data: dict[str, Any]
) -> int:
    """Record a fault that began at `started_at`; returns its id."""
    with session_scope(engine) as s:
        row = Fault(kind=kind, instance=instance, started_at=started_at, data=data)
        s.add(row)
        s.flush()
        return int(row.id)


def update_fault(
    engine: Engine, fault_id: int, *, data: dict[str, Any] | None = None, ended_at: datetime | None = None
) -> None:
    """Add figures to a fault, or record when it ended."""
    with session_scope(engine) as s:
        row = s.get(Fault, fault_id)
        if row is None:
            return
        if data is not None:
            row.data = {**row.data, **data}
        if ended_at is not None:
            row.ended_at = ended_at
        s.add(row)


def recent_faults(engine: Engine, now: datetime, within: timedelta = timedelta(hours=24)) -> list[Fault]:
    """Faults still open, and those begun within `within` before `now`, oldest first."""
    with Session(engine) as s:
        since = now - within
        rows = s.exec(
            select(Fault)
            .where((col(Fault.ended_at).is_(None)) | (col(Fault.started_at) >= since))
            .order_by(col(Fault.started_at))
        ).all()
        return list(rows)
