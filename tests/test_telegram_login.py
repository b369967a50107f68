"""`/login` with the real python-telegram-bot application against the Bot API emulator: a roster
person gets a one-time console link in their private chat (and it signs them in, once); in a
group the bot says to use a private chat and issues nothing; a stranger is refused. Also the
TELEGRAM_PROXY variable: checked, its password never shown."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from kit.botapi import TOKEN, BotApiEmulator, botapi_fixture  # noqa: F401
from kit.botrun import running, until
from kit.enginekit import write_config
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from responder.chat.table import COMMANDS
from responder.chat.telegram import build_application
from responder.db import create_all
from responder.env import Environment, TelegramEnv, redact_proxy
from responder.models import WebLoginToken
from responder.runtime import Settings, load_settings
from responder.web.server import ConsoleServer

NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
DUTY = -100
POLICY_OFFICE, STRANGER = 1002, 5555


async def say(botapi: BotApiEmulator, user: int, chat: int, text: str) -> str:
    before = len(botapi.messages(chat))
    botapi.inject_message(user, chat, text)
    await until(lambda: len(botapi.messages(chat)) > before)
    return botapi.messages(chat)[-1].text


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(write_config(tmp_path, "  - name: 新闻\n    url: f.xml\n", "web:\n  port: 0\n"))


def tokens(engine: Engine) -> list[WebLoginToken]:
    with Session(engine) as s:
        return list(s.exec(select(WebLoginToken)))


async def test_login_in_a_private_chat_gives_a_one_time_link_and_never_in_a_group(
    sqlite_engine: Engine, settings: Settings, botapi: BotApiEmulator
) -> None:
    create_all(sqlite_engine)
    botapi.add_chat(DUTY, "值班群")
    for uid in (POLICY_OFFICE, STRANGER):
        botapi.add_user(uid, f"u{uid}")
    telegram = TelegramEnv.of(TOKEN, botapi.base_url, botapi.base_file_url)
    app = build_application(settings, sqlite_engine, telegram, clock=lambda: NOW)
    async with running(app):
        in_group = await say(botapi, POLICY_OFFICE, DUTY, "/login")
        refused = await say(botapi, STRANGER, STRANGER, "/login")
        private = await say(botapi, POLICY_OFFICE, POLICY_OFFICE, "/login")
    assert "私聊" in in_group and "/login/" not in in_group
    assert "不在值班名单中" in refused and "/login/" not in refused
    assert "法规处长" in private and "15分钟" in private
    [token_row] = tokens(sqlite_engine)  # one link, for the one private request
    assert token_row.person == "法规处长"
    link = re.search(r"/login/(\S+)", private)
    assert link, private
    assert "login" in [c.name for c in COMMANDS]  # registered with setMyCommands like the rest

    # The link signs its holder in once, as that person.
    server = ConsoleServer(settings, sqlite_engine, out=io.StringIO())
    server.console.clock = lambda: NOW + timedelta(minutes=1)
    assert await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, follow_redirects=True) as web:
            page = await web.get(f"/login/{link.group(1)}")
            form = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert form, page.text[:300]
            signed = await web.post(f"/login/{link.group(1)}", data={"csrf": form.group(1)})
            assert signed.status_code == 200 and "法规处长" in signed.text
        async with httpx.AsyncClient(base_url=server.url, follow_redirects=True) as again:
            second = await again.get(f"/login/{link.group(1)}")
            assert second.status_code == 410 and "已使用" in second.text  # spent: it works once
    finally:
        await server.stop()
    assert tokens(sqlite_engine)[0].used_at is not None


def test_telegram_proxy_is_checked_and_its_password_never_shown() -> None:
    env = Environment.read(
        {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_PROXY": "http://office:s3cret-pw@10.0.0.8:3128"}
    )
    assert env.telegram is not None and env.telegram.proxy == "http://office:s3cret-pw@10.0.0.8:3128"
    assert "s3cret-pw" not in repr(env) and "10.0.0.8:3128" in repr(env)
    assert redact_proxy("socks5://u:p4ss@127.0.0.1:1080") == "socks5://<hidden>@127.0.0.1:1080"
    for bad in ("127.0.0.1:3128", "ftp://proxy:21", "http://"):
        with pytest.raises(ValueError, match="TELEGRAM_PROXY") as exc:
            Environment.read({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_PROXY": bad})
        assert "p4ss" not in str(exc.value)
    with pytest.raises(ValueError) as exc:
        Environment.read({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_PROXY": "gopher://u:hunter2pw@h:1"})
    assert "hunter2pw" not in str(exc.value)
    # Without a bot token it is not Telegram's business at all.
    assert Environment.read({"TELEGRAM_PROXY": "http://127.0.0.1:3128"}).telegram is None
