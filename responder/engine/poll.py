"""Feed polling: claim the feeds that are due, fetch them, ingest what is new, schedule the next poll.

Feed state (validators, failures, backoff, outages) lives in `feed_state` rows, so a
restart neither hammers a failing feed nor forgets its ETag. A feed is claimed before
it is fetched (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so with several instances each
feed is polled by one of them per interval.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from ..config import Source
from ..db import insert_ignore, session_scope
from ..feeds.backoff import first_poll_offset, next_poll
from ..feeds.fetch import Fetcher, FetchResult, Validators
from ..feeds.parse import FeedParseError, parse_feed
from ..identity import guids_unique
from ..models import FeedOutage, FeedState
from ..pipeline import analyse
from ..policy import keys
from ..present import messages
from ..runtime import Settings
from .grouper import Grouper
from .ingest import IngestStats, ingest
from .outbox import queue

__all__ = ["PollStats", "poll_due", "sync_feed_states"]

log = logging.getLogger(__name__)


@dataclass
class PollStats:
    """What one polling round did."""

    polled: int = 0
    failed: int = 0
    new_reports: int = 0
    opened: list[int] = field(default_factory=list)
    raised: list[int] = field(default_factory=list)


def sync_feed_states(engine: Engine, settings: Settings, now: datetime) -> None:
    """Make sure every configured source has a state row; new ones start at a stable offset."""
    with session_scope(engine) as s:
        have = {f.source: f for f in s.exec(select(FeedState)).all()}
        for src in settings.feeds.sources:
            url = settings.feeds.url_of(src, settings.base_dir)
            st = have.get(src.name)
            if st is None:
                interval = settings.feeds.interval_of(src)
                # Instances started together all see the row missing: the first insert wins,
                # the others' are no-ops instead of a unique violation that stops them.
                row = FeedState(
                    source=src.name, url=url, next_poll_at=now + first_poll_offset(src.name, interval)
                )
                insert_ignore(s, row, ["source"])
            elif st.url != url:
                # The address changed: old validators belong to the old address.
                st.url, st.etag, st.last_modified, st.body_hash = url, None, None, None
                s.add(st)


def _claim(engine: Engine, settings: Settings, now: datetime, instance: str) -> list[FeedState]:
    names = [s.name for s in settings.feeds.sources if s.enabled]
    lease = settings.feeds.polling.timeout * 3 + timedelta(seconds=30)
    with session_scope(engine) as s:
        q = (
            select(FeedState)
            .where(col(FeedState.source).in_(names), col(FeedState.next_poll_at) <= now)
            .where(or_(col(FeedState.claimed_until).is_(None), col(FeedState.claimed_until) < now))
        )
        if s.get_bind().dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        rows = list(s.exec(q).all())
        for r in rows:
            r.claimed_by, r.claimed_until = instance, now + lease
            s.add(r)
    return rows


async def poll_due(
    engine: Engine, settings: Settings, fetcher: Fetcher, grouper: Grouper, now: datetime, instance: str,
    *, rng: random.Random | None = None, item_keys: dict[str, frozenset[str]] | None = None,
) -> PollStats:  # fmt: skip
    """Fetch every due feed concurrently, then ingest each result in its own transaction.

    `item_keys` (kept by the caller between rounds) lets a changed feed be parsed for its
    changed items only; without it every item is parsed and deduplication does the rest.
    """
    item_keys = {} if item_keys is None else item_keys
    rng = rng or random.Random()
    stats = PollStats()
    claimed = _claim(engine, settings, now, instance)
    if not claimed:
        return stats
    sources = {s.name: s for s in settings.feeds.sources}
    results = await asyncio.gather(
        *(fetcher.fetch(st.url, Validators(st.etag, st.last_modified, st.body_hash)) for st in claimed)
    )
    for st, res in zip(claimed, results, strict=True):
        src = sources[st.source]
        try:
            _record(engine, settings, grouper, src, res, now, rng.random(), stats, item_keys)
        except Exception:
            # One feed's bad data must not stop the others; its claim expires and it is retried.
            log.exception("ingest of feed %s failed", src.name)
            grouper.reset()  # what it grouped in memory was rolled back with the transaction
            stats.failed += 1
    return stats


def _record(
    engine: Engine, settings: Settings, grouper: Grouper, src: Source, res: FetchResult, now: datetime,
    rand: float, stats: PollStats, item_keys: dict[str, frozenset[str]],
) -> None:  # fmt: skip
    error = res.error if res.status == "error" else None
    ingested = IngestStats()
    parsed_keys: frozenset[str] | None = None
    with session_scope(engine) as s:
        st = s.get(FeedState, src.name)
        assert st is not None
        if res.status == "ok" and res.text is not None:
            try:
                parsed = parse_feed(res.text, naive_tz=settings.tz, skip_items=item_keys.get(src.name, ()))
            except FeedParseError as exc:
                error = str(exc)
            else:
                if parsed.bozo:
                    log.warning("feed %s is malformed but readable: %s", src.name, parsed.bozo)
                unique = guids_unique(e.guid for e in parsed.entries)
                items = [
                    analyse(e, src, settings.intake, now, feed_guids_unique=unique) for e in parsed.entries
                ]
                ingested = ingest(s, grouper, items, now)
                parsed_keys = parsed.item_keys
        stats.polled += 1
        st.polls += 1
        st.last_attempt_at = now
        st.claimed_by = st.claimed_until = None
        if error is None:
            st.etag, st.last_modified, st.body_hash = res.etag, res.last_modified, res.body_hash
            _recovered(s, settings, st, now)
            st.consecutive_failures, st.last_error, st.last_success_at = 0, None, now
        else:
            stats.failed += 1
            st.consecutive_failures += 1
            st.last_error = error
            log.warning("feed %s failed (%d in a row): %s", src.name, st.consecutive_failures, error)
        p = settings.feeds.polling
        st.next_poll_at = next_poll(
            now, settings.feeds.interval_of(src), st.consecutive_failures, res.retry_after, res.max_age,
            p.max_backoff, p.jitter, rand,
        )  # fmt: skip
        if error is not None:
            _failed(s, settings, st, error, now)
        s.add(st)
    if parsed_keys is not None:  # only once the items are safely stored
        item_keys[src.name] = parsed_keys
    stats.new_reports += ingested.new
    stats.opened += ingested.opened
    stats.raised += ingested.raised


def _failed(s: Session, settings: Settings, st: FeedState, error: str, now: datetime) -> None:
    if st.down_since is None:
        st.down_since = now
        s.add(FeedOutage(source=st.source, started_at=now, error=error))
    if st.consecutive_failures >= settings.feeds.polling.failures_before_alert and not st.health_alerted:
        st.health_alerted = True
        text = messages.feed_down(
            st.source, st.down_since, st.consecutive_failures, error, st.next_poll_at, settings.tz
        )
        queue(s, keys.feed_health(st.source, "down", st.down_since), [_admin_chat(settings)], text, now)


def _recovered(s: Session, settings: Settings, st: FeedState, now: datetime) -> None:
    if st.down_since is None:
        return
    outage = s.exec(
        select(FeedOutage).where(FeedOutage.source == st.source, col(FeedOutage.ended_at).is_(None))
    ).first()
    if outage is not None:
        outage.ended_at = now
        s.add(outage)
    if st.health_alerted:
        text = messages.feed_up(st.source, now - st.down_since)
        queue(s, keys.feed_health(st.source, "up", st.down_since), [_admin_chat(settings)], text, now)
    st.down_since, st.health_alerted = None, False


def _admin_chat(settings: Settings) -> int:
    return settings.roster.chats_for_role("admin")[0]
