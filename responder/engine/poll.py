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
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from ..channels.robots import Destination
from ..config import Source
from ..db import insert_ignore, session_scope
from ..faults import is_disk_full
from ..feeds.backoff import first_poll_offset, next_poll
from ..feeds.fetch import Fetcher, FetchResult, Validators
from ..feeds.isolate import ParsePool
from ..feeds.parse import FeedParseError, ParsedFeed, parse_feed
from ..i18n import t
from ..identity import guids_unique
from ..models import FeedOutage, FeedState
from ..pipeline import analyse
from ..policy import keys
from ..present import messages
from ..runtime import Settings
from ..vocab import FeedHealth, Role
from .grouper import Grouper
from .ingest import IngestStats, ingest
from .outbox import queue

__all__ = ["PollStats", "poll_due", "sync_feed_states"]

log = logging.getLogger(__name__)

# Items listed by name in a baseline digest; the rest are counted.
_DIGEST_LINES = 20
# Publication times this far ahead still count as the feed's newest (clocks disagree a little).
_FUTURE_SLACK = timedelta(minutes=10)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The Fetcher's default cap on Retry-After and Cache-Control max-age.
_SERVER_HINT_CAP = timedelta(days=1)


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
                # The address changed: old validators belong to the old address, and what the
                # new one already holds is a new baseline (its first poll is a first start).
                st.url, st.etag, st.last_modified, st.body_hash = url, None, None, None
                st.baselined_at = st.stale_since = None
                s.add(st)


def _longest_wait(settings: Settings) -> timedelta:
    """The furthest ahead a poll is ever scheduled: the backoff ceiling, the longest jittered
    interval, or a server's Retry-After / max-age (capped by the fetcher at a day)."""
    p = settings.feeds.polling
    longest = max((settings.feeds.interval_of(s) for s in settings.feeds.sources), default=p.interval)
    return max(p.max_backoff, longest * (1 + p.jitter), _SERVER_HINT_CAP)


def _claim(engine: Engine, settings: Settings, now: datetime, instance: str) -> list[FeedState]:
    names = [s.name for s in settings.feeds.sources if s.enabled]
    lease = settings.feeds.polling.timeout * 3 + timedelta(seconds=30)
    # A date further ahead than this code ever sets, or a last poll in the future, was written
    # by a clock that was ahead (responder.clock): poll now rather than wait for that date.
    due = or_(
        col(FeedState.next_poll_at) <= now,
        col(FeedState.next_poll_at) > now + _longest_wait(settings),
        col(FeedState.last_attempt_at) > now + _FUTURE_SLACK,
    )
    free = or_(
        col(FeedState.claimed_until).is_(None),
        col(FeedState.claimed_until) < now,
        col(FeedState.claimed_until) > now + lease,
    )
    with session_scope(engine) as s:
        q = select(FeedState).where(col(FeedState.source).in_(names), due, free)
        if s.get_bind().dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        rows = list(s.exec(q).all())
        for r in rows:
            r.claimed_by, r.claimed_until = instance, now + lease
            s.add(r)
    return rows


async def poll_due(
    engine: Engine,
    settings: Settings,
    fetcher: Fetcher,
    grouper: Grouper,
    now: datetime,
    instance: str,
    *,
    rng: random.Random | None = None,
    item_keys: dict[str, frozenset[str]] | None = None,
    parser: ParsePool | None = None,
) -> PollStats:
    """Fetch every due feed concurrently; parse each off the event loop; store each in its own transaction.

    `parser` bounds every parse in time and memory (worker processes; the service always
    passes one); without it feeds are parsed in a thread, unbounded. Each feed is stored as
    soon as it is parsed, one at a time and off the event loop, so a slow feed delays
    nobody. `item_keys` (kept by the caller between rounds) lets a changed feed be parsed
    for its changed items only; without it every item is parsed and deduplication does the rest.
    """
    item_keys = {} if item_keys is None else item_keys
    rng = rng or random.Random()
    stats = PollStats()
    claimed = _claim(engine, settings, now, instance)
    if not claimed:
        return stats
    sources = {s.name: s for s in settings.feeds.sources}
    storing = asyncio.Lock()

    async def one(st: FeedState) -> None:
        src = sources[st.source]
        res = await fetcher.fetch(st.url, Validators(st.etag, st.last_modified, st.body_hash))
        parsed = await _parse(settings, parser, src, res, now, item_keys.get(src.name, ()))
        rand = rng.random()
        async with storing:
            try:
                await asyncio.to_thread(
                    _record, engine, settings, grouper, src, res, parsed, now, rand, stats, item_keys
                )
            except Exception as exc:
                if is_disk_full(exc):
                    raise  # the service says so once per episode, not once per feed
                # One feed's bad data must not stop the others; its claim expires and it is retried.
                log.exception("ingest of feed %s failed", src.name)
                grouper.reset()  # what it grouped in memory was rolled back with the transaction
                stats.failed += 1

    await asyncio.gather(*(one(st) for st in claimed))
    return stats


async def _parse(
    settings: Settings,
    parser: ParsePool | None,
    src: Source,
    res: FetchResult,
    now: datetime,
    skip: frozenset[str] | tuple[()],
) -> ParsedFeed | str | None:
    """The parsed feed of a fetch that brought a body; the reason it was refused; None for no body."""
    if res.status != "ok" or res.text is None:
        return None
    zone = settings.feeds.tz_of(src)
    try:
        if parser is not None:
            return await parser.parse(res.text, zone=zone.key, base_url=res.url, now=now, skip_items=skip)
        return await asyncio.to_thread(
            parse_feed, res.text, naive_tz=zone, skip_items=skip, base_url=res.url, now=now
        )
    except FeedParseError as exc:
        return str(exc)


def _record(
    engine: Engine,
    settings: Settings,
    grouper: Grouper,
    src: Source,
    res: FetchResult,
    parsed: ParsedFeed | str | None,
    now: datetime,
    rand: float,
    stats: PollStats,
    item_keys: dict[str, frozenset[str]],
) -> None:
    error = res.error if res.status == "error" else (parsed if isinstance(parsed, str) else None)
    feed = parsed if isinstance(parsed, ParsedFeed) else None
    ingested = IngestStats()
    with session_scope(engine) as s:
        st = s.get(FeedState, src.name)
        assert st is not None
        if feed is not None:
            if feed.bozo:
                log.warning("feed %s is malformed but readable: %s", src.name, feed.bozo)
            ingested = _ingest(s, settings, grouper, src, feed, st, now)
        stats.polled += 1
        st.polls += 1
        st.last_attempt_at = now
        st.claimed_by = st.claimed_until = None
        if error is None:
            _succeeded(s, settings, st, src, res, feed, ingested, now)
        else:
            stats.failed += 1
            st.consecutive_failures += 1
            st.last_error = error
            log.warning(t("log_feed_failed", source=src.name, n=st.consecutive_failures, error=error))
        p = settings.feeds.polling
        st.next_poll_at = next_poll(
            now,
            settings.feeds.interval_of(src),
            st.consecutive_failures,
            res.retry_after,
            res.max_age,
            p.max_backoff,
            p.jitter,
            rand,
        )
        if error is not None:
            _failed(s, settings, st, error, now)
        s.add(st)
    if feed is not None and not ingested.failed:  # only once every item is safely stored
        item_keys[src.name] = feed.item_keys
    stats.new_reports += ingested.new
    stats.opened += ingested.opened
    stats.raised += ingested.raised


def _ingest(
    s: Session,
    settings: Settings,
    grouper: Grouper,
    src: Source,
    feed: ParsedFeed,
    st: FeedState,
    now: datetime,
) -> IngestStats:
    unique = guids_unique(e.guid for e in feed.entries)
    items = [analyse(e, src, settings.intake, now, feed_guids_unique=unique) for e in feed.entries]
    window = settings.feeds.polling.baseline_window
    # A source's first successful poll records what it already holds: only items published
    # within the window start clocks. A feed back from an outage was baselined long ago.
    first = st.baselined_at is None and window > timedelta(0)
    return ingest(s, grouper, items, now, baseline_before=now - window if first else None)


def _succeeded(
    s: Session,
    settings: Settings,
    st: FeedState,
    src: Source,
    res: FetchResult,
    feed: ParsedFeed | None,
    ingested: IngestStats,
    now: datetime,
) -> None:
    """Record a poll that answered: validators, recovery, baseline digest, liveness."""
    if ingested.failed:
        # Keep the old validators: the next poll fetches and parses the body again, and
        # the items that failed are stored then (those that were stored are duplicates).
        detail = ingested.failed[0][1][:300]
        st.last_error = messages.feed_items_not_stored(len(ingested.failed), detail)
    else:
        st.etag, st.last_modified, st.body_hash = res.etag, res.last_modified, res.body_hash
        st.last_error = None
    _recovered(s, settings, st, now)
    st.consecutive_failures, st.last_success_at = 0, now
    if st.baselined_at is None:
        st.baselined_at = now
        _baseline_digest(s, settings, src, ingested, now)
    if ingested.new:
        st.last_new_at = now
    if feed is not None:
        newest = [e.published for e in feed.entries if e.published and e.published <= now + _FUTURE_SLACK]
        if newest:
            st.newest_item_at = max(min(max(newest), now), st.newest_item_at or max(newest))
    _liveness(s, settings, st, src, now)


def _baseline_digest(
    s: Session, settings: Settings, src: Source, ingested: IngestStats, now: datetime
) -> None:
    """One message listing the relevant items a first poll found too old to start a clock."""
    old = sorted(ingested.baselined, key=lambda a: a.raw_published or _EPOCH, reverse=True)
    if not old:
        return
    window = settings.feeds.polling.baseline_window
    text = messages.feed_baseline_digest(src.name, old, window, settings.tz, listed=_DIGEST_LINES)
    chats = settings.roster.destinations_for_role(Role.POLICY_OFFICE)
    queue(s, keys.feed_health(src.name, FeedHealth.BASELINE, now), chats, text, now)


def _liveness(s: Session, settings: Settings, st: FeedState, src: Source, now: datetime) -> None:
    """One alert when a feed that answers brings nothing new for too long, one when it does again."""
    limit = settings.feeds.stale_after_of(src)
    marks = [d for d in (st.last_new_at, st.newest_item_at, st.baselined_at) if d is not None]
    if not marks:
        return
    last = max(marks)
    quiet = limit is not None and now - last > limit
    if quiet and limit is not None and st.stale_since is None:
        st.stale_since = last
        text = messages.feed_stale(st.source, last, now - last, limit, settings.tz)
        queue(s, keys.feed_health(st.source, FeedHealth.STALE, last), _admin_chats(settings), text, now)
    elif not quiet and st.stale_since is not None:
        text = messages.feed_fresh(st.source, last - st.stale_since)
        key = keys.feed_health(st.source, FeedHealth.FRESH, st.stale_since)
        queue(s, key, _admin_chats(settings), text, now)
        st.stale_since = None


def _failed(s: Session, settings: Settings, st: FeedState, error: str, now: datetime) -> None:
    if st.down_since is None:
        st.down_since = now
        s.add(FeedOutage(source=st.source, started_at=now, error=error))
    if st.consecutive_failures >= settings.feeds.polling.failures_before_alert and not st.health_alerted:
        st.health_alerted = True
        text = messages.feed_down(
            st.source, st.down_since, st.consecutive_failures, error, st.next_poll_at, settings.tz
        )
        key = keys.feed_health(st.source, FeedHealth.DOWN, st.down_since)
        queue(s, key, _admin_chats(settings), text, now)


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
        queue(s, keys.feed_health(st.source, FeedHealth.UP, st.down_since), _admin_chats(settings), text, now)
    st.down_since, st.health_alerted = None, False


def _admin_chats(settings: Settings) -> list[Destination]:
    # The admin chat's Telegram group and robots (a roster may have either or both).
    return settings.roster.destinations_for_role(Role.ADMIN)
