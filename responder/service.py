"""`python main.py run`: one asyncio program — feed polls, the engine cycle (with the weekly
summary's due check), the outbox sender, and (with a bot token) the Telegram application —
until SIGINT/SIGTERM.

APScheduler only triggers work; every deadline, claim and message lives in the database,
so a restart resumes where the last process stopped.

Two faults of the host pause the jobs here (`responder.hostfaults` says so once per
episode): while the wall clock is held after a jump, polls and decisions (breaches,
escalations, reminders) wait and the outbox still delivers what was queued; while the
disk is full, polls and decisions pause and each cycle tries one small write first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import socket
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from .clock import ClockGuard, ClockReading, steady_seconds
from .db import session_scope
from .engine import lease
from .engine.cycle import queue_weekly_post, run_cycle
from .engine.drain import DrainStats, drain_outbox
from .engine.grouper import Grouper
from .engine.holidays import CalendarWatch, calendar_job
from .engine.notify import report_delivery_failures
from .engine.poll import ItemKeys, PollStats, poll_due, sync_feed_states
from .faults import is_disk_full
from .feeds.fetch import Fetcher
from .feeds.isolate import ParsePool
from .hostfaults import DiskEpisode, HostFaults
from .i18n import t
from .models import Outbox, utcnow
from .runtime import Settings
from .senders.base import Sender
from .vocab import UNSENT_STATUSES

__all__ = ["Service", "instance_name"]

log = logging.getLogger("responder.service")

POLLER_LEASE = "telegram-poller"


def instance_name() -> str:
    """host:pid, unique among running instances; shown in claims and logs."""
    return f"{socket.gethostname()}:{os.getpid()}"


class PollLog:
    """Once a minute, one log line: how many polls, how many failed, how late they started."""

    def __init__(self, every: float = 60.0):
        self.every = every
        self._since: float | None = None
        self._polled = self._failed = 0
        self._late: list[float] = []

    def add(self, stats: PollStats, at: float) -> None:
        """Count one polling run (`at`: time.monotonic()); log when a minute is full."""
        if self._since is None:
            self._since = at
        self._polled += stats.polled
        self._failed += stats.failed
        self._late += stats.late
        if at - self._since < self.every:
            return
        if self._polled or self._failed:
            late = sorted(self._late)
            p98 = late[min(len(late) - 1, int(0.98 * len(late)))] if late else 0.0
            log.info(
                "polled %d feeds in %.0f s (%d failed); fetches started at most %.1f s after due for 98%%",
                self._polled,
                at - self._since,
                self._failed,
                p98,
            )
        self._since, self._polled, self._failed, self._late = at, 0, 0, []


class Service:
    """The running service. `clock` is the only place the wall clock is read (once per job run);
    `steady` is a clock that never jumps, against which each reading is checked."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        sender: Sender,
        *,
        instance: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        steady: Callable[[], float] = steady_seconds,
        cycle_every: float = 5.0,
        poll_every: float = 1.0,
        application: Any = None,
        guard: ClockGuard | None = None,
    ):
        self.settings = settings
        self.engine = engine
        self.sender = sender
        self.instance = instance or instance_name()
        self.clock = clock
        self.steady = steady
        self.faults = HostFaults(engine, sender, self.instance, steady, guard or ClockGuard())
        self.cycle_every = cycle_every
        # Polls are looked for every second (a cheap indexed query when none is due), so a
        # feed is fetched within about a second of when it is due, whatever the cycle's pace.
        self.poll_every = min(poll_every, cycle_every)
        self.application = application
        self.grouper = Grouper(settings.feeds.grouping, settings.intake.region_words)
        self.fetcher = Fetcher(settings.feeds.polling)
        p = settings.feeds.polling
        self.parser = ParsePool(
            workers=p.parse_workers, timeout=p.parse_timeout.total_seconds(), memory_mb=p.parse_memory_mb
        )
        self._rng = random.Random()
        self._item_keys: ItemKeys = {}  # per source: items already parsed
        self._cycles: set[asyncio.Task[None]] = set()
        self._poll_log = PollLog()
        self._cycle_lock = asyncio.Lock()
        self._poll_lock = asyncio.Lock()
        self._polling_updates = False
        self._app_started = False
        self._lease_watch = lease.Watch()  # a poller lease left with an impossible expiry
        self._weekly_retry_at: datetime | None = None  # after a failed weekly summary
        self._stop = asyncio.Event()
        self.calendar_watch = CalendarWatch.of(settings)

    # -- jobs -------------------------------------------------------------------------------

    async def poll_job(self) -> None:
        """Fetch the feeds that are due; run a cycle as soon as a write opened or raised something."""
        async with self._poll_lock:
            if self._stop.is_set():
                return  # stopping: claim no feed that nobody would poll
            reading = self.read_clock()
            if reading.holding or self.disk is not None:
                return  # a wrong time would be stored with every report; the items wait on their feeds
            now = reading.now
            try:
                stats = await poll_due(
                    self.engine,
                    self.settings,
                    self.fetcher,
                    self.grouper,
                    now,
                    self.instance,
                    rng=self._rng,
                    item_keys=self._item_keys,
                    parser=self.parser,
                    written=self._cycle_soon,
                )
            except Exception as exc:
                if not is_disk_full(exc):
                    raise
                await self._disk_full(exc, now)
                return
        self._poll_log.add(stats, time.monotonic())

    async def _poll_loop(self) -> None:
        """Poll about every `poll_every` seconds until stopped; a run that takes longer delays the next.

        A loop of its own rather than a scheduler job: a run longer than the tick is normal
        under load and is not a missed run worth a warning.
        """
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            started = loop.time()
            try:
                await self.poll_job()
            except Exception:  # one bad run must not end polling; the next run starts afresh
                log.exception("polling run failed")
            # The pace varies by ±50% around poll_every: instances sharing a database then
            # take turns at the feeds that fall due, instead of the one whose tick happens to
            # come first after the others' always finding the most.
            pause = self.poll_every * self._rng.uniform(0.5, 1.5) - (loop.time() - started)
            if pause > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), pause)

    def _cycle_soon(self, _stats: PollStats) -> None:
        """Run a cycle now (after the one in progress, if any): a new incident's card goes out
        without waiting for the rest of the polling run or the next cycle tick."""
        task = asyncio.get_running_loop().create_task(self.cycle_job())
        self._cycles.add(task)
        task.add_done_callback(self._cycles.discard)

    async def cycle_job(self) -> None:
        """Decide what is due, then send what is queued. One at a time."""
        async with self._cycle_lock:
            if self._stop.is_set():
                return
            reading = self.read_clock(cycle=True)
            now = reading.now
            started = time.monotonic()
            try:
                if self.disk is not None and not self._disk_has_room(now):
                    return
                if not reading.holding:
                    await asyncio.to_thread(run_cycle, self.engine, self.settings, now)
                    await asyncio.to_thread(self._weekly_post, now)
                drained = await drain_outbox(self.engine, self.sender, now, self.instance)
                self._report_failures(drained, now)
            except Exception as exc:
                if not is_disk_full(exc):
                    raise
                await self._disk_full(exc, now)
                return
            took = time.monotonic() - started
            if took > self.cycle_every:
                log.warning(t("cycle_slow", seconds=took, interval=self.cycle_every))
            self._watch_outbox(now)

    async def lease_job(self) -> None:
        """Start the Telegram application once Telegram answers, and hold the poller lease.

        Telegram being down at start-up must not stop the service: alerts wait in the
        outbox, and this job tries again on its next run.
        """
        app = self.application
        if app is None or self._stop.is_set():
            return
        if not self._app_started:
            try:
                await app.initialize()
                await app.start()
            except Exception as exc:  # network down, Telegram 5xx: try again next run
                log.warning(t("log_telegram_not_started", error=type(exc).__name__))
                return
            self._app_started = True
        if app.updater is None:
            return
        now = self.read_clock().now
        try:
            held = lease.acquire(
                self.engine, POLLER_LEASE, self.instance, now, timedelta(seconds=45), self._lease_watch
            )
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            await self._disk_full(exc, now)
            return
        if held and not self._polling_updates:
            from .chat.telegram import register_commands

            try:
                await register_commands(app.bot)
            except Exception as exc:
                log.warning(t("log_set_commands_failed", error=type(exc).__name__))
            await app.updater.start_polling(drop_pending_updates=False)
            self._polling_updates = True
            log.info(t("log_telegram_polling", instance=self.instance))
        elif not held and self._polling_updates:
            await app.updater.stop()
            self._polling_updates = False
            log.warning(t("log_telegram_lease_lost", instance=self.instance))

    def _weekly_post(self, now: datetime) -> None:
        """Last week's post, when it is owed (Monday 09:00 on, once; also after being down then)."""
        if self._weekly_retry_at is not None and now < self._weekly_retry_at:
            return
        try:
            queue_weekly_post(self.engine, self.settings, now)
            self._weekly_retry_at = None
        except Exception:  # the alerts still go out; the summary is tried again in 10 minutes
            log.exception(t("log_weekly_failed"))
            self._weekly_retry_at = now + timedelta(minutes=10)

    async def calendar_job(self) -> None:
        """Next year's calendar: warn the admins of an unknown year, offer the State Council's
        notice for confirmation, take up a changed schedule file (`engine/holidays.py`)."""
        if self._stop.is_set():
            return
        try:
            await calendar_job(self.engine, self.settings, self.fetcher, self.clock(), self.calendar_watch)
        except Exception:  # the database down, say: the next run tries again
            log.exception(t("log_calendar_job_failed"))

    # -- watching ourselves -------------------------------------------------------------

    @property
    def guard(self) -> ClockGuard:
        return self.faults.guard

    @property
    def disk(self) -> DiskEpisode | None:
        return self.faults.disk

    def read_clock(self, *, cycle: bool = False) -> ClockReading:
        """Read the wall clock once (and the steady clock beside it); log and report a jump."""
        return self.faults.read_clock(self.clock(), self.settings, cycle=cycle)

    async def _disk_full(self, exc: BaseException, now: datetime) -> None:
        await self.faults.disk_full(exc, now, self.settings)

    def _disk_has_room(self, now: datetime) -> bool:
        return self.faults.disk_has_room(now, self.settings)

    def _report_failures(self, drained: DrainStats, now: datetime) -> None:
        if not drained.permanent_failures:
            return
        with session_scope(self.engine) as s:
            report_delivery_failures(s, self.settings.roster, drained.permanent_failures, now)

    def _watch_outbox(self, now: datetime) -> None:
        with Session(self.engine) as s:
            n, oldest = s.exec(
                select(func.count(), func.min(Outbox.created_at)).where(
                    col(Outbox.status).in_(UNSENT_STATUSES)
                )
            ).one()
        if n and oldest is not None and (now - oldest) > timedelta(minutes=5):
            log.warning(t("outbox_stuck", n=n, oldest=oldest.isoformat()))

    # -- life cycle -------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the service to stop (signal handlers call this)."""
        self._stop.set()

    async def run(self) -> None:
        """Run until stop(): start everything, then wind it down in reverse order."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Not possible outside the main thread (tests run the service in a thread).
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop)
        now = self.clock()
        sync_feed_states(self.engine, self.settings, now)
        scheduler = AsyncIOScheduler(timezone=self.settings.tz)
        every = {"seconds": self.cycle_every}
        scheduler.add_job(
            self.cycle_job, "interval", **every, id="cycle", max_instances=1, coalesce=True, next_run_time=now
        )
        scheduler.add_job(
            self.calendar_job,
            "interval",
            minutes=1,
            id="calendar",
            max_instances=1,
            coalesce=True,
            next_run_time=now,
        )
        if self.application is not None:
            scheduler.add_job(
                self.lease_job, "interval", seconds=15, id="lease", max_instances=1, next_run_time=now
            )
        scheduler.start()
        sizes = {"sources": len(self.settings.feeds.sources), "playbooks": len(self.settings.playbooks)}
        log.info(t("log_running", instance=self.instance, **sizes))
        polling = asyncio.create_task(self._poll_loop())
        try:
            await self._stop.wait()
        finally:
            log.info(t("log_stopping"))
            # Let a running poll and cycle finish their transactions and sends (jobs starting
            # now return at once); unsent rows stay in the outbox. Only then shut the scheduler
            # down: its shutdown cancels the jobs still running (claims left, errors logged).
            scheduler.pause()
            await polling
            async with self._poll_lock, self._cycle_lock:
                pass
            await asyncio.gather(*self._cycles, return_exceptions=True)
            scheduler.shutdown(wait=False)
            if self.application is not None and self._app_started:
                if self._polling_updates and self.application.updater is not None:
                    await self.application.updater.stop()
                await self.application.stop()
                await self.application.shutdown()
                lease.release(self.engine, POLLER_LEASE, self.instance)
            await self.fetcher.aclose()
            await asyncio.to_thread(self.parser.close)
            aclose = getattr(self.sender, "aclose", None)
            if aclose is not None:
                await aclose()
