"""Storing what a feed brings: clean text, no silent drops, the earliest publication time kept.

On SQLite and PostgreSQL alike (PostgreSQL refuses NUL in text and used to lose such a
report without a trace), through a real feed server and the engine's poll and cycle.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from kit.enginekit import Service, write_config
from kit.feedserver import FeedServer
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from responder.models import FeedState, Incident, IncidentEvent, Report, Step

NOW = datetime(2026, 12, 5, 2, 50, tzinfo=UTC)  # 10:50 in Shanghai


def item(link: str, title: str, desc: str, published: datetime, guid: str | None = None) -> str:
    return (f"<item><title>{title}</title><link>{link}</link><guid>{guid or link}</guid>"
            f"<description><![CDATA[{desc}]]></description><pubDate>{format_datetime(published)}</pubDate></item>")  # fmt: skip


def feed(*items: str) -> bytes:
    head = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
    return (head + "".join(items) + "</channel></rss>").encode("utf-8")


def reports(engine: Engine) -> list[Report]:
    with Session(engine) as s:
        return list(s.exec(select(Report).order_by(col(Report.id))).all())


def test_control_zero_width_and_bidi_characters_never_reach_the_database_or_the_card(
    db_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    t = NOW - timedelta(minutes=20)
    feed_server.route("/n.xml", feed(
        # a raw NUL and a vertical tab, as a broken CMS writes them
        item("https://n.example/1", "淮南市潘集区化工厂\x00发生爆炸\x0b 3人死亡", "现场救援中。", t),
        # a zero-width space inside the event word, a right-to-left override and an isolate
        item("https://n.example/2", "合肥一在建工地发生坍&#x200B;塌 &#x202E;2人死亡&#x2066;", "坍&#8203;塌。", t),
    ))  # fmt: skip
    cfg = write_config(tmp_path, f"  - name: 新闻\n    url: {feed_server.url('/n.xml')}\n")
    svc = Service.start(db_engine, cfg, NOW - timedelta(minutes=10))
    svc.step(NOW)
    got = {r.link: r for r in reports(db_engine)}
    assert got["https://n.example/1"].title == "淮南市潘集区化工厂发生爆炸 3人死亡"
    assert got["https://n.example/2"].title == "合肥一在建工地发生坍塌 2人死亡"
    assert all(r.relevant and r.incident_id for r in got.values())  # 坍塌 matched despite the ZWSP
    assert svc.outbox(), "both incidents were announced"
    for row in svc.outbox():
        assert not any(ch in row.text for ch in "\x00\x0b\u200b\u202e\u2066"), row.text


def _refuse_titles_with(engine: Engine, word: str) -> None:
    """A rule in the database (not in our code) that refuses some reports: a trigger or a CHECK."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                sa.text(f"ALTER TABLE report ADD CONSTRAINT refuse_word CHECK (title NOT LIKE '%{word}%')")
            )
        else:
            conn.execute(sa.text(
                f"CREATE TRIGGER refuse_word BEFORE INSERT ON report WHEN NEW.title LIKE '%{word}%' "
                "BEGIN SELECT RAISE(ABORT, 'refused by the database'); END"
            ))  # fmt: skip


def _allow_again(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("ALTER TABLE report DROP CONSTRAINT refuse_word"))
        else:
            conn.execute(sa.text("DROP TRIGGER refuse_word"))


def test_a_report_the_database_refuses_is_recorded_against_the_feed_and_stored_at_the_next_poll(
    db_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    t = NOW - timedelta(minutes=20)
    feed_server.route("/n.xml", feed(
        item("https://n.example/ok", "六安一仓库发生火灾 1人死亡", "火灾。", t),
        item("https://n.example/refused", "淮北一煤矿发生透水事故 拒收 3人死亡", "透水。", t),
    ), etag='"v1"')  # fmt: skip
    cfg = write_config(tmp_path, f"  - name: 新闻\n    url: {feed_server.url('/n.xml')}\n")
    svc = Service.start(db_engine, cfg, NOW - timedelta(minutes=10))
    _refuse_titles_with(db_engine, "拒收")
    svc.step(NOW)
    assert [r.link for r in reports(db_engine)] == ["https://n.example/ok"]
    with Session(db_engine) as s:
        state = s.get_one(FeedState, "新闻")
        assert state.last_error and "1 条报道未能存储" in state.last_error and "refuse" in state.last_error
        assert state.consecutive_failures == 0 and state.etag is None  # validators kept back for a retry

    _allow_again(db_engine)
    svc.step(NOW + timedelta(minutes=6))
    assert sorted(r.link for r in reports(db_engine)) == ["https://n.example/ok", "https://n.example/refused"]
    assert feed_server.requests_to("/n.xml")[-1].headers.get("if-none-match") is None
    with Session(db_engine) as s:
        state = s.get_one(FeedState, "新闻")
        assert state.last_error is None and state.etag == '"v1"'
        assert len(s.exec(select(Incident)).all()) == 2


@pytest.mark.parametrize("tracking", ["?utm_source=agg&utm_medium=feed", "?spm=a1.b2&from=timeline", ""])
def test_a_repost_seen_before_the_original_does_not_delay_the_clock(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer, tracking: str
) -> None:
    original = NOW - timedelta(minutes=50)  # 10:00
    repost = NOW - timedelta(minutes=15)  # 10:35
    title, text = "淮南市潘集区一化工厂发生爆炸 已造成12人死亡", "事故已造成12人死亡。"
    link = "https://orig.example/a/1.html"
    feed_server.route("/agg.xml", feed(item(link + tracking, title, text, repost, guid="agg-000001")))
    feed_server.route("/orig.xml", feed())
    sources = (
        f"  - name: 聚合站\n    url: {feed_server.url('/agg.xml')}\n"
        f"  - name: 原发站\n    url: {feed_server.url('/orig.xml')}\n"
    )
    svc = Service.start(sqlite_engine, write_config(tmp_path, sources), NOW - timedelta(minutes=10))
    svc.step(NOW)
    with Session(sqlite_engine) as s:
        inc = s.exec(select(Incident)).one()
        assert inc.first_published == repost

    feed_server.route("/orig.xml", feed(item(link, title, text, original, guid="orig-000001")))
    svc.step(NOW + timedelta(minutes=6))
    with Session(sqlite_engine) as s:
        [rep] = s.exec(select(Report)).all()
        inc = s.exec(select(Incident)).one()
        due = s.exec(select(Step.due_at).where(Step.incident_id == inc.id, Step.key == "statement")).one()
        moved = s.exec(
            select(IncidentEvent).where(
                IncidentEvent.incident_id == inc.id, IncidentEvent.kind == "clock_moved"
            )
        ).one()
        retimed = s.exec(select(IncidentEvent).where(IncidentEvent.kind == "retimed")).all()
    assert rep.published == original and inc.first_published == original
    assert due == original + timedelta(hours=5)  # 15:00, not 15:35
    assert moved.data["from"] == repost.isoformat() and moved.data["to"] == original.isoformat()
    assert retimed, "the cycle re-timed the open statement step"


def test_two_copies_in_one_fetch_keep_the_earlier_time(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    title, text = "合肥一在建工地发生坍塌 已造成2人死亡", "坍塌。"
    later, earlier = NOW - timedelta(minutes=10), NOW - timedelta(minutes=40)
    feed_server.route("/n.xml", feed(
        item("https://n.example/x?utm_source=top", title, text, later, guid="top-copy-1"),
        item("https://n.example/x", title, text, earlier, guid="list-copy-1"),
    ))  # fmt: skip
    cfg = write_config(tmp_path, f"  - name: 新闻\n    url: {feed_server.url('/n.xml')}\n")
    svc = Service.start(sqlite_engine, cfg, NOW - timedelta(minutes=10))
    svc.step(NOW)
    [rep] = reports(sqlite_engine)
    with Session(sqlite_engine) as s:
        inc = s.exec(select(Incident)).one()
    assert rep.published == earlier and inc.first_published == earlier
