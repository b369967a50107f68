"""Serving the console inside the service's own asyncio loop (uvicorn's `Server.serve()`).

The socket is bound here, not by uvicorn, so that a port already taken is one warning and
the service keeps alerting (the console is the lesser part), and so that port 0 works.
uvicorn's signal capture is switched off: the service owns SIGINT/SIGTERM and stops the
console when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
from collections.abc import Generator
from typing import Protocol, TextIO

import uvicorn
from sqlalchemy.engine import Engine

from ..i18n import t
from ..runtime import Settings
from .app import Console, build_app
from .auth import issue_login_link
from .links import base_url

__all__ = ["ConsoleServer", "run_with_console"]

log = logging.getLogger("responder.web")


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the service's handlers stay in charge."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


class ConsoleServer:
    """The console's HTTP server: `start()` binds and serves in the background, `stop()` ends it."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        console_mode: bool = False,
        out: TextIO | None = None,
        secret: str | None = None,
    ):
        self.settings = settings
        self.engine = engine
        self.console_mode = console_mode  # no bot token: print sign-in links for the admins
        self.out = out
        self.console = Console(settings, engine, secret=secret)
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """The address people open (public_url, else http://host:port with the port bound)."""
        return base_url(self.settings.feeds.web, self.console.port)

    async def start(self) -> bool:
        """Bind and serve; False (one warning, nothing else) when the address cannot be bound."""
        web = self.settings.feeds.web
        try:
            sock = _bind(web.host, web.port)
        except OSError as exc:
            log.warning(t("web_bind_failed", host=web.host, port=web.port, error=exc.strerror or exc))
            return False
        self.console.port = sock.getsockname()[1]
        config = uvicorn.Config(
            # log_config=None: uvicorn leaves logging alone; its records reach our handlers.
            build_app(self.console),
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            proxy_headers=bool(web.trusted_proxies),
            forwarded_allow_ips=list(web.trusted_proxies) or None,
            server_header=False,
            timeout_graceful_shutdown=5,
        )
        self._server = _EmbeddedServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="web-console")
        self._announce()
        return True

    def _announce(self) -> None:
        out = self.out or sys.stdout
        print(t("web_console_at", url=self.url + "/"), file=out)
        log.info(t("web_console_at", url=self.url + "/"))
        if not self.console_mode:
            return
        now = self.console.clock()
        minutes = int(self.settings.feeds.web.login_link_ttl.total_seconds() // 60)
        admins = self.settings.roster.people_with("admin") or self.settings.roster.people[:1]
        for person in admins:
            link = issue_login_link(self.engine, self.settings, person.name, now, port=self.console.port)
            print(t("web_console_link", name=person.name, minutes=minutes, link=link), file=out)
        out.flush()

    async def stop(self) -> None:
        """Stop accepting, let requests in flight finish (up to 5 s), and return."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class _Runs(Protocol):
    async def run(self) -> None: ...


async def run_with_console(service: _Runs, console: ConsoleServer | None) -> None:
    """Run the service (or the supervisor that runs it) with the console beside it in the same
    loop; the console stops after it."""
    started = console is not None and await console.start()
    try:
        await service.run()
    finally:
        if started and console is not None:
            await console.stop()
