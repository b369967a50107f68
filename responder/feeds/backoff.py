"""When to poll a feed next. Pure: every input, including `now` and randomness, is an argument."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

__all__ = ["first_poll_offset", "next_poll"]

# 2**40 intervals is far past any sane max_backoff; the cap keeps the float finite.
_MAX_EXPONENT = 40


def next_poll(
    now: datetime,
    interval: timedelta,
    consecutive_failures: int,
    retry_after: timedelta | None,
    max_age: timedelta | None,
    max_backoff: timedelta,
    jitter: float,
    rand: float,
) -> datetime:
    """The time of the next poll after one that ended at `now`.

    After a success (`consecutive_failures == 0`): `interval` spread by
    ±`jitter`·interval (`rand` in [0, 1) picks the point; 0.5 means no spread),
    then stretched to `max_age` (Cache-Control) or `retry_after` if either is
    longer: a server's wish is a floor, never shortened.

    After failure number k (k = consecutive_failures ≥ 1): interval·2**k with
    the same spread, capped at `max_backoff`, and never sooner than
    `retry_after` (a 429/503 that names its pause is obeyed even past the cap).
    A failing feed is therefore polled ever more rarely, but at least every
    `max_backoff`, so its recovery is noticed.
    """
    if interval <= timedelta(0):
        raise ValueError(f"interval must be positive, got {interval}")
    if consecutive_failures < 0:
        raise ValueError(f"consecutive_failures must be >= 0, got {consecutive_failures}")
    if not 0.0 <= rand < 1.0:
        raise ValueError(f"rand must be in [0, 1), got {rand}")
    spread = 1.0 + jitter * (2.0 * rand - 1.0)
    seconds = interval.total_seconds() * spread
    floors = [retry_after or timedelta(0)]
    if consecutive_failures:
        seconds *= 2.0 ** min(consecutive_failures, _MAX_EXPONENT)
        seconds = min(seconds, max_backoff.total_seconds())
    else:
        floors.append(max_age or timedelta(0))
    return now + max(timedelta(seconds=seconds), *floors)


def first_poll_offset(source_name: str, interval: timedelta) -> timedelta:
    """A stable offset in [0, interval) for a source's first poll after start-up.

    Derived from a hash of the name (not Python's salted hash()), so each source
    keeps its slot across restarts and hundreds of feeds spread over the interval
    instead of firing together.
    """
    digest = hashlib.blake2b(source_name.encode("utf-8"), digest_size=8).digest()
    fraction = int.from_bytes(digest, "big") / 2.0**64
    return timedelta(seconds=interval.total_seconds() * fraction)
