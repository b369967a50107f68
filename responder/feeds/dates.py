"""Publication times as Chinese sites and CMSs write them, read in the source's time zone.

Every statutory clock starts at a report's publication time, so a misread date is a
wrong deadline. feedparser reads RFC 822 and ISO 8601 but not `2026年11月30日 10:15` or
`2026/11/30 10:15:00` (it keeps the year and invents the rest), takes `CST` for US
Central time and a zone-less time for UTC. `parse_pubtime` reads these shapes:

- numeric dates: `2026-11-30 10:15:00`, `2026/11/30 10:15`, `2026.11.30`, ISO 8601
  (`2026-11-30T10:15:00+08:00`, `...Z`), `2026年11月30日 10:15`, `2026年11月30日10时15分`,
  Chinese numerals (`二〇二六年十一月三十日`), weekdays (`星期一`, `周一`), 上午/下午;
- RFC 822/1123 with or without a zone (`Mon, 30 Nov 2026 10:15:00 CST`), Java's
  `Date.toString()` (`Sat Dec 05 10:15:00 CST 2026`), JavaScript's
  (`Mon Nov 30 2026 10:15:00 GMT+0800 (中国标准时间)`), `Nov 30, 2026 10:15:00 AM`;
- dates without a year (`11月30日 10:15`), relative words (`刚刚`, `5分钟前`, `3小时前`,
  `昨天 10:15`, `2天前`) and Unix timestamps, which need `now`.

Zones: an explicit offset (`+0800`, `+08:00`, `GMT+8`, `UTC+08:00`) is obeyed; `Z`, `GMT`,
`UTC` are UTC; `CST`, `北京时间`, an unknown zone name and no zone at all mean the source's
zone (the config's `timezone`, or the source's own). `GMT+8` is UTC+8 as written on these
sites, not the inverted POSIX meaning.

A date without a time stands for the **last second of that day** in the source's zone, and
never for a time after `now` (a date of today is the moment it was first seen): the item
was published at some moment of that day, and taking the latest moment means no deadline
computed from it can fall before the item could have been published.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

__all__ = ["parse_pubtime"]

_MONTHS = {
    m: i
    for i, names in enumerate(
        (
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
            ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
            ("oct", "october"), ("nov", "november"), ("dec", "december"),
        ),
        start=1,
    )
    for m in names
}  # fmt: skip

# Zone names seen in feeds other than CST (which is the source's zone, see above).
_NAMED_OFFSETS = {
    "EST": -5, "EDT": -4, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "HKT": 8, "SGT": 8, "BJT": 8, "CCT": 8, "AWST": 8, "JST": 9, "KST": 9,
    "BST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3, "MSK": 3,
}  # fmt: skip
_UTC_NAMES = frozenset({"Z", "GMT", "UT", "UTC"})

_TIME = (
    r"(?:\s*T?\s*(?P<ampm>上午|早上|早晨|凌晨|中午|下午|傍晚|晚上|AM|PM|am|pm)?\s*"
    r"(?P<H>\d{1,2})\s*[:：时點点]\s*(?P<M>\d{1,2})\s*分?"
    r"(?:\s*[:：]?\s*(?P<S>\d{1,2})(?:[.,]\d+)?\s*秒?)?"
    r"\s*(?P<ampm2>AM|PM|am|pm)?)"
)
_ZONE = r"(?P<zone>Z|[+-]\d{1,2}(?::?\d{2})?|(?:GMT|UTC|UT)(?:\s*[+-]\s*\d{1,2}(?::?\d{2})?)?|[A-Z]{2,5})"

# 2026-11-30 10:15:00, 2026/11/30, 2026.11.30, 2026年11月30日 10时15分, ISO 8601.
_YMD = re.compile(
    r"(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    rf"{_TIME}?\s*{_ZONE}?"
)
# Mon, 30 Nov 2026 10:15:00 +0800 (RFC 822/1123; weekday, seconds and zone optional).
_DMY = re.compile(
    r"(?:[A-Za-z]{3,9}\.?,?\s*)?(?P<d>\d{1,2})[\s-]+(?P<mon>[A-Za-z]{3,9})\.?[\s-]+(?P<y>\d{4}|\d{2})"
    rf"{_TIME}?\s*{_ZONE}?"
)
# Sat Dec 05 10:15:00 CST 2026 (Java), Mon Nov 30 2026 10:15:00 GMT+0800 (JavaScript),
# Nov 30, 2026 10:15:00 AM, Sat Dec  5 10:15:00 2026 (asctime).
_MDY = re.compile(
    r"(?:[A-Za-z]{3,9}\.?,?\s+)?(?P<mon>[A-Za-z]{3,9})\.?\s+(?P<d>\d{1,2}),?\s+(?:(?P<y>\d{4})\s+)?"
    rf"{_TIME}\s*{_ZONE}?\s*(?P<y2>\d{{4}})?"
)
# 11月30日 10:15, 11-30 10:15 (no year: the latest such date not after now).
_MD = re.compile(rf"(?P<m>\d{{1,2}})\s*[-/月]\s*(?P<d>\d{{1,2}})\s*日?{_TIME}?")
_AGO = re.compile(r"(?P<n>\d+)\s*(?P<unit>秒钟?|分钟|分|小时|个小时|钟头|天|日|周|星期)\s*[以之]?前")
_DAY_WORD = re.compile(rf"(?P<word>今天|今日|昨天|昨日|前天)\s*{_TIME}?")
_EPOCH = re.compile(r"\d{10}(?:\d{3})?")
_TIME_ONLY = re.compile(_TIME)

# Said of the whole text, these add nothing: weekdays, "Beijing time" words, a zone's name in brackets.
_NOISE = re.compile(
    r"星期[一二三四五六日天]|礼拜[一二三四五六日天]|周[一二三四五六日天](?![年月])|[(（][一二三四五六日天][)）]"
    r"|[(（][^()（）]*(?:时间|Time|time)[)）]|发布(?:时间|日期)\s*[:：]?|更新(?:时间|日期)\s*[:：]?"
)
_BEIJING = re.compile(r"北京时间|中国标准时间|China Standard Time")
_CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0, "两": 2}
_CN_NUMBER = re.compile(r"[〇零一两二三四五六七八九十]+(?=[年月日号时点分秒])")
_SPACES = re.compile(r"\s+")
_OFFSET = re.compile(r"(?:GMT|UTC|UT)?([+-])(\d{1,2}):?(\d{2})?")


def _cn_number(m: re.Match[str]) -> str:
    """二〇二六 → 2026 (digit by digit); 十一 → 11, 二十 → 20, 三十一 → 31."""
    s = m.group(0)
    if "十" not in s:
        return "".join(str(_CN_DIGITS[c]) for c in s)
    tens, _, units = s.partition("十")
    value = (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[units] if units else 0)
    return str(value)


def _clean(raw: str) -> tuple[str, bool]:
    """NFKC, noise words dropped, Chinese numerals as digits; and whether Beijing time was named."""
    if raw.isascii():  # RFC 822 and ISO dates, the common case: none of the Chinese forms apply
        s = _NOISE.sub(" ", raw) if "(" in raw else raw
        return " ".join(s.split()).strip(" ,"), "China Standard Time" in raw
    s = unicodedata.normalize("NFKC", raw)
    beijing = bool(_BEIJING.search(s))
    s = _BEIJING.sub(" ", _NOISE.sub(" ", s))
    if _CN_NUMBER.search(s):
        s = _CN_NUMBER.sub(_cn_number, s)
    return _SPACES.sub(" ", s).strip(" ,"), beijing


def _zone(token: str | None, source: tzinfo) -> tzinfo | None:
    """The zone a token names; None when the offset is impossible."""
    if not token:
        return source
    token = token.replace(" ", "")
    upper = token.upper()
    if upper in _UTC_NAMES:
        return UTC
    if upper == "CST":  # China Standard Time on the sites we read, not US Central
        return source
    if upper in _NAMED_OFFSETS:
        return timezone(timedelta(hours=_NAMED_OFFSETS[upper]))
    m = _OFFSET.fullmatch(upper)
    if m is None:
        return source  # an unknown zone name: local time is the likeliest meaning
    hours, minutes = int(m.group(2)), int(m.group(3) or 0)
    if hours > 14 or minutes > 59:
        return None
    sign = -1 if m.group(1) == "-" else 1
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _clock(m: re.Match[str]) -> time | None:
    """The time of day of a match, or None when it has none or an impossible one."""
    if m.group("H") is None:
        return None
    hour, minute, second = int(m.group("H")), int(m.group("M")), int(m.group("S") or 0)
    ampm = (m.group("ampm") or m.group("ampm2") or "").upper()
    afternoon = ampm in ("下午", "傍晚", "晚上", "PM") and hour < 12
    if afternoon or (ampm == "中午" and hour < 11):  # 中午12点 is noon, 中午1点 is 13:00
        hour += 12
    elif ampm in ("AM", "凌晨") and hour == 12:
        hour = 0
    if hour > 23 or minute > 59 or second > 60:
        raise ValueError("impossible time of day")
    return time(hour, minute, min(second, 59))


def _year(text: str) -> int:
    y = int(text)
    if len(text) == 2:
        y += 2000 if y < 70 else 1900
    return y


def _resolve(day: date, clock: time | None, zone: tzinfo, now: datetime | None) -> datetime:
    """An aware UTC instant; a date alone is its last second, never later than `now`."""
    if clock is not None:
        return datetime.combine(day, clock, zone).astimezone(UTC)
    last = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC) - timedelta(seconds=1)
    return min(last, now) if now is not None else last


def _absolute(s: str, source: tzinfo, now: datetime | None) -> datetime | None:
    """Dates that carry their year: numeric, RFC 822, Java/JavaScript/asctime."""
    for pattern in (_YMD, _DMY, _MDY):
        m = pattern.fullmatch(s)
        if m is None:
            continue
        groups = m.groupdict()
        month = int(groups["m"]) if groups.get("m") else _MONTHS.get(groups["mon"].lower())
        year = groups["y"] or groups.get("y2")
        if month is None or year is None:
            return None
        zone = _zone(groups["zone"], source)
        if zone is None:
            return None
        return _resolve(date(_year(year), month, int(groups["d"])), _clock(m), zone, now)
    return None


def _relative(s: str, zone: tzinfo, now: datetime) -> datetime | None:
    """Dates that need `now`: no year, relative words, Unix timestamps."""
    local_today = now.astimezone(zone).date()
    if s == "刚刚":
        return now
    if m := _AGO.fullmatch(s):
        n, unit = int(m.group("n")), m.group("unit")
        if unit.startswith("秒"):
            return now - timedelta(seconds=n)
        if unit in ("分钟", "分"):
            return now - timedelta(minutes=n)
        if unit in ("小时", "个小时", "钟头"):
            return now - timedelta(hours=n)
        days = n * 7 if unit in ("周", "星期") else n
        return _resolve(local_today - timedelta(days=days), None, zone, now)
    if m := _DAY_WORD.fullmatch(s):
        back = {"今天": 0, "今日": 0, "昨天": 1, "昨日": 1, "前天": 2}[m.group("word")]
        return _resolve(local_today - timedelta(days=back), _clock(m), zone, now)
    if m := _MD.fullmatch(s):
        day = date(local_today.year, int(m.group("m")), int(m.group("d")))
        if day > local_today:  # a date later this year has not happened: it was last year's
            day = day.replace(year=day.year - 1)
        return _resolve(day, _clock(m), zone, now)
    if m := _TIME_ONLY.fullmatch(s):  # a list that shows today's items by their time alone
        found = _resolve(local_today, _clock(m), zone, now)
        return found if found <= now + timedelta(minutes=10) else found - timedelta(days=1)
    if _EPOCH.fullmatch(s):
        seconds = int(s) / (1000 if len(s) == 13 else 1)
        return datetime.fromtimestamp(seconds, UTC)
    return None


def parse_pubtime(raw: str, zone: tzinfo, now: datetime | None = None) -> datetime | None:
    """Read a publication time (see the module doc for the shapes and rules); aware UTC or None.

    `zone` is the source's zone, used for CST and for times without a zone. `now` (aware)
    is needed for relative words and dates without a year, and caps a date without a
    time; without it those shapes give None and a bare date its day's last second.
    """
    s, beijing = _clean(raw)
    if not s:
        return None
    source = timezone(timedelta(hours=8)) if beijing else zone
    try:
        found = _absolute(s, source, now)
        if found is None and now is not None:
            found = _relative(s, source, now)
    except (ValueError, OverflowError):  # 2月30日, 25:00, a year out of range
        return None
    if found is not None and not 1990 <= found.year <= 2100:
        return None
    return found
