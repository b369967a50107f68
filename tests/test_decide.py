"""decide(): what is owed, what is late, who is next — with a fixed `now`, no clock.

Each cycle here is `decide` then `apply`, the same two calls the engine makes.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from responder.playbook import Playbook, Reminders, load_playbooks, select_playbooks
from responder.policy.decide import decide
from responder.policy.state import (
    Action,
    CompleteStep,
    CreateStep,
    Escalate,
    GradeChange,
    IncidentState,
    MarkBreached,
    Notify,
    OwnItem,
    RefreshCards,
    Retime,
    StepState,
    apply,
)
from responder.vocab import Channel, Grade
from responder.workcal import WorkCalendar

SH = ZoneInfo("Asia/Shanghai")
BOOKS = load_playbooks(Path(__file__).resolve().parent.parent / "playbooks")
MAJOR = BOOKS["major-incident"]
SERIOUS = BOOKS["serious-incident"]
REPOST = BOOKS["policy-repost"]
CAL = WorkCalendar(SH)
# Monday 2026-11-23, 10:00 in Shanghai: the first report of the event.
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=SH).astimezone(UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)


def incident(**kw: object) -> IncidentState:
    base: dict[str, object] = {
        "id": 42,
        "kind": "event",
        "grade": "重大",
        "status": "open",
        "first_published": T0,
        "detected_at": T0 + 10 * M,
    }
    base.update(kw)
    return IncidentState(**base)  # type: ignore[arg-type]


def cycle(
    state: IncidentState, now: datetime, books: Playbook | Iterable[Playbook] = MAJOR, cal: WorkCalendar = CAL
) -> tuple[IncidentState, list[Action]]:
    actions = decide(state, books, cal, now)
    return apply(state, actions), actions


def notices(actions: list[Action]) -> list[str]:
    return [a.dedup_key for a in actions if isinstance(a, Notify)]


def about(a: Notify) -> str:
    """The step key a notice is about ('' for none)."""
    return a.step.key if a.step else ""


def done(
    state: IncidentState, key: str, at: datetime, channel: Channel | str | None = None, seq: int = 0
) -> IncidentState:
    steps = tuple(
        dataclasses.replace(s, done_at=at) if (s.key, s.channel, s.seq) == (key, channel, seq) else s
        for s in state.steps
    )
    return dataclasses.replace(state, steps=steps)


def step(state: IncidentState, key: str, channel: str | None = None, seq: int = 0) -> StepState:
    return next(s for s in state.steps if (s.key, s.channel, s.seq) == (key, channel, seq))


def test_on_time_detection_creates_steps_and_alerts_the_duty_officer() -> None:
    s, actions = cycle(incident(), T0 + 10 * M)
    creates = [a for a in actions if isinstance(a, CreateStep)]
    assert [(c.key, c.started_at, c.due_at) for c in creates] == [
        ("statement", T0, T0 + 5 * H),
        ("press_conference", T0, T0 + 24 * H),
    ]  # updates wait for the first statement
    assert all(c.breached_at is None for c in creates)
    assert Escalate(1, "detected", "duty_officer", T0 + 10 * M) in actions
    [alert] = [a for a in actions if isinstance(a, Notify)]
    assert (alert.dedup_key, alert.kind, alert.level, alert.role) == (
        "incident:42:escalation:L1:r0",
        "escalation",
        1,
        "duty_officer",
    )
    # Acknowledged, statement out after 2h, first update after 4h, press conference after 20h.
    s = dataclasses.replace(s, acked_at=T0 + 15 * M, status="acknowledged")
    s = done(s, "statement", T0 + 2 * H)
    s, actions = cycle(s, T0 + 2 * H)
    [upd] = [a for a in actions if isinstance(a, CreateStep)]
    assert (upd.key, upd.seq, upd.started_at, upd.due_at) == ("updates", 0, T0 + 2 * H, T0 + 6 * H)
    s = done(s, "updates", T0 + 4 * H)
    s = done(s, "press_conference", T0 + 20 * H)
    for now in (T0 + 3 * H, T0 + 4 * H, T0 + 5 * H, T0 + 6 * H):
        s, actions = cycle(s, now)
        assert not [a for a in actions if isinstance(a, MarkBreached | Escalate)]
    assert not [st for st in s.steps if st.breached_at]
    assert step(s, "updates", seq=1).due_at == T0 + 8 * H


def test_each_reminder_point_once_then_overdue_and_top_level() -> None:
    s, _ = cycle(incident(acked_at=T0 + 12 * M, status="acknowledged"), T0 + 10 * M)
    got: list[tuple[datetime, list[str]]] = []
    for minutes in range(11, 5 * 60 + 2):
        now = T0 + minutes * M
        s, actions = cycle(s, now)
        if actions:
            got.append((now, notices(actions)))
    assert got[:4] == [
        (T0 + 150 * M, ["incident:42:statement::reminder:50pct"]),
        (T0 + 240 * M, ["incident:42:statement::reminder:80pct"]),
        (T0 + 285 * M, ["incident:42:statement::reminder:15m"]),
        (T0 + 300 * M, ["incident:42:escalation:L3:r0", "incident:42:statement::overdue"]),
    ]
    assert step(s, "statement").breached_at == T0 + 5 * H  # the deadline, not the moment we noticed
    assert s.escalation_level == 3


def test_reminder_audience_and_params() -> None:
    s, _ = cycle(incident(), T0 + 10 * M)
    for minutes in range(11, 241):
        s, actions = cycle(s, T0 + minutes * M)
    [r] = [a for a in actions if isinstance(a, Notify) and a.kind == "reminder"]
    # Unacknowledged for hours: the incident has climbed to the head; reminders follow the level reached.
    assert r.level == s.escalation_level == 3 and r.roles == ("head",)
    assert r.params["point"] == "80pct"
    assert r.params["due_at"] == (T0 + 5 * H).isoformat()
    assert r.params["seconds_left"] == 3600
    json.dumps(r.params)  # storable as event data


def test_points_passed_before_the_incident_was_seen_are_not_sent() -> None:
    # First seen 4h50m after first publication: the 15-minute point (4h45m) had passed. The
    # card tells what is due; a reminder of a moment before anyone knew would only be noise.
    _, actions = cycle(incident(detected_at=T0 + 290 * M), T0 + 290 * M)
    assert notices(actions) == ["incident:42:escalation:L1:r0"]


def test_passed_points_are_not_sent_in_a_burst() -> None:
    # Seen at 1h40m; the 50% point (2h30m) comes after, then the bot is down until 4h50m.
    s, actions = cycle(incident(detected_at=T0 + 100 * M), T0 + 100 * M)
    assert notices(actions) == ["incident:42:escalation:L1:r0"]
    s, actions = cycle(dataclasses.replace(s, acked_at=T0 + 101 * M, status="acknowledged"), T0 + 150 * M)
    assert notices(actions) == ["incident:42:statement::reminder:50pct"]
    _, actions = cycle(s, T0 + 290 * M)
    assert notices(actions) == ["incident:42:statement::reminder:15m"]  # the latest point only


def test_calling_twice_queues_each_notice_once() -> None:
    s, _ = cycle(incident(), T0 + 10 * M)
    all_keys: list[str] = []
    for minutes in range(10, 30 * 60, 7):
        now = T0 + minutes * M
        first = decide(s, MAJOR, CAL, now)
        s = apply(s, first)
        all_keys += notices(first)
        assert decide(s, MAJOR, CAL, now) == []  # same state + its queued keys: nothing new
    assert len(all_keys) == len(set(all_keys))


def test_late_detection_marks_overdue_and_goes_to_the_top() -> None:
    # First report 6 hours old when the bot sees it: the 5-hour statement is already late.
    state = incident(detected_at=T0 + 6 * H)
    actions = decide(state, select_playbooks(BOOKS, "event", "重大"), CAL, T0 + 6 * H)
    creates = {a.key: a for a in actions if isinstance(a, CreateStep)}
    assert creates["statement"].breached_at == T0 + 5 * H
    assert creates["publish_info"].breached_at == T0 + H
    assert creates["press_conference"].breached_at is None
    assert creates["flash"].breached_at is None  # same day, until 24:00
    [esc] = [a for a in actions if isinstance(a, Escalate)]
    assert (esc.to_level, esc.reason, esc.role) == (3, "detected_late", "head")
    overdue = [a for a in actions if isinstance(a, Notify) and a.kind == "overdue"]
    assert {about(a) for a in overdue} == {"statement", "publish_info"}
    assert all(a.level == 3 and a.params["detected_late"] for a in overdue)
    assert not [
        a for a in actions if isinstance(a, Notify) and a.kind == "reminder" and about(a) == "statement"
    ]
    assert "incident:42:escalation:L3:r0" in notices(actions)


def test_grade_raised_midway_counts_from_first_published() -> None:
    # A 较大 incident, acknowledged, its information published on time.
    s, _ = cycle(incident(grade="较大"), T0 + 10 * M, select_playbooks(BOOKS, "event", "较大"))
    s = dataclasses.replace(s, acked_at=T0 + 15 * M, status="acknowledged")
    s = done(s, "publish_info", T0 + 40 * M)
    s, _ = cycle(s, T0 + 2 * H, select_playbooks(BOOKS, "event", "较大"))
    level_before = s.escalation_level
    # At +6h a new report raises the toll to 12 dead: 重大. The 5-hour clock ran from T0.
    s = dataclasses.replace(s, grade="重大")
    books = select_playbooks(BOOKS, "event", s.grade, {st.playbook for st in s.steps})
    s2, actions = cycle(s, T0 + 6 * H, books)
    statement = step(s2, "statement")
    assert statement.started_at == T0 and statement.breached_at == T0 + 5 * H
    assert Escalate(3, "step_overdue", "head", T0 + 6 * H) in actions  # detected on time, not "detected_late"
    assert level_before == 1
    # Raised at +3h instead: not late, one reminder (the latest point passed), no escalation.
    _, actions = cycle(s, T0 + 3 * H, books)
    assert [k for k in notices(actions) if "statement" in k] == ["incident:42:statement::reminder:50pct"]
    assert not [a for a in actions if isinstance(a, Escalate)]


def test_escalation_climbs_and_repeats_while_unacknowledged() -> None:
    s, _ = cycle(incident(detected_at=T0), T0)
    log: list[tuple[int, list[str]]] = []
    for minutes in range(1, 61):
        s, actions = cycle(s, T0 + minutes * M)
        keys = [k for k in notices(actions) if "escalation" in k]
        if keys:
            log.append((minutes, keys))
    # L1 at 0 (repeat 5m, timeout 10m); L2 at 10 (repeat 10m, timeout 15m); L3 at 25 (repeat 30m).
    assert log == [
        (5, ["incident:42:escalation:L1:r1"]),
        (10, ["incident:42:escalation:L2:r0"]),
        (20, ["incident:42:escalation:L2:r1"]),
        (25, ["incident:42:escalation:L3:r0"]),
        (55, ["incident:42:escalation:L3:r1"]),
    ]


def test_acknowledgement_stops_escalation_but_not_reminders_or_breach() -> None:
    s, _ = cycle(incident(detected_at=T0), T0)
    s = dataclasses.replace(s, acked_at=T0 + 3 * M, status="acknowledged")
    kinds: list[tuple[str, str]] = []
    for minutes in range(4, 5 * 60 + 1):
        s, actions = cycle(s, T0 + minutes * M)
        kinds += [(a.kind, about(a)) for a in actions if isinstance(a, Notify)]
        assert not [a for a in actions if isinstance(a, Escalate) and a.reason == "ack_timeout"]
    assert kinds == [
        ("reminder", "statement"),
        ("reminder", "statement"),
        ("reminder", "statement"),
        ("escalation", "statement"),  # the breach still goes to the head, its card first
        ("overdue", "statement"),
    ]
    assert s.escalation_level == 3
    # Acknowledged at the top: no repeats; the breach mark stays.
    s, actions = cycle(s, T0 + 8 * H)
    assert not [a for a in actions if isinstance(a, Notify) and about(a) == "statement"]
    assert step(s, "statement").breached_at == T0 + 5 * H


def test_completion_after_the_deadline_is_done_but_late() -> None:
    s, _ = cycle(incident(acked_at=T0 + 11 * M, status="acknowledged"), T0 + 10 * M)
    # Evidence (the portal item) shows the statement went out at 5h30m; no cycle ran in between.
    s = done(s, "statement", T0 + 330 * M)
    s, actions = cycle(s, T0 + 6 * H)
    assert MarkBreached(step(s, "statement").ref, T0 + 5 * H) in actions
    assert step(s, "statement").breached_at == T0 + 5 * H
    assert not [a for a in actions if isinstance(a, Notify) and about(a) == "statement"]
    # A breach seen while open stays after completion: nothing clears it, nothing re-marks it.
    s2, _ = cycle(incident(acked_at=T0 + 11 * M, status="acknowledged"), T0 + 10 * M)
    s2, _ = cycle(s2, T0 + 5 * H)
    s2 = done(s2, "statement", T0 + 6 * H)
    s2, actions = cycle(s2, T0 + 7 * H)
    assert not [a for a in actions if isinstance(a, MarkBreached)]
    assert step(s2, "statement").breached_at == T0 + 5 * H


def test_recurring_updates_follow_the_last_one_and_skip_after_an_outage() -> None:
    s, _ = cycle(incident(acked_at=T0 + 11 * M, status="acknowledged"), T0 + 10 * M)
    s = done(s, "statement", T0 + H)
    s, _ = cycle(s, T0 + H)
    assert (step(s, "updates").started_at, step(s, "updates").due_at) == (T0 + H, T0 + 5 * H)
    s = done(s, "updates", T0 + 3 * H)
    s, _ = cycle(s, T0 + 3 * H)
    assert step(s, "updates", seq=1).due_at == T0 + 7 * H
    s, actions = cycle(s, T0 + 7 * H)
    assert "incident:42:updates#1::overdue" in notices(actions)
    assert step(s, "updates", seq=2).started_at == T0 + 7 * H
    # Down from +7h to +20h: one breach for the missed window, then the window containing now.
    s, actions = cycle(s, T0 + 20 * H)
    created = [a for a in actions if isinstance(a, CreateStep)]
    assert [(c.seq, c.started_at, c.due_at) for c in created] == [(3, T0 + 19 * H, T0 + 23 * H)]
    assert "incident:42:updates#2::overdue" in notices(actions)


@pytest.mark.parametrize("status", ["closed", "dismissed"])
def test_closed_or_dismissed_incidents_get_nothing(status: str) -> None:
    s, _ = cycle(incident(), T0 + 10 * M)
    assert decide(dataclasses.replace(s, status=status), MAJOR, CAL, T0 + 10 * H) == []


def test_done_steps_get_no_more_reminders() -> None:
    s, _ = cycle(incident(), T0 + 10 * M)
    s = done(s, "statement", T0 + H)
    _, actions = cycle(s, T0 + 290 * M)
    assert not [a for a in actions if isinstance(a, Notify) and about(a) == "statement"]


def policy(published: datetime) -> IncidentState:
    return incident(kind="policy", grade=None, first_published=published, detected_at=published + 5 * M)


def reminder_of(actions: list[Action]) -> tuple[str, str, list[str]]:
    """(key, the time it is about, the outlets it covers) of the one step notice in `actions`."""
    [n] = [a for a in actions if isinstance(a, Notify) and a.kind in ("reminder", "due")]
    return n.dedup_key, n.params["about"], n.params["channels"]


def test_repost_around_national_day_one_step_per_outlet() -> None:
    # Published 16:30 on Wednesday 2026-09-30, the last working day before the holiday.
    pub = datetime(2026, 9, 30, 16, 30, tzinfo=SH).astimezone(UTC)
    s, actions = cycle(policy(pub), pub + 5 * M, REPOST)
    creates = [a for a in actions if isinstance(a, CreateStep)]
    assert [c.channel for c in creates] == ["portal", "weibo", "wechat", "app"]
    assert {(c.target_at, c.due_at) for c in creates} == {
        (pub + H, datetime(2026, 10, 9, tzinfo=SH))  # 24:00 on Thursday 10-08
    }
    s = dataclasses.replace(s, acked_at=pub + 10 * M, status="acknowledged")
    s = done(s, "repost", pub + 20 * M, "portal")
    # One reminder per point for the outlets still open, about the 1-hour target it is a half of.
    s, actions = cycle(s, pub + 30 * M, REPOST)
    assert notices(actions) == ["incident:42:repost::reminder:50pct"]
    assert reminder_of(actions) == (
        "incident:42:repost::reminder:50pct",
        "target",
        ["weibo", "wechat", "app"],
    )
    s = done(s, "repost", pub + 50 * M, "weibo")
    s, actions = cycle(s, pub + H, REPOST)
    assert reminder_of(actions) == ("incident:42:repost::due", "target", ["wechat", "app"])
    # Nothing through the holiday until two hours before the limit, on 10-08 at 22:00.
    s, actions = cycle(s, datetime(2026, 10, 8, 21, 59, tzinfo=SH), REPOST)
    assert actions == []
    s, actions = cycle(s, datetime(2026, 10, 8, 22, 0, tzinfo=SH), REPOST)
    assert reminder_of(actions) == ("incident:42:repost::reminder:2h", "deadline", ["wechat", "app"])
    s = done(s, "repost", datetime(2026, 10, 8, 23, 0, tzinfo=SH), "wechat")
    # A breach is each outlet's own: the overdue notice names the outlet.
    s, actions = cycle(s, datetime(2026, 10, 9, 0, 0, tzinfo=SH), REPOST)
    assert notices(actions) == ["incident:42:escalation:L3:r0", "incident:42:repost:app:overdue"]
    assert [st.channel for st in s.steps if st.breached_at] == ["app"]


def test_a_policy_item_seen_after_its_half_hour_point_gets_its_card_not_reminders() -> None:
    """Published 15:00, first seen 15:40: the 50% reminder (15:30) had passed. The first cycle
    sends the card alone; the 1-hour target (16:00) is one notice for the four outlets."""
    pub = datetime(2026, 11, 23, 15, 0, tzinfo=SH).astimezone(UTC)
    s, actions = cycle(dataclasses.replace(policy(pub), detected_at=pub + 40 * M), pub + 40 * M, REPOST)
    assert notices(actions) == ["incident:42:escalation:L1:r0"]
    s, actions = cycle(s, pub + 59 * M, REPOST)
    assert [k for k in notices(actions) if "repost" in k] == []
    s, actions = cycle(s, pub + H, REPOST)
    assert reminder_of(actions) == ("incident:42:repost::due", "target", ["portal", "weibo", "wechat", "app"])
    s, actions = cycle(s, pub + 61 * M, REPOST)
    assert [k for k in notices(actions) if "repost" in k] == []


def test_a_reminder_an_older_release_sent_per_outlet_is_not_sent_again() -> None:
    pub = datetime(2026, 11, 23, 15, 0, tzinfo=SH).astimezone(UTC)
    s, _ = cycle(policy(pub), pub + 5 * M, REPOST)
    s = dataclasses.replace(s, sent=s.sent | {"incident:42:repost:weibo:reminder:50pct"})
    _, actions = cycle(s, pub + 30 * M, REPOST)
    assert [k for k in notices(actions) if "repost" in k] == []


def test_repost_make_up_saturday_counts() -> None:
    # Friday 2026-10-09 16:30: Saturday 10-10 is a make-up workday, so the limit is 24:00 that Saturday.
    pub = datetime(2026, 10, 9, 16, 30, tzinfo=SH).astimezone(UTC)
    s, actions = cycle(policy(pub), pub + 5 * M, REPOST)
    assert {a.due_at for a in actions if isinstance(a, CreateStep)} == {datetime(2026, 10, 11, tzinfo=SH)}
    s, actions = cycle(s, datetime(2026, 10, 11, 0, 0, tzinfo=SH), REPOST)
    assert len([a for a in actions if isinstance(a, MarkBreached)]) == 4


def test_repost_across_the_year_boundary_uses_overrides() -> None:
    pub = datetime(2026, 12, 31, 16, 30, tzinfo=SH).astimezone(UTC)
    plain = decide(policy(pub), REPOST, WorkCalendar(SH), pub + 5 * M)
    assert {a.due_at for a in plain if isinstance(a, CreateStep)} == {datetime(2027, 1, 2, tzinfo=SH)}
    with_override = WorkCalendar(SH, extra_holidays={date(2027, 1, 1)})
    actions = decide(policy(pub), REPOST, with_override, pub + 5 * M)
    assert {a.due_at for a in actions if isinstance(a, CreateStep)} == {datetime(2027, 1, 5, tzinfo=SH)}


def test_reminder_override_and_late_same_day_flash() -> None:
    # First published at 23:30: the flash is due at 24:00, thirty minutes later.
    late = datetime(2026, 11, 23, 23, 30, tzinfo=SH).astimezone(UTC)
    state = incident(grade="较大", first_published=late, detected_at=late + 5 * M)
    actions = decide(state, SERIOUS, CAL, late + 16 * M, Reminders(fractions=[0.5], before=[]))
    flash = [a for a in actions if isinstance(a, Notify) and about(a) == "flash"]
    assert [a.dedup_key for a in flash] == ["incident:42:flash::reminder:50pct"]


def test_state_from_database_rows() -> None:
    from responder.models import Incident, Step

    row = Incident(id=7, kind="event", grade="重大", first_published=T0, detected_at=T0 + 10 * M)
    steps = [
        Step(
            id=1,
            incident_id=7,
            playbook="major-incident",
            key="statement",
            title="发布权威信息",
            started_at=T0,
            due_at=T0 + 5 * H,
        )
    ]
    state = IncidentState.from_rows(row, steps, ["incident:7:escalation:L1:r0"])
    assert state.steps[0].channel is None and state.steps[0].playbook == "major-incident"
    assert (state.status, state.escalation_level) == ("open", 0)
    actions = decide(state, MAJOR, CAL, T0 + 10 * M)
    # The statement row exists, so only the press conference is created; the L1 alert is already queued.
    assert [a.key for a in actions if isinstance(a, CreateStep)] == ["press_conference"]
    assert notices(actions) == []


# --------------------------------------------------------------------------- what the cycle used to decide itself


def test_an_earlier_report_re_times_open_steps() -> None:
    s, _ = cycle(incident(), T0 + 10 * M)
    s = done(s, "press_conference", T0 + H)  # done steps keep the times they were judged against
    earlier = T0 - 2 * H
    s, actions = cycle(dataclasses.replace(s, first_published=earlier), T0 + 20 * M)
    [retime] = [a for a in actions if isinstance(a, Retime)]
    assert (retime.step.key, retime.started_at, retime.due_at) == ("statement", earlier, earlier + 5 * H)
    assert step(s, "statement").due_at == T0 + 3 * H and step(s, "press_conference").due_at == T0 + 24 * H


def test_an_own_outlet_item_completes_the_step_it_answers() -> None:
    s, _ = cycle(incident(acked_at=T0 + 11 * M, status="acknowledged"), T0 + 10 * M)
    item = OwnItem("https://yjt.ah.gov.cn/1.html", Channel.PORTAL, T0 + 2 * H, "安徽应急厅官网")
    # The card went out at detection; the completion is shown on it (edited at once: no edit yet).
    s = dataclasses.replace(s, own_items=(item,), cards_rendered_at=T0 + 10 * M)
    s, actions = cycle(s, T0 + 3 * H)
    [completion] = [a for a in actions if isinstance(a, CompleteStep)]
    assert completion == CompleteStep(
        step(s, "statement").ref, T0 + 2 * H, "安徽应急厅官网", item.link, Channel.PORTAL
    )
    statement = step(s, "statement")
    assert (statement.done_at, statement.evidence_link, statement.breached_at) == (
        T0 + 2 * H,
        item.link,
        None,
    )
    assert RefreshCards("cards:" + (T0 + 3 * H).isoformat(), T0 + 3 * H) in actions
    # Used up: the same item completes nothing else, however many cycles run.
    _, actions = cycle(s, T0 + 4 * H)
    assert not [a for a in actions if isinstance(a, CompleteStep)]


def test_a_step_born_overdue_and_shown_done_late_is_late_not_overdue() -> None:
    item = OwnItem("https://yjt.ah.gov.cn/2.html", Channel.WEIBO, T0 + 6 * H, "安徽应急厅微博")
    s, actions = cycle(incident(detected_at=T0 + 7 * H, own_items=(item,)), T0 + 7 * H)
    created = {a.key: a for a in actions if isinstance(a, CreateStep)}
    assert created["statement"].breached_at is None  # the evidence decides: done, but late
    assert step(s, "statement").done_at == T0 + 6 * H and step(s, "statement").breached_at == T0 + 5 * H
    assert not [
        a for a in actions if isinstance(a, Notify) and a.kind == "overdue" and about(a) == "statement"
    ]


def test_grade_raised_notice_goes_to_the_first_receivers_and_the_level_reached() -> None:
    s, _ = cycle(incident(grade="较大"), T0 + 10 * M, list(BOOKS.values()))
    s, _ = cycle(s, T0 + 26 * M, list(BOOKS.values()))  # climbed to the policy office
    change = GradeChange(77, Grade.较大, Grade.重大, "https://news.example/12")
    s, actions = cycle(
        dataclasses.replace(s, grade="重大", grade_changes=(change,)), T0 + 27 * M, BOOKS.values()
    )
    [notice] = [a for a in actions if isinstance(a, Notify) and a.kind == "grade_raised"]
    assert notice.dedup_key == "incident:42:grade:重大:77"
    assert notice.roles == ("duty_officer", "policy_office")
    assert notice.params["playbook"] == "重大及以上事故舆情应对"
    _, again = cycle(s, T0 + 28 * M, BOOKS.values())
    assert not [a for a in again if isinstance(a, Notify) and a.kind == "grade_raised"]


def test_an_incident_no_playbook_applies_to_is_announced_once() -> None:
    s, actions = cycle(incident(grade="一般"), T0 + 10 * M, BOOKS.values())
    assert actions[0] == Escalate(1, "detected", "duty_officer", T0 + 10 * M)
    [card] = [a for a in actions if isinstance(a, Notify)]
    assert (card.dedup_key, card.roles, card.params["reason"]) == (
        "incident:42:escalation:L1:r0",
        ("duty_officer",),
        "detected",
    )
    assert cycle(s, T0 + 5 * H, BOOKS.values())[1] == []


def test_a_watch_item_goes_once_to_the_policy_office_and_never_climbs() -> None:
    s = incident(kind="watch", grade=None)
    s, actions = cycle(s, T0 + 10 * M, BOOKS.values())
    assert [type(a).__name__ for a in actions] == ["Escalate", "Notify"]
    assert [a.roles for a in actions if isinstance(a, Notify)] == [("policy_office",)]
    for hours in (1, 10, 100):
        s, actions = cycle(s, T0 + hours * H, BOOKS.values())
        assert actions == []
