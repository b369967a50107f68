"""Hostile and pathological feed bodies: refused or bounded, a failed poll of that feed and nothing more.

Engine-level cases drive poll_due with a real ParsePool (worker processes) against a
feed server on 127.0.0.1; the last case runs the real service (`main.py run`) with a
1 MB entity-amplification feed next to normal feeds, the Bot API emulator answering
chat commands, and checks schedule, chat latency and memory.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from kit.botapi import TOKEN
from kit.enginekit import Service, rss, write_config
from kit.feedserver import FeedServer
from kit.servicekit import ADMIN, ControlledBotApi, ServiceProcess, migrate, wait_until, write_service_config
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from responder.db import make_engine
from responder.engine.grouper import Grouper
from responder.engine.poll import poll_due, sync_feed_states
from responder.feeds.fetch import Fetcher
from responder.feeds.isolate import ParsePool
from responder.models import FeedState, Outbox, Report
from responder.runtime import Settings, load_settings

NOW = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)


def entity_bomb(size: int = 1024 * 1024) -> bytes:
    """Ten levels of ten references each (10¹⁰ copies) in a one-line DOCTYPE, padded to `size` bytes."""
    levels = ['<!ENTITY a0 "安全生产事故通报">'] + [
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 11)
    ]
    pad = '<!ENTITY p{} "' + "pad " * 60 + '">'
    body = (
        '<rss version="2.0"><channel><title>&a10;</title><item><title>合肥市化工厂爆炸 &a10;</title>'
        f"<link>https://evil.example/1</link><pubDate>{format_datetime(NOW)}</pubDate></item></channel></rss>"
    )
    head = '<?xml version="1.0" encoding="utf-8"?><!DOCTYPE rss [' + "".join(levels)
    fill = size - len((head + "]>" + body).encode())
    padding = "".join(pad.format(n) for n in range(max(0, fill) // len(pad.format(0))))
    return (head + padding + "]>" + body).encode()


def big_feed(items: int, *, well_formed: bool = True) -> bytes:
    """A feed that takes a while and some memory to parse (about 770 bytes an item).

    Not `well_formed` (a bare `&` in its title), the fast parser hands it to feedparser,
    which reads it loosely, slowly and with plenty of memory: what the bounds are for.
    """
    body = "".join(
        f"<item><title>本地新闻{i}</title><link>https://big.example/{i}</link>"
        f"<description><![CDATA[<p>{'天气' * 100}</p>]]></description>"
        f"<pubDate>{format_datetime(NOW - timedelta(hours=1))}</pubDate></item>"
        for i in range(items)
    )
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>大{"" if well_formed else " & 小"}</title>{body}</channel></rss>'.encode()


GOOD = rss([("https://good.example/1", "六安一仓库发生火灾 1人死亡", "火灾。", NOW - timedelta(minutes=20))])


class Bounded:
    """poll_due + cycle with a real ParsePool, `now` moved by hand."""

    def __init__(self, engine: Engine, config: Path, pool: ParsePool):
        self.engine, self.pool = engine, pool
        self.settings: Settings = load_settings(config)
        sync_feed_states(engine, self.settings, NOW - timedelta(minutes=10))
        self.grouper = Grouper(self.settings.feeds.grouping, self.settings.intake.region_words)

    def step(self, now: datetime) -> None:
        async def run() -> None:
            async with Fetcher(self.settings.feeds.polling) as f:
                await poll_due(self.engine, self.settings, f, self.grouper, now, "t", rng=random.Random(0),
                               parser=self.pool)  # fmt: skip

        asyncio.run(run())

    def state(self, name: str) -> FeedState:
        with Session(self.engine) as s:
            return s.get_one(FeedState, name)


@pytest.fixture
def pool() -> Iterator[ParsePool]:
    p = ParsePool(workers=2, timeout=5.0, memory_mb=256)
    yield p
    p.close()


def two_feeds(tmp_path: Path, server: FeedServer, bad: str, extra: str = "") -> Path:
    sources = f"  - name: 正常源\n    url: {server.url('/good.xml')}\n  - name: 问题源\n    url: {server.url(bad)}\n"
    return write_config(tmp_path, sources, extra)


def test_simple_doctype_entities_and_html_entities_read_as_meant(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    pub = format_datetime(NOW - timedelta(minutes=20))
    body = (
        '<?xml version="1.0"?>\n<!DOCTYPE rss [\n  <!ENTITY org "安徽省应急管理厅">\n  <!ENTITY nbsp2 "&#160;">\n]>\n'
        f'<rss version="2.0"><channel><title>&org;</title><item><title>淮南&nbsp;潘集区化工厂爆炸&mdash;&org;通报</title>'
        f"<link>https://e.example/1</link><pubDate>{pub}</pubDate></item>"
        f"<item><title>R&amp;D 与 &unknown; 标记</title><link>https://e.example/2</link><pubDate>{pub}</pubDate></item>"
        "</channel></rss>"
    ).encode()
    feed_server.route("/e.xml", body)
    cfg = write_config(tmp_path, f"  - name: 实体\n    url: {feed_server.url('/e.xml')}\n")
    Service.start(sqlite_engine, cfg, NOW - timedelta(minutes=10)).step(NOW)
    with Session(sqlite_engine) as s:
        titles = {r.link: r for r in s.exec(select(Report)).all()}
    assert titles["https://e.example/1"].title == "淮南\xa0潘集区化工厂爆炸—安徽省应急管理厅通报"
    assert titles["https://e.example/1"].relevant
    assert titles["https://e.example/2"].title == "R&D 与 &unknown; 标记"


def test_nested_entities_are_refused_as_a_failed_poll_with_backoff_and_one_alert(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer, pool: ParsePool
) -> None:
    feed_server.route("/good.xml", GOOD)
    feed_server.route("/bomb.xml", entity_bomb())
    parts = Bounded(sqlite_engine, two_feeds(tmp_path, feed_server, "/bomb.xml"), pool)
    t = NOW
    for k in range(7):  # every 5 minutes: the good feed each time, the bomb when its back-off allows
        parts.step(t)
        assert parts.state("正常源").consecutive_failures == 0 and parts.state("正常源").polls == k + 1
        t += timedelta(minutes=5)
    bad = parts.state("问题源")
    assert bad.consecutive_failures == 3 and bad.polls == 3  # at 0, 10 and 30 minutes: backing off
    assert bad.last_error and "嵌套的实体" in bad.last_error
    with Session(sqlite_engine) as s:
        down = s.exec(select(Outbox).where(Outbox.chat_id == ADMIN)).all()
        assert not s.exec(select(Report).where(Report.link == "https://evil.example/1")).all()
        assert s.exec(select(Report).where(Report.link == "https://good.example/1")).one()
    assert len(down) == 1 and "问题源" in down[0].text and "嵌套的实体" in down[0].text


def test_a_doctype_of_unclosed_comments_is_refused_as_no_feed_not_after_the_time_limit(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer, pool: ParsePool
) -> None:
    # 1 MB of `<!--` that never close, on one line: cut out in one pass, so the feed fails with
    # the reason (not a feed), well within the 5 s parse limit, instead of being killed for time.
    head = '<?xml version="1.0" encoding="utf-8"?><!DOCTYPE rss [' + "<!--x" * 200_000
    feed_server.route("/comments.xml", (head + "]>" + GOOD.decode().split("?>", 1)[1]).encode())
    feed_server.route("/good.xml", GOOD)
    parts = Bounded(sqlite_engine, two_feeds(tmp_path, feed_server, "/comments.xml"), pool)
    parts.step(NOW)
    bad = parts.state("问题源")
    assert bad.consecutive_failures == 1 and bad.last_error is not None
    assert "不是 RSS 或 Atom" in bad.last_error and "解析超时" not in bad.last_error
    assert parts.state("正常源").consecutive_failures == 0


def test_a_feed_that_parses_too_long_is_killed_and_fails_while_the_other_is_stored(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.route("/good.xml", GOOD)
    feed_server.route("/slow.xml", big_feed(6000, well_formed=False))  # about 1.5 s of parsing
    pool = ParsePool(workers=1, timeout=0.3, memory_mb=256)
    try:
        parts = Bounded(sqlite_engine, two_feeds(tmp_path, feed_server, "/slow.xml"), pool)
        started = time.monotonic()
        parts.step(NOW)
        assert time.monotonic() - started < 10
        slow = parts.state("问题源")
        assert slow.consecutive_failures == 1 and slow.last_error and "解析超时" in slow.last_error
        assert slow.next_poll_at == NOW + timedelta(minutes=10)  # 5 minutes × 2¹
        assert parts.state("正常源").consecutive_failures == 0
        with Session(sqlite_engine) as s:
            assert s.exec(select(Report).where(Report.link == "https://good.example/1")).one()
        # The killed worker was replaced: the next feed parses in a fresh one.
        feed_server.route("/slow.xml", GOOD.replace(b"good.example", b"slow.example"))
        parts.step(NOW + timedelta(minutes=10))
        assert parts.state("问题源").consecutive_failures == 0
    finally:
        pool.close()


def test_a_feed_that_needs_too_much_memory_fails_and_nothing_else_does(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.route("/good.xml", GOOD)
    feed_server.route("/fat.xml", big_feed(6000, well_formed=False))  # 4.6 MB; well over 32 MB to parse
    pool = ParsePool(workers=1, timeout=30, memory_mb=32)
    try:
        parts = Bounded(sqlite_engine, two_feeds(tmp_path, feed_server, "/fat.xml"), pool)
        parts.step(NOW)
        fat = parts.state("问题源")
        assert fat.consecutive_failures == 1 and fat.last_error and "32 MB" in fat.last_error
        assert parts.state("正常源").consecutive_failures == 0
    finally:
        pool.close()


# --- The real service -----------------------------------------------------------------------


def _vm_hwm_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for {pid}")


def _children(pid: int) -> list[int]:
    """Child processes of every thread of `pid` (the parse workers are started from pool threads)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(x) for x in (task / "children").read_text(encoding="ascii").split()]
    return found


def test_service_with_a_1mb_entity_bomb_keeps_its_schedule_answers_chat_within_a_second_and_stays_small(
    tmp_path: Path, sqlite_url: str, feed_server: FeedServer
) -> None:
    now = datetime.now(UTC)  # the child process runs on the wall clock
    normal = [f"/n{i}.xml" for i in range(5)]
    for i, path in enumerate(normal):
        feed_server.route(
            path, rss([(f"https://n{i}.example/1", f"本地新闻{i}", "晴。", now - timedelta(minutes=5))])
        )
    feed_server.route("/bomb.xml", entity_bomb())
    sources = [(f"正常源{i}", feed_server.url(p)) for i, p in enumerate(normal)] + [
        ("恶意源", feed_server.url("/bomb.xml"))
    ]
    cfg = write_service_config(tmp_path, sources, interval="2s")
    migrate(sqlite_url)
    api = ControlledBotApi().start()
    proc = ServiceProcess(cfg, sqlite_url, tmp_path / "run.log", cycle_seconds=1.0, token=TOKEN,
                          telegram_base_url=api.base_url)  # fmt: skip
    try:
        proc.wait_running()
        wait_until(api.wait_for_poller, 60, "the bot polling for updates")
        wait_until(lambda: feed_server.stats("/bomb.xml").hits >= 1, 30, "the bomb to be fetched")
        hits_before = [feed_server.stats(p).hits for p in normal]
        latencies: list[float] = []
        window_start = time.monotonic()
        for _ in range(14):  # one /list a second while the bomb is polled and refused
            seen = len(api.messages(1001))
            sent = time.monotonic()
            api.inject_message(1001, 1001, "/list")
            wait_until(lambda n=seen: len(api.messages(1001)) > n, 10, "the answer to /list")
            latencies.append(time.monotonic() - sent)
            time.sleep(max(0.0, 1.0 - latencies[-1]))
        window = time.monotonic() - window_start
        hits = [feed_server.stats(p).hits - h for p, h in zip(normal, hits_before, strict=True)]
        wait_until(lambda: any("恶意源" in m.text for m in api.messages(ADMIN)), 60, "the feed-health alert")
        workers = _children(proc.pid)
        memory = {pid: _vm_hwm_mb(pid) for pid in [proc.pid, *workers]}
    finally:
        proc.stop()
        api.close()
    assert max(latencies) < 1.0, latencies
    # Interval 2 s, polls checked every second: every normal feed is fetched every 2–3 s.
    assert min(hits) >= int(window / 3) - 1, (hits, window)
    with Session(make_engine(sqlite_url)) as s:
        bomb = s.get_one(FeedState, "恶意源")
        assert bomb.consecutive_failures >= 3 and bomb.last_error and "嵌套的实体" in bomb.last_error
        assert all(s.get_one(FeedState, f"正常源{i}").consecutive_failures == 0 for i in range(5))
    assert workers, "parsing ran in worker processes"
    assert memory[proc.pid] < 300, memory
    assert sum(memory.values()) < 300, memory
    assert not proc.errors(), proc.log()[-2000:]
