"""Feed intake: fetch bytes (fetch), decode them (decode), parse them (parse), schedule the next poll (backoff).

Typical use by the poller::

    async with Fetcher(config.polling) as fetcher:
        result = await fetcher.fetch(url, Validators(state.etag, state.last_modified, state.body_hash))
        if result.status == "ok":
            feed = parse_feed(result.text, naive_tz=config.tz)
        when = next_poll(now, interval, failures, result.retry_after, result.max_age, ...)
"""

from __future__ import annotations

from .backoff import first_poll_offset, next_poll
from .decode import decode_feed
from .fetch import Fetcher, FetchResult, FetchStatus, Validators, body_hash
from .parse import FeedEntry, FeedParseError, ParsedFeed, parse_feed

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
