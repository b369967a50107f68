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


def _step_and_drain(svc: Service, now: datetime) -> list[tuple[int, str]]:
    """One poll and cycle at `now`, then every queued message through the console sender."""
    svc.step(now)
    printed = io.StringIO()

    async def drain_all() -> None:
        sender = ConsoleSender(printed)
        while (await drain_outbox(svc.engine, sender, now, "test")).claimed:
            pass

    asyncio.run(drain_all())
    return _console_messages(printed.getvalue())


def test_quick_start_shows_each_incident_card_before_its_reminders(sqlite_engine: Engine) -> None:
    svc = Service.start(
        sqlite_engine, ROOT / "examples" / "offline" / "feeds.yaml", NOW - timedelta(minutes=1)
    )
    messages = _step_and_drain(svc, NOW)
    # The example's repost obligation is seen after its half-hour reminder point: the card
    # says what is due, and no reminder of a moment already past comes with it.
    assert not [m for _, m in messages if m.startswith("⏰")]
    first_about: dict[tuple[int, int], str] = {}
    for chat, text in messages:
        for number in _INCIDENT.findall(text):
            first_about.setdefault((chat, int(number)), text)
    assert len({n for _, n in first_about}) >= 3  # the explosion, the flooding, the repost
    for (chat, number), text in first_about.items():
        assert t("escalation_reason_detected") in text, (
            f"chat {chat} heard of #{number} first from: {text.splitlines()[0]}"
        )


def test_a_repost_is_reminded_once_per_point_for_all_its_outlets(sqlite_engine: Engine) -> None:
    """The example's two policy items: one message per chat and reminder point names every open
    outlet, and says which time it is about (the 1-hour target, with the limit beside it)."""
    svc = Service.start(
        sqlite_engine, ROOT / "examples" / "offline" / "feeds.yaml", NOW - timedelta(minutes=1)
    )
    _step_and_drain(svc, NOW)

    def reminders(now: datetime) -> dict[int, list[str]]:
        by_chat: dict[int, list[str]] = {}
        for chat, text in _step_and_drain(svc, now):
            if text.startswith("⏰") and "上级政策信息" in text:
                by_chat.setdefault(chat, []).append(text.strip())
        return by_chat

    # 15:40, the first item's 1-hour target: the portal reposted it, three outlets are open.
    at_target = reminders(NOW + timedelta(minutes=9))
    assert len(at_target) == 2  # the duty group and the duty officer's private chat
    for texts_ in at_target.values():
        [text] = texts_
        assert "转载、链接上级政策信息·政务微博、微信、客户端：已到力争时限，最迟 11-24 00:00" in text
    # 16:01, half of the second item's hour (it was read at 15:31): about the target, not the limit.
    halfway = reminders(NOW + timedelta(minutes=30))
    assert halfway and all(len(v) == 1 for v in halfway.values())
    for [text] in halfway.values():
        assert text.startswith("⏰ 提醒 #")
        assert text.endswith(
            "转载、链接上级政策信息·门户网站、政务微博、微信、客户端：力争时限 16:31，剩余 30分钟（最迟 11-24 00:00）"
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
