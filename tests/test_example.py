"""The offline example: its own database, a live timeline, and nothing of it in the real one.

The example is copied into tmp_path (examples/offline and playbooks/, as in the repository)
and run as a newcomer runs it, with DATABASE_URL pointing at "the real database".
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kit.enginekit import ROOT, Service
from kit.servicekit import ServiceProcess, outbox_rows, wait_until, write_service_config
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from responder.db import make_engine
from responder.engine.grouper import Grouper
from responder.engine.poll import sync_feed_states
from responder.models import FeedState, Incident, Report
from responder.present.html import strip_tags
from responder.replay import Replay, shift_feed
from responder.runtime import load_settings

RECORDED = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)


def _rss(*items: tuple[str, str]) -> bytes:
    body = "".join(f"<item><title>{t}</title><pubDate>{d}</pubDate></item>" for t, d in items)
    return f'<?xml version="1.0" encoding="gb2312"?><rss><channel><lastBuildDate>Fri, 20 Nov 2026 15:00:00 +0800</lastBuildDate>{body}</channel></rss>'.encode(
        "gbk"
    )


def test_shift_feed_moves_dates_and_holds_back_future_items() -> None:
    body = _rss(
        ("淮南爆炸", "Fri, 20 Nov 2026 15:10:00 +0800"),
        ("死亡人数升至12人", "Fri, 20 Nov 2026 15:40:00 +0800"),
    )
    offset = timedelta(days=10, hours=1)  # the example started 10 days and an hour after the recording
    start = datetime(2026, 11, 20, 7, 30, tzinfo=UTC) + offset  # = recorded 15:30 +08:00
    at_start = shift_feed(body, offset, start)
    assert "淮南爆炸".encode("gbk") in at_start and "死亡人数升至12人".encode("gbk") not in at_start
    assert b"<pubDate>Mon, 30 Nov 2026 16:10:00 +0800</pubDate>" in at_start
    assert b"<lastBuildDate>Mon, 30 Nov 2026 16:00:00 +0800</lastBuildDate>" in at_start
    later = shift_feed(body, offset, start + timedelta(minutes=10))
    assert "死亡人数升至12人".encode("gbk") in later and b"Mon, 30 Nov 2026 16:40:00 +0800" in later
    # Everything else is the same bytes, encoding included.
    assert later.replace(b"Mon, 30 Nov", b"Fri, 20 Nov").replace(b"16:", b"15:") == body


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of examples/offline (polled every 2 s instead of every minute) beside playbooks/."""
    shutil.copytree(
        ROOT / "examples" / "offline", tmp_path / "examples" / "offline", ignore=shutil.ignore_patterns("var")
    )
    shutil.copytree(ROOT / "playbooks", tmp_path / "playbooks")
    cfg = tmp_path / "examples" / "offline" / "feeds.yaml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("interval: 1m", "interval: 2s"), encoding="utf-8")
    return cfg


def _incidents(url: str) -> list[Incident]:
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            return list(s.exec(select(Incident).order_by(col(Incident.id))).all())
    finally:
        engine.dispose()


def test_the_example_keeps_its_own_database_and_a_live_timeline(example: Path, tmp_path: Path) -> None:
    real = tmp_path / "real.sqlite3"
    own = example.parent / "var" / "example.sqlite3"
    run = ServiceProcess(example, f"sqlite:///{real}", tmp_path / "example.log", cycle_seconds=1)
    try:
        run.wait_running(60)
        # The first poll of all five feeds: the 淮南 explosion, the 淮北 flooding and the policy item.
        wait_until(
            lambda: own.exists() and len(_incidents(f"sqlite:///{own}")) >= 3, 60, "the first incidents"
        )
    finally:
        assert run.stop() == 0, run.log()[-3000:]
    assert not real.exists(), "the example touched the real database"
    started = datetime.fromisoformat((example.parent / "var" / "replay" / "started_at").read_text().strip())
    assert abs(started - datetime.now(UTC)) < timedelta(minutes=5)
    found = {i.title: i for i in _incidents(f"sqlite:///{own}")}
    # The README's times, relative to the start: the explosion first reported 20 minutes before,
    # the policy item 50 minutes before.
    explosion = next(i for t, i in found.items() if "淮南" in t)
    assert explosion.first_published == started - timedelta(minutes=20)
    policy = next(i for t, i in found.items() if "危险化学品" in t)
    assert policy.first_published == started - timedelta(minutes=50)
    # Items of the next minutes are not there yet: the toll of 12 is published 10 minutes in.
    engine = make_engine(f"sqlite:///{own}")
    with Session(engine) as s:
        titles = set(s.exec(select(Report.title)).all())
    engine.dispose()
    assert "淮南化工厂爆炸事故死亡人数升至12人" not in titles
    assert "国务院安全生产委员会关于切实做好今冬明春安全防范工作的通知" not in found


def test_the_real_configuration_after_the_example_sends_nothing_about_it(
    example: Path, tmp_path: Path
) -> None:
    real = tmp_path / "real.sqlite3"
    first = ServiceProcess(example, f"sqlite:///{real}", tmp_path / "example.log", cycle_seconds=1)
    own = example.parent / "var" / "example.sqlite3"
    try:
        first.wait_running(60)
        wait_until(
            lambda: own.exists() and len(_incidents(f"sqlite:///{own}")) >= 3, 60, "the example's incidents"
        )
    finally:
        first.stop()

    feeds = tmp_path / "real" / "feeds"
    feeds.mkdir(parents=True)
    (feeds / "news.xml").write_bytes(b'<?xml version="1.0"?><rss><channel><title>x</title></channel></rss>')
    cfg = write_service_config(tmp_path / "real", [("真实新闻", "feeds/news.xml")])
    from responder.migrate import upgrade

    upgrade(f"sqlite:///{real}")
    second = ServiceProcess(cfg, f"sqlite:///{real}", tmp_path / "real.log", cycle_seconds=1)
    try:
        second.wait_running(60)
        engine = make_engine(f"sqlite:///{real}")
        wait_until(lambda: _polled(engine, "真实新闻"), 60, "the real feed's first poll")
    finally:
        assert second.stop() == 0
    assert outbox_rows(engine) == []  # not one message: the example's incidents are elsewhere
    assert "不在本配置中" not in second.log()
    engine.dispose()

    # Run on the example's own database, the real configuration is warned about its sources.
    third = ServiceProcess(cfg, f"sqlite:///{own}", tmp_path / "mixed.log", cycle_seconds=1)
    try:
        third.wait_running(60)
    finally:
        third.stop()
    # DATABASE_URL names the example's file; the warning names the example's five sources.
    warning = next(line for line in third.log().splitlines() if "不在本配置中" in line)
    assert "5 个信息源" in warning and "江淮新闻网" in warning and "本厅门户网站（示例）" in warning


def _polled(engine, source: str) -> bool:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        row = s.get(FeedState, source)
        return row is not None and row.polls > 0


def test_the_first_card_shows_the_first_report_and_keeps_it(tmp_path: Path, sqlite_engine: Engine) -> None:
    """A newcomer's first two minutes, polled as `run` polls them (every minute, each feed at
    its own second, the replay serving items as their moved time comes): card #1 names
    江淮新闻网's first report and 首发 T − 20 min, and nothing later changes that; 淮河晨报网's
    repost under the same address (T + 1 min) is one report with it."""
    shutil.copytree(
        ROOT / "examples" / "offline", tmp_path / "examples" / "offline", ignore=shutil.ignore_patterns("var")
    )
    shutil.copytree(ROOT / "playbooks", tmp_path / "playbooks")
    start = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: 首发 09:40
    replay = Replay.prepare(
        load_settings(tmp_path / "examples" / "offline" / "feeds.yaml"),
        tmp_path / "replay",
        start,
        fresh=True,
    )
    settings = replay.replayed_settings()
    sync_feed_states(sqlite_engine, settings, start)
    svc = Service(sqlite_engine, settings, Grouper(settings.feeds.grouping, settings.intake.region_words))
    for seconds in range(0, 150, 2):
        replay.refresh(start + timedelta(seconds=seconds))
        svc.step(start + timedelta(seconds=seconds))
    about_first = [strip_tags(o.text) for o in svc.outbox() if o.incident_id == 1]
    assert (
        about_first
        and "🚨 【较大】事故舆情 #1\n淮南市潘集区一化工企业发生爆炸 已致3人死亡\n" in about_first[0]
    )
    shown = {line for text in about_first for line in text.splitlines() if line.startswith("首发时间")}
    assert shown == {"首发时间：12-01 09:40（Asia/Shanghai）"}
    with Session(sqlite_engine) as s:
        titles = s.exec(select(Report.title).where(Report.incident_id == 1)).all()
        sources = set(s.exec(select(FeedState.source).where(col(FeedState.polls) >= 2)).all())
    assert "淮河晨报网" in sources  # its second poll, after T + 1 min, read the repost
    assert titles == ["淮南市潘集区一化工企业发生爆炸 已致3人死亡"]
