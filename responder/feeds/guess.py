"""Which legacy encoding undeclared bytes are in: GB18030, Big5 or a Western single-byte one.

Big5 bytes are almost always *valid* GB18030 (both use lead bytes 0x81–0xFE), so a
strict decode cannot tell them apart: a Big5 feed read as GB18030 comes out as
plausible-looking nonsense with no error. What does tell them apart is which
characters come out. Real Chinese text is made almost entirely of the common
characters (GB2312 level 1: the 3,755 most used simplified characters; Big5's 5,401
常用字 for traditional text); the wrong codec scatters the bytes over rare characters,
private-use code points and symbols. So each candidate is decoded and the one whose
non-ASCII characters are most often common characters wins.

Latin-1 or Windows-1252 text looks different again: its non-ASCII bytes stand alone
between ASCII letters (`Caf\\xe9`), while GBK and Big5 bytes come in pairs.
"""

from __future__ import annotations

import re
from functools import cache

__all__ = ["guess_legacy", "score_chinese"]

# Chinese candidates in order of preference on a tie (mainland feeds are the common case).
CJK_CODECS = ("gb18030", "cp950", "big5hkscs")
# How much of the body is looked at: enough characters to judge, bounded cost on 5 MB.
_SAMPLE = 200_000
# Share of non-ASCII bytes standing alone above which the text is single-byte Western.
_LONE_BYTES = 0.5
_HIGH = re.compile(rb"[\x80-\xff]")
_LONE = re.compile(rb"(?<![\x80-\xff])[\x80-\xff](?![\x80-\xff])")


@cache
def _common_hanzi() -> frozenset[str]:
    """GB2312 level 1 and Big5 常用字, built from the codecs themselves (about 9,000 characters)."""
    chars: set[str] = set()
    for lead in range(0xB0, 0xD8):
        for trail in range(0xA1, 0xFF):
            try:
                chars.add(bytes((lead, trail)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    for lead in range(0xA4, 0xC7):
        for trail in (*range(0x40, 0x7F), *range(0xA1, 0xFF)):
            if (lead, trail) > (0xC6, 0x7E):  # the frequent-character block ends at C67E
                break
            try:
                chars.add(bytes((lead, trail)).decode("big5"))
            except UnicodeDecodeError:
                continue
    return frozenset(chars)


def score_chinese(text: str) -> float:
    """Share of the non-ASCII characters of `text` (sampled) that are common Chinese characters.

    Chinese punctuation and full-width forms count as neutral: they are left out of
    both sides, since every legacy codec decodes them alike.
    """
    common = _common_hanzi()
    hits = total = 0
    for ch in text[:_SAMPLE]:
        if ch < "\u0080" or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef":
            continue
        total += 1
        hits += ch in common
    return hits / total if total else 0.0


def _lone_high_bytes(body: bytes) -> float:
    """Share of non-ASCII bytes whose neighbours are both ASCII (sampled)."""
    sample = body[:_SAMPLE]
    high = len(_HIGH.findall(sample))
    return len(_LONE.findall(sample)) / high if high else 0.0


def guess_legacy(body: bytes, hint: str | None = None) -> tuple[str, bool]:
    """The codec for bytes that are not UTF-8 and declare nothing trustworthy; and whether it is strict.

    `hint` is a codec named by a less reliable source (an HTTP charset that may be a
    server default); it wins ties. Returns (codec, True) when the bytes decode strictly
    in it, (codec, False) when only a decode with replacement works.
    """
    if _lone_high_bytes(body) > _LONE_BYTES:
        try:
            body.decode("cp1252")
        except UnicodeDecodeError:
            return "latin-1", True  # 0x81, 0x8d ... are undefined in cp1252; latin-1 takes any byte
        return "cp1252", True
    order = (hint, *(c for c in CJK_CODECS if c != hint)) if hint in CJK_CODECS else CJK_CODECS
    strict: list[tuple[float, int, str]] = []
    loose: list[tuple[float, int, str]] = []
    for rank, codec in enumerate(order):
        try:
            strict.append((score_chinese(body.decode(codec)), -rank, codec))
        except UnicodeDecodeError:
            loose.append((score_chinese(body.decode(codec, errors="replace")), -rank, codec))
    if strict:
        return max(strict)[2], True
    return max(loose)[2], False
