"""Read the State Council's yearly notice on public holidays (pure: text in, dates out).

Every autumn 国务院办公厅 publishes 《国务院办公厅关于20XX年部分节假日安排的通知》: one
numbered paragraph per festival, each saying which days are off (放假) and which
weekend days are worked instead (调休上班), e.g.

    二、春节：1月28日（农历除夕、周二）至2月4日（农历正月初七、周二）放假调休，共8天。
    1月26日（周日）、2月8日（周六）上班。

`parse_notice` turns such a text (full-width or ASCII punctuation, simplified or
traditional characters, with the page's other text around it) into the year's
holidays and make-up workdays, and checks what the notice itself states: the weekday
written beside a date (周二, 星期日) and the day count (共8天). Disagreements are
returned as `warnings` for the admin who reviews the dates before confirming them;
nothing here is trusted without that review.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from .i18n import t
from .text import normalize

__all__ = ["Festival", "HolidayNotice", "NoticeError", "notice_year", "parse_notice"]

_TITLE = re.compile(r"关于\s*(\d{4})\s*年\s*部分节假日安排")
_SECTION = re.compile(r"(?:^|\n|\s)([一二三四五六七八九十]{1,3})、\s*([^:\n。]{1,16}?)\s*:")
# The paragraphs end where the closing text begins.
_TAIL = re.compile(r"鼓励单位和个人|节假日期间")
# 1月28日(农历除夕、周二)至2月4日(农历正月初七、周二) — the end may omit its month.
_DATE = r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})日(?:\(([^)]*)\))?"
_RANGE = re.compile(_DATE + r"(?:\s*至\s*(?:(\d{4})年)?(?:(\d{1,2})月)?(\d{1,2})日(?:\(([^)]*)\))?)?")
_COUNT = re.compile(r"共\s*(\d{1,2})\s*天")
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_WEEKDAY_IN = re.compile(r"(?:周|星期)([一二三四五六日天])")
# A weekday's name in the catalogue (星期三, Wednesday), Monday first as date.weekday() counts.
_WEEKDAY_NAMES = (
    "weekday_name_mon",
    "weekday_name_tue",
    "weekday_name_wed",
    "weekday_name_thu",
    "weekday_name_fri",
    "weekday_name_sat",
    "weekday_name_sun",
)


def _weekday_name(d: date) -> str:
    return t(_WEEKDAY_NAMES[d.weekday()])


class NoticeError(ValueError):
    """The text is not a holiday notice this parser can read; the message says why."""


@dataclass(frozen=True)
class Festival:
    """One numbered paragraph: the festival's days off and the weekend days worked for it."""

    name: str
    holidays: tuple[date, ...]
    workdays: tuple[date, ...]
    text: str  # the paragraph as read (normalised), for the reviewer


@dataclass(frozen=True)
class HolidayNotice:
    """A parsed notice: the year, each festival, and what did not check out."""

    year: int
    festivals: tuple[Festival, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def holidays(self) -> tuple[date, ...]:
        """Every day off the notice names, in order."""
        return tuple(sorted({d for f in self.festivals for d in f.holidays}))

    @property
    def workdays(self) -> tuple[date, ...]:
        """Every weekend day the notice makes a working day, in order."""
        return tuple(sorted({d for f in self.festivals for d in f.workdays}))


def notice_year(title: str) -> int | None:
    """The year a title announces holidays for, when it is the State Council's notice."""
    text = normalize(title or "")
    if "国务院办公厅" not in text:
        return None
    m = _TITLE.search(text)
    return int(m.group(1)) if m else None


def _year_of(explicit: str | None, month: int, notice: int, festival: str) -> int:
    if explicit:
        return int(explicit)
    # 元旦 may start in the last days of the year before (2018-12-30 for 2019).
    return notice - 1 if month == 12 and "元旦" in festival else notice


def _check_weekday(d: date, note: str | None, warnings: list[str]) -> None:
    m = _WEEKDAY_IN.search(note or "")
    if m and _WEEKDAYS[m.group(1)] != d.weekday():
        warnings.append(
            t("notice_weekday_mismatch", day=d.isoformat(), written=m.group(0), actual=_weekday_name(d))
        )


def _day(y: str | None, mo: str, d: str, note: str | None, ctx: tuple[int, str], warnings: list[str]) -> date:
    notice_year_, festival = ctx
    try:
        day = date(_year_of(y, int(mo), notice_year_, festival), int(mo), int(d))
    except ValueError:
        raise NoticeError(t("notice_bad_date", festival=festival, month=mo, day=d)) from None
    _check_weekday(day, note, warnings)
    return day


def _holidays_in(sentence: str, ctx: tuple[int, str], warnings: list[str]) -> list[date]:
    days: list[date] = []
    for m in _RANGE.finditer(sentence):
        y1, mo1, d1, note1, y2, mo2, d2, note2 = m.groups()
        start = _day(y1, mo1, d1, note1, ctx, warnings)
        if d2 is None:
            days.append(start)
            continue
        end = _day(y2 or (y1 if mo2 is None else None), mo2 or mo1, d2, note2, ctx, warnings)
        if end < start and mo2 is not None and y2 is None:
            end = end.replace(year=start.year + 1)  # 12月30日至1月1日
        if not start <= end <= start + timedelta(days=31):
            raise NoticeError(t("notice_bad_range", festival=ctx[1], text=m.group(0)))
        days += [start + timedelta(days=i) for i in range((end - start).days + 1)]
    count = _COUNT.search(sentence)
    if count and days and int(count.group(1)) != len(days):
        warnings.append(t("notice_count_mismatch", festival=ctx[1], written=count.group(1), read=len(days)))
    return days


def _festival(name: str, body: str, year: int, warnings: list[str]) -> Festival:
    ctx = (year, name)
    holidays: list[date] = []
    workdays: list[date] = []
    for sentence in filter(None, (s.strip() for s in body.split("。"))):
        if "鼓励" in sentence:
            continue  # advice to employers (安排职工在除夕休息), not a day off
        if sentence.endswith("上班") or ("上班" in sentence and "放假" not in sentence):
            for m in re.finditer(_DATE, sentence):
                day = _day(m.group(1), m.group(2), m.group(3), m.group(4), ctx, warnings)
                if day.weekday() < 5:
                    warnings.append(
                        t("notice_workday_on_weekday", day=day.isoformat(), weekday=_weekday_name(day))
                    )
                workdays.append(day)
        elif "放假" in sentence or "休息" in sentence:
            holidays += _holidays_in(sentence, ctx, warnings)
    if not holidays:
        raise NoticeError(t("notice_no_days", festival=name))
    return Festival(name, tuple(sorted(set(holidays))), tuple(sorted(set(workdays))), body.strip())


def parse_notice(text: str) -> HolidayNotice:
    """Parse the notice's text (or a page that contains it) into holidays and make-up workdays.

    Raises NoticeError when the text is not such a notice or a paragraph cannot be read;
    returns the dates with `warnings` when the notice's own weekdays or day counts disagree.
    """
    plain = normalize(text or "")
    m = _TITLE.search(plain) or re.search(r"现将\s*(\d{4})\s*年.{0,40}放假", plain)
    if not m:
        raise NoticeError(t("notice_not_a_notice"))
    year = int(m.group(1))
    body = plain[m.end() :]
    tail = _TAIL.search(body)
    if tail:
        body = body[: tail.start()]
    heads = list(_SECTION.finditer(body))
    if not heads:
        raise NoticeError(t("notice_no_sections"))
    warnings: list[str] = []
    festivals = []
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(body)
        festivals.append(_festival(head.group(2).strip(), body[head.end() : end], year, warnings))
    stray = [d for f in festivals for d in (*f.holidays, *f.workdays) if abs(d.year - year) > 1]
    if stray:
        raise NoticeError(t("notice_stray_date", day=stray[0].isoformat(), year=year))
    return HolidayNotice(year, tuple(festivals), tuple(warnings))
