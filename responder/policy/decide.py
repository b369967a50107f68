"""`decide()`: everything the engine must do for one incident as of `now`.

One call answers the whole question, in this order: re-time open steps when an
earlier report moved the clock; create the steps the applicable playbooks owe;
complete steps from the bureau's own-outlet items; mark breaches; escalate (a breach
straight to the top level, otherwise one level per unanswered `ack_timeout`); send the
escalation card or its repeat first, then reminders, due and overdue notices, and the
grade-raised notices, each to the role the governing playbook gives the level; and
ask for the cards to be edited when what they show changed (`responder.policy.cards`).
An incident no playbook applies to (grade 一般 or unknown) is announced once to the
duty officer.

Pure: the same arguments always give the same actions; applying them (`state.apply`)
and deciding again at the same `now` gives nothing new, because every notice's key is
then in `state.sent`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ..durations import format_duration
from ..playbook import Escalation, Playbook, Reminders, select_playbooks
from ..vocab import CLOSED_STATUSES, IncidentStatus, Role
from ..workcal import WorkCalendar
from . import keys
from .cards import card_refresh
from .state import (
    Action,
    CreateStep,
    Escalate,
    EscalationReason,
    IncidentState,
    MarkBreached,
    NoticeKind,
    Notify,
    StepRef,
    StepState,
    apply,
)
from .steps import missing_steps, own_outlet_completions, retimes

__all__ = ["FIRST_RECEIVER", "decide", "first_receiver"]

# Who hears of an incident no playbook applies to: the duty officer, round the clock.
FIRST_RECEIVER = Role.DUTY_OFFICER


def decide(
    state: IncidentState,
    playbooks: Mapping[str, Playbook] | Iterable[Playbook] | Playbook,
    calendar: WorkCalendar,
    now: datetime,
    reminders: Reminders | None = None,
) -> list[Action]:
    """What must happen for `state` as of `now` (see the module docstring).

    `playbooks` is the whole catalogue (or any part of it): the ones whose trigger
    matches the incident, and those that already have steps for it, apply; the
    strictest one's escalation policy governs. `reminders` overrides each playbook's
    own reminder points.
    """
    if now.tzinfo is None:
        raise ValueError("decide() needs an aware `now` (UTC)")
    if state.status in CLOSED_STATUSES:
        return []
    catalogue = _catalogue(playbooks)
    books = select_playbooks(catalogue.values(), state.kind, state.grade, {s.playbook for s in state.steps})
    if not books:
        return _announce(state, now)

    retimed = retimes(state, catalogue, calendar)
    out: list[Action] = [*retimed]
    created = [c for book in books for c in missing_steps(apply(state, out), book, calendar, now)]
    completions = own_outlet_completions(apply(state, [*out, *created]), catalogue)
    completed = {c.step for c in completions}
    # A step late from birth is created breached, unless evidence shows it done (then
    # completing it records whether it was late).
    out += [_born(c, now, completed) for c in created]
    out += completions
    current = apply(state, out)
    marks = _breaches(current, books, now)
    out += marks
    current = apply(current, marks)

    escalation = books[0].escalation
    open_steps = [s for s in _by_book(current, books) if s.done_at is None]
    overdue = [s for s in open_steps if now >= s.due_at]
    acked = state.acked_at is not None or state.status == IncidentStatus.ACKNOWLEDGED
    esc = _escalate(state, escalation, overdue, acked, now)
    level = esc.to_level if esc else min(max(state.escalation_level, 1), escalation.top)
    if esc is not None:
        out.append(esc)

    # The card first: a chat reached for the first time must see the incident before a
    # reminder or an overdue notice about it (the outbox keeps that order per chat too).
    notices = _escalation_notices(state, escalation, esc, overdue, acked, now)
    notices += _step_notices(current, books, open_steps, escalation, level, now, reminders)
    notices += _grade_notices(state, catalogue, escalation, level)
    seen = set(state.sent)
    for n in notices:
        if n.dedup_key not in seen:
            seen.add(n.dedup_key)
            out.append(n)
    refresh = card_refresh(
        apply(state, out), now, changed_now=bool(completions or marks or retimed), new_step=bool(created)
    )
    if refresh is not None:
        out.append(refresh)
    return out


def _catalogue(playbooks: Mapping[str, Playbook] | Iterable[Playbook] | Playbook) -> dict[str, Playbook]:
    if isinstance(playbooks, Playbook):
        return {playbooks.name: playbooks}
    books = playbooks.values() if isinstance(playbooks, Mapping) else playbooks
    return {b.name: b for b in books}


def _by_book(state: IncidentState, books: list[Playbook]) -> list[StepState]:
    """The steps of the applicable playbooks, strictest playbook first, each in creation order."""
    return [s for b in books for s in state.steps if s.playbook == b.name]


def _announce(state: IncidentState, now: datetime) -> list[Action]:
    """No playbook applies (grade 一般 or unknown): the first receiver still sees the card, once."""
    key = keys.escalation(state.id, 1)
    if key in state.sent:
        refresh = card_refresh(state, now)  # a report joining changes its heat and reports
        return [refresh] if refresh is not None else []
    out: list[Action] = []
    if state.escalation_level < 1:
        out.append(Escalate(1, EscalationReason.DETECTED, FIRST_RECEIVER, now))
    params = _escalation_params(state, 1, 0, None) | {"reason": EscalationReason.DETECTED}
    out.append(Notify(key, NoticeKind.ESCALATION, 1, (FIRST_RECEIVER,), params=params))
    return out


def _born(c: CreateStep, now: datetime, completed: set[StepRef]) -> CreateStep:
    if now >= c.due_at and c.ref not in completed:
        return dataclasses.replace(c, breached_at=c.due_at)
    return c


def _breaches(state: IncidentState, books: list[Playbook], now: datetime) -> list[MarkBreached]:
    """Open steps past their deadline, and steps done late that no cycle saw open."""
    out = []
    for s in _by_book(state, books):
        late = now >= s.due_at if s.done_at is None else s.done_at > s.due_at
        if late and s.breached_at is None:
            out.append(MarkBreached(s.ref, s.due_at))
    return out


def _escalate(
    state: IncidentState, escalation: Escalation, overdue: list[StepState], acked: bool, now: datetime
) -> Escalate | None:
    """A breach goes straight to the top; otherwise climb one level per unanswered ack_timeout."""
    top = escalation.top
    level = min(state.escalation_level, top)
    if overdue and level < top:
        first = min(overdue, key=lambda s: s.due_at)
        late = first.due_at <= state.detected_at
        reason = EscalationReason.DETECTED_LATE if late else EscalationReason.STEP_OVERDUE
        return Escalate(top, reason, escalation.level(top).role, now)
    if acked:
        return None
    if level == 0:
        return Escalate(1, EscalationReason.DETECTED, escalation.level(1).role, now)
    timeout = escalation.level(level).ack_timeout
    since = state.escalated_at
    if level < top and since is not None and timeout is not None and now >= since + timeout:
        return Escalate(level + 1, EscalationReason.ACK_TIMEOUT, escalation.level(level + 1).role, now)
    return None


def _iso(d: datetime | None) -> str | None:
    return None if d is None else d.isoformat()


@dataclasses.dataclass(frozen=True)
class _Point:
    """A reminder point of one step: when, which notice, its label in the key, and which time
    it is about (`target`: the soft aim the window ends at; `deadline`: the hard limit)."""

    at: datetime
    kind: NoticeKind
    label: str
    about: str


def _latest_point(s: StepState, rem: Reminders, now: datetime, seen_at: datetime) -> _Point | None:
    """The latest reminder point at or before `now`; None when it had passed by `seen_at`, the
    moment the incident was first seen (earlier ones are never sent late: the card that
    announced the incident already told what was due)."""
    aims = s.target_at is not None and s.target_at < s.due_at
    end = s.target_at or s.due_at
    window = "target" if aims else "deadline"
    points: list[tuple[_Point, int]] = []
    for f in rem.fractions:
        at = s.started_at + (end - s.started_at) * f
        points.append((_Point(at, NoticeKind.REMINDER, keys.fraction_label(f), window), 0))
    if aims and s.target_at is not None:
        points.append((_Point(s.target_at, NoticeKind.DUE, "target", "target"), 1))
    for d in rem.before:
        at = s.due_at - d
        if at > s.started_at:
            points.append((_Point(at, NoticeKind.REMINDER, format_duration(d), "deadline"), 0))
    passed = [p for p in points if p[0].at <= now]
    if not passed:
        return None
    latest = max(passed, key=lambda p: (p[0].at, p[1]))[0]
    return None if latest.at <= seen_at else latest


def _step_notice(
    state: IncidentState,
    s: StepState,
    kind: NoticeKind,
    label: str,
    level: int,
    esc: Escalation,
    now: datetime,
) -> Notify:
    key = keys.step_notice(
        state.id, s.key, s.seq, s.channel, kind, label if kind == NoticeKind.REMINDER else ""
    )
    params: dict[str, Any] = {
        "incident_id": state.id,
        "playbook": s.playbook,
        "title": s.title,
        "point": label or kind,
        "started_at": _iso(s.started_at),
        "target_at": _iso(s.target_at),
        "due_at": _iso(s.due_at),
        "seconds_left": int((s.due_at - now).total_seconds()),
    }
    if kind == NoticeKind.OVERDUE:
        params["detected_late"] = s.due_at <= state.detected_at
    return Notify(key, kind, level, (esc.level(level).role,), s.ref, params)


def _reminder(
    state: IncidentState, point: _Point, members: list[StepState], level: int, esc: Escalation, now: datetime
) -> Notify | None:
    """One reminder (or target-reached notice) for the open outlets of one step that share the
    point: its key names the step without an outlet, so each point is one message whatever the
    outlets; None when an older release already sent it for one of them (keys with the outlet)."""
    first = members[0]
    label = point.label if point.kind == NoticeKind.REMINDER else ""
    per_outlet = [keys.step_notice(state.id, m.key, m.seq, m.channel, point.kind, label) for m in members]
    if any(m.channel for m in members) and set(per_outlet) & set(state.sent):
        return None
    notice = _step_notice(
        state, dataclasses.replace(first, channel=None), point.kind, point.label, level, esc, now
    )
    channels = [str(m.channel) for m in members if m.channel]
    params = notice.params | {"about": point.about, "channels": channels}
    return dataclasses.replace(notice, step=first.ref, params=params)


def _step_notices(
    state: IncidentState,
    books: list[Playbook],
    open_steps: list[StepState],
    escalation: Escalation,
    level: int,
    now: datetime,
    reminders: Reminders | None,
) -> list[Notify]:
    """Reminders and due notices to the level reached (one per step and point, its open outlets
    together), overdue notices to the top (one per outlet: each is a breach of its own); by
    point time."""
    by_name = {b.name: b for b in books}
    timed: list[tuple[datetime, Notify]] = []
    shared: dict[tuple[str, str, int, str], tuple[_Point, list[StepState]]] = {}
    for s in open_steps:
        if now >= s.due_at:
            notice = _step_notice(state, s, NoticeKind.OVERDUE, "", escalation.top, escalation, now)
            timed.append((s.due_at, notice))
            continue
        point = _latest_point(s, reminders or by_name[s.playbook].reminders, now, state.detected_at)
        if point is not None:
            group = shared.setdefault((s.playbook, s.key, s.seq, point.label), (point, []))
            group[1].append(s)
    for point, members in shared.values():
        reminder = _reminder(state, point, members, level, escalation, now)
        if reminder is not None:
            timed.append((point.at, reminder))
    return [n for _, n in sorted(timed, key=lambda p: p[0])]


def _escalation_params(state: IncidentState, level: int, k: int, step: StepState | None) -> dict[str, Any]:
    return {
        "incident_id": state.id,
        "level": level,
        "repeat": k,
        "step_title": step.title if step else None,
        "due_at": _iso(step.due_at) if step else None,
    }


def _escalation_notices(
    state: IncidentState,
    escalation: Escalation,
    esc: Escalate | None,
    overdue: list[StepState],
    acked: bool,
    now: datetime,
) -> list[Notify]:
    """The card of a level just reached, or the repeat of the current level's card."""
    if esc is not None:
        overdue_reasons = (EscalationReason.STEP_OVERDUE, EscalationReason.DETECTED_LATE)
        cause = min(overdue, key=lambda s: s.due_at) if esc.reason in overdue_reasons else None
        params = _escalation_params(state, esc.to_level, 0, cause) | {"reason": esc.reason}
        key = keys.escalation(state.id, esc.to_level)
        step = cause.ref if cause else None
        return [Notify(key, NoticeKind.ESCALATION, esc.to_level, (esc.role,), step, params)]
    if acked or state.escalation_level < 1 or state.escalated_at is None:
        return []
    level = min(state.escalation_level, escalation.top)
    every = escalation.level(level).repeat
    if every is None or now < state.escalated_at + every:
        return []
    k = (now - state.escalated_at) // every
    params = _escalation_params(state, level, k, None) | {"reason": EscalationReason.UNACKNOWLEDGED}
    role = escalation.level(level).role
    return [Notify(keys.escalation(state.id, level, k), NoticeKind.REPEAT, level, (role,), None, params)]


def _grade_notices(
    state: IncidentState, catalogue: Mapping[str, Playbook], escalation: Escalation, level: int
) -> list[Notify]:
    """Why the grade rose and which playbook started, to the first receivers and the level reached."""
    out = []
    roles = tuple(dict.fromkeys((escalation.level(1).role, escalation.level(level).role)))
    for change in state.grade_changes:
        key = keys.grade_raised(state.id, change.to_grade, change.event_id)
        started = select_playbooks(catalogue.values(), state.kind, change.to_grade)
        params = {
            "incident_id": state.id,
            "from_grade": change.from_grade,
            "to_grade": change.to_grade,
            "link": change.link,
            "playbook": started[0].title if started else None,
            "first_published": _iso(state.first_published),
        }
        out.append(Notify(key, NoticeKind.GRADE_RAISED, level, roles, None, params))
    return out


def first_receiver(
    playbooks: Mapping[str, Playbook], kind: str, grade: str | None, with_steps_from: Iterable[str] = ()
) -> Role:
    """Who hears of an incident first: level 1 of the governing playbook, else the duty officer."""
    books = select_playbooks(playbooks.values(), kind, grade, with_steps_from)
    return books[0].escalation.level(1).role if books else FIRST_RECEIVER
