"""What a send-only chat channel carries, and how it is shortened to fit (pure).

A `ChannelMessage` is a title, lines of text (each a run of plain or linked segments) and
the link to the incident's page in the web console, where people act: robots cannot take
a button press or a command. Each platform renders it in its own format and measures the
result in its own unit (`responder/channels/wecom.py` and the others).

Shortening (`shorten`) keeps, whatever happens, the lines marked `keep` (deadlines) and
the console link. What gives way is the middle of the rest: characters are taken out of
the middle of the flexible lines (their beginning and end stay), replaced by one line
saying how many characters were left out; only when no flexible text is left does the
title lose its middle too. A message whose kept parts alone are too large is not sent
(`None`): a robot answer without its deadlines or its link would mislead.
"""

from __future__ import annotations

import html as _html
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..i18n import t

__all__ = [
    "ChannelMessage",
    "Line",
    "Segment",
    "from_telegram_html",
    "markdown_line",
    "md_link",
    "md_text",
    "shorten",
]

# The shortest title worth sending: an incident number and a few characters of its name.
_MIN_TITLE = 12
# A line the Telegram card shows with a clock time (截止 16:30, 首发时间 15:10): a deadline
# or a moment people act on, so it survives shortening.
_CLOCK = re.compile(r"(?<!\d)(?:[01]?\d|2[0-3]):[0-5]\d(?!\d)")
_A_TAG = re.compile(r'<a\s+href="([^"]*)"\s*>(.*?)</a>', re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Segment:
    """A run of text, linked when `href` is set."""

    text: str
    href: str | None = None


@dataclass(frozen=True)
class Line:
    """One line of the message. `keep`: never shortened (deadlines)."""

    segments: tuple[Segment, ...]
    keep: bool = False

    @classmethod
    def plain(cls, text: str, *, keep: bool = False) -> Line:
        """A line of plain text."""
        return cls((Segment(text),), keep)

    @property
    def text(self) -> str:
        """The visible text of the line."""
        return "".join(s.text for s in self.segments)


@dataclass(frozen=True)
class ChannelMessage:
    """Title, lines and the console link of one message to a send-only channel."""

    title: str
    lines: tuple[Line, ...] = ()
    link: str | None = None
    link_label: str = field(default_factory=lambda: t("channel_open_console"))

    def flexible_chars(self) -> int:
        """How many characters the shortenable lines hold."""
        return sum(len(line.text) for line in self.lines if not line.keep)


def from_telegram_html(text: str, link: str | None, *, title: str | None = None) -> ChannelMessage:
    """An outbox row's Telegram HTML as a channel message: the first non-empty line is the
    title (unless `title` is given), `<a href>` becomes a linked segment, other tags go,
    and lines showing a clock time (deadlines, first publication) are kept whole."""
    lines: list[Line] = []
    for raw in text.splitlines():
        segments = _segments(raw)
        visible = "".join(s.text for s in segments).strip()
        if not visible:
            continue
        if title is None:
            title = visible
            continue
        lines.append(Line(tuple(segments), keep=bool(_CLOCK.search(visible))))
    return ChannelMessage(title or "", tuple(lines), link)


def _segments(raw: str) -> list[Segment]:
    out: list[Segment] = []
    pos = 0
    for m in _A_TAG.finditer(raw):
        before = _visible(raw[pos : m.start()])
        if before:
            out.append(Segment(before))
        label = _visible(m.group(2))
        href = _html.unescape(m.group(1))
        if label:
            out.append(Segment(label, href if href.startswith(("http://", "https://")) else None))
        pos = m.end()
    rest = _visible(raw[pos:])
    if rest:
        out.append(Segment(rest))
    return out


def _visible(fragment: str) -> str:
    return _html.unescape(_TAG.sub("", fragment))


# --------------------------------------------------------------------------- shortening


def shorten(message: ChannelMessage, fits: Callable[[ChannelMessage], bool]) -> ChannelMessage | None:
    """`message`, or the least shortened form of it that `fits`; None when even the kept
    parts (deadlines, the link, a minimal title) do not fit."""
    if fits(message):
        return message
    total = message.flexible_chars()
    candidate = cut_middle(message, 0)
    if fits(candidate):
        # Keep as much flexible text as fits: the largest budget whose cut still fits.
        low, high = 0, total  # fits(low) holds, fits(high) does not
        while high - low > 1:
            mid = (low + high) // 2
            if fits(cut_middle(message, mid)):
                low = mid
            else:
                high = mid
        return cut_middle(message, low)
    # No flexible text left and still too large: the title gives up its middle.
    low, high = _MIN_TITLE, len(candidate.title)
    if high <= low or not fits(replace(candidate, title=_cut_text(candidate.title, low))):
        return None
    while high - low > 1:
        mid = (low + high) // 2
        if fits(replace(candidate, title=_cut_text(candidate.title, mid))):
            low = mid
        else:
            high = mid
    return replace(candidate, title=_cut_text(candidate.title, low))


def cut_middle(message: ChannelMessage, budget: int) -> ChannelMessage:
    """`message` with only `budget` characters of its flexible lines left: the first half
    of the budget from their beginning, the second half from their end, and one line in
    between saying how much was left out. Kept lines stay where they were."""
    total = message.flexible_chars()
    if budget >= total:
        return message
    # The characters left out are one run [gap_start, gap_end) of the flexible text.
    gap_start, gap_end = budget - budget // 2, total - budget // 2
    marker = Line.plain(t("channel_omitted", n=total - budget))
    out: list[Line] = []
    pos = 0
    for line in message.lines:
        if line.keep:
            out.append(line)
            continue
        length = len(line.text)
        start, end, pos = pos, pos + length, pos + length
        if end <= gap_start or start >= gap_end:
            out.append(line)  # wholly before or after the gap
            continue
        if start < gap_start:
            out.append(_slice(line, 0, gap_start - start, ellipsis_after=True))
        if start <= gap_start:
            out.append(marker)  # the gap begins in this line (or at its start)
        if end > gap_end:
            out.append(_slice(line, gap_end - start, length, ellipsis_after=False))
    return replace(message, lines=tuple(out))


def _slice(line: Line, a: int, b: int, *, ellipsis_after: bool) -> Line:
    """Characters [a, b) of `line` (links kept), with an ellipsis on the side that was cut."""
    kept: list[Segment] = []
    pos = 0
    for seg in line.segments:
        lo, hi = max(a, pos), min(b, pos + len(seg.text))
        if lo < hi:
            kept.append(Segment(seg.text[lo - pos : hi - pos], seg.href))
        pos += len(seg.text)
    if ellipsis_after:
        kept.append(Segment("…"))
    else:
        kept.insert(0, Segment("…"))
    return Line(tuple(kept), keep=False)


def _cut_text(text: str, n: int) -> str:
    """`text` shortened to about `n` characters by taking out its middle."""
    if len(text) <= n:
        return text
    head = (n - 1) - (n - 1) // 2
    tail = (n - 1) // 2
    return text[:head] + "…" + (text[-tail:] if tail else "")


# --------------------------------------------------------------------------- markdown


# Outside text (news titles, names) must not become markup: brackets would make links,
# angle brackets WeCom's <font> and <@userid> mentions. Their full-width forms read the same.
_MD_NEUTRAL = str.maketrans({"[": "［", "]": "］", "<": "＜", ">": "＞"})


def md_text(text: str) -> str:
    """Outside text made inert for the robots' markdown (WeCom, DingTalk)."""
    return text.translate(_MD_NEUTRAL)


def md_link(label: str, href: str) -> str:
    """A markdown link whose address cannot end early (parentheses and spaces escaped)."""
    safe = href.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
    return f"[{md_text(label)}]({safe})"


def markdown_line(line: Line) -> str:
    """One line as robot markdown: plain segments inert, linked segments as links."""
    return "".join(md_link(s.text, s.href) if s.href else md_text(s.text) for s in line.segments)
