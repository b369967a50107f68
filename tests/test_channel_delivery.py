"""Robots through the outbox: rows addressed to a WeCom, DingTalk or Feishu robot are claimed,
sent by the robot sender against the platform's emulator on 127.0.0.1, and recorded as
Telegram's are: in order per robot, paced under the documented rate, retried after the
platform's rate limit or a gateway failure, refused for good on a bad key with one report to
the admins per spell. Time is a fixed `now` the test advances; the robot clients read the
emulator's fixed clock, so nothing sleeps.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kit.channelkit import Rig, rig_fixture  # noqa: F401
from kit.enginekit import ROOT
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from responder.config import WebConsole
from responder.db import create_all, make_engine, session_scope
from responder.engine.drain import DrainStats, backoff, drain_outbox
from responder.engine.notify import report_delivery_failures
from responder.engine.outbox import queue, queue_edits
from responder.env import Environment
from responder.models import Outbox
from responder.present.html import pack_callback
from responder.roster import Roster, load_roster
from responder.senders import Router, make_sender
from responder.senders.console import ConsoleSender
from responder.senders.robots import RobotSender

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
PUBLIC = "https://yq.example.gov.cn/console"
TELEGRAM_CHAT = -100
ME = "test-instance"
FIELDS = {"wecom": "key_env", "dingtalk": "token_env", "feishu": "token_env"}
ADMIN_CHAT = -300


def roster_text(rig: Rig) -> str:
    """The duty chat: a Telegram group and the rig's robot; the admins: a Telegram group."""
    name = rig.platform.name
    secret = ", secret_env: ROBOT_SECRET" if rig.secret else ""
    return (
        "people:\n  - {name: 值班员甲, roles: [duty_officer]}\n  - {name: 局长, roles: [head]}\n"
        "  - {name: 管理员, roles: [admin]}\n"
        f"chats:\n  duty:\n    telegram: {TELEGRAM_CHAT}\n    {name}: {{{FIELDS[name]}: ROBOT_KEY{secret}}}\n"
        "  policy_office: -200\n"
        f"  admin: {ADMIN_CHAT}\n"
        "rotation:\n  start: 2026-01-05\n  order: [值班员甲]\n"
    )


def address(rig: Rig) -> str:
    return f"{rig.platform.name}:ROBOT_KEY"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'responder.sqlite3'}")
    create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def roster(rig: Rig, tmp_path: Path) -> Roster:
    path = tmp_path / "roster.yaml"
    path.write_text(roster_text(rig), encoding="utf-8")
    return load_roster(path)


def variables(rig: Rig) -> dict[str, str]:
    """The environment: the rig's robot as its whole webhook address, a signing secret where it signs."""
    webhook = {
        "wecom": f"{rig.emulator.base_url}/cgi-bin/webhook/send?key={rig.token}",
        "dingtalk": f"{rig.emulator.base_url}/robot/send?access_token={rig.token}",
        "feishu": f"{rig.emulator.base_url}/open-apis/bot/v2/hook/{rig.token}",
    }[rig.platform.name]
    env = {"ROBOT_KEY": webhook}
    if rig.secret:
        env["ROBOT_SECRET"] = rig.secret
    return env


@pytest.fixture
async def sender(rig: Rig, roster: Roster) -> AsyncIterator[Router]:
    env = Environment.read(variables(rig))
    robots = RobotSender(roster, env.variables, WebConsole(public_url=PUBLIC), clock=rig.clock, timeout=2.0)
    router = Router(ConsoleSender(io.StringIO()), robots)
    yield router
    await router.aclose()


def put(
    engine: Engine, key: str, destinations: list[int | str], text: str, incident_id: int | None = 42
) -> None:
    with session_scope(engine) as s:
        buttons = [[{"text": "确认", "callback_data": pack_callback("ack", 42)}]]
        queue(s, key, destinations, text, NOW, incident_id=incident_id, buttons=buttons)


def rows(engine: Engine, robot: str | None = None) -> list[Outbox]:
    with Session(engine) as s:
        q = select(Outbox).order_by(col(Outbox.id))
        return list(s.exec(q.where(Outbox.robot == robot) if robot else q))


async def drain(engine: Engine, sender: Router, now: datetime, batch: int = 20) -> DrainStats:
    return await drain_outbox(engine, sender, now, ME, batch=batch)


async def test_rows_reach_the_robot_in_order_with_the_console_link(
    rig: Rig, engine: Engine, sender: Router, roster: Roster
) -> None:
    for i in range(3):
        put(
            engine,
            f"incident:42:escalation:L1:r{i}",
            [TELEGRAM_CHAT, address(rig)],
            f"🚨 <b>第{i}条</b> 告警\n截止 16:30",
        )
    put(engine, "feed:新闻:down:x", [address(rig)], "⚠️ 信息源 新闻 无法访问", incident_id=None)
    stats = await drain(engine, sender, NOW)
    assert stats.sent == 7 and stats.failed == 0
    texts = rig.texts()
    assert [next(n for n in range(3) if f"第{n}条" in x) for x in texts[:3]] == [0, 1, 2]
    # Each message carries the console page of its incident instead of the buttons; others the board.
    assert all(f"{PUBLIC}/incidents/42" in x and "确认" not in x for x in texts[:3])
    assert f"{PUBLIC}/" in texts[3] and "/incidents/" not in texts[3]
    # Telegram rows went to the Telegram side (the console here), robots' rows are marked as theirs.
    robot_rows = rows(engine, address(rig))
    assert len(robot_rows) == 4 and all(r.chat_id == 0 and r.status == "sent" for r in robot_rows)
    assert all(r.dedup_key.endswith(f"@{address(rig)}") for r in robot_rows)


async def test_a_card_edit_is_not_queued_for_a_robot(rig: Rig, engine: Engine, sender: Router) -> None:
    put(engine, "incident:42:escalation:L1:r0", [TELEGRAM_CHAT, address(rig)], "🚨 告警")
    await drain(engine, sender, NOW)
    with session_scope(engine) as s:
        assert queue_edits(s, 42, "event:1", "🚨 告警（已确认）", NOW + timedelta(seconds=1)) == 1
    [edit] = [r for r in rows(engine) if r.kind == "edit"]
    assert edit.chat_id == TELEGRAM_CHAT and edit.robot is None
    await drain(engine, sender, NOW + timedelta(seconds=1))
    assert len(rig.texts()) == 1  # the robot's group got the card once, no second copy


async def test_the_platforms_rate_limit_holds_that_robot_only_and_keeps_order(
    rig: Rig, engine: Engine, sender: Router
) -> None:
    rig.emulator.fail("rate_limited")
    for i in range(2):
        put(engine, f"incident:42:escalation:L1:r{i}", [address(rig), TELEGRAM_CHAT], f"告警{i}")
    stats = await drain(engine, sender, NOW)
    assert (stats.sent, stats.retrying, stats.held) == (2, 1, 1)  # both Telegram rows went
    first, second = rows(engine, address(rig))
    assert first.status == "pending" and first.next_attempt_at == NOW + timedelta(
        seconds=rig.platform.rate_wait
    )
    assert second.status == "pending" and rig.texts() == []
    # Not before the wait: nothing is tried; after it, both arrive in order.
    await drain(engine, sender, NOW + timedelta(seconds=rig.platform.rate_wait - 1))
    assert rig.texts() == []
    rig.clock.advance(rig.platform.rate_wait)
    await drain(engine, sender, NOW + timedelta(seconds=rig.platform.rate_wait))
    assert [x.split("告警")[1][:1] for x in rig.texts()] == ["0", "1"]


async def test_pacing_stays_under_the_documented_rate(rig: Rig, engine: Engine, sender: Router) -> None:
    limit = rig.platform.per_minute
    for i in range(limit + 3):
        put(engine, f"summary:w{i}:text", [address(rig)], f"第{i}条", incident_id=None)
    stats = await drain(engine, sender, NOW, batch=limit + 3)
    answers = [r.answer for r in rig.emulator.requests]
    # Feishu's 5 a second paces before its 100 a minute: fewer go now, none is refused by the platform.
    assert stats.sent == len(rig.texts()) <= limit and stats.failed == 0
    assert all((a.get("errcode") == 0) or (a.get("code") == 0) for a in answers), answers
    waiting = [r for r in rows(engine) if r.status == "pending"]
    assert waiting and waiting[0].next_attempt_at is not None and waiting[0].next_attempt_at > NOW
    # Drained on as time passes (the rows say when), everything arrives once, in order, never refused.
    now = NOW
    for _ in range(200):
        pending = [r for r in rows(engine) if r.status == "pending"]
        if not pending:
            break
        due = pending[0].next_attempt_at  # the robot's head row says when it may go on
        assert due is not None
        rig.clock.advance((due - now).total_seconds())
        now = due
        await drain(engine, sender, now, batch=limit + 3)
    assert [int(x.split("第")[1].split("条")[0]) for x in rig.texts()] == list(range(limit + 3))
    assert all(
        (a.get("errcode") == 0) or (a.get("code") == 0) for a in (r.answer for r in rig.emulator.requests)
    )


async def test_a_gateway_failure_backs_off_like_telegram(rig: Rig, engine: Engine, sender: Router) -> None:
    rig.emulator.fail("server_error")
    put(engine, "incident:42:escalation:L1:r0", [address(rig)], "告警")
    await drain(engine, sender, NOW)
    [row] = rows(engine)
    assert row.status == "pending" and row.attempts == 1 and row.next_attempt_at == NOW + backoff(1)
    assert "502" in (row.last_error or "")
    await drain(engine, sender, NOW + backoff(1))
    assert rows(engine)[0].status == "sent" and len(rig.texts()) == 1


async def test_a_bad_key_is_reported_to_the_admins_once_per_spell(
    rig: Rig, engine: Engine, sender: Router, roster: Roster
) -> None:
    put(engine, "incident:42:escalation:L1:r0", [address(rig)], "告警一")
    await drain(engine, sender, NOW)  # delivered: the robot worked until now
    rig.emulator.remove_robot(rig.token)
    reports = 0
    for i in range(1, 4):
        later = NOW + timedelta(minutes=i)
        put(engine, f"incident:42:escalation:L1:r{i}", [address(rig)], f"告警{i}")
        rig.clock.advance(60)  # a minute between drains: the robot's pacing never holds these
        stats = await drain(engine, sender, later)
        assert stats.failed == 1 and stats.permanent_failures[0].chat_level
        with session_scope(engine) as s:
            reports += report_delivery_failures(s, roster, stats.permanent_failures, later)
    assert reports == 1  # three refusals, one report
    [report] = [r for r in rows(engine) if r.dedup_key.startswith("robot-refused:")]
    assert report.chat_id == ADMIN_CHAT and "ROBOT_KEY" in report.text
    assert rig.token not in report.text and rig.token not in str([r.last_error for r in rows(engine)])
    # The robot comes back (a new key) and later fails again: that is a new spell, reported again.
    rig.emulator.add_robot(rig.token, rig.secret)
    put(engine, "incident:42:escalation:L1:r9", [address(rig)], "告警九")
    rig.clock.advance(60)
    await drain(engine, sender, NOW + timedelta(minutes=5))
    rig.emulator.remove_robot(rig.token)
    put(engine, "incident:42:escalation:L1:r10", [address(rig)], "告警十")
    rig.clock.advance(60)
    stats = await drain(engine, sender, NOW + timedelta(minutes=6))
    with session_scope(engine) as s:
        assert report_delivery_failures(s, roster, stats.permanent_failures, NOW + timedelta(minutes=6)) == 1


async def test_a_robot_whose_variable_is_missing_refuses_at_the_robot_level(
    rig: Rig, engine: Engine, roster: Roster
) -> None:
    robots = RobotSender(roster, {}, WebConsole(public_url=PUBLIC), clock=rig.clock, timeout=2.0)
    try:
        put(engine, "incident:42:escalation:L1:r0", [address(rig)], "告警")
        stats = await drain_outbox(engine, Router(ConsoleSender(io.StringIO()), robots), NOW, ME)
    finally:
        await robots.aclose()
    [failure] = stats.permanent_failures
    assert failure.chat_level and failure.robot == address(rig) and "ROBOT_KEY" in failure.reason


def test_make_sender_adds_the_robots_only_when_the_roster_names_some(rig: Rig, tmp_path: Path) -> None:
    from kit.enginekit import write_config

    from responder.runtime import load_settings

    plain = load_settings(write_config(tmp_path, "  - name: 新闻\n    url: f.xml\n"))
    assert isinstance(make_sender(Environment.read({}), plain), ConsoleSender)
    (tmp_path / "roster.yaml").write_text(roster_text(rig), encoding="utf-8")
    with_robots = load_settings(tmp_path / "feeds.yaml")
    sender = make_sender(Environment.read(variables(rig)), with_robots)
    assert isinstance(sender, Router) and isinstance(sender.robots, RobotSender)
    assert ROOT.is_dir()
