"""roster.yaml: who is on duty at a given moment, who holds which role, which chats to alert."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from responder.configfile import ConfigError
from responder.roster import load_roster

SH = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
timezone: Asia/Shanghai
people:
  - {name: 甲, telegram_id: 11, roles: [duty_officer]}
  - {name: 乙, telegram_id: 22, roles: [duty_officer, policy_office]}
  - {name: 丙, telegram_id: 33, roles: [head]}
  - {name: 丁, telegram_id: 44, roles: [head, spokesperson]}
chats:
  duty: -1001
  policy_office: -1002
rotation:
  handover: "09:00"
  start: 2026-11-02
  days_each: 7
  order: [甲, 乙]
  ranges:
    - {from: 2026-12-31, to: 2027-01-02, person: 乙}
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "roster.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def at(y: int, mo: int, d: int, h: int = 12, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


@pytest.mark.parametrize(
    ("now", "name"),
    [
        (at(2026, 11, 2, 9, 0), "甲"),  # first turn starts at the handover
        (at(2026, 11, 9, 8, 59), "甲"),  # Monday before 09:00: still last week's officer
        (at(2026, 11, 9, 9, 0), "乙"),
        (at(2026, 11, 16, 12), "甲"),  # the order wraps round
        (at(2026, 10, 30, 12), "乙"),  # before start, the cycle runs backwards too
        (at(2026, 12, 31, 8, 59), "甲"),  # the week of 12-28 is 甲's
        (at(2026, 12, 31, 9, 0), "乙"),  # an explicit range wins over the order
        (at(2027, 1, 3, 8, 59), "乙"),  # ...until the handover after its last day
        (at(2027, 1, 3, 9, 0), "甲"),
    ],
)
def test_on_duty(tmp_path: Path, now: datetime, name: str) -> None:
    roster = load_roster(write(tmp_path, GOOD))
    officer = roster.on_duty(now.astimezone(UTC))
    assert officer is not None and officer.name == name


def test_on_duty_until_is_the_next_handover(tmp_path: Path) -> None:
    roster = load_roster(write(tmp_path, GOOD))
    assert roster.on_duty_until(at(2026, 11, 3)) == at(2026, 11, 9, 9, 0)
    assert roster.on_duty_until(at(2026, 12, 30)) == at(2026, 12, 31, 9, 0)  # 乙 hands over to the range


def test_roles_and_chats(tmp_path: Path) -> None:
    roster = load_roster(write(tmp_path, GOOD))
    assert [p.name for p in roster.people_with("head")] == ["丙", "丁"]
    assert set(roster.person(22).roles) == {"duty_officer", "policy_office"}  # type: ignore[union-attr]
    assert roster.person(999) is None  # strangers have no roles, so no rights
    now = at(2026, 11, 10)
    assert roster.chats_for_role("duty_officer", now) == [-1001, 22]  # duty chat + the officer on duty
    assert [p.name for p in roster.people_for("duty_officer", now)] == ["乙"]
    assert roster.chats_for_role("duty_officer") == [-1001]
    assert roster.chats_for_role("policy_office") == [-1002]
    assert roster.chats_for_role("head") == [33, 44, -1002]  # heads privately + the policy office
    assert roster.chats_for_role("admin") == [-1001]  # no admin chat: the duty chat
    assert roster.chats_for_role("spokesperson") == [44]
    with pytest.raises(ValueError, match="unknown role"):
        roster.chats_for_role("janitor")


def test_calendar_overrides_come_from_the_roster(tmp_path: Path) -> None:
    text = GOOD + "calendar:\n  holidays: [2027-01-01]\n  deadline_at: close_of_business\n"
    cal = load_roster(write(tmp_path, text)).work_calendar()
    assert not cal.is_workday(date(2027, 1, 1))
    assert cal.add_working_days(at(2026, 12, 31, 16, 30), 1) == at(2027, 1, 4, 17, 30)


def test_unquoted_handover_time_is_understood(tmp_path: Path) -> None:
    roster = load_roster(write(tmp_path, GOOD.replace('handover: "09:00"', "handover: 8:30")))
    assert roster.rotation.handover.hour == 8 and roster.rotation.handover.minute == 30


@pytest.mark.parametrize(
    ("edit", "line", "field", "words"),
    [
        (("roles: [head]}", "roles: [boss]}"), 5, "people[2].roles[0]", ""),
        # Cross-field problems are reported where the mistake is, not at the top of the file.
        (("telegram_id: 22", "telegram_id: 11"), 4, "people[1].telegram_id", "telegram_id 11 重复出现"),
        (("order: [甲, 乙]", "order: [甲, 丙]"), 14, "rotation.order[1]", "没有 duty_officer（值班员）角色"),
        (("order: [甲, 乙]", "order: [甲, 戊]"), 14, "rotation.order[1]", "“戊” 不在 people 名单中"),
        (("person: 乙}", "person: 戊}"), 16, "rotation.ranges[0].person", "不在 people 名单中"),
        (("  start: 2026-11-02\n", ""), 10, "rotation", "需要 start"),
        (
            ("to: 2027-01-02", "to: 2026-12-01"),
            16,
            "rotation.ranges[0]",
            "to（结束日期）早于 from（开始日期）",
        ),
        (("  duty: -1001\n", "  dutty: -1001\n"), 8, "chats.dutty", "未知字段"),
        (("timezone: Asia/Shanghai", "timezone: Asia/Beijing"), 1, "timezone", "IANA"),
    ],
)
def test_bad_rosters_are_explained(
    tmp_path: Path, edit: tuple[str, str], line: int, field: str, words: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        load_roster(write(tmp_path, GOOD.replace(*edit)))
    assert any((p.line, p.field) == (line, field) and words in p.message for p in exc.value.problems), str(
        exc.value
    )


def test_overlapping_ranges_are_refused(tmp_path: Path) -> None:
    text = GOOD + "    - {from: 2027-01-02, to: 2027-01-05, person: 甲}\n"
    with pytest.raises(ConfigError, match=r"值班区间重叠：2026-12-31–2027-01-02 与 2027-01-02–2027-01-05"):
        load_roster(write(tmp_path, text))


def test_no_head_is_an_error(tmp_path: Path) -> None:
    text = GOOD.replace("roles: [head]}", "roles: [policy_office]}").replace(
        "roles: [head, spokesperson]}", "roles: [spokesperson]}"
    )
    with pytest.raises(ConfigError, match="没有人担任 head"):
        load_roster(write(tmp_path, text))


@pytest.mark.parametrize("path", ["roster.yaml", "examples/offline/roster.yaml"])
def test_shipped_rosters_load(path: str) -> None:
    roster = load_roster(ROOT / path)
    assert roster.on_duty(datetime(2026, 11, 21, 12, tzinfo=UTC)) is not None
    assert roster.people_with("head")
    assert not roster.work_calendar().is_workday(date(2027, 1, 1))
