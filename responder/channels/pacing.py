"""Per-robot pacing: stay under each platform's documented send rate (in memory).

A robot that receives more than its rate refuses (WeCom 45009) or goes quiet for ten
minutes (DingTalk 130101), so the client asks its `Pacer` before every request. The pacer
keeps the times of the robot's recent sends and answers how long to wait; the client then
does not send and tells the outbox to try again after that long (the outbox keeps the
order and the retry time in the database, so nothing waits inside this process and a
restart forgets nothing that matters).

The limits are sliding windows, the stricter reading of "N per minute" (a server that
counts calendar minutes accepts whatever a sliding window accepts), each widened by a
twentieth, at most `WINDOW_MARGIN` (a minute by one second, Feishu's second by 50 ms),
because the server counts arrivals, which network delay can bunch up.
Pacers are shared per robot within the process (`pacer_for`), so two chats naming the
same robot draw on one allowance; two processes sending through one robot each keep their
own, and the platform's rate-limit answer is then the backstop.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Sequence

__all__ = ["WINDOW_MARGIN", "Clock", "Pacer", "pacer_for"]

Clock = Callable[[], float]  # seconds since the epoch (time.time, or a test's fixed clock)

# The most added to a window: a send counts for this much longer than the platform says.
WINDOW_MARGIN = 1.0


class Pacer:
    """The recent sends of one robot against its limits, each (count, window seconds)."""

    def __init__(self, limits: Sequence[tuple[int, float]], clock: Clock):
        if not limits or any(count < 1 or window <= 0 for count, window in limits):
            raise ValueError("limits are (count >= 1, window > 0) pairs")
        self.limits = tuple(limits)
        self.clock = clock
        self._sent: deque[float] = deque(maxlen=max(count for count, _ in limits))
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Seconds until the next send is allowed (0: now)."""
        with self._lock:
            return self._wait(self.clock())

    def _wait(self, now: float) -> float:
        wait = max(0.0, self._blocked_until - now)
        for count, window in self.limits:
            span = window + min(WINDOW_MARGIN, window / 20)
            recent = [at for at in self._sent if at > now - span]
            if len(recent) >= count:
                # The count-th most recent send must leave the window first.
                wait = max(wait, recent[-count] + span - now)
        return wait

    def take(self) -> float:
        """Claim a send now if allowed (returns 0 and records it), else the seconds to wait."""
        with self._lock:
            now = self.clock()
            wait = self._wait(now)
            if wait <= 0:
                self._sent.append(now)
            return wait

    def held_for(self) -> float:
        """Seconds left of a hold the platform asked for (0: none)."""
        with self._lock:
            return max(0.0, self._blocked_until - self.clock())

    def block(self, seconds: float) -> None:
        """The platform said to hold off: no send for `seconds` from now."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self.clock() + seconds)

    @staticmethod
    def whole_seconds(wait: float) -> int:
        """A wait as whole seconds, rounded up (a retry must not come a moment too early)."""
        return max(1, math.ceil(wait))


_PACERS: dict[tuple[str, str], Pacer] = {}
_PACERS_LOCK = threading.Lock()


def pacer_for(platform: str, robot: str, limits: Sequence[tuple[int, float]], clock: Clock) -> Pacer:
    """The process-wide pacer of one robot (`robot`: a digest of its address, never the
    secret itself), made on first use with `limits` and `clock`."""
    with _PACERS_LOCK:
        pacer = _PACERS.get((platform, robot))
        if pacer is None:
            pacer = _PACERS[(platform, robot)] = Pacer(limits, clock)
        return pacer
