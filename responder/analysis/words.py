"""Chinese word segmentation (rjieba, the Rust jieba) behind two small functions.

`content_words` gives the words grouping compares (word-level similarity, not
character n-grams: 化工厂 and 盘山县 are one word each, 的/了/发生 are none);
`on_word_boundaries` says whether a span of text starts and ends where words do,
which tells a place name (无为一化工厂) from the same characters inside an everyday
phrase (带来安全, 新华社).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

import rjieba

__all__ = ["content_words", "on_word_boundaries", "similarity"]

# Words every accident report uses: they say nothing about which event it is.
_COMMON = frozenset(
    ["事故", "发生", "造成", "导致", "死亡", "遇难", "受伤", "重伤", "轻伤", "人员", "目前", "记者", "现场", "救援", "原因", "调查", "正在", "已经", "截至", "截止", "有限公司", "公司", "集团", "相关", "部门", "工作", "情况", "进行", "一起", "一名", "一个", "一家", "其中", "另有", "以及", "我们", "他们", "其他", "根据", "获悉", "了解", "消息", "报道", "通报", "表示", "介绍", "发布", "新闻", "今天", "昨天", "今日", "昨日", "当天", "当日", "时许", "左右", "全力", "立即", "要求", "处置", "善后", "进一步", "人数", "伤亡", "事件", "突发", "开展", "组织", "有关", "工作组", "领导", "指示", "部署", "同志", "救治", "医院", "送医", "安全", "生产", "应急", "管理", "万元", "亿元", "直接", "经济", "损失", "全部", "多名", "不幸", "抢救", "无效", "有人", "已致", "致使", "已有", "仍有",
     # every road report says these too: two crashes on one motorway share 方向, 货车, 高速 and nothing else
     "方向", "一辆", "车辆", "货车", "客车", "大客车", "轿车", "小型", "重型", "司机", "驾驶员", "驾驶人", "行驶", "路段",
     "公里", "高速", "高速公路", "交警", "两车", "车内", "乘客", "伤者", "伤员", "当场", "抢救无效", "境内"]
)  # fmt: skip
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_CJK_OR_ALNUM = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")


def content_words(text: str) -> frozenset[str]:
    """The distinctive words of normalised `text`: two characters or more, not common accident
    vocabulary; numbers of three digits or more are kept (13442起 identifies a bulletin)."""
    out: set[str] = set()
    for word in rjieba.cut(text):
        if len(word) < 2 or word in _COMMON or not _CJK_OR_ALNUM.match(word):
            continue
        if _NUMBER.fullmatch(word) and len(word) < 3:
            continue
        out.add(word)
    return frozenset(out)


def similarity(a: Iterable[str], b: Iterable[str]) -> float:
    """Cosine of two word sets (|A∩B| / sqrt(|A|·|B|)); 0 when either is empty."""
    sa, sb = set(a), set(b)
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / math.sqrt(len(sa) * len(sb))


def on_word_boundaries(text: str, start: int, end: int, context: int = 4, stop: int | None = None) -> bool:
    """Does text[start:end] begin and end on word boundaries (segmenting a window around it, `context`
    characters either side, cut at `stop` when given: the same as text[:stop])?"""
    left = start - context if start > context else 0
    window = text[left : end + context if stop is None else min(end + context, stop)]
    # Walk the words to the span's end: the matcher asks this for every short place name it meets.
    first, last = start - left, end - left
    pos = 0
    starts = first == 0
    for word in rjieba.cut(window):
        pos += len(word)
        if pos < first:
            continue
        if pos == first:
            starts = True
        elif not starts or pos >= last:
            return starts and pos == last
    return False
