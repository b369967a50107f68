"""Telegram HTML helpers (pure): escaping, safe truncation, compact callback data.

Telegram's HTML parse mode (tdlib `parse_html`) fails the whole message on a stray `<`,
an unknown tag or an unclosed one, so every piece of outside text goes through `esc`,
and a long message is cut with `truncate_html`, which never splits a tag or an entity
and closes what it leaves open.

How length is counted: the Bot API allows "1-4096 characters after entities parsing",
i.e. tags do not count and `&amp;` counts as one character. Telegram measures entity
offsets in UTF-16 code units and does not document which unit the limit uses, so we
count UTF-16 code units: never fewer than code points, so a text cut to 4096 units
passes whichever way the server counts. The test emulator (tests/kit/botapi.py) enforces
the same rule, so a truncation that counted code points would be caught there.
"""

from __future__ import annotations

import html as _html
import re

__all__ = [
    "CALLBACK_MAX_BYTES",
    "CAPTION_LIMIT",
    "TEXT_LIMIT",
    "attr",
    "esc",
    "link",
    "pack_callback",
    "strip_tags",
    "truncate_html",
    "truncate_text",
    "unpack_callback",
    "visible_len",
]

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_MAX_BYTES = 64

# A tag, or an entity Telegram decodes (the four named ones and numeric references, the
# `;` being optional as in tdlib). Any other `&` is literal there too, and everything
# between two such tokens is plain text, measured and cut in bulk.
_MARKUP = re.compile(
    r"(?P<tag><(?P<close>/?)(?P<name>[a-zA-Z][a-zA-Z0-9-]*)(?:\s[^>]*)?>)"
    r"|(?P<entity>&(?:(?P<named>lt|gt|amp|quot)|#(?P<dec>[0-9]{1,7})|#x(?P<hex>[0-9a-fA-F]{1,6}));?)",
)
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
# Characters outside the Basic Multilingual Plane: two UTF-16 code units each.
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def esc(text: object) -> str:
    """Escape outside text for HTML parse mode (`<`, `>`, `&`); quotes may stay in text."""
    return _html.escape(str(text), quote=False)


def attr(value: object) -> str:
    """Escape a value for use inside a double-quoted attribute, e.g. an href."""
    return _html.escape(str(value), quote=True)


def link(url: str, label: str) -> str:
    """An `<a href>` with both the URL and the label escaped."""
    return f'<a href="{attr(url)}">{esc(label)}</a>'


def _u16(text: str) -> int:
    """Length in UTF-16 code units: one per character, two for one beyond U+FFFF."""
    if text.isascii():
        return len(text)
    return len(text) + len(_ASTRAL.findall(text))


def _prefix(text: str, budget: int) -> str:
    """The longest start of `text` at most `budget` UTF-16 code units long (never half a pair)."""
    extra = 0  # astral characters in the prefix so far
    for m in _ASTRAL.finditer(text):
        at = m.start()
        if at + extra >= budget:
            break
        if at + extra + 2 > budget:
            return text[:at]
        extra += 1
    return text[: max(budget - extra, 0)]


def _pieces(html: str) -> list[tuple[str, re.Match[str] | None]]:
    """`html` as (text, None) runs of plain text and (source, match) tags and entities, in order."""
    out: list[tuple[str, re.Match[str] | None]] = []
    at = 0
    for m in _MARKUP.finditer(html):
        if m.start() > at:
            out.append((html[at : m.start()], None))
        out.append((m.group(0), m))
        at = m.end()
    if at < len(html):
        out.append((html[at:], None))
    return out


def _decoded(m: re.Match[str]) -> str | None:
    """The character an entity token stands for, or None when Telegram keeps it literal."""
    if m.group("named"):
        return _NAMED[m.group("named")]
    code = int(m.group("dec")) if m.group("dec") else int(m.group("hex"), 16)
    if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def _visible(text: str, m: re.Match[str] | None) -> str:
    """What a piece shows once Telegram has parsed it ('' for a tag)."""
    if m is None:
        return text
    if m.group("tag"):
        return ""
    ch = _decoded(m)
    return text if ch is None else ch


def visible_len(html: str) -> int:
    """Length Telegram checks against its limits: visible text, in UTF-16 code units."""
    if "<" not in html and "&" not in html:
        return _u16(html)
    return sum(_u16(_visible(text, m)) for text, m in _pieces(html))


def strip_tags(html: str) -> str:
    """The plain text a reader would see: tags dropped, entities decoded."""
    return "".join(_visible(text, m) for text, m in _pieces(html))


def truncate_html(html: str, limit: int = TEXT_LIMIT, ellipsis: str = "…") -> str:
    """Cut `html` so its visible length is at most `limit` (see the module note on units).

    Returns the input unchanged when it fits. Otherwise it cuts between characters (never
    inside a tag or an entity), appends `ellipsis`, and closes the tags left open.
    """
    if visible_len(html) <= limit:
        return html
    budget = limit - _u16(ellipsis)
    if budget < 0:
        raise ValueError(f"limit {limit} is shorter than the ellipsis {ellipsis!r}")
    out: list[tuple[str, bool]] = []  # (source text, is an opening tag)
    open_tags: list[str] = []
    used = 0
    for text, m in _pieces(html):
        if m is not None and m.group("tag"):
            name = m.group("name").lower()
            opening = not m.group("close")
            if opening:
                open_tags.append(name)
            elif open_tags and open_tags[-1] == name:
                open_tags.pop()
            out.append((text, opening))
            continue
        width = _u16(_visible(text, m))
        if used + width > budget:
            # Plain text is cut between characters; an entity is kept or dropped whole.
            head = _prefix(text, budget - used) if m is None else ""
            if head:
                out.append((head, False))
            break
        used += width
        out.append((text, False))
    # Tags opened right before the cut would close empty: drop them rather than send <b></b>.
    while out and out[-1][1]:
        out.pop()
        open_tags.pop()
    body = "".join(text for text, _ in out)
    return body + esc(ellipsis) + "".join(f"</{name}>" for name in reversed(open_tags))


def truncate_text(text: str, limit: int = TEXT_LIMIT, ellipsis: str = "…") -> str:
    """Cut plain text (sent without parse mode) to `limit` UTF-16 code units, ending in `ellipsis`."""
    if _u16(text) <= limit:
        return text
    budget = limit - _u16(ellipsis)
    if budget < 0:
        raise ValueError(f"limit {limit} is shorter than the ellipsis {ellipsis!r}")
    return _prefix(text, budget) + ellipsis


def pack_callback(action: str, incident_id: int, step: str = "", channel: str = "") -> str:
    """Callback data `action:id[:step[:channel]]`, at most 64 bytes of UTF-8 (Telegram's limit).

    Raises ValueError when a field is empty where required, contains ':', or the result is too long.
    """
    if not action:
        raise ValueError("callback action must not be empty")
    if isinstance(incident_id, bool) or not isinstance(incident_id, int) or incident_id < 0:
        raise ValueError(f"callback incident id must be a non-negative integer, got {incident_id!r}")
    for name, value in (("action", action), ("step", step), ("channel", channel)):
        if ":" in value:
            raise ValueError(f"callback {name} {value!r} must not contain ':'")
    parts = [action, str(incident_id)]
    if step or channel:
        parts.append(step)
    if channel:
        parts.append(channel)
    data = ":".join(parts)
    size = len(data.encode("utf-8"))
    if size > CALLBACK_MAX_BYTES:
        raise ValueError(
            f"callback data {data!r} is {size} bytes; Telegram allows {CALLBACK_MAX_BYTES}. "
            "Use shorter step or channel keys."
        )
    return data


def unpack_callback(data: str) -> tuple[str, int, str, str]:
    """Inverse of pack_callback: (action, incident_id, step, channel). ValueError if malformed."""
    if not data or len(data.encode("utf-8")) > CALLBACK_MAX_BYTES:
        raise ValueError(f"callback data {data!r} is empty or longer than {CALLBACK_MAX_BYTES} bytes")
    parts = data.split(":")
    if not 2 <= len(parts) <= 4 or not parts[0]:
        raise ValueError(f"callback data {data!r} is not action:id[:step[:channel]]")
    if not parts[1].isascii() or not parts[1].isdigit():
        raise ValueError(f"callback data {data!r} has no numeric incident id")
    parts += [""] * (4 - len(parts))
    return parts[0], int(parts[1]), parts[2], parts[3]
