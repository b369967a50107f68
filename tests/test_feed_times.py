"""Publication times as Chinese sites write them: read in the source's zone, so deadlines are right.

The pure reader is checked shape by shape; then the same shapes are served as real feed
bytes from 127.0.0.1 and polled by the engine, and the stored publication time and the
statement deadline of a 重大 report are what the bureau's staff would compute by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from kit.enginekit import Service, write_config
from kit.feedserver import FeedServer
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from responder.configfile import ConfigError
from responder.feeds.dates import parse_pubtime
from responder.models import Incident, Report, Step
from responder.runtime import load_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)  # Saturday 5 December, 14:00 in Shanghai


def local(*args: int) -> datetime:
    """A Shanghai wall-clock time as aware UTC."""
    return datetime(*args, tzinfo=SHANGHAI).astimezone(UTC)  # type: ignore[misc]


# (as written in a feed, the instant it means when the source's zone is Asia/Shanghai)
SHAPES = [
    ("2026年11月30日 10:15", local(2026, 11, 30, 10, 15)),
    ("2026年11月30日10时15分", local(2026, 11, 30, 10, 15)),
    ("2026/11/30 10:15:00", local(2026, 11, 30, 10, 15)),
    ("2026-11-30 10:15:00", local(2026, 11, 30, 10, 15)),
    ("2026-11-30 10:15:00 CST", local(2026, 11, 30, 10, 15)),
    ("Mon, 30 Nov 2026 10:15:00 CST", local(2026, 11, 30, 10, 15)),
    ("Sat Dec 05 10:15:00 CST 2026", local(2026, 12, 5, 10, 15)),  # Java Date.toString()
    ("Mon, 30 Nov 2026 10:15:00", local(2026, 11, 30, 10, 15)),  # RFC 822 without a zone
    ("Mon, 30 Nov 2026 10:15:00 +0800", local(2026, 11, 30, 10, 15)),
    ("Mon, 30 Nov 2026 02:15:00 GMT", local(2026, 11, 30, 10, 15)),
    ("2026-11-30 10:15:00 GMT+8", local(2026, 11, 30, 10, 15)),
    ("2026-11-30T10:15:00+08:00", local(2026, 11, 30, 10, 15)),
    ("2026-11-30T02:15:00Z", local(2026, 11, 30, 10, 15)),
    ("2026.11.30 10:15", local(2026, 11, 30, 10, 15)),
    ("Mon Nov 30 2026 10:15:00 GMT+0800 (中国标准时间)", local(2026, 11, 30, 10, 15)),  # JavaScript
    ("Nov 30, 2026 10:15:00 AM", local(2026, 11, 30, 10, 15)),
    ("2026年11月30日 星期一 下午3:05", local(2026, 11, 30, 15, 5)),
    ("二〇二六年十一月三十日 上午10时15分", local(2026, 11, 30, 10, 15)),
    ("２０２６年１１月３０日　１０：１５", local(2026, 11, 30, 10, 15)),  # full-width
    ("发布时间：2026-11-30 10:15", local(2026, 11, 30, 10, 15)),
    ("北京时间2026年11月30日10:15", local(2026, 11, 30, 10, 15)),
    ("11月30日 10:15", local(2026, 11, 30, 10, 15)),  # no year: the latest such date not after now
    ("刚刚", NOW),
    ("5分钟前", NOW - timedelta(minutes=5)),
    ("3小时前", NOW - timedelta(hours=3)),
    ("昨天 10:15", local(2026, 12, 4, 10, 15)),
    # A date without a time: the last second of that day, never later than now.
    ("2026-11-30", local(2026, 11, 30, 23, 59, 59)),
    ("2026年11月30日", local(2026, 11, 30, 23, 59, 59)),
    ("2天前", local(2026, 12, 3, 23, 59, 59)),
    ("2026-12-05", NOW),  # today: the moment it was first seen
]


@pytest.mark.parametrize(("written", "meant"), SHAPES, ids=[s for s, _ in SHAPES])
def test_each_shape_is_read_in_the_sources_zone(written: str, meant: datetime) -> None:
    assert parse_pubtime(written, SHANGHAI, NOW) == meant


@pytest.mark.parametrize("written", ["2026-02-30 10:00", "2026-11-30 25:00", "garbage", "", "1776-07-04"])
def test_impossible_dates_are_not_guessed(written: str) -> None:
    assert parse_pubtime(written, SHANGHAI, NOW) is None


def test_cst_and_zoneless_times_follow_the_source_zone_but_explicit_offsets_do_not() -> None:
    utc = ZoneInfo("UTC")
    assert parse_pubtime("2026-11-30 10:15:00 CST", utc, NOW) == datetime(2026, 11, 30, 10, 15, tzinfo=UTC)
    assert parse_pubtime("2026-11-30 10:15:00", utc, NOW) == datetime(2026, 11, 30, 10, 15, tzinfo=UTC)
    assert parse_pubtime("2026-11-30 10:15:00 +0800", utc, NOW) == local(2026, 11, 30, 10, 15)


def rss_with_dates(items: list[tuple[str, str, str]], channel_extra: str = "") -> bytes:
    """RSS bytes whose items carry `pubDate` exactly as given: (link, title, date)."""
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
        f"<description>{title}</description><pubDate>{date}</pubDate></item>"
        for link, title, date in items
    )
    head = (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>{channel_extra}'
    )
    return (head + body + "</channel></rss>").encode("utf-8")


def published_by_link(engine: Engine) -> dict[str, datetime | None]:
    with Session(engine) as s:
        return {r.link or "": r.published for r in s.exec(select(Report)).all()}


def test_every_shape_served_over_http_is_stored_as_the_instant_it_means(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    # Shapes whose instant lies within grouping.max_age (7 days) of NOW, as stored.
    kept = [(w, m) for w, m in SHAPES if NOW - timedelta(days=7) <= m <= NOW]
    items = [(f"https://t.example/{i}", f"本地新闻{i}", w) for i, (w, _) in enumerate(kept)]
    feed_server.route("/t.xml", rss_with_dates(items))
    cfg = write_config(tmp_path, f"  - name: 时间\n    url: {feed_server.url('/t.xml')}\n")
    svc = Service.start(sqlite_engine, cfg, NOW - timedelta(minutes=10))
    svc.step(NOW)
    stored = published_by_link(sqlite_engine)
    wrong = {
        written: stored.get(f"https://t.example/{i}")
        for i, (written, meant) in enumerate(kept)
        if stored.get(f"https://t.example/{i}") != meant
    }
    assert not wrong, wrong


def test_a_source_may_read_its_dates_in_its_own_zone(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.route("/cn.xml", rss_with_dates([("https://cn.example/1", "甲", "2026-12-05 10:15:00")]))
    feed_server.route(
        "/utc.xml", rss_with_dates([("https://utc.example/1", "乙", "2026-12-05 04:15:00 CST")])
    )
    sources = (
        f"  - name: 北京时间源\n    url: {feed_server.url('/cn.xml')}\n"
        f"  - name: 协调世界时源\n    url: {feed_server.url('/utc.xml')}\n    timezone: UTC\n"
    )
    svc = Service.start(sqlite_engine, write_config(tmp_path, sources), NOW - timedelta(minutes=10))
    svc.step(NOW)
    stored = published_by_link(sqlite_engine)
    assert stored["https://cn.example/1"] == local(2026, 12, 5, 10, 15)
    assert stored["https://utc.example/1"] == datetime(2026, 12, 5, 4, 15, tzinfo=UTC)


def test_an_unknown_source_zone_is_refused_with_file_line_and_field(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path, "  - name: 甲\n    url: http://127.0.0.1:9/a.xml\n    timezone: Asia/Beijing\n"
    )
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    text = str(err.value)
    assert f"{cfg}:" in text and "timezone" in text and "Asia/Beijing" in text and "Asia/Shanghai" in text


@pytest.mark.parametrize(
    "written",
    [
        "2026年12月05日 13:30",
        "2026/12/05 13:30:00",
        "2026-12-05 13:30:00 CST",
        "Sat Dec 05 13:30:00 CST 2026",
    ],
)
def test_a_major_report_early_in_the_month_gets_its_five_hours_from_its_real_time(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer, written: str
) -> None:
    """feedparser read such dates as the 1st of the month: the deadline expired days ago and the
    head was called at once. Read right, 13:30 gives a statement due at 18:30 and no escalation."""
    title = "淮南市潘集区一化工厂发生爆炸 已造成12人死亡"
    feed_server.route("/n.xml", rss_with_dates([("https://n.example/1", title, written)]))
    cfg = write_config(tmp_path, f"  - name: 新闻\n    url: {feed_server.url('/n.xml')}\n")
    svc = Service.start(sqlite_engine, cfg, NOW - timedelta(minutes=10))
    svc.step(NOW)
    with Session(sqlite_engine) as s:
        inc = s.exec(select(Incident)).one()
        statement = s.exec(select(Step).where(Step.incident_id == inc.id, Step.key == "statement")).one()
        assert inc.first_published == local(2026, 12, 5, 13, 30)
        assert statement.due_at == local(2026, 12, 5, 18, 30)
        assert statement.breached_at is None and inc.escalation_level <= 1
    assert not any("局长" in r.text for r in svc.outbox())


def test_a_date_without_a_time_never_puts_the_deadline_before_the_item_was_seen(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    title = "合肥一在建工地坍塌 已造成10人死亡"
    feed_server.route("/d.xml", rss_with_dates([("https://d.example/1", title, "2026-12-05")]))
    cfg = write_config(tmp_path, f"  - name: 只有日期\n    url: {feed_server.url('/d.xml')}\n")
    svc = Service.start(sqlite_engine, cfg, NOW - timedelta(minutes=10))
    svc.step(NOW)
    with Session(sqlite_engine) as s:
        inc = s.exec(select(Incident)).one()
        due = s.exec(select(Step.due_at).where(Step.incident_id == inc.id, Step.key == "statement")).one()
    # Midnight would have made the statement due at 05:00, nine hours before anyone saw the report.
    assert inc.first_published == NOW and due == NOW + timedelta(hours=5)


def test_feedparser_is_not_trusted_with_a_chinese_date_we_cannot_read(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.route("/x.xml", rss_with_dates([("https://x.example/1", "本地新闻", "2026年12月上旬")]))
    cfg = write_config(tmp_path, f"  - name: 乱码日期\n    url: {feed_server.url('/x.xml')}\n")
    svc = Service.start(sqlite_engine, cfg, NOW - timedelta(minutes=10))
    svc.step(NOW)
    with Session(sqlite_engine) as s:
        rows = s.exec(select(Report).order_by(col(Report.id))).all()
    assert [r.published for r in rows] == [NOW]  # unknown: the detection time
