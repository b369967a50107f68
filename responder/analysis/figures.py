"""Report text -> deaths, serious injuries, plain injuries and direct loss (the figures that grade).

The forms Chinese news uses, each figure the MAXIMUM found: a lead saying "3人死亡" and a
later "死亡人数升至12人" make a 12-death report. Numbers that are not casualties (被困,
失联, 送医, dates, areas, phone numbers, vehicles, ages) never count; neither do denied
numbers, food poisoning, an earlier accident, or people first called 重伤 who then died
(they count as deaths only). Lower bounds (10余人, 十多人, 8000多万元) count as their number,
upper bounds (近30人) as one less. Chinese decimals (六点八三亿元) and 廿/卅 are read.
Totals (共/累计/全年/1-10月 … 起) are left to the report's kind: a bulletin is never graded.
"""

from __future__ import annotations

import re
import unicodedata

from ..grading import DEFAULT_THRESHOLDS, Figures, Grade, GradeThresholds, grade_for
from .context import mask_context

__all__ = ["extract_figures", "grade_text", "parse_number"]

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
# 六点八三亿元 → 6.83亿元; 廿五 → 二十五 (older and Hong Kong texts).
_CN_DECIMAL = re.compile(
    r"(?P<int>[零〇一二两三四五六七八九十]+)点(?P<frac>[零〇一二三四五六七八九]+)(?=[万亿]|元)"
)
_CN_DIGIT_CHAR = {"零": "0", "〇": "0", "一": "1", "二": "2", "两": "2", "三": "3", "四": "4", "五": "5", "六": "6",
                  "七": "7", "八": "8", "九": "9"}  # fmt: skip


def _decimal(m: re.Match[str]) -> str:
    whole = int(parse_number(m.group("int")))
    return f"{whole}." + "".join(_CN_DIGIT_CHAR[c] for c in m.group("frac"))


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
# A short aside between a count and its verb: 5人(四男一女)全部死亡, 3人(含1名儿童)遇难.
_ASIDE = r"(?:[(（][^()（）,，。]{1,12}[)）])?"
# Between a count and its verb: a noun or adverb (3名矿工遇难, 12人不幸身亡,
# 5人经抢救无效死亡), never a number or a clause break.
_GAP = rf"(?P<gap>[^\d{_CN},，。;；:：、!！?？()（）\s]{{0,10}}?)"
_DEATH_VERB = r"(?:死亡|遇难|罹难|身亡|丧生|丧命|殒命|离世|牺牲|殉职|坠亡|溺亡|炸死|烧死|砸死|压死|撞死|淹死|摔死|电死|闷死|不治)"
# 伤势较重/伤势严重 (badly hurt) are not 重伤: only the regulation's word and 危重 count.
_SERIOUS_VERB = r"(?:重伤|急性中毒|中毒|伤势危重|危重|病危|重度烧伤)"
_RISE = r"(?:已经|已|共计|合计|总计|共|累计|初步|确认|增至|升至|上升至|上升到|上升为|升到|攀升至|增加至|增加到|达到|达|为|是|至|到|约|近|超过|逾)*"

_DEATH_AFTER = re.compile(_PERSONS + _UNIT + _ASIDE + _GAP + _DEATH_VERB)  # 18人死亡, 3名矿工遇难
_DEATH_BEFORE = re.compile(  # 死亡18人, 遇难人数升至12人
    r"(?P<verb>死亡|遇难|罹难)(?P<noun>者人数|人数|者|人员|的(?:矿工|工人|人员|群众|乘客|村民))?"
    + _RISE
    + _PERSONS
    + rf"(?P<unit>{_UNIT})?"
)  # 遇难的矿工共计73人
_BODIES = re.compile(_PERSONS + r"具(?:遇难者|遇难人员)?(?:遗体|尸体)")  # 搜寻到5具遗体
_SERIOUS_AFTER = re.compile(_PERSONS + _UNIT + _ASIDE + _GAP + _SERIOUS_VERB)  # 8人重伤, 10人急性中毒
_SERIOUS_BEFORE = re.compile(  # 重伤3人, 重伤人数为3, 危重1人, 危重症5人
    r"(?P<verb>重伤|急性中毒|危重症|危重)(?P<noun>人数|者|人员|员|病人|患者)?"
    + _RISE
    + _PERSONS
    + rf"(?P<unit>{_UNIT})?"
)
_INJURED_AFTER = re.compile(
    _PERSONS
    + _UNIT
    + _GAP
    + r"(?:受伤|轻重伤|轻伤|受轻伤|轻微伤|不同程度受伤|受到不同程度|烧伤|灼伤|烫伤|炸伤|砸伤|摔伤|划伤)"
)
_INJURED_BEFORE = re.compile(
    r"(?P<verb>受伤|轻伤)(?P<noun>人数|者|人员)?" + _RISE + _PERSONS + rf"(?P<unit>{_UNIT})?"
)
# 5人死, 26人死, 3人亡: a count of people and 死 or 亡 alone.
_DEATH_BARE = re.compile(_PERSONS + _UNIT + r"(?:死(?![亡者于去刑因伤])|亡(?![者故]))")
# One person named or described, no count: 司机马某死亡, 一工人触电身亡, 致死一人.
_PERSON = (
    r"(?:(?<![\d一二两三四五六七八九十.])[一1](?:名|位|个)?[^\d,，。;；、]{0,6}?"
    r"(?:工人|男子|女子|司机|驾驶员|矿工|员工|人员|行人|民工|农民工|学生|职工|乘客|老人|村民|居民|船员|渔民|男童|女童|儿童|游客)"
    r"|[\u4e00-\u9fff]某|(?<![\d一二两三四五六七八九十多名])(?:司机|驾驶员|驾驶人))"
)
_ONE_PERSON = re.compile(
    _PERSON + r"(?:[^,，。;；]{0,8}?(?:当场)?(?:死亡|身亡|遇难|丧生|殒命|坠亡|溺亡)"
    # 一名工人从7层平台坠落,经抢救无效死亡: the same person, a clause later
    r"|[^。;；]{0,30}?(?:抢救无效|医治无效|不治|伤重|伤势过重)[^,，。;；]{0,8}?(?:死亡|身亡|离世)?)"
)
# 一男子因此受了重伤, 一名工人受伤: one person hurt, no count.
_ONE_SERIOUS = re.compile(_PERSON + r"(?P<gap>[^,，。;；]{0,10}?)(?:受了?|身受)?(?:重伤|伤势危重)")
_ONE_INJURED = re.compile(
    _PERSON + r"(?P<gap>[^,，。;；]{0,10}?)(?:受了?|身受)?(?:轻伤|受伤|烧伤|灼伤|摔伤|砸伤)"
)
# 5名失联人员均无生命体征, 他们均已失去生命体征: the dead, found (the count is the sentence's last before it).
_NO_VITALS = re.compile(
    r"(?<![有否])(?P<all>均|都|全部|皆)?(?:已经|已)?(?:无|没有|失去)(?:任何)?生命(?:体征|迹象)"
)
_COUNT = re.compile(_PERSONS + _UNIT)
_KILLED_N = re.compile(r"致死" + _PERSONS + _UNIT + r"?")
# One toll told in groups: those who died on the spot, then those who died on the way or in hospital
# (1人当场死亡、5人送医院抢救无效后死亡; 当场造成2人死亡,另有3人在送往医院抢救过程中死亡; 5人当场死亡,
# 1人在送往医院途中死亡,1人经抢救无效死亡; 致一名老妇当场身亡,一名受伤男子送医后抢救无效身亡): summed.
_SPOT = r"(?:死亡|身亡|遇难|殒命|丧生)"
_ON_THE_SPOT = (
    re.compile(_PERSONS + _UNIT + r"(?P<gap>[^\d,，。;；、]{0,6}?)当场(?:被[^\d,，。;；、]{1,2})?" + _SPOT),
    re.compile(r"(?:当场|现场)(?:造成|致使|致|就有)?" + _PERSONS + _UNIT + _SPOT),
    re.compile(r"(?:当场|现场)(?:死亡|遇难)" + _PERSONS + _UNIT),
)
_DIED_LATER = re.compile(
    _PERSONS
    + _UNIT
    + r"(?P<gap>[^\d,，。;；]{0,16}?)(?:抢救无效|医治无效|救治无效|送医|送往|送院|医院|途中|伤重|伤势过重|不治)"
    r"[^\d,，。;；]{0,10}?(?:死亡|身亡|离世|不治)"
)
# 3名重伤者在送往医院途中死亡: serious injuries who died are deaths only.
_THEN_DIED = re.compile(r"[^,，。;；]{0,16}?(?:死亡|身亡|不治|遇难)")
# 37人住院8重伤, 4伤1失联: a headline's bare count before 重伤 or 伤.
_BARE_HURT = re.compile(r"(?<![\d.死])(?P<n>\d+)(?P<heavy>重)?伤(?![亡者员残])")
_SHORT = re.compile(  # 3死2伤, 一死两重伤
    _PERSONS + r"死(?![亡者于去刑因])(?:(?P<m>\d+|[一二两三四五六七八九十]+)(?P<heavy>重)?伤)?"
)
_AMOUNT = r"(?P<a>(?:\d+(?:,\d{3})*(?:\.\d+)?|[零〇一二两三四五六七八九十百千万亿])[\d.,零〇一二两三四五六七八九十百千万亿余多几]*?)"
_LOSS_AFTER = re.compile(  # 直接经济损失约1.2亿元, 损失10多万
    r"损失(?:[^\d,，。;；、:：\s]{0,8}?)" + _AMOUNT + r"(?:元|人民币|(?<=[万亿])(?![\u4e00-\u9fff\d.,]))"
)
_LOSS_BEFORE = re.compile(_AMOUNT + r"元(?:人民币)?的?(?:直接)?经济损失")  # 造成1.2亿元直接经济损失
_NONE = re.compile(  # 无人员伤亡, 未造成人员伤亡, 暂未发现人员伤亡, 无其他人员伤亡
    r"(?:无|未造成|未发现|暂无|没有造成|没有|未有|未致|未导致|不存在)(?:任何)?(?:其他|其它|其余)?(?:人员|人)?(?P<what>伤亡|死亡)"
)

# A preceding "NUM人" owns the verb: in 3人死亡18人受伤, 死亡18人 is not a death count.
_OWNED = re.compile(rf"(?:\d|[{_CN}])(?:余|多)?{_UNIT}$")
# Words in the gap that make the count something else (12人失联后..., 5人未受重伤).
# 送医/救出/受伤 are not here: 2人送医后不治身亡 and 8人被救出后死亡 are deaths.
_GAP_STOP = ("失联", "轻伤", "轻", "生还", "脱险", "未", "无", "没有", "食物", "或")  # fmt: skip
# Clause words that deny or hypothesise (已排除12人遇难可能, 网传8人死亡系谣言).
_DENIAL = ("排除", "否认", "辟谣", "谣言", "不实", "并非", "假消息", "可能性")
# Sentence words that place the numbers in an earlier accident (该矿曾于2019年发生...),
# or attribute them to hearsay (网民指…至少造成十八人死亡, 网传8人遇难: not what officials confirmed).
_HISTORY = ("曾于", "曾发生", "曾经发生", "此前发生", "历史上")
_CONFIRMED = re.compile(r"官方|证实|通报|确认|核实|获悉")
_HEARSAY = ("网传", "网民", "网友称", "网友爆料", "网友发帖", "传言", "据传", "传闻", "网上流传", "未经证实",
            "未获证实")  # fmt: skip
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
    return any(w in sentence for w in _HISTORY) or _hearsay(text, m.start())


def _hearsay(text: str, start: int) -> bool:
    """Is the figure at `start` told on hearsay earlier in its sentence, with no official word since?"""
    left = start
    while left > 0 and not _SENTENCE_END.match(text, left - 1):
        left -= 1
    before = text[left:start]
    said = max((before.rfind(w) for w in _HEARSAY), default=-1)
    return said >= 0 and not _CONFIRMED.search(before, said)


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


def _serious(text: str) -> list[int]:
    found: list[int] = [
        1
        for m in _ONE_SERIOUS.finditer(text)
        if not _discounted(text, m) and not _THEN_DIED.match(text, m.end())
    ][:1]
    for m in _SERIOUS_AFTER.finditer(text):
        if not _discounted(text, m) and not _THEN_DIED.match(text, m.end()):
            found.append(int(_value(text, m, "n")))
    for m in _SERIOUS_BEFORE.finditer(text):
        if not (m.group("unit") or m.group("noun")) or _OWNED.search(text, max(0, m.start() - 6), m.start()):
            continue
        if not _discounted(text, m):
            found.append(int(_value(text, m, "n")))
    return found


def _deaths(text: str) -> list[int]:
    found = _counts(text, _DEATH_AFTER, _DEATH_BEFORE)
    for pattern in (_BODIES, _DEATH_BARE, _KILLED_N):
        found += [int(_value(text, m, "n")) for m in pattern.finditer(text) if not _discounted(text, m)]
    found += _on_the_spot_and_later(text)
    found += _found_dead(text)
    if not found and any(not _discounted(text, m) for m in _ONE_PERSON.finditer(text)):
        found.append(1)
    return found


def _on_the_spot_and_later(text: str) -> list[int]:
    """Tolls told in groups: each count of those who died on the spot plus the counts of those who
    died later, named after it in the same or the next sentence."""
    found: list[int] = []
    for pattern in _ON_THE_SPOT:
        for m in pattern.finditer(text):
            if _discounted(text, m):
                continue
            first = _SENTENCE_END.search(text, m.end())
            second = _SENTENCE_END.search(text, first.end()) if first else None
            stop = second.start() if second else len(text)
            later = [
                int(_value(text, d, "n"))
                for d in _DIED_LATER.finditer(text, m.end(), stop)
                if not _discounted(text, d)
            ]
            if later:
                found.append(int(_value(text, m, "n")) + sum(later))
    return found


def _found_dead(text: str) -> list[int]:
    """People found without signs of life: the count before it in the sentence, or one person."""
    found: list[int] = []
    for m in _NO_VITALS.finditer(text):
        if _discounted(text, m):
            continue
        left = m.start()
        while left > 0 and not _SENTENCE_END.match(text, left - 1):
            left -= 1
        counts = list(_COUNT.finditer(text, left, m.start()))
        if counts:
            found.append(int(_value(text, counts[-1], "n")))
        elif not m.group("all"):  # 经打捞上岸,吴某已无生命体征: one person
            found.append(1)
    return found


def _losses(text: str) -> list[float]:
    found: list[float] = []
    for pattern in (_LOSS_AFTER, _LOSS_BEFORE):
        for m in pattern.finditer(text):
            if _discounted(text, m):
                continue
            try:
                found.append(round(_value(text, m, "a"), 2))  # 2.3亿 is not 229999999.99999997
            except ValueError:
                continue
    return found


def extract_figures(text: str, year: int | None = None) -> Figures:
    """Deaths, serious injuries, plain injuries and direct loss (CNY) stated in `text`, the maximum of each.

    `text` is normalised report text; full-width digits are folded here too. Totals, earlier and
    similar accidents beside the toll are left out (`analysis.context`); `year`, the accident's own
    when the text gives it, leaves out sentences about other years' accidents too.
    """
    text = unicodedata.normalize("NFKC", text).replace("廿", "二十").replace("卅", "三十")
    text = mask_context(text, year)
    text = _SPACED.sub("", text)
    if "点" in text:
        text = _CN_DECIMAL.sub(_decimal, text)
    deaths = _deaths(text)
    serious = _serious(text)
    injured = _counts(text, _INJURED_AFTER, _INJURED_BEFORE)
    if not injured and any(not _discounted(text, m) for m in _ONE_INJURED.finditer(text)):
        injured.append(1)
    for m in _SHORT.finditer(text):
        if _discounted(text, m):
            continue
        deaths.append(int(_value(text, m, "n")))
        if m.group("m"):
            (serious if m.group("heavy") else injured).append(int(parse_number(m.group("m"))))
    for m in _BARE_HURT.finditer(text):
        if not _discounted(text, m):
            (serious if m.group("heavy") else injured).append(int(m.group("n")))
    losses = _losses(text)
    for m in _NONE.finditer(text):
        deaths.append(0)
        if m.group("what") == "伤亡":
            serious.append(0)
            injured.append(0)
    return Figures(
        deaths=max(deaths) if deaths else None,
        serious_injuries=max(serious) if serious else None,
        loss_cny=max(losses) if losses else None,
        injured=max(injured) if injured else None,
    )


def grade_text(text: str, thresholds: GradeThresholds = DEFAULT_THRESHOLDS) -> tuple[Figures, Grade | None]:
    """Figures and grade of one report's normalised text (read as a current accident report)."""
    figures = extract_figures(text)
    return figures, grade_for(figures, thresholds)
