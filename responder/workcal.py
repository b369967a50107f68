"""Working-day arithmetic on the official Chinese calendar (statutory holidays and 调休).

The `chinese_calendar` package knows every year the State Council has announced.
For a year it does not know yet it raises; we then fall back to Monday–Friday plus
the holiday / make-up workday overrides from configuration, and log a WARNING once
per year per calendar (build one calendar at start-up and keep it).

The counting rule for "within N working days" (N个工作日内) is the one Chinese
procedure law uses for periods (民事诉讼法: 期间开始的时和日,不计算在期间内;
期间届满的最后一日的截止时间为二十四时):

- the day of receipt does not count, whatever the hour and whether or not it is a
  working day;
- the period ends at 24:00 local time of the N-th working day after that day
  (`deadline_at="end_of_day"`, the default), or at the close of office hours of
  that day (`deadline_at="close_of_business"`, by default 17:30).

So an upstream policy item published at 16:30 on Wednesday 2026-09-30 (the last
working day before the National Day break) must be reposted by 24:00 on Thursday
2026-10-08; one published at 16:30 on Friday 2026-09-18 by 24:00 on Sunday
2026-09-20, a make-up workday.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import chinese_calendar
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["CalendarConfig", "DeadlineAt", "WorkCalendar"]

log = logging.getLogger(__name__)

DeadlineAt = Literal["end_of_day", "close_of_business"]

# A bound on the search for the N-th working day: no real calendar has a month off.
_MAX_SCAN_DAYS = 366 * 3


class WorkCalendar:
    """Which days are working days, and where "N working days after" a moment lands.

    `extra_holidays` and `extra_workdays` override the package in every year (a
    local holiday, or next year's schedule before the package knows it).
    """

    def __init__(
        self,
        tz: ZoneInfo,
        extra_holidays: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
        workday_start: time = time(9),
        workday_end: time = time(17, 30),
        deadline_at: DeadlineAt = "end_of_day",
    ) -> None:
        self.tz = tz
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_workdays = frozenset(extra_workdays)
        both = self.extra_holidays & self.extra_workdays
        if both:
            listed = ", ".join(sorted(d.isoformat() for d in both))
            raise ValueError(f"dates listed both as holiday and as workday: {listed}")
        if workday_end <= workday_start:
            raise ValueError("workday_end must be later than workday_start")
        self.workday_start = workday_start
        self.workday_end = workday_end
        self.deadline_at: DeadlineAt = deadline_at
        self._warned_years: set[int] = set()

    def is_workday(self, d: date) -> bool:
        """True if `d` is a working day: overrides first, then the official calendar,
        then (for a year the package does not know) Monday to Friday."""
        if d in self.extra_holidays:
            return False
        if d in self.extra_workdays:
            return True
        try:
            return bool(chinese_calendar.is_workday(d))
        except NotImplementedError:
            if d.year not in self._warned_years:
                self._warned_years.add(d.year)
                log.warning(
                    "the chinese_calendar package has no holiday data for %d: counting Monday-Friday "
                    "as working days plus the overrides in roster.yaml (calendar.holidays / "
                    "calendar.workdays); add that year's official schedule there, or upgrade the package",
                    d.year,
                )
            return d.weekday() < 5

    def local_date(self, moment: datetime) -> date:
        """The calendar date of `moment` in the bureau's time zone."""
        return _aware(moment).astimezone(self.tz).date()

    def end_of_day(self, moment: datetime) -> datetime:
        """24:00 local (as UTC) of the calendar day that contains `moment` — the `same_day` rule."""
        return self._midnight_after(self.local_date(moment))

    def nth_workday_after(self, moment: datetime, n: int) -> date:
        """The N-th working day strictly after the local day of `moment` (n >= 1)."""
        if n < 1:
            raise ValueError(f"a working-day count must be at least 1, got {n}")
        d = self.local_date(moment)
        found = 0
        for _ in range(_MAX_SCAN_DAYS):
            d += timedelta(days=1)
            if self.is_workday(d):
                found += 1
                if found == n:
                    return d
        raise ValueError(f"no {n}-th working day within {_MAX_SCAN_DAYS} days of {moment.isoformat()}")

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """When "within `n` working days" of `start` ends, as an aware UTC datetime.

        The day of `start` does not count; the deadline is 24:00 local of the n-th
        following working day, or the close of office hours that day when the
        calendar was built with `deadline_at="close_of_business"`.
        """
        day = self.nth_workday_after(start, n)
        if self.deadline_at == "close_of_business":
            return datetime.combine(day, self.workday_end, self.tz).astimezone(UTC)
        return self._midnight_after(day)

    def is_working_time(self, moment: datetime) -> bool:
        """True during office hours of a working day (for callers that want quiet nights)."""
        local = _aware(moment).astimezone(self.tz)
        return self.is_workday(local.date()) and self.workday_start <= local.time() < self.workday_end

    def _midnight_after(self, d: date) -> datetime:
        return datetime.combine(d + timedelta(days=1), time(0), self.tz).astimezone(UTC)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the working-day calendar; pass an aware (UTC) time")
    return moment


class OfficeHours(BaseModel):
    """Office hours, used when deadlines end at the close of business."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time = time(9)
    end: time = time(17, 30)

    @model_validator(mode="after")
    def _order(self) -> OfficeHours:
        if self.end <= self.start:
            raise ValueError("office_hours.end must be later than office_hours.start")
        return self


class CalendarConfig(BaseModel):
    """The `calendar:` section of roster.yaml: overrides of the official calendar."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    holidays: list[date] = Field(default_factory=list)
    workdays: list[date] = Field(default_factory=list)
    deadline_at: DeadlineAt = "end_of_day"
    office_hours: OfficeHours = OfficeHours()

    @model_validator(mode="after")
    def _disjoint(self) -> CalendarConfig:
        both = set(self.holidays) & set(self.workdays)
        if both:
            listed = ", ".join(sorted(d.isoformat() for d in both))
            raise ValueError(
                f"dates listed both under holidays and workdays: {listed}; keep each in one list"
            )
        return self

    def build(self, tz: ZoneInfo) -> WorkCalendar:
        """A WorkCalendar in time zone `tz` with these overrides."""
        return WorkCalendar(
            tz,
            extra_holidays=self.holidays,
            extra_workdays=self.workdays,
            workday_start=self.office_hours.start,
            workday_end=self.office_hours.end,
            deadline_at=self.deadline_at,
        )
