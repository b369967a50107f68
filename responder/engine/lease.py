"""Named leases in the database: one holder at a time, taken over when it stops renewing.

Used so that exactly one instance polls Telegram for updates (Telegram allows only
one getUpdates consumer per bot). A compare-and-set UPDATE works the same on SQLite
and PostgreSQL; no protocol of our own between instances.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from ..models import Lease

__all__ = ["acquire", "release"]


def acquire(engine: Engine, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take or renew lease `name` for `holder` until now+ttl; False while someone else holds it."""
    with Session(engine) as s:
        res = s.execute(
            update(Lease)
            .where(col(Lease.name) == name)
            .where(or_(col(Lease.holder) == holder, col(Lease.expires_at) < now))
            .values(holder=holder, expires_at=now + ttl)
        )
        s.commit()
        if res.rowcount == 1:  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult at run time
            return True
        if s.get(Lease, name) is not None:
            return False
        try:
            s.add(Lease(name=name, holder=holder, expires_at=now + ttl))
            s.commit()
        except IntegrityError:  # another instance created it first
            return False
        return True


def release(engine: Engine, name: str, holder: str) -> None:
    """Give the lease up at once (clean shutdown), so another instance need not wait for expiry."""
    with Session(engine) as s:
        lease = s.get(Lease, name)
        if lease is not None and lease.holder == holder:
            s.delete(lease)
            s.commit()
