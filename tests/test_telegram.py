"""The real python-telegram-bot Application against the Bot API emulator on 127.0.0.1.

Incidents come from a feed served on 127.0.0.1 through the engine; alerts reach the
emulator through the real outbox sender; people press buttons and type commands as
injected updates. Waiting is bounded polling of the emulator's records (network I/O);
the business clock is fixed through the application's injected clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kit.botapi import TOKEN, BotApiEmulator, SentMessage, botapi_fixture  # noqa: F401
from kit.botrun import running, until
from kit.enginekit import Service, rss, write_config
from kit.feedserver import FeedServer
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from telegram.ext import Application

from responder.chat.commands import DoneArgs, UsageError, parse_dismiss, parse_done
from responder.chat.table import COMMANDS
from responder.chat.telegram import build_application, register_commands
from responder.chat.throttle import ReplyLimiter
from responder.engine.drain import drain_outbox
from responder.env import TelegramEnv
from responder.models import Incident, IncidentEvent, Outbox, Step
from responder.senders.telegram import TelegramSender

NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai
T0 = NOW - timedelta(minutes=30)
CLOCK = NOW + timedelta(minutes=2)
DUTY, POLICY, ADMIN = -100, -200, -300
DUTY_OFFICER, POLICY_OFFICE, HEAD, ADMIN_USER, STRANGER = 1001, 1002, 1003, 1004, 5555
TITLE = "淮南市潘集区一化工厂发生爆炸 <b>A&B</b>"


@dataclass
class World:
    svc: Service
    botapi: BotApiEmulator
    app: Application  # type: ignore[type-arg]

    @property
    def engine(self) -> Engine:
        return self.svc.engine

    async def drain(self, now: datetime) -> None:
        sender = TelegramSender.build(
            TOKEN, base_url=self.botapi.base_url, base_file_url=self.botapi.base_file_url
        )
        try:
            stats = await drain_outbox(self.engine, sender, now, "test")
        finally:
            await sender.aclose()
        assert stats.failed == 0, stats

    async def say(self, user: int, chat: int, text: str) -> SentMessage:
        """`user` writes `text` in `chat`; returns the bot's reply there."""
        before = len(self.botapi.messages(chat))
        self.botapi.inject_message(user, chat, text)
        await until(lambda: len(self.botapi.messages(chat)) > before)
        return self.botapi.messages(chat)[-1]

    async def press(self, user: int, chat: int, message_id: int, data: str) -> dict[str, object]:
        """`user` presses the button with `data` under a message; returns the callback answer."""
        qid = self.botapi.inject_callback(user, chat, message_id, data)
        await until(lambda: qid in self.botapi.callback_answers)
        return self.botapi.callback_answers[qid]


@pytest.fixture
def world(
    sqlite_engine: Engine,
    tmp_path: Path,
    feed_server: FeedServer,
    botapi: BotApiEmulator,
    caplog: pytest.LogCaptureFixture,
) -> Iterator[World]:
    feed_server.route("/news.xml", rss([("https://news.example/a1", TITLE, "事故已造成12人死亡。", T0)]))
    cfg = write_config(tmp_path, f"  - name: 新闻A\n    url: {feed_server.url('/news.xml')}\n")
    # Two officers take turns weekly, so /oncall has a handover to show (甲 until Monday 09:00).
    roster = (tmp_path / "roster.yaml").read_text(encoding="utf-8")
    roster = roster.replace(
        "roles: [admin]}\n",
        "roles: [admin]}\n  - {name: 值班员乙, telegram_id: 1005, roles: [duty_officer]}\n",
    )
    (tmp_path / "roster.yaml").write_text(
        roster.replace("order: [值班员甲]", "order: [值班员乙, 值班员甲]"), encoding="utf-8"
    )
    svc = Service.start(sqlite_engine, cfg, NOW - timedelta(minutes=10))
    svc.step(NOW)
    for chat, title in ((DUTY, "值班群"), (POLICY, "政策法规处"), (ADMIN, "管理群")):
        botapi.add_chat(chat, title)
    for uid, name in ((DUTY_OFFICER, "甲"), (POLICY_OFFICE, "处长"), (HEAD, "局长"), (ADMIN_USER, "管理员")):
        botapi.add_user(uid, name)
    telegram = TelegramEnv.of(TOKEN, botapi.base_url, botapi.base_file_url)
    # These tests type many commands into one group within a minute; the limiter's shares are
    # tested on their own (test_chat_limits.py).
    roomy = ReplyLimiter(group_replies=100, private_replies=100)
    app = build_application(svc.settings, sqlite_engine, telegram, clock=lambda: CLOCK, limiter=roomy)
    yield World(svc, botapi, app)
    # Every update was handled: a handler that raised would have been logged here.
    failures = [
        r for r in caplog.records if r.name == "responder.chat.telegram" and r.levelno >= logging.ERROR
    ]
    assert not failures, [r.getMessage() for r in failures]


def the_incident(engine: Engine) -> Incident:
    with Session(engine) as s:
        [inc] = s.exec(select(Incident)).all()
        return inc


def log_of(engine: Engine, kind: str) -> list[IncidentEvent]:
    with Session(engine) as s:
        return list(
            s.exec(select(IncidentEvent).where(IncidentEvent.kind == kind).order_by(col(IncidentEvent.id)))
        )


async def test_pressing_acknowledge_edits_the_card_and_logs_who(world: World) -> None:
    await world.drain(NOW)
    [alert] = [m for m in world.botapi.messages(DUTY) if m.buttons]
    assert TITLE in alert.text  # the outside title's <b> and & arrive as text
    ack = next(b for row in alert.buttons for b in row if b["text"] == "确认")
    iid = the_incident(world.engine).id
    assert ack["callback_data"] == f"ack:{iid}"

    async with running(world.app):
        answer = await world.press(POLICY_OFFICE, DUTY, alert.message_id, ack["callback_data"])
    assert "法规处长" in str(answer["text"]) and not answer["show_alert"]

    [ev] = log_of(world.engine, "acknowledged")
    assert (ev.actor_id, ev.actor_name, ev.chat_id, ev.at) == (POLICY_OFFICE, "法规处长", DUTY, CLOCK)
    with Session(world.engine) as s:
        pending = s.exec(select(Outbox).where(Outbox.status == "pending")).all()
    assert {o.kind for o in pending} == {"edit", "message"}

    # The outbox sender delivers the edit: the alert in the duty chat now says who acknowledged.
    await world.drain(CLOCK)
    card = next(m for m in world.botapi.messages(DUTY) if m.message_id == alert.message_id)
    assert card.message_id == alert.message_id and card.edits
    assert "已确认（法规处长 16:02）" in card.text
    assert "确认" not in [b["text"] for row in card.buttons for b in row]
    assert "已由 法规处长 确认" in world.botapi.messages(DUTY)[-1].text


async def test_strangers_and_wrong_roles_are_refused_politely(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await world.drain(NOW)
    [alert] = [m for m in world.botapi.messages(DUTY) if m.buttons]
    iid = the_incident(world.engine).id
    async with running(world.app):
        reply = await world.say(STRANGER, DUTY, f"/ack {iid}")
        assert "不在值班名单" in reply.text and str(STRANGER) in reply.text
        answer = await world.press(STRANGER, DUTY, alert.message_id, f"ack:{iid}")
        assert "不在值班名单" in str(answer["text"]) and answer["show_alert"]
        reply = await world.say(DUTY_OFFICER, DUTY, f"/close {iid}")
        assert "值班员" in reply.text and "不能执行「关闭事件」" in reply.text
        # A roster member in a chat that is not configured.
        reply = await world.say(POLICY_OFFICE, -777, f"/ack {iid}")
        assert "只在值班群" in reply.text
    assert the_incident(world.engine).status == "open" and not log_of(world.engine, "acknowledged")
    refusals = [r for r in caplog.records if r.levelno == logging.WARNING and "refused" in r.getMessage()]
    assert any(str(STRANGER) in r.getMessage() and str(DUTY) in r.getMessage() for r in refusals)
    assert any("-777" in r.getMessage() for r in refusals)
    secret = TOKEN.split(":", 1)[1]
    assert TOKEN not in caplog.text and secret not in caplog.text


async def test_done_with_evidence_dismiss_usage_and_unknown_ids(world: World) -> None:
    await world.drain(NOW)
    [alert] = [m for m in world.botapi.messages(DUTY) if m.buttons]
    iid = the_incident(world.engine).id
    link = "https://yjt.ah.gov.cn/xwdt/1.html"
    async with running(world.app):
        # The first open step is 公开事故情况: one button per outlet it may have been published on.
        weibo = next(b for row in alert.buttons for b in row if b["text"] == "已发布·微博")
        assert weibo["callback_data"] == f"done:{iid}:publish_info:weibo"
        answer = await world.press(ADMIN_USER, DUTY, alert.message_id, weibo["callback_data"])
        assert "公开事故情况 已完成（管理员）" in str(answer["text"])
        assert "发布渠道：政务微博" in str(answer["text"])
        reply = await world.say(POLICY_OFFICE, POLICY, f"/done {iid} statement 微信 {link}")
        assert "发布权威信息 已完成（法规处长）" in reply.text
        assert "证据：发布渠道：微信公众号，链接：" in reply.text and link in reply.text
        reply = await world.say(POLICY_OFFICE, POLICY, f"/dismiss {iid}")
        assert reply.text.startswith("用法：/dismiss 编号 原因")
        reply = await world.say(POLICY_OFFICE, POLICY, "/ack 99")
        assert "没有编号为 #99 的事件" in reply.text
        reply = await world.say(POLICY_OFFICE, POLICY, "/ack 123456789012345678901234567890")
        assert reply.text.startswith("用法：/ack")
        crafted = await world.press(
            POLICY_OFFICE, DUTY, alert.message_id, "ack:123456789012345678901234567890"
        )
        assert str(crafted["text"]).startswith("用法：/ack") and crafted["show_alert"]
        reply = await world.say(POLICY_OFFICE, POLICY, f"/done {iid} statment")
        assert "可用的事项" in reply.text and "press_conference" in reply.text
        reply = await world.say(POLICY_OFFICE, POLICY, f"/done {iid} flash 主要负责同志参加")
        assert "不是新闻发布会" in reply.text
        reply = await world.say(POLICY_OFFICE, POLICY, "/ack")
        assert reply.text.startswith("用法：/ack")
        reply = await world.say(POLICY_OFFICE, POLICY, "/frobnicate")
        assert "/help" in reply.text
    with Session(world.engine) as s:
        st = s.exec(select(Step).where(Step.key == "statement")).one()
    assert (st.done_at, st.done_by, st.evidence_link) == (CLOCK, "法规处长", link)
    button, ev = log_of(world.engine, "step_done")
    assert (button.actor_id, button.chat_id, button.data["key"]) == (ADMIN_USER, DUTY, "publish_info")
    assert ev.actor_id == POLICY_OFFICE and ev.chat_id == POLICY and ev.data["evidence_link"] == link
    assert (button.data["outlets"], ev.data["outlets"]) == (["weibo"], ["wechat"])
    # The command's own chat got the direct reply; the alerted chats get the confirmation.
    with Session(world.engine) as s:
        notes = s.exec(select(Outbox).where(col(Outbox.dedup_key).contains(f":step_done:{ev.id}@"))).all()
    assert {o.chat_id for o in notes} == {DUTY, DUTY_OFFICER}


async def test_views_answer_and_commands_are_registered(world: World) -> None:
    iid = the_incident(world.engine).id
    async with running(world.app):
        assert await register_commands(world.app.bot)
        listed = await world.say(DUTY_OFFICER, DUTY, "/list")
        oncall = await world.say(HEAD, HEAD, "/oncall")
        status = await world.say(ADMIN_USER, ADMIN, f"/status {iid}")
        overview = await world.say(DUTY_OFFICER, DUTY_OFFICER, "/status")
        helped = await world.say(DUTY_OFFICER, DUTY, "/help")
        addressed = await world.say(DUTY_OFFICER, DUTY, f"/status@responder_test_bot {iid}")
        missing = await world.say(DUTY_OFFICER, DUTY, "/status 99")
        await world.say(POLICY_OFFICE, POLICY, "/summary 2026-W47")
        await until(lambda: world.botapi.messages(POLICY)[-1].photo is None)
        chart, summary = world.botapi.messages(POLICY)[-2:]
        bad_week = await world.say(POLICY_OFFICE, POLICY, "/summary 2026-W99")
    assert "未结事件 1 起" in listed.text and "公开事故情况 截止 16:30，剩余 28分钟" in listed.text
    assert "当前值班员：值班员甲，值班至 11-23 09:00" in oncall.text and "政策法规处：法规处长" in oncall.text
    assert TITLE in status.text and "状态：待确认" in status.text
    assert status.buttons[0][0]["callback_data"] == f"ack:{iid}"
    assert f"#{iid}【重大】" in overview.text and "待确认" in overview.text
    assert "值班员" in helped.text and "/done" in helped.text
    assert addressed.text == status.text
    assert "没有编号为 #99 的事件" in missing.text
    assert "2026-W47" in summary.text
    assert chart.photo is not None and chart.photo.startswith(b"\x89PNG") and "2026-W47" in chart.text
    assert bad_week.text.startswith("用法：/summary")
    [registered] = world.botapi.commands.values()
    assert [c["command"] for c in registered] == [c.name for c in COMMANDS]
    assert all(c["description"] for c in registered)
    assert next(c for c in registered if c["command"] == "ack")["description"].startswith("确认")


def inject_reply(botapi: BotApiEmulator, user: int, chat_id: int, to: SentMessage, text: str) -> None:
    """`user` answers the bot's message `to` with `text`.

    The emulator's inject_message has no reply_to_message, so this builds the same update
    the real server sends for a reply, from the emulator's own records.
    """
    with botapi._lock:
        sender, chat = botapi._users[user], botapi._chats[chat_id]
        original = botapi._message_json(to, chat)
    payload = {
        "message_id": 10_000 + len(botapi.messages(chat_id, include_users=True)),
        "date": original["date"],
        "chat": chat,
        "from": sender,
        "text": text,
        "reply_to_message": original,
    }
    botapi._push_update("message", payload)


async def test_false_alarm_button_asks_for_the_reason_and_the_reply_dismisses(world: World) -> None:
    await world.drain(NOW)
    [alert] = [m for m in world.botapi.messages(DUTY) if m.buttons]
    iid = the_incident(world.engine).id
    async with running(world.app):
        before = len(world.botapi.messages(DUTY))
        answer = await world.press(POLICY_OFFICE, DUTY, alert.message_id, f"dismiss:{iid}")
        assert "原因" in str(answer["text"])
        await until(lambda: len(world.botapi.messages(DUTY)) > before)
        prompt = world.botapi.messages(DUTY)[-1]
        assert f"要把 #{iid} 标记为误报" in prompt.text and prompt.reply_markup
        assert prompt.reply_markup["force_reply"] is True
        assert the_incident(world.engine).status == "open"  # pressing alone changes nothing

        # A duty officer may not dismiss, even by replying.
        inject_reply(world.botapi, DUTY_OFFICER, DUTY, prompt, "看着像演练")
        await until(lambda: len(world.botapi.messages(DUTY)) > before + 1)
        assert "不能执行「排除误报」" in world.botapi.messages(DUTY)[-1].text
        assert the_incident(world.engine).status == "open"

        inject_reply(world.botapi, POLICY_OFFICE, DUTY, prompt, "系消防演练报道")
        await until(lambda: len(world.botapi.messages(DUTY)) > before + 2)
        assert "已标记为误报（法规处长）：系消防演练报道" in world.botapi.messages(DUTY)[-1].text
    inc = the_incident(world.engine)
    assert (inc.status, inc.dismissed_reason, inc.closed_by) == ("dismissed", "系消防演练报道", "法规处长")
    [ev] = log_of(world.engine, "dismissed")
    assert (ev.actor_id, ev.chat_id) == (POLICY_OFFICE, DUTY)
    # The card loses its buttons once the edit is delivered.
    await world.drain(CLOCK)
    card = next(m for m in world.botapi.messages(DUTY) if m.message_id == alert.message_id)
    assert "误报已排除（法规处长）：系消防演练报道" in card.text and card.buttons == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["12"], DoneArgs(12, None, "", None)),
        (["#12", "statement"], DoneArgs(12, "statement", "", None)),
        (["12", "statement", "https://x.cn/a"], DoneArgs(12, "statement", "", "https://x.cn/a")),
        (["12", "https://x.cn/a"], DoneArgs(12, None, "", "https://x.cn/a")),
        (["12", "repost:weibo"], DoneArgs(12, "repost", "weibo", None)),
        (
            ["12", "repost", "微信", "https://mp.weixin.qq.com/s/1"],
            DoneArgs(12, "repost", "", "https://mp.weixin.qq.com/s/1", ("wechat",)),
        ),
        (["12", "门户网站"], DoneArgs(12, None, "", None, ("portal",))),
        (["12", "发布权威信息"], DoneArgs(12, "发布权威信息", "", None)),
        (
            ["12", "statement", "微博", "微信", "发布会"],
            DoneArgs(12, "statement", "", None, ("weibo", "wechat", "press_conference")),
        ),
        (
            ["12", "statement", "其他", "weibo", "微博"],
            DoneArgs(12, "statement", "", None, ("other", "weibo")),
        ),
        (
            ["12", "press_conference", "主要负责同志参加"],
            DoneArgs(12, "press_conference", "", None, (), True),
        ),
        (
            ["12", "press_conference", "nohead", "https://x.cn/a"],
            DoneArgs(12, "press_conference", "", "https://x.cn/a", (), False),
        ),
    ],
)
def test_done_arguments(args: list[str], expected: DoneArgs) -> None:
    assert parse_done(args) == expected


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["x"],
        ["0"],
        ["12", "repost:moon"],
        ["12", "statement", "extra", "words"],
        ["12", "statement", "ftp://x"],
        ["123456789012345678901234567890", "statement"],
        ["2147483648"],
        ["12", "press_conference", "head", "nohead"],
    ],
)
def test_bad_done_arguments_get_the_usage_line(args: list[str]) -> None:
    with pytest.raises(UsageError, match=r"^用法：/done"):
        parse_done(args)


def test_dismiss_needs_an_id_and_a_reason() -> None:
    assert parse_dismiss(["12", "系", "演练"]) == (12, "系 演练")
    for bad in ([], ["12"], ["x", "理由"]):
        with pytest.raises(UsageError, match=r"^用法：/dismiss"):
            parse_dismiss(bad)


async def test_extend_command_grants_the_longer_deadline_once(world: World) -> None:
    with Session(world.engine) as s:
        inquiry = Incident(
            kind="inquiry", title="网民建议增设危化品夜间检查", first_published=NOW, detected_at=NOW
        )
        s.add(inquiry)
        s.commit()
        iid = inquiry.id
    await asyncio.to_thread(world.svc.step, NOW + timedelta(minutes=1))  # opens its feedback step (7wd)
    async with running(world.app):
        usage = await world.say(POLICY_OFFICE, POLICY, f"/extend {iid} feedback")
        refused = await world.say(DUTY_OFFICER, DUTY, f"/extend {iid} feedback 情况复杂")
        granted = await world.say(POLICY_OFFICE, POLICY, f"/extend {iid} feedback 情况复杂 需会商")
        again = await world.say(HEAD, HEAD, f"/extend {iid} feedback 再延")
        helped = await world.say(POLICY_OFFICE, POLICY, "/help")
    assert usage.text.startswith("用法：/extend 编号 事项 原因")
    assert "不能执行「延长时限」" in refused.text
    assert (
        "时限延长至 2026-12-12 00:00" in granted.text
    )  # 24:00 of the 15th working day and "情况复杂 需会商" in granted.text
    assert "只能延长一次" in again.text
    assert "/extend" in helped.text and "延长时限" in helped.text
    [ev] = log_of(world.engine, "extended")
    assert (ev.actor_id, ev.chat_id) == (POLICY_OFFICE, POLICY)


async def test_evidence_on_the_card_in_the_confirmation_and_in_status(world: World) -> None:
    await world.drain(NOW)
    [alert] = [m for m in world.botapi.messages(DUTY) if m.buttons]
    iid = the_incident(world.engine).id
    link = "https://www.ah.gov.example/xwfb/12.html"
    proof = f"证据：发布渠道：政务微博、微信公众号，链接：{link}"
    async with running(world.app):
        reply = await world.say(POLICY_OFFICE, POLICY, f"/done {iid} statement 微博 微信 {link}")
        status = await world.say(DUTY_OFFICER, DUTY, f"/status {iid}")
        # The button a card shows when the press conference is the step due: did the head attend?
        answer = await world.press(HEAD, DUTY, alert.message_id, f"done:{iid}:press_conference:head")
        assert "不能执行「标记完成」" in str(answer["text"])  # the head may not mark steps done
        answer = await world.press(ADMIN_USER, DUTY, alert.message_id, f"done:{iid}:press_conference:head")
        assert "举行新闻发布会 已完成（管理员）" in str(answer["text"]) and "主要负责同志参加" in str(
            answer["text"]
        )
    assert proof in reply.text
    lines = status.text.splitlines()
    statement = next(i for i, line in enumerate(lines) if "发布权威信息 已完成" in line)
    assert lines[statement + 1].strip() == proof
    assert "证据：主要负责同志参加" not in status.text  # the conference was marked after /status
    # The alerted chats are told, and the card itself shows the proof, once delivered.
    await world.drain(CLOCK)
    told = [m.text for m in world.botapi.messages(DUTY) if "发布权威信息 已完成（法规处长）" in m.text]
    assert told and proof in told[0]
    card = next(m for m in world.botapi.messages(DUTY) if m.message_id == alert.message_id)
    assert proof in card.text and "证据：主要负责同志参加" in card.text
    [conference] = [e for e in log_of(world.engine, "step_done") if e.data["key"] == "press_conference"]
    assert conference.data["attended_by_head"] is True and conference.actor_id == ADMIN_USER


async def test_inquiry_command_registers_a_suggestion_for_the_policy_office(world: World) -> None:
    link = "https://weibo.com/1234567890/AbCdEf"
    async with running(world.app):
        usage = await world.say(POLICY_OFFICE, POLICY, f"/inquiry {link}")
        refused = await world.say(DUTY_OFFICER, DUTY, "/inquiry 建议增设危化品夜间检查")
        stranger = await world.say(STRANGER, STRANGER, "/inquiry 建议增设危化品夜间检查")
        registered = await world.say(POLICY_OFFICE, POLICY, f"/inquiry 建议增设 <危化品> 夜间检查 {link}")
    assert usage.text.startswith("用法：/inquiry 要点 [链接]")
    assert "不能执行「登记网民意见建议」" in refused.text
    assert "不在值班名单" in stranger.text
    with Session(world.engine) as s:
        [inc] = s.exec(select(Incident).where(Incident.kind == "inquiry")).all()
    assert f"已登记网民意见建议 #{inc.id}：建议增设 <危化品> 夜间检查" in registered.text
    assert (inc.title, inc.first_published) == ("建议增设 <危化品> 夜间检查", CLOCK)
    [ev] = [e for e in log_of(world.engine, "opened") if e.incident_id == inc.id]
    assert (ev.actor_id, ev.chat_id, ev.data["link"]) == (POLICY_OFFICE, POLICY, link)
    # The next cycle gives it its feedback step: received Saturday 11-21, so the 7th working
    # day is Tuesday 12-01, until 24:00.
    await asyncio.to_thread(world.svc.step, CLOCK + timedelta(minutes=1))
    with Session(world.engine) as s:
        [step] = s.exec(select(Step).where(Step.incident_id == inc.id)).all()
    assert step.key == "feedback"
    assert step.due_at == datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # 2026-12-02 00:00 in Shanghai
