"""Feed text to plain dataclasses. The only module that imports feedparser.

feedparser is thorough and slow (~50-100 feeds/s for 50-item Chinese feeds,
bench/bench_parsing.py), and a feed that changed usually changed by one item.
So `parse_feed` can skip the items it parsed before: the caller passes the
`item_keys` of the last parse as `skip_items`, and only items whose XML differs
are handed to feedparser, inside the feed's own header and footer so that
namespaces and the channel still apply. Whenever the document cannot be split
safely into items, the whole feed is parsed as usual.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from collections.abc import Collection
from dataclasses import dataclass, field
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
# One RSS <item> or Atom <entry>, shortest match; checked for safety in _split.
_ITEM = re.compile(r"<(item|entry)(?=[\s>/])(?:[^>]*/>|.*?</\1\s*>)", re.S)
_ONLY_CLOSING_TAGS = re.compile(r"(?:\s*</[\w:.-]+\s*>)*\s*")


class FeedParseError(ValueError):
    """The body holds no RSS or Atom feed at all."""


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One item as the feed gave it; `published` is aware UTC or None.

    `summary_html` is the item's HTML exactly as published (the longer of
    description and content), NOT sanitised: turn it into text with
    `responder.text.html_to_text`, never render it as HTML.
    """

    guid: str | None
    link: str | None
    title: str
    summary_html: str
    published: datetime | None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed feed.

    `bozo` describes a recoverable defect (the entries are still usable).
    `item_keys` identifies every item of this document by the hash of its XML
    (empty when the document could not be split into items); pass it as
    `skip_items` to the next parse of the same feed. `skipped` counts the items
    left out of `entries` because their key was in `skip_items`.
    """

    title: str
    entries: list[FeedEntry]
    bozo: str | None
    item_keys: frozenset[str] = field(default_factory=frozenset)
    skipped: int = 0


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


def _item_key(chunk: str) -> str:
    return hashlib.blake2b(chunk.encode("utf-8"), digest_size=12).hexdigest()


@dataclass(frozen=True, slots=True)
class _Split:
    head: str
    items: list[str]
    tail: str


def _split(text: str) -> _Split | None:
    """The document as header, items, footer; None unless the cut is certainly right."""
    matches = list(_ITEM.finditer(text))
    if not matches:
        return None
    tag = matches[0].group(1)
    items: list[str] = []
    end = matches[0].start()
    for m in matches:
        chunk = m.group(0)
        if m.group(1) != tag or text[end : m.start()].strip():
            return None  # other elements between items: keep the document whole
        # A closing tag inside CDATA or a nested item would have cut the item short.
        if chunk.count("<![CDATA[") != chunk.count("]]>") or chunk.find(f"<{tag}", 1) != -1:
            return None
        items.append(chunk)
        end = m.end()
    head, tail = text[: matches[0].start()], text[end:]
    unbalanced_head = head.count("<![CDATA[") != head.count("]]>")
    if unbalanced_head or f"<{tag}" in head or not _ONLY_CLOSING_TAGS.fullmatch(tail):
        return None
    return _Split(head, items, tail)


def _feedparser(text: str) -> Any:
    # No sanitising or URI rewriting inside summaries: together they are ~45% of
    # feedparser's time (bench/bench_parsing.py), and summaries are only ever
    # turned into plain text (text.html_to_text drops scripts, tags, attributes).
    return feedparser.parse(
        text.encode("utf-8"), response_headers=_HEADERS, sanitize_html=False, resolve_relative_uris=False
    )


def _entries(d: Any, naive_tz: tzinfo) -> list[FeedEntry]:
    return [
        FeedEntry(
            guid=_clean(e.get("id")),
            link=_clean(e.get("link")),
            title=(e.get("title") or "").strip(),
            summary_html=_summary(e),
            published=_published(e, naive_tz),
        )
        for e in d.entries
    ]


def _incremental(split: _Split, skip: Collection[str], naive_tz: tzinfo) -> ParsedFeed | None:
    """Parse only the items not in `skip`; None when the result cannot be trusted."""
    keys = [_item_key(chunk) for chunk in split.items]
    fresh = [chunk for chunk, key in zip(split.items, keys, strict=True) if key not in skip]
    d = _feedparser(split.head + "".join(fresh) + split.tail)
    entries = _entries(d, naive_tz)
    if d.get("bozo") or not d.get("version") or len(entries) != len(fresh):
        return None
    return ParsedFeed(
        title=(d.feed.get("title") or "").strip(),
        entries=entries,
        bozo=None,
        item_keys=frozenset(keys),
        skipped=len(split.items) - len(fresh),
    )


def parse_feed(text: str, *, naive_tz: tzinfo = _SHANGHAI, skip_items: Collection[str] = ()) -> ParsedFeed:
    """Parse decoded feed text (see decode.decode_feed) into plain dataclasses.

    Dates without a zone are read in `naive_tz` (pass the config's timezone).
    `skip_items`: the `item_keys` of this feed's previous parse; items whose XML
    is unchanged since are left out of `entries` and counted in `skipped`.
    A broken or truncated document yields the entries that could be recovered
    and a `bozo` message; a body that is not a feed at all raises FeedParseError.
    """
    text = strip_xml_encoding(text)
    split = _split(text)
    if split is not None and skip_items:
        fast = _incremental(split, skip_items, naive_tz)
        if fast is not None:
            return fast

    d = _feedparser(text)
    bozo = None
    if d.get("bozo"):
        exc = d.get("bozo_exception")
        bozo = f"{type(exc).__name__}: {exc}" if exc is not None else "malformed feed"
    if not d.get("version") and not d.entries:
        start = " ".join(text[:80].split())
        raise FeedParseError(t("feed_error_not_a_feed", start=start, detail=bozo or "-"))
    entries = _entries(d, naive_tz)
    keys: frozenset[str] = frozenset()
    if split is not None and not bozo and len(entries) == len(split.items):
        keys = frozenset(_item_key(chunk) for chunk in split.items)
    entries = [e for e in entries if e.guid or e.link or e.title or e.summary_html]
    # In a cut-off document the last item may be cut too: without a guid or link
    # it is a fragment (half a title) that would become a bogus report.
    if bozo and entries and not (entries[-1].guid or entries[-1].link):
        entries.pop()
    title = (d.feed.get("title") or "").strip()
    return ParsedFeed(title=title, entries=entries, bozo=bozo, item_keys=keys)
