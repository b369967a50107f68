"""Fenced delivery: a drain that outlives its lease never sends a row another instance took over.

Two instances (two engines, two drains, two real python-telegram-bot senders) share one
database, on SQLite and on a real PostgreSQL server. Instance A's first send hangs
until the test releases it (the message reached Telegram, the answer did not come back:
a frozen process, a stuck connection); meanwhile A's lease ends on the test clock and
instance B takes the rows over, and is itself still sending the first of them when A
wakes up. Every message is counted as it reached the Bot API emulator.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from kit.botapi import TOKEN, BotApiEmulator, botapi_fixture  # noqa: F401
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from responder.db import make_engine, session_scope
from responder.engine.drain import drain_outbox
from responder.engine.outbox import queue
from responder.models import Outbox
from responder.senders.base import Outgoing, SendResult
from responder.senders.telegram import TelegramSender

NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
DUTY, OFFICE = -100, -200
LEASE = timedelta(seconds=60)


class HangingSender:
    """The real Telegram sender; its first send is delivered, then hangs until `release()`."""

    def __init__(self, inner: TelegramSender) -> None:
        self.inner = inner
        self.calls: list[int] = []
        self.hanging = asyncio.Event()
        self._gate = asyncio.Event()

    def release(self) -> None:
        self._gate.set()

    async def send(self, item: Outgoing) -> SendResult:
        self.calls.append(item.row_id)
        result = await self.inner.send(item)
        if len(self.calls) == 1:
            self.hanging.set()
            await self._gate.wait()
        return result


@pytest.fixture
def chats(botapi: BotApiEmulator) -> BotApiEmulator:
    botapi.add_chat(DUTY, "值班群")
    botapi.add_chat(OFFICE, "政策法规处")
    return botapi


@pytest.fixture
def second_engine(db_engine: Engine) -> Iterator[Engine]:
    """Instance B's own connection pool on the same database."""
    other = make_engine(db_engine.url.render_as_string(hide_password=False))
    yield other
    other.dispose()


@pytest.fixture
async def senders(chats: BotApiEmulator) -> AsyncIterator[tuple[TelegramSender, TelegramSender]]:
    a = TelegramSender.build(TOKEN, base_url=chats.base_url, base_file_url=chats.base_file_url)
    b = TelegramSender.build(TOKEN, base_url=chats.base_url, base_file_url=chats.base_file_url)
    yield a, b
    await a.aclose()
    await b.aclose()


def queue_messages(engine: Engine, n: int) -> list[str]:
    texts = [f"第{i}条通知" for i in range(n)]
    with session_scope(engine) as s:
        for i, text in enumerate(texts):
            queue(s, f"fence:{i}", [DUTY], text, NOW)
    return texts


def delivered(botapi: BotApiEmulator) -> Counter[str]:
    return Counter(m.text for chat in (DUTY, OFFICE) for m in botapi.messages(chat))


def rows(engine: Engine) -> list[Outbox]:
    with Session(engine) as s:
        return list(s.exec(select(Outbox).order_by(col(Outbox.id))).all())


async def test_a_drain_that_outlived_its_lease_sends_nothing_another_instance_took_over(
    db_engine: Engine,
    second_engine: Engine,
    chats: BotApiEmulator,
    senders: tuple[TelegramSender, TelegramSender],
) -> None:
    texts = queue_messages(db_engine, 9)
    a = HangingSender(senders[0])
    drain_a = asyncio.create_task(drain_outbox(db_engine, a, NOW, "host-a:1", lease=LEASE))
    await asyncio.wait_for(a.hanging.wait(), 30)
    # A holds all nine rows and hangs on its first send of the duty chat. Its lease ends;
    # instance B drains a little later on the same clock and takes every row over.
    later = NOW + LEASE + timedelta(seconds=1)
    b = HangingSender(senders[1])
    drain_b = asyncio.create_task(drain_outbox(second_engine, b, later, "host-b:2", lease=LEASE))
    await asyncio.wait_for(b.hanging.wait(), 30)
    # A wakes up while B holds the rows (status still `sending`, under B's token).
    a.release()
    stats_a = await asyncio.wait_for(drain_a, 30)
    b.release()
    stats_b = await asyncio.wait_for(drain_b, 30)

    counts = delivered(chats)
    assert set(counts) == set(texts), "every message arrived"
    first = rows(db_engine)[0]
    assert a.calls == [first.id], "A sent the one it was sending, and none of the eight B took over"
    assert counts == Counter({**dict.fromkeys(texts, 1), first.text: 2}), (
        "only the message on the wire when the lease ran out arrived twice"
    )
    assert stats_b.sent == 9 and stats_a.sent == 0 and stats_a.taken_over == 1
    final = rows(db_engine)
    assert all(r.status == "sent" and r.claimed_by == "host-b:2" for r in final)
    assert all(r.claim_token == 2 for r in final)
    # In order in the chat: B's nine, with A's late copy of the first one wherever it landed.
    assert [m.text for m in chats.messages(DUTY) if m.text != first.text] == texts[1:]


async def test_a_drain_past_its_lease_that_nobody_took_over_still_sends_everything_once(
    db_engine: Engine, chats: BotApiEmulator, senders: tuple[TelegramSender, TelegramSender]
) -> None:
    texts = queue_messages(db_engine, 6)
    a = HangingSender(senders[0])
    drain_a = asyncio.create_task(drain_outbox(db_engine, a, NOW, "host-a:1", lease=LEASE))
    await asyncio.wait_for(a.hanging.wait(), 30)
    a.release()
    stats = await asyncio.wait_for(drain_a, 30)
    assert delivered(chats) == Counter(texts)
    assert [m.text for m in chats.messages(DUTY)] == texts
    assert stats.sent == 6 and stats.taken_over == 0
    assert [r.claim_token for r in rows(db_engine)] == [1] * 6
