"""A real HTTP server on 127.0.0.1 serving configurable routes, for tests and benchmarks.

Fixtures (registered through `pytest_plugins` in conftest.py):

- `feed_server` (function): a running `FeedServer`; add routes with
  `feed_server.route("/path", body=..., ...)`, fetch `feed_server.url("/path")`.

A route serves fixed bytes with a chosen status and headers, and can answer
conditional GETs with 304 (`etag=`, `last_modified=`), wait before answering
(`delay=`), stall after the headers until the server stops (`hang=True`),
stream a huge body without a Content-Length (`stream_total=`), or redirect
(`redirect()`). Every request is recorded with its headers, and per-route
counters say how many body bytes the server managed to send.

For benchmarks, `start_in_subprocess(routes)` runs a server in another process
so that the measuring process's CPU time is the client's alone.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "DATA",
    "FeedServer",
    "RecordedRequest",
    "Route",
    "RouteStats",
    "feed_server",
    "start_in_subprocess",
]

DATA = Path(__file__).resolve().parents[1] / "data" / "feeds"


@dataclass
class Route:
    """What one path answers. Plain data, so it can be sent to a subprocess."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "application/rss+xml"
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0
    hang: bool = False
    stream_total: int | None = None
    chunk_size: int = 64 * 1024
    content_length: bool = True


@dataclass
class RouteStats:
    """What happened on one path: requests answered and body bytes actually sent."""

    hits: int = 0
    body_bytes_sent: int = 0
    finished: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, delayed ACKs
    # would stall every keep-alive response by ~40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # tests stay quiet
        pass

    def do_GET(self) -> None:
        srv = self.server
        path = self.path.split("?", 1)[0]
        with srv.lock:
            srv.requests.append(RecordedRequest(self.path, {k.lower(): v for k, v in self.headers.items()}))
            route = srv.routes.get(path)
            stats = srv.stats.setdefault(path, RouteStats())
            stats.hits += 1
            stats.finished.clear()
            srv.in_flight += 1
            srv.peak_concurrency = max(srv.peak_concurrency, srv.in_flight)
        try:
            if route is None:
                self._send(404, {"Content-Type": "text/plain"}, b"no such route")
                return
            self._serve(route, stats)
        finally:
            with srv.lock:
                srv.in_flight -= 1
            stats.finished.set()

    def _serve(self, route: Route, stats: RouteStats) -> None:
        stop = self.server.stopping
        if route.delay and stop.wait(route.delay):
            return
        headers = dict(route.headers)
        if route.content_type and "Content-Type" not in headers:
            headers["Content-Type"] = route.content_type
        if route.etag:
            headers["ETag"] = route.etag
        if route.last_modified:
            headers["Last-Modified"] = route.last_modified
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        if (route.etag and inm == route.etag) or (
            route.last_modified and not inm and ims == route.last_modified
        ):
            self._send(304, {k: v for k, v in headers.items() if k != "Content-Type"}, b"")
            return
        if route.stream_total is not None:
            self._stream(route, headers, stats)
            return
        if route.hang:
            self._start(route.status, headers)
            self.send_header("Content-Length", str(len(route.body) + 1))
            self.end_headers()
            self.wfile.write(route.body[: len(route.body) // 2])
            self.wfile.flush()
            stop.wait()
            return
        if not route.content_length:
            self.close_connection = True
        self._send(route.status, headers, route.body, with_length=route.content_length)
        stats.body_bytes_sent += len(route.body)

    def _stream(self, route: Route, headers: dict[str, str], stats: RouteStats) -> None:
        assert route.stream_total is not None
        self.close_connection = True
        self._start(route.status, headers)
        if route.content_length:
            self.send_header("Content-Length", str(route.stream_total))
        self.end_headers()
        filler = b"<!-- " + b"x" * (route.chunk_size - 9) + b" -->"
        left = route.stream_total
        try:
            while left > 0 and not self.server.stopping.is_set():
                piece = filler[: min(left, len(filler))]
                self.wfile.write(piece)
                stats.body_bytes_sent += len(piece)
                left -= len(piece)
        except OSError:
            pass  # the client hung up: exactly what an oversized-body test wants

    def _start(self, status: int, headers: dict[str, str]) -> None:
        """Status line and headers; a route's own Date header replaces the real clock's."""
        if "Date" in headers:
            self.log_request(status)
            self.send_response_only(status)
            self.send_header("Server", self.version_string())
        else:
            self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)

    def _send(self, status: int, headers: dict[str, str], body: bytes, *, with_length: bool = True) -> None:
        self._start(status, headers)
        if with_length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.routes: dict[str, Route] = {}
        self.stats: dict[str, RouteStats] = {}
        self.requests: list[RecordedRequest] = []
        self.stopping = threading.Event()
        self.in_flight = 0
        self.peak_concurrency = 0

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up mid-response (oversize, timeout, an unread error
        # body) are the cases under test, not server faults worth a traceback.
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError):
            super().handle_error(request, client_address)


class FeedServer:
    """A threaded HTTP/1.1 server on 127.0.0.1, on a free port."""

    def __init__(self) -> None:
        self._server = _Server()
        self.port: int = self._server.server_address[1]
        # A short poll interval makes stop() quick: shutdown() waits for the next poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, name="feedserver", daemon=True
        )

    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; stalled and delayed responses are released at once."""
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, body: bytes = b"", **options: Any) -> Route:
        """Serve `body` at `path`; options are `Route` fields. Replaces an earlier route."""
        route = Route(body=body, **options)
        with self._server.lock:
            self._server.routes[path] = route
        return route

    def feed_file(self, path: str, name: str, **options: Any) -> Route:
        """Serve the bytes of tests/data/feeds/`name` at `path`."""
        return self.route(path, (DATA / name).read_bytes(), **options)

    def redirect(self, path: str, to: str, status: int = 302) -> Route:
        """Answer `path` with a redirect to `to` (a path or a full URL)."""
        return self.route(path, b"", status=status, headers={"Location": to}, content_type=None)

    @property
    def peak_concurrency(self) -> int:
        """The most requests this server was answering at the same moment."""
        return self._server.peak_concurrency

    def stats(self, path: str) -> RouteStats:
        with self._server.lock:
            return self._server.stats.setdefault(path, RouteStats())

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._server.lock:
            return [r for r in self._server.requests if r.path.split("?", 1)[0] == path]


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A running FeedServer for one test."""
    with FeedServer() as server:
        yield server


def _serve_child(routes: dict[str, Route], conn: Any) -> None:
    server = FeedServer()
    for path, route in routes.items():
        server._server.routes[path] = route
    conn.send(server.port)
    conn.close()
    server._server.serve_forever()


def start_in_subprocess(routes: dict[str, Route]) -> tuple[str, multiprocessing.Process]:
    """Serve `routes` from a child process; returns (base URL, process). Terminate it when done."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve_child, args=(routes, child), daemon=True)
    proc.start()
    port = parent.recv()
    return f"http://127.0.0.1:{port}", proc
