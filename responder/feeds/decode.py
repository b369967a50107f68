"""Turn a feed's bytes into text before any parser sees them.

Chinese feeds come in UTF-8, GBK/GB2312/GB18030 and Big5, with or without a
correct XML declaration or HTTP charset. feedparser's own guessing fails on two
common cases (a gb2312 declaration over GBK-only characters such as 喆 镕 臺, and
a UTF-8 feed with one byte cut in half), so we decode here and hand the parser
text whose declaration no longer names an encoding.
"""

from __future__ import annotations

import codecs
import re

from .guess import CJK_CODECS, guess_legacy

__all__ = ["declared_encoding", "decode_feed", "strip_xml_encoding"]

# Every label of the GB family decodes as GB18030, its superset: CMSes write
# "gb2312" over text full of GBK-only characters (喆 镕 臺), and a strict gb2312
# decoder would reject the whole feed or, with replacement, lose those names.
_GB_FAMILY = frozenset(
    {"gb2312", "gbk", "gb18030", "x-gbk", "cp936", "ms936", "windows-936", "csgb2312", "euc-cn", "gb-2312"}
)
# Big5 as written by Windows (cp950) and Hong Kong (big5hkscs) differ in their
# extensions; plain big5 is a subset of both, so try both strictly.
_BIG5_FAMILY = frozenset({"big5", "big5-tw", "csbig5", "x-big5", "cp950", "ms950", "big5hkscs", "big5-hkscs"})
_BIG5_CODECS = ("cp950", "big5hkscs")

_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?\bencoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']", re.ASCII)
_XML_DECL_TEXT = re.compile(r"^(\ufeff?\s*<\?xml[^>]*?)\s+encoding\s*=\s*[\"'][^\"']*[\"']")

# A body counts as "UTF-8 with a few broken bytes" when at least this many
# valid multi-byte characters stand for each invalid sequence. GBK or Big5 text
# read as UTF-8 is nearly all invalid sequences, so the two cases sit far apart.
_VALID_PER_INVALID = 20

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_WIDE = (("utf-32-le", 4), ("utf-32-be", 4), ("utf-16-le", 2), ("utf-16-be", 2))


def declared_encoding(body: bytes) -> str | None:
    """The `encoding=` of the XML declaration, lower-cased, or None."""
    m = _XML_DECL.match(body[:512])
    return m.group(1).decode("ascii").lower() if m else None


def strip_xml_encoding(text: str) -> str:
    """Drop `encoding="..."` from the XML declaration of already-decoded text.

    The text is no longer in that encoding; left in place, a parser that encodes
    the text to UTF-8 would decode it a second time with the stale label.
    """
    return _XML_DECL_TEXT.sub(r"\1", text, count=1)


def _codecs_for(label: str) -> tuple[str, ...]:
    """Python codecs to try for a declared charset label (empty when unknown)."""
    label = label.strip().strip("\"'").lower().replace("_", "-")
    if label in _GB_FAMILY:
        return ("gb18030",)
    if label in _BIG5_FAMILY:
        return _BIG5_CODECS
    try:
        return (codecs.lookup(label).name,)
    except LookupError:
        return ()


def _strict(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except UnicodeDecodeError:
        return None


def _mostly_valid(body: bytes, codec: str) -> bool:
    """True when invalid sequences are rare among the valid non-ASCII characters."""
    text = body.decode(codec, errors="replace")
    invalid = text.count("\ufffd") - body.decode(codec, errors="ignore").count("\ufffd")
    valid = len(text) - len(text.encode("ascii", errors="ignore")) - invalid
    return valid >= _VALID_PER_INVALID * max(invalid, 1)


def _unicode_form(body: bytes) -> tuple[str, int] | None:
    """(codec, bytes to skip) for UTF-16/32 bodies, by byte-order mark or, without one, by the
    shape of the first `<` (XML 1.0 appendix F): UTF-32 is checked before UTF-16, whose
    little-endian mark is a prefix of UTF-32's."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return codec, len(bom)
    for codec, width in _WIDE:
        blanks = tuple(c.encode(codec) for c in " \t\r\n")
        i = 0
        while body[i : i + width] in blanks and i < 4096:
            i += width
        if body[i : i + width] == "<".encode(codec) and body[i + width : i + 2 * width].count(0) < width:
            return codec, 0
    return None


def decode_feed(body: bytes, http_charset: str | None) -> str:
    """Decode a feed body to text whose XML declaration names no encoding.

    The rule, first match wins:

    1. A byte-order mark decides (UTF-8, UTF-16 and UTF-32, either byte order); the mark
       is dropped. Without a mark, UTF-16/32 is recognised by the zero bytes around the
       first `<` (XML 1.0 appendix F).
    2. Valid UTF-8 is UTF-8, whatever the labels say (labels are often server
       defaults; valid UTF-8 from non-UTF-8 Chinese text is vanishingly rare).
    3. When no GB or Big5 charset is declared and the body is UTF-8 except for a
       few invalid sequences (a CMS cutting summaries by bytes), UTF-8 with only
       those sequences replaced by U+FFFD. This comes before GB18030 (and before
       single-byte labels such as iso-8859-1), which accept almost any bytes
       and would turn every title into mojibake. "A few" means at least 20
       valid multi-byte characters per invalid sequence; GBK or Big5 read as
       UTF-8 is almost all invalid sequences, so the two never meet.
    4. The XML declaration's charset, decoded strictly. The GB family (gb2312, gbk,
       x-gbk, cp936, gb18030) always decodes as GB18030; Big5 as cp950, then big5hkscs.
       Unknown labels are ignored.
    5. The HTTP charset, decoded strictly; but a GB or Big5 label there (often a web
       server's default) is only a hint for step 6, which checks it against the text.
    6. Undeclared legacy bytes (`guess.guess_legacy`): lone high bytes between ASCII are
       Windows-1252/Latin-1; otherwise GB18030, cp950 and big5hkscs are each tried and
       the decoding made of common Chinese characters wins (undeclared Big5 is Big5, not
       GB18030 nonsense).
    7. A declared charset with replacement, when the body is mostly valid in it
       (a GBK feed with one cut character keeps the rest readable); else the best
       Chinese guess with replacement.
    """
    wide = _unicode_form(body)
    if wide is not None:
        codec, skip = wide
        return strip_xml_encoding(body[skip:].decode(codec, errors="replace").lstrip("\ufeff"))

    text = _strict(body, "utf-8")
    if text is not None:
        return strip_xml_encoding(text)

    from_xml = _codecs_for(declared_encoding(body) or "")
    from_http = _codecs_for(http_charset or "")
    declared = [c for c in dict.fromkeys((*from_xml, *from_http)) if c != "utf-8"]
    legacy_declared = any(c == "gb18030" or c in _BIG5_CODECS for c in declared)
    if not legacy_declared and _mostly_valid(body, "utf-8"):
        return strip_xml_encoding(body.decode("utf-8", errors="replace"))

    hint = next((c for c in from_http if c in CJK_CODECS), None) if not from_xml else None
    for codec in declared:
        if codec == hint:
            continue  # checked against the text below
        text = _strict(body, codec)
        if text is not None:
            return strip_xml_encoding(text)

    guessed, strict = guess_legacy(body, hint)
    if strict:
        return strip_xml_encoding(body.decode(guessed))
    for codec in declared:
        if _mostly_valid(body, codec):
            return strip_xml_encoding(body.decode(codec, errors="replace"))
    return strip_xml_encoding(body.decode(guessed, errors="replace"))
