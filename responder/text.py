"""Normalisation: what a reader sees of a report, in one canonical form.

Matching and grading read the output of `report_text`. Three things make raw feed
text differ from what a reader sees, and each hides scheme words:

- HTML: tags, attributes and entities. A word inside `<img alt="爆炸">` or inside a
  link address is not something a reader reads, so it must not match.
- Full-width forms (`死亡１２人`, `ＡＢＣ`): NFKC folds them to ASCII.
- Traditional characters (`礦難`, `臺灣`): OpenCC's t2s tables (with phrases) turn
  them into simplified, so one simplified word list serves both.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from html.parser import HTMLParser
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import opencc

__all__ = ["clean_text", "html_to_text", "normalize", "report_text"]

# Elements whose content is never shown to a reader.
_HIDDEN = frozenset({"script", "style", "noscript", "template", "head", "title", "iframe", "object"})

# Elements that start a new line when rendered; inline ones (b, a, span, font ...) must
# NOT insert a space, or a word split by markup (爆<b>炸</b>) would no longer match.
_BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table",
        "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip

# Never shown to a reader, yet able to hide or reorder what is shown: C0/C1 control characters
# (tab, newline and carriage return stay), the soft hyphen, zero-width characters, bidirectional
# embeddings, overrides and isolates, and other invisible format characters. PostgreSQL also
# refuses NUL in text outright.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]"
)
_C1_PRINTABLE = re.compile("[\x80-\x9f]")
_SPACES = re.compile(r"[^\S\n]+")  # any whitespace except newline (includes NBSP, ideographic space)
_NEWLINES = re.compile(r"\s*\n\s*")
_CUT_MARKUP = re.compile(r"<[!/?A-Za-z]")
# Mirror sites gloss characters with pinyin inside words: 經(jīng)搶救無(wú)效. A gloss is a
# parenthesised syllable with a tone mark right after a Chinese character; a reader skips it.
_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
_PINYIN_GLOSS = re.compile(rf"(?<=[\u4e00-\u9fff])\((?=[a-zü]*[{_TONED}])[a-zü{_TONED}]{{1,7}}\)")


class _Visible(HTMLParser):
    """Collects the character data a browser would show; drops tags and attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # entities decoded in handle_data
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden_depth += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/>, <img .../>: never opens a hidden section.
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)


def _windows_1252(m: re.Match[str]) -> str:
    try:
        return bytes((ord(m.group(0)),)).decode("cp1252")
    except UnicodeDecodeError:
        return ""


def clean_text(s: str) -> str:
    """`s` without control, zero-width and bidirectional-override characters (see `_INVISIBLE`).

    Applied to every text a feed gives (title, summary, link, guid) before it is stored
    or shown: `爆\u200b炸` must match 爆炸, a right-to-left override must not reorder a
    card, and a NUL must not make the database refuse the report. The one exception are
    C1 control characters that Windows-1252 assigns (`don\x92t`, a CMS storing cp1252
    bytes as code points): they become the punctuation meant (`don’t`), as browsers do.
    """
    if not s or _INVISIBLE.search(s) is None:
        return s  # the usual case: one scan, the text returned as it is
    if _C1_PRINTABLE.search(s):
        s = _C1_PRINTABLE.sub(_windows_1252, s)
    return _INVISIBLE.sub("", s)


def _collapse(s: str) -> str:
    """One space for each run of spaces, one newline for each run of blank lines."""
    s = _SPACES.sub(" ", s)
    return _NEWLINES.sub("\n", s).strip()


def html_to_text(s: str) -> str:
    """Visible text of an HTML fragment: entities decoded, tags/attributes/scripts dropped.

    Block elements (p, div, br, li ...) become line breaks; inline elements vanish
    without a trace so a word split by markup stays whole. Plain text passes through
    with only its whitespace collapsed.
    """
    if not s:
        return ""
    if "<" not in s and "&" not in s:
        return _collapse(s)
    parser = _Visible()
    parser.feed(s)
    # A summary cut short (CMSes truncate by length) can end inside a tag or comment;
    # a browser shows nothing of it, while HTMLParser.close() would emit it as text.
    if _CUT_MARKUP.match(parser.rawdata):
        parser.rawdata = ""
    parser.close()
    return _collapse("".join(parser.parts))


@cache
def _t2s() -> opencc.OpenCC:
    # Loading the dictionaries takes milliseconds; do it once per process.
    import opencc

    return opencc.OpenCC("t2s")


def normalize(s: str) -> str:
    """NFKC (full-width → ASCII), pinyin glosses dropped, traditional → simplified (OpenCC t2s),
    whitespace collapsed.

    Idempotent: normalize(normalize(s)) == normalize(s). Used on report text and on
    the scheme words alike, so both sides meet in the same form.
    """
    if not s:
        return ""
    s = unicodedata.normalize("NFKC", clean_text(s))
    if "(" in s:
        s = _PINYIN_GLOSS.sub("", s)
    s = _t2s().convert(s)
    return _collapse(s)


def report_text(title: str, summary_html: str) -> str:
    """The text matching and grading read: normalised title, a newline, visible summary."""
    return normalize((title or "") + "\n" + html_to_text(summary_html or ""))
