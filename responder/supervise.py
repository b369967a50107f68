"""`python main.py run` as a process: the service, reloaded on SIGHUP, with the example's replay.

SIGHUP (`systemctl reload responder`) reads feeds.yaml, the playbooks and roster.yaml
again and validates them as at start-up. A configuration with any problem is not
applied: the running one stays in force, the problems are logged and the admins are
told in chat. A valid one replaces the running service in this process: the service
stops as on SIGTERM (the poll and cycle in flight finish, unsent messages stay in the
outbox) and starts again on the new configuration. Nothing is lost in between because
nothing lives outside the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from .configfile import ConfigError
from .db import session_scope
from .engine.outbox import queue
from .i18n import t
from .models import utcnow
from .policy import keys
from .present import messages
from .replay import Replay
from .runtime import Settings, reload_settings
from .vocab import Role

__all__ = ["REPLAY_REFRESH_SECONDS", "Supervisor"]

log = logging.getLogger("responder.supervise")

REPLAY_REFRESH_SECONDS = 5.0
_MAX_PROBLEMS_IN_CHAT = 10


class Supervisor:
    """Runs one service at a time; `build(settings)` makes it (and its Telegram application)."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        build: Callable[[Settings], Any],
        replay_dir: Path | None = None,
        fresh_database: bool = False,
        check: Callable[[Settings], None] | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.build = build
        self.replay_dir = replay_dir
        self.fresh_database = fresh_database
        self.check = check  # more checks of a reloaded configuration (raising ConfigError)
        self.replay: Replay | None = None
        self._replayed = False
        self.service: Any = None
        self._reload = asyncio.Event()
        self.reloads = 0  # applied reloads, for the log and the tests

    def _effective(self, settings: Settings) -> Settings:
        """The settings the service runs on: with the moved feed copies when replaying."""
        if settings.feeds.replay is None or self.replay_dir is None:
            self.replay = None
            return settings
        fresh = self.fresh_database and not self._replayed
        self.replay = Replay.prepare(settings, self.replay_dir, utcnow(), fresh=fresh)
        self._replayed = True
        log.info(t("replay_started", at=self.replay.started_at.astimezone(settings.tz).strftime("%H:%M")))
        return self.replay.replayed_settings()

    def request_reload(self) -> None:
        """Ask for a reload (the SIGHUP handler calls this)."""
        self._reload.set()

    async def run(self) -> None:
        """Run until the service stops on SIGINT/SIGTERM; reload on every SIGHUP."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, AttributeError):
            loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        refresher = asyncio.create_task(self._refresh_replay())
        try:
            while True:
                self.service = self.build(self._effective(self.settings))
                running = asyncio.create_task(self.service.run())
                waiting = asyncio.create_task(self._next_valid_reload())
                done, _ = await asyncio.wait({running, waiting}, return_when=asyncio.FIRST_COMPLETED)
                if running in done:
                    waiting.cancel()
                    running.result()
                    return
                self.settings = waiting.result()
                self.service.stop()
                await running
                self.reloads += 1
                st = self.settings
                sizes = {"sources": len(st.feeds.sources), "playbooks": len(st.playbooks)}
                log.info(t("reload_done", **sizes, people=len(st.roster.people)))
        finally:
            refresher.cancel()
            with contextlib.suppress(NotImplementedError, RuntimeError, AttributeError):
                loop.remove_signal_handler(signal.SIGHUP)

    async def _next_valid_reload(self) -> Settings:
        """Wait for SIGHUP until a configuration loads without problems; report the others."""
        while True:
            await self._reload.wait()
            self._reload.clear()
            try:
                fresh = await asyncio.to_thread(reload_settings, self.settings)
                if self.check is not None:
                    self.check(fresh)
                return fresh
            except ConfigError as exc:
                self._report_failed_reload(exc)

    def _report_failed_reload(self, exc: ConfigError) -> None:
        lines = [str(p) for p in exc.problems]
        for line in lines:
            log.error(t("log_reload_refused", problem=line))
        text = messages.reload_failed(lines, shown=_MAX_PROBLEMS_IN_CHAT)
        now = utcnow()
        # One message per attempt: the same mistake reported again after a second SIGHUP is news.
        digest = hashlib.sha1("\n".join(lines).encode("utf-8")).hexdigest()[:12]
        key = keys.config_reload_failed(digest, now)
        try:
            with session_scope(self.engine) as s:
                queue(s, key, self.settings.roster.destinations_for_role(Role.ADMIN), text, now)
        except Exception as exc2:  # the database being down must not end the service here
            log.error(t("log_reload_not_queued", error=type(exc2).__name__))

    async def _refresh_replay(self) -> None:
        """Let the replayed feeds' items appear as their moved dates come."""
        while True:
            await asyncio.sleep(REPLAY_REFRESH_SECONDS)
            if self.replay is not None:
                try:
                    await asyncio.to_thread(self.replay.refresh, utcnow())
                except OSError as exc:
                    log.warning(t("log_replay_not_refreshed", error=exc))
