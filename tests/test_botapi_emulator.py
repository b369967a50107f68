"""The Bot API emulator itself, driven by the real python-telegram-bot client.

If these pass, tests that use the emulator see what the real server would do: limits
counted after entity parsing, tdlib's HTML errors, 64-byte callback data, 429 with
retry_after, chat not found, blocked users, long polling that blocks.
"""

from __future__ import annotations

import asyncio
import struct
import zlib

import pytest
from kit.botapi import TOKEN, BotApiEmulator, botapi_fixture, parse_html  # noqa: F401
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

DUTY = -1001234567890


def png(width: int = 4, height: int = 3) -> bytes:
    """A small valid PNG (real bytes, so the emulator's image check sees a real header)."""
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


def make_bot(emu: BotApiEmulator, token: str = TOKEN, read_timeout: float = 5.0) -> Bot:
    return Bot(
        token,
        base_url=emu.base_url,
        base_file_url=emu.base_file_url,
        request=HTTPXRequest(read_timeout=read_timeout),
        get_updates_request=HTTPXRequest(read_timeout=read_timeout),
    )


def keyboard(data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("确认", callback_data=data)]])


async def test_send_message_records_plain_text_html_and_buttons(botapi: BotApiEmulator) -> None:
    botapi.add_chat(DUTY, "值班群")
    async with make_bot(botapi) as bot:
        me = await bot.get_me()
        sent = await bot.send_message(
            DUTY, "<b>较大事故</b> A&amp;B &lt;x&gt; R&D", parse_mode="HTML", reply_markup=keyboard("ack:1")
        )
    assert me.username == "responder_test_bot"
    assert sent.text == "较大事故 A&B <x> R&D"
    assert sent.entities[0].type == "bold" and sent.entities[0].length == 4
    [msg] = botapi.messages(DUTY)
    assert msg.message_id == sent.message_id
    assert msg.html == "<b>较大事故</b> A&amp;B &lt;x&gt; R&D"
    assert msg.buttons == [[{"text": "确认", "callback_data": "ack:1"}]]


async def test_length_is_counted_after_entity_parsing_in_utf16_units(botapi: BotApiEmulator) -> None:
    botapi.add_chat(DUTY)
    async with make_bot(botapi) as bot:
        # Tags and entities are free: 4096 visible characters pass however much markup wraps them.
        ok = await bot.send_message(DUTY, "<b>" + "&amp;" * 4096 + "</b>", parse_mode="HTML")
        assert len(ok.text) == 4096
        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(DUTY, "x" * 4097)
        # An emoji outside the BMP is two UTF-16 code units.
        await bot.send_message(DUTY, "😀" * 2048)
        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(DUTY, "😀" * 2048 + "x")
        with pytest.raises(BadRequest, match="Message text is empty"):
            await bot.send_message(DUTY, "<b></b>", parse_mode="HTML")
    assert len(botapi.messages(DUTY)) == 2


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("死亡 3 人 < 5 人", 'Unsupported start tag "" at byte offset 13'),
        ("<b>标题</b> <foo>", 'Unsupported start tag "foo" at byte offset 14'),
        ("<b>未闭合", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("tail <", "Unclosed start tag at byte offset 5"),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
def test_html_errors_have_tdlib_wording(html: str, error: str) -> None:
    with pytest.raises(Exception, match=None) as info:
        parse_html(html)
    assert str(info.value) == error


def test_supported_tags_and_entities() -> None:
    text, entities = parse_html(
        "<strong>a</strong><em>b</em><ins>c</ins><del>d</del><tg-spoiler>e</tg-spoiler>"
        '<span class="tg-spoiler">f</span><code>g</code><pre>h</pre><blockquote>i</blockquote>'
        '<a href="https://x.cn/?a=1&amp;b=2">j</a>&#20107;&#x6545;&quot;R&D&unknown;'
    )
    assert text == 'abcdefghij事故"R&D&unknown;'
    kinds = [e["type"] for e in entities]
    assert kinds == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "spoiler",
        "code",
        "pre",
        "blockquote",
        "text_link",
    ]
    assert entities[-1]["url"] == "https://x.cn/?a=1&b=2"


async def test_parse_error_reaches_the_client_as_bad_request(botapi: BotApiEmulator) -> None:
    botapi.add_chat(DUTY)
    async with make_bot(botapi) as bot:
        with pytest.raises(BadRequest) as info:
            await bot.send_message(DUTY, "温度 < 0", parse_mode="HTML")
    assert str(info.value).lower() == 'can\'t parse entities: unsupported start tag "" at byte offset 7'
    assert botapi.messages(DUTY) == []
    answer = botapi.calls("sendMessage")[-1].response
    assert answer == {
        "ok": False,
        "error_code": 400,
        "description": 'Bad Request: can\'t parse entities: Unsupported start tag "" at byte offset 7',
    }


async def test_callback_data_is_limited_to_64_bytes(botapi: BotApiEmulator) -> None:
    botapi.add_chat(DUTY)
    async with make_bot(botapi) as bot:
        await bot.send_message(DUTY, "ok", reply_markup=keyboard("a" * 64))
        with pytest.raises(BadRequest, match="Button_data_invalid"):
            await bot.send_message(DUTY, "too long", reply_markup=keyboard("a" * 65))
        # 22 Chinese characters are 66 bytes of UTF-8 though only 22 characters.
        with pytest.raises(BadRequest, match="Button_data_invalid"):
            await bot.send_message(DUTY, "bytes", reply_markup=keyboard("确" * 22))
    assert [m.text for m in botapi.messages(DUTY)] == ["ok"]


async def test_photo_upload_and_caption_limit(botapi: BotApiEmulator) -> None:
    botapi.add_chat(DUTY)
    image = png()
    async with make_bot(botapi) as bot:
        sent = await bot.send_photo(DUTY, photo=image, caption="<i>周报</i>", parse_mode="HTML")
        with pytest.raises(BadRequest, match="Message caption is too long"):
            await bot.send_photo(DUTY, photo=image, caption="x" * 1025)
        with pytest.raises(BadRequest, match="Image_process_failed"):
            await bot.send_photo(DUTY, photo=b"not an image at all")
    assert sent.caption == "周报" and sent.photo[0].width == 4
    [msg] = botapi.messages(DUTY)
    assert msg.photo == image and msg.text == "周报"


async def test_unknown_chat_and_blocked_user(botapi: BotApiEmulator) -> None:
    botapi.add_user(42, "张三")
    botapi.block(42)
    async with make_bot(botapi) as bot:
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(-999, "x")
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(42, "x")
    assert botapi.calls("sendMessage")[0].response["description"] == "Bad Request: chat not found"


async def test_edits_keep_history_and_identical_edit_is_not_modified(botapi: BotApiEmulator) -> None:
    botapi.add_chat(DUTY)
    async with make_bot(botapi) as bot:
        sent = await bot.send_message(
            DUTY, "<b>待确认</b>", parse_mode="HTML", reply_markup=keyboard("ack:1")
        )
        await bot.edit_message_text(
            "<b>已确认</b>",
            chat_id=DUTY,
            message_id=sent.message_id,
            parse_mode="HTML",
            reply_markup=keyboard("ack:1"),
        )
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_text(
                "<b>已确认</b>",
                chat_id=DUTY,
                message_id=sent.message_id,
                parse_mode="HTML",
                reply_markup=keyboard("ack:1"),
            )
        # Without reply_markup the keyboard goes, as on the real server.
        await bot.edit_message_text(
            "<b>已确认</b>", chat_id=DUTY, message_id=sent.message_id, parse_mode="HTML"
        )
        await bot.edit_message_reply_markup(
            chat_id=DUTY, message_id=sent.message_id, reply_markup=keyboard("x:1")
        )
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("x", chat_id=DUTY, message_id=999)
    [msg] = botapi.messages(DUTY)
    assert msg.text == "已确认" and msg.buttons == [[{"text": "确认", "callback_data": "x:1"}]]
    assert [e["text"] for e in msg.edits] == ["待确认", "已确认", "已确认"]
    assert msg.edits[1]["reply_markup"] is not None and msg.edits[2]["reply_markup"] is None


async def test_wrong_token_is_unauthorized(botapi: BotApiEmulator) -> None:
    with pytest.raises(InvalidToken):
        await make_bot(botapi, token="7000000001:wrong").get_me()
    assert botapi.requests[-1].status == 401
    assert botapi.requests[-1].response == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_programmed_faults_429_502_and_hang(botapi: BotApiEmulator) -> None:
    botapi.add_chat(DUTY)
    async with make_bot(botapi, read_timeout=0.5) as bot:
        botapi.flood(2, retry_after=3)
        for _ in range(2):
            with pytest.raises(RetryAfter) as info:
                await bot.send_message(DUTY, "x")
            assert info.value.retry_after == 3
        botapi.bad_gateway(1)
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(DUTY, "x")
        botapi.hang(1, seconds=10)
        with pytest.raises(TimedOut):
            await bot.send_message(DUTY, "x")
        await bot.send_message(DUTY, "after the storm")
    flood = botapi.calls("sendMessage")[0]
    assert flood.status == 429
    assert '"description": "Too Many Requests: retry after 3"' in flood.response
    assert [m.text for m in botapi.messages(DUTY)] == ["after the storm"]
    assert botapi.pending_faults() == 0


async def test_faults_can_target_one_method(botapi: BotApiEmulator) -> None:
    botapi.add_chat(DUTY)
    botapi.flood(1, methods=["editMessageText"])
    async with make_bot(botapi) as bot:
        sent = await bot.send_message(DUTY, "x")
        with pytest.raises(RetryAfter):
            await bot.edit_message_text("y", chat_id=DUTY, message_id=sent.message_id)


async def test_get_updates_blocks_until_an_update_is_injected(botapi: BotApiEmulator) -> None:
    async with make_bot(botapi, read_timeout=15) as bot:
        poll = asyncio.create_task(bot.get_updates(timeout=10))
        assert await asyncio.to_thread(botapi.wait_for_poller, 5)
        botapi.inject_message(
            {"id": 7, "is_bot": False, "first_name": "李四"}, 7, "/ack@responder_test_bot 12"
        )
        updates = await poll
        assert len(updates) == 1
        msg = updates[0].message
        assert msg.text == "/ack@responder_test_bot 12" and msg.from_user.first_name == "李四"
        assert msg.entities[0].type == "bot_command" and msg.entities[0].length == len(
            "/ack@responder_test_bot"
        )
        # Unconfirmed updates come back; confirming with offset drops them; an empty short poll returns [].
        again = await bot.get_updates(timeout=0)
        assert [u.update_id for u in again] == [updates[0].update_id]
        assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == ()
    # One request per poll: the server held it open rather than answering at once.
    assert len(botapi.calls("getUpdates")) == 3
    assert botapi.pending_updates() == 0


async def test_a_second_poller_terminates_the_first_with_409(botapi: BotApiEmulator) -> None:
    async with make_bot(botapi, read_timeout=15) as one, make_bot(botapi, read_timeout=15) as two:
        first = asyncio.create_task(one.get_updates(timeout=10))
        assert await asyncio.to_thread(botapi.wait_for_poller, 5)
        second = asyncio.create_task(two.get_updates(timeout=10))
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await first
        assert await asyncio.to_thread(botapi.wait_for_poller, 5)
        botapi.inject_message(8, 8, "hello")
        assert len(await second) == 1


async def test_callback_query_round_trip(botapi: BotApiEmulator) -> None:
    botapi.add_chat(DUTY)
    async with make_bot(botapi) as bot:
        sent = await bot.send_message(DUTY, "事故", reply_markup=keyboard("ack:3"))
        query_id = botapi.inject_callback(99, DUTY, sent.message_id, "ack:3")
        [update] = await bot.get_updates(timeout=0)
        query = update.callback_query
        assert query.id == query_id and query.data == "ack:3" and query.message.message_id == sent.message_id
        assert await bot.answer_callback_query(query.id, text="已确认")
        with pytest.raises(BadRequest, match="Query is too old"):
            await bot.answer_callback_query(query.id, text="again")
    assert botapi.callback_answers[query_id] == {"text": "已确认", "show_alert": False}


async def test_commands_round_trip(botapi: BotApiEmulator) -> None:
    async with make_bot(botapi) as bot:
        await bot.set_my_commands([BotCommand("ack", "确认事件"), BotCommand("list", "未结事件")])
        commands = await bot.get_my_commands()
        with pytest.raises(BadRequest, match="Bot_command_invalid"):
            await bot.set_my_commands([BotCommand("Bad-Name", "x")])
        assert await bot.delete_webhook()
    assert [(c.command, c.description) for c in commands] == [("ack", "确认事件"), ("list", "未结事件")]


async def test_token_appears_only_in_the_url_path(botapi: BotApiEmulator) -> None:
    botapi.add_chat(DUTY)
    async with make_bot(botapi) as bot:
        await bot.send_message(DUTY, "x", reply_markup=keyboard("ack:1"))
        await bot.send_photo(DUTY, photo=png())
    assert botapi.requests
    for req in botapi.requests:
        assert req.path.startswith(f"/bot{TOKEN}/")
        assert TOKEN.encode() not in req.body
        assert all(TOKEN not in v for v in req.headers.values())


async def test_a_polling_application_receives_a_command_and_replies(botapi: BotApiEmulator) -> None:
    """The shape `main.py run` uses: async with application, start(), updater.start_polling()."""
    from telegram import Update
    from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes

    async def ack(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, f"收到 {' '.join(context.args or [])}")

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer("已确认")

    botapi.add_chat(DUTY)
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(botapi.base_url)
        .base_file_url(botapi.base_file_url)
        .get_updates_read_timeout(15)
        .build()
    )
    app.add_handler(CommandHandler("ack", ack))
    app.add_handler(CallbackQueryHandler(pressed))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=10)
        botapi.inject_message(11, DUTY, "/ack 42")
        assert await asyncio.to_thread(botapi.wait_for_calls, "sendMessage", 1, 10)
        query_id = botapi.inject_callback(11, DUTY, botapi.messages(DUTY)[0].message_id, "ack:42")
        assert await asyncio.to_thread(botapi.wait_for_calls, "answerCallbackQuery", 1, 10)
        await app.updater.stop()
        await app.stop()
    assert texts_of(botapi, DUTY) == ["收到 42"]
    assert botapi.callback_answers[query_id]["text"] == "已确认"
    assert botapi.pending_updates() == 0  # the updater confirmed what it handled on the way out


def texts_of(emu: BotApiEmulator, chat_id: int) -> list[str]:
    return [m.text for m in emu.messages(chat_id)]
