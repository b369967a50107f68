"""Time the service can trust: where `now` comes from, and a watch for a wall clock that jumps.

Every job of the service reads the wall clock once and passes that `now` down. A wall
clock can jump (an NTP mistake, an operator's `date -s`, a VM restored from a snapshot);
a steady clock cannot. `ClockGuard` compares the two at every reading: when the wall
clock moved more (or less) than the steady clock beyond `tolerance`, the clock jumped,
and decisions that depend on how late it is are held until the two have agreed for
`settle_cycles` cycles and at least `settle_time` (see `responder.service`).

The steady clock is CLOCK_BOOTTIME where the system has it: unlike CLOCK_MONOTONIC it
keeps counting while the machine sleeps, so a laptop or VM waking from suspend (its wall
clock right, time really passed) is no jump.

`FileClock` is the clock of tests and benchmarks that run the real `run` process and
must make time pass quickly or jump (`RESPONDER_TEST_CLOCK` names its file).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

__all__ = [
    "ClockGuard",
    "ClockReading",
    "FileClock",
    "steady_seconds",
    "write_test_clock",
]

_BOOTTIME = getattr(time, "CLOCK_BOOTTIME", None)


def steady_seconds() -> float:
    """Seconds on a clock that never jumps (CLOCK_BOOTTIME where there is one, else monotonic)."""
    if _BOOTTIME is not None:
        return time.clock_gettime(_BOOTTIME)
    return time.monotonic()


@dataclass(frozen=True)
class ClockReading:
    """What the guard made of one reading of the wall clock."""

    now: datetime
    jump: timedelta | None  # the jump seen at this reading (wall minus steady), None when none
    holding: bool  # decisions that depend on the time are held
    episode_start: datetime | None  # the wall time (as the steady clock says) the trouble began
    settled: bool = False  # this reading ended an episode


class ClockGuard:
    """Compares each wall-clock reading with the steady clock; says when to hold decisions.

    Not thread-safe on purpose: the service reads it from its event loop only.
    """

    def __init__(
        self,
        tolerance: timedelta = timedelta(seconds=30),
        settle_cycles: int = 3,
        settle_time: timedelta = timedelta(seconds=60),
    ) -> None:
        self.tolerance = tolerance
        self.settle_cycles = settle_cycles
        self.settle_time = settle_time
        self._last: tuple[datetime, float] | None = None
        self._episode_start: datetime | None = None
        self._last_jump_steady = 0.0
        self._steady_cycles = 0
        self.jumps: list[timedelta] = []  # every jump of the current episode, in order

    @property
    def holding(self) -> bool:
        """True from a jump until the clock has been consistent long enough."""
        return self._episode_start is not None

    def read(self, wall: datetime, steady: float, *, cycle: bool = False) -> ClockReading:
        """Take one reading (`cycle`: the engine cycle's, which counts towards settling)."""
        jump: timedelta | None = None
        last = self._last
        self._last = (wall, steady)
        if last is not None:
            expected = last[0] + timedelta(seconds=steady - last[1])
            drift = wall - expected
            if abs(drift) > self.tolerance:
                jump = drift
                if self._episode_start is None:
                    self._episode_start = expected
                    self.jumps = []
                self.jumps.append(drift)
                self._last_jump_steady = steady
                self._steady_cycles = 0
        start = self._episode_start
        if start is None or jump is not None:
            return ClockReading(wall, jump, start is not None, start)
        if cycle:
            self._steady_cycles += 1
        calm = timedelta(seconds=steady - self._last_jump_steady)
        if self._steady_cycles >= self.settle_cycles and calm >= self.settle_time:
            self._episode_start = None
            return ClockReading(wall, None, False, start, settled=True)
        return ClockReading(wall, None, True, start)


# --------------------------------------------------------------------------- the test clock


def write_test_clock(
    path: Path,
    wall: datetime,
    *,
    steady: float,
    rate: float = 1.0,
    jump: timedelta = timedelta(0),
) -> None:
    """Set the clock `FileClock(path)` shows: `wall` (plus `jump`) now, running at `rate`.

    `steady` is the steady reading the clock shows now (keep it growing across calls).
    The file is replaced atomically, so a reader never sees half of it.
    """
    data = {
        "anchor": steady_seconds(),
        "wall": wall.astimezone(UTC).isoformat(),
        "steady": steady,
        "rate": rate,
        "jump": jump.total_seconds(),
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


class FileClock:
    """A clock read from a file (`write_test_clock`): for tests and benchmarks of the real process.

    Time runs `rate` times as fast as the machine's steady clock from the moment the file
    was written; `jump` moves the wall clock alone, as an NTP mistake would. The file is
    read again whenever it changed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._data: dict[str, float | str] = {}

    def _load(self) -> dict[str, float | str]:
        st = os.stat(self.path)
        stamp = (st.st_mtime_ns, st.st_ino)
        if stamp != self._stamp:
            self._data = json.loads(self.path.read_text(encoding="utf-8"))
            self._stamp = stamp
        return self._data

    def _elapsed(self, data: dict[str, float | str]) -> float:
        return float(data["rate"]) * (steady_seconds() - float(data["anchor"]))

    def now(self) -> datetime:
        """The wall clock this file describes, in UTC."""
        data = self._load()
        wall = datetime.fromisoformat(str(data["wall"]))
        return wall + timedelta(seconds=self._elapsed(data) + float(data["jump"]))

    def steady(self) -> float:
        """The steady clock this file describes (never jumps)."""
        data = self._load()
        return float(data["steady"]) + self._elapsed(data)
