"""A wall clock that jumps (an NTP mistake): no false breach, no false escalation, polling resumes.

The service runs in-process on a faked clock (`FakeClock`: a wall clock and a steady clock
the test moves), against a real SQLite file and a real feed server; no sleeps.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kit.enginekit import rss, write_config
from kit.feedserver import FeedServer
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from responder.clock import ClockGuard, FileClock, write_test_clock
from responder.engine.poll import sync_feed_states
from responder.models import FeedState, Incident, Outbox, Report, Step
from responder.runtime import load_settings
from responder.senders.console import ConsoleSender
from responder.service import Service
from responder.status import render_status

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai
HEAD, ADMIN_CHAT = 1003, -300
JUMP = timedelta(days=2)


class FakeClock:
    """A wall clock and a steady clock; `advance` moves both, `jump` the wall clock alone."""

    def __init__(self, start: datetime) -> None:
        self.wall = start
        self.steady_s = 1000.0

    def now(self) -> datetime:
        return self.wall

    def steady(self) -> float:
        return self.steady_s

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.steady_s += seconds

    def jump(self, by: timedelta) -> None:
        self.wall += by


def accident(i: int, published: datetime) -> tuple[str, str, str, datetime]:
    """A 较大 accident (3 or 4 dead); different `i`, different place and kind: two incidents."""
    city, site, kind = [("合肥", "化工厂", "爆炸"), ("淮南", "煤矿", "透水")][i]
    return (
        f"https://news.example/clock/{i}",
        f"{city}市一{site}发生{kind}事故造成{3 + i}人死亡",
        f"{city}消息：某{site}发生{kind}事故，{3 + i}人死亡，原因在调查。",
        published,
    )


def outbox(engine: Engine) -> list[Outbox]:
    with Session(engine) as s:
        return list(s.exec(select(Outbox).order_by(col(Outbox.id))).all())


def make_service(tmp_path: Path, engine: Engine, feed_server: FeedServer, clock: FakeClock) -> Service:
    source = f"  - name: 新闻\n    url: {feed_server.url('/news.xml')}\n    interval: 1m\n"
    settings = load_settings(write_config(tmp_path, source))
    sync_feed_states(engine, settings, clock.now() - timedelta(minutes=1))  # first poll due at once
    return Service(settings, engine, ConsoleSender(), clock=clock.now, steady=clock.steady, cycle_every=5)


async def tick(svc: Service, clock: FakeClock, seconds: float = 5.0) -> None:
    """One round of the service's jobs, then `seconds` pass on both clocks."""
    await svc.poll_job()
    await svc.cycle_job()
    clock.advance(seconds)


def test_clock_guard_holds_from_a_jump_until_steady_for_three_cycles_and_a_minute() -> None:
    guard = ClockGuard()
    wall, steady = T0, 0.0
    assert guard.read(wall, steady, cycle=True).holding is False
    wall, steady = wall + timedelta(seconds=5), steady + 5
    assert guard.read(wall + timedelta(seconds=20), steady).jump is None  # 20 s: an NTP step, tolerated
    r = guard.read(wall + JUMP, steady + 0.1, cycle=True)
    assert r.jump is not None and r.jump > timedelta(days=1) and r.holding
    assert r.episode_start == wall + timedelta(seconds=20.1)  # the tolerated step was taken as right
    # Back again 10 s later: a second jump of the same episode.
    r = guard.read(wall + timedelta(seconds=10), steady + 10, cycle=True)
    assert r.jump is not None and r.jump < -timedelta(days=1) and r.holding
    assert len(guard.jumps) == 2
    # Three steady cycles within a minute are not enough; a minute of steady time is.
    for k in range(1, 4):
        assert guard.read(wall + timedelta(seconds=10 + 5 * k), steady + 10 + 5 * k, cycle=True).holding
    r = guard.read(wall + timedelta(seconds=75), steady + 75, cycle=True)
    assert r.settled and not r.holding


def test_two_days_ahead_for_three_cycles_then_back_gives_no_breach_no_escalation_and_polling_resumes(
    tmp_path: Path, sqlite_engine: Engine, feed_server: FeedServer
) -> None:
    clock = FakeClock(T0)
    feed_server.route("/news.xml", rss([accident(0, T0 - timedelta(minutes=10))]))
    svc = make_service(tmp_path, sqlite_engine, feed_server, clock)

    async def scenario() -> None:
        for _ in range(3):  # the incident opens; its level-1 card goes to the duty officer
            await tick(svc, clock)
        clock.jump(JUMP)
        for _ in range(3):  # 15 s two days ahead: every deadline of the incident "passed"
            await tick(svc, clock)
        clock.jump(-JUMP)
        for _ in range(20):  # 100 s of the right time again
            await tick(svc, clock)
        # A new report after the clock came back is polled and alerted.
        feed_server.route(
            "/news.xml", rss([accident(0, T0 - timedelta(minutes=10)), accident(1, clock.now())])
        )
        for _ in range(14):  # 70 s: more than the feed's 1-minute interval
            await tick(svc, clock)
        await svc.fetcher.aclose()
        await asyncio.to_thread(svc.parser.close)

    asyncio.run(scenario())
    rows = outbox(sqlite_engine)
    with Session(sqlite_engine) as s:
        incidents = list(s.exec(select(Incident).order_by(col(Incident.id))).all())
        steps = list(s.exec(select(Step)).all())
        reports = list(s.exec(select(Report)).all())
    assert len(incidents) == 2, "the report published after the clock came back was polled and stored"
    assert [i.escalation_level for i in incidents] == [1, 1]
    assert steps and all(st.breached_at is None for st in steps)
    assert not [r for r in rows if r.chat_id == HEAD], "nothing went to the head"
    assert not [r for r in rows if "已超时" in r.text]
    notices = [r for r in rows if r.dedup_key.startswith("clock-jump:")]
    assert {r.chat_id for r in notices} == {ADMIN_CHAT} and len(notices) == 1, "the admins were told once"
    assert "超前 2天" in notices[0].text and notices[0].status == "sent"
    assert all(r.fetched_at < T0 + timedelta(hours=1) for r in reports), "no report stamped two days ahead"
    status = render_status(sqlite_engine, clock.now())
    assert "时钟跳变" in status and "超前 2天 → 落后 2天" in status and "已恢复" in status


def test_a_clock_that_was_ahead_from_the_start_leaves_no_poll_date_that_stops_polling(
    tmp_path: Path, sqlite_engine: Engine, feed_server: FeedServer
) -> None:
    """Started two days ahead, the service cannot see the error, and polls and schedules with it;
    when the clock is put right, the stored dates two days ahead do not stop polling."""
    clock = FakeClock(T0 + JUMP)
    feed_server.route("/news.xml", rss([accident(0, T0 - timedelta(minutes=10))]))
    svc = make_service(tmp_path, sqlite_engine, feed_server, clock)

    async def scenario() -> None:
        for _ in range(15):  # over a minute two days ahead: the feed is polled, dates stored ahead
            await tick(svc, clock)
        assert svc.guard.holding is False
        before = feed_server.stats("/news.xml").hits
        clock.jump(-JUMP)  # put right
        await tick(svc, clock)
        assert svc.guard.holding and "时钟异常" in render_status(sqlite_engine, clock.now())
        for _ in range(14):
            await tick(svc, clock)
        assert feed_server.stats("/news.xml").hits > before, "polling resumed"
        await svc.fetcher.aclose()
        await asyncio.to_thread(svc.parser.close)

    asyncio.run(scenario())
    with Session(sqlite_engine) as s:
        state = s.exec(select(FeedState)).one()
    assert state.next_poll_at is not None and state.next_poll_at < clock.now() + timedelta(minutes=2)


def test_the_test_clock_file_runs_fast_and_jumps_the_wall_clock_alone(tmp_path: Path) -> None:
    path = tmp_path / "clock.json"
    write_test_clock(path, T0, steady=50.0, rate=1.0)
    fc = FileClock(path)
    assert abs((fc.now() - T0).total_seconds()) < 1 and abs(fc.steady() - 50.0) < 1
    write_test_clock(path, T0, steady=50.0, rate=1.0, jump=JUMP)
    assert fc.now() - T0 >= JUMP and fc.steady() < 51.0


@pytest.mark.parametrize("seconds", [-45, 45])
def test_small_jumps_read_in_seconds(seconds: int) -> None:
    from responder.present.messages import jump_span

    assert jump_span(timedelta(seconds=seconds)) == ("落后 45秒" if seconds < 0 else "超前 45秒")
