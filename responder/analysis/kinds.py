"""What a report is, before anything is graded: only a current accident report has a grade.

Kinds (short English words, stored and shown in `scan --json`):

| kind | what it is |
|---|---|
| accident | a report of an accident happening now (or in the last days) |
| bulletin | statistics or a periodic summary (一季度全省发生事故514起、死亡348人) |
| disaster | a natural disaster (暴雨, 台风, 地震, 山体滑坡): outside the production-safety regulation |
| judicial | a trial, verdict or judgment about an accident (开庭, 宣判, 获刑) |
| investigation | an investigation report, accountability or concealment (调查报告, 追责问责, 瞒报) |
| retrospective | an anniversary, memorial or look back (周年, 祭, 回顾, N年前) |
| drill | an exercise (演练, 演习); its casualties are simulated |
| notice | a notice or campaign (通知, 安全生产月, 大检查, 隐患排查) |
| roundup | several accidents in one item (一周事故, 接连发生, 两起) |
| other | none of these: no accident is described |

The title decides first (it states what the item is about), then the summary. Rules are
tried from the most telling down; an accident is what remains when the text describes
one (an accident word, a casualty or a 事故).
"""

from __future__ import annotations

import re

from ..vocab import ReportKind

__all__ = ["KINDS", "classify"]

KINDS: tuple[ReportKind, ...] = tuple(ReportKind)

_N = r"(?:\d+|[一二两三四五六七八九十百千万]+)"
# Kinds are ReportKind members, plus "follow_up" (what authorities do in the first days),
# an internal step that classify() resolves to an investigation or an accident.
_FOLLOW_UP = "follow_up"
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (ReportKind.DRILL, re.compile(r"演练|演习|模拟(?:发生|演示|事故)|实战拉练")),
    (
        ReportKind.INVESTIGATION,
        re.compile(
            r"调查报告|调查组(?:调查)?认定|(?<!初步)调查认定|直接原因是?[:：]|事故调查(?:处理)?(?:结果|报告)|"
            r"瞒报|谎报|迟报|处分|被查处|责任人被查|批复|结案|(?:对|建议对)"
            + _N
            + r"[名人]?(?:责任人|公职人员|人)?(?:追责|问责|处理)|(?:问责|追责)"
            + _N
            + r"[名人]|"
            + _N
            + r"[名人](?:责任人|公职人员)?被(?:追责|问责)"
        ),
    ),
    (
        ReportKind.JUDICIAL,
        re.compile(
            r"开庭|宣判|判决|判处|获刑|被判|一审|二审|终审|公诉|被告人?|刑事案|责任事故罪|有期徒刑|法院"
        ),
    ),
    (
        ReportKind.BULLETIN,
        re.compile(
            r"(?:共|累计|全年|全省|全市|全国|全县|全区)[^,，。]{0,12}发生[^,，。]{0,16}事故"
            + _N
            + r"起|事故"
            + _N
            + r"起[、,，]?(?:共)?死亡|"
            r"(?:全国|全省|全市)[^,，。]{0,8}未发生|发生\d{2,}起|\d{1,2}月份全|"
            r"(?:生产安全|安全生产)事故情况|形势(?:总体)?(?:稳定|平稳)|双下降|同比(?:分别)?(?:下降|上升|增加|减少)|统计(?:数据|公报|显示)|公报|"
            r"(?:一|二|三|四|前三|第[一二三四])季度|上半年|下半年|" + _N + r"(?:至|-|—|~)" + _N + r"月份?"
        ),
    ),
    (
        ReportKind.DISASTER,
        re.compile(
            r"暴雨|强降雨|降雨|洪涝|洪水|洪灾|山洪|台风|地震|泥石流|山体滑坡|山体垮塌|山体塌方|山崩|土石流|滑坡|冰雹|暴雪|"
            r"寒潮|干旱|旱灾|受灾|灾情|因灾|转移安置|地质灾害|风雹|内涝|豪雨|龙卷风"
        ),
    ),
    (
        ReportKind.ROUNDUP,
        re.compile(
            r"一周事故|事故警示|典型事故|事故案例|事故盘点|(?:接连|相继|先后)发生[^,，。]{0,6}(?:起|事故)|天连发|连发[2-9两]起|同日发生|先后发生|多起|两起|"
            r"(?<!第)[2-9]起[^,，。]{0,6}事故|事故[一二三四五][:：、]|NO\.\s*1|^\s*1、|期间[^,，。]{0,12}"
            + _N
            + r"起"
        ),
    ),
    (
        ReportKind.RETROSPECTIVE,
        re.compile(
            r"周年|本文(?:将|从|就|对)|事件背景|教训总结|"
            + _N
            + r"年前|年后|(?:[3-9]\d|\d{3,}|[三四五六七八九]十|百)天后|祭|悼念|纪念|回顾|全纪录|应急档案|遇难[^,，。]{0,4}家属|家属还在"
        ),
    ),
    (
        # What authorities do in the first days (责任人已被控制, 将严肃追责问责): an investigation
        # only when nothing in the item tells of the accident as news.
        _FOLLOW_UP,
        re.compile(
            r"追责问责|被追责|追究[^,，。]{0,6}责任|问责|责任人[^,，。]{0,4}被|立案审查|调查组(?:已经?)?成立"
        ),
    ),
    (
        ReportKind.NOTICE,
        re.compile(
            r"通知|安全生产月|大检查|专项整治|打非治违|排查整治|隐患排查|排查治理|专项执法|执法检查|专项行动|"
            r"印发|行动方案|实施方案|部署|安委办|安委会|活动"
        ),
    ),
)
_ACCIDENT = re.compile(
    r"事故|爆炸|燃爆|闪爆|爆燃|爆鸣|起火|着火|失火|火灾|大火|坍塌|垮塌|倒塌|塌方|冒顶|透水|泄漏|泄露|中毒|窒息|触电|"
    r"坠落|坠亡|侧翻|追尾|相撞|倾覆|遇难|死亡|身亡|罹难|丧生|受伤|被困|失联|矿难"
)
# A current accident in the title outweighs a campaign or look-back in the same title
# ("热电厂发生闪爆致6人死亡 滁州将开展安全生产大检查").
_CURRENT = re.compile(r"发生|已致|已造成|致" + _N + r"[人名]|" + _N + r"[人名]?(?:死|遇难|死亡|受伤)")
# Kinds a current-accident title overrides: in the title itself only a campaign or notice
# announced beside the accident; in the summary also asides that look back or count.
_WEAK_IN_TITLE = frozenset({ReportKind.NOTICE, _FOLLOW_UP})
_WEAK = frozenset({ReportKind.NOTICE, ReportKind.RETROSPECTIVE, ReportKind.BULLETIN, _FOLLOW_UP})


# Disaster words that are not a disaster: a likeness (巨响让人误以为地震) and, in an accident
# report, the weather that caused it (受暴雪天气影响,面包车冲入河中 … 此次事故造成6人死亡).
_LIKENESS = re.compile(
    r"(?:以为|认为|像是?|好像|如同|仿佛|犹如|好似|宛如|堪比)(?:是|发生了?|来了)?(?:地震|台风|龙卷风|洪水|山崩)"
)
_WEATHER_CAUSE = re.compile(
    r"(?:受|因|遇|遭遇|突遇|由于)[^,，。;；]{0,4}?(?:暴雨|强降雨|降雨|暴雪|大雪|冰雹|寒潮|豪雨|大风|团雾|大雾)"
    r"(?:天气)?(?:影响|所致|袭击)?"
)


def _first(text: str, accident_told: bool = False) -> str | None:
    text = _LIKENESS.sub("", text)
    if accident_told:
        text = _WEATHER_CAUSE.sub("", text)
    for kind, pattern in _RULES:
        if pattern.search(text):
            return kind
    return None


def classify(title: str, summary: str) -> ReportKind:
    """The kind of a report from its normalised title and summary (see the module docstring)."""
    kind = _classify(title, summary)
    return ReportKind.INVESTIGATION if kind == _FOLLOW_UP else ReportKind(kind)


def _classify(title: str, summary: str) -> str:
    told = "事故" in title or "事故" in summary  # a weather cause is then no disaster
    in_title = _first(title, told)
    current_title = bool(_ACCIDENT.search(title) and _CURRENT.search(title))
    if in_title is not None and not (in_title in _WEAK_IN_TITLE and current_title):
        return in_title
    in_summary = _first(summary, told)
    if in_summary is not None and not (in_summary in _WEAK and current_title):
        # The title tells of an accident; a campaign announced in the summary does not change it.
        if in_summary in (ReportKind.NOTICE, _FOLLOW_UP) and _ACCIDENT.search(title) and not in_title:
            return ReportKind.ACCIDENT
        return in_summary
    if _ACCIDENT.search(title) or _ACCIDENT.search(summary):
        return ReportKind.ACCIDENT
    return ReportKind.OTHER
