"""Fetch feeds over HTTP (or from local files). The only module that fetches feeds.

One `Fetcher` holds one aiohttp `ClientSession` per event loop. It sends conditional
GETs, caps the time and size of every fetch, follows a bounded number of redirects
itself (so a loop is named as such), limits concurrency per host and reads Retry-After
and Cache-Control for the scheduler. `fetch()` never raises for a feed's own failures:
the result says what went wrong.

aiohttp rather than httpx (which stays for python-telegram-bot): a poll that answers 304
costs about a fifth of the CPU through aiohttp's C parser and connection pool as through
httpx/httpcore (`bench/bench_http.py` measures both side by side), and at 100,000 feeds
polling is mostly 304s.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from ..config import Polling
from ..i18n import t
from .decode import decode_feed
from .rsshub import rsshub_error

__all__ = ["FetchResult", "FetchStatus", "Fetcher", "Validators", "body_hash"]

FetchStatus = Literal["ok", "not_modified", "unchanged", "error"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DRAIN_LIMIT = 64 * 1024
_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d+)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*no-(?:store|cache)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Validators:
    """What we remember about a feed's last good response (FeedState columns)."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of one fetch.

    status: 'ok' (new body in `text`), 'not_modified' (304), 'unchanged' (200 or
    file with the stored body hash; not decoded, not to be parsed) or 'error'
    (`error` says what, in the user's language). `etag`, `last_modified` and
    `body_hash` are the validators to store for the next fetch (on error, the
    ones passed in). `retry_after` and `max_age` are hints for backoff.next_poll.
    `url` is the address the body came from, after redirects: relative links in
    the feed are relative to it.
    """

    status: FetchStatus
    text: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    retry_after: timedelta | None = None
    max_age: timedelta | None = None
    error: str | None = None
    http_status: int | None = None
    url: str | None = None


def body_hash(body: bytes) -> str:
    """The hash stored to recognise an unchanged body (hex BLAKE2b-128)."""
    return hashlib.blake2b(body, digest_size=16).hexdigest()


class _FetchFailed(Exception):
    """A precise, already-translated reason; turned into an 'error' result."""

    def __init__(self, message: str, http_status: int | None = None, retry_after: timedelta | None = None):
        super().__init__(message)
        self.http_status = http_status
        self.retry_after = retry_after


def _charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip("\"'") or None
    return None


def _root_cause(exc: BaseException) -> str:
    """The innermost OS error ("Connection refused") rather than the client's summary."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            # asyncio words a refusal as "Connect call failed (addr)"; the errno says it plainly.
            if isinstance(seen.errno, int) and seen.errno > 0:
                return os.strerror(seen.errno)
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    return str(exc) or type(exc).__name__


def _host_key(url: URL) -> str:
    return f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"


class Fetcher:
    """Fetches feeds with the limits of `Polling`. Use as `async with Fetcher(polling) as f:`.

    `max_hint` caps Retry-After and Cache-Control max-age (a server asking for a
    year's pause still gets polled daily). `clock` gives the current time for
    Retry-After dates when the response has no Date header. The connection pool is
    made on first use in the running event loop (and again if a later call runs in
    another loop), so a Fetcher may be built outside any loop.
    """

    def __init__(
        self,
        polling: Polling,
        *,
        max_hint: timedelta = timedelta(days=1),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.polling = polling
        self.max_hint = max_hint
        self._clock = clock
        self._timeout = polling.timeout.total_seconds()
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._headers = {"User-Agent": polling.user_agent, "Accept": _ACCEPT}

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        session, self._session = self._session, None
        if session is not None and not session.closed and self._loop is asyncio.get_running_loop():
            await session.close()

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._loop, self._hosts = loop, {}
            self._session = aiohttp.ClientSession(
                # Per-host semaphores do the real limiting; the pool just must not be the bottleneck.
                connector=aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300),
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=None),  # asyncio.timeout below bounds each request
                cookie_jar=aiohttp.CookieJar(unsafe=True),  # kept as a browser would, also for IP hosts
                trust_env=False,
            )
        return self._session

    async def fetch(self, url: str, validators: Validators) -> FetchResult:
        """Fetch `url` (http, https, file:// or an absolute path). Never raises for feed failures."""
        try:
            scheme = urlsplit(url).scheme.lower()
            if scheme in ("http", "https"):
                return await self._fetch_http(url, validators)
            if scheme == "file" or (scheme == "" and url.startswith("/")):
                return await self._fetch_file(url, validators)
            raise _FetchFailed(t("feed_error_bad_url", url=url))
        except _FetchFailed as exc:
            return self._error(validators, str(exc), exc.http_status, exc.retry_after)
        except Exception as exc:  # a fetch must never take the poller down
            return self._error(validators, t("feed_error_other", detail=f"{type(exc).__name__}: {exc}"))

    @staticmethod
    def _error(
        v: Validators, message: str, http_status: int | None = None, retry_after: timedelta | None = None
    ) -> FetchResult:
        return FetchResult(
            status="error",
            etag=v.etag,
            last_modified=v.last_modified,
            body_hash=v.body_hash,
            error=message,
            http_status=http_status,
            retry_after=retry_after,
        )

    @staticmethod
    def _finish(body: bytes, charset: str | None, v: Validators) -> tuple[FetchStatus, str | None, str]:
        if not body.strip():
            raise _FetchFailed(t("feed_error_empty_body"))
        digest = body_hash(body)
        if digest == v.body_hash:
            return "unchanged", None, digest
        return "ok", decode_feed(body, charset), digest

    # -- files --------------------------------------------------------------

    async def _fetch_file(self, url: str, v: Validators) -> FetchResult:
        parts = urlsplit(url)
        path = Path(unquote(parts.path)) if parts.scheme else Path(url)
        body = await asyncio.to_thread(self._read_file, path)
        status, text, digest = self._finish(body, None, v)
        return FetchResult(status=status, text=text, body_hash=digest, url=path.resolve().as_uri())

    def _read_file(self, path: Path) -> bytes:
        cap = self.polling.max_body_bytes
        try:
            with path.open("rb") as fh:
                body = fh.read(cap + 1)
        except OSError as exc:
            raise _FetchFailed(
                t("feed_error_file", path=str(path), detail=exc.strerror or str(exc))
            ) from None
        if len(body) > cap:
            raise _FetchFailed(t("feed_error_too_large", cap=cap))
        return body

    # -- HTTP ---------------------------------------------------------------

    async def _fetch_http(self, url: str, v: Validators) -> FetchResult:
        headers: dict[str, str] = {}
        if v.etag:
            headers["If-None-Match"] = v.etag
        if v.last_modified:
            headers["If-Modified-Since"] = v.last_modified
        seen = {url}
        client = self._client()
        for _hop in range(self.polling.max_redirects + 1):
            target = URL(url)
            sem = self._hosts.get(key := _host_key(target))
            if sem is None:
                sem = self._hosts[key] = asyncio.Semaphore(self.polling.per_host)
            async with sem:
                try:
                    # Counted after the semaphore: waiting our turn is not the server's slowness.
                    async with asyncio.timeout(self._timeout):
                        outcome = await self._one_request(client, target, headers, v)
                except TimeoutError:
                    raise _FetchFailed(t("feed_error_timeout", seconds=f"{self._timeout:g}")) from None
                except (aiohttp.ClientError, OSError) as exc:
                    raise _FetchFailed(t("feed_error_connect", url=url, detail=_root_cause(exc))) from None
            if isinstance(outcome, FetchResult):
                return outcome
            nxt = urljoin(url, outcome)
            if urlsplit(nxt).scheme.lower() not in ("http", "https"):
                raise _FetchFailed(t("feed_error_bad_url", url=nxt))
            if nxt in seen:
                raise _FetchFailed(t("feed_error_redirect_loop", url=nxt))
            seen.add(nxt)
            url = nxt
        raise _FetchFailed(t("feed_error_too_many_redirects", max=self.polling.max_redirects))

    async def _one_request(
        self, client: aiohttp.ClientSession, url: URL, headers: dict[str, str], v: Validators
    ) -> FetchResult | str:
        """One request: a result, or the Location to follow."""
        async with client.get(url, headers=headers, allow_redirects=False) as response:
            code = response.status
            h = response.headers
            if code in _REDIRECTS:
                await self._drain(response)
                location = h.get("Location")
                if not location:
                    raise _FetchFailed(t("feed_error_redirect_no_location", status=code), http_status=code)
                return location
            etag = h.get("ETag") or v.etag
            last_modified = h.get("Last-Modified") or v.last_modified
            max_age = self._max_age(h.get("Cache-Control"))
            if code == 304:
                # Reading the (empty) body lets the connection go back to the pool.
                await response.read()
                return FetchResult(
                    status="not_modified",
                    etag=etag,
                    last_modified=last_modified,
                    body_hash=v.body_hash,
                    max_age=max_age,
                    http_status=code,
                )
            if code >= 400 or code < 200:
                page = await self._error_page(response)
                retry_after = self._retry_after(h) if code in (429, 503) else None
                reason = response.reason or ""
                named = rsshub_error(page, code) if page else None
                raise _FetchFailed(
                    named or t("feed_error_http_status", status=code, reason=reason),
                    http_status=code,
                    retry_after=retry_after,
                )
            body = await self._read_capped(response)
            status, text, digest = self._finish(body, _charset(h.get("Content-Type")), v)
            return FetchResult(
                status=status,
                text=text,
                etag=etag,
                last_modified=last_modified,
                body_hash=digest,
                max_age=max_age,
                http_status=code,
                url=str(url),
            )

    @staticmethod
    async def _error_page(response: aiohttp.ClientResponse) -> str:
        """The start of an HTML error page (RSSHub names what broke there); '' for anything else."""
        if "html" not in (response.headers.get("Content-Type") or "").lower():
            await Fetcher._drain(response)
            return ""
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_any():
            chunks.append(chunk)
            size += len(chunk)
            if size >= _DRAIN_LIMIT:
                response.close()  # long enough to recognise; the rest is dropped with the connection
                break
        return b"".join(chunks)[:_DRAIN_LIMIT].decode("utf-8", errors="replace")

    @staticmethod
    async def _drain(response: aiohttp.ClientResponse) -> None:
        """Read a short error or redirect body so the connection can be reused; drop long ones."""
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) <= _DRAIN_LIMIT:
            await response.read()
        else:
            response.close()

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes:
        cap = self.polling.max_body_bytes
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > cap:
            response.close()  # closing mid-body drops the connection: an oversized feed is not read
            raise _FetchFailed(t("feed_error_too_large", cap=cap), http_status=response.status)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_any():
            size += len(chunk)
            if size > cap:
                response.close()
                raise _FetchFailed(t("feed_error_too_large", cap=cap), http_status=response.status)
            chunks.append(chunk)
        return b"".join(chunks)

    def _max_age(self, cache_control: str | None) -> timedelta | None:
        if not cache_control or _NO_CACHE.search(cache_control):
            return None
        m = _MAX_AGE.search(cache_control)
        if not m:
            return None
        return min(timedelta(seconds=int(m.group(1))), self.max_hint)

    def _retry_after(self, headers: CIMultiDictProxy[str]) -> timedelta | None:
        value = (headers.get("Retry-After") or "").strip()
        if not value:
            return None
        if value.isdigit():
            delay = timedelta(seconds=int(value))
        else:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            # Against the server's own clock when it sent one: our clocks may disagree.
            try:
                now = parsedate_to_datetime(headers["Date"])
            except (KeyError, TypeError, ValueError):
                now = self._clock()
            if now.tzinfo is None:
                now = now.replace(tzinfo=UTC)
            delay = when - now
        return min(max(delay, timedelta(0)), self.max_hint)
