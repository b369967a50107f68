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


def decode_feed(body: bytes, http_charset: str | None) -> str:
    """Decode a feed body to text whose XML declaration names no encoding.

    The rule, first match wins:

    1. A byte-order mark decides (UTF-8, UTF-16 LE/BE); the mark is dropped.
    2. Valid UTF-8 is UTF-8, whatever the labels say (labels are often server
       defaults; valid UTF-8 from non-UTF-8 Chinese text is vanishingly rare).
    3. When no GB or Big5 charset is declared and the body is UTF-8 except for a
       few invalid sequences (a CMS cutting summaries by bytes), UTF-8 with only
       those sequences replaced by U+FFFD. This comes before GB18030 (and before
       single-byte labels such as iso-8859-1), which accept almost any bytes
       and would turn every title into mojibake. "A few" means at least 20
       valid multi-byte characters per invalid sequence; GBK or Big5 read as
       UTF-8 is almost all invalid sequences, so the two never meet.
    4. The declared charsets, XML declaration first, then the HTTP charset (the
       declaration is written by the CMS that produced the bytes, the header is
       often a web-server default), each decoded strictly. The GB family
       (gb2312, gbk, x-gbk, cp936, gb18030) always decodes as GB18030; Big5 as
       cp950, then big5hkscs. Unknown labels are ignored.
    5. GB18030, strictly (undeclared Chinese legacy text).
    6. A declared charset with replacement, when the body is mostly valid in it
       (a GBK feed with one cut character keeps the rest readable).
    7. UTF-8 with replacement.
    """
    if body.startswith(codecs.BOM_UTF8):
        return strip_xml_encoding(body[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace"))
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return strip_xml_encoding(body.decode("utf-16", errors="replace").lstrip("\ufeff"))

    text = _strict(body, "utf-8")
    if text is not None:
        return strip_xml_encoding(text)

    declared: list[str] = []
    for label in (declared_encoding(body), http_charset):
        if label:
            declared.extend(c for c in _codecs_for(label) if c not in declared and c != "utf-8")

    legacy_declared = any(c == "gb18030" or c in _BIG5_CODECS for c in declared)
    if not legacy_declared and _mostly_valid(body, "utf-8"):
        return strip_xml_encoding(body.decode("utf-8", errors="replace"))

    for codec in (*declared, "gb18030"):
        text = _strict(body, codec)
        if text is not None:
            return strip_xml_encoding(text)

    for codec in declared:
        if _mostly_valid(body, codec):
            return strip_xml_encoding(body.decode(codec, errors="replace"))

    return strip_xml_encoding(body.decode("utf-8", errors="replace"))
