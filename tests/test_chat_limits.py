"""The bot's answers keep to Telegram's per-chat limits, strangers get one refusal, and heavy
answers are computed once.

The limiter and the cache are checked on a clock the test sets; the burst goes through the
real python-telegram-bot application against the Bot API emulator on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kit.botapi import TOKEN, BotApiEmulator, botapi_fixture  # noqa: F401
from kit.botrun import running, until
from kit.enginekit import Service, rss, write_config
from kit.feedserver import FeedServer
from sqlalchemy.engine import Engine
from sqlmodel import Session
from telegram.ext import Application

from responder.chat.telegram import build_application
from responder.chat.throttle import GROUP_REPLIES, REFUSAL_EVERY, AnswerCache, ReplyLimiter
from responder.env import TelegramEnv
from responder.models import Incident

NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
DUTY, POLICY = -100, -200
DUTY_OFFICER, POLICY_OFFICE, STRANGER = 1001, 1002, 5555


class Clock:
    """Seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --------------------------------------------------------------------------- the limiter on its own


def test_a_group_gets_its_share_of_answers_a_minute_and_no_more() -> None:
    clock = Clock()
    limiter = ReplyLimiter(clock)
    assert [limiter.reserve(DUTY) for _ in range(GROUP_REPLIES)] == [0.0] * GROUP_REPLIES
    # The next one would have to wait a minute, longer than an answer may wait: dropped.
    assert limiter.reserve(DUTY) is None
    # Half a minute on, it waits out the rest of the minute.
    clock.now += 30
    assert limiter.reserve(DUTY) == pytest.approx(30.0)
    # Another chat has its own share; a private chat a larger one.
    assert limiter.reserve(POLICY) == 0.0
    assert all(limiter.reserve(DUTY_OFFICER) == 0.0 for _ in range(GROUP_REPLIES + 1))


def test_a_person_is_refused_once_per_pause_and_a_crowd_of_strangers_twice_a_minute() -> None:
    clock = Clock()
    limiter = ReplyLimiter(clock)
    assert limiter.refusal(STRANGER, DUTY) and not limiter.refusal(STRANGER, DUTY)
    assert not limiter.refusal(STRANGER, POLICY)  # the pause is the person's, in any chat
    assert [limiter.refusal(6000 + i, DUTY) for i in range(5)] == [True, False, False, False, False]
    clock.now += REFUSAL_EVERY
    assert limiter.refusal(STRANGER, DUTY)
    # Refusals used a little of the group's share; answers to the roster keep the rest.
    assert [limiter.reserve(DUTY) for _ in range(GROUP_REPLIES - 3)] == [0.0] * (GROUP_REPLIES - 3)


async def test_a_heavy_answer_is_computed_once_per_window() -> None:
    clock = Clock()
    cache: AnswerCache[int] = AnswerCache(clock, ttl=300)
    computed: list[int] = []

    async def compute() -> int:
        computed.append(len(computed))
        await asyncio.sleep(0)  # the others ask while it is being computed
        return len(computed)

    assert await asyncio.gather(*(cache.get("W47", compute) for _ in range(20))) == [1] * 20
    clock.now += 299
    assert await cache.get("W47", compute) == 1 and len(computed) == 1
    assert await cache.get("W46", compute) == 2  # another week is another answer
    clock.now += 2
    assert await cache.get("W47", compute) == 3

    async def fails() -> int:
        raise RuntimeError("database away")

    with pytest.raises(RuntimeError):
        await cache.get("W45", fails)
    assert await cache.get("W45", compute) == 4  # a failure is not kept


# --------------------------------------------------------------------------- through the real bot


@pytest.fixture
def engine_with_incident(sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer) -> Iterator[Service]:
    t0 = NOW - timedelta(minutes=30)
    feed_server.route(
        "/n.xml", rss([("https://news.example/a", "淮南市潘集区一化工厂发生爆炸", "已造成12人死亡。", t0)])
    )
    svc = Service.start(
        sqlite_engine, write_config(tmp_path, f"  - name: 新闻\n    url: {feed_server.url('/n.xml')}\n"), t0
    )
    svc.step(NOW)
    yield svc


def application(svc: Service, botapi: BotApiEmulator, **kw: object) -> Application:  # type: ignore[type-arg]
    for chat in (DUTY, POLICY):
        botapi.add_chat(chat)
    telegram = TelegramEnv.of(TOKEN, botapi.base_url, botapi.base_file_url)
    return build_application(svc.settings, svc.engine, telegram, clock=lambda: NOW, **kw)  # type: ignore[arg-type]


async def test_two_hundred_stranger_commands_get_a_handful_of_answers(
    engine_with_incident: Service, botapi: BotApiEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="responder.chat.telegram")
    app = application(engine_with_incident, botapi)

    def refused() -> int:
        return sum("is not in the roster" in r.getMessage() for r in caplog.records)

    async with running(app):
        for _ in range(200):
            botapi.inject_message(STRANGER, DUTY, "/ack 1")
        await until(lambda: refused() == 200)  # every one was read, judged and logged
        # Twenty more strangers, ten commands each.
        for i in range(20):
            for _ in range(10):
                botapi.inject_message(6000 + i, DUTY, "/status")
        await until(lambda: refused() == 400)
        answers = [m for m in botapi.messages(DUTY) if m.from_bot]
        # One refusal to the first stranger (who is told their id), one more to the crowd.
        assert len(answers) <= 3 and "5555" in answers[0].text
        # Someone on the roster is still answered: the refusals did not spend the chat's share.
        before = len(answers)
        botapi.inject_message(DUTY_OFFICER, DUTY, "/status")
        await until(lambda: len([m for m in botapi.messages(DUTY) if m.from_bot]) > before)
        assert "未结事件 1 起" in botapi.messages(DUTY)[-1].text
        # A colleague whose role may not close is told so each time, not once per five minutes.
        for _ in range(2):
            botapi.inject_message(DUTY_OFFICER, DUTY, "/close 1")
        await until(lambda: len([m for m in botapi.messages(DUTY) if m.from_bot]) == before + 3)
    assert all("不能执行「关闭事件」" in m.text for m in botapi.messages(DUTY)[-2:])
    with Session(engine_with_incident.engine) as s:
        assert s.get(Incident, 1) is not None and s.get(Incident, 1).status == "open"  # type: ignore[union-attr]


async def test_summary_answers_are_reused_within_the_window(
    engine_with_incident: Service, botapi: BotApiEmulator
) -> None:
    clock = Clock()
    roomy = ReplyLimiter(group_replies=100)
    app = application(engine_with_incident, botapi, limiter=roomy, answers=AnswerCache(clock))

    async def ask() -> str:
        before = len(botapi.messages(POLICY))
        botapi.inject_message(POLICY_OFFICE, POLICY, "/summary 2026-W47")
        await until(
            lambda: len(botapi.messages(POLICY)) >= before + 2 and botapi.messages(POLICY)[-1].photo is None
        )
        return botapi.messages(POLICY)[-1].text

    async with running(app):
        first = await ask()
        assert "一、新立事件 0 起" in first  # the explosion was seen at this very moment: not yet counted
        # The records change (another incident that week) …
        with Session(engine_with_incident.engine) as s:
            s.add(
                Incident(
                    title="某仓库火灾", grade="较大", first_published=NOW, detected_at=NOW - timedelta(days=3)
                )
            )
            s.commit()
        # … but within five minutes the same answer serves everyone asking.
        clock.now += 240
        assert await ask() == first
        clock.now += 61
        assert "一、新立事件 1 起" in await ask()


async def test_an_answer_over_the_share_waits_for_its_slot_without_holding_up_others(
    engine_with_incident: Service, botapi: BotApiEmulator
) -> None:
    clock = Clock()
    app = application(engine_with_incident, botapi, limiter=ReplyLimiter(clock, group_replies=1))

    def bot_texts(chat: int) -> list[str]:
        return [m.text for m in botapi.messages(chat) if m.from_bot]

    async with running(app):
        botapi.inject_message(DUTY_OFFICER, DUTY, "/list")
        await until(lambda: len(bot_texts(DUTY)) == 1)
        clock.now += 59.9  # the duty group's next slot is a tenth of a second away
        botapi.inject_message(DUTY_OFFICER, DUTY, "/oncall")
        botapi.inject_message(DUTY_OFFICER, DUTY_OFFICER, "/list")  # another chat is not held up
        await until(lambda: len(bot_texts(DUTY_OFFICER)) == 1)
        await until(lambda: len(bot_texts(DUTY)) == 2)
        botapi.inject_message(DUTY_OFFICER, DUTY, "/list")  # a whole minute away: not answered
        botapi.inject_message(DUTY_OFFICER, DUTY_OFFICER, "/oncall")
        await until(lambda: len(bot_texts(DUTY_OFFICER)) == 2)
    assert "未结事件 1 起" in bot_texts(DUTY)[0] and "值班" in bot_texts(DUTY)[1]
    assert len(bot_texts(DUTY)) == 2
