"""Pure: report text -> casualties and loss -> accident grade.

The grades and their thresholds are those of the 生产安全事故报告和调查处理条例,
article 3 (see README, "Accident grades"). "以上" includes the number itself and
"以下" excludes it, so 10 deaths is 重大 and 30 deaths is 特别重大.

`extract_figures` reads the forms Chinese news uses for deaths, serious injuries
(重伤, acute poisoning included) and direct economic loss, and keeps the MAXIMUM of
each figure found: a report that says "3人死亡" in the lead and "死亡人数升至12人"
later is a 12-death report. Numbers that are not casualties (被困, 失联, 送医,
受伤 without 重, dates, areas, phone numbers, vehicles) never count. Counts written
as a lower bound (10余人, 数十人, 8000多万元) count as their stated number.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from .vocab import Grade  # the vocabulary's scale; re-exported here for the intake

__all__ = [
    "DEFAULT_THRESHOLDS",
    "Bar",
    "Figures",
    "Grade",
    "GradeThresholds",
    "extract_figures",
    "grade_for",
    "grade_text",
    "parse_number",
]


@dataclass(frozen=True)
class Bar:
    """Lower bounds ("以上", inclusive) of one grade; reaching any one is enough."""

    deaths: int
    serious_injuries: int
    loss_cny: float


@dataclass(frozen=True)
class GradeThresholds:
    """The regulation's numbers, in one place. Grades below 较大 are 一般."""

    larger: Bar = field(default_factory=lambda: Bar(3, 10, 10_000_000))  # 较大
    major: Bar = field(default_factory=lambda: Bar(10, 50, 50_000_000))  # 重大
    especially_major: Bar = field(default_factory=lambda: Bar(30, 100, 100_000_000))  # 特别重大

    def __post_init__(self) -> None:
        bars = (self.larger, self.major, self.especially_major)
        for name in ("deaths", "serious_injuries", "loss_cny"):
            values = [getattr(b, name) for b in bars]
            if values != sorted(values) or values[0] <= 0:
                raise ValueError(
                    f"grade thresholds for {name} must be positive and rise from 较大 to 特别重大, got {values}"
                )

    def bars(self) -> list[tuple[Grade, Bar]]:
        """(grade, bar) from the gravest grade down."""
        return [
            (Grade.特别重大, self.especially_major),
            (Grade.重大, self.major),
            (Grade.较大, self.larger),
        ]


DEFAULT_THRESHOLDS = GradeThresholds()
_N = TypeVar("_N", int, float)


@dataclass(frozen=True)
class Figures:
    """What a report says: None means the text gives no such figure (0 means 'none')."""

    deaths: int | None = None
    serious_injuries: int | None = None
    loss_cny: float | None = None

    @property
    def known(self) -> bool:
        """True when at least one figure was found."""
        return not (self.deaths is None and self.serious_injuries is None and self.loss_cny is None)

    @staticmethod
    def highest(items: Iterable[Figures]) -> Figures:
        """Figure by figure maximum: an incident's figures from its reports'."""
        deaths: int | None = None
        serious: int | None = None
        loss: float | None = None
        for f in items:
            deaths = _max(deaths, f.deaths)
            serious = _max(serious, f.serious_injuries)
            loss = _max(loss, f.loss_cny)
        return Figures(deaths, serious, loss)


def _max(a: _N | None, b: _N | None) -> _N | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def grade_for(figures: Figures, thresholds: GradeThresholds = DEFAULT_THRESHOLDS) -> Grade | None:
    """The highest grade any figure reaches; None when the report gives no figure at all."""
    if not figures.known:
        return None
    for grade, bar in thresholds.bars():
        if (
            (figures.deaths is not None and figures.deaths >= bar.deaths)
            or (figures.serious_injuries is not None and figures.serious_injuries >= bar.serious_injuries)
            or (figures.loss_cny is not None and figures.loss_cny >= bar.loss_cny)
        ):
            return grade
    return Grade.一般


def grade_text(text: str, thresholds: GradeThresholds = DEFAULT_THRESHOLDS) -> tuple[Figures, Grade | None]:
    """Figures and grade of one report's normalised text."""
    figures = extract_figures(text)
    return figures, grade_for(figures, thresholds)


# ---------------------------------------------------------------- numbers

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_SMALL = {"十": 10, "百": 100, "千": 1000}
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千万亿]")


def parse_number(s: str) -> float:
    """Value of a number as news writes it: 18, 1,200, 1.2亿, 3200余万, 十八, 二十三, 一百零五, 1万, 千万.

    Raises ValueError when `s` holds no number.
    """
    s = s.replace(",", "").replace("余", "").replace("多", "").replace("几", "")
    tokens = _TOKEN.findall(s)
    if not tokens or "".join(tokens) != s:
        raise ValueError(f"{s!r} is not a number")
    total = 0.0  # complete 亿/万 groups
    section = 0.0  # the group being built below 万
    number: float | None = None  # the digit waiting for its unit
    for tok in tokens:
        if tok in _CN_DIGITS:
            number = _CN_DIGITS[tok]
        elif tok in _CN_SMALL:
            section += (1 if number is None else number) * _CN_SMALL[tok]
            number = None
        elif tok == "万":
            section = (section + (number or 0)) or 1
            total += section * 10_000
            section, number = 0.0, None
        elif tok == "亿":
            total = (total + section + (number or 0)) or 1
            total *= 100_000_000
            section, number = 0.0, None
        else:
            number = float(tok)
    return total + section + (number or 0)


# ---------------------------------------------------------------- patterns

_CN = "零〇一二两三四五六七八九十百千万"
# A count of people: Arabic digits, or Chinese numerals that start with a digit or 十
# (a bare 万/千 is a word, not a count: 万死不辞, 千人).
_PERSONS = rf"(?P<n>(?<![\d.])\d+|(?<![{_CN}])[一二两三四五六七八九十][{_CN}]*)(?:余|多)?"
_UNIT = r"(?:名|人|位|口)"  # 口: 一家三口遇难
# Between a count and its verb: a noun or adverb (3名矿工遇难, 12人不幸身亡,
# 5人经抢救无效死亡), never a number or a clause break.
_GAP = rf"(?P<gap>[^\d{_CN},，。;；:：、!！?？()（）\s]{{0,10}}?)"
_DEATH_VERB = r"(?:死亡|遇难|罹难|身亡|丧生|丧命|殒命|离世)"
_SERIOUS_VERB = r"(?:重伤|急性中毒|中毒|伤势危重|伤势严重|伤势较重|危重|病危|重度烧伤)"
_RISE = r"(?:已经|已|共|累计|初步|确认|增至|升至|上升至|上升到|上升为|升到|攀升至|增加至|增加到|达到|达|为|是|至|到|约|近|超过|逾)*"

_DEATH_AFTER = re.compile(_PERSONS + _UNIT + _GAP + _DEATH_VERB)  # 18人死亡, 3名矿工遇难
_DEATH_BEFORE = re.compile(  # 死亡18人, 遇难人数升至12人
    r"(?P<verb>死亡|遇难|罹难)(?P<noun>者人数|人数|者|人员)?" + _RISE + _PERSONS + rf"(?P<unit>{_UNIT})?"
)
_BODIES = re.compile(_PERSONS + r"具(?:遇难者|遇难人员)?(?:遗体|尸体)")  # 搜寻到5具遗体
_SERIOUS_AFTER = re.compile(_PERSONS + _UNIT + _GAP + _SERIOUS_VERB)  # 8人重伤, 10人急性中毒
_SERIOUS_BEFORE = re.compile(  # 重伤3人, 重伤人数为3
    r"(?P<verb>重伤|急性中毒)(?P<noun>人数|者|人员)?" + _RISE + _PERSONS + rf"(?P<unit>{_UNIT})?"
)
_SHORT = re.compile(  # 3死2伤, 一死两重伤
    _PERSONS + r"死(?![亡者于去刑因])(?:(?P<m>\d+|[一二两三四五六七八九十]+)(?P<heavy>重)?伤)?"
)
_AMOUNT = r"(?P<a>(?:\d+(?:,\d{3})*(?:\.\d+)?|[零〇一二两三四五六七八九十百千万亿])[\d.,零〇一二两三四五六七八九十百千万亿余多几]*?)"
_LOSS_AFTER = re.compile(  # 直接经济损失约1.2亿元
    r"损失(?:[^\d,，。;；、:：\s]{0,8}?)" + _AMOUNT + r"(?:元|人民币)"
)
_LOSS_BEFORE = re.compile(_AMOUNT + r"元(?:人民币)?的?(?:直接)?经济损失")  # 造成1.2亿元直接经济损失
_NONE = re.compile(  # 无人员伤亡, 未造成人员伤亡, 暂未发现人员伤亡
    r"(?:无|未造成|未发现|暂无|没有|未有|未致|不存在)(?:任何)?(?:人员|人)?(?P<what>伤亡|死亡)"
)

# A preceding "NUM人" owns the verb: in 3人死亡18人受伤, 死亡18人 is not a death count.
_OWNED = re.compile(rf"(?:\d|[{_CN}])(?:余|多)?{_UNIT}$")
# Words in the gap that make the count something else (12人失联后..., 5人未受重伤).
# 送医/救出/受伤 are not here: 2人送医后不治身亡 and 8人被救出后死亡 are deaths.
_GAP_STOP = ("失联", "轻伤", "生还", "脱险", "未", "无", "没有", "食物", "或")  # fmt: skip
# Clause words that deny or hypothesise (已排除12人遇难可能, 网传8人死亡系谣言).
_DENIAL = ("排除", "否认", "辟谣", "谣言", "不实", "并非", "假消息", "可能性")
# Sentence words that place the numbers in an earlier accident (该矿曾于2019年发生...).
_HISTORY = ("曾于", "曾发生", "曾经发生", "此前发生", "历史上")
# Some sites space numbers out (死亡 18 人, 损失 1.2 亿元). Only those spaces go: a
# space between a title and its summary must keep separating them.
_SPACED = re.compile(r"(?<=\d) (?=[人名位口具万亿元余多])|(?<=[亡难伤失至到为达约计损]) (?=\d)")
_CLAUSE_END = re.compile(r"[,，;；。!！?？\n]")
_SENTENCE_END = re.compile(r"[;；。!！?？\n]")


def _span_text(text: str, start: int, end: int, breaks: re.Pattern[str]) -> str:
    left = start
    while left > 0 and not breaks.match(text, left - 1):
        left -= 1
    m = breaks.search(text, end)
    return text[left : m.start() if m else len(text)]


def _discounted(text: str, m: re.Match[str]) -> bool:
    """True when the match is denied, hypothetical or about an earlier accident."""
    # 抢救无效 / 抢救未果 are how people die, not negations
    gap = (m.groupdict().get("gap") or "").replace("无效", "").replace("未果", "")
    if any(w in gap for w in _GAP_STOP):
        return True
    clause = _span_text(text, m.start(), m.end(), _CLAUSE_END)
    if any(w in clause for w in _DENIAL):
        return True
    sentence = _span_text(text, m.start(), m.end(), _SENTENCE_END)
    return any(w in sentence for w in _HISTORY)


# 近30人, 不足10人, 近亿元: the stated number is an upper bound that was not reached.
_BELOW = re.compile(r"(?:近|接近|将近|不足|不到)$")


def _value(text: str, m: re.Match[str], group: str) -> float:
    value = parse_number(m.group(group))
    if _BELOW.search(text, max(0, m.start(group) - 2), m.start(group)):
        value -= 1  # one below the bound: 近30人 is 29, short of the 特别重大 line
    return value


def _counts(text: str, after: re.Pattern[str], before: re.Pattern[str]) -> list[int]:
    found: list[int] = []
    for m in after.finditer(text):
        if not _discounted(text, m):
            found.append(int(_value(text, m, "n")))
    for m in before.finditer(text):
        # 死亡3 alone could be 死亡3天; a count needs 人/名 or 人数/者 around it.
        if not (m.group("unit") or m.group("noun")):
            continue
        if _OWNED.search(text, max(0, m.start() - 6), m.start()):
            continue
        if not _discounted(text, m):
            found.append(int(_value(text, m, "n")))
    return found


def extract_figures(text: str) -> Figures:
    """Deaths, serious injuries and direct loss (CNY) stated in `text`, the maximum of each.

    `text` is normalised report text; full-width digits are folded here too.
    """
    text = unicodedata.normalize("NFKC", text)
    text = _SPACED.sub("", text)
    deaths = _counts(text, _DEATH_AFTER, _DEATH_BEFORE)
    deaths += [int(_value(text, m, "n")) for m in _BODIES.finditer(text) if not _discounted(text, m)]
    serious = _counts(text, _SERIOUS_AFTER, _SERIOUS_BEFORE)
    for m in _SHORT.finditer(text):
        if _discounted(text, m):
            continue
        deaths.append(int(_value(text, m, "n")))
        if m.group("m") and m.group("heavy"):
            serious.append(int(parse_number(m.group("m"))))
    losses: list[float] = []
    for pattern in (_LOSS_AFTER, _LOSS_BEFORE):
        for m in pattern.finditer(text):
            if _discounted(text, m):
                continue
            try:
                losses.append(round(_value(text, m, "a"), 2))  # 2.3亿 is not 229999999.99999997
            except ValueError:
                continue
    for m in _NONE.finditer(text):
        deaths.append(0)
        if m.group("what") == "伤亡":
            serious.append(0)
    return Figures(
        deaths=max(deaths) if deaths else None,
        serious_injuries=max(serious) if serious else None,
        loss_cny=max(losses) if losses else None,
    )
