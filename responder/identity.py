"""A report's identity, so the same news item is stored once.

Feeds disagree on what identifies an item. Following FreshRSS (`Feed.php`,
`decideEntryGuid`): trust the guid when it looks like one, else the link, else a
hash of link + title. Storage then enforces identity in two ways, because neither
alone is enough (models.Report has a unique `identity` AND a unique `link_key`):

- `identity` (report_identity): catches a republished item whose guid is a bare
  number or short token that the CMS reassigned, and items without any guid;
- `link_key` (normalize_link of the link): catches an item republished with a
  changed but well-formed guid at the same address, and the same URL reached from
  two different sources (a portal feed and an aggregator) — one report, not two.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["guid_is_reliable", "guids_unique", "normalize_link", "report_identity"]

# Query parameters that say who shared a link, not what it points to.
_TRACKING_PREFIXES = ("utm_",)
_TRACKING = frozenset(
    {
        "spm", "fbclid", "gclid", "yclid", "dclid", "msclkid", "mc_cid", "mc_eid",
        "isappinstalled", "share_token", "share_source", "share_medium", "sharer_shareinfo",
        "sharer_shareinfo_first", "wxshare_count", "wxfrom", "timestamp_share", "_hsenc", "_hsmi",
    }
)  # fmt: skip
# `from` is meaningful on some sites; WeChat adds it with these values when a link is shared.
_SHARE_FROM = frozenset({"singlemessage", "groupmessage", "timeline", "message"})
# On WeChat articles __biz/mid/idx/sn name the article; these only describe the reader's visit.
_WECHAT_EXTRA = frozenset(
    {"chksm", "scene", "srcid", "clicktime", "enterid", "sessionid", "exportkey", "ascene"}
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_MIN_GUID_LEN = 8  # shorter tokens are per-feed counters, not identities


def _tracking(key: str, value: str, host: str) -> bool:
    k = key.lower()
    if k in _TRACKING or k.startswith(_TRACKING_PREFIXES):
        return True
    if k == "from" and value.lower() in _SHARE_FROM:
        return True
    return host == "mp.weixin.qq.com" and k in _WECHAT_EXTRA


def normalize_link(url: str | None) -> str | None:
    """Canonical form of an article address, or None when there is none.

    Lower-cases scheme and host, treats http and https as one (the key uses https),
    drops the default port, the fragment and tracking parameters (utm_*, spm,
    WeChat share markers ...), sorts the remaining query parameters and keeps the
    path as it is. A string that is not an absolute http(s) address is returned
    stripped and otherwise unchanged.
    """
    if url is None:
        return None
    url = url.strip()
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # e.g. a port that is not a number
        return url
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return url
    host = parts.hostname.lower().rstrip(".")
    netloc = host
    if port is not None and port not in _DEFAULT_PORTS.values():
        netloc = f"{host}:{port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _tracking(k, v, host)]
    query.sort()
    path = parts.path or "/"
    return urlunsplit(("https", netloc, path, urlencode(query, doseq=True), ""))


def _is_site_root(key: str) -> bool:
    """A link to a home page (no path, no query) names a site, not an item."""
    parts = urlsplit(key)
    return bool(parts.scheme) and parts.path in ("", "/") and not parts.query


def guid_is_reliable(guid: str | None) -> bool:
    """Whether a guid can identify an item across feeds on its own.

    Not reliable: missing or blank; a bare number (a CMS row id, renumbered on
    republishing and shared by every site running the same CMS); a short token;
    a relative path; a URL of a site's home page.
    """
    if guid is None:
        return False
    g = guid.strip()
    if len(g) < _MIN_GUID_LEN or re.fullmatch(r"[\d\s._-]+", g):
        return False
    if g.startswith(("/", "./", "../")):  # a relative path is unique only within one site
        return False
    key = normalize_link(g)
    return not (key is not None and key.startswith("https://") and _is_site_root(key))


def guids_unique(guids: Iterable[str | None]) -> bool:
    """True when no guid repeats within one fetch of a feed.

    FreshRSS's test for a feed whose guids cannot be trusted at all (every item
    carrying the same guid); pass the result to report_identity as `feed_guids_unique`.
    """
    seen: set[str] = set()
    for g in guids:
        if g is None or not g.strip():
            continue
        g = g.strip()
        if g in seen:
            return False
        seen.add(g)
    return True


def report_identity(
    guid: str | None, link: str | None, title: str | None, *, feed_guids_unique: bool = True
) -> str:
    """The stored identity of a report: guid, else normalised link, else sha1 of link + title.

    - guid when reliable (see guid_is_reliable) and the feed's guids are unique;
      a guid that is a URL is normalised like a link, so it equals the link-based
      identity when a feed later drops its guids;
    - else the normalised link, unless it is only a site's home page;
    - else "sha1:" + sha1(link + "\\n" + title).

    Storage additionally keeps the normalised link unique (Report.link_key): a
    republished item with a changed guid but the same link is still one report,
    and so is the same URL seen from two sources.
    """
    if feed_guids_unique and guid_is_reliable(guid):
        assert guid is not None
        g = guid.strip()
        key = normalize_link(g)
        return key if key is not None else g
    link_key = normalize_link(link)
    if link_key is not None and urlsplit(link_key).scheme and not _is_site_root(link_key):
        return link_key
    material = f"{link_key or ''}\n{(title or '').strip()}"
    return "sha1:" + hashlib.sha1(material.encode("utf-8")).hexdigest()
