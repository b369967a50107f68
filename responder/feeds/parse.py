"""Feed text to plain dataclasses. The only module that imports feedparser.

feedparser is thorough and slow (~50-100 feeds/s for 50-item Chinese feeds,
bench/bench_parsing.py), and a feed that changed usually changed by one item.
So `parse_feed` can skip the items it parsed before: the caller passes the
`item_keys` of the last parse as `skip_items`, and only items whose XML differs
are handed to feedparser, inside the feed's own header and footer so that
namespaces and the channel still apply. Whenever the document cannot be split
safely into items, the whole feed is parsed as usual.

Before feedparser sees the text, `doctype.neutralise` removes document type and entity
declarations (and refuses nested entities); after it, publication times are read by
`dates.parse_pubtime` in the source's zone, links are made absolute, and every text
field loses control, zero-width and bidirectional-override characters (`text.clean_text`).
"""

from __future__ import annotations

import calendar
import hashlib
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, NamedTuple
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import feedparser

from ..i18n import t
from ..text import clean_text
from .dates import parse_pubtime
from .decode import strip_xml_encoding
from .doctype import EntityExpansion, drop_forbidden_chars, neutralise
from .rsshub import rsshub_error

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
# feedparser invents dates from Chinese ones it cannot read (it keeps the year): never trust
# its value for a string holding CJK characters that our own reader could not place.
_CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
_EXPLICIT_ZONE = re.compile(
    r"(?:[A-Z][a-z]{2}, )?\d{1,2} [A-Z][a-z]{2} (?:19|20)\d\d \d\d:\d\d(?::\d\d)? (?:[+-]\d{4}|GMT|UTC|UT|Z)"
    r"|(?:19|20)\d\d-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)"
)
_WEB = ("http", "https")


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


class _Context(NamedTuple):
    """What reading entries needs besides the document: the source's zone, now, the feed's address."""

    zone: tzinfo
    now: datetime | None
    base_url: str | None


def _published(entry: Any, ctx: _Context) -> datetime | None:
    for key in ("published", "updated", "created"):
        # dict.get: FeedParserDict.get("updated") falls back to "published" with a warning.
        raw = str(dict.get(entry, key) or "").strip()
        if not raw:
            continue
        parsed = dict.get(entry, f"{key}_parsed")
        if parsed is not None and _EXPLICIT_ZONE.fullmatch(raw):
            # RFC 822 or ISO 8601 with a numeric offset or GMT/UTC: feedparser read it right already.
            return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
        when = parse_pubtime(raw, ctx.zone, ctx.now)
        if when is not None:
            return when
        if parsed is None or _CJK.search(raw):
            continue
        # A shape only feedparser knows. It returns UTC and reads a date without a zone
        # as UTC; Chinese feeds mean local time, so re-read those.
        when = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
        if not _HAS_ZONE.search(raw):
            when = when.replace(tzinfo=ctx.zone).astimezone(UTC)
        return when
    return None


def _link_base(d: Any, base_url: str | None) -> str | None:
    """What relative item links are relative to.

    RSS has no rule; CMSs (and miniflux's reader) mean the channel's `<link>`, the page
    the items are listed on, itself made absolute against the feed's address. Atom says
    the document's address (xml:base is applied by feedparser in both).
    """
    if not base_url or urlsplit(base_url).scheme not in _WEB:
        return None
    channel = str(d.feed.get("link") or "").strip()
    if channel and not str(d.get("version") or "").startswith("atom"):
        site = urljoin(base_url, channel)
        if urlsplit(site).scheme in _WEB:
            return site
    return base_url


def _absolute(link: str | None, base: str | None) -> str | None:
    if not link or not base or urlsplit(link).scheme:
        return link
    return urljoin(base, link)


def _summary(entry: Any) -> str:
    summary = entry.get("summary") or ""
    # Some feeds put the real text only in <content:encoded> / Atom <content>.
    for content in entry.get("content") or ():
        value = content.get("value") or ""
        if len(value) > len(summary):
            summary = value
    return summary


def _clean(value: object) -> str | None:
    text = clean_text(str(value)).strip() if value is not None else ""
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


def _entries(d: Any, ctx: _Context) -> list[FeedEntry]:
    base = _link_base(d, ctx.base_url)
    return [
        FeedEntry(
            guid=_clean(e.get("id")),
            link=_absolute(_clean(e.get("link")), base),
            title=clean_text(e.get("title") or "").strip(),
            summary_html=clean_text(_summary(e)),
            published=_published(e, ctx),
        )
        for e in d.entries
    ]


def _incremental(split: _Split, skip: Collection[str], ctx: _Context) -> ParsedFeed | None:
    """Parse only the items not in `skip`; None when the result cannot be trusted."""
    keys = [_item_key(chunk) for chunk in split.items]
    fresh = [chunk for chunk, key in zip(split.items, keys, strict=True) if key not in skip]
    d = _feedparser(split.head + "".join(fresh) + split.tail)
    entries = _entries(d, ctx)
    if d.get("bozo") or not d.get("version") or len(entries) != len(fresh):
        return None
    return ParsedFeed(
        title=clean_text(d.feed.get("title") or "").strip(),
        entries=entries,
        bozo=None,
        item_keys=frozenset(keys),
        skipped=len(split.items) - len(fresh),
    )


def parse_feed(
    text: str,
    *,
    naive_tz: tzinfo = _SHANGHAI,
    skip_items: Collection[str] = (),
    base_url: str | None = None,
    now: datetime | None = None,
) -> ParsedFeed:
    """Parse decoded feed text (see decode.decode_feed) into plain dataclasses.

    `naive_tz` is the source's zone: dates without a zone, and CST, are read in it
    (dates.parse_pubtime). `now` places relative dates (5分钟前) and caps a date without
    a time. `base_url` is the address the feed was fetched from (after redirects):
    relative item links are made absolute against it (see `_link_base`).
    `skip_items`: the `item_keys` of this feed's previous parse; items whose XML is
    unchanged since are left out of `entries` and counted in `skipped`.
    A broken or truncated document yields the entries that could be recovered and a
    `bozo` message; a body that is not a feed at all (RSSHub's error page included, named
    as such) or that defines nested entities raises FeedParseError.
    """
    try:
        text = neutralise(strip_xml_encoding(text))
    except EntityExpansion as exc:
        raise FeedParseError(str(exc)) from None
    ctx = _Context(naive_tz, now, base_url)
    split = _split(text)
    if split is not None and skip_items:
        fast = _incremental(split, skip_items, ctx)
        if fast is not None:
            return fast

    d = _feedparser(text)
    if d.get("bozo") and (cleaned := drop_forbidden_chars(text)) is not None:
        # A CMS that writes control characters breaks strict XML parsing: parse without them.
        text, split = cleaned, _split(cleaned)
        d = _feedparser(text)
    bozo = None
    if d.get("bozo"):
        problem = d.get("bozo_exception")
        bozo = f"{type(problem).__name__}: {problem}" if problem is not None else "malformed feed"
    if not d.get("version") and not d.entries:
        start = " ".join(text[:80].split())
        raise FeedParseError(
            rsshub_error(text) or t("feed_error_not_a_feed", start=start, detail=bozo or "-")
        )
    entries = _entries(d, ctx)
    keys: frozenset[str] = frozenset()
    if split is not None and not bozo and len(entries) == len(split.items):
        keys = frozenset(_item_key(chunk) for chunk in split.items)
    entries = [e for e in entries if e.guid or e.link or e.title or e.summary_html]
    # In a cut-off document the last item may be cut too: without a guid or link
    # it is a fragment (half a title) that would become a bogus report.
    if bozo and entries and not (entries[-1].guid or entries[-1].link):
        entries.pop()
    title = clean_text(d.feed.get("title") or "").strip()
    return ParsedFeed(title=title, entries=entries, bozo=bozo, item_keys=keys)
