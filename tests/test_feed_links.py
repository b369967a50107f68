"""Relative item links, as government CMSs publish them, are stored and shown absolute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from kit.enginekit import Service, write_config
from kit.feedserver import FeedServer
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from responder.models import Report

NOW = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
PUB = format_datetime(NOW - timedelta(minutes=30))


def item(link: str, title: str) -> str:
    return f"<item><title>{title}</title><link>{link}</link><pubDate>{PUB}</pubDate></item>"


def rss(*items: str, channel_link: str | None = None) -> bytes:
    link = f"<link>{channel_link}</link>" if channel_link else ""
    head = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>{link}'
    return (head + "".join(items) + "</channel></rss>").encode("utf-8")


def links(engine: Engine) -> dict[str, str | None]:
    with Session(engine) as s:
        return {r.title: r.link for r in s.exec(select(Report)).all()}


def run(engine: Engine, tmp_path: Path, sources: list[tuple[str, str]]) -> Service:
    text = "".join(f"  - name: {n}\n    url: {u}\n" for n, u in sources)
    svc = Service.start(engine, write_config(tmp_path, text), NOW - timedelta(minutes=10))
    svc.step(NOW)
    return svc


def test_cms_links_relative_to_the_channel_page_become_absolute_and_the_card_links_there(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.route("/rss/news.xml", rss(
        item("./202612/t20261205_123.html", "淮南市潘集区一化工厂发生爆炸 12人死亡"),
        item("../zwgk/t20261205_9.html", "本厅召开安全生产会议"),
        item("/static/t1.html", "六安天气"),
        item("https://other.example/a.html", "外站文章"),
        channel_link="http://yjt.example.gov.cn/xwzx/",
    ))  # fmt: skip
    svc = run(sqlite_engine, tmp_path, [("应急厅", feed_server.url("/rss/news.xml"))])
    got = links(sqlite_engine)
    assert (
        got["淮南市潘集区一化工厂发生爆炸 12人死亡"]
        == "http://yjt.example.gov.cn/xwzx/202612/t20261205_123.html"
    )
    assert got["本厅召开安全生产会议"] == "http://yjt.example.gov.cn/zwgk/t20261205_9.html"
    assert got["六安天气"] == "http://yjt.example.gov.cn/static/t1.html"
    assert got["外站文章"] == "https://other.example/a.html"
    cards = [r.text for r in svc.outbox() if "报道" in r.text]
    assert cards and all(
        'href="http://yjt.example.gov.cn/xwzx/202612/t20261205_123.html"' in c for c in cards
    )


def test_without_a_channel_link_items_are_relative_to_the_feed_address_after_redirects(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.redirect("/old.xml", "/new/feed.xml", status=301)
    feed_server.route("/new/feed.xml", rss(item("item-7.html", "甲"), item("/root-8.html", "乙")))
    run(sqlite_engine, tmp_path, [("搬家的源", feed_server.url("/old.xml"))])
    got = links(sqlite_engine)
    assert got["甲"] == feed_server.url("/new/item-7.html")
    assert got["乙"] == feed_server.url("/root-8.html")


def test_atom_links_follow_xml_base(sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer) -> None:
    atom = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        'xml:base="http://gov.example.cn/zhengce/"><title>政策</title><id>urn:zc</id>'
        f"<updated>{(NOW - timedelta(minutes=30)).isoformat()}</updated>"
        '<entry><title>丙</title><id>urn:zc:1</id><link href="2026-12/content_1.htm"/>'
        f"<updated>{(NOW - timedelta(minutes=30)).isoformat()}</updated></entry>"
        '<entry xml:base="/zhengce/zuixin/"><title>丁</title><id>urn:zc:2</id><link href="content_2.htm"/>'
        f"<updated>{(NOW - timedelta(minutes=20)).isoformat()}</updated></entry>"
        '<entry><title>戊</title><id>urn:zc:3</id><link href="/x/content_3.htm"/>'
        f"<updated>{(NOW - timedelta(minutes=10)).isoformat()}</updated></entry></feed>"
    ).encode()
    feed_server.route("/atom.xml", atom, content_type="application/atom+xml")
    run(sqlite_engine, tmp_path, [("政策源", feed_server.url("/atom.xml"))])
    got = links(sqlite_engine)
    assert got["丙"] == "http://gov.example.cn/zhengce/2026-12/content_1.htm"
    assert got["丁"] == "http://gov.example.cn/zhengce/zuixin/content_2.htm"
    assert got["戊"] == "http://gov.example.cn/x/content_3.htm"
