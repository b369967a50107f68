"""How the proof of a completed step reads (Telegram HTML, outside strings escaped).

One line, used by the card under the step, by the confirmation of `/done` and so by
`/status`: where it was published, whether the head attended a press conference, the
link; for an automatic completion, which item on which of the bureau's own outlets
proved it and when it was published. A completion with nothing recorded says so: for
accountability the missing proof is worth seeing too.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from ..i18n import t
from .formats import format_time, outlet_label
from .html import esc, link
from .views import Evidence

__all__ = ["LINK_CHARS", "evidence_text", "short"]

LINK_CHARS = 60  # a link is shown as its address, cut to this many characters
_SOURCE_CHARS = 30
_TITLE_CHARS = 60


def short(text: str, n: int) -> str:
    """`text` cut to `n` characters, the last one an ellipsis when it was longer."""
    return text if len(text) <= n else text[: n - 1] + "…"


def _link(url: str) -> str:
    if url.lower().startswith(("http://", "https://")):
        return link(url, short(url, LINK_CHARS))
    return esc(short(url, LINK_CHARS))


def _auto(ev: Evidence, tz: tzinfo, now: datetime) -> str:
    outlet = outlet_label(ev.outlets[0]) if ev.outlets else t("outlet_own")
    source = esc(short(ev.source or "", _SOURCE_CHARS))
    at = format_time(ev.published, tz, now)
    if ev.title:
        title = esc(short(ev.title, _TITLE_CHARS))
        return t("evidence_auto", outlet=outlet, source=source, at=at, title=title)
    return t("evidence_auto_untitled", outlet=outlet, source=source, at=at)


def evidence_text(ev: Evidence | None, tz: tzinfo, now: datetime) -> str:
    """The proof of a completed step as one line (证据：…)."""
    parts: list[str] = []
    if ev is not None and ev.auto:
        parts.append(_auto(ev, tz, now))
    elif ev is not None:
        if ev.outlets:
            outlets = t("evidence_outlet_sep").join(outlet_label(o) for o in ev.outlets)
            parts.append(t("evidence_outlets", outlets=outlets))
        if ev.head_attended is not None:
            parts.append(t("evidence_head_yes") if ev.head_attended else t("evidence_head_no"))
    if ev is not None and ev.link:
        parts.append(t("evidence_link", link=_link(ev.link)))
    if not parts:
        return t("evidence_none")
    return t("evidence", parts=t("evidence_sep").join(parts))
