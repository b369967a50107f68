"""Periods of the reports: ISO weeks in the bureau's time zone, their official holidays, and
the statistics and reading helpers the weekly and annual figures share."""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import Engine
from sqlmodel import Session

from ..i18n import t

__all__ = ["IsoWeek", "WeekInfo", "chunks", "open_session", "percentile", "resolve_tz", "spread", "week_info"]

_WEEK_RE = re.compile(r"^\s*(\d{4})-?W(\d{1,2})\s*$", re.IGNORECASE)


def resolve_tz(tz: str | tzinfo) -> tzinfo:
    """A tzinfo from an IANA name (or a tzinfo); a clear error for an unknown name."""
    if isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(t("config_bad_timezone", value=tz)) from None


@dataclass(frozen=True, order=True)
class IsoWeek:
    """An ISO week (year, week number), e.g. 2026-W47."""

    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """Parse '2026-W47' (also '2026W47'); ValueError names the expected shape."""
        m = _WEEK_RE.match(text or "")
        if not m:
            raise ValueError(t("cli_bad_week", value=text))
        year, week = int(m.group(1)), int(m.group(2))
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError:
            last = date(year, 12, 28).isocalendar().week
            raise ValueError(t("cli_week_out_of_year", year=year, last=last, value=text)) from None
        return cls(year, week)

    @classmethod
    def containing(cls, moment: datetime, tz: tzinfo) -> IsoWeek:
        """The week that contains `moment` (aware) on the wall clock of `tz`."""
        iso = moment.astimezone(tz).date().isocalendar()
        return cls(iso.year, iso.week)

    @property
    def label(self) -> str:
        """The week as people write it: 2026-W47."""
        return f"{self.year}-W{self.week:02d}"

    @property
    def monday(self) -> date:
        """The week's first day."""
        return date.fromisocalendar(self.year, self.week, 1)

    def shift(self, weeks: int) -> IsoWeek:
        """The week `weeks` later (negative: earlier)."""
        iso = (self.monday + timedelta(weeks=weeks)).isocalendar()
        return IsoWeek(iso.year, iso.week)

    def bounds(self, tz: tzinfo) -> tuple[datetime, datetime]:
        """[start, end) as aware UTC datetimes: Monday 00:00 to next Monday 00:00 in `tz`."""
        start = datetime.combine(self.monday, time(0), tzinfo=tz)
        end = datetime.combine(self.monday + timedelta(days=7), time(0), tzinfo=tz)
        return start.astimezone(UTC), end.astimezone(UTC)


@dataclass(frozen=True)
class WeekInfo:
    """Which week, where its edges fall, and its official holidays."""

    label: str
    tz: str
    start: datetime  # aware, in tz
    end: datetime  # aware, in tz (exclusive)
    holidays: tuple[date, ...] = ()  # statutory days off inside the week
    makeup_workdays: tuple[date, ...] = ()  # weekend days worked (调休)
    calendar_known: bool = True


def week_info(week: IsoWeek, tz: tzinfo) -> WeekInfo:
    """The week's edges in `tz` and its statutory holidays and make-up workdays (调休)."""
    start, end = week.bounds(tz)
    holidays: list[date] = []
    makeup: list[date] = []
    known = True
    try:
        import chinese_calendar

        for i in range(7):
            d = week.monday + timedelta(days=i)
            is_holiday, name = chinese_calendar.get_holiday_detail(d)
            if is_holiday and name is not None:
                holidays.append(d)
            elif not is_holiday and d.weekday() >= 5:
                makeup.append(d)
    except NotImplementedError:
        # The calendar library has no announcement for this year yet.
        known = False
    return WeekInfo(
        label=week.label,
        tz=str(getattr(tz, "key", tz)),
        start=start.astimezone(tz),
        end=end.astimezone(tz),
        holidays=tuple(holidays),
        makeup_workdays=tuple(makeup),
        calendar_known=known,
    )


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation (numpy's default, Excel PERCENTILE.INC)."""
    if not values:
        raise ValueError("percentile of no values")
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def spread(durations: list[timedelta]) -> tuple[timedelta | None, timedelta | None]:
    """Median and 90th percentile of `durations` (None, None when there are none)."""
    if not durations:
        return None, None
    secs = [d.total_seconds() for d in durations]
    return timedelta(seconds=statistics.median(secs)), timedelta(seconds=percentile(secs, 90))


def open_session(source: Session | Engine) -> tuple[Session, bool]:
    """A session on `source`, and whether the caller must close it (it opened one)."""
    if isinstance(source, Session):
        return source, False
    return Session(source), True


def chunks(ids: Iterable[int], size: int = 500) -> Iterable[list[int]]:
    """`ids` in lists of at most `size` (an IN (...) per list)."""
    buf: list[int] = []
    for i in ids:
        buf.append(i)
        if len(buf) == size:
            yield buf
            buf = []
    if buf:
        yield buf
