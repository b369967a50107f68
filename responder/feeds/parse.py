"""Feed text to plain dataclasses. The only module that imports feedparser."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import feedparser

from ..i18n import t
from .decode import strip_xml_encoding

__all__ = ["FeedEntry", "FeedParseError", "ParsedFeed", "parse_feed"]

_SHANGHAI = ZoneInfo("Asia/Shanghai")
# A date string that names its zone: +0800, +08:00, Z, GMT/UTC or a letter zone (EST, CST).
_HAS_ZONE = re.compile(r"([+-]\d{2}:?\d{2}|Z|\b(?:GMT|UT|UTC|[A-Z]{3,4}))\s*$")
# feedparser trusts the HTTP charset over the (already stripped) declaration;
# we hand it UTF-8 bytes and say so, so it never guesses.
_HEADERS = {"content-type": "application/xml; charset=utf-8"}


class FeedParseError(ValueError):
    """The body holds no RSS or Atom feed at all."""


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One item as the feed gave it; `published` is aware UTC or None."""

    guid: str | None
    link: str | None
    title: str
    summary_html: str
    published: datetime | None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed feed. `bozo` describes a recoverable defect (entries still usable)."""

    title: str
    entries: list[FeedEntry]
    bozo: str | None


def _published(entry: Any, naive_tz: tzinfo) -> datetime | None:
    for key in ("published", "updated", "created"):
        parsed = entry.get(f"{key}_parsed")
        if parsed is None:
            continue
        # feedparser returns UTC and reads a date without a zone as UTC; Chinese
        # feeds writing "2024-04-01 10:30:00" mean local time, so re-read those.
        when = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
        raw = str(entry.get(key) or "").strip()
        if raw and not _HAS_ZONE.search(raw):
            when = when.replace(tzinfo=naive_tz).astimezone(UTC)
        return when
    return None


def _summary(entry: Any) -> str:
    summary = entry.get("summary") or ""
    # Some feeds put the real text only in <content:encoded> / Atom <content>.
    for content in entry.get("content") or ():
        value = content.get("value") or ""
        if len(value) > len(summary):
            summary = value
    return summary


def _clean(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def parse_feed(text: str, *, naive_tz: tzinfo = _SHANGHAI) -> ParsedFeed:
    """Parse decoded feed text (see decode.decode_feed) into plain dataclasses.

    Dates without a zone are read in `naive_tz` (pass the config's timezone).
    A broken or truncated document yields the entries that could be recovered
    and a `bozo` message; a body that is not a feed at all raises FeedParseError.
    """
    data = strip_xml_encoding(text).encode("utf-8")
    d = feedparser.parse(data, response_headers=_HEADERS)
    bozo = None
    if d.get("bozo"):
        exc = d.get("bozo_exception")
        bozo = f"{type(exc).__name__}: {exc}" if exc is not None else "malformed feed"
    if not d.get("version") and not d.entries:
        start = " ".join(text[:80].split())
        raise FeedParseError(t("feed_error_not_a_feed", start=start, detail=bozo or "-"))
    entries = [
        FeedEntry(
            guid=_clean(e.get("id")),
            link=_clean(e.get("link")),
            title=(e.get("title") or "").strip(),
            summary_html=_summary(e),
            published=_published(e, naive_tz),
        )
        for e in d.entries
    ]
    entries = [e for e in entries if e.guid or e.link or e.title or e.summary_html]
    # In a cut-off document the last item may be cut too: without a guid or link
    # it is a fragment (half a title) that would become a bogus report.
    if bozo and entries and not (entries[-1].guid or entries[-1].link):
        entries.pop()
    return ParsedFeed(title=(d.feed.get("title") or "").strip(), entries=entries, bozo=bozo)
