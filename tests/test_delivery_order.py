"""The order messages arrive in follows what they mean: the first card of an incident comes
before anything else about it, in every chat.

The first test is the quick start itself (the offline example, console mode) at a fixed
`now`: one poll, one cycle, one drain through the console sender. The second queues rows in
the wrong order on purpose (as an older release or another instance may have written them)
and drains them through the real Telegram client against the Bot API emulator, on SQLite and
PostgreSQL: the drain's order is a key of the rows, not the order they were inserted in.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from kit.botapi import TOKEN, BotApiEmulator, botapi_fixture  # noqa: F401
from kit.enginekit import ROOT, Service
from sqlalchemy.engine import Engine

from responder.db import session_scope
from responder.engine.drain import drain_outbox
from responder.engine.outbox import queue
from responder.i18n import t
from responder.policy import keys
from responder.senders.console import ConsoleSender
from responder.senders.telegram import TelegramSender

# The moment the example's feed files were written as if it were (its `replay.recorded_start`),
# plus a minute: the first poll of a fresh example.
NOW = datetime(2026, 11, 20, 7, 31, tzinfo=UTC)
DUTY = -1001000000001
OFFICE = -1001000000002
_MESSAGE = re.compile(r"^(?:✉|✎|🖼) \[(-?\d+)\] ", re.MULTILINE)
_INCIDENT = re.compile(r"#(\d+)(?!\d)")


def _console_messages(printed: str) -> list[tuple[int, str]]:
    """(chat, text) of every message the console sender printed, in the order printed."""
    starts = list(_MESSAGE.finditer(printed))
    ends = [m.start() for m in starts[1:]] + [len(printed)]
    return [(int(m.group(1)), printed[m.end() : end]) for m, end in zip(starts, ends, strict=True)]


def test_quick_start_shows_each_incident_card_before_its_reminders(sqlite_engine: Engine) -> None:
    svc = Service.start(
        sqlite_engine, ROOT / "examples" / "offline" / "feeds.yaml", NOW - timedelta(minutes=1)
    )
    svc.step(NOW)
    printed = io.StringIO()

    async def drain_all() -> None:
        sender = ConsoleSender(printed)
        while (await drain_outbox(sqlite_engine, sender, NOW, "test")).claimed:
            pass

    asyncio.run(drain_all())
    messages = _console_messages(printed.getvalue())
    # The example's repost obligation has reminders due in its very first cycle: the case at stake.
    assert [m for _, m in messages if m.startswith("⏰")]
    first_about: dict[tuple[int, int], str] = {}
    for chat, text in messages:
        for number in _INCIDENT.findall(text):
            first_about.setdefault((chat, int(number)), text)
    assert len({n for _, n in first_about}) >= 3  # the explosion, the flooding, the repost
    for (chat, number), text in first_about.items():
        assert t("escalation_reason_detected") in text, (
            f"chat {chat} heard of #{number} first from: {text.splitlines()[0]}"
        )


@pytest.fixture
async def telegram(botapi: BotApiEmulator) -> AsyncIterator[TelegramSender]:
    botapi.add_chat(DUTY, "值班群")
    botapi.add_chat(OFFICE, "政策法规处")
    sender = TelegramSender.build(TOKEN, base_url=botapi.base_url, base_file_url=botapi.base_file_url)
    yield sender
    await sender.aclose()


def _queue(
    engine: Engine, key: str, chats: list[int], text: str, incident: int | None, now: datetime
) -> None:
    with session_scope(engine) as s:
        queue(s, key, chats, text, now, incident_id=incident)


async def test_first_card_goes_first_whatever_order_the_rows_were_written_in(
    db_engine: Engine, botapi: BotApiEmulator, telegram: TelegramSender
) -> None:
    now = NOW
    # Written reminder first, as a cycle of an older release did: the duty chat and the office
    # hear of incident 7 from a reminder, the office's card of it comes after another incident's.
    _queue(
        db_engine,
        keys.step_notice(7, "repost", 0, None, "reminder", "50pct"),
        [DUTY, OFFICE],
        "⏰ 提醒 #7 微博转载",
        7,
        now,
    )
    _queue(db_engine, keys.escalation(7, 1), [DUTY], "🚨 事故舆情 #7（值班群的卡片）", 7, now)
    _queue(db_engine, keys.escalation(8, 1), [OFFICE], "🚨 事故舆情 #8", 8, now)
    _queue(db_engine, "calendar:unknown-year:2027", [OFFICE], "📅 工作日历", None, now)
    _queue(db_engine, keys.escalation(7, 2), [OFFICE], "🚨 事故舆情 #7（政策法规处的卡片）", 7, now)

    await drain_outbox(db_engine, telegram, now, "test")

    def texts(chat: int) -> list[str]:
        return [m.text for m in botapi.messages(chat)]

    assert texts(DUTY) == ["🚨 事故舆情 #7（值班群的卡片）", "⏰ 提醒 #7 微博转载"]
    # The office's own card of #7 goes before the reminder; the rest keeps the order it was queued in.
    assert texts(OFFICE) == [
        "🚨 事故舆情 #8",
        "📅 工作日历",
        "🚨 事故舆情 #7（政策法规处的卡片）",
        "⏰ 提醒 #7 微博转载",
    ]

    # Once a chat has its card, later rows keep their own order: a reminder queued before the
    # card's repeat is not held back behind it.
    later = now + timedelta(minutes=5)
    _queue(db_engine, keys.step_notice(7, "repost", 0, None, "due"), [DUTY], "⏰ 已到力争时限 #7", 7, later)
    _queue(db_engine, keys.escalation(7, 1, 1), [DUTY], "🔁 #7 仍未确认", 7, later)
    await drain_outbox(db_engine, telegram, later, "test")
    assert texts(DUTY)[2:] == ["⏰ 已到力争时限 #7", "🔁 #7 仍未确认"]
