"""The outbox sender against a real SQLite file (and PostgreSQL), the real PTB client and
the Bot API emulator on 127.0.0.1. Time is a fixed `now` the test advances; nothing sleeps:
the emulator answers 429 and 502 at once and the next drain simply runs with a later now.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import struct
import threading
import zlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kit.botapi import TOKEN, BotApiEmulator, botapi_fixture  # noqa: F401
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from responder.db import create_all, make_engine
from responder.engine.drain import DrainStats, backoff, drain_outbox
from responder.env import Environment
from responder.models import Outbox
from responder.present.html import esc, pack_callback
from responder.senders import make_sender
from responder.senders.console import ConsoleSender
from responder.senders.telegram import TelegramSender

NOW = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)
DUTY = -1001000000001
OFFICE = -1001000000002
ME = "test-instance"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'responder.sqlite3'}")
    create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def chats(botapi: BotApiEmulator) -> BotApiEmulator:
    botapi.add_chat(DUTY, "值班群")
    botapi.add_chat(OFFICE, "政策法规处")
    return botapi


@pytest.fixture
async def sender(chats: BotApiEmulator) -> AsyncIterator[TelegramSender]:
    s = TelegramSender.build(TOKEN, base_url=chats.base_url, base_file_url=chats.base_file_url)
    yield s
    await s.aclose()


def queue(
    engine: Engine,
    key: str,
    chat_id: int,
    text: str,
    *,
    kind: str = "message",
    buttons: list[list[dict[str, str]]] | None = None,
    edit_of: int | None = None,
    photo: bytes | None = None,
    incident_id: int | None = None,
) -> int:
    with Session(engine, expire_on_commit=False) as session:
        row = Outbox(
            dedup_key=key,
            created_at=NOW,
            chat_id=chat_id,
            text=text,
            kind=kind,
            buttons=buttons,
            edit_of=edit_of,
            photo=photo,
            incident_id=incident_id,
        )
        session.add(row)
        session.commit()
        assert row.id is not None
        return row.id


def row(engine: Engine, row_id: int) -> Outbox:
    with Session(engine) as session:
        found = session.get(Outbox, row_id)
        assert found is not None
        return found


def statuses(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return [r.status for r in session.exec(select(Outbox).order_by(Outbox.id))]  # type: ignore[arg-type]


def texts(emu: BotApiEmulator, chat_id: int) -> list[str]:
    return [m.text for m in emu.messages(chat_id)]


def buttons(incident: int) -> list[list[dict[str, str]]]:
    return [
        [
            {"text": "确认", "callback_data": pack_callback("ack", incident)},
            {"text": "误报", "callback_data": pack_callback("dismiss", incident)},
        ]
    ]


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    raw = b"\x00" + b"\x00\x80\xff" * 2
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw * 2))
        + chunk(b"IEND", b"")
    )


# --- order and exactly-once ----------------------------------------------------------------


async def test_rows_are_delivered_once_in_order(
    db_engine: Engine, chats: BotApiEmulator, sender: TelegramSender
) -> None:
    """On SQLite and PostgreSQL alike."""
    ids = [queue(db_engine, f"duty:{i}", DUTY, f"<b>告警 {i}</b>", buttons=buttons(i)) for i in range(3)]
    ids += [queue(db_engine, f"office:{i}", OFFICE, f"提醒 {i}") for i in range(2)]

    stats = await drain_outbox(db_engine, sender, NOW, ME)

    assert (stats.claimed, stats.sent, stats.retrying, stats.failed) == (5, 5, 0, 0)
    assert texts(chats, DUTY) == ["告警 0", "告警 1", "告警 2"]
    assert texts(chats, OFFICE) == ["提醒 0", "提醒 1"]
    assert chats.messages(DUTY)[0].buttons == [
        [{"text": "确认", "callback_data": "ack:0"}, {"text": "误报", "callback_data": "dismiss:0"}]
    ]
    sent = [row(db_engine, i) for i in ids]
    assert all(r.status == "sent" and r.sent_at == NOW and r.lease_until is None for r in sent)
    assert [r.message_id for r in sent[:3]] == [m.message_id for m in chats.messages(DUTY)]

    # The same drain again (same now, or later): nothing goes out twice.
    again = await drain_outbox(db_engine, sender, NOW, ME)
    later = await drain_outbox(db_engine, sender, NOW + timedelta(hours=1), ME)
    assert again.claimed == later.claimed == 0
    assert len(chats.calls("sendMessage")) == 5


async def test_batch_limits_one_drain_and_the_rest_follow(
    engine: Engine, chats: BotApiEmulator, sender
) -> None:
    for i in range(5):
        queue(engine, f"k{i}", DUTY, f"m{i}")
    first = await drain_outbox(engine, sender, NOW, ME, batch=2)
    assert first.sent == 2 and texts(chats, DUTY) == ["m0", "m1"]
    while (await drain_outbox(engine, sender, NOW, ME, batch=2)).sent:
        pass
    assert texts(chats, DUTY) == [f"m{i}" for i in range(5)]


def test_two_instances_draining_at_once_send_each_row_once(db_engine: Engine, chats: BotApiEmulator) -> None:
    """Two drainers in two threads (two event loops, two bots) on one database."""
    # 15 per chat: under PTB's 20-per-minute group pacing, so neither instance waits on it.
    for i in range(30):
        queue(db_engine, f"k{i}", (DUTY, OFFICE)[i % 2], f"m{i}")

    def instance(name: str) -> None:
        async def run() -> None:
            s = TelegramSender.build(TOKEN, base_url=chats.base_url)
            try:
                for _ in range(20):
                    await drain_outbox(db_engine, s, NOW, name, batch=3)
            finally:
                await s.aclose()

        asyncio.run(run())

    threads = [threading.Thread(target=instance, args=(f"i{n}",)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert statuses(db_engine) == ["sent"] * 30
    assert texts(chats, DUTY) == [f"m{i}" for i in range(0, 30, 2)]
    assert texts(chats, OFFICE) == [f"m{i}" for i in range(1, 30, 2)]


# --- Telegram says wait, or is down --------------------------------------------------------


async def test_429_waits_exactly_retry_after_and_holds_the_chat(
    engine: Engine, chats: BotApiEmulator, sender: TelegramSender
) -> None:
    first = queue(engine, "a", DUTY, "第一条")
    second = queue(engine, "b", DUTY, "第二条")
    other = queue(engine, "c", OFFICE, "别的群")
    chats.flood(1, retry_after=3, methods=["sendMessage"])

    stats = await drain_outbox(engine, sender, NOW, ME)

    # The flood hit whichever chat went first; find it and check the other went through.
    flooded = row(engine, first) if row(engine, first).status == "pending" else row(engine, other)
    assert stats.retrying == 1 and flooded.status == "pending"
    assert flooded.next_attempt_at == NOW + timedelta(seconds=3)
    assert flooded.attempts == 0 and "Flood" in (flooded.last_error or "")
    if flooded.id == first:
        assert stats.held == 1 and row(engine, second).status == "pending"
        assert row(engine, second).next_attempt_at is None
        assert texts(chats, DUTY) == [] and texts(chats, OFFICE) == ["别的群"]
    calls = len(chats.calls("sendMessage"))

    # Before retry_after has passed nothing of the held chat goes out (not even its second row).
    early = await drain_outbox(engine, sender, NOW + timedelta(seconds=2), ME)
    assert early.sent == 0 and len(chats.calls("sendMessage")) == calls

    done = await drain_outbox(engine, sender, NOW + timedelta(seconds=3), ME)
    assert done.retrying == 0
    assert texts(chats, DUTY) == ["第一条", "第二条"] and texts(chats, OFFICE) == ["别的群"]
    assert statuses(engine) == ["sent"] * 3


async def test_telegram_down_then_everything_arrives_in_order_without_duplicates(
    engine: Engine, chats: BotApiEmulator, sender: TelegramSender
) -> None:
    for i in range(4):
        queue(engine, f"d{i}", DUTY, f"值班 {i}")
    queue(engine, "o0", OFFICE, "处室 0")
    chats.bad_gateway(count=6)
    chats.flood(count=1, retry_after=7)

    now = NOW
    history: list[DrainStats] = []
    for _ in range(10):
        history.append(await drain_outbox(engine, sender, now, ME))
        if statuses(engine) == ["sent"] * 5:
            break
        now += timedelta(minutes=5)
    assert statuses(engine) == ["sent"] * 5
    assert texts(chats, DUTY) == [f"值班 {i}" for i in range(4)]
    assert texts(chats, OFFICE) == ["处室 0"]
    assert chats.pending_faults() == 0
    assert sum(s.sent for s in history) == 5
    # Each fault cost exactly one call (the first may hit the bot's startup getMe), and
    # sendMessage succeeded exactly once per row.
    assert len([r for r in chats.requests if r.status != 200]) == 6 + 1
    assert len([r for r in chats.calls("sendMessage") if r.status == 200]) == 5


async def test_network_failure_backs_off_exponentially(
    engine: Engine, chats: BotApiEmulator, sender: TelegramSender
) -> None:
    rid = queue(engine, "x", DUTY, "x")
    chats.bad_gateway(count=3)
    now = NOW
    for attempt in (1, 2, 3):
        stats = await drain_outbox(engine, sender, now, ME)
        r = row(engine, rid)
        assert stats.retrying == 1 and r.status == "pending" and r.attempts == attempt
        assert r.next_attempt_at == now + backoff(attempt)
        assert "Bad Gateway" in (r.last_error or "")
        # Not due yet: nothing is tried.
        assert (await drain_outbox(engine, sender, r.next_attempt_at - timedelta(seconds=1), ME)).claimed == 0
        now = r.next_attempt_at
    assert (await drain_outbox(engine, sender, now, ME)).sent == 1
    assert [backoff(n) for n in (1, 2, 3, 10)] == [
        timedelta(seconds=10),
        timedelta(seconds=20),
        timedelta(seconds=40),
        timedelta(minutes=5),
    ]


async def test_a_hung_server_times_out_and_the_row_is_retried(engine: Engine, chats: BotApiEmulator) -> None:
    from telegram import Bot
    from telegram.request import HTTPXRequest

    bot = Bot(TOKEN, base_url=chats.base_url, request=HTTPXRequest(read_timeout=0.3))
    sender = TelegramSender(bot)
    rid = queue(engine, "x", DUTY, "x")
    chats.hang(1, seconds=30, methods=["sendMessage"])
    try:
        stats = await drain_outbox(engine, sender, NOW, ME)
        assert stats.retrying == 1 and "TimedOut" in (row(engine, rid).last_error or "")
        assert (await drain_outbox(engine, sender, NOW + timedelta(minutes=1), ME)).sent == 1
    finally:
        await sender.aclose()
    assert texts(chats, DUTY) == ["x"]


# --- rejected for good ------------------------------------------------------------------------


async def test_chat_not_found_fails_and_is_reported_once(
    engine: Engine, chats: BotApiEmulator, sender: TelegramSender
) -> None:
    lost = queue(engine, "lost", -999, "发往不存在的群", incident_id=42)
    fine = queue(engine, "fine", DUTY, "正常")

    stats = await drain_outbox(engine, sender, NOW, ME)

    assert row(engine, lost).status == "failed" and "Chat not found" in (row(engine, lost).last_error or "")
    assert row(engine, fine).status == "sent"
    [failure] = stats.permanent_failures
    assert (failure.outbox_id, failure.chat_id, failure.incident_id, failure.dedup_key) == (
        lost,
        -999,
        42,
        "lost",
    )
    assert "Chat not found" in failure.reason
    for later in (NOW, NOW + timedelta(hours=1)):
        again = await drain_outbox(engine, sender, later, ME)
        assert again.permanent_failures == [] and again.claimed == 0
    assert len([c for c in chats.calls("sendMessage") if c.params.get("chat_id") == "-999"]) == 1


async def test_blocked_user_fails_every_row_with_one_call(
    engine: Engine, chats: BotApiEmulator, sender: TelegramSender
) -> None:
    chats.add_user(555, "王五")
    chats.block(555)
    for i in range(3):
        queue(engine, f"b{i}", 555, f"私信 {i}")
    stats = await drain_outbox(engine, sender, NOW, ME)
    assert statuses(engine) == ["failed"] * 3
    assert len(stats.permanent_failures) == 3
    assert all("blocked by the user" in f.reason for f in stats.permanent_failures)
    assert len(chats.calls("sendMessage")) == 1


async def test_a_group_that_became_a_supergroup_is_reported_to_the_admins_in_their_words(
    engine: Engine, chats: BotApiEmulator, sender: TelegramSender, tmp_path: Path
) -> None:
    """Telegram answers a message to an upgraded group with its new id: the admins' message
    says so in the catalogue's words and names both ids (English beside it in en.yaml)."""
    from kit.enginekit import ROSTER

    from responder.engine.notify import report_delivery_failures
    from responder.roster import load_roster

    old, new = -4000000001, -1004000000001
    answer = {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: group chat was upgraded to a supergroup chat",
        "parameters": {"migrate_to_chat_id": new},
    }
    chats.force(400, json.dumps(answer).encode(), methods=["sendMessage"])
    rid = queue(engine, "m", old, "告警")
    stats = await drain_outbox(engine, sender, NOW, ME)
    assert row(engine, rid).status == "failed"
    (tmp_path / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    with Session(engine) as s:
        assert (
            report_delivery_failures(s, load_roster(tmp_path / "roster.yaml"), stats.permanent_failures, NOW)
            == 1
        )
        s.commit()
        [report] = s.exec(select(Outbox).where(Outbox.chat_id == -300)).all()
    assert (
        f"该群已升级为超级群，会话 ID 由 {old} 变为 {new}：请把 roster.yaml 中的 {old} 改为 {new}，"
        "再重新加载配置（systemctl reload responder）"
    ) in report.text
    assert "supergroup" not in report.text and "configuration" not in report.text


# --- text that must arrive intact -----------------------------------------------------------


async def test_title_with_markup_and_ampersand_arrives_intact(
    engine: Engine, chats: BotApiEmulator, sender: TelegramSender
) -> None:
    title = "某化工厂<b>爆炸</b> A&B 死亡 3 人 < 5"
    queue(engine, "t", DUTY, f"<b>较大</b> {esc(title)}")
    assert (await drain_outbox(engine, sender, NOW, ME)).sent == 1
    [msg] = chats.messages(DUTY)
    assert msg.text == f"较大 {title}"
    assert msg.entities == [{"type": "bold", "offset": 0, "length": 2}]


async def test_unparseable_html_is_sent_as_plain_text_not_lost(
    engine: Engine, chats: BotApiEmulator, sender: TelegramSender, caplog: pytest.LogCaptureFixture
) -> None:
    rid = queue(engine, "raw", DUTY, "<b>温度</b> < 0 度 & 下降")  # a renderer forgot esc()
    with caplog.at_level(logging.ERROR, logger="responder.senders.telegram"):
        stats = await drain_outbox(engine, sender, NOW, ME)
    assert stats.sent == 1
    assert texts(chats, DUTY) == ["温度 < 0 度 & 下降"]
    assert (row(engine, rid).last_error or "").startswith("sent as plain text")
    assert any("could not parse its HTML" in r.getMessage() for r in caplog.records)


async def test_long_message_is_cut_under_the_limit_and_accepted(
    engine: Engine, chats: BotApiEmulator, sender: TelegramSender
) -> None:
    body = "".join(f"<b>第{i}条</b> {esc('报道 <来源> & 摘要')}\n" for i in range(600))
    assert len(body) > 6000
    queue(engine, "long", DUTY, body)
    assert (await drain_outbox(engine, sender, NOW, ME)).sent == 1
    [msg] = chats.messages(DUTY)
    assert 4000 < len(msg.text.encode("utf-16-le")) // 2 <= 4096
    assert msg.text.endswith("…") and msg.text.startswith("第0条 报道 <来源> & 摘要")


# --- edits and photos -------------------------------------------------------------------------


async def test_edit_row_edits_the_original_message(
    engine: Engine, chats: BotApiEmulator, sender: TelegramSender
) -> None:
    original = queue(engine, "alert", DUTY, "<b>待确认</b>", buttons=buttons(7))
    await drain_outbox(engine, sender, NOW, ME)
    queue(engine, "alert:ack", DUTY, "<b>已确认</b> 张三 10:05", kind="edit", edit_of=original)
    stats = await drain_outbox(engine, sender, NOW + timedelta(minutes=5), ME)
    assert stats.sent == 1
    [msg] = chats.messages(DUTY)
    assert msg.message_id == row(engine, original).message_id
    assert msg.text == "已确认 张三 10:05" and msg.buttons == []
    assert [e["text"] for e in msg.edits] == ["待确认"]

    # The same content again: Telegram says "not modified"; that counts as delivered.
    same = queue(engine, "alert:ack2", DUTY, "<b>已确认</b> 张三 10:05", kind="edit", edit_of=original)
    assert (await drain_outbox(engine, sender, NOW + timedelta(minutes=6), ME)).sent == 1
    assert row(engine, same).status == "sent" and row(engine, same).last_error == "not modified"
    assert len(chats.messages(DUTY)) == 1


async def test_edit_queued_with_its_original_goes_out_after_it(
    engine: Engine, chats: BotApiEmulator, sender: TelegramSender
) -> None:
    original = queue(engine, "alert", DUTY, "旧")
    queue(engine, "edit", DUTY, "新", kind="edit", edit_of=original)
    assert (await drain_outbox(engine, sender, NOW, ME)).sent == 2
    [msg] = chats.messages(DUTY)
    assert msg.text == "新" and msg.edits[0]["text"] == "旧"


async def test_edit_waits_for_an_original_that_is_retrying(
    engine: Engine, chats: BotApiEmulator, sender: TelegramSender
) -> None:
    original = queue(engine, "alert", DUTY, "旧")
    edit = queue(engine, "edit", DUTY, "新", kind="edit", edit_of=original)
    chats.flood(1, retry_after=5)
    await drain_outbox(engine, sender, NOW, ME)
    assert row(engine, edit).status == "pending" and chats.calls("editMessageText") == []
    await drain_outbox(engine, sender, NOW + timedelta(seconds=5), ME)
    assert texts(chats, DUTY) == ["新"]


async def test_edit_of_a_failed_original_fails_without_a_second_report(
    engine: Engine, chats: BotApiEmulator, sender: TelegramSender
) -> None:
    original = queue(engine, "alert", -999, "旧")
    edit = queue(engine, "edit", -999, "新", kind="edit", edit_of=original)
    stats = await drain_outbox(engine, sender, NOW, ME)
    assert row(engine, edit).status == "failed" and row(engine, original).status == "failed"
    assert [f.outbox_id for f in stats.permanent_failures] == [original]


async def test_photo_row_uploads_bytes_with_caption(
    engine: Engine, chats: BotApiEmulator, sender: TelegramSender
) -> None:
    image = png()
    rid = queue(engine, "chart", OFFICE, "<b>本周按时率</b> 92%", kind="photo", photo=image)
    assert (await drain_outbox(engine, sender, NOW, ME)).sent == 1
    [msg] = chats.messages(OFFICE)
    assert msg.photo == image and msg.text == "本周按时率 92%"
    assert row(engine, rid).message_id == msg.message_id


# --- crashes and leases ---------------------------------------------------------------------


async def test_row_left_sending_by_a_crash_is_sent_after_its_lease(
    engine: Engine, chats: BotApiEmulator, sender: TelegramSender
) -> None:
    # A drain claimed this row and died before marking it. If that drain had already reached
    # Telegram, this retry sends the message a second time: at-least-once is the price of
    # never losing an alert across a crash.
    rid = queue(engine, "crash", DUTY, "崩溃前认领")
    after = queue(engine, "after", DUTY, "后一条")
    with Session(engine) as session:
        r = session.get(Outbox, rid)
        assert r is not None
        r.status, r.lease_until = "sending", NOW + timedelta(seconds=30)
        session.add(r)
        session.commit()

    # Lease still running: the row is someone's; its chat waits behind it.
    held = await drain_outbox(engine, sender, NOW, ME)
    assert held.claimed == 0 and texts(chats, DUTY) == []

    stats = await drain_outbox(engine, sender, NOW + timedelta(seconds=31), ME)
    assert stats.sent == 2
    assert texts(chats, DUTY) == ["崩溃前认领", "后一条"]
    assert row(engine, rid).status == row(engine, after).status == "sent"


# --- the token stays secret; the console default -----------------------------------------------


async def test_token_never_appears_in_logs(
    engine: Engine, chats: BotApiEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sender = TelegramSender.build(TOKEN, base_url=chats.base_url)
    try:
        queue(engine, "a", DUTY, "<b>x</b> < y")  # parse error → plain-text fallback, logged
        queue(engine, "b", -999, "lost")  # rejected, logged
        queue(engine, "c", OFFICE, "c")
        chats.flood(1, retry_after=2, methods=["sendMessage"])
        chats.bad_gateway(1, methods=["sendMessage"])
        for minutes in range(4):
            await drain_outbox(engine, sender, NOW + timedelta(minutes=minutes), ME)
    finally:
        await sender.aclose()
    assert "sendMessage" in caplog.text  # PTB's debug log ran, so the test could have seen a leak
    secret = TOKEN.split(":", 1)[1]
    assert TOKEN not in caplog.text and secret not in caplog.text
    with Session(engine) as session:
        assert all(secret not in (r.last_error or "") for r in session.exec(select(Outbox)))


async def test_console_sender_prints_and_says_once_how_to_connect(engine: Engine) -> None:
    out = io.StringIO()
    console = ConsoleSender(out)
    first = queue(engine, "a", DUTY, f"<b>较大事故</b> {esc('A&B')}", buttons=buttons(1))
    queue(engine, "b", DUTY, "<i>已确认</i>", kind="edit", edit_of=first)
    stats = await drain_outbox(engine, console, NOW, ME)
    assert stats.sent == 2
    lines = out.getvalue().splitlines()
    assert "TELEGRAM_BOT_TOKEN" in lines[0]
    assert sum("TELEGRAM_BOT_TOKEN" in line for line in lines) == 1
    assert f"[{DUTY}] 较大事故 A&B" in lines[1] and "[确认] [误报]" in lines[2]
    assert "已确认" in lines[3]


def test_make_sender_chooses_by_environment() -> None:
    assert isinstance(make_sender(Environment.read({})), ConsoleSender)
    env = Environment.read({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": "http://127.0.0.1:8081"})
    telegram = make_sender(env)
    assert isinstance(telegram, TelegramSender)
    assert telegram.bot.base_url == f"http://127.0.0.1:8081/bot{TOKEN}"
    assert TOKEN not in repr(env) and TOKEN.split(":")[1] not in repr(env)
    with pytest.raises(ValueError, match="TELEGRAM_BASE_URL"):
        Environment.read({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": "localhost:8081"})
    with pytest.raises(ValueError, match="不像机器人令牌") as refused:
        Environment.read({"TELEGRAM_BOT_TOKEN": "nonsense"})
    assert "nonsense" not in str(refused.value)


async def test_cancelled_drain_leaves_nothing_half_written(
    engine: Engine, chats: BotApiEmulator, sender: TelegramSender
) -> None:
    first = queue(engine, "a", DUTY, "在途")
    second = queue(engine, "b", DUTY, "未发")
    chats.hang(1, seconds=30, methods=["sendMessage"])
    drain = asyncio.create_task(drain_outbox(engine, sender, NOW, ME))
    assert await asyncio.to_thread(chats.wait_for_calls, "sendMessage", 1)
    drain.cancel()
    with pytest.raises(asyncio.CancelledError):
        await drain
    # The one in flight may or may not have arrived: it stays leased; the untried one is free.
    assert row(engine, first).status == "sending" and row(engine, first).lease_until == NOW + timedelta(
        seconds=60
    )
    assert row(engine, second).status == "pending" and row(engine, second).lease_until is None
    stats = await drain_outbox(engine, sender, NOW + timedelta(seconds=61), ME)
    assert stats.sent == 2 and texts(chats, DUTY) == ["在途", "未发"]
