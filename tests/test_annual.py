"""The annual report's section 二、回应解读情况 over a known history: every row checked."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kit.enginekit import Service, rss, write_config
from kit.feedserver import FeedServer
from kit.report_history import NOW, L, build, fill
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from responder.db import session_scope
from responder.engine import actions
from responder.engine.actions import Actor
from responder.models import Incident
from responder.playbook import report_obligations
from responder.reports.annual import (
    ROW_CODES,
    AnnualFigures,
    compute_annual,
    render_annual_csv,
    render_annual_text,
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return build(tmp_path_factory.mktemp("annual") / "t.db")


@pytest.fixture(scope="module")
def ids(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        return {i.title: i.id for i in s.exec(select(Incident)).all() if i.id is not None}


@pytest.fixture(scope="module")
def y2026(engine: Engine) -> AnnualFigures:
    return compute_annual(engine, 2026, "Asia/Shanghai", now=NOW)


def counted(fig: AnnualFigures, code: str, ids: dict[str, int]) -> set[str]:
    names = {v: k for k, v in ids.items()}
    return {names[i] for i in fig.row(code).incident_ids}


def test_rows_in_the_reports_order(y2026: AnnualFigures) -> None:
    assert [r.code for r in y2026.rows] == list(ROW_CODES)
    assert y2026.start.isoformat() == "2026-01-01T00:00:00+08:00"
    assert y2026.end.isoformat() == "2027-01-01T00:00:00+08:00"


def test_hot_spots_one_per_event_whatever_the_channels(y2026: AnnualFigures, ids: dict[str, int]) -> None:
    row = y2026.row("hotspots")
    assert row.value == 6
    # Not counted: the false alarm (dismissed), two events with nothing done, the policy
    # items (reposts are not responses), and the New Year's Eve flash done in 2025.
    # Counted: the fire whose statement was done at 00:30 on 1 January in Shanghai
    # (still 31 December in UTC).
    assert counted(y2026, "hotspots", ids) == {
        "某化工厂爆炸", "某矿透水", "某仓库火灾", "某隧道坍塌", "某工地脚手架坍塌", "元旦凌晨某商场火灾",
    }  # fmt: skip


def test_press_conferences_and_the_head(y2026: AnnualFigures, ids: dict[str, int]) -> None:
    assert y2026.row("press_conferences").value == 3  # the drill's conference is not counted
    assert counted(y2026, "press_conferences", ids) == {"某化工厂爆炸", "某仓库火灾", "某隧道坍塌"}
    row = y2026.row("press_conferences_head")
    assert (row.value, row.unrecorded) == (2, 1)  # the tunnel's conference does not say: not counted
    assert counted(y2026, "press_conferences_head", ids) == {"某化工厂爆炸", "某仓库火灾"}


def test_weibo_wechat_and_other_means(y2026: AnnualFigures, ids: dict[str, int]) -> None:
    social, other = y2026.row("weibo_wechat"), y2026.row("other_means")
    assert (social.value, other.value) == (3, 2)
    # The mine's flash went out on the portal and Weibo: it counts in both rows.
    assert counted(y2026, "weibo_wechat", ids) == {"某仓库火灾", "某工地脚手架坍塌", "某矿透水"}
    assert counted(y2026, "other_means", ids) == {"某工地脚手架坍塌", "某矿透水"}
    # Statements marked done without saying where: neither row counts them, both say so.
    # (The warehouse's update is unrecorded too, but its statement is on WeChat: row 4 knows.)
    # The tunnel collapse had only a press conference: in neither row, and not unrecorded.
    assert (social.unrecorded, other.unrecorded) == (2, 3)


def test_rows_the_records_cannot_support(y2026: AnnualFigures) -> None:
    for code in ("online_interviews", "online_interviews_head", "policy_interpretation"):
        row = y2026.row(code)
        assert (row.value, row.supported) == (None, False)


def test_the_previous_year_and_as_of_now(engine: Engine) -> None:
    y2025 = compute_annual(engine, 2025, now=NOW)
    assert {r.code: (r.value, r.unrecorded) for r in y2025.rows if not r.heading} == {
        "hotspots": (1, 0), "press_conferences": (0, 0), "press_conferences_head": (0, 0),
        "online_interviews": (None, 0), "online_interviews_head": (None, 0), "policy_interpretation": (None, 0),
        # Its one flash was marked done without an outlet: the records cannot tell, and say so (no 0).
        "weibo_wechat": (None, 1), "other_means": (None, 1),
    }  # fmt: skip
    assert not y2025.row("weibo_wechat").supported
    early = compute_annual(engine, 2026, now=L(11, 18, 0))
    assert early.row("hotspots").value == 4  # the W46 pair, the warehouse fire, the New Year fire
    assert early.row("press_conferences").value == 1


def test_bad_year_is_named(engine: Engine) -> None:
    with pytest.raises(ValueError, match="year 26 is out of range"):
        compute_annual(engine, 26, now=NOW)


def test_text_shows_the_reports_rows(y2026: AnnualFigures, engine: Engine) -> None:
    text = render_annual_text(y2026, lang="zh")
    lines = text.splitlines()
    assert lines[0] == "2026 年政府信息公开工作年度报告 · 附表 二、回应解读情况"
    assert lines[1].startswith("统计期间：2026-01-01 00:00 至 2027-01-01 00:00（Asia/Shanghai）")
    assert "（一）回应公众关注热点或重大舆情数（不同方式回应同一热点或舆情计1次） | 次 | 6" in lines
    assert "（二）通过不同渠道和方式回应解读的情况 | —— | ——" in lines
    assert "1.参加或举办新闻发布会总次数 | 次 | 3" in lines
    assert (
        "其中：主要负责同志参加新闻发布会次数 | 次 | 2（另有 1 次发布会未登记主要负责同志是否参加，未计入）"
        in lines
    )
    assert "2.政府网站在线访谈次数 | 次 | 记录不支持" in lines
    assert "其中：主要负责同志参加政府网站在线访谈次数 | 次 | 记录不支持" in lines
    assert "3.政策解读稿件发布数 | 篇 | 记录不支持" in lines
    assert "4.微博微信回应事件数 | 次 | 3（另有 2 起事件未登记发布渠道，未计入）" in lines
    assert "5.其他方式回应事件数 | 次 | 2（另有 3 起事件未登记发布渠道，未计入）" in lines
    y2025 = render_annual_text(compute_annual(engine, 2025, now=NOW), lang="zh").splitlines()
    assert "4.微博微信回应事件数 | 次 | 记录不足（1 起事件未登记发布渠道）" in y2025
    assert any(line.startswith("- 3.政策解读稿件：记录不支持") for line in lines)


def test_csv(y2026: AnnualFigures) -> None:
    text = render_annual_csv(y2026, lang="zh")
    assert text.startswith("\ufeffyear,")  # byte-order mark: Excel on Chinese Windows reads it as UTF-8
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    got = {r["code"]: (r["value"], r["supported"], r["unit"], r["unrecorded"]) for r in rows}
    assert got == {
        "hotspots": ("6", "yes", "次", "0"),
        "press_conferences": ("3", "yes", "次", "0"),
        "press_conferences_head": ("2", "yes", "次", "1"),
        "online_interviews": ("", "no", "次", "0"),
        "online_interviews_head": ("", "no", "次", "0"),
        "policy_interpretation": ("", "no", "篇", "0"),
        "weibo_wechat": ("3", "yes", "次", "2"),
        "other_means": ("2", "yes", "次", "3"),
    }
    assert {r["year"] for r in rows} == {"2026"} and {r["timezone"] for r in rows} == {"Asia/Shanghai"}
    assert rows[0]["indicator"].startswith("（一）回应公众关注热点")


def test_command_line_report_annual(engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    from responder.cli import main

    argv = [
        "report",
        "annual",
        "--year",
        "2026",
        "--database",
        str(engine.url),
        "--as-of",
        "2026-11-23T09:00+08:00",
    ]
    assert main(argv) == 0
    assert "4.微博微信回应事件数 | 次 | 3（另有 2 起事件未登记发布渠道，未计入）" in capsys.readouterr().out
    assert main([*argv, "--format", "csv"]) == 0
    assert "\n2026,Asia/Shanghai,hotspots," in capsys.readouterr().out
    assert main([*argv, "--tz", "Mars/Olympus"]) == 2
    assert "未知时区 “Mars/Olympus”" in capsys.readouterr().err


def test_same_rows_on_sqlite_and_postgresql(db_engine: Engine, y2026: AnnualFigures) -> None:
    fill(db_engine)
    assert compute_annual(db_engine, 2026, now=NOW).rows == y2026.rows


def test_rows_from_what_people_record(sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer) -> None:
    """A statement marked done on Weibo and WeChat and a press conference the head attended,
    recorded as people record them (the action behind /done, the buttons, the console), fill
    rows 4 and 其中 from data; a second event's statement with no outlet is named, not counted."""
    t0 = datetime(2026, 11, 21, 7, 30, tzinfo=UTC)
    now = t0 + timedelta(hours=2)
    feed_server.route("/n.xml", rss([
        ("https://news.example/a", "淮南市潘集区一化工厂发生爆炸", "事故已造成12人死亡。", t0),
        ("https://news.example/b", "六安市霍邱县一铁矿发生透水事故", "事故造成11人遇难。", t0),
    ]))  # fmt: skip
    cfg = write_config(tmp_path, f"  - name: 新闻\n    url: {feed_server.url('/n.xml')}\n")
    svc = Service.start(sqlite_engine, cfg, t0)
    svc.step(t0 + timedelta(minutes=10))
    with Session(sqlite_engine) as s:
        blast, flood = (i.id for i in s.exec(select(Incident).order_by(col(Incident.id))).all())
    office = Actor.from_roster(svc.settings.roster, 1002)
    with session_scope(sqlite_engine) as s:
        st = svc.settings
        actions.complete_step(s, st, blast, "statement", "", office, None, now, outlets=["weibo", "wechat"])
        actions.complete_step(s, st, blast, "press_conference", "", office, None, now, head_attended=True)
        actions.complete_step(s, st, flood, "statement", "", office, None, now)
    books = report_obligations(svc.settings.playbooks)
    fig = compute_annual(sqlite_engine, 2026, now=now + timedelta(minutes=1), obligations=books)
    rows = {r.code: (r.value, r.unrecorded) for r in fig.rows if not r.heading and r.supported}
    assert rows == {
        "hotspots": (2, 0),
        "press_conferences": (1, 0),
        "press_conferences_head": (1, 0),
        "weibo_wechat": (1, 1),  # the blast; the flood's statement does not say where
    }
    assert (fig.row("other_means").value, fig.row("other_means").unrecorded) == (None, 1)
