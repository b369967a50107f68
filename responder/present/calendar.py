"""The words about next year's calendar: the unknown-year warning, the State Council's holidays
offered for confirmation, and the confirmation (pure; the engine queues them, the CLI prints them).

Chat messages are Telegram HTML (outside strings escaped); `festival_lines` serves the CLI's
review too (`html=False`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Protocol

from ..i18n import t
from ..workcal import YearWarning
from .html import esc

__all__ = [
    "day",
    "festival_lines",
    "holiday_confirmed",
    "holiday_offer",
    "holiday_unreadable",
    "span_text",
    "unknown_year",
]

_WEEKDAYS = (
    "weekday_mon",
    "weekday_tue",
    "weekday_wed",
    "weekday_thu",
    "weekday_fri",
    "weekday_sat",
    "weekday_sun",
)


class _Festival(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def holidays(self) -> tuple[date, ...]: ...
    @property
    def workdays(self) -> tuple[date, ...]: ...


def unknown_year(warning: YearWarning) -> str:
    """A year is near (or here) whose holidays the calendar does not know: what to do about it."""
    if warning.days_left > 0:
        return t("calendar_unknown_year", year=warning.year, days=warning.days_left, last=warning.last_known)
    return t("calendar_unknown_year_now", year=warning.year, last=warning.last_known)


def day(d: date) -> str:
    """A day as the notice writes it: 2月5日（周五）."""
    return t("calendar_day", month=d.month, day=d.day, weekday=t(_WEEKDAYS[d.weekday()]))


def _spans(days: Sequence[date]) -> list[tuple[date, date]]:
    spans: list[tuple[date, date]] = []
    for d in sorted(days):
        if spans and d == spans[-1][1] + timedelta(days=1):
            spans[-1] = (spans[-1][0], d)
        else:
            spans.append((d, d))
    return spans


def span_text(days: Sequence[date]) -> str:
    """Days in runs: 2月5日（周五）至2月13日（周六）、2月20日（周六）."""
    parts = [day(a) if a == b else t("calendar_span", first=day(a), last=day(b)) for a, b in _spans(days)]
    return t("calendar_list_separator").join(parts)


def festival_lines(festivals: Sequence[_Festival], *, html: bool = True) -> list[str]:
    """Each festival's days off and the weekend days worked for it, one or two lines each."""
    quote = esc if html else str
    lines = []
    for f in festivals:
        name = quote(f.name)
        lines.append(t("import_festival", name=name, days=span_text(f.holidays), n=len(f.holidays)))
        if f.workdays:
            lines.append(t("import_workdays", days=span_text(f.workdays)))
    return lines


def holiday_offer(
    year: int,
    title: str,
    link: str | None,
    festivals: Sequence[_Festival],
    warnings: Sequence[str],
    totals: tuple[int, int],
) -> str:
    """The admins' one message: the dates read from the State Council's notice and how to confirm them."""
    lines = [t("holiday_offer_head", year=year, title=esc(title), link=esc(link or "—")), ""]
    lines += festival_lines(festivals)
    lines += ["", t("import_totals", holidays=totals[0], workdays=totals[1])]
    if warnings:
        lines.append(t("import_warnings_head"))
        lines += [f"  - {esc(w)}" for w in warnings]
        lines.append(t("holiday_offer_check_first", link=esc(link or "URL")))
    else:
        lines.append(t("import_checks_ok"))
        lines.append(t("holiday_offer_how", year=year, link=esc(link or "URL")))
    return "\n".join(lines)


def holiday_unreadable(year: int, title: str, link: str | None, reason: str) -> str:
    """The notice was seen on a feed but its dates could not be read: the admins import it by hand."""
    return t("holiday_unreadable", year=year, title=esc(title), link=esc(link or "—"), reason=esc(reason))


def holiday_confirmed(year: int, who: str, holidays: int, workdays: int, path: str) -> str:
    """Confirmation: the year's schedule is stored and the running calendar counts with it."""
    return t(
        "holiday_confirmed",
        year=year,
        who=esc(who),
        holidays=holidays,
        workdays=workdays,
        path=esc(path),
    )
