"""Feed polling as a pipeline: claim due feeds in bounded batches, fetch them concurrently,
parse off the event loop, write each round's results in batched transactions.

Feed state (validators, failures, backoff, outages) lives in `feed_state` rows, so a
restart neither hammers a failing feed nor forgets its ETag. A feed is claimed before
it is fetched (`FOR UPDATE SKIP LOCKED` on PostgreSQL, `engine/feedstate.py`), so with
several instances each feed is polled by one of them per interval. At most `batch` feeds
are in flight at once, so memory is bounded by the batch, not by the number of feeds.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ..channels.robots import Destination
from ..config import Source
from ..db import session_scope
from ..faults import is_disk_full
from ..feeds.fetch import Fetcher, FetchResult, Validators
from ..feeds.isolate import ParsePool
from ..feeds.itemsplit import pack_keys, unpack_keys
from ..feeds.parse import FeedParseError, ParsedFeed, parse_feed
from ..i18n import t
from ..identity import guids_unique
from ..models import FeedOutage, FeedState
from ..pipeline import analyse
from ..policy import keys
from ..present import messages
from ..runtime import Settings
from ..vocab import FeedHealth, Role
from .feedstate import (
    FUTURE_SLACK,
    Quiet,
    claim_due,
    next_poll_at,
    quiet_poll,
    sync_feed_states,
    take_write_lock,
    write_quiet_polls,
)
from .grouper import Grouper
from .ingest import IngestStats, ingest
from .outbox import queue

__all__ = ["BATCH", "ItemKeys", "PollStats", "poll_due", "sync_feed_states"]

log = logging.getLogger(__name__)

# Feeds in flight at most (fetched, parsed, waiting to be written): the bound on memory.
BATCH = 500
# Results written in one transaction at most.
_WRITE_MAX = 1000
# Items listed by name in a baseline digest; the rest are counted.
_DIGEST_LINES = 20
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Per source, the keys of the items parsed last time, packed (see `feeds.itemsplit.pack_keys`).
ItemKeys = dict[str, bytes]


@dataclass
class PollStats:
    """What one polling run did. `late` holds, per poll, how long after it was due its fetch started."""

    polled: int = 0
    failed: int = 0
    new_reports: int = 0
    opened: list[int] = field(default_factory=list)
    raised: list[int] = field(default_factory=list)
    late: list[float] = field(default_factory=list)
    writes: int = 0


@dataclass(frozen=True, slots=True)
class _Outcome:
    """One feed's fetch (and parse), waiting to be written."""

    src: Source
    st: FeedState
    res: FetchResult
    parsed: ParsedFeed | str | None
    rand: float


async def poll_due(
    engine: Engine,
    settings: Settings,
    fetcher: Fetcher,
    grouper: Grouper,
    now: datetime,
    instance: str,
    *,
    rng: random.Random | None = None,
    item_keys: ItemKeys | None = None,
    parser: ParsePool | None = None,
    batch: int = BATCH,
    written: Callable[[PollStats], None] | None = None,
) -> PollStats:
    """Poll every feed due by `now`: claimed `batch` at a time, fetched concurrently, parsed off
    the event loop, written in batched transactions as results come in.

    `parser` bounds every parse in time and memory (worker processes; the service always
    passes one); without it feeds are parsed in a thread, unbounded. `item_keys` (kept by
    the caller between runs) lets a changed feed be parsed for its changed items only.
    `written` is called after each committed write that opened or raised an incident, so
    the caller can run the engine cycle at once instead of after the whole run.
    """
    item_keys = {} if item_keys is None else item_keys
    rng = rng or random.Random()
    stats = PollStats()
    sources = {s.name: s for s in settings.feeds.sources}
    results: asyncio.Queue[_Outcome | None] = asyncio.Queue()
    writer = asyncio.create_task(
        _write_loop(engine, settings, grouper, results, now, stats, item_keys, written)
    )
    started = time.monotonic()
    in_flight: set[asyncio.Task[None]] = set()
    room = asyncio.Event()

    async def one(st: FeedState) -> None:
        src = sources[st.source]
        if st.next_poll_at is not None:
            stats.late.append((now - st.next_poll_at).total_seconds() + time.monotonic() - started)
        try:
            res = await fetcher.fetch(st.url, Validators(st.etag, st.last_modified, st.body_hash))
            skip = unpack_keys(item_keys.get(src.name))
            parsed = await _parse(settings, parser, src, res, now, skip)
        except Exception:  # a bug, not a feed's failure: its claim expires and it is polled again
            log.exception("poll of feed %s failed", src.name)
            stats.failed += 1
            return
        await results.put(_Outcome(src, st, res, parsed, rng.random()))

    def finished(task: asyncio.Task[None]) -> None:
        in_flight.discard(task)
        if len(in_flight) <= batch // 2:
            room.set()

    try:
        more = True
        while more or in_flight:
            if more and len(in_flight) <= batch // 2:
                want = batch - len(in_flight)
                claimed = await asyncio.to_thread(claim_due, engine, settings, now, instance, want)
                more = len(claimed) == want
                for st in claimed:
                    task = asyncio.create_task(one(st))
                    in_flight.add(task)
                    task.add_done_callback(finished)
            if in_flight:
                room.clear()
                await room.wait()
    finally:
        await asyncio.gather(*in_flight, return_exceptions=True)
        await results.put(None)
        await writer
    return stats


async def _write_loop(
    engine: Engine,
    settings: Settings,
    grouper: Grouper,
    results: asyncio.Queue[_Outcome | None],
    now: datetime,
    stats: PollStats,
    item_keys: ItemKeys,
    written: Callable[[PollStats], None] | None,
) -> None:
    """Write results as they come: whatever arrived while the last write ran goes in the next."""
    done = False
    while not done:
        first = await results.get()
        if first is None:
            return
        outcomes = [first]
        while not results.empty() and len(outcomes) < _WRITE_MAX:
            nxt = results.get_nowait()
            if nxt is None:
                done = True
                break
            outcomes.append(nxt)
        before = (len(stats.opened), len(stats.raised))
        try:
            await asyncio.to_thread(_record_batch, engine, settings, grouper, outcomes, now, stats, item_keys)
        except Exception as exc:
            if is_disk_full(exc):
                raise  # the service says so once per episode, not once per feed
            # The transaction rolled back: these feeds stay claimed until the claim expires and
            # are polled again then; nothing they brought is lost.
            log.exception("writing %d polls failed", len(outcomes))
            grouper.reset()  # what it grouped in memory was rolled back with the transaction
            stats.failed += len(outcomes)
            continue
        if written is not None and (len(stats.opened), len(stats.raised)) != before:
            written(stats)


async def _parse(
    settings: Settings,
    parser: ParsePool | None,
    src: Source,
    res: FetchResult,
    now: datetime,
    skip: frozenset[str],
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


def _record_batch(
    engine: Engine,
    settings: Settings,
    grouper: Grouper,
    outcomes: list[_Outcome],
    now: datetime,
    stats: PollStats,
    item_keys: ItemKeys,
) -> None:
    """Write a batch of polls in one transaction: quiet ones in one statement, the others one by
    one, each in a savepoint so that one feed's bad data rolls back that feed alone."""
    tally = PollStats()
    keys_after: ItemKeys = {}
    quiet: list[Quiet] = []
    with session_scope(engine) as s:
        take_write_lock(s)
        for o in outcomes:
            q = quiet_poll(settings, o.src, o.st, o.res, now, o.rand) if o.parsed is None else None
            if q is not None:
                quiet.append(q)
                tally.polled += 1
                continue
            try:
                with s.begin_nested():
                    _record_one(s, settings, grouper, o, now, tally, keys_after)
            except Exception as exc:
                if is_disk_full(exc):
                    raise  # nothing more can be written; the whole batch rolls back
                # Its claim expires and it is polled again; the other feeds of the batch are written.
                log.exception("ingest of feed %s failed", o.src.name)
                grouper.reset()  # what it grouped in memory was rolled back with the savepoint
                tally.failed += 1
        write_quiet_polls(s, quiet, now)
    # Committed: only now do the parsed items count as stored.
    item_keys.update(keys_after)
    stats.polled += tally.polled
    stats.failed += tally.failed
    stats.new_reports += tally.new_reports
    stats.opened += tally.opened
    stats.raised += tally.raised
    stats.writes += 1


def _record_one(
    s: Session,
    settings: Settings,
    grouper: Grouper,
    o: _Outcome,
    now: datetime,
    stats: PollStats,
    keys_after: ItemKeys,
) -> None:
    """One poll that brought a body, failed, or changes the feed's health, in the caller's transaction."""
    src, res, parsed = o.src, o.res, o.parsed
    error = res.error if res.status == "error" else (parsed if isinstance(parsed, str) else None)
    feed = parsed if isinstance(parsed, ParsedFeed) else None
    ingested = IngestStats()
    st = s.get(FeedState, src.name)
    assert st is not None
    due = st.next_poll_at
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
    st.next_poll_at = next_poll_at(settings, src, due, st.consecutive_failures, res, now, o.rand)
    if error is not None:
        _failed(s, settings, st, error, now)
    s.add(st)
    s.flush()
    if feed is not None and not ingested.failed:  # only once every item is safely stored
        keys_after[src.name] = pack_keys(feed.item_keys)
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
        newest = [e.published for e in feed.entries if e.published and e.published <= now + FUTURE_SLACK]
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
