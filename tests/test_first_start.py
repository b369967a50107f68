"""A newly added feed holds days of old news: its first poll records it, one digest, no flood.

Through a real feed server and the engine's poll and cycle: what the policy office and
the head would receive when a source is added, when it comes back after an outage, and
when its address changes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from kit.botapi import parse_html
from kit.enginekit import Service, rss, write_config
from kit.feedserver import FeedServer
from kit.servicekit import CITIES, TYPES, incident_report
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from responder.models import FeedState, Incident, Outbox, Report

NOW = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
POLICY_OFFICE, HEAD = -200, 1003


def config(tmp_path: Path, url: str, kind: str = "news", extra: str = "") -> Path:
    # The schemes of enginekit know six places; servicekit's reports use sixteen cities.
    cfg = write_config(tmp_path, f"  - name: 新闻源\n    url: {url}\n    kind: {kind}\n", extra)
    text = (
        cfg.read_text(encoding="utf-8")
        .replace("region: [安徽, 合肥, 淮南, 淮北, 六安, 潘集区]", f"region: [安徽, {', '.join(CITIES)}]")
        .replace("event: [爆炸, 坍塌, 透水, 火灾, 死亡, 遇难]", f"event: [{', '.join(TYPES)}, 死亡, 遇难]")
    )
    cfg.write_text(text, encoding="utf-8")
    return cfg


def incidents(engine: Engine) -> list[Incident]:
    with Session(engine) as s:
        return list(s.exec(select(Incident)).all())


def test_a_new_feeds_old_matches_go_into_one_digest_and_only_fresh_ones_start_clocks(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    # 38 relevant reports of the last week, two of the last hour, three irrelevant ones.
    old = [incident_report(i, NOW - timedelta(hours=3 + 4 * i)) for i in range(38)]
    fresh = [incident_report(38 + i, NOW - timedelta(minutes=20 + 30 * i)) for i in range(2)]
    noise = [
        (f"https://news.example/n/{i}", f"天气预报{i}", "晴。", NOW - timedelta(days=1)) for i in range(3)
    ]
    feed_server.route("/new.xml", rss(old + fresh + noise))
    svc = Service.start(
        sqlite_engine, config(tmp_path, feed_server.url("/new.xml")), NOW - timedelta(minutes=10)
    )
    svc.step(NOW)
    svc.step(NOW + timedelta(minutes=1))  # a further cycle changes nothing

    assert sorted(i.title for i in incidents(sqlite_engine)) == sorted(r[1] for r in fresh)
    with Session(sqlite_engine) as s:
        assert len(s.exec(select(Report)).all()) == 43, "everything the feed held is on record"
    rows = svc.outbox()
    digests = [r for r in rows if r.dedup_key.startswith("feed:新闻源:baseline:")]
    assert [d.chat_id for d in digests] == [POLICY_OFFICE]
    text = digests[0].text
    assert text.startswith("📋 首次接入「新闻源」：已有 38 条相关报道，未计时限")
    assert old[0][1] in text and f'href="{old[0][0]}"' in text  # newest first, linked
    assert old[37][1] not in text and "……另有 18 条未列出。" in text
    assert "天气预报" not in text
    parse_html(text)  # Telegram would accept it as HTML
    # Nothing about the old news reached the head; only the two fresh incidents were announced.
    assert not [r for r in rows if r.chat_id == HEAD]
    cards = [r for r in rows if r.incident_id is not None]
    assert {r.incident_id for r in cards} == {i.id for i in incidents(sqlite_engine)}


def test_a_feed_back_from_an_outage_is_not_a_first_start(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.route("/f.xml", rss([incident_report(0, NOW - timedelta(days=2))]))
    svc = Service.start(
        sqlite_engine, config(tmp_path, feed_server.url("/f.xml")), NOW - timedelta(minutes=10)
    )
    svc.step(NOW)
    assert incidents(sqlite_engine) == []  # its first poll: the two-day-old report is a digest line
    feed_server.route("/f.xml", b"<h1>502 Bad Gateway</h1>", status=502, content_type="text/html")
    t = NOW
    for _ in range(4):
        t += timedelta(hours=1)
        with Session(sqlite_engine) as s:
            st = s.get_one(FeedState, "新闻源")
            st.next_poll_at = t  # poll hourly whatever the back-off says
            s.add(st)
            s.commit()
        svc.step(t)
    # Back after four hours: what it published meanwhile (three hours ago) is news.
    during = incident_report(1, t - timedelta(hours=3))
    feed_server.route("/f.xml", rss([incident_report(0, NOW - timedelta(days=2)), during]))
    t += timedelta(minutes=5)
    with Session(sqlite_engine) as s:
        st = s.get_one(FeedState, "新闻源")
        st.next_poll_at = t
        s.add(st)
        s.commit()
    svc.step(t)
    assert [i.title for i in incidents(sqlite_engine)] == [during[1]]
    assert len([r for r in svc.outbox() if ":baseline:" in r.dedup_key]) == 1


def test_a_changed_address_is_a_new_baseline(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.route("/a.xml", rss([incident_report(0, NOW - timedelta(minutes=30))]))
    svc = Service.start(
        sqlite_engine, config(tmp_path, feed_server.url("/a.xml")), NOW - timedelta(minutes=10)
    )
    svc.step(NOW)
    assert len(incidents(sqlite_engine)) == 1
    later = NOW + timedelta(days=1)
    feed_server.route("/b.xml", rss([incident_report(1, later - timedelta(hours=5))]))
    moved = Service.start(
        sqlite_engine, config(tmp_path, feed_server.url("/b.xml")), later - timedelta(minutes=10)
    )
    with Session(sqlite_engine) as s:
        st = s.get_one(FeedState, "新闻源")
        st.next_poll_at = later
        s.add(st)
        s.commit()
    moved.step(later)
    assert len(incidents(sqlite_engine)) == 1
    with Session(sqlite_engine) as s:
        digests = s.exec(
            select(Outbox).where(col(Outbox.dedup_key).startswith("feed:新闻源:baseline:"))
        ).all()
    # The first address held only fresh news (no digest); the new one holds a five-hour-old report.
    assert len(digests) == 1 and "已有 1 条相关报道" in digests[0].text


def test_old_upstream_policy_items_are_listed_not_owed(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    items = [
        (
            "https://gov.example/zc/1",
            "国务院关于加强安全生产工作的意见",
            "安全生产。",
            NOW - timedelta(days=3),
        ),
        (
            "https://gov.example/zc/2",
            "国务院办公厅关于应急管理工作的通知",
            "应急管理。",
            NOW - timedelta(minutes=30),
        ),
    ]
    feed_server.route("/zc.xml", rss(items))
    cfg = config(tmp_path, feed_server.url("/zc.xml"), kind="upstream")
    svc = Service.start(sqlite_engine, cfg, NOW - timedelta(minutes=10))
    svc.step(NOW)
    assert [i.title for i in incidents(sqlite_engine)] == [items[1][1]]
    [digest] = [r for r in svc.outbox() if ":baseline:" in r.dedup_key]
    assert "已有 1 条相关报道" in digest.text and items[0][1] in digest.text


def test_a_zero_window_turns_the_baseline_off(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.route("/f.xml", rss([incident_report(0, NOW - timedelta(days=2))]))
    cfg = config(tmp_path, feed_server.url("/f.xml"), extra="  baseline_window: 0\n")
    svc = Service.start(sqlite_engine, cfg, NOW - timedelta(minutes=10))
    svc.step(NOW)
    assert len(incidents(sqlite_engine)) == 1
    assert not [r for r in svc.outbox() if ":baseline:" in r.dedup_key]
