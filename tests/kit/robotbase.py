"""What the three group-robot emulators share: a real HTTP server on 127.0.0.1, robots,
recorded requests, a clock tests can fix, sliding rate windows and queued faults.

The platform modules (`wecom.py`, `dingtalk.py`, `feishu.py`) say how a request is
addressed, verified and answered, each citing the platform's documentation. Faults a test
can queue for the next requests (`fail`):

- `rate_limited`: the platform's own rate-limit answer, whatever the counts say;
- `server_error`: HTTP 502 with nginx's HTML page, as when a gateway fails;
- `busy`: the platform's "system busy" (WeCom / DingTalk -1, Feishu 11232);
- `hang`: no answer for `seconds` (the server then drops the connection).
"""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

__all__ = [
    "BAD_GATEWAY_HTML",
    "Answer",
    "Fault",
    "FixedClock",
    "Received",
    "Robot",
    "RobotEmulator",
    "Window",
]

BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


@dataclass
class FixedClock:
    """A clock that moves only when told: shared by a client and an emulator in a test."""

    now: float = 1_795_000_000.0  # 2026-11-18, a Wednesday

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock on."""
        self.now += seconds


@dataclass
class Robot:
    """One robot: its credential, security settings, and the messages it posted to its group."""

    token: str
    secret: str | None = None
    keywords: tuple[str, ...] = ()
    allowed_ips: tuple[str, ...] = ()  # networks, e.g. "10.0.0.0/8"; empty: any
    messages: list[dict[str, Any]] = field(default_factory=list)
    sent_at: deque[float] = field(default_factory=deque)  # accepted messages, for the rate windows
    throttled_until: float = 0.0

    def ip_allowed(self, ip: str) -> bool:
        """Is `ip` inside the allow-list (or is there none)?"""
        if not self.allowed_ips:
            return True
        address = ipaddress.ip_address(ip)
        return any(address in ipaddress.ip_network(net, strict=False) for net in self.allowed_ips)


@dataclass(frozen=True)
class Window:
    """At most `count` accepted messages per `seconds`, sliding."""

    count: int
    seconds: float


@dataclass(frozen=True)
class Received:
    """One request as it arrived and was answered."""

    path: str
    query: dict[str, str]
    body: bytes
    status: int
    answer: Any
    at: float


@dataclass(frozen=True)
class Fault:
    """A queued answer: `kind` (see the module docstring) and, for hang, how long."""

    kind: str
    seconds: float = 0.0


@dataclass(frozen=True)
class Answer:
    """An HTTP status and a JSON body (or HTML text)."""

    status: int
    body: Any
    content_type: str = "application/json; charset=utf-8"


class RobotEmulator:
    """Base of the platform emulators; subclasses implement `answer`."""

    name = "robot"

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock  # seconds since the epoch: signatures and rate windows use it
        self.robots: dict[str, Robot] = {}
        self.requests: list[Received] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.RLock()
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> RobotEmulator:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        emulator = self

        class Handler(_Handler):
            api = emulator

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.name, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Wake any hung request, stop serving, release the port."""
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> RobotEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT"""
        assert self._server is not None, "emulator not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- set-up from tests ---------------------------------------------------------------

    def add_robot(self, token: str, secret: str | None = None, *, keywords: tuple[str, ...] = (),
                  allowed_ips: tuple[str, ...] = ()) -> Robot:  # fmt: skip
        """Create a robot in a group (as the group's owner does in the app)."""
        robot = Robot(token, secret, keywords, allowed_ips)
        with self._lock:
            self.robots[token] = robot
        return robot

    def remove_robot(self, token: str) -> None:
        """The robot was removed from its group (its address stops working)."""
        with self._lock:
            self.robots.pop(token, None)

    def fail(self, kind: str, count: int = 1, seconds: float = 30.0) -> None:
        """Queue `count` faults for the next requests (see the module docstring)."""
        if kind not in ("rate_limited", "server_error", "busy", "hang"):
            raise ValueError(f"unknown fault {kind!r}")
        with self._lock:
            self._faults.extend(Fault(kind, seconds) for _ in range(count))

    def messages(self, token: str) -> list[dict[str, Any]]:
        """The JSON bodies the robot `token` posted to its group, in order."""
        with self._lock:
            return list(self.robots[token].messages)

    # -- for subclasses ----------------------------------------------------------------

    def answer(self, path: str, query: dict[str, str], body: bytes, ip: str) -> Answer:
        """Answer one request (runs under the emulator's lock)."""
        raise NotImplementedError

    def fault_answer(self, kind: str) -> Answer:
        """The platform's answer for a queued `rate_limited` or `busy` fault."""
        raise NotImplementedError

    def over_limit(self, robot: Robot, windows: tuple[Window, ...], now: float) -> bool:
        """Would one more message break a window? (Accepted messages only are counted.)"""
        for window in windows:
            recent = sum(1 for at in robot.sent_at if at > now - window.seconds)
            if recent >= window.count:
                return True
        return False

    @staticmethod
    def accept(robot: Robot, message: dict[str, Any], now: float) -> None:
        """The robot posts `message` to its group."""
        robot.messages.append(message)
        robot.sent_at.append(now)

    # -- request handling (handler threads) ------------------------------------------------

    def _handle(self, path: str, query: dict[str, str], body: bytes, ip: str) -> Answer | Fault:
        with self._lock:
            if self._faults:
                fault = self._faults.popleft()
                if fault.kind == "hang":
                    return fault
                if fault.kind == "server_error":
                    return Answer(502, BAD_GATEWAY_HTML, "text/html")
                return self.fault_answer(fault.kind)
            return self.answer(path, query, body, ip)

    def _record(self, received: Received) -> None:
        with self._lock:
            self.requests.append(received)


class _Handler(BaseHTTPRequestHandler):
    api: RobotEmulator
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body leave at once, not 40 ms apart (delayed ACK)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read api.requests
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, raw_query = self.path.partition("?")
        # parse_qsl decodes as the platforms' servers do: an unencoded "+" in a signature
        # arrives as a space, and the signature no longer matches.
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        result = self.api._handle(path, query, body, self.client_address[0])
        now = self.api.clock()
        if isinstance(result, Fault):
            self.api._record(Received(path, query, body, 0, "hang", now))
            self.api._closing.wait(result.seconds)
            self.close_connection = True
            return
        self.api._record(Received(path, query, body, result.status, result.body, now))
        payload = result.body if isinstance(result.body, str) else json.dumps(result.body, ensure_ascii=False)
        data = payload.encode("utf-8")
        self.send_response(result.status)
        self.send_header("Content-Type", result.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
