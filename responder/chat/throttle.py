"""Keeping the bot's answers within Telegram's limits, and heavy answers computed once.

Telegram lets a bot send about 20 messages a minute into one group and about one a
second into one private chat, and about 30 a second in all. Alerts (the outbox) and the
answers to commands share those limits, and the alerts matter more. So the answers get
a fixed share, counted here per chat over a sliding minute:

- a group: `GROUP_REPLIES` (8) a minute, leaving 12 of Telegram's 20 to the outbox, which
  paces itself at 20 (a 429 in the rare minute both are full costs the alert its
  `retry_after`, recorded in the outbox; nothing is lost);
- a private chat: `PRIVATE_REPLIES` (20) a minute.

Commands count only in the roster's chats (a few groups and the private chats of the
people on the roster), so the per-chat shares also keep the bot far below Telegram's
30 messages a second in all.

An answer to someone on the roster is sent when the chat's next slot comes, up to
`MAX_WAIT` (30 s) later (without holding up other updates meanwhile), and dropped
(logged) when none comes that soon: the action itself is done and the alerted chats are
told through the outbox either way. A colleague whose role does not allow the action is
answered like that too. A refusal to a stranger (or in a chat that is not configured)
never waits, goes to one person at most once per `REFUSAL_EVERY` (5 minutes), and uses
at most `REFUSALS_PER_CHAT` of a chat's share a minute, so a stranger typing 200
commands, or 20 strangers, get a handful of answers in all.

`AnswerCache` keeps a heavy answer (`/summary`) for `SUMMARY_TTL`: people asking for the
same week within that time get the same answer, computed once (concurrent askers wait
for the one computation).

The clock is monotonic and injected: the limits are about real seconds, not business time.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = [
    "GROUP_REPLIES",
    "MAX_WAIT",
    "PRIVATE_REPLIES",
    "REFUSALS_PER_CHAT",
    "REFUSAL_EVERY",
    "SUMMARY_TTL",
    "AnswerCache",
    "ReplyLimiter",
]

GROUP_REPLIES = 8  # answers a minute into one group (Telegram: 20, shared with alerts)
PRIVATE_REPLIES = 20  # answers a minute into one private chat
REFUSALS_PER_CHAT = 2  # refusals a minute into one chat, within its share
REFUSAL_EVERY = 300.0  # seconds between two refusals to the same person
MAX_WAIT = 30.0  # how long an answer to someone on the roster may wait for a slot
SUMMARY_TTL = 300.0  # seconds a /summary answer is reused

_MINUTE = 60.0

Clock = Callable[[], float]
T = TypeVar("T")


@dataclass
class _Window:
    """Send times (past, and reserved in the near future) within a sliding window."""

    limit: int
    span: float
    times: deque[float] = field(default_factory=deque)

    def slot(self, now: float) -> float:
        """The earliest moment at or after `now` a message may go without passing the limit."""
        while self.times and self.times[0] <= now - self.span:
            self.times.popleft()
        if len(self.times) < self.limit:
            return max(now, self.times[-1]) if self.times else now
        return max(now, self.times[-self.limit] + self.span, self.times[-1])

    def take(self, at: float) -> None:
        self.times.append(at)


class ReplyLimiter:
    """Each chat's share of Telegram's limits for interactive answers (see the module note)."""

    def __init__(
        self,
        clock: Clock = time.monotonic,
        *,
        max_wait: float = MAX_WAIT,
        group_replies: int = GROUP_REPLIES,
        private_replies: int = PRIVATE_REPLIES,
    ):
        self.clock = clock
        self.max_wait = max_wait
        self.group_replies = group_replies
        self.private_replies = private_replies
        self._chats: dict[int, _Window] = {}
        self._refusals: dict[int, _Window] = {}
        self._refused_at: dict[int, float] = {}

    def _chat(self, chat_id: int) -> _Window:
        if chat_id not in self._chats:
            # Group and channel ids are negative, private chats are the user's own id.
            limit = self.group_replies if chat_id < 0 else self.private_replies
            self._chats[chat_id] = _Window(limit, _MINUTE)
        return self._chats[chat_id]

    def reserve(self, chat_id: int, messages: int = 1) -> float | None:
        """Book `messages` answers into `chat_id`: the seconds to wait before sending them, or
        None (nothing booked) when that would take longer than `max_wait`."""
        now = self.clock()
        chat, slots = self._chat(chat_id), []
        trial = _Window(chat.limit, chat.span, deque(chat.times))
        for _ in range(messages):
            at = trial.slot(now)
            trial.take(at)
            slots.append(at)
        if slots[-1] - now > self.max_wait:
            return None
        for at in slots:
            chat.take(at)
        return slots[-1] - now

    def refusal(self, user_id: int, chat_id: int) -> bool:
        """May a refusal go to `user_id` in `chat_id` now? At most one per person per
        `REFUSAL_EVERY`, `REFUSALS_PER_CHAT` a minute per chat, and only into a free slot."""
        now = self.clock()
        last = self._refused_at.get(user_id)
        if last is not None and now - last < REFUSAL_EVERY:
            return False
        refusals = self._refusals.setdefault(chat_id, _Window(REFUSALS_PER_CHAT, _MINUTE))
        if refusals.slot(now) > now or self._chat(chat_id).slot(now) > now:
            return False
        refusals.take(now)
        self._chat(chat_id).take(now)
        self._refused_at[user_id] = now
        if len(self._refused_at) > 10_000:  # a flood of ids: forget those whose pause has passed
            self._refused_at = {u: at for u, at in self._refused_at.items() if now - at < REFUSAL_EVERY}
        return True


@dataclass
class _Entry(Generic[T]):
    at: float
    value: asyncio.Future[T]


class AnswerCache(Generic[T]):
    """Heavy answers by key, each computed once per `ttl` seconds (single flight)."""

    def __init__(self, clock: Clock = time.monotonic, ttl: float = SUMMARY_TTL):
        self.clock = clock
        self.ttl = ttl
        self._entries: dict[str, _Entry[T]] = {}

    async def get(self, key: str, compute: Callable[[], Awaitable[T]]) -> T:
        """The answer for `key`: a fresh one from the cache, the one being computed, or a new one.
        A computation that failed is not kept (the next asker tries again)."""
        now = self.clock()
        entry = self._entries.get(key)
        if entry is not None and now - entry.at < self.ttl:
            return await asyncio.shield(entry.value)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._entries = {k: e for k, e in self._entries.items() if now - e.at < self.ttl}
        self._entries[key] = _Entry(now, future)
        try:
            future.set_result(await compute())
        except BaseException as exc:
            self._entries.pop(key, None)
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
                future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        return future.result()
