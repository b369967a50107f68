"""Figures that are not this accident's toll: blanked before the figures are read.

An accident report often puts its toll beside other numbers of the same kind: a period's
total (今年以来全市已发生事故15起、死亡21人), an earlier or similar accident (去年该地也发生过
类似事故,造成10人死亡; 2015年天津港爆炸造成165人遇难), a national count (全国每年…), or the
accident the new one follows (继响水爆炸78人遇难后, 某地又一化工厂爆炸). Read as the accident's
own toll, any of them raises a false 重大 alarm.

`mask_context` blanks (same length, so offsets stay valid) the rest of a sentence from the
word that starts such an aside, the span of a 继…后 clause, and the rest of a sentence from
a written year other than the accident's. The part of the sentence before the aside keeps
its figures: in 事故已造成12人死亡,是今年以来全省最严重的一起, the 12 stays.
"""

from __future__ import annotations

import re

__all__ = ["mask_context"]

_N = r"(?:\d+|[一二两三四五六七八九十]+)"
# Words that start an aside about other accidents or a period's totals (这是今年第3起…).
_ASIDE = re.compile(
    r"今年以来|年以来|月以来|近年来|多年来|历年|去年|前年|往年|每年|全年|同期|上半年|下半年|前三季度|"
    rf"近{_N}年|{_N}(?:至|-|—|~){_N}月|前{_N}个?月|"
    r"全(?:国|省|市|县|区|行业)[^,，。;；]{0,10}?(?:共|累计|已有|已发生|发生了?|死亡)|"
    rf"第{_N}起|类似事故|同类事故|此类事故|同类型事故|也发生过|也曾发生|另据|另一起|上一次|上次"
)
# 继响水爆炸78人遇难后: the accident this one follows.
_FOLLOWS = re.compile(r"继[^,，。;；!！?？]{1,30}?(?:之后|后)")
_YEAR = re.compile(r"(?<!\d)(?P<y>(?:19|20)\d{2})\s*年")
_SENTENCE_END = re.compile(r"[。;；!！?？\n]")


def mask_context(text: str, year: int | None = None) -> str:
    """`text` with asides about other accidents and totals blanked; `year` is the accident's own."""
    out = list(text)
    for m in _FOLLOWS.finditer(text):
        out[m.start() : m.end()] = " " * (m.end() - m.start())
    for m in _ASIDE.finditer(text):
        _blank_to_sentence_end(out, text, m.start())
    if year is not None:
        for m in _YEAR.finditer(text):
            if int(m.group("y")) != year:
                _blank_to_sentence_end(out, text, m.start())
    return "".join(out)


def _blank_to_sentence_end(out: list[str], text: str, start: int) -> None:
    end = _SENTENCE_END.search(text, start)
    stop = end.start() if end else len(text)
    out[start:stop] = " " * (stop - start)
