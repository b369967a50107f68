"""`python main.py scan`: the operator's dry run over real feeds on 127.0.0.1; stable JSON; nothing stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kit.enginekit import rss, write_config
from kit.feedserver import FeedServer

from responder.cli import main

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
