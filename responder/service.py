"""`python main.py run`: one asyncio program — feed polls, the engine cycle (with the weekly
summary's due check), the outbox sender, and (with a bot token) the Telegram application —
until SIGINT/SIGTERM.

APScheduler only triggers work; every deadline, claim and message lives in the database,
so a restart resumes where the last process stopped.

Two faults of the host are handled here, each with one log line and one admin notice per
episode rather than an error per cycle:
- the wall clock jumps (`responder.clock.ClockGuard`): polls and decisions (breaches,
  escalations, reminders) are held until the clock has been steady for a while; the
  outbox still delivers what was queued;
- the disk is full (the database cannot be written): polls and decisions pause, each
  cycle tries one small write (the episode's record), and work resumes when it succeeds.
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
from dataclasses import dataclass
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
from .engine.outbox import queue
from .engine.poll import poll_due, sync_feed_states
from .faults import disk_error_text, is_disk_full, open_fault, update_fault
from .feeds.fetch import Fetcher
from .feeds.isolate import ParsePool
from .i18n import t
from .models import Outbox, utcnow
from .policy import keys
from .present import messages
from .present.formats import format_span
from .runtime import Settings
from .senders.base import Outgoing, Sender
from .vocab import UNSENT_STATUSES, FaultKind, OutboxKind, Role

__all__ = ["Service", "instance_name"]

log = logging.getLogger("responder.service")

POLLER_LEASE = "telegram-poller"
# A full disk seen again this soon after it had room is the same episode: no second alert.
DISK_REARM_SECONDS = 600.0


@dataclass
class DiskEpisode:
    """The database could not be written since `since` (the wall clock then)."""

    since: datetime
    error: str
    told: bool  # the admins' notice was queued (else it was sent past the outbox, or not at all)


def instance_name() -> str:
    """host:pid, unique among running instances; shown in claims and logs."""
    return f"{socket.gethostname()}:{os.getpid()}"


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
        application: Any = None,
        guard: ClockGuard | None = None,
    ):
        self.settings = settings
        self.engine = engine
        self.sender = sender
        self.instance = instance or instance_name()
        self.clock = clock
        self.steady = steady
        self.guard = guard or ClockGuard()
        self._clock_fault: int | None = None  # the `fault` row of the clock episode under way
        self.disk: DiskEpisode | None = None
        self._disk_room_at = -DISK_REARM_SECONDS  # steady time the last full-disk episode ended
        self.cycle_every = cycle_every
        self.application = application
        self.grouper = Grouper(settings.feeds.grouping, settings.intake.region_words)
        self.fetcher = Fetcher(settings.feeds.polling)
        p = settings.feeds.polling
        self.parser = ParsePool(
            workers=p.parse_workers, timeout=p.parse_timeout.total_seconds(), memory_mb=p.parse_memory_mb
        )
        self._rng = random.Random()
        self._item_keys: dict[str, frozenset[str]] = {}  # per source: items already parsed
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
        """Fetch the feeds that are due; run a cycle at once when something opened or rose."""
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
                )
            except Exception as exc:
                if not is_disk_full(exc):
                    raise
                await self._disk_full(exc, now)
                return
        if stats.opened or stats.raised:
            await self.cycle_job()

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

    def read_clock(self, *, cycle: bool = False) -> ClockReading:
        """Read the wall clock once (and the steady clock beside it); log and report a jump."""
        reading = self.guard.read(self.clock(), self.steady(), cycle=cycle)
        try:
            if reading.jump is not None:
                self._clock_jumped(reading, reading.jump)
            elif reading.settled and reading.episode_start is not None:
                log.info(t("clock_settled_log", since=reading.episode_start.isoformat(timespec="seconds")))
                if self._clock_fault is not None:
                    update_fault(self.engine, self._clock_fault, ended_at=reading.now)
                self._clock_fault = None
        except Exception as exc:  # recording the fault must not stop the job that read the clock
            log.warning("could not record the clock's trouble: %s", disk_error_text(exc))
        return reading

    def _clock_jumped(self, reading: ClockReading, jump: timedelta) -> None:
        start = reading.episode_start or reading.now
        log.warning(
            t(
                "clock_jump_log",
                jump=messages.jump_span(jump),
                expected=(reading.now - jump).isoformat(timespec="seconds"),
                wall=reading.now.isoformat(timespec="seconds"),
            )
        )
        jumps = [round(j.total_seconds()) for j in self.guard.jumps]
        if self._clock_fault is not None:
            update_fault(self.engine, self._clock_fault, data={"jumps": jumps})
            return
        self._clock_fault = open_fault(
            self.engine, FaultKind.CLOCK_JUMP, self.instance, start, {"jumps": jumps}
        )
        text = messages.clock_jumped(self.instance, jump, reading.now - jump, reading.now, self.settings.tz)
        admins = self.settings.roster.chats_for_role(Role.ADMIN)
        # Stamped with the earlier of the two readings, so neither a clock ahead nor one behind
        # makes the notice wait.
        with session_scope(self.engine) as s:
            queue(s, keys.clock_jump(self.instance, start), admins, text, min(start, reading.now))

    async def _disk_full(self, exc: BaseException, now: datetime) -> None:
        """A write failed for want of room: say so once per episode, and tell the admins."""
        if self.disk is not None:
            return  # said already
        error = disk_error_text(exc)
        again = self.steady() - self._disk_room_at < DISK_REARM_SECONDS
        self.disk = DiskEpisode(now, error, told=again)
        if again:
            log.info("database full again shortly after it had room: %s", error)
            return
        log.error(t("disk_full_log", error=error))
        text = messages.disk_full(self.instance, now, error, self.settings.tz)
        admins = self.settings.roster.chats_for_role(Role.ADMIN)
        try:
            with session_scope(self.engine) as s:
                queue(s, keys.disk_full(self.instance, now, "full"), admins, text, now)
            self.disk.told = True
            return
        except Exception as again_exc:
            if not is_disk_full(again_exc):
                log.warning(t("disk_full_unsent", error=disk_error_text(again_exc)))
        # The outbox cannot take it: straight through the sender, unrecorded (the record follows
        # with the notice that there is room again). Telegram down too: the log line stands.
        for chat in admins:
            try:
                await self.sender.send(Outgoing(0, OutboxKind.MESSAGE, chat, text))
                self.disk.told = True
            except Exception as send_exc:
                log.warning(t("disk_full_unsent", error=type(send_exc).__name__))

    def _disk_has_room(self, now: datetime) -> bool:
        """Try the episode's record as the one small write; True (episode over) when it went in."""
        episode = self.disk
        assert episode is not None
        lasted = now - episode.since
        data = {"error": episode.error, "told": episode.told}
        try:
            fault = open_fault(self.engine, FaultKind.DISK_FULL, self.instance, episode.since, data)
            update_fault(self.engine, fault, ended_at=now)
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            return False
        self.disk = None
        self._disk_room_at = self.steady()
        since = episode.since.isoformat(timespec="seconds")
        log.warning(t("disk_room_log", since=since, lasted=format_span(lasted)))
        text = messages.disk_room_again(self.instance, episode.since, lasted, self.settings.tz)
        with session_scope(self.engine) as s:
            queue(
                s,
                keys.disk_full(self.instance, episode.since, "room"),
                self.settings.roster.chats_for_role(Role.ADMIN),
                text,
                now,
            )
        return True

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
            self.poll_job, "interval", **every, id="poll", max_instances=1, coalesce=True, next_run_time=now
        )
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
        try:
            await self._stop.wait()
        finally:
            log.info(t("log_stopping"))
            # Let a running poll and cycle finish their transactions and sends (jobs starting
            # now return at once); unsent rows stay in the outbox. Only then shut the scheduler
            # down: its shutdown cancels the jobs still running (claims left, errors logged).
            scheduler.pause()
            async with self._poll_lock, self._cycle_lock:
                pass
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
