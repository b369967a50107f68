"""`python main.py scan`: the operator's dry run over real feeds on 127.0.0.1; stable JSON; nothing stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from kit.enginekit import rss, write_config
from kit.feedserver import FeedServer

from responder.cli import main
from responder.i18n import t
from responder.runtime import load_settings
from responder.scan import render_json, render_table, scan

NOW = datetime.now(UTC).replace(microsecond=0)


def test_scan_json_groups_grades_and_reports_errors(
    tmp_path: Path,
    feed_server: FeedServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t0 = NOW - timedelta(hours=2)
    a = [
        ("https://a.example/1", "淮南市潘集区一化工厂发生爆炸", "已造成3人死亡。", t0),
        ("https://a.example/2", "合肥一小区举行消防演练 模拟火灾", "演练现场", t0),
        ("https://a.example/3", "六安天气晴好", "无事", t0),
        (
            "https://a.example/4",
            "安徽一季度安全生产形势平稳",
            "一季度,全省共发生生产安全事故51起、死亡34人,同比下降。",
            t0,
        ),
    ]
    b = [
        (
            "https://b.example/9",
            "淮南潘集化工厂爆炸事故死亡人数升至12人",
            "事故已造成12人遇难。",
            t0 + timedelta(hours=1),
        ),
        (
            "https://a.example/1",
            "淮南市潘集区一化工厂发生爆炸",
            "已造成3人死亡。",
            t0,
        ),  # same URL, 2nd source
    ]
    feed_server.route("/a.xml", rss(a))
    feed_server.route("/b.xml", rss(b))
    feed_server.route("/broken.xml", b"<html>not a feed</html>", content_type="text/html")
    sources = "".join(
        f"  - name: {n}\n    url: {feed_server.url(p)}\n"
        for n, p in (("甲", "/a.xml"), ("乙", "/b.xml"), ("坏", "/broken.xml"))
    )
    cfg = write_config(tmp_path, sources)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)

    assert main(["scan", "--config", str(cfg), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"reports", "incidents", "errors"}
    by_link = {r["link"]: r for r in doc["reports"]}
    assert len(doc["reports"]) == 5  # the same URL from a second source is one report
    first = by_link["https://a.example/1"]
    assert set(first) == {"source", "link", "title", "published", "relevant", "kind", "scheme", "hits", "grade",
                          "deaths", "serious_injuries", "loss_cny", "incident"}  # fmt: skip
    assert (
        first["relevant"]
        and first["kind"] == "accident"
        and first["grade"] == "较大"
        and first["deaths"] == 3
    )
    # A statistics bulletin is kept to watch: relevant, no grade, its own watch incident.
    bulletin = by_link["https://a.example/4"]
    assert bulletin["relevant"] and bulletin["kind"] == "bulletin" and bulletin["grade"] is None
    assert bulletin["incident"] not in (None, first["incident"])
    assert "淮南" in first["hits"]["region"] and "爆炸" in first["hits"]["event"]
    drill = by_link["https://a.example/2"]
    assert not drill["relevant"] and drill["hits"]["exclude"] == ["演练"] and drill["incident"] is None
    assert by_link["https://b.example/9"]["incident"] == first["incident"]
    [inc] = [i for i in doc["incidents"] if i["kind"] == "event"]
    [watch] = [i for i in doc["incidents"] if i["kind"] == "watch"]
    assert watch["grade"] is None and watch["key"] == bulletin["incident"]
    assert inc["grade"] == "重大" and inc["sources"] == 2 and inc["title"] == "淮南市潘集区一化工厂发生爆炸"
    assert inc["first_published"] == t0.isoformat()
    assert [e["source"] for e in doc["errors"]] == ["坏"]
    # A dry run: no database file appeared.
    assert not (tmp_path / "var").exists()


FIXED = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def heavy_feed(items: int) -> bytes:
    """A feed that takes far more memory to parse than its 4 MB (about 770 bytes an item).

    Not well-formed (a bare `&` in its title): the fast parser hands it to feedparser, which
    reads it loosely, slowly and with plenty of memory, as the service's bounds expect.
    """
    when = format_datetime(FIXED - timedelta(hours=1))
    body = "".join(
        f"<item><title>本地简讯{i}</title><link>https://heavy.example/{i}</link>"
        f"<description><![CDATA[<p>{'晴转多云' * 50}</p>]]></description><pubDate>{when}</pubDate></item>"
        for i in range(items)
    )
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>简讯 & 快讯</title>{body}</channel></rss>'.encode()


def test_scan_parses_in_bounded_workers_so_a_hostile_feed_is_one_line_and_the_rest_print(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    good = [
        (
            "https://good.example/1",
            "六安一仓库发生火灾 1人死亡",
            "火灾已扑灭。",
            FIXED - timedelta(minutes=20),
        )
    ]
    feed_server.route("/good.xml", rss(good))
    feed_server.route("/heavy.xml", heavy_feed(6000))
    sources = f"  - name: 正常源\n    url: {feed_server.url('/good.xml')}\n  - name: 问题源\n    url: {feed_server.url('/heavy.xml')}\n"
    # The service's bounds, tightened: a parse may use 32 MB above the worker's own memory.
    settings = load_settings(write_config(tmp_path, sources, "  parse_memory_mb: 32\n"))

    result = scan(settings, FIXED)
    table = render_table(result, settings)
    why = t("feed_error_parse_memory", mb=32)
    # One line for the hostile feed: which source, what went wrong, in the catalogue's words.
    assert [line for line in table.splitlines() if "问题源" in line] == [
        t("scan_error", source="问题源", error=why)
    ]
    assert "本地简讯" not in table
    # The good feed's report and incident still print.
    assert "六安一仓库发生火灾 1人死亡" in table and "scan-1" in table
    doc = json.loads(render_json(result))
    assert doc["errors"] == [{"source": "问题源", "error": why}]
    assert [r["link"] for r in doc["reports"]] == ["https://good.example/1"]
