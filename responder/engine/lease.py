"""Named leases in the database: one holder at a time, taken over when it stops renewing.

Used so that exactly one instance polls Telegram for updates (Telegram allows only
one getUpdates consumer per bot). A compare-and-set UPDATE works the same on SQLite
and PostgreSQL; no protocol of our own between instances.

A holder whose wall clock had jumped ahead writes an expiry that far ahead; if it then
stops, waiting for that expiry would leave nobody polling Telegram for as long. An honest
holder never writes an expiry more than its ttl ahead of its own time, so an expiry more
than `IMPOSSIBLE_AHEAD` × ttl after the acquirer's `now` (room for clocks that differ a
little) was written by a wrong clock. Such a lease is taken over as soon as the acquirer has
seen it left unrenewed for a ttl (its `Watch` remembers the sighting): a holder that is
still alive renews it every few seconds, and taking its lease while it runs would only have
two instances take it from each other, each seeing the other's expiry as wrong or past.
The takeover is logged once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from ..i18n import t
from ..models import Lease
from ..present.formats import format_span

__all__ = ["IMPOSSIBLE_AHEAD", "Watch", "acquire", "release"]

log = logging.getLogger(__name__)

# An expiry further ahead of `now` than this many ttls was not written by an honest holder.
IMPOSSIBLE_AHEAD = 2


@dataclass
class Watch:
    """What one acquirer saw of a lease held with an impossible expiry: its holder and expiry,
    and when (the acquirer's `now`) it first saw them so. Keep one per lease for as long as
    the process runs; `acquire` updates it."""

    holder: str | None = None
    expires_at: datetime | None = None
    since: datetime | None = None

    def unrenewed_for(self, lease: Lease, now: datetime) -> timedelta:
        """How long `lease` has stood unchanged in this watch's sight (0 at a first sighting)."""
        if (self.holder, self.expires_at) != (lease.holder, lease.expires_at) or self.since is None:
            self.holder, self.expires_at, self.since = lease.holder, lease.expires_at, now
        self.since = min(self.since, now)  # this clock stepped back: count from now
        return now - self.since

    def forget(self) -> None:
        """Nothing impossible in sight."""
        self.holder = self.expires_at = self.since = None


def acquire(
    engine: Engine, name: str, holder: str, now: datetime, ttl: timedelta, watch: Watch | None = None
) -> bool:
    """Take or renew lease `name` for `holder` until now+ttl; False while someone else holds it.

    A lease expiring more than `IMPOSSIBLE_AHEAD` × ttl after `now` is taken over once `watch`
    has seen it unrenewed for a ttl (see the module docstring), with one log line naming it;
    without a watch it is waited for like any other."""
    with Session(engine) as s:
        res = s.execute(
            update(Lease)
            .where(col(Lease.name) == name)
            .where(or_(col(Lease.holder) == holder, col(Lease.expires_at) < now))
            .values(holder=holder, expires_at=now + ttl)
        )
        s.commit()
        if res.rowcount == 1:  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult at run time
            if watch is not None:
                watch.forget()
            return True
        current = s.get(Lease, name)
        if current is not None:
            return watch is not None and _take_impossible(s, current, holder, now, ttl, watch)
        try:
            s.add(Lease(name=name, holder=holder, expires_at=now + ttl))
            s.commit()
        except IntegrityError:  # another instance created it first
            return False
        return True


def _take_impossible(
    s: Session, current: Lease, holder: str, now: datetime, ttl: timedelta, watch: Watch
) -> bool:
    """Take `current` over when its expiry lies impossibly far ahead of `now` and it was left
    unrenewed for a ttl; False otherwise."""
    if current.expires_at <= now + IMPOSSIBLE_AHEAD * ttl:
        watch.forget()
        return False
    if watch.unrenewed_for(current, now) < ttl:
        return False
    was_holder, was_expiry = current.holder, current.expires_at
    # Compare-and-set on what was seen: a renewal or another instance's takeover meanwhile wins.
    res = s.execute(
        update(Lease)
        .where(col(Lease.name) == current.name, col(Lease.holder) == was_holder)
        .where(col(Lease.expires_at) == was_expiry)
        .values(holder=holder, expires_at=now + ttl)
    )
    s.commit()
    watch.forget()
    if res.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult at run time
        return False
    log.warning(
        t(
            "log_lease_impossible_expiry",
            name=current.name,
            holder=was_holder,
            expires_at=was_expiry.isoformat(timespec="seconds"),
            ahead=format_span(was_expiry - now),
            instance=holder,
        )
    )
    return True


def release(engine: Engine, name: str, holder: str) -> None:
    """Give the lease up at once (clean shutdown), so another instance need not wait for expiry."""
    with Session(engine) as s:
        lease = s.get(Lease, name)
        if lease is not None and lease.holder == holder:
            s.delete(lease)
            s.commit()
