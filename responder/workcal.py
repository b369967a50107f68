"""Working-day arithmetic on the official Chinese calendar (statutory holidays and 调休).

The `chinese_calendar` package knows every year the State Council had announced
when it was released. A year it does not know can be *confirmed* from the State
Council's notice (`python main.py calendar import`, stored in the schedule file,
`holidays.yaml` beside roster.yaml). For a year known neither way we fall back to
Monday–Friday plus the overrides in roster.yaml, log a WARNING once per year per
calendar, and `unknown_year_warning` tells the admins from 60 days before it starts.

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
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import chinese_calendar
import yaml
from chinese_calendar import constants as _cc_constants
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .i18n import t
from .policy.keys import calendar_unknown_year

__all__ = [
    "WARN_DAYS_BEFORE",
    "CalendarConfig",
    "DeadlineAt",
    "ScheduleFile",
    "WorkCalendar",
    "YearSchedule",
    "YearWarning",
    "load_schedules",
    "package_years",
    "save_schedule",
    "unknown_year_warning",
]

log = logging.getLogger(__name__)

DeadlineAt = Literal["end_of_day", "close_of_business"]

# A bound on the search for the N-th working day: no real calendar has a month off.
_MAX_SCAN_DAYS = 366 * 3
# The State Council publishes next year's schedule in October or November.
WARN_DAYS_BEFORE = 60


def package_years() -> range:
    """The years the installed chinese_calendar package has official data for."""
    years = [d.year for d in _cc_constants.holidays]
    return range(min(years), max(years) + 1)


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
        confirmed_years: Iterable[int] = (),
    ) -> None:
        self.tz = tz
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_workdays = frozenset(extra_workdays)
        # Years whose whole schedule is among the overrides (a confirmed State Council notice).
        self.confirmed_years = frozenset(confirmed_years) - set(package_years())
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
        if d.year in self.confirmed_years:
            return d.weekday() < 5  # its holidays and make-up workdays are in the overrides
        try:
            return bool(chinese_calendar.is_workday(d))
        except NotImplementedError:
            if d.year not in self._warned_years:
                self._warned_years.add(d.year)
                log.warning(t("log_calendar_year_unknown", year=d.year))
            return d.weekday() < 5

    def adopt(self, other: WorkCalendar) -> None:
        """Take over `other`'s overrides and confirmed years (a schedule confirmed while running).

        Everything holding this calendar (the cycle, the chat, the console) counts with the
        new dates from now on. Each attribute is replaced whole, workdays before the years
        that make them a schedule, so a reader in another thread sees the old calendar or
        one that already holds every new date.
        """
        self.extra_holidays = other.extra_holidays
        self.extra_workdays = other.extra_workdays
        self.confirmed_years = other.confirmed_years

    def knows_year(self, year: int) -> bool:
        """True when the year's official schedule is known (the package, or a confirmed notice)."""
        return year in package_years() or year in self.confirmed_years

    def known_years(self) -> list[int]:
        """Every year with a known official schedule, in order."""
        return sorted({*package_years(), *self.confirmed_years})

    def partial_years(self) -> list[int]:
        """Years not otherwise known for which roster.yaml lists a few dates: not a schedule."""
        listed = {d.year for d in self.extra_holidays | self.extra_workdays}
        return sorted(y for y in listed if not self.knows_year(y))

    def describe_years(self) -> str:
        """One line for `status` and `check-config`: which years the calendar knows, and how."""
        pkg = package_years()
        parts = [t("calendar_years_package", first=pkg.start, last=pkg.stop - 1)]
        if self.confirmed_years:
            parts.append(
                t("calendar_years_confirmed", years="、".join(map(str, sorted(self.confirmed_years))))
            )
        partial = self.partial_years()
        if partial:
            parts.append(t("calendar_years_partial", years="、".join(map(str, partial))))
        return t("calendar_years", parts="；".join(parts))

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


@dataclass(frozen=True)
class YearWarning:
    """A year starts soon (or has started) whose official schedule is unknown: the admins'
    notice (words in `responder.present.calendar`, one message per year under `key`)."""

    year: int
    days_left: int  # until 1 January of `year`; 0 or less once it has started
    last_known: int  # the package's last year
    key: str  # the outbox dedup key (`policy.keys.calendar_unknown_year`)


def unknown_year_warning(
    cal: WorkCalendar, now: datetime, days_before: int = WARN_DAYS_BEFORE
) -> YearWarning | None:
    """The warning due at `now`, if any: the current year unknown, or next year unknown and
    less than `days_before` days away. Pure; the service's calendar job queues it to the admins."""
    today = cal.local_date(now)
    for year in (today.year, today.year + 1):
        left = (date(year, 1, 1) - today).days
        if left <= days_before and not cal.knows_year(year):
            return YearWarning(year, left, package_years().stop - 1, calendar_unknown_year(year))
    return None


class OfficeHours(BaseModel):
    """Office hours, used when deadlines end at the close of business."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time = time(9)
    end: time = time(17, 30)

    @model_validator(mode="after")
    def _order(self) -> OfficeHours:
        if self.end <= self.start:
            raise ValueError(t("config_office_hours_order"))
        return self


class YearSchedule(BaseModel):
    """One year's official schedule, confirmed by an admin from the State Council's notice."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    holidays: list[date] = Field(min_length=1)
    workdays: list[date] = Field(default_factory=list)
    source: str = ""
    confirmed_at: datetime | None = None
    confirmed_by: str = ""


class ScheduleFile(BaseModel):
    """The schedule file (`holidays.yaml`): confirmed years, written by `calendar import --confirm`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    years: dict[int, YearSchedule] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _dates_in_their_year(self) -> ScheduleFile:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for year, sched in self.years.items():
            for field in ("holidays", "workdays"):
                for i, d in enumerate(getattr(sched, field)):
                    # 元旦 may start on 30 or 31 December of the year before (2019's did).
                    if d.year != year and not (d.year == year - 1 and d.month == 12):
                        message = t("calendar_schedule_stray", year=year, day=d.isoformat())
                        problems.append((("years", year, field, i), message))
        if problems:
            from .configfile import FieldProblems

            raise FieldProblems(problems)
        return self


class CalendarConfig(BaseModel):
    """The `calendar:` section of roster.yaml: overrides of the official calendar."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    holidays: list[date] = Field(default_factory=list)
    workdays: list[date] = Field(default_factory=list)
    deadline_at: DeadlineAt = "end_of_day"
    office_hours: OfficeHours = OfficeHours()
    # Confirmed State Council schedules, relative to roster.yaml; a missing file is empty.
    schedule_file: str = "holidays.yaml"

    @model_validator(mode="after")
    def _disjoint(self) -> CalendarConfig:
        both = set(self.holidays) & set(self.workdays)
        if both:
            listed = ", ".join(sorted(d.isoformat() for d in both))
            raise ValueError(t("config_dates_both", dates=listed))
        return self

    def build(self, tz: ZoneInfo, schedules: ScheduleFile | None = None) -> WorkCalendar:
        """A WorkCalendar in time zone `tz` with these overrides and the confirmed schedules.

        roster.yaml's own dates win over a confirmed schedule where they disagree.
        """
        holidays, workdays = set(self.holidays), set(self.workdays)
        years = schedules.years if schedules else {}
        for sched in years.values():
            holidays |= set(sched.holidays) - set(self.workdays)
            workdays |= set(sched.workdays) - set(self.holidays)
        return WorkCalendar(
            tz,
            extra_holidays=holidays,
            extra_workdays=workdays,
            workday_start=self.office_hours.start,
            workday_end=self.office_hours.end,
            deadline_at=self.deadline_at,
            confirmed_years=years,
        )


_SCHEDULE_HEADER = """\
# Official holiday schedules confirmed by an admin from the State Council's notice
# (国务院办公厅关于20XX年部分节假日安排的通知), for years the chinese_calendar package
# does not know yet. Written by `python main.py calendar import URL-or-FILE --confirm` (or the
# admins' /calendar_confirm). The running service takes it up within a minute, no reload needed;
# with several hosts, copy it beside roster.yaml on each of them.
"""


def load_schedules(path: Path) -> ScheduleFile:
    """The schedule file at `path` (empty when there is none); ConfigError names line and field."""
    from .configfile import load_model

    if not path.exists():
        return ScheduleFile()
    return load_model(path, ScheduleFile)


def save_schedule(path: Path, year: int, schedule: YearSchedule) -> None:
    """Add or replace one year in the schedule file, atomically (a reader never sees half a file)."""
    current = load_schedules(path)
    years = {**current.years, year: schedule}
    doc = {"years": {y: _plain(years[y]) for y in sorted(years)}}
    text = _SCHEDULE_HEADER + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100)
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _plain(schedule: YearSchedule) -> dict[str, object]:
    out: dict[str, object] = {
        "holidays": list(schedule.holidays),
        "workdays": list(schedule.workdays),
        "source": schedule.source,
        "confirmed_by": schedule.confirmed_by,
    }
    if schedule.confirmed_at is not None:
        out["confirmed_at"] = schedule.confirmed_at.isoformat(timespec="seconds")
    return out
