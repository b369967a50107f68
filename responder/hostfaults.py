"""The host's faults as the running service meets them: a wall clock that jumps and a full disk.

Each is said once per episode, with one log line and one notice to the admins, rather than
an error per cycle, and recorded in the `fault` table (shown by `status`):
- the wall clock jumps (`responder.clock.ClockGuard`): the service holds polls and
  decisions until the clock has been steady for a while;
- the disk is full (the database cannot be written): polls and decisions pause, each
  cycle tries one small write (the episode's record), and work resumes when it succeeds.
  The notice that the disk is full goes past the outbox when the outbox cannot take it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from .clock import ClockGuard, ClockReading
from .db import session_scope
from .engine.outbox import queue
from .faults import disk_error_text, is_disk_full, open_fault, update_fault
from .i18n import t
from .policy import keys
from .present import messages
from .present.formats import format_span
from .runtime import Settings
from .senders.base import Outgoing, Sender
from .vocab import FaultKind, OutboxKind, Role

__all__ = ["DISK_REARM_SECONDS", "DiskEpisode", "HostFaults"]

log = logging.getLogger("responder.service")

# A full disk seen again this soon after it had room is the same episode: no second alert.
DISK_REARM_SECONDS = 600.0


@dataclass
class DiskEpisode:
    """The database could not be written since `since` (the wall clock then)."""

    since: datetime
    error: str
    told: bool  # the admins' notice was queued (else it was sent past the outbox, or not at all)


class HostFaults:
    """One instance's clock and disk episodes. `steady` is a clock that never jumps."""

    def __init__(
        self, engine: Engine, sender: Sender, instance: str, steady: Callable[[], float], guard: ClockGuard
    ):
        self.engine = engine
        self.sender = sender
        self.instance = instance
        self.steady = steady
        self.guard = guard
        self.disk: DiskEpisode | None = None
        self._clock_fault: int | None = None  # the `fault` row of the clock episode under way
        self._disk_room_at = -DISK_REARM_SECONDS  # steady time the last full-disk episode ended

    def read_clock(self, wall: datetime, settings: Settings, *, cycle: bool = False) -> ClockReading:
        """Check one wall-clock reading against the steady clock; log and report a jump."""
        reading = self.guard.read(wall, self.steady(), cycle=cycle)
        try:
            if reading.jump is not None:
                self._clock_jumped(reading, reading.jump, settings)
            elif reading.settled and reading.episode_start is not None:
                log.info(t("clock_settled_log", since=reading.episode_start.isoformat(timespec="seconds")))
                if self._clock_fault is not None:
                    update_fault(self.engine, self._clock_fault, ended_at=reading.now)
                self._clock_fault = None
        except Exception as exc:  # recording the fault must not stop the job that read the clock
            log.warning("could not record the clock's trouble: %s", disk_error_text(exc))
        return reading

    def _clock_jumped(self, reading: ClockReading, jump: timedelta, settings: Settings) -> None:
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
        text = messages.clock_jumped(self.instance, jump, reading.now - jump, reading.now, settings.tz)
        admins = settings.roster.destinations_for_role(Role.ADMIN)
        # Stamped with the earlier of the two readings, so neither a clock ahead nor one behind
        # makes the notice wait.
        with session_scope(self.engine) as s:
            queue(s, keys.clock_jump(self.instance, start), admins, text, min(start, reading.now))

    async def disk_full(self, exc: BaseException, now: datetime, settings: Settings) -> None:
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
        text = messages.disk_full(self.instance, now, error, settings.tz)
        try:
            with session_scope(self.engine) as s:
                queue(
                    s,
                    keys.disk_full(self.instance, now, "full"),
                    settings.roster.destinations_for_role(Role.ADMIN),
                    text,
                    now,
                )
            self.disk.told = True
            return
        except Exception as again_exc:
            if not is_disk_full(again_exc):
                log.warning(t("disk_full_unsent", error=disk_error_text(again_exc)))
        # The outbox cannot take it: straight through the sender to the admins' Telegram chats,
        # unrecorded (the record follows with the notice that there is room again). Telegram
        # down too (or robots only): the log line stands.
        for chat in settings.roster.chats_for_role(Role.ADMIN):
            try:
                await self.sender.send(Outgoing(0, OutboxKind.MESSAGE, chat, text))
                self.disk.told = True
            except Exception as send_exc:
                log.warning(t("disk_full_unsent", error=type(send_exc).__name__))

    def disk_has_room(self, now: datetime, settings: Settings) -> bool:
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
        text = messages.disk_room_again(self.instance, episode.since, lasted, settings.tz)
        admins = settings.roster.destinations_for_role(Role.ADMIN)
        with session_scope(self.engine) as s:
            queue(s, keys.disk_full(self.instance, episode.since, "room"), admins, text, now)
        return True
