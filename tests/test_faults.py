"""Faults the service must survive: its own SIGKILL, a Telegram outage, broken feeds, a locked
SQLite file, a broken configuration at start.

Where the business clock must move, the test drives the engine in-process with a fixed
`now`; real waits are only for a child process to start or stop and for I/O, all bounded.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kit.botapi import TOKEN
from kit.enginekit import recent, rss
from kit.feedserver import FeedServer
from kit.servicekit import (
    ADMIN,
    DUTY,
    ROOT,
    ControlledBotApi,
    ServiceProcess,
    incident_report,
    migrate,
    outbox_rows,
    wait_until,
    write_service_config,
)
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from responder.db import make_engine
from responder.engine.cycle import run_cycle
from responder.engine.drain import drain_outbox
from responder.engine.grouper import Grouper
from responder.engine.ingest import ingest
from responder.engine.poll import poll_due, sync_feed_states
from responder.feeds.fetch import Fetcher
from responder.feeds.parse import parse_feed
from responder.migrate import upgrade
from responder.models import FeedState, Incident, Outbox, Report
from responder.pipeline import analyse
from responder.runtime import Settings, load_settings
from responder.senders.telegram import TelegramSender

NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


@pytest.fixture
def api() -> Iterator[ControlledBotApi]:
    emulator = ControlledBotApi().start()
    yield emulator
    emulator.close()


def incidents(engine: Engine) -> list[Incident]:
    with Session(engine) as s:
        return list(s.exec(select(Incident).order_by(col(Incident.id))).all())


def feed_states(engine: Engine) -> dict[str, FeedState]:
    with Session(engine) as s:
        return {f.source: f for f in s.exec(select(FeedState)).all()}


class Engine1:
    """The service's parts driven by hand in one event loop: poll, cycle, drain at a given `now`."""

    def __init__(self, engine: Engine, config: Path, start: datetime):
        self.engine = engine
        self.settings: Settings = load_settings(config)
        sync_feed_states(engine, self.settings, start)
        self.grouper = Grouper(self.settings.feeds.grouping, self.settings.intake.region_words)
        self.fetcher = Fetcher(self.settings.feeds.polling)

    async def step(self, now: datetime, sender: TelegramSender | None = None) -> None:
        await poll_due(
            self.engine, self.settings, self.fetcher, self.grouper, now, "test", rng=random.Random(0)
        )
        run_cycle(self.engine, self.settings, now)
        if sender is not None:
            await drain_outbox(self.engine, sender, now, "test")

    async def aclose(self) -> None:
        await self.fetcher.aclose()


# --- 1. SIGKILL in the middle of a cycle ------------------------------------------------------


def test_sigkill_mid_send_then_restart_loses_nothing_and_repeats_only_the_message_in_flight(
    tmp_path: Path, sqlite_url: str, api: ControlledBotApi, feed_server: FeedServer
) -> None:
    now = datetime.now(UTC)  # the child process runs on the wall clock
    n = 16
    reports = [incident_report(i, recent(timedelta(minutes=2), now)) for i in range(n)]
    feed_server.route("/a.xml", rss(reports[: n // 2]))
    feed_server.route("/b.xml", rss(reports[n // 2 :]))
    cfg = write_service_config(
        tmp_path, [("a", feed_server.url("/a.xml")), ("b", feed_server.url("/b.xml"))], interval="2s"
    )
    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    # Every card spends 0.4 s in the server: the kill lands while one is being sent.
    api.send_delay = 0.4
    kw = {"cycle_seconds": 1.0, "token": TOKEN, "telegram_base_url": api.base_url}
    first = ServiceProcess(cfg, sqlite_url, tmp_path / "first.log", **kw)
    try:
        first.wait_running()
        wait_until(lambda: len(api.messages(DUTY)) >= 5 and api.in_flight, 60, "5 cards sent, one in flight")
        in_flight = list(api.in_flight)
        first.kill()
    finally:
        first.kill()
    delivered_at_kill = len(api.messages(DUTY))
    assert 5 <= delivered_at_kill < n, "the kill must fall between the first and the last card"
    assert len(in_flight) == 1, "one chat, one message in flight"
    at_kill = {r.text: r.status for r in outbox_rows(engine)}
    assert at_kill[in_flight[0]] == "sending"

    api.send_delay = 0.0
    second = ServiceProcess(cfg, sqlite_url, tmp_path / "second.log", **kw)
    try:
        second.wait_running()

        # Rows the dead process had claimed come back when their 60 s lease runs out.
        def all_sent() -> bool:
            rows = outbox_rows(engine)
            return len(rows) == n and all(r.status == "sent" for r in rows)

        wait_until(all_sent, 120, "every card queued and sent after the restart")
    finally:
        assert second.stop() == 0
    rows = outbox_rows(engine)
    # Nothing lost: one incident and one sent card per report.
    assert len(incidents(engine)) == n
    assert [r.chat_id for r in rows] == [DUTY] * n and all(r.status == "sent" for r in rows)
    delivered = api.chat_html(DUTY)
    counts = Counter(delivered)
    assert set(counts) == {r.text for r in rows}
    # Nothing repeated but the one card that was on the wire at the kill: the server carried it
    # out after its sender died, so the restarted process could not know and sent it again.
    repeated = [text for text, c in counts.items() if c > 1]
    assert repeated == in_flight and counts[in_flight[0]] == 2
    # And the cards still arrived in outbox order (first copies).
    assert list(dict.fromkeys(delivered)) == [r.text for r in rows]
    assert not second.errors(), second.log()[-2000:]


# --- 2. Telegram down for 10 minutes --------------------------------------------------------


def test_telegram_down_ten_minutes_then_everything_arrives_in_order_once(
    tmp_path: Path, sqlite_engine: Engine, api: ControlledBotApi, feed_server: FeedServer
) -> None:
    early = [incident_report(i, NOW - timedelta(minutes=30)) for i in range(5)]
    late = [incident_report(i, NOW + timedelta(minutes=3)) for i in range(5, 10)]
    feed_server.route("/news.xml", rss(early))
    cfg = write_service_config(tmp_path, [("news", feed_server.url("/news.xml"))], interval="5m")

    async def scenario() -> tuple[int, int]:
        parts = Engine1(sqlite_engine, cfg, NOW - timedelta(minutes=5))
        sender = TelegramSender.build(TOKEN, base_url=api.base_url)
        api.down = True
        try:
            t = NOW
            while t < NOW + timedelta(minutes=10):
                if t == NOW + timedelta(minutes=4):
                    feed_server.route("/news.xml", rss(early + late))  # more alerts queue during the outage
                await parts.step(t, sender)
                t += timedelta(seconds=30)
            calls_during_outage = len(api.requests)
            assert api.messages(DUTY) == []
            api.down = False
            while t < NOW + timedelta(minutes=25):
                await parts.step(t, sender)
                t += timedelta(seconds=30)
            return calls_during_outage, len(api.requests)
        finally:
            await sender.aclose()
            await parts.aclose()

    during, _ = asyncio.run(scenario())
    rows = outbox_rows(sqlite_engine)
    assert len(rows) == 10 and all(r.status == "sent" for r in rows), [(r.id, r.status) for r in rows]
    # Delivered once each, in outbox id order, although all of them waited through the outage.
    assert api.chat_html(DUTY) == [r.text for r in rows]
    assert rows[0].attempts >= 4, "the first card was tried (and failed) throughout the outage"
    # It backed off rather than hammering: the head row is retried after 10 s, 20 s, 40 s ... 5 min.
    assert during <= 10, f"{during} calls to a dead Telegram in 10 minutes"


# --- 3. Broken feeds -------------------------------------------------------------------------

BAD = {
    "garbage": {"body": random.Random(1).randbytes(4000)},
    "error500": {"body": b"<h1>Internal Server Error</h1>", "status": 500, "content_type": "text/html"},
    "huge": {"stream_total": 50 * 1024 * 1024, "content_length": False},
    "hang": {"body": rss([]), "hang": True},
}


def test_broken_feeds_back_off_alert_once_and_recover_while_the_healthy_feed_keeps_its_schedule(
    tmp_path: Path, sqlite_engine: Engine, feed_server: FeedServer
) -> None:
    good = rss([("https://news.example/x", "本地新闻", "天气晴", NOW - timedelta(hours=1))])
    feed_server.route("/good.xml", good)
    for name, opts in BAD.items():
        feed_server.route(f"/{name}.xml", **opts)  # type: ignore[arg-type]
    feed_server.redirect("/loop.xml", "/loop.xml")
    names = [*BAD, "loop"]
    sources = [("good", feed_server.url("/good.xml"))] + [(n, feed_server.url(f"/{n}.xml")) for n in names]
    cfg = write_service_config(tmp_path, sources, interval="5m", polling_extra="timeout: 1s")

    def health_rows(kind: str) -> dict[str, list[Outbox]]:
        out: dict[str, list[Outbox]] = {}
        for r in outbox_rows(sqlite_engine):
            if r.dedup_key.startswith("feed:") and f":{kind}:" in r.dedup_key:
                out.setdefault(r.dedup_key.split(":")[1], []).append(r)
        return out

    async def scenario() -> None:
        # Started 5 minutes early: every first poll (spread over one interval) is due at NOW.
        parts = Engine1(sqlite_engine, cfg, NOW - timedelta(minutes=5))
        try:
            for k in range(15):  # NOW .. NOW+70m, every 5 minutes
                t = NOW + timedelta(minutes=5 * k)
                if k == 7:  # NOW+35m: the broken feeds are mended
                    for n in names:
                        feed_server.route(f"/{n}.xml", good)
                await parts.step(t)
                states = feed_states(sqlite_engine)
                # The healthy feed is polled at every step, whatever the others do.
                assert states["good"].polls == k + 1 and states["good"].consecutive_failures == 0
                if k == 2:  # NOW+10m: two failures each, no alert yet
                    assert all(states[n].consecutive_failures == 2 for n in names)
                    assert health_rows("down") == {}
                if k == 6:  # NOW+30m: third failure: one alert each; back-off now 5m·2³ = 40m
                    for n in names:
                        assert states[n].consecutive_failures == 3 and states[n].polls == 3, n
                        assert states[n].next_poll_at == t + timedelta(minutes=40), n
                        assert states[n].last_error
        finally:
            await parts.aclose()

    asyncio.run(scenario())
    assert feed_server.stats("/good.xml").hits == 15
    states = feed_states(sqlite_engine)
    for n in names:
        # Polled at NOW, +10m, +30m (failing) and +70m (mended): back-off, not every 5 minutes.
        assert states[n].polls == 4 and states[n].consecutive_failures == 0, n
        assert states[n].down_since is None
    for n in BAD:
        assert feed_server.stats(f"/{n}.xml").hits == 4, n
    down, up = health_rows("down"), health_rows("up")
    assert sorted(down) == sorted(up) == sorted(names)
    assert all(len(v) == 1 and v[0].chat_id == ADMIN for v in [*down.values(), *up.values()])
    # The huge body was abandoned at the 5 MB limit, not read to its 50 MB end: three failing
    # polls read in full would be 150 MB (the server counts what socket buffers took, too).
    assert feed_server.stats("/huge.xml").body_bytes_sent < 60 * 1024 * 1024


# --- 4. SQLite busy ------------------------------------------------------------------------------


def test_ingest_and_cycle_wait_for_a_briefly_locked_sqlite_file(
    tmp_path: Path, sqlite_engine: Engine, sqlite_url: str, feed_server: FeedServer
) -> None:
    reports = [incident_report(i, NOW - timedelta(minutes=10)) for i in range(3)]
    # The fetch takes 0.5 s: time for another connection to take the write lock meanwhile.
    feed_server.route("/news.xml", rss(reports), delay=0.5)
    cfg = write_service_config(tmp_path, [("news", feed_server.url("/news.xml"))])
    held = threading.Event()
    hold_seconds = 1.5

    def other_writer() -> None:
        wait_until(lambda: feed_server.stats("/news.xml").hits > 0, 10, "the fetch to start")
        conn = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), timeout=10)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE feed_state SET polls = polls")
        held.set()
        time.sleep(hold_seconds)  # a backup or a manual fix holding the file
        conn.commit()
        conn.close()

    async def scenario() -> float:
        parts = Engine1(sqlite_engine, cfg, NOW - timedelta(minutes=5))
        writer = threading.Thread(target=other_writer)
        writer.start()
        started = time.monotonic()
        try:
            await parts.step(NOW)
        finally:
            writer.join(timeout=20)
            await parts.aclose()
        return time.monotonic() - started

    took = asyncio.run(scenario())
    assert held.is_set()
    assert took >= hold_seconds, "the ingest waited for the lock"
    assert len(incidents(sqlite_engine)) == 3
    assert len(outbox_rows(sqlite_engine)) == 3
    assert feed_states(sqlite_engine)["news"].consecutive_failures == 0


# --- 5. A broken configuration at start ----------------------------------------------------------


def _run_once(cfg: Path, tmp_path: Path, api: ControlledBotApi) -> subprocess.CompletedProcess[str]:
    db = tmp_path / "never.sqlite3"
    env = {"DATABASE_URL": f"sqlite:///{db}", "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": api.base_url}
    import os

    done = subprocess.run(
        [sys.executable, "main.py", "run", "--config", str(cfg), "--cycle-seconds", "1"],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert not db.exists(), "nothing may start: not even the database is opened"
    assert api.requests == [], "nothing may start: Telegram is not contacted"
    assert "running" not in done.stdout + done.stderr
    return done


def test_malformed_feeds_yaml_refuses_to_start_naming_file_line_and_field(
    tmp_path: Path, api: ControlledBotApi
) -> None:
    cfg = write_service_config(tmp_path, [("a", "http://127.0.0.1:9/a.xml")])
    lines = cfg.read_text(encoding="utf-8").splitlines()
    line = next(i for i, x in enumerate(lines, 1) if x.startswith("  - {name: a"))
    lines[line - 1] = "  - {name: a, url: 'http://127.0.0.1:9/a.xml', interval: soon}"
    cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = _run_once(cfg, tmp_path, api)
    assert done.returncode != 0
    assert f"{cfg}:{line}:" in done.stderr and "interval" in done.stderr and "soon" in done.stderr, (
        done.stderr
    )


def test_malformed_playbook_refuses_to_start_naming_file_line_and_field(
    tmp_path: Path, api: ControlledBotApi
) -> None:
    books = tmp_path / "playbooks"
    books.mkdir()
    for f in (ROOT / "playbooks").glob("*.yaml"):
        (books / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    bad = books / "serious-incident.yaml"
    lines = bad.read_text(encoding="utf-8").splitlines()
    line = next(i for i, x in enumerate(lines, 1) if x.strip().startswith("deadline: 1h"))
    lines[line - 1] = lines[line - 1].replace("deadline: 1h", "deadline: quickly")
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = write_service_config(tmp_path, [("a", "http://127.0.0.1:9/a.xml")])
    cfg.write_text(
        cfg.read_text(encoding="utf-8").replace(str(ROOT / "playbooks"), "playbooks"), encoding="utf-8"
    )
    done = _run_once(cfg, tmp_path, api)
    assert done.returncode != 0
    assert f"{bad}:{line}:" in done.stderr and "deadline" in done.stderr and "quickly" in done.stderr, (
        done.stderr
    )


# --- 6. Two instances store the same report at the same moment ----------------------------------


def test_same_report_stored_concurrently_by_another_instance_counts_as_duplicate_not_failure(
    tmp_path: Path, pg_url: str, feed_server: FeedServer
) -> None:
    """On PostgreSQL, instance A reads the report as new while instance B is storing it:
    A's insert then meets B's committed row. A must take it as a duplicate and record its
    poll, not lose the fetch (and leave the feed claimed) over a unique violation."""
    upgrade(pg_url)
    engine = make_engine(pg_url)
    report = incident_report(0, NOW - timedelta(minutes=10))
    feed_server.route("/news.xml", rss([report]))
    cfg = write_service_config(tmp_path, [("news", feed_server.url("/news.xml"))])
    settings = load_settings(cfg)
    entries = parse_feed(rss([report]).decode(), naive_tz=settings.tz).entries
    items = [analyse(e, settings.feeds.sources[0], settings.intake, NOW) for e in entries]
    try:
        # Instance B: the same report stored (grouping lock taken), not yet committed.
        other = Session(engine)
        ingest(other, Grouper(settings.feeds.grouping, settings.intake.region_words), items, NOW)
        other.flush()
        failure: list[BaseException] = []

        async def instance_a() -> None:
            parts = Engine1(engine, cfg, NOW - timedelta(minutes=5))
            try:
                await parts.step(NOW)
            finally:
                await parts.aclose()

        def run_a() -> None:
            try:
                asyncio.run(instance_a())
            except BaseException as exc:  # reported below
                failure.append(exc)

        a = threading.Thread(target=run_a)
        a.start()

        def a_waits_for_b() -> bool:
            with engine.connect() as c:
                return bool(c.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                ).scalar())  # fmt: skip

        wait_until(a_waits_for_b, 20, "instance A to wait for B's transaction")
        other.commit()
        other.close()
        a.join(timeout=30)
        assert not a.is_alive() and not failure, failure
        state = feed_states(engine)["news"]
        assert state.polls == 1 and state.consecutive_failures == 0 and state.claimed_by is None
        assert len(incidents(engine)) == 1
        with Session(engine) as s:
            assert len(s.exec(select(Report)).all()) == 1
    finally:
        engine.dispose()
