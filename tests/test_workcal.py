"""Working days on the official calendar, as a civil servant would count them."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from responder.workcal import CalendarConfig, WorkCalendar

SH = ZoneInfo("Asia/Shanghai")


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


def cal(**kw: object) -> WorkCalendar:
    return WorkCalendar(SH, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        # Wednesday 2026-09-30 is the last working day before National Day (10-01..10-07 off):
        # one working day later is Thursday 10-08, so the deadline is 24:00 that day.
        (local(2026, 9, 30, 16, 30), 1, local(2026, 10, 9)),
        # Friday 2026-09-18: the next working day is Sunday 09-20, a make-up workday (调休).
        (local(2026, 9, 18, 16, 30), 1, local(2026, 9, 21)),
        # Friday 2026-09-25 is the Mid-Autumn holiday itself; the day of receipt never counts.
        (local(2026, 9, 25, 16, 30), 1, local(2026, 9, 29)),
        # Friday 2026-10-09: Saturday 10-10 is a make-up workday.
        (local(2026, 10, 9, 16, 30), 1, local(2026, 10, 11)),
        # Spring Festival 2026: Friday 02-13, then Saturday 02-14 is a make-up workday...
        (local(2026, 2, 13, 16, 30), 1, local(2026, 2, 15)),
        # ...and from that Saturday the holiday runs 02-15..02-23, so Tuesday 02-24.
        (local(2026, 2, 14, 16, 30), 1, local(2026, 2, 25)),
        # 7 working days from Friday 02-13: 02-14, 24, 25, 26, 27, 28 (Sat, make-up), 03-02.
        (local(2026, 2, 13, 10, 0), 7, local(2026, 3, 3)),
        # A receipt just after midnight still does not count its own day.
        (local(2026, 11, 23, 0, 5), 1, local(2026, 11, 25)),
    ],
)
def test_working_days_official_calendar(start: datetime, n: int, due: datetime) -> None:
    assert cal().add_working_days(start, n) == due.astimezone(UTC)


def test_make_up_saturday_is_a_working_day() -> None:
    c = cal()
    assert c.is_workday(date(2026, 10, 10))  # Saturday, 调休
    assert c.is_workday(date(2026, 2, 28))  # Saturday, 调休
    assert not c.is_workday(date(2026, 10, 5))  # Monday, National Day
    assert not c.is_workday(date(2026, 10, 11))  # an ordinary Sunday


def test_close_of_business_mode() -> None:
    c = cal(deadline_at="close_of_business", workday_end=time(17, 30))
    assert c.add_working_days(local(2026, 9, 30, 16, 30), 1) == local(2026, 10, 8, 17, 30).astimezone(UTC)


def test_result_is_utc_and_naive_input_refused() -> None:
    due = cal().add_working_days(datetime(2026, 9, 30, 8, 30, tzinfo=UTC), 1)
    assert due.tzinfo is UTC
    assert due == datetime(2026, 10, 8, 16, 0, tzinfo=UTC)  # 24:00 Shanghai
    with pytest.raises(ValueError, match="naive"):
        cal().add_working_days(datetime(2026, 9, 30, 16, 30), 1)
    with pytest.raises(ValueError, match="at least 1"):
        cal().add_working_days(local(2026, 9, 30), 0)


def test_end_of_day_is_local_midnight() -> None:
    c = cal()
    # 23:50 Shanghai is 15:50 UTC: the same local day ends ten minutes later.
    assert c.end_of_day(datetime(2026, 11, 21, 15, 50, tzinfo=UTC)) == datetime(
        2026, 11, 21, 16, 0, tzinfo=UTC
    )
    # 00:10 Shanghai on the 22nd is still the 21st in UTC; the local day is what counts.
    assert c.end_of_day(datetime(2026, 11, 21, 16, 10, tzinfo=UTC)) == datetime(
        2026, 11, 22, 16, 0, tzinfo=UTC
    )


def test_year_boundary_falls_back_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    c = cal()
    with caplog.at_level(logging.WARNING, logger="responder.workcal"):
        # Thursday 2026-12-31 + 1wd: without any 2027 data, Friday 2027-01-01 counts (Mon–Fri).
        assert c.add_working_days(local(2026, 12, 31, 16, 30), 1) == local(2027, 1, 2).astimezone(UTC)
        # Thursday 2026-12-24 + 7wd: 25, 28, 29, 30, 31 (known), then 2027-01-01, 01-04 (fallback).
        assert c.add_working_days(local(2026, 12, 24, 16, 30), 7) == local(2027, 1, 5).astimezone(UTC)
        c.is_workday(date(2027, 5, 3))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "2027" in warnings[0].getMessage()
    assert "calendar.holidays" in warnings[0].getMessage()


def test_overrides_for_an_unknown_year_are_honoured() -> None:
    c = cal(extra_holidays={date(2027, 1, 1)}, extra_workdays={date(2027, 1, 9)})
    # New Year's Day 2027 (a Friday) is off: Thursday 12-31 + 1wd lands on Monday 01-04.
    assert c.add_working_days(local(2026, 12, 31, 16, 30), 1) == local(2027, 1, 5).astimezone(UTC)
    # Friday 2027-01-08 + 1wd: Saturday 01-09 declared a make-up workday.
    assert c.add_working_days(local(2027, 1, 8, 16, 30), 1) == local(2027, 1, 10).astimezone(UTC)
    # 7wd from Thursday 2026-12-24 now skips 01-01: 25, 28, 29, 30, 31, 01-04, 01-05.
    assert c.add_working_days(local(2026, 12, 24, 16, 30), 7) == local(2027, 1, 6).astimezone(UTC)


def test_overrides_win_over_the_package_in_known_years() -> None:
    c = cal(extra_holidays={date(2026, 11, 23)})  # e.g. a provincial holiday
    assert not c.is_workday(date(2026, 11, 23))
    assert c.add_working_days(local(2026, 11, 20, 16, 30), 1) == local(2026, 11, 25).astimezone(UTC)


def test_calendar_config_rejects_a_date_in_both_lists() -> None:
    with pytest.raises(ValueError, match="2027-01-01"):
        CalendarConfig(holidays=[date(2027, 1, 1)], workdays=[date(2027, 1, 1)])
    built = CalendarConfig(holidays=[date(2027, 1, 1)], deadline_at="close_of_business").build(SH)
    assert not built.is_workday(date(2027, 1, 1))
    assert built.deadline_at == "close_of_business"


def test_working_time() -> None:
    c = cal()
    assert c.is_working_time(local(2026, 10, 10, 10, 0))  # make-up Saturday, office hours
    assert not c.is_working_time(local(2026, 10, 10, 18, 0))
    assert not c.is_working_time(local(2026, 10, 3, 10, 0))
