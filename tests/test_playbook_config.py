"""playbooks/*.yaml: the shipped playbooks load, mistakes name file, line and field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from responder.configfile import ConfigError
from responder.playbook import due_times, load_playbooks, parse_deadline, report_obligations, select_playbooks
from responder.workcal import WorkCalendar

SH = ZoneInfo("Asia/Shanghai")
SHIPPED = Path(__file__).resolve().parent.parent / "playbooks"
CAL = WorkCalendar(SH)

GOOD = """\
name: demo
title: 演示
trigger:
  min_grade: 较大
steps:
  - key: statement
    title: 发布权威信息
    deadline: 5h
escalation:
  levels:
    - level: 1
      role: duty_officer
      ack_timeout: 10m
"""


def write(d: Path, name: str, text: str) -> Path:
    d.mkdir(exist_ok=True)
    p = d / name
    p.write_text(text, encoding="utf-8")
    return p


def test_shipped_playbooks_say_what_the_rules_say() -> None:
    books = load_playbooks(SHIPPED)
    assert set(books) == {"major-incident", "serious-incident", "policy-repost", "public-inquiry", "watch"}
    major = books["major-incident"]
    assert major.step("statement").deadline == parse_deadline("5h")
    assert major.step("press_conference").deadline == parse_deadline("24h")
    assert "新闻发言人" in (major.step("press_conference").attendees or "")
    assert major.step("updates").repeat == timedelta(hours=4)
    assert [lv.role for lv in major.escalation.levels] == ["duty_officer", "policy_office", "head"]
    repost = books["policy-repost"].step("repost")
    assert repost.per_channel == ["portal", "weibo", "wechat", "app"]
    assert str(repost.target) == "1h" and str(repost.deadline) == "1wd"
    assert str(books["serious-incident"].step("flash").deadline) == "same_day"
    inquiry = books["public-inquiry"].step("feedback")
    assert (str(inquiry.deadline), str(inquiry.extendable_to)) == ("7wd", "15wd")
    # What an own-outlet item completes, and what the reports count, is configuration.
    assert {s.key for b in books.values() for s in b.steps if s.completed_by == "own_outlet"} == {
        "statement",
        "updates",
        "publish_info",
        "repost",
    }
    assert report_obligations(books) == {
        "statement": "statement",
        "press_conference": "press_conference",
        "updates": "updates",
        "publish_info": "publish_info",
        "flash": "flash",
        "repost": "repost",
        "feedback": "feedback",
    }
    # Other sentiment to watch: no clock, one level (the policy office), never climbing or repeating.
    watch = books["watch"]
    assert watch.steps == [] and [(lv.role, lv.ack_timeout, lv.repeat) for lv in watch.escalation.levels] == [
        ("policy_office", None, None)
    ]


def test_which_playbooks_apply_strictest_first() -> None:
    books = load_playbooks(SHIPPED)
    assert [b.name for b in select_playbooks(books, "event", "特别重大")] == [
        "major-incident",
        "serious-incident",
    ]
    assert [b.name for b in select_playbooks(books, "event", "较大")] == ["serious-incident"]
    assert select_playbooks(books, "event", "一般") == []
    assert select_playbooks(books, "event", None) == []
    assert [b.name for b in select_playbooks(books, "policy", None)] == ["policy-repost"]
    assert [b.name for b in select_playbooks(books, "inquiry", None)] == ["public-inquiry"]
    assert [b.name for b in select_playbooks(books, "watch", None)] == ["watch"]
    # A playbook that already has steps keeps its reminders even if the grade is revised down.
    assert [b.name for b in select_playbooks(books, "event", "较大", ["major-incident"])] == [
        "major-incident",
        "serious-incident",
    ]


def test_due_times_per_rule() -> None:
    books = load_playbooks(SHIPPED)
    start = datetime(2026, 9, 30, 16, 30, tzinfo=SH)
    repost = books["policy-repost"].step("repost")
    target, due = due_times(repost, start, CAL)
    assert target == datetime(2026, 9, 30, 17, 30, tzinfo=SH)
    assert due == datetime(2026, 10, 9, 0, 0, tzinfo=SH)  # 24:00 on Thursday 10-08
    assert due.tzinfo is UTC
    flash = books["serious-incident"].step("flash")
    assert due_times(flash, datetime(2026, 11, 21, 23, 10, tzinfo=SH), CAL) == (
        None,
        datetime(2026, 11, 22, 0, 0, tzinfo=SH),
    )
    feedback = books["public-inquiry"].step("feedback")
    _, due7 = due_times(feedback, start, CAL)
    _, due15 = due_times(feedback, start, CAL, extended=True)
    # 7wd from 09-30: 10-08, 09, 10 (Sat, 调休), 12, 13, 14, 15.
    assert due7 == datetime(2026, 10, 16, tzinfo=SH)
    assert due15 > due7
    updates = books["major-incident"].step("updates")
    assert due_times(updates, start, CAL) == (None, start + timedelta(hours=4))


def test_every_problem_of_every_file_in_one_error(tmp_path: Path) -> None:
    d = tmp_path / "playbooks"
    write(d, "a.yaml", GOOD)
    write(d, "b.yaml", GOOD.replace("name: demo", "name: other").replace("deadline: 5h", "deadline: 5 hours"))
    write(
        d,
        "c.yaml",
        GOOD.replace("name: demo", "name: third").replace("    deadline: 5h\n", "    dedline: 5h\n"),
    )
    write(d, "d.yaml", GOOD.replace("min_grade: 较大", "min_grade: 很大"))
    with pytest.raises(ConfigError) as exc:
        load_playbooks(d)
    by_file = {Path(p.file).name: p for p in exc.value.problems}
    assert set(by_file) == {"b.yaml", "c.yaml", "d.yaml"}
    assert by_file["b.yaml"].line == 8 and by_file["b.yaml"].field == "steps[0].deadline"
    assert "same_day" in by_file["b.yaml"].message  # says what to write instead
    assert any(p.field == "steps[0].dedline" and "未知字段" in p.message for p in exc.value.problems)
    assert by_file["d.yaml"].field == "trigger.min_grade" and by_file["d.yaml"].line == 4


def test_duplicate_names_and_step_keys_across_files(tmp_path: Path) -> None:
    d = tmp_path / "playbooks"
    write(d, "a.yaml", GOOD)
    write(d, "b.yaml", GOOD)
    write(d, "c.yaml", GOOD.replace("name: demo", "name: third"))
    with pytest.raises(ConfigError) as exc:
        load_playbooks(d)
    text = str(exc.value)
    assert "b.yaml:1: name: 预案名称 “demo” 重复" in text
    assert "c.yaml:6: steps[0].key: 事项 key “statement” 已被预案 “demo” 使用" in text


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        (("    deadline: 5h\n", "    title2: x\n"), "steps[0].title2", "未知字段"),
        (("    deadline: 5h\n", ""), "steps[0]", "请写 deadline"),
        (
            ("    deadline: 5h\n", "    deadline: 5h\n    after: nothing\n"),
            "steps",
            "steps[0].after：“nothing” 不是本预案的另一个事项",
        ),
        (
            ("    deadline: 5h\n", "    deadline: 7wd\n    extendable_to: 5wd\n"),
            "steps[0]",
            "extendable_to 应长于 deadline",
        ),
        (
            ("    deadline: 5h\n", "    deadline: 5h\n    per_channel: [portal, tiktok]\n"),
            "steps[0].per_channel[1]",
            "",
        ),
        (("- level: 1\n", "- level: 2\n"), "escalation.levels", "依次编号"),
        (
            ("  min_grade: 较大\n", "  min_grade: 较大\n  source_kind: upstream\n"),
            "trigger",
            "必须且只能写一个",
        ),
        (
            ("ack_timeout: 10m\n", "ack_timeout: 10m\nreminders:\n  fractions: [80]\n"),
            "reminders.fractions",
            "0 到 1 之间",
        ),
        (
            ("      ack_timeout: 10m\n", "    - level: 2\n      role: head\n"),
            "escalation.levels",
            "第 1 级需要 ack_timeout",
        ),
        (
            ("role: duty_officer", "role: admin"),
            "escalation.levels[0].role",
            "duty_officer、policy_office 或 head",
        ),
        (("    deadline: 5h\n", "    deadline: 5h\n    completed_by: email\n"), "steps[0].completed_by", ""),
        (("    deadline: 5h\n", "    deadline: 5h\n    report_as: speech\n"), "steps[0].report_as", ""),
        (("  min_grade: 较大\n", "  incident_kind: wach\n"), "trigger.incident_kind", ""),
    ],
)
def test_bad_playbooks_are_explained(tmp_path: Path, edit: tuple[str, str], field: str, words: str) -> None:
    d = tmp_path / "playbooks"
    write(d, "demo.yaml", GOOD.replace(*edit))
    with pytest.raises(ConfigError) as exc:
        load_playbooks(d)
    p = exc.value.problems[0]
    assert p.field == field
    assert words in p.message
    assert p.line is not None


def test_missing_or_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="找不到预案目录"):
        load_playbooks(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="没有预案"):
        load_playbooks(tmp_path / "empty")
