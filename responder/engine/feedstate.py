"""Feed-state rows for the poller: one per source, claimed a bounded batch at a time.

`sync_feed_states` makes a row for every configured source (and spreads feeds left far
behind by a stopped service over their interval); `claim_due` claims the feeds that are
due, oldest first, at most `limit` of them (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so
several instances share the feeds); `next_poll_at` schedules the next poll from when the
feed was due, not from when the poll happened to run; `write_quiet_polls` records, in one
statement, every poll of a batch that changed nothing but the schedule and validators.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from ..config import FeedsConfig, Source
from ..db import session_scope
from ..feeds.backoff import first_poll_offset, next_poll
from ..feeds.fetch import FetchResult
from ..models import FeedState
from ..runtime import Settings

__all__ = [
    "FUTURE_SLACK",
    "Quiet",
    "claim_due",
    "next_poll_at",
    "quiet_poll",
    "sync_feed_states",
    "take_write_lock",
    "write_quiet_polls",
]

# Publication and poll times this far ahead of `now` are clocks disagreeing a little (a
# publication time within it still counts as the feed's newest).
FUTURE_SLACK = timedelta(minutes=10)
# The Fetcher's default cap on Retry-After and Cache-Control max-age.
_SERVER_HINT_CAP = timedelta(days=1)
# Up to this many enabled sources are named in the claim's query; past it, the few that
# must not be polled (disabled or no longer configured) are named instead.
_IN_LIST_MAX = 500
# Sources not to poll, per configuration object (the object is kept so its id stays its own).
_SKIP: dict[int, tuple[FeedsConfig, frozenset[str], frozenset[str]]] = {}

# The longest wait, per configuration object (computed once: 100,000 sources take a while).
_WAIT: dict[int, tuple[FeedsConfig, timedelta]] = {}

_T = FeedState.__table__  # type: ignore[attr-defined]  # SQLModel tables carry __table__ at run time
_QUIET_UPDATE = (
    sa.update(_T)
    .where(_T.c.source == sa.bindparam("b_source"))
    .values(
        polls=_T.c.polls + 1,
        last_attempt_at=sa.bindparam("b_now"),
        last_success_at=sa.bindparam("b_now"),
        claimed_by=None,
        claimed_until=None,
        next_poll_at=sa.bindparam("b_next"),
        etag=sa.bindparam("b_etag"),
        last_modified=sa.bindparam("b_last_modified"),
        body_hash=sa.bindparam("b_body_hash"),
    )
)


def sync_feed_states(engine: Engine, settings: Settings, now: datetime) -> None:
    """Make sure every configured source has a state row; new ones start at a stable offset.

    A feed due more than one interval ago (the service was stopped that long) is given its
    stable slot in the coming interval, as at first start: after downtime the feeds are
    spread over the interval again instead of all falling due at once.
    """
    with session_scope(engine) as s:
        have = {
            r.source: (r.url, r.next_poll_at)
            for r in s.execute(select(_T.c.source, _T.c.url, _T.c.next_poll_at))
        }
        fresh: list[dict[str, Any]] = []
        for src in settings.feeds.sources:
            url = settings.feeds.url_of(src, settings.base_dir)
            interval = settings.feeds.interval_of(src)
            known = have.get(src.name)
            if known is None:
                fresh.append(
                    {
                        "source": src.name,
                        "url": url,
                        "next_poll_at": now + first_poll_offset(src.name, interval),
                    }
                )
            elif known[0] != url:
                # The address changed: old validators belong to the old address, and what the
                # new one already holds is a new baseline (its first poll is a first start).
                s.execute(
                    sa.update(_T)
                    .where(_T.c.source == src.name)
                    .values(
                        url=url,
                        etag=None,
                        last_modified=None,
                        body_hash=None,
                        baselined_at=None,
                        stale_since=None,
                    )
                )
            elif known[1] is not None and known[1] < now - interval:
                slot = now + first_poll_offset(src.name, interval)
                s.execute(sa.update(_T).where(_T.c.source == src.name).values(next_poll_at=slot))
        if fresh:
            _insert_missing(s, fresh)
    _SKIP.clear()


def _insert_missing(s: Session, rows: list[dict[str, Any]]) -> None:
    """Insert state rows, ignoring those another instance inserted meanwhile."""
    dialect = s.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        module: Any = sqlite if dialect == "sqlite" else postgresql
        # Instances started together all see the rows missing: the first insert wins,
        # the others' are no-ops instead of a unique violation that stops them.
        stmt = module.insert(_T).on_conflict_do_nothing(index_elements=["source"])
        for start in range(0, len(rows), 1000):
            s.execute(stmt, rows[start : start + 1000])
        return
    for row in rows:
        if s.get(FeedState, row["source"]) is None:
            s.add(FeedState(**row))


def _not_polled(s: Session, feeds: FeedsConfig) -> tuple[frozenset[str], frozenset[str]]:
    """(enabled source names, names of rows that must not be polled), once per configuration."""
    cached = _SKIP.get(id(feeds))
    if cached is not None and cached[0] is feeds:
        return cached[1], cached[2]
    enabled = frozenset(src.name for src in feeds.sources if src.enabled)
    skip: frozenset[str] = frozenset()
    if len(enabled) > _IN_LIST_MAX:
        skip = frozenset(name for (name,) in s.execute(select(_T.c.source)) if name not in enabled)
    _SKIP.clear()
    _SKIP[id(feeds)] = (feeds, enabled, skip)
    return enabled, skip


def _longest_wait(settings: Settings) -> timedelta:
    """The furthest ahead a poll is ever scheduled: the backoff ceiling, the longest jittered
    interval, or a server's Retry-After / max-age (capped by the fetcher at a day)."""
    feeds = settings.feeds
    kept = _WAIT.get(id(feeds))
    if kept is not None and kept[0] is feeds:
        return kept[1]
    p = feeds.polling
    longest = max((feeds.interval_of(s) for s in feeds.sources), default=p.interval)
    wait = max(p.max_backoff, longest * (1 + p.jitter), _SERVER_HINT_CAP)
    _WAIT.clear()  # one configuration at a time; a reload makes a new object
    _WAIT[id(feeds)] = (feeds, wait)
    return wait


def claim_due(
    engine: Engine, settings: Settings, now: datetime, instance: str, limit: int
) -> list[FeedState]:
    """Claim up to `limit` enabled feeds due by `now`, longest due first; returns their rows.

    A claim lasts `polling.timeout` × 3 + 30 s: if this instance dies, another polls the
    feed once the claim has lapsed.
    """
    lease = settings.feeds.polling.timeout * 3 + timedelta(seconds=30)
    with session_scope(engine) as s:
        enabled, skip = _not_polled(s, settings.feeds)
        q = (
            select(FeedState)
            .where(
                # A date further ahead than this code ever sets, or a last poll in the future,
                # was written by a clock that was ahead (responder.clock): poll now rather than
                # wait for that date.
                or_(
                    col(FeedState.next_poll_at) <= now,
                    col(FeedState.next_poll_at) > now + _longest_wait(settings),
                    col(FeedState.last_attempt_at) > now + FUTURE_SLACK,
                )
            )
            .where(
                or_(
                    col(FeedState.claimed_until).is_(None),
                    col(FeedState.claimed_until) < now,
                    col(FeedState.claimed_until) > now + lease,
                )
            )
            .order_by(col(FeedState.next_poll_at))
            .limit(limit)
        )
        if len(enabled) <= _IN_LIST_MAX:
            q = q.where(col(FeedState.source).in_(enabled))
        elif skip:
            q = q.where(col(FeedState.source).not_in(skip))
        if s.get_bind().dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        rows = [r for r in s.exec(q).all() if r.source in enabled]
        if rows:
            names = [r.source for r in rows]
            s.execute(
                sa.update(_T)
                .where(_T.c.source.in_(names))
                .values(claimed_by=instance, claimed_until=now + lease)
            )
        for r in rows:
            r.claimed_by, r.claimed_until = instance, now + lease
    return rows


def next_poll_at(
    settings: Settings,
    src: Source,
    due: datetime | None,
    failures: int,
    res: FetchResult,
    now: datetime,
    rand: float,
) -> datetime:
    """When to poll next: one interval (± jitter) after the poll was due, not after it ran.

    So a feed keeps its rate however late the poll job picked it up. A failing feed backs
    off from now; a feed more than an interval late (the service was behind) starts again
    from now; Retry-After and Cache-Control max-age are floors counted from now.
    """
    p = settings.feeds.polling
    interval = settings.feeds.interval_of(src)
    on_time = failures == 0 and due is not None and now - interval < due <= now
    base = due if on_time and due is not None else now
    when = next_poll(base, interval, failures, res.retry_after, res.max_age, p.max_backoff, p.jitter, rand)
    if when <= now:
        when = next_poll(now, interval, failures, res.retry_after, res.max_age, p.max_backoff, p.jitter, rand)
    floors = [res.retry_after or timedelta(0)] + ([res.max_age or timedelta(0)] if not failures else [])
    return max(when, now + max(floors))


@dataclass(frozen=True, slots=True)
class Quiet:
    """A poll that brought no body and changed nothing but the schedule and the validators."""

    source: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    next_poll_at: datetime


def quiet_poll(
    settings: Settings, src: Source, st: FeedState, res: FetchResult, now: datetime, rand: float
) -> Quiet | None:
    """The quiet record of this poll, or None when it needs the full treatment.

    Quiet: a 304 or an unchanged body, of a feed that was healthy before (no failures,
    no outage, no pending error), baselined, and whose quiet-feed alert state stays as it is.
    """
    if res.status not in ("not_modified", "unchanged"):
        return None
    if st.consecutive_failures or st.down_since is not None or st.health_alerted or st.last_error is not None:
        return None
    if st.baselined_at is None:
        return None
    limit = settings.feeds.stale_after_of(src)
    marks = [d for d in (st.last_new_at, st.newest_item_at, st.baselined_at) if d is not None]
    quiet = limit is not None and now - max(marks) > limit
    if quiet != (st.stale_since is not None):
        return None
    when = next_poll_at(settings, src, st.next_poll_at, 0, res, now, rand)
    return Quiet(src.name, res.etag, res.last_modified, res.body_hash, when)


def take_write_lock(s: Session) -> None:
    """On SQLite, start the transaction with a write, so it holds the write lock from the start.

    A transaction that reads first and writes later cannot wait for a lock another
    connection holds: when that one commits, SQLite refuses the upgrade at once ("database
    is locked") instead of waiting out the busy timeout. A write first waits as it should.
    """
    if s.get_bind().dialect.name == "sqlite":
        s.execute(sa.update(_T).where(sa.false()).values(polls=_T.c.polls))


def write_quiet_polls(s: Session, polls: Sequence[Quiet], now: datetime) -> None:
    """Record quiet polls in one statement (executemany), in the caller's transaction."""
    if not polls:
        return
    s.execute(
        _QUIET_UPDATE,
        [
            {
                "b_source": q.source,
                "b_now": now,
                "b_next": q.next_poll_at,
                "b_etag": q.etag,
                "b_last_modified": q.last_modified,
                "b_body_hash": q.body_hash,
            }
            for q in polls
        ],
    )
