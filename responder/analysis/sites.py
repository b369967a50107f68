"""Named sites and companies: 浩业化工, 谢桥煤矿, 长峰医院, 马钢股份 … 炼铁总厂.

A site is the name written right before a company or facility word (有限公司, 煤矿, 热电厂,
医院 …), after the place names and filler words in front of it are cut off. Two levels:
`companies` (公司, 集团, 煤业, 矿业 …: who) and `units` (总厂, 车间, 煤矿, 医院, 烧烤店 …:
where). Reports of one event share a name at some level; two plants of one company
(马钢的炼铁总厂 and 第四钢轧总厂) are different units and so different events.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import rjieba

__all__ = ["Sites", "read_sites", "share_a_name"]

_COMPANY = (
    "股份有限公司|有限责任公司|有限公司|集团|公司|股份|煤业|矿业|化工|管业|实业|科技|能源|商贸|食品|花炮|烟花|"
    "环保|物流|钢铁|建设|建工|置业"
)
_UNIT = (
    "总厂|分厂|车间|煤矿|金矿|铁矿|铜矿|矿井|气化厂|化工厂|化肥厂|热电厂|发电厂|电厂|花炮厂|烟花厂|药厂|冷冻厂|"
    "食品厂|钢厂|工厂|厂房|医院|宾馆|酒店|烧烤店|饭店|餐馆|商场|市场|超市|大厦|工地|码头|仓库|冷库|加油站|隧道|"
    "矿|厂|"
    # a motorway by its name (沪渝高速, 合淮阜高速公路): two crashes on two motorways are two events
    r"高速(?:公路)?(?=[\u4e00-\u9fff]{0,6}(?:段|往|方向)|路段|[上下]行|出口|入口|收费站|服务区|隧道|大桥|"
    r"[A-Za-z\d]|[,，。\s”\"])"
)
_NAME = re.compile(rf"(?P<name>[\u4e00-\u9fffA-Za-z]{{2,8}}?)(?P<kind>{_COMPANY}|{_UNIT})")
# Words in front of a name that are not part of it.
_FILLER = re.compile(
    r"^(?:.*(?:一家|一座|一处|一个|一间|一栋|一所|一|该|涉事|事发|当地|位于|发生|在|的|及|和|与|从|是|为|对|省|市|县|区|镇|乡|旗|盟|州|国有|私营|民营|某))"
)
_GENERIC = frozenset(
    ["化工", "食品", "建筑", "施工", "生产", "安全", "煤矿", "矿业", "企业", "工程", "项目", "公司", "集团", "有限", "股份", "责任", "生物", "医药", "科技", "能源", "天然", "燃气", "石油", "化学", "钢铁", "电力", "发电", "热电", "环保", "地下", "露天", "民营", "私营", "国有", "服务", "技术", "相关", "其他", "多家", "全国", "全省", "全市", "本市", "大型", "小型", "一家", "当地", "附近", "周边", "沿街", "临街", "居民", "村民", "农民", "工人", "作业", "维修", "检修", "装修", "在建", "有关", "有限责任", "国家", "楼盘", "标段", "污水处理", "危险品", "技术服务", "人民", "加工", "制造", "生产", "绕城", "境内"]
)  # fmt: skip
_COMPANY_RE = re.compile(rf"(?:{_COMPANY})$")
# Parts of speech that never start a name (verbs, numerals, adverbs, pronouns …): 送往医院, 一家工厂.
_NOT_A_START = frozenset(
    [
        "v",
        "vn",
        "p",
        "d",
        "m",
        "r",
        "f",
        "q",
        "t",
        "uv",
        "ul",
        "uj",
        "u",
        "c",
        "a",
        "ad",
        "b",
        "zg",
        "y",
        "e",
        "o",
        "x",
    ]
)
_NOT_AN_END = frozenset(["p", "uv", "ul", "uj", "u", "f", "d"])
_NEVER_IN_A_NAME = ("死", "亡", "伤", "送", "往", "事故", "发生", "整个")


@dataclass(frozen=True, slots=True)
class Sites:
    """Company names and unit (facility) names read from a report."""

    companies: frozenset[str] = frozenset()
    units: frozenset[str] = frozenset()

    @property
    def known(self) -> bool:
        """True when any name was read."""
        return bool(self.companies or self.units)


def read_sites(text: str, place_words: Iterable[str] = ()) -> Sites:
    """Sites named in normalised `text`; `place_words` (names of places it mentions) are cut off."""
    places = sorted({w for w in place_words if w}, key=len, reverse=True)
    companies: set[str] = set()
    units: set[str] = set()
    for m in _NAME.finditer(text):
        name = _trim(m.group("name"), places)
        if len(name) < 2 or name in _GENERIC or name.isdigit():
            continue
        (companies if _COMPANY_RE.search(m.group("kind")) else units).add(name)
    return Sites(frozenset(companies), frozenset(units))


def _trim(name: str, places: list[str]) -> str:
    for p in places:
        i = name.rfind(p)
        if i != -1:
            name = name[i + len(p) :]
    name = _FILLER.sub("", name)
    if any(w in name for w in _NEVER_IN_A_NAME):
        return ""
    tags = rjieba.tag(name)
    while len(tags) > 1 and tags[-1][1] in _NOT_AN_END:
        tags = tags[:-1]
    tail: list[tuple[str, str]] = []
    for word, tag in reversed(tags):  # the words nearest the facility word, up to 5 characters
        if sum(len(w) for w, _ in tail) + len(word) > 5:
            break
        tail.insert(0, (word, tag))
    while tail and tail[0][1] in _NOT_A_START and not tail[0][0].startswith("第"):
        tail = tail[1:]
    return "".join(w for w, _ in tail)


def share_a_name(a: Iterable[str], b: Iterable[str]) -> bool:
    """Do two sets of names share one, or two characters in a row (华塑 in 华塑公司 and 华塑)?"""
    sa, sb = set(a), set(b)
    if sa & sb:
        return True
    grams = {x[i : i + 2] for x in sa for i in range(len(x) - 1)}
    return any(y[i : i + 2] in grams for y in sb for i in range(len(y) - 1))
