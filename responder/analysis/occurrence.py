"""When the accident happened, as the text says it: 11月21日下午, 昨日凌晨, “8·12”, 26日18时37分.

The occurrence is read from the first sentence that tells of the accident (发生, 爆炸,
起火 …) and not from status lines (截至22日6时, 14日晚召开发布会). Relative days (昨日,
今天凌晨, 周五) are resolved against the dateline's date when the text has one, else
against the publication time. Only what the text pins down is kept: a year counts only
when written (mirror sites republish old reports with a new page date), a month or a
day only when written or resolved from a real publication time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from .figures import parse_number

__all__ = ["Occurrence", "read_occurrence"]

_NUM = r"(?:\d{1,2}|[零一二三四五六七八九十廿]{1,3})"
_DATE = re.compile(
    rf"(?P<y>\d{{4}})年(?P<m>{_NUM})月(?P<d>{_NUM})[日号]"
    rf"|(?P<y2>\d{{4}})[-/.](?P<m2>\d{{1,2}})[-/.](?P<d2>\d{{1,2}})"
    rf"|(?P<m3>{_NUM})月(?P<d3>{_NUM})[日号]"
    rf"|(?<![\d月年])(?P<d4>{_NUM})日(?![内起前后])"
    r"|[“\"'‘](?P<m5>\d{1,2})[·•.．](?P<d5>\d{1,2})[”\"'’]"
    r"|(?<![\d.])(?P<m6>\d{1,2})[·•](?P<d6>\d{1,2})(?=火灾|事故|爆炸|特别重大|重大|较大|坍塌|透水|矿难)"
    r"|(?P<rel>今天|今日|今晨|今早|昨天|昨日|昨晚|昨夜|前天|前日)"
    rf"|(?P<y7>\d{{4}})年(?P<m7>{_NUM})月(?!{_NUM}[日号]|份)"  # 2011年7月: the year and month only
    r"|(?:星期|周)(?P<wd>[一二三四五六日天])"
)
_RELATIVE = {"今天": 0, "今日": 0, "今晨": 0, "今早": 0, "昨天": -1, "昨日": -1, "昨晚": -1, "昨夜": -1,
             "前天": -2, "前日": -2}  # fmt: skip
_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_CLOCK = re.compile(
    rf"(?P<part>凌晨|清晨|早晨|早上|上午|中午|下午|傍晚|晚上|晚间|夜间|深夜|当晚|今晨|昨晚|晚)?约?"
    rf"(?:(?P<h>{_NUM})[时時点點](?:(?P<mi>\d{{1,2}}|[一二三四五六七八九十]{{1,3}})分|半)?|(?P<h2>\d{{1,2}}):(?P<mi2>\d{{2}}))"
)
_PART = re.compile(r"凌晨|清晨|早晨|早上|上午|中午|下午|傍晚|晚上|晚间|夜间|深夜|当晚|今晨|昨晚|半夜")
_HOURS = {"凌晨": (0, 6), "清晨": (5, 8), "今晨": (0, 9), "早晨": (5, 9), "早上": (5, 10), "上午": (7, 12),
          "中午": (11, 14), "下午": (12, 19), "傍晚": (16, 20), "晚上": (18, 24), "晚间": (18, 24),
          "夜间": (19, 24), "深夜": (21, 24), "当晚": (17, 24), "昨晚": (17, 24), "晚": (17, 24), "半夜": (0, 4)}  # fmt: skip
_ACCIDENT = re.compile(
    r"发生|爆炸|燃爆|闪爆|爆燃|爆鸣|起火|着火|失火|火灾|大火|坍塌|垮塌|倒塌|塌方|冒顶|透水|泄漏|泄露|中毒|窒息|"
    r"触电|坠落|侧翻|追尾|相撞|倾覆|事故|遇难|身亡|死亡|被困|突发|接警|报警"
)
# Status and reporting lines: their dates are not the accident's.
_STATUS_BEFORE = re.compile(
    r"(?:截至|截止|直到|(?<![了解得])到|(?<!截)至)\s*(?:周.|星期.|今日|今天|昨日|昨天)?\s*[(（]?\s*$"
)
_REPORTING = re.compile(r"召开|发布会|通报会|获悉|了解到|记者从|公布|披露|宣判|开庭|证实|认定")
_NOT_OCCURRENCE_AFTER = ("电", "讯", "】", "丨", "|", "消息")
_SENTENCE = re.compile(r"[^。;；!！?？\n]+")
_DATELINE_DATE = re.compile(rf"(?P<m>{_NUM})月(?P<d>{_NUM})日(?:专)?电")


def _int(s: str | None) -> int | None:
    if not s:
        return None
    if s.isdigit():
        return int(s)
    if s.startswith("廿"):
        return 20 + (_int(s[1:]) or 0)
    try:
        return int(parse_number(s))  # 十五, 二十三, 两
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Occurrence:
    """What the text pins down of the accident's time; None where it says nothing."""

    year: int | None = None
    month: int | None = None
    day: int | None = None
    minute: int | None = None  # minutes after midnight
    hours: tuple[int, int] | None = None  # a part of the day, [start, end) hours

    @property
    def known(self) -> bool:
        """True when the day is known."""
        return self.day is not None

    def same_day(self, other: Occurrence) -> bool:
        """Both name a day, and it is the same one as far as both say."""
        return self.day is not None and other.day is not None and self.compatible(other)

    def compatible(self, other: Occurrence) -> bool:
        """Nothing the two say contradicts: fields known on both sides agree, times of day overlap."""
        for a, b in ((self.year, other.year), (self.month, other.month), (self.day, other.day)):
            if a is not None and b is not None and a != b:
                return False
        if self.day is None or other.day is None:
            return True
        return _times_overlap(self, other)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (stored with the report)."""
        return {
            "y": self.year,
            "m": self.month,
            "d": self.day,
            "min": self.minute,
            "h": list(self.hours) if self.hours else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Occurrence:
        """The inverse of `to_json`; an empty occurrence for None."""
        if not data:
            return cls()
        hours = data.get("h")
        return cls(
            data.get("y"), data.get("m"), data.get("d"), data.get("min"), tuple(hours) if hours else None
        )


def _times_overlap(a: Occurrence, b: Occurrence) -> bool:
    ra, rb = _range(a), _range(b)
    if ra is None or rb is None:
        return True
    return ra[0] <= rb[1] and rb[0] <= ra[1]


def _range(o: Occurrence) -> tuple[int, int] | None:
    # A clock time is taken as give or take 2 hours (许, 左右, and reports that time the alarm).
    if o.minute is not None:
        return o.minute - 120, o.minute + 120
    if o.hours is not None:
        return o.hours[0] * 60 - 60, o.hours[1] * 60 + 60
    return None


def read_occurrence(text: str, published: datetime | None) -> Occurrence:
    """The accident's time in normalised `text`; `published` (local time) resolves relative days.

    The first sentence that tells of the accident and has a date decides; a written date
    (2022年2月6日, 6月21日) beats a bare day, which beats 昨日/周五. Without such a sentence,
    the first written date of the text that is no dateline or status line.
    """
    ref = _reference(text, published)
    fallback: Occurrence | None = None
    for sentence in _SENTENCE.finditer(text):
        s = sentence.group(0)
        tells = _ACCIDENT.search(s) and not (_REPORTING.search(s) and "发生" not in s)
        found = _best_date(s, ref, written_only=not tells)
        if found is not None and tells:
            return _year_from_text(found, text)
        if found is not None and fallback is None:
            fallback = found
    return fallback or Occurrence()


def _year_from_text(o: Occurrence, text: str) -> Occurrence:
    """A date without its year (“1·12”) takes the year of the same day written in full elsewhere."""
    if o.year is not None or o.month is None:
        return o
    for m in _DATE.finditer(text):
        if m.group("y") and _int(m.group("m")) == o.month and _int(m.group("d")) == o.day:
            return Occurrence(int(m.group("y")), o.month, o.day, o.minute, o.hours)
    return o


def _best_date(s: str, ref: date | None, written_only: bool) -> Occurrence | None:
    ranked: list[tuple[int, int, Occurrence]] = []
    for m in _DATE.finditer(s):
        if _STATUS_BEFORE.search(s, max(0, m.start() - 8), m.start()) or s.startswith(
            _NOT_OCCURRENCE_AFTER, m.end()
        ):
            continue
        g = m.groupdict()
        rank = (
            0
            if (g["y"] or g["y2"])
            else 1
            if (g["m3"] or g["m5"] or g["m6"])
            else 2
            if g["d4"]
            else 4
            if g["y7"]
            else 3
        )
        if written_only and rank > 1:
            continue
        end = m.end()
        explicit = re.match(rf"\s*[(（](?P<d>{_NUM})日[)）]", s[end:])
        if rank == 3 and explicit:  # 周五(19日), 昨日(15日): the written day wins
            day = _int(explicit.group("d"))
            found = _resolve(m, ref)
            month = found.month if found and found.day == day else None
            occ = Occurrence(None, month, day) if day else None
            end += explicit.end()
            rank = 2
        else:
            occ = _resolve(m, ref)
        if occ is not None:
            # Of two dates alike, the one nearest before the accident verb (山东当局于11日证实,10日下午…发生爆炸).
            verb = _ACCIDENT.search(s, end)
            distance = verb.start() - end if verb else len(s)
            ranked.append((rank, distance, _with_time(occ, s, end, m.group(0))))
    return min(ranked, key=lambda r: (r[0], r[1]))[2] if ranked else None


def _reference(text: str, published: datetime | None) -> date | None:
    if published is None:
        return None
    ref = published.date()
    m = _DATELINE_DATE.search(text)
    if m:
        month, day = _int(m.group("m")), _int(m.group("d"))
        if month and day and 1 <= month <= 12 and 1 <= day <= 31:
            year = ref.year if (month, day) <= (ref.month, ref.day) else ref.year - 1
            try:
                return date(year, month, day)
            except ValueError:
                return ref
    return ref


def _resolve(m: re.Match[str], ref: date | None) -> Occurrence | None:
    g = m.groupdict()
    if g["rel"] or g["wd"]:
        if ref is None:
            return None
        if g["rel"]:
            d = ref + timedelta(days=_RELATIVE[g["rel"]])
        else:
            d = ref - timedelta(days=(ref.weekday() - _WEEKDAY[g["wd"]]) % 7)
        return Occurrence(None, d.month, d.day)
    if g["y7"]:  # a month of a year: no day to pin down
        month = _int(g["m7"])
        return Occurrence(int(g["y7"]), month, None) if month and 1 <= month <= 12 else None
    year = _int(g["y"] or g["y2"])
    month = _int(g["m"] or g["m2"] or g["m3"] or g["m5"] or g["m6"])
    day = _int(g["d"] or g["d2"] or g["d3"] or g["d4"] or g["d5"] or g["d6"])
    if day is None or not 1 <= day <= 31 or (month is not None and not 1 <= month <= 12):
        return None
    if month is None and ref is not None:
        month = ref.month if day <= ref.day + 1 else (ref.month - 2) % 12 + 1
    return Occurrence(year, month, day)


def _with_time(o: Occurrence, sentence: str, after: int, matched: str) -> Occurrence:
    part_word = next(iter(_PART.findall(matched)), None)
    window = sentence[after : after + 16].replace(" ", "")
    m = _CLOCK.search(window)
    if m is None:
        pm = _PART.search(window, 0, 6) or _PART.search(matched)
        word = pm.group(0) if pm else part_word
        return Occurrence(o.year, o.month, o.day, None, _HOURS.get(word) if word else None)
    hour = _int(m.group("h") or m.group("h2"))
    minute = _int(m.group("mi") or m.group("mi2")) or (30 if m.group(0).endswith("半") else 0)
    if hour is None or hour > 24:
        return Occurrence(o.year, o.month, o.day)
    part = m.group("part") or part_word
    if part in ("下午", "傍晚", "晚上", "晚间", "夜间", "深夜", "当晚", "昨晚", "晚") and hour < 12:
        hour += 12
    return Occurrence(o.year, o.month, o.day, hour * 60 + (minute or 0), None)
