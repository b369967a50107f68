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
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, NamedTuple
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import feedparser
from feedparser.datetimes import _parse_date as _feedparser_date

from ..i18n import t
from ..text import clean_text
from .dates import parse_pubtime
from .decode import strip_xml_encoding
from .doctype import EntityExpansion, drop_forbidden_chars, neutralise
from .fastparse import LAZY as _LAZY
from .fastparse import RawEntry, read_fast
from .itemsplit import Split, item_key, split_items
from .rsshub import rsshub_error

__all__ = ["FeedEntry", "FeedParseError", "ParsedFeed", "parse_feed"]

_SHANGHAI = ZoneInfo("Asia/Shanghai")
# A date string that names its zone: +0800, +08:00, Z, GMT/UTC or a letter zone (EST, CST).
_HAS_ZONE = re.compile(r"([+-]\d{2}:?\d{2}|Z|\b(?:GMT|UT|UTC|[A-Z]{3,4}))\s*$")
# feedparser trusts the HTTP charset over the (already stripped) declaration;
# we hand it UTF-8 bytes and say so, so it never guesses.
_HEADERS = {"content-type": "application/xml; charset=utf-8"}
# One RSS <item> or Atom <entry>, shortest match; checked for safety in _split.
# feedparser invents dates from Chinese ones it cannot read (it keeps the year): never trust
# its value for a string holding CJK characters that our own reader could not place.
_CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
_EXPLICIT_ZONE = re.compile(
    r"(?:[A-Z][a-z]{2}, )?\d{1,2} [A-Z][a-z]{2} (?:19|20)\d\d \d\d:\d\d(?::\d\d)? (?:[+-]\d{4}|GMT|UTC|UT|Z)"
    r"|(?:19|20)\d\d-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)"
)
_RFC822 = re.compile(
    r"(?:[A-Z][a-z]{2}, )?(\d{1,2}) ([A-Z][a-z]{2}) ((?:19|20)\d\d) (\d\d):(\d\d)(?::(\d\d))? ([+-]\d{4}|GMT|UTC|UT|Z)"
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_ZONE_OFFSETS = {"GMT": 0, "UTC": 0, "UT": 0, "Z": 0}
_WEB = ("http", "https")
_DATE_KEYS = ("published", "updated", "created")


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


class _Document(NamedTuple):
    """A read document: its version ('' when not a feed), title, channel link, items, defect."""

    version: str
    title: str
    link: str | None
    entries: list[RawEntry]
    bozo: str | None


class _Context(NamedTuple):
    """What reading entries needs besides the document: the source's zone, now, the feed's address."""

    zone: tzinfo
    now: datetime | None
    base_url: str | None


def _explicit(raw: str, parsed: Any) -> datetime | None:
    """A date that names its zone (RFC 822 or ISO 8601 with an offset, GMT or UTC), to the second."""
    if parsed is not _LAZY:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC) if parsed is not None else None
    try:  # what feedparser's reader gives for these shapes, at a twentieth of its cost
        m = _RFC822.fullmatch(raw)
        when = (
            _rfc822(m)
            if m is not None
            else datetime.fromisoformat(raw).astimezone(UTC).replace(microsecond=0)
        )
    except (TypeError, ValueError, KeyError):
        when = None
    return when if when is not None else _explicit(raw, _feedparser_date(raw))


def _rfc822(m: re.Match[str]) -> datetime | None:
    """An RFC 822 date with a numeric offset or GMT/UTC (`_RFC822`), in UTC; None when impossible."""
    day, month, year, hour, minute, second, zone = m.groups()
    offset = _ZONE_OFFSETS.get(zone)
    if offset is None:
        sign = -1 if zone[0] == "-" else 1
        offset = sign * (int(zone[1:3]) * 60 + int(zone[3:5]))
    try:
        local = datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second or 0))
    except (ValueError, KeyError):
        return None
    return (local - timedelta(minutes=offset)).replace(tzinfo=UTC)


def _published(dates: Iterable[tuple[str, Any]], ctx: _Context) -> datetime | None:
    """The first readable of an item's (raw date, feedparser's reading) pairs: published, updated, created.

    The reading is `_LAZY` when the fast parser read the document: feedparser's date reader
    is asked only for a shape our own reader does not know.
    """
    for value, parsed in dates:
        raw = value.strip()
        if not raw:
            continue
        if parsed is _LAZY and (m := _RFC822.fullmatch(raw)) is not None and (fast := _rfc822(m)) is not None:
            return fast
        if _EXPLICIT_ZONE.fullmatch(raw):
            # RFC 822 or ISO 8601 with a numeric offset or GMT/UTC: feedparser read it right already.
            exact = _explicit(raw, parsed)
            if exact is not None:
                return exact
            parsed = None
        when = parse_pubtime(raw, ctx.zone, ctx.now)
        if when is not None:
            return when
        if parsed is _LAZY:
            parsed = None if _CJK.search(raw) else _feedparser_date(raw)
        if parsed is None or _CJK.search(raw):
            continue
        # A shape only feedparser knows. It returns UTC and reads a date without a zone
        # as UTC; Chinese feeds mean local time, so re-read those.
        when = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
        if not _HAS_ZONE.search(raw):
            when = when.replace(tzinfo=ctx.zone).astimezone(UTC)
        return when
    return None


def _link_base(doc: _Document, base_url: str | None) -> str | None:
    """What relative item links are relative to.

    RSS has no rule; CMSs (and miniflux's reader) mean the channel's `<link>`, the page
    the items are listed on, itself made absolute against the feed's address. Atom says
    the document's address (xml:base is applied by feedparser in both).
    """
    if not base_url or urlsplit(base_url).scheme not in _WEB:
        return None
    channel = str(doc.link or "").strip()
    if channel and not doc.version.startswith("atom"):
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
    if isinstance(value, str) and value.isascii() and value.isprintable():
        return value.strip() or None  # no control character: nothing for clean_text to remove
    text = clean_text(str(value)).strip() if value is not None else ""
    return text or None


def _feedparser(text: str) -> Any:
    # No sanitising or URI rewriting inside summaries: together they are ~45% of
    # feedparser's time (bench/bench_parsing.py), and summaries are only ever
    # turned into plain text (text.html_to_text drops scripts, tags, attributes).
    return feedparser.parse(
        text.encode("utf-8"), response_headers=_HEADERS, sanitize_html=False, resolve_relative_uris=False
    )


def _by_feedparser(text: str) -> _Document:
    d = _feedparser(text)
    bozo = None
    if d.get("bozo"):
        problem = d.get("bozo_exception")
        bozo = f"{type(problem).__name__}: {problem}" if problem is not None else "malformed feed"
    entries = [
        RawEntry(
            guid=e.get("id"),
            link=e.get("link"),
            title=e.get("title"),
            summary=_summary(e),
            # dict.get: FeedParserDict.get("updated") falls back to "published" with a warning.
            dates=tuple(
                (str(dict.get(e, k)), dict.get(e, f"{k}_parsed")) for k in _DATE_KEYS if dict.get(e, k)
            ),
        )
        for e in d.entries
    ]
    return _Document(
        str(d.get("version") or ""), d.feed.get("title") or "", d.feed.get("link"), entries, bozo
    )


def _read(text: str, reference: bool) -> _Document:
    """The document read by the fast parser, or by feedparser when it cannot (or `reference`)."""
    raw = None if reference else read_fast(text)
    if raw is None:
        return _by_feedparser(text)
    return _Document(raw.version, raw.title, raw.link, raw.entries, None)


def _entries(doc: _Document, ctx: _Context) -> list[FeedEntry]:
    base = _link_base(doc, ctx.base_url)
    return [
        FeedEntry(
            guid=_clean(e.guid),
            link=_absolute(_clean(e.link), base),
            title=clean_text(e.title or "").strip(),
            summary_html=clean_text(e.summary),
            published=_published(e.dates, ctx),
        )
        for e in doc.entries
    ]


def _incremental(split: Split, skip: Collection[str], ctx: _Context, reference: bool) -> ParsedFeed | None:
    """Parse only the items not in `skip`; None when the result cannot be trusted."""
    keys = [item_key(chunk) for chunk in split.items]
    fresh = [chunk for chunk, key in zip(split.items, keys, strict=True) if key not in skip]
    doc = _read(split.head + "".join(fresh) + split.tail, reference)
    entries = _entries(doc, ctx)
    if doc.bozo or not doc.version or len(entries) != len(fresh):
        return None
    return ParsedFeed(
        title=clean_text(doc.title).strip(),
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
    reference: bool = False,
) -> ParsedFeed:
    """Parse decoded feed text (see decode.decode_feed) into plain dataclasses.

    `naive_tz` is the source's zone: dates without a zone, and CST, are read in it
    (dates.parse_pubtime). `now` places relative dates (5分钟前) and caps a date without
    a time. `base_url` is the address the feed was fetched from (after redirects):
    relative item links are made absolute against it (see `_link_base`).
    `skip_items`: the `item_keys` of this feed's previous parse; items whose XML is
    unchanged since are left out of `entries` and counted in `skipped`.
    A well-formed RSS or Atom document is read by the fast parser (`fastparse.read_fast`),
    anything else by feedparser; `reference=True` has feedparser read everything (the
    reference the fast parser is compared with).
    A broken or truncated document yields the entries that could be recovered and a
    `bozo` message; a body that is not a feed at all (RSSHub's error page included, named
    as such) or that defines nested entities raises FeedParseError.
    """
    try:
        text = neutralise(strip_xml_encoding(text))
    except EntityExpansion as exc:
        raise FeedParseError(str(exc)) from None
    ctx = _Context(naive_tz, now, base_url)
    split = split_items(text)
    if split is not None and skip_items:
        fast = _incremental(split, skip_items, ctx, reference)
        if fast is not None:
            return fast

    doc = _read(text, reference)
    if doc.bozo and (cleaned := drop_forbidden_chars(text)) is not None:
        # A CMS that writes control characters breaks strict XML parsing: parse without them.
        text, split = cleaned, split_items(cleaned)
        doc = _read(text, reference)
    bozo = doc.bozo
    if not doc.version and not doc.entries:
        start = " ".join(text[:80].split())
        raise FeedParseError(
            rsshub_error(text) or t("feed_error_not_a_feed", start=start, detail=bozo or "-")
        )
    entries = _entries(doc, ctx)
    keys: frozenset[str] = frozenset()
    if split is not None and not bozo and len(entries) == len(split.items):
        keys = frozenset(item_key(chunk) for chunk in split.items)
    entries = [e for e in entries if e.guid or e.link or e.title or e.summary_html]
    # In a cut-off document the last item may be cut too: without a guid or link
    # it is a fragment (half a title) that would become a bogus report.
    if bozo and entries and not (entries[-1].guid or entries[-1].link):
        entries.pop()
    title = clean_text(doc.title).strip()
    return ParsedFeed(title=title, entries=entries, bozo=bozo, item_keys=keys)
