"""The weekly summary over a known history in a real SQLite file: every figure checked."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from kit.report_history import NOW, SH, L, build, fill
from sqlalchemy.engine import Engine
from sqlmodel import Session

from responder.present.formats import format_span
from responder.reports.render import render_weekly_csv, render_weekly_json, render_weekly_text
from responder.reports.weekly import IsoWeek, ObligationFigures, WeeklySummary, compute_weekly, percentile

H = timedelta(hours=1)
M = timedelta(minutes=1)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return build(tmp_path_factory.mktemp("weekly") / "t.db")


@pytest.fixture(scope="module")
def w47(engine: Engine) -> WeeklySummary:
    return compute_weekly(engine, "2026-W47", "Asia/Shanghai", now=NOW)


def figures(o: ObligationFigures) -> tuple[int, int, int, int, int]:
    return (o.due, o.on_time, o.late, o.open, o.overdue)


# ---------------------------------------------------------------- weeks and their edges


def test_week_edges_are_monday_midnight_in_shanghai(w47: WeeklySummary) -> None:
    info = w47.current.week
    assert info.label == "2026-W47" and info.tz == "Asia/Shanghai"
    assert info.start.isoformat() == "2026-11-16T00:00:00+08:00"
    assert info.end.isoformat() == "2026-11-23T00:00:00+08:00"
    assert w47.previous.week.label == "2026-W46"
    assert (info.holidays, info.makeup_workdays, info.calendar_known) == ((), (), True)


def test_week_parsing_and_errors() -> None:
    assert IsoWeek.parse("2026-W47") == IsoWeek(2026, 47) == IsoWeek.parse("2026w47")
    assert IsoWeek(2026, 1).shift(-1) == IsoWeek(2025, 52)
    assert IsoWeek(2026, 53).label == "2026-W53"  # 2026 has 53 ISO weeks
    with pytest.raises(ValueError, match="应写作例如 2026-W47"):
        IsoWeek.parse("47")
    with pytest.raises(ValueError, match="2025 年的 ISO 周次为第 1 至 52 周"):
        IsoWeek.parse("2025-W53")


def test_an_unknown_time_zone_is_named(engine: Engine) -> None:
    with pytest.raises(ValueError, match="未知时区 “Asia/Shangai”"):
        compute_weekly(engine, "2026-W47", "Asia/Shangai", now=NOW)


def test_percentile_interpolates_like_numpy() -> None:
    assert percentile([1, 2], 90) == pytest.approx(1.9)
    assert percentile([5, 10, 20], 50) == 10
    assert percentile([7], 90) == 7


# ---------------------------------------------------------------- incidents opened


def test_incidents_opened_by_grade(w47: WeeklySummary) -> None:
    c = w47.current.incidents
    assert c.by_grade == {"特别重大": 1, "重大": 1, "较大": 2, "一般": 1, "": 0}
    assert (c.policy, c.dismissed, c.events, c.total) == (1, 1, 5, 6)
    p = w47.previous.incidents
    assert p.by_grade == {"特别重大": 0, "重大": 1, "较大": 1, "一般": 0, "": 0}
    assert (p.policy, p.dismissed, p.total) == (0, 0, 2)


# ---------------------------------------------------------------- obligations


def test_statement(w47: WeeklySummary) -> None:
    o = w47.current.obligation("statement")
    # A done in 3 h; B never done; the dismissed drill's statement counts nowhere.
    assert figures(o) == (2, 1, 0, 0, 1)
    assert o.on_time_rate == 0.5
    assert (o.median, o.p90) == (3 * H, 3 * H)
    prev = w47.previous.obligation("statement")
    assert figures(prev) == (1, 1, 0, 0, 0) and prev.on_time_rate == 1.0 and prev.median == 4 * H


def test_press_conference(w47: WeeklySummary) -> None:
    o = w47.current.obligation("press_conference")
    assert figures(o) == (2, 1, 1, 0, 0)  # B on time (13 h), A two hours late (26 h)
    assert o.on_time_rate == 0.5
    assert o.median == 19 * H + 30 * M
    assert o.p90 == 24 * H + 42 * M  # 13 h + 0.9 x 13 h


def test_flash_due_on_the_weeks_first_instant_belongs_to_it(w47: WeeklySummary) -> None:
    o = w47.current.obligation("flash")
    # G's flash is due at Monday 00:00 (W47's first instant), C's on Friday;
    # E's is due at the next Monday 00:00 and belongs to W48.
    assert figures(o) == (2, 2, 0, 0, 0)
    assert o.on_time_rate == 1.0 and (o.median, o.p90) == (4 * H, 4 * H)
    assert figures(w47.previous.obligation("flash")) == (0, 0, 0, 0, 0)
    assert w47.previous.obligation("flash").on_time_rate is None


def test_publish_info_and_updates(w47: WeeklySummary) -> None:
    o = w47.current.obligation("publish_info")
    assert figures(o) == (1, 0, 1, 0, 0) and o.on_time_rate == 0.0 and (o.median, o.p90) == (6 * H, 6 * H)
    u = w47.current.obligation("updates")
    # B's update is due in W48 (after now); A's was done in 7 h 30 min.
    assert figures(u) == (1, 1, 0, 0, 0) and u.median == u.p90 == 7 * H + 30 * M


def test_repost_target_and_hard_limit_counted_separately(w47: WeeklySummary) -> None:
    target = w47.current.obligation("repost_target")
    hard = w47.current.obligation("repost")
    # portal 40 min (both kept), weibo 2 h (aim missed, limit kept),
    # wechat 29 h 10 min (both missed), app never (both overdue).
    assert figures(target) == (4, 1, 2, 0, 1) and target.on_time_rate == 0.25
    assert figures(hard) == (4, 2, 1, 0, 1) and hard.on_time_rate == 0.5
    for o in (target, hard):
        assert o.median == 2 * H
        assert o.p90 == 23 * H + 44 * M  # 2 h + 0.8 x (29 h 10 min - 2 h)


def test_open_versus_overdue_in_the_running_week(engine: Engine) -> None:
    # Computed on Monday 09:00 of W48: E's flash (due 00:00) is overdue,
    # B's update (due 12:00) is still open and has no on-time rate yet.
    w48 = compute_weekly(engine, "2026-W48", now=NOW).current
    assert figures(w48.obligation("flash")) == (1, 0, 0, 0, 1)
    upd = w48.obligation("updates")
    assert figures(upd) == (1, 0, 0, 1, 0) and upd.on_time_rate is None
    # Completions after `now` are not yet known: seen from Tuesday noon of W47, A's press
    # conference (done Wednesday) is still open and B had not been detected.
    early = compute_weekly(engine, "2026-W47", now=L(11, 17, 12)).current
    assert figures(early.obligation("press_conference")) == (1, 0, 0, 1, 0)
    assert early.incidents.total == 2  # the policy item and A


def test_holiday_weeks(engine: Engine) -> None:
    # The item published Wed 09-30 has its 1-hour aim in W40 and its 1-working-day
    # limit after the National Day break, in W41.
    w41 = compute_weekly(engine, "2026-W41", now=NOW)
    assert w41.current.week.holidays == (date(2026, 10, 5), date(2026, 10, 6), date(2026, 10, 7))
    assert w41.current.week.makeup_workdays == (date(2026, 10, 10),)
    assert figures(w41.current.obligation("repost")) == (1, 1, 0, 0, 0)
    assert figures(w41.current.obligation("repost_target")) == (0, 0, 0, 0, 0)
    assert w41.current.obligation("repost_target").on_time_rate is None
    w40 = w41.previous
    assert w40.week.holidays == tuple(date(2026, 10, d) for d in (1, 2, 3, 4))
    assert figures(w40.obligation("repost_target")) == (1, 0, 1, 0, 0)
    assert figures(w40.obligation("repost")) == (0, 0, 0, 0, 0)
    text = render_weekly_text(w41, lang="zh")
    assert "本周法定节假日：10/5、10/6、10/7；调休上班：10/10" in text


def test_history_of_rates_for_the_chart(w47: WeeklySummary) -> None:
    labels = [label for label, _ in w47.history]
    assert labels == [f"2026-W{n}" for n in range(39, 47)]
    rates = dict(w47.history)
    assert rates["2026-W46"]["statement"] == 1.0 and rates["2026-W46"]["press_conference"] == 1.0
    assert rates["2026-W40"]["repost_target"] == 0.0 and rates["2026-W41"]["repost"] == 1.0
    assert rates["2026-W43"]["statement"] is None


# ---------------------------------------------------------------- acknowledgement


def test_first_acknowledgement_per_escalation_level(w47: WeeklySummary) -> None:
    acks = {a.level: (a.count, a.median, a.p90) for a in w47.current.acks}
    # level 0: A 5 min, the policy item 10 min, D 20 min (the dismissed drill not counted);
    # level 1: C 2 h 30 min; level 2: B 3 h.
    assert acks == {
        0: (3, 10 * M, 18 * M),
        1: (1, 2 * H + 30 * M, 2 * H + 30 * M),
        2: (1, 3 * H, 3 * H),
    }
    assert w47.current.unacknowledged == 1  # E
    prev = {a.level: (a.count, a.median) for a in w47.previous.acks}
    assert prev == {0: (2, 22 * M + 30 * timedelta(seconds=1))}


# ---------------------------------------------------------------- overdue list


def test_overdue_list_names_who_held_each(w47: WeeklySummary) -> None:
    items = [
        (
            i.incident_id,
            i.obligation,
            i.channel,
            i.done_at is None,
            i.late_by,
            i.level,
            i.holders,
            i.acknowledged_by,
        )
        for i in w47.current.overdue
    ]
    ids = {i.title: i.incident_id for i in w47.current.overdue}
    policy, b = ids["国务院办公厅关于安全生产的通知"], ids["某隧道坍塌"]
    a, c = ids["某仓库火灾"], ids["某工地脚手架坍塌"]
    assert items == [
        # still undone first, longest overrun first
        (policy, "repost", "app", True, NOW - L(11, 17, 9, 50), 0, (), "张三"),
        (b, "statement", "", True, NOW - L(11, 19, 12), 2, ("王局长",), "王局长"),
        (policy, "repost", "wechat", False, 5 * H + 10 * M, 0, (), "张三"),
        (a, "press_conference", "", False, 2 * H, 0, (), "张三"),
        # escalated to level 1 at 17:00, acknowledged 17:30, due 19:00; the level-2
        # escalation at 21:00 came after the deadline and does not count.
        (c, "publish_info", "", False, 1 * H, 1, ("李科长", "赵主任"), "李科长"),
    ]
    assert [i.done_by for i in w47.current.overdue] == [None, None, "李四", "王局长", "李科长"]
    assert w47.current.overdue[0].kind == "policy" and w47.current.overdue[1].grade == "特别重大"
    assert w47.previous.overdue == []


# ---------------------------------------------------------------- feeds


def test_feed_outages_clipped_to_the_week(w47: WeeklySummary) -> None:
    down = {f.source: (f.outages, f.down, f.still_down, f.last_error) for f in w47.current.feeds_down}
    assert down == {
        # 1 h 30 min, then from Friday 22:00 to the week's end (still down now)
        "新华网": (2, 51 * H + 30 * M, True, "HTTP 404"),
        "省政府门户": (1, 2 * H, False, "HTTP 503"),  # Saturday 10:00 to Monday 02:00, W47 part only
        "应急管理部": (2, 6 * H, False, "timeout"),  # overlapping rows: 10:00-16:00 counted once
    }
    prev = {f.source: (f.outages, f.down) for f in w47.previous.feeds_down}
    assert prev == {"省政府门户": (1, 38 * H), "人民网": (1, 24 * H)}
    assert [f.source for f in w47.current.feeds_down] == [
        "新华网",
        "应急管理部",
        "省政府门户",
    ]  # longest first


# ---------------------------------------------------------------- rendering


def test_text_states_every_section_in_chinese(w47: WeeklySummary) -> None:
    text = render_weekly_text(w47, lang="zh")
    lines = text.splitlines()
    assert lines[0] == "📊 每周时效汇总 2026-W47"
    assert (
        lines[1]
        == "统计周期：2026-11-16 00:00 至 2026-11-23 00:00（Asia/Shanghai），依据截至 2026-11-23 09:00 的记录"
    )
    assert "一、新立事件 6 起（上周 2 起 ↑）" in text
    assert "特别重大 1 · 重大 1 · 较大 2 · 一般 1 · 未定级 0" in text
    assert "上级政策转载 1 项；误报已排除 1 起" in text
    assert (
        "▪ 权威信息发布：应办 2，按时 1，超时办结 0，未到期 0，逾期未办 1；按时率 50%（上周 100% ↓）；"
        "办结用时中位数 3小时，P90 3小时"
    ) in text
    assert (
        "▪ 事故快讯（当日）：应办 2，按时 2，超时办结 0，未到期 0，逾期未办 0；按时率 100%（上周 —）" in text
    )
    assert "▪ 转载链接（力争时限）：应办 4，按时 1，超时办结 2，未到期 0，逾期未办 1；按时率 25%" in text
    assert "P90 23小时44分钟" in text
    assert "  第0级：3 起，中位数 10分钟，P90 18分钟 ↓" in text  # 22.5 min the week before
    assert "尚未确认：1 起" in text
    assert "四、超时清单 5 项（上周 0 项 ↑）：" in text
    assert (
        f"#{w47.current.overdue[1].incident_id} 某隧道坍塌（特别重大）· 权威信息发布 · 截止 2026-11-19 12:00 · 仍未办结，已超 3天21小时 · "
        "当时责任：第2级 王局长；确认人：王局长"
    ) in text
    assert "转载链接（最迟时限）/政务客户端" in text and "（上级政策）" in text
    assert "超时 1小时 后由 李科长 办结 · 当时责任：第1级 李科长、赵主任；确认人：李科长" in text
    assert "  新华网：2 次，共 2天3小时30分钟（仍中断）" in text
    assert "  省政府门户：1 次，共 2小时" in text


def test_text_lists_are_cut_for_a_chat_message(w47: WeeklySummary) -> None:
    text = render_weekly_text(w47, lang="zh", max_overdue=2, max_feeds=1)
    assert text.count("当时责任") == 2 and "……另有 3 项，见 CSV/JSON 导出" in text
    assert "新华网" in text and "省政府门户" not in text and "……另有 2 项" in text


def test_text_in_english_uses_the_same_figures(w47: WeeklySummary) -> None:
    text = render_weekly_text(w47, lang="en")
    assert "Authoritative statement: due 2, on time 1, done late 0, not yet due 0, overdue 1" in text
    assert "新华网: 2 outage(s), 2d3h30m in all (still down)" in text


def test_csv_has_one_row_per_figure_with_the_previous_week(w47: WeeklySummary) -> None:
    text = render_weekly_csv(w47)
    # A byte-order mark, so that Excel on Chinese Windows reads UTF-8 and not GBK.
    assert text.startswith("\ufeffweek,") and text.encode("utf-8")[:3] == b"\xef\xbb\xbf"
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert {r["week"] for r in rows} == {"2026-W47"}
    assert {r["timezone"] for r in rows} == {"Asia/Shanghai"}
    assert rows[0]["week_start"] == "2026-11-16T00:00:00+08:00"
    get = {(r["section"], r["item"], r["metric"]): (r["value"], r["previous"]) for r in rows}
    assert get[("incidents", "较大", "by_grade")] == ("2", "1")
    assert get[("incidents", "ungraded", "by_grade")] == ("0", "0")
    assert get[("incidents", "", "total")] == ("6", "2")
    assert get[("obligations", "statement", "on_time_rate")] == ("0.5", "1")
    assert get[("obligations", "repost_target", "late")] == ("2", "0")
    assert get[("obligations", "press_conference", "p90_minutes")] == ("1482.0", "1380.0")
    assert get[("acks", "level_2", "median_minutes")] == ("180.0", "")
    assert get[("unacknowledged", "", "count")] == ("1", "0")
    assert get[("feeds_down", "新华网", "down_minutes")] == ("3090.0", "")
    b = w47.current.overdue[1].incident_id
    assert get[("overdue", f"{b}:statement", "holders")] == ("王局长", "")
    assert get[("overdue", f"{b}:statement", "deadline")] == ("2026-11-19T12:00:00+08:00", "")


def test_csv_and_json_use_the_same_words(w47: WeeklySummary) -> None:
    """Every CSV section is a key of the JSON week, every metric one of its fields (durations
    with a _minutes suffix), and the grade-less incidents are 'ungraded' in both."""
    doc = json.loads(render_weekly_json(w47))["current"]
    rows = list(csv.DictReader(io.StringIO(render_weekly_csv(w47).removeprefix("\ufeff"))))
    assert {r["section"] for r in rows} <= set(doc)
    fields = {
        "incidents": set(doc["incidents"]),
        "obligations": set(doc["obligations"][0]),
        "acks": set(doc["acks"][0]),
        "feeds_down": set(doc["feeds_down"][0]),
        "overdue": set(doc["overdue"][0]) | {"count"},
        "unacknowledged": {"count"},
    }
    for r in rows:
        assert r["metric"].removesuffix("_minutes") in fields[r["section"]], r
    assert set(doc["incidents"]["by_grade"]) == {r["item"] for r in rows if r["metric"] == "by_grade"}
    assert "ungraded" in doc["incidents"]["by_grade"]


def test_json_round_trips_the_figures(w47: WeeklySummary) -> None:
    doc = json.loads(render_weekly_json(w47))
    cur = doc["current"]
    assert cur["week"]["label"] == "2026-W47" and cur["week"]["tz"] == "Asia/Shanghai"
    ob = {o["name"]: o for o in cur["obligations"]}
    assert ob["repost"]["on_time_rate"] == 0.5 and ob["repost"]["median"] == 7200.0
    assert cur["incidents"]["total"] == 6 and cur["incidents"]["by_grade"]["较大"] == 2
    assert [h["week"] for h in doc["history"]][-1] == "2026-W46"
    assert doc["now"] == "2026-11-23T01:00:00+00:00"


def test_format_span() -> None:
    assert format_span(timedelta(days=2, hours=3, minutes=30)) == "2天3小时30分钟"
    assert format_span(timedelta(seconds=20)) == "0分钟"
    assert format_span(None) == "—"


def test_a_session_works_as_well_as_an_engine(engine: Engine, w47: WeeklySummary) -> None:
    with Session(engine) as s:
        again = compute_weekly(s, IsoWeek(2026, 47), SH, now=NOW)
    assert again.current == w47.current


def test_an_empty_database_gives_an_empty_summary(tmp_path: Path) -> None:
    from responder.db import create_all, make_engine

    engine = make_engine(f"sqlite:///{tmp_path}/empty.db")
    create_all(engine)
    s = compute_weekly(engine, "2026-W47", now=NOW)
    assert s.current.incidents.total == 0 and s.current.overdue == [] and s.current.acks == []
    assert all(o.due == 0 and o.on_time_rate is None for o in s.current.obligations)
    assert "本周无中断" in render_weekly_text(s, lang="zh")


def test_command_line_summary(engine: Engine, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from responder.cli import main

    url = str(engine.url)
    chart = tmp_path / "w47.png"
    argv = ["summary", "--week", "2026-W47", "--database", url, "--as-of", "2026-11-23T09:00+08:00"]
    assert main([*argv, "--chart", str(chart)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("📊 每周时效汇总 2026-W47\n") and "四、超时清单 5 项" in out
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main([*argv, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["current"]["incidents"]["total"] == 6
    # Without --week: the last complete week before --as-of.
    assert main(["summary", "--database", url, "--as-of", "2026-11-23T09:00+08:00", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("\ufeffweek,") and "\n2026-W47,Asia/Shanghai," in out
    assert main(["summary", "--week", "2026-W60", "--database", url]) == 2
    assert "2026 年的 ISO 周次为第 1 至 53 周" in capsys.readouterr().err
    assert main(["summary", "--database", f"sqlite:///{tmp_path}/none.db"]) == 1
    assert "migrate" in capsys.readouterr().err


def test_same_figures_on_sqlite_and_postgresql(db_engine: Engine, w47: WeeklySummary) -> None:
    """The migrated schema on both databases gives the figures of the module's SQLite file."""
    fill(db_engine)
    again = compute_weekly(db_engine, "2026-W47", now=NOW)
    assert again.current == w47.current
    assert again.previous == w47.previous
    assert again.history == w47.history
