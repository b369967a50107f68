"""Polling on time and in bounded batches: the schedule keeps its rate whatever the job's pace,
feeds left behind by a stopped service are spread again, and at most a batch is in flight."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from kit.enginekit import Service, rss
from kit.feedserver import FeedServer
from kit.servicekit import write_service_config
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from responder.engine.feedstate import claim_due, sync_feed_states
from responder.engine.poll import poll_due
from responder.feeds.fetch import Fetcher
from responder.models import FeedState

NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
ITEM = [("https://site.example/n/1", "本地新闻", "会议召开。", NOW - timedelta(days=1))]


def states(engine: Engine) -> dict[str, FeedState]:
    with Session(engine) as s:
        return {f.source: f for f in s.exec(select(FeedState)).all()}


def due_at(engine: Engine, when: dict[str, datetime]) -> None:
    with engine.begin() as conn:
        for name, at in when.items():
            conn.execute(sa.update(FeedState).where(FeedState.source == name).values(next_poll_at=at))


def test_a_feed_polled_late_is_due_again_one_interval_after_it_was_due(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.route("/a.xml", rss(ITEM), etag='"1"')
    cfg = write_service_config(tmp_path, [("a", feed_server.url("/a.xml"))], interval="10s")
    svc = Service.start(sqlite_engine, cfg, NOW)
    due_at(sqlite_engine, {"a": NOW})
    svc.step(NOW + timedelta(seconds=4))  # the poll job came 4 s after the feed was due
    assert states(sqlite_engine)["a"].next_poll_at == NOW + timedelta(seconds=10)
    svc.step(NOW + timedelta(seconds=13))
    assert states(sqlite_engine)["a"].next_poll_at == NOW + timedelta(seconds=20)


def test_a_ten_second_feed_polled_by_a_five_second_job_is_polled_every_ten_seconds(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.route("/a.xml", rss(ITEM), etag='"1"')
    cfg = write_service_config(tmp_path, [("a", feed_server.url("/a.xml"))], interval="10s")
    svc = Service.start(sqlite_engine, cfg, NOW)
    due_at(sqlite_engine, {"a": NOW + timedelta(seconds=1)})
    for tick in range(0, 101, 5):
        svc.step(NOW + timedelta(seconds=tick))
    # Due at 1, 11, 21 … 91 s: ten polls in 100 s (scheduled from the poll, it would be seven).
    assert len(feed_server.requests_to("/a.xml")) == 10


def test_a_failing_feed_backs_off_from_when_it_failed(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.route("/a.xml", b"", status=500)
    cfg = write_service_config(tmp_path, [("a", feed_server.url("/a.xml"))], interval="10s")
    svc = Service.start(sqlite_engine, cfg, NOW)
    due_at(sqlite_engine, {"a": NOW})
    svc.step(NOW + timedelta(seconds=4))
    assert states(sqlite_engine)["a"].next_poll_at == NOW + timedelta(seconds=4 + 20)  # 10 s × 2¹


def test_feeds_left_behind_by_a_stopped_service_are_spread_over_their_interval(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    names = [f"f{i:03d}" for i in range(200)]
    cfg = write_service_config(tmp_path, [(n, feed_server.url(f"/{n}.xml")) for n in names], interval="5m")
    svc = Service.start(sqlite_engine, cfg, NOW)
    # The service was stopped for an hour; one feed had fallen due only a minute before the restart.
    due_at(sqlite_engine, {n: NOW - timedelta(hours=1) for n in names} | {"f000": NOW - timedelta(minutes=1)})
    sync_feed_states(sqlite_engine, svc.settings, NOW)
    after = states(sqlite_engine)
    assert after["f000"].next_poll_at == NOW - timedelta(minutes=1)  # polled at once, as before
    spread = sorted(after[n].next_poll_at for n in names[1:])  # type: ignore[type-var]
    assert all(NOW <= at < NOW + timedelta(minutes=5) for at in spread)
    # Not all at once: over the whole interval, about a tenth of them in any 30 s.
    assert spread[-1] - spread[0] > timedelta(minutes=4)
    assert (
        max(sum(1 for at in spread if w <= at < w + timedelta(seconds=30)) for w in spread) <= len(spread) / 5
    )


def test_due_feeds_are_claimed_longest_due_first_a_bounded_batch_at_a_time(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    names = [f"f{i}" for i in range(7)]
    cfg = write_service_config(tmp_path, [(n, feed_server.url(f"/{n}.xml")) for n in names])
    svc = Service.start(sqlite_engine, cfg, NOW)
    due_at(sqlite_engine, {n: NOW - timedelta(minutes=i) for i, n in enumerate(names)})
    first = claim_due(sqlite_engine, svc.settings, NOW, "one", limit=3)
    second = claim_due(sqlite_engine, svc.settings, NOW, "two", limit=3)
    assert [r.source for r in first] == ["f6", "f5", "f4"]
    assert [r.source for r in second] == ["f3", "f2", "f1"]  # claimed ones are left alone
    assert {s.source: s.claimed_by for s in states(sqlite_engine).values()}["f4"] == "one"


def test_at_most_a_batch_of_feeds_is_in_flight_and_every_due_feed_is_polled_once(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    names = [f"f{i:02d}" for i in range(12)]
    for n in names:
        feed_server.route(f"/{n}.xml", rss(ITEM), etag='"1"', delay=0.2)
    cfg = write_service_config(
        tmp_path, [(n, feed_server.url(f"/{n}.xml")) for n in names], polling_extra="per_host: 20"
    )
    svc = Service.start(sqlite_engine, cfg, NOW)
    due_at(sqlite_engine, dict.fromkeys(names, NOW))

    async def run() -> int:
        async with Fetcher(svc.settings.feeds.polling) as f:
            stats = await poll_due(
                sqlite_engine, svc.settings, f, svc.grouper, NOW, "test", rng=random.Random(0), batch=4
            )
        return stats.polled

    assert asyncio.run(run()) == 12
    assert feed_server.peak_concurrency <= 4
    after = states(sqlite_engine)
    assert all(after[n].polls == 1 and after[n].claimed_by is None for n in names)
    assert all(len(feed_server.requests_to(f"/{n}.xml")) == 1 for n in names)
