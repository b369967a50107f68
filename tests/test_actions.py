"""What people do to incidents (acknowledge, complete, dismiss, close), on a real SQLite file.

Incidents are created by the engine itself: a feed served on 127.0.0.1, polled and
cycled at a fixed `now` (tests/kit/enginekit.py), then acted on as the roster's people.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from kit.enginekit import Service, rss, write_config
from kit.feedserver import FeedServer
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from responder.db import session_scope
from responder.engine import actions
from responder.engine.actions import (
    ActionError,
    Actor,
    AlreadyClosed,
    NotExtendable,
    NothingToDo,
    NotPermitted,
    UnknownIncident,
    UnknownStep,
    can,
)
from responder.models import Incident, IncidentEvent, Outbox, Step

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai
T0 = NOW - timedelta(minutes=30)  # first publication of the explosion
DUTY, POLICY, ADMIN = -100, -200, -300

EXPLOSION = ("https://news.example/a1", "淮南市潘集区一化工厂发生爆炸", "事故已造成12人死亡。", T0)
FLOOD = ("https://news.example/b1", "六安市霍邱县一铁矿发生透水事故", "事故造成3人遇难。", T0)
POLICY_ITEM = ("https://gov.example/p1", "国务院安全生产委员会关于加强冬季安全生产工作的通知", "安全生产", T0)


def start(
    engine: Engine, tmp_path: Path, server: FeedServer, items: list[Any], upstream: list[Any] | None = None
) -> Service:
    server.route("/news.xml", rss(items))
    sources = f"  - name: 新闻A\n    url: {server.url('/news.xml')}\n"
    if upstream is not None:
        server.route("/gov.xml", rss(upstream))
        sources += f"  - name: 国务院\n    url: {server.url('/gov.xml')}\n    kind: upstream\n"
    svc = Service.start(engine, write_config(tmp_path, sources), NOW - timedelta(minutes=10))
    svc.step(NOW)
    return svc


def person(svc: Service, user_id: int) -> Actor:
    return Actor.from_roster(svc.settings.roster, user_id)


def act(svc: Service, fn: Callable[..., actions.ActionResult], *args: Any, **kw: Any) -> actions.ActionResult:
    with session_scope(svc.engine) as s:
        return fn(s, svc.settings, *args, **kw)


def incident(engine: Engine, title_part: str) -> Incident:
    with Session(engine) as s:
        return next(i for i in s.exec(select(Incident)).all() if title_part in i.title)


def events(engine: Engine, iid: int, kind: str | None = None) -> list[IncidentEvent]:
    with Session(engine) as s:
        q = select(IncidentEvent).where(IncidentEvent.incident_id == iid).order_by(col(IncidentEvent.id))
        return [e for e in s.exec(q).all() if kind is None or e.kind == kind]


def steps(engine: Engine, iid: int) -> dict[str, Step]:
    with Session(engine) as s:
        rows = s.exec(select(Step).where(Step.incident_id == iid).order_by(col(Step.id))).all()
        return {actions.step_label(r) + (f"#{r.seq}" if r.seq else ""): r for r in rows}


def outbox(engine: Engine, iid: int) -> list[Outbox]:
    with Session(engine) as s:
        return list(s.exec(select(Outbox).where(Outbox.incident_id == iid).order_by(col(Outbox.id))).all())


@pytest.mark.parametrize(
    ("roles", "allowed"),
    [
        ({"duty_officer"}, {"view", "ack"}),
        ({"policy_office"}, {"view", "ack", "done", "extend", "dismiss", "close", "register"}),
        ({"head"}, {"view", "ack", "extend", "close"}),
        ({"admin"}, {"view", "ack", "done", "extend", "dismiss", "close", "calendar", "register"}),
        ({"spokesperson"}, {"view"}),
        ({"duty_officer", "head"}, {"view", "ack", "extend", "close"}),
        (set(), set()),
    ],
)
def test_who_may_do_what(roles: set[str], allowed: set[str]) -> None:
    assert {a for a in actions.ACTIONS if can(roles, a)} == allowed


def test_acknowledge_records_who_when_where_and_edits_the_cards(
    db_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    # On SQLite and on PostgreSQL, where the incident row is locked against a running cycle.
    svc = start(db_engine, tmp_path, feed_server, [EXPLOSION])
    inc = incident(db_engine, "淮南")
    cards = [o for o in outbox(db_engine, inc.id) if ":escalation:" in o.dedup_key]
    assert {c.chat_id for c in cards} == {DUTY, 1001}  # the duty chat and the officer on duty

    at = NOW + timedelta(minutes=2)
    res = act(svc, actions.acknowledge, inc.id, person(svc, 1002), POLICY, at)
    assert res.changed and "法规处长" in res.message

    inc = incident(db_engine, "淮南")
    assert (inc.status, inc.acked_by, inc.acked_at) == ("acknowledged", "法规处长", at)
    [ev] = events(db_engine, inc.id, "acknowledged")
    assert (ev.actor_id, ev.actor_name, ev.chat_id, ev.at) == (1002, "法规处长", POLICY, at)
    assert ev.data["level"] == 1
    # Every card already sent is edited to say who acknowledged; the 确认 button is gone.
    edits = [o for o in outbox(db_engine, inc.id) if o.kind == "edit"]
    assert sorted(e.edit_of for e in edits) == sorted(c.id for c in cards)
    assert all("已确认（法规处长 16:02）" in e.text for e in edits)
    assert all("确认" not in b["text"] for e in edits for row in e.buttons or [] for b in row)
    # The alerted chats get a short confirmation.
    notes = [
        o for o in outbox(db_engine, inc.id) if o.dedup_key.startswith(f"incident:{inc.id}:acknowledged:")
    ]
    assert {o.chat_id for o in notes} == {DUTY, 1001} and all("已由 法规处长 确认" in o.text for o in notes)

    # A second press changes nothing and says who was first.
    before = len(outbox(db_engine, inc.id))
    again = act(svc, actions.acknowledge, inc.id, person(svc, 1001), DUTY, at + timedelta(minutes=1))
    assert not again.changed and "法规处长" in again.message
    assert len(outbox(db_engine, inc.id)) == before and len(events(db_engine, inc.id, "acknowledged")) == 1


def test_acknowledging_stops_the_escalation(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    svc = start(sqlite_engine, tmp_path, feed_server, [EXPLOSION, FLOOD])
    acked, other = incident(sqlite_engine, "淮南"), incident(sqlite_engine, "六安")
    act(svc, actions.acknowledge, acked.id, person(svc, 1001), DUTY, NOW + timedelta(minutes=2))

    # Past every level-1 ack timeout, before any step is due: only the unacknowledged one climbs.
    svc.step(NOW + timedelta(minutes=20))
    assert incident(sqlite_engine, "淮南").escalation_level == 1
    assert [e.data["level"] for e in events(sqlite_engine, acked.id, "escalated")] == [1]
    assert incident(sqlite_engine, "六安").escalation_level == 2
    assert not [o for o in outbox(sqlite_engine, acked.id) if ":escalation:L2:" in o.dedup_key]
    assert [o for o in outbox(sqlite_engine, other.id) if ":escalation:L2:" in o.dedup_key]


def test_completing_late_keeps_the_breach(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    svc = start(sqlite_engine, tmp_path, feed_server, [EXPLOSION])
    inc = incident(sqlite_engine, "淮南")
    due = steps(sqlite_engine, inc.id)["publish_info"].due_at
    assert due == T0 + timedelta(hours=1)
    svc.step(due + timedelta(minutes=5))  # the cycle sees the breach
    assert steps(sqlite_engine, inc.id)["publish_info"].breached_at == due

    done_at = due + timedelta(minutes=20)
    link = "https://yjt.ah.gov.cn/news/1.html"
    res = act(
        svc, actions.complete_step, inc.id, "publish_info", "", person(svc, 1002), POLICY, done_at, link
    )
    assert res.changed and res.late and "超时 20分钟" in res.message

    st = steps(sqlite_engine, inc.id)["publish_info"]
    assert (st.done_at, st.done_by, st.evidence_link, st.breached_at) == (done_at, "法规处长", link, due)
    [ev] = events(sqlite_engine, inc.id, "step_done")
    assert (ev.actor_id, ev.chat_id, ev.step_id) == (1002, POLICY, st.id)
    assert ev.data == {
        "key": "publish_info",
        "channel": "",
        "outlets": [],  # where it was published was not said
        "evidence_link": link,
        "done_at": done_at.isoformat(),
        "late": True,
        "auto": False,
    }
    # Working on an unacknowledged incident acknowledges it, on the record.
    [ack] = events(sqlite_engine, inc.id, "acknowledged")
    assert ack.data["implicit"] is True and incident(sqlite_engine, "淮南").acked_by == "法规处长"
    edits = [o for o in outbox(sqlite_engine, inc.id) if o.kind == "edit" and f"event:{ev.id}" in o.dedup_key]
    assert edits and all("☑️ 公开事故情况 超时完成 16:50（法规处长）" in e.text for e in edits)

    # On time: no breach. By title, as on the card, rather than by key.
    res = act(svc, actions.complete_step, inc.id, "举行新闻发布会", "", person(svc, 1004), ADMIN, done_at)
    assert res.changed and not res.late
    pc = steps(sqlite_engine, inc.id)["press_conference"]
    assert pc.done_at == done_at and pc.breached_at is None and pc.done_by == "管理员"


def test_done_without_a_step_completes_the_earliest_open_one(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    svc = start(sqlite_engine, tmp_path, feed_server, [EXPLOSION])
    inc = incident(sqlite_engine, "淮南")
    order = sorted(steps(sqlite_engine, inc.id).values(), key=lambda s: s.due_at)
    for i, expected in enumerate(order):
        res = act(
            svc,
            actions.complete_step,
            inc.id,
            None,
            "",
            person(svc, 1002),
            POLICY,
            NOW + timedelta(minutes=i),
        )
        assert res.step_id == expected.id
    with pytest.raises(NothingToDo, match="均已完成"):
        act(
            svc,
            actions.complete_step,
            inc.id,
            None,
            "",
            person(svc, 1002),
            POLICY,
            NOW + timedelta(minutes=9),
        )
    # Naming a step already done is not an error: it says who did it.
    again = act(
        svc,
        actions.complete_step,
        inc.id,
        "statement",
        "",
        person(svc, 1002),
        POLICY,
        NOW + timedelta(minutes=9),
    )
    assert not again.changed and "已由 法规处长" in again.message


def test_recurring_step_completes_its_open_occurrence(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    svc = start(sqlite_engine, tmp_path, feed_server, [EXPLOSION])
    inc = incident(sqlite_engine, "淮南")
    who = person(svc, 1002)
    act(svc, actions.complete_step, inc.id, "statement", "", who, POLICY, NOW + timedelta(minutes=5))
    svc.step(NOW + timedelta(minutes=6))  # the updates cadence starts from the statement
    assert "updates" in steps(sqlite_engine, inc.id)
    act(svc, actions.complete_step, inc.id, "updates", "", who, POLICY, NOW + timedelta(hours=1))
    svc.step(NOW + timedelta(hours=1, minutes=1))
    found = steps(sqlite_engine, inc.id)
    assert found["updates"].done_at == NOW + timedelta(hours=1) and found["updates#1"].done_at is None
    res = act(svc, actions.complete_step, inc.id, "updates", "", who, POLICY, NOW + timedelta(hours=2))
    assert (
        res.step_id == found["updates#1"].id and steps(sqlite_engine, inc.id)["updates#1"].done_at is not None
    )


def test_repost_steps_are_completed_per_outlet(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    svc = start(sqlite_engine, tmp_path, feed_server, [], upstream=[POLICY_ITEM])
    inc = incident(sqlite_engine, "冬季安全生产")
    who = person(svc, 1002)
    with pytest.raises(UnknownStep) as info:
        act(svc, actions.complete_step, inc.id, "repost", "", who, POLICY, NOW)
    assert "请指明渠道" in str(info.value) and "repost:weibo" in str(info.value)
    res = act(
        svc, actions.complete_step, inc.id, "repost", "weibo", who, POLICY, NOW, "https://weibo.com/x/1"
    )
    assert res.changed
    found = steps(sqlite_engine, inc.id)
    assert found["repost:weibo"].done_at == NOW
    assert all(found[f"repost:{c}"].done_at is None for c in ("portal", "wechat", "app"))


def test_dismiss_stops_every_reminder(sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer) -> None:
    svc = start(sqlite_engine, tmp_path, feed_server, [EXPLOSION, FLOOD])
    false, real = incident(sqlite_engine, "淮南"), incident(sqlite_engine, "六安")
    at = NOW + timedelta(minutes=3)
    with pytest.raises(ActionError, match="需要写明原因"):
        act(svc, actions.dismiss, false.id, "  ", person(svc, 1002), POLICY, at)
    res = act(svc, actions.dismiss, false.id, "系应急演练 报道", person(svc, 1002), POLICY, at)
    assert res.changed and "系应急演练 报道" in res.message

    inc = incident(sqlite_engine, "淮南")
    assert (inc.status, inc.dismissed_reason, inc.closed_by, inc.closed_at) == (
        "dismissed",
        "系应急演练 报道",
        "法规处长",
        at,
    )
    [ev] = events(sqlite_engine, inc.id, "dismissed")
    assert (ev.actor_id, ev.chat_id, ev.data["reason"]) == (1002, POLICY, "系应急演练 报道")
    edits = [o for o in outbox(sqlite_engine, inc.id) if o.kind == "edit"]
    assert edits and all("误报已排除（法规处长）" in e.text and e.buttons is None for e in edits)

    before = len(outbox(sqlite_engine, false.id))
    other_before = len(outbox(sqlite_engine, real.id))
    svc.step(NOW + timedelta(hours=6))  # reminders, breaches, escalations all fall due
    assert len(outbox(sqlite_engine, false.id)) == before
    assert len(outbox(sqlite_engine, real.id)) > other_before
    with pytest.raises(AlreadyClosed, match="误报"):
        act(svc, actions.acknowledge, false.id, person(svc, 1001), DUTY, NOW + timedelta(hours=6))


def test_close_records_the_decision_and_what_was_still_open(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    svc = start(sqlite_engine, tmp_path, feed_server, [EXPLOSION])
    inc = incident(sqlite_engine, "淮南")
    at = NOW + timedelta(hours=1)
    res = act(svc, actions.close, inc.id, person(svc, 1003), 1003, at)
    assert res.changed and "局长" in res.message and "仍未完成" in res.message
    inc = incident(sqlite_engine, "淮南")
    assert (inc.status, inc.closed_by, inc.closed_at) == ("closed", "局长", at)
    [ev] = events(sqlite_engine, inc.id, "closed")
    assert ev.actor_id == 1003 and set(ev.data["open_steps"]) == {
        "publish_info",
        "flash",
        "statement",
        "press_conference",
    }
    with pytest.raises(AlreadyClosed, match="已关闭"):
        act(svc, actions.close, inc.id, person(svc, 1002), POLICY, at)


def test_refused_actions_change_nothing(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    svc = start(sqlite_engine, tmp_path, feed_server, [EXPLOSION])
    inc = incident(sqlite_engine, "淮南")
    n_events, n_out = len(events(sqlite_engine, inc.id)), len(outbox(sqlite_engine, inc.id))
    duty = person(svc, 1001)
    with pytest.raises(NotPermitted, match="值班员") as info:
        act(svc, actions.close, inc.id, duty, DUTY, NOW)
    assert "关闭事件" in str(info.value)
    with pytest.raises(NotPermitted):
        act(svc, actions.dismiss, inc.id, "不是事故", duty, DUTY, NOW)
    with pytest.raises(NotPermitted):
        act(svc, actions.complete_step, inc.id, "statement", "", duty, DUTY, NOW)
    stranger = Actor.from_roster(svc.settings.roster, 424242, "路人")
    assert stranger.roles == frozenset() and stranger.name == "路人"
    with pytest.raises(NotPermitted, match="未登记角色"):
        act(svc, actions.acknowledge, inc.id, stranger, DUTY, NOW)
    # Permission is checked before the incident is even looked up: strangers learn nothing.
    with pytest.raises(NotPermitted):
        act(svc, actions.acknowledge, 999, stranger, DUTY, NOW)
    assert incident(sqlite_engine, "淮南").status == "open"
    assert len(events(sqlite_engine, inc.id)) == n_events and len(outbox(sqlite_engine, inc.id)) == n_out


def test_unknown_incident_and_step(sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer) -> None:
    svc = start(sqlite_engine, tmp_path, feed_server, [EXPLOSION])
    inc = incident(sqlite_engine, "淮南")
    with pytest.raises(UnknownIncident, match="没有编号为 #999 的事件"):
        act(svc, actions.acknowledge, 999, person(svc, 1002), POLICY, NOW)
    with pytest.raises(UnknownStep) as info:
        act(svc, actions.complete_step, inc.id, "statment", "", person(svc, 1002), POLICY, NOW)
    message = str(info.value)
    assert "statment" in message
    assert all(k in message for k in ("statement", "press_conference", "publish_info", "flash"))
    # Each key with the title the card shows, in the catalogue's punctuation.
    assert "publish_info（公开事故情况）" in message and "(" not in message, message
    with pytest.raises(ActionError, match="不认识的发布渠道「moon」"):
        act(
            svc,
            actions.complete_step,
            inc.id,
            "statement",
            "",
            person(svc, 1002),
            POLICY,
            NOW,
            outlets=["moon"],
        )
    with pytest.raises(UnknownIncident):  # a 30-digit number never reaches the database
        act(svc, actions.acknowledge, 10**30, person(svc, 1002), None, NOW)
    assert all(s.done_at is None for s in steps(sqlite_engine, inc.id).values())


def test_extending_an_inquirys_feedback_to_fifteen_working_days(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    svc = start(sqlite_engine, tmp_path, feed_server, [EXPLOSION])
    # A suggestion from the public, opened by hand on Monday 2026-11-23 10:00 in Shanghai.
    received = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    with session_scope(sqlite_engine) as s:
        row = Incident(
            kind="inquiry", title="网民建议加强危化品运输监管", first_published=received, detected_at=received
        )
        s.add(row)
    svc.step(received)
    feedback = steps(sqlite_engine, row.id)["feedback"]
    assert feedback.due_at == datetime(2026, 12, 3, 0, 0, tzinfo=SH).astimezone(UTC)  # 7 working days

    at = received + timedelta(days=3)
    with pytest.raises(NotPermitted):
        act(svc, actions.extend_deadline, row.id, "feedback", "情况复杂", person(svc, 1001), DUTY, at)
    with pytest.raises(ActionError, match="需要写明原因"):
        act(svc, actions.extend_deadline, row.id, "feedback", " ", person(svc, 1002), POLICY, at)
    res = act(
        svc, actions.extend_deadline, row.id, "反馈处理意见", "情况复杂,需会商", person(svc, 1002), POLICY, at
    )
    fifteen = datetime(2026, 12, 15, 0, 0, tzinfo=SH).astimezone(UTC)  # 24:00 of the 15th working day
    assert res.changed and "2026-12-15 00:00" in res.message and "情况复杂,需会商" in res.message
    assert steps(sqlite_engine, row.id)["feedback"].due_at == fifteen
    [ev] = events(sqlite_engine, row.id, "extended")
    assert (ev.actor_id, ev.data["due_to"], ev.data["reason"]) == (
        1002,
        fifteen.isoformat(),
        "情况复杂,需会商",
    )
    again = act(svc, actions.extend_deadline, row.id, "feedback", "再延", person(svc, 1003), 1003, at)
    assert not again.changed and "只能延长一次" in again.message
    # Cycles later keep the extension: no re-timing back to seven days, no breach at the old limit.
    svc.step(feedback.due_at + timedelta(hours=1))
    st = steps(sqlite_engine, row.id)["feedback"]
    assert st.due_at == fifteen and st.breached_at is None
    # A step whose playbook grants no extension says so.
    inc = incident(sqlite_engine, "淮南")
    with pytest.raises(NotExtendable, match="没有可延长的时限"):
        act(svc, actions.extend_deadline, inc.id, "statement", "太忙", person(svc, 1002), POLICY, at)


def test_the_press_conference_step_shows_who_attends(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    svc = start(sqlite_engine, tmp_path, feed_server, [EXPLOSION])
    inc = incident(sqlite_engine, "淮南")
    [card] = [o for o in outbox(sqlite_engine, inc.id) if o.dedup_key.endswith(f":escalation:L1:r0@{DUTY}")]
    lines = card.text.splitlines()
    conference = next(i for i, line in enumerate(lines) if "举行新闻发布会" in line)
    assert lines[conference + 1] == "  出席：局新闻发言人和局领导班子成员出席"
    # Once held, the card no longer asks for it.
    act(
        svc,
        actions.complete_step,
        inc.id,
        "press_conference",
        "",
        person(svc, 1002),
        POLICY,
        NOW + timedelta(minutes=1),
    )
    [edit] = [o for o in outbox(sqlite_engine, inc.id) if o.kind == "edit" and o.chat_id == DUTY][-1:]
    assert "出席" not in edit.text
