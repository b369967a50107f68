"""A small HTTP proxy on 127.0.0.1 that counts what passes through it, for TELEGRAM_PROXY tests.

It does what an office's forward proxy does for a client told to use it:
- `CONNECT host:port` (https targets): answers 200 and relays bytes both ways;
- an absolute-form request (`POST http://host:port/path HTTP/1.1`, plain-http targets such
  as the Bot API emulator): forwards it in origin form on a fresh upstream connection and
  relays the answer, one request at a time, keeping the client's connection open.
With `user`/`password` set it demands Basic proxy authentication (407 otherwise), as
proxies that carry a password in TELEGRAM_PROXY do. `seen` records each request's method
and target; nothing is logged.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import socketserver
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["HttpProxy", "Passed"]


@dataclass(frozen=True)
class Passed:
    """One request the proxy carried: its method and target (host:port for CONNECT, else the URL)."""

    method: str
    target: str


@dataclass
class HttpProxy:
    """The proxy; `start()` binds a free port, `close()` stops it."""

    user: str | None = None
    password: str | None = None
    seen: list[Passed] = field(default_factory=list)
    refused: int = 0  # requests refused for want of the right credentials
    _server: socketserver.ThreadingTCPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> HttpProxy:
        """Serve on 127.0.0.1 in a daemon thread."""
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                proxy._serve(self.connection, self.rfile)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="proxy")
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def port(self) -> int:
        """The port bound."""
        assert self._server is not None
        return int(self._server.server_address[1])

    def url(self, *, with_password: bool = True) -> str:
        """The address to put in TELEGRAM_PROXY."""
        auth = f"{self.user}:{self.password}@" if self.user and with_password else ""
        return f"http://{auth}127.0.0.1:{self.port}"

    def targets(self) -> list[str]:
        """Every target carried so far."""
        with self._lock:
            return [p.target for p in self.seen]

    # -- one client connection ----------------------------------------------------------

    def _serve(self, client: socket.socket, rfile: object) -> None:
        reader = rfile  # a buffered reader over the client socket
        while True:
            head = _read_head(reader)
            if head is None:
                return
            request_line, headers = head
            method, target, _version = request_line.split(" ", 2)
            if not self._authorised(headers):
                with self._lock:
                    self.refused += 1
                client.sendall(
                    b'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="p"\r\nContent-Length: 0\r\n\r\n'
                )
                continue
            with self._lock:
                self.seen.append(Passed(method, target))
            if method == "CONNECT":
                self._tunnel(client, reader, target)
                return
            body = reader.read(int(headers.get("content-length", "0") or 0))  # type: ignore[attr-defined]
            self._forward(client, method, target, headers, body)

    def _authorised(self, headers: dict[str, str]) -> bool:
        if not self.user:
            return True
        expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return headers.get("proxy-authorization", "") == f"Basic {expected}"

    def _tunnel(self, client: socket.socket, reader: object, target: str) -> None:
        host, _, port = target.rpartition(":")
        upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=30)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        pending = reader.peek(0) if hasattr(reader, "peek") else b""  # type: ignore[attr-defined]
        if pending:
            upstream.sendall(reader.read(len(pending)))  # type: ignore[attr-defined]
        _relay(client, upstream)

    def _forward(
        self, client: socket.socket, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> None:
        parts = urlsplit(target)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        lines = [f"{method} {path or '/'} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
        lines += [
            f"{k}: {v}"
            for k, v in headers.items()
            if k not in ("host", "connection", "proxy-authorization", "proxy-connection", "keep-alive")
        ]
        upstream = socket.create_connection((parts.hostname or "", parts.port or 80), timeout=60)
        with upstream:
            upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            answer = b""
            while chunk := upstream.recv(65536):
                answer += chunk
        client.sendall(answer)


def _read_head(reader: object) -> tuple[str, dict[str, str]] | None:
    """The request line and headers (names lower-cased), or None when the client has gone."""
    try:
        first = reader.readline()  # type: ignore[attr-defined]
    except OSError:
        return None
    if not first or not first.strip():
        return None
    headers: dict[str, str] = {}
    while True:
        line = reader.readline()  # type: ignore[attr-defined]
        if not line or line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return first.decode("latin-1").strip(), headers


def _relay(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""

    def pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            return  # one side went away: the finally shuts both
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    other = threading.Thread(target=pump, args=(b, a), daemon=True)
    other.start()
    pump(a, b)
    other.join(timeout=5)
