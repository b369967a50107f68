"""Feed intake: fetch bytes (fetch), decode them (decode, guess), parse them (parse: doctype, dates,
rsshub) in bounded worker processes (isolate, worker), schedule the next poll (backoff).

Typical use by the poller::

    async with Fetcher(config.polling) as fetcher:
        result = await fetcher.fetch(url, Validators(state.etag, state.last_modified, state.body_hash))
        if result.status == "ok":
            feed = await pool.parse(result.text, zone=config.tz_of(source).key, base_url=result.url, now=now)
        when = next_poll(now, interval, failures, result.retry_after, result.max_age, ...)

`parse_feed(text, naive_tz=..., base_url=..., now=...)` is the same parse in this process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .backoff import first_poll_offset, next_poll
from .decode import decode_feed
from .parse import FeedEntry, FeedParseError, ParsedFeed, parse_feed

if TYPE_CHECKING:
    from .fetch import Fetcher, FetchResult, FetchStatus, Validators, body_hash

# The fetcher (and its HTTP client) is imported on first use: the parse workers import this
# package too, and need no HTTP client in their memory.
_FETCH_NAMES = frozenset({"Fetcher", "FetchResult", "FetchStatus", "Validators", "body_hash"})


def __getattr__(name: str) -> Any:
    if name in _FETCH_NAMES:
        from . import fetch

        return getattr(fetch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FeedEntry",
    "FeedParseError",
    "FetchResult",
    "FetchStatus",
    "Fetcher",
    "ParsedFeed",
    "Validators",
    "body_hash",
    "decode_feed",
    "first_poll_offset",
    "next_poll",
    "parse_feed",
]
