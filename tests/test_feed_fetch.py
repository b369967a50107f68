"""Fetching against a real HTTP server on 127.0.0.1: conditional GET, limits, errors, backoff."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kit.feedserver import DATA, FeedServer

from responder.config import Polling
from responder.feeds import (
    Fetcher,
    FetchResult,
    Validators,
    body_hash,
    first_poll_offset,
    next_poll,
    parse_feed,
)
from responder.i18n import t

NOW = datetime(2024, 4, 1, 2, 0, tzinfo=UTC)
FEED = (DATA / "utf8.xml").read_bytes()
LAST_MODIFIED = "Mon, 01 Apr 2024 01:00:00 GMT"


def polling(**kw: object) -> Polling:
    return Polling(**kw)  # type: ignore[arg-type]


NONE = Validators()


async def fetch(url: str, validators: Validators = NONE, **kw: object) -> FetchResult:
    async with Fetcher(polling(**kw), clock=lambda: NOW) as fetcher:
        return await fetcher.fetch(url, validators)


async def test_second_fetch_sends_validators_and_gets_not_modified(feed_server: FeedServer) -> None:
    feed_server.route("/f", FEED, etag='"v1"', last_modified=LAST_MODIFIED)
    async with Fetcher(Polling()) as fetcher:
        first = await fetcher.fetch(feed_server.url("/f"), Validators())
        assert first.status == "ok" and first.text is not None
        assert (first.etag, first.last_modified) == ('"v1"', LAST_MODIFIED)
        stored = Validators(first.etag, first.last_modified, first.body_hash)
        second = await fetcher.fetch(feed_server.url("/f"), stored)
    sent = feed_server.requests_to("/f")[1].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == LAST_MODIFIED
    assert second.status == "not_modified"
    assert second.text is None  # nothing to parse
    assert (second.etag, second.last_modified, second.body_hash) == ('"v1"', LAST_MODIFIED, first.body_hash)


async def test_last_modified_alone_gives_not_modified(feed_server: FeedServer) -> None:
    feed_server.route("/f", FEED, last_modified=LAST_MODIFIED)
    result = await fetch(feed_server.url("/f"), Validators(last_modified=LAST_MODIFIED))
    assert result.status == "not_modified"
    assert feed_server.requests_to("/f")[0].headers["if-modified-since"] == LAST_MODIFIED


async def test_same_body_again_is_unchanged_and_not_decoded(feed_server: FeedServer) -> None:
    # A server without validators: the body hash is what tells us nothing changed.
    feed_server.route("/f", FEED)
    result = await fetch(feed_server.url("/f"), Validators(body_hash=body_hash(FEED)))
    assert result.status == "unchanged"
    assert result.text is None
    assert result.body_hash == body_hash(FEED)


async def test_changed_body_is_ok_with_new_hash(feed_server: FeedServer) -> None:
    feed_server.route("/f", FEED)
    result = await fetch(feed_server.url("/f"), Validators(body_hash="old"))
    assert result.status == "ok"
    assert result.body_hash == body_hash(FEED)
    assert len(parse_feed(result.text or "").entries) == 3


async def test_server_error_is_reported_not_raised(feed_server: FeedServer) -> None:
    feed_server.route("/f", b"oops", status=500, content_type="text/plain")
    kept = Validators('"v1"', LAST_MODIFIED, "h")
    result = await fetch(feed_server.url("/f"), kept)
    assert result.status == "error"
    assert result.http_status == 500
    assert result.error == t("feed_error_http_status", status=500, reason="Internal Server Error")
    # The validators survive an error, so the next fetch is still conditional.
    assert (result.etag, result.last_modified, result.body_hash) == ('"v1"', LAST_MODIFIED, "h")


async def test_not_found(feed_server: FeedServer) -> None:
    result = await fetch(feed_server.url("/missing"))
    assert (result.status, result.http_status) == ("error", 404)


async def test_a_stalled_response_times_out(feed_server: FeedServer) -> None:
    # Headers and half the body arrive, then nothing: the total timeout ends it.
    feed_server.route("/slow", FEED, hang=True)
    result = await fetch(feed_server.url("/slow"), timeout=timedelta(seconds=0.3))
    assert result.status == "error"
    assert result.error == t("feed_error_timeout", seconds="0.3")


async def test_no_answer_at_all_times_out(feed_server: FeedServer) -> None:
    feed_server.route("/late", FEED, delay=30)
    result = await fetch(feed_server.url("/late"), timeout=timedelta(seconds=0.3))
    assert result.error == t("feed_error_timeout", seconds="0.3")


async def test_connection_refused(feed_server: FeedServer) -> None:
    url = feed_server.url("/f")
    feed_server.stop()
    result = await fetch(url)
    assert result.status == "error"
    assert result.error == t("feed_error_connect", url=url, detail="Connection refused")


@pytest.mark.parametrize("with_length", [False, True])
async def test_oversized_body_is_aborted_without_reading_it(
    feed_server: FeedServer, with_length: bool
) -> None:
    total = 256 * 1024 * 1024
    feed_server.route("/huge", stream_total=total, content_length=with_length)
    result = await fetch(feed_server.url("/huge"), max_body_bytes=1024 * 1024)
    assert result.status == "error"
    assert result.error == t("feed_error_too_large", cap=1024 * 1024)
    assert "1048576" in result.error
    stats = feed_server.stats("/huge")
    assert stats.finished.wait(10)
    # Only what fitted in the socket buffers left the server, not the 256 MiB.
    assert stats.body_bytes_sent < total // 8


async def test_redirects_are_followed(feed_server: FeedServer) -> None:
    feed_server.redirect("/old", "/mid", status=301)
    feed_server.redirect("/mid", feed_server.url("/new"))
    feed_server.route("/new", FEED)
    result = await fetch(feed_server.url("/old"))
    assert result.status == "ok"


async def test_redirect_loop_is_an_error(feed_server: FeedServer) -> None:
    feed_server.redirect("/a", "/b")
    feed_server.redirect("/b", "/a")
    result = await fetch(feed_server.url("/a"))
    assert result.status == "error"
    assert result.error == t("feed_error_redirect_loop", url=feed_server.url("/a"))
    assert len(feed_server.requests_to("/a")) == 1


async def test_too_many_redirects(feed_server: FeedServer) -> None:
    for i in range(4):
        feed_server.redirect(f"/r{i}", f"/r{i + 1}")
    feed_server.route("/r4", FEED)
    result = await fetch(feed_server.url("/r0"), max_redirects=2)
    assert result.error == t("feed_error_too_many_redirects", max=2)
    assert feed_server.requests_to("/r3") == []


async def test_user_agent_is_sent(feed_server: FeedServer) -> None:
    feed_server.route("/f", FEED)
    await fetch(feed_server.url("/f"), user_agent="bureau-watch/1")
    assert feed_server.requests_to("/f")[0].headers["user-agent"] == "bureau-watch/1"


async def test_per_host_limit_bounds_concurrent_requests(feed_server: FeedServer) -> None:
    # Twelve slow feeds on one host with per_host=3: never more than 3 in flight.
    for i in range(12):
        feed_server.route(f"/f{i}", FEED, delay=0.05)
    async with Fetcher(polling(per_host=3)) as fetcher:
        results = await asyncio.gather(
            *(fetcher.fetch(feed_server.url(f"/f{i}"), Validators()) for i in range(12))
        )
    statuses = [r.status for r in results]
    assert statuses == ["ok"] * 12
    assert feed_server.peak_concurrency == 3


async def test_retry_after_seconds_is_honoured_by_next_poll(feed_server: FeedServer) -> None:
    feed_server.route("/busy", b"", status=503, headers={"Retry-After": "7200"}, content_type=None)
    result = await fetch(feed_server.url("/busy"))
    assert (result.status, result.http_status) == ("error", 503)
    assert result.retry_after == timedelta(hours=2)
    when = next_poll(NOW, timedelta(minutes=5), 1, result.retry_after, None, timedelta(hours=6), 0.1, 0.5)
    assert when == NOW + timedelta(hours=2)


async def test_retry_after_date_is_read_against_the_server_clock(feed_server: FeedServer) -> None:
    headers = {"Retry-After": "Mon, 01 Apr 2024 03:00:00 GMT", "Date": "Mon, 01 Apr 2024 02:30:00 GMT"}
    feed_server.route("/slow-down", b"", status=429, headers=headers, content_type=None)
    result = await fetch(feed_server.url("/slow-down"))
    assert result.retry_after == timedelta(minutes=30)


async def test_cache_control_max_age_is_a_floor_capped_at_a_day(feed_server: FeedServer) -> None:
    feed_server.route("/a", FEED, headers={"Cache-Control": "public, max-age=1800"})
    feed_server.route("/b", FEED, headers={"Cache-Control": "max-age=31536000"})
    a = await fetch(feed_server.url("/a"))
    b = await fetch(feed_server.url("/b"))
    assert a.max_age == timedelta(minutes=30)
    assert b.max_age == timedelta(days=1)
    when = next_poll(NOW, timedelta(minutes=5), 0, None, a.max_age, timedelta(hours=6), 0.1, 0.99)
    assert when == NOW + timedelta(minutes=30)


async def test_local_file_and_unchanged_detection(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes((DATA / "gbk.xml").read_bytes())
    first = await fetch(path.as_uri())
    assert first.status == "ok"
    assert parse_feed(first.text or "").entries[0].title == "合肥市一化工厂发生爆炸 已造成3人死亡"
    again = await fetch(str(path), Validators(body_hash=first.body_hash))
    assert again.status == "unchanged"


async def test_missing_local_file(tmp_path: Path) -> None:
    result = await fetch((tmp_path / "nope.xml").as_uri())
    assert result.status == "error"
    assert str(tmp_path / "nope.xml") in (result.error or "")


async def test_unsupported_scheme() -> None:
    result = await fetch("ftp://example.cn/feed.xml")
    assert result.error == t("feed_error_bad_url", url="ftp://example.cn/feed.xml")


async def test_empty_body(feed_server: FeedServer) -> None:
    feed_server.route("/empty", b"")
    result = await fetch(feed_server.url("/empty"))
    assert result.error == t("feed_error_empty_body")


# -- backoff (pure) -----------------------------------------------------------

INTERVAL = timedelta(minutes=5)
CAP = timedelta(hours=6)


@pytest.mark.parametrize(
    ("rand", "expected"),
    [(0.5, INTERVAL), (0.0, timedelta(minutes=4, seconds=30)), (0.75, timedelta(minutes=5, seconds=15))],
)
def test_success_polls_after_interval_with_jitter(rand: float, expected: timedelta) -> None:
    assert next_poll(NOW, INTERVAL, 0, None, None, CAP, 0.1, rand) == NOW + expected


@pytest.mark.parametrize(
    ("failures", "expected"),
    [
        (1, timedelta(minutes=10)),
        (2, timedelta(minutes=20)),
        (5, timedelta(minutes=160)),
        (7, CAP),
        (500, CAP),
    ],
)
def test_failures_back_off_exponentially_up_to_the_cap(failures: int, expected: timedelta) -> None:
    assert next_poll(NOW, INTERVAL, failures, None, None, CAP, 0.1, 0.5) == NOW + expected


def test_retry_after_beyond_the_cap_is_still_obeyed() -> None:
    assert next_poll(NOW, INTERVAL, 9, timedelta(hours=8), None, CAP, 0.1, 0.5) == NOW + timedelta(hours=8)


def test_max_age_does_not_delay_a_failing_feed() -> None:
    # Cache-Control from the last good response says nothing about a failing one.
    assert next_poll(NOW, INTERVAL, 1, None, timedelta(hours=1), CAP, 0.0, 0.5) == NOW + timedelta(minutes=10)


def test_bad_rand_is_refused() -> None:
    with pytest.raises(ValueError, match="rand"):
        next_poll(NOW, INTERVAL, 0, None, None, CAP, 0.1, 1.0)


def test_first_poll_offsets_are_stable_and_spread() -> None:
    names = [f"source-{i}" for i in range(300)]
    offsets = [first_poll_offset(n, INTERVAL) for n in names]
    assert offsets == [first_poll_offset(n, INTERVAL) for n in names]
    assert all(timedelta(0) <= o < INTERVAL for o in offsets)
    # Spread over the interval: every minute of the five gets some sources.
    minutes = {int(o.total_seconds() // 60) for o in offsets}
    assert minutes == {0, 1, 2, 3, 4}
