"""Intake cases end to end: real feed bytes from a server on 127.0.0.1, through the service's intake
into the database — what a duty officer would see as incidents and reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from kit.enginekit import Service, write_config
from kit.feedserver import FeedServer
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from responder.models import Incident, Report

NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
PUB = "Sat, 21 Nov 2026 15:00:00 +0800"


def item(guid: str, link: str, title: str, description: str) -> str:
    return (f"<item><guid>{guid}</guid><link>{link}</link><title>{title}</title>"
            f"<description><![CDATA[{description}]]></description><pubDate>{PUB}</pubDate></item>")  # fmt: skip


def feed(*items: str, encoding: str = "utf-8") -> bytes:
    body = f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel><title>t</title>'
    return (body + "".join(items) + "</channel></rss>").encode(encoding)


def reports(engine: Engine) -> dict[str, Report]:
    with Session(engine) as s:
        return {r.link or "": r for r in s.exec(select(Report).order_by(col(Report.id))).all()}


def test_intake_cases_through_a_real_server(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.route("/a.xml", feed(
        # a word only inside an attribute or a URL is not in the text
        item("g-attr-0001", "https://x.example/attr", "合肥市一工厂今日开放参观",
             '<img alt="爆炸" src="https://x.example/爆炸.png"><a href="https://x.example/坍塌">详情</a>'),
        # full-width digits count as digits
        item("g-wide-0001", "https://x.example/wide", "淮南市潘集区化工厂爆炸", "事故已造成死亡１２人。"),
        # an exclusion word vetoes
        item("g-drill-001", "https://x.example/drill", "六安市开展危化品泄漏爆炸应急演练", "演练模拟爆炸。"),
        # matched only through the summary
        item("g-summ-0001", "https://x.example/summary", "突发!", "<p>淮北市一煤矿发生<b>透水</b>事故。</p>"),
    ))  # fmt: skip
    # Traditional characters in Big5 bytes: matches only after conversion to simplified.
    feed_server.route("/tw.xml", feed(
        item("g-trad-0001", "https://tw.example/1", "安徽淮北煤礦發生透水事故", "礦工受困,救援進行中。"),
        encoding="big5",
    ))  # fmt: skip
    feed_server.route("/dup.xml", feed(
        item("g-dup-00001", "https://d.example/1", "合肥一在建工地发生坍塌", "现场救援中。"),
    ))  # fmt: skip
    sources = "".join(f"  - name: {n}\n    url: {feed_server.url(p)}\n" for n, p in
                      (("甲", "/a.xml"), ("繁", "/tw.xml"), ("重", "/dup.xml")))  # fmt: skip
    svc = Service.start(sqlite_engine, write_config(tmp_path, sources), NOW - timedelta(minutes=10))
    svc.step(NOW)

    got = reports(sqlite_engine)
    assert not got["https://x.example/attr"].relevant
    assert got["https://x.example/wide"].relevant and got["https://x.example/wide"].deaths == 12
    assert got["https://x.example/wide"].grade == "重大"
    assert not got["https://x.example/drill"].relevant and got["https://x.example/drill"].hits["exclude"] == [
        "演练"
    ]
    assert got["https://x.example/summary"].relevant and got["https://x.example/summary"].hits["event"] == [
        "透水"
    ]
    assert (
        got["https://tw.example/1"].relevant
        and got["https://tw.example/1"].title == "安徽淮北煤礦發生透水事故"
    )
    # The 淮北 flooding reported in simplified and traditional characters is one incident.
    assert got["https://tw.example/1"].incident_id == got["https://x.example/summary"].incident_id

    # The CMS republishes the same story with a new guid, and repeats it: still one report.
    feed_server.route("/dup.xml", feed(
        item("g-dup-00002", "https://d.example/1", "合肥一在建工地发生坍塌", "现场救援中。"),
        item("g-dup-00002", "https://d.example/1", "合肥一在建工地发生坍塌", "现场救援中。"),
    ))  # fmt: skip
    svc.step(NOW + timedelta(minutes=6))
    with Session(sqlite_engine) as s:
        assert len(s.exec(select(Report).where(Report.link == "https://d.example/1")).all()) == 1
        events = s.exec(select(Incident.id).where(Incident.kind == "event")).all()
        grouped = {
            frozenset(r.link for r in s.exec(select(Report).where(Report.incident_id == iid)).all())
            for iid in events
        }
    # Which copy of the 淮北 story names its incident depends on which feed answers first: the
    # incidents are compared by the reports they hold.
    assert grouped == {
        frozenset({"https://x.example/wide"}),
        frozenset({"https://x.example/summary", "https://tw.example/1"}),
        frozenset({"https://d.example/1"}),
    }
