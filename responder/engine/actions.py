"""What a person does to an incident: acknowledge, complete a step, dismiss, close.

Every action runs in the caller's session (one transaction), checks the actor's role
first (`can`), records who, from which chat and when in the incident log, edits the
cards already sent (`refresh_cards`) and queues a short confirmation to the chats that
were alerted. Edits and confirmations go through the outbox, so a Telegram outage
delays them but loses nothing. Errors are typed and carry a Chinese message from the
catalogue, ready to show to the person.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from ..chat.html import esc
from ..chat.render import fmt_left, fmt_time, step_name
from ..i18n import t
from ..models import Incident, IncidentEvent, Outbox, Step
from ..playbook import CLOSED_STATUSES
from ..roster import Roster
from ..runtime import Settings
from .cycle import mark_done, refresh_cards
from .ingest import log_event
from .outbox import queue

__all__ = [
    "ACTIONS",
    "PERMISSIONS",
    "ActionError",
    "ActionResult",
    "Actor",
    "AlreadyClosed",
    "NotPermitted",
    "NothingToDo",
    "UnknownIncident",
    "UnknownStep",
    "acknowledge",
    "can",
    "close",
    "complete_step",
    "dismiss",
    "step_label",
]

# Actions a person can take; "view" covers /status, /list, /oncall, /summary.
ACTIONS: tuple[str, ...] = ("view", "ack", "done", "dismiss", "close")

# Who may do what (issue 5): duty officers acknowledge; the policy office acknowledges,
# completes, dismisses and closes; the head acknowledges and closes (decides and answers
# for it); admins everything. A spokesperson may look but not act.
PERMISSIONS: dict[str, frozenset[str]] = {
    "duty_officer": frozenset({"view", "ack"}),
    "policy_office": frozenset({"view", "ack", "done", "dismiss", "close"}),
    "head": frozenset({"view", "ack", "close"}),
    "admin": frozenset(ACTIONS),
    "spokesperson": frozenset({"view"}),
}


def can(roles: Iterable[str], action: str) -> bool:
    """May someone holding `roles` take `action` (one of ACTIONS)? Strangers (no roles) may not."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; actions are {', '.join(ACTIONS)}")
    return any(action in PERMISSIONS.get(r, frozenset()) for r in roles)


@dataclass(frozen=True)
class Actor:
    """The person acting: Telegram user id, the name recorded in the log, their roster roles."""

    id: int
    name: str
    roles: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_roster(cls, roster: Roster, user_id: int, fallback_name: str = "") -> Actor:
        """The roster's name and roles for `user_id`; a stranger keeps `fallback_name` and no roles."""
        p = roster.person(user_id)
        if p is None:
            return cls(user_id, fallback_name or str(user_id), frozenset())
        return cls(user_id, p.name, frozenset(p.roles))


# --------------------------------------------------------------------------- errors


class ActionError(Exception):
    """An action that could not be applied; `str(exc)` is the message for the person."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UnknownIncident(ActionError):
    """No incident with that id."""

    def __init__(self, incident_id: int):
        super().__init__(t("act_unknown_incident", id=incident_id))
        self.incident_id = incident_id


class UnknownStep(ActionError):
    """The step key (or key + channel) names no step of the incident; `valid` lists the ones that do."""

    def __init__(self, incident_id: int, given: str, valid: list[str], *, ambiguous: bool = False):
        key = "act_ambiguous_step" if ambiguous else "act_unknown_step"
        listed = "、".join(valid) or t("act_no_steps")
        super().__init__(t(key, id=incident_id, step=esc(given), valid=esc(listed)))
        self.valid = valid


class AlreadyClosed(ActionError):
    """The incident is closed or dismissed: nothing more can be done to it."""

    def __init__(self, inc: Incident):
        state = t("act_state_" + inc.status) if inc.status in CLOSED_STATUSES else inc.status
        super().__init__(t("act_already_closed", id=inc.id, state=state, who=esc(inc.closed_by or "")))


class NotPermitted(ActionError):
    """The actor's roles do not allow the action."""

    def __init__(self, actor: Actor, action: str):
        roles = "、".join(t("act_role_" + r) for r in sorted(actor.roles)) or t("act_role_none")
        super().__init__(t("act_not_permitted", action=t("act_name_" + action), roles=roles))
        self.action = action


class NothingToDo(ActionError):
    """`done` without a step key, but every step of the incident is already done."""

    def __init__(self, incident_id: int):
        super().__init__(t("act_nothing_open", id=incident_id))


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ActionResult:
    """What an action did. `changed` is False for a repeat (already acknowledged, step already
    done): nothing was written. `message` is the confirmation (Telegram HTML)."""

    incident_id: int
    action: str
    changed: bool
    message: str
    event_id: int | None = None
    step_id: int | None = None
    late: bool = False


# --------------------------------------------------------------------------- helpers


def step_label(st: Step) -> str:
    """How a person names a step in `/done`: `key`, or `key:channel` for per-outlet steps."""
    return f"{st.key}:{st.channel}" if st.channel else st.key


def _load(session: Session, incident_id: int, *, live: bool = True) -> Incident:
    q = select(Incident).where(Incident.id == incident_id)
    if session.get_bind().dialect.name == "postgresql":
        # Wait for a cycle working on this incident, so the level recorded is the one reached.
        q = q.with_for_update()
    inc = session.exec(q).first()
    if inc is None:
        raise UnknownIncident(incident_id)
    if live and inc.status in CLOSED_STATUSES:
        raise AlreadyClosed(inc)
    return inc


def _check(actor: Actor, action: str) -> None:
    if not can(actor.roles, action):
        raise NotPermitted(actor, action)


def _steps(session: Session, incident_id: int) -> list[Step]:
    return list(
        session.exec(select(Step).where(Step.incident_id == incident_id).order_by(col(Step.id))).all()
    )


def _concerned_chats(session: Session, settings: Settings, inc: Incident, now: datetime) -> list[int]:
    """The chats that were alerted about this incident (its cards), else the duty chats."""
    assert inc.id is not None
    alerted = session.exec(
        select(Outbox.chat_id).where(Outbox.incident_id == inc.id, Outbox.kind == "message")
        .where(col(Outbox.dedup_key).startswith(f"incident:{inc.id}:escalation:"))
        .order_by(col(Outbox.id))
    ).all()  # fmt: skip
    chats = list(alerted) or settings.roster.chats_for_level(1, now)
    return list(dict.fromkeys(chats))


def _announce(
    session: Session, settings: Settings, inc: Incident, ev: IncidentEvent, text: str, now: datetime,
    chat_id: int | None, reply_in_chat: bool,
) -> None:  # fmt: skip
    """Edit the cards and tell the alerted chats. `reply_in_chat`: the caller answers in
    `chat_id` directly (a command's reply), so that chat gets no second confirmation."""
    assert inc.id is not None
    session.flush()  # the event id names this change in the outbox keys
    refresh_cards(session, settings, inc, now, f"event:{ev.id}")
    chats = [c for c in _concerned_chats(session, settings, inc, now) if not (reply_in_chat and c == chat_id)]
    # Not under `incident:N:escalation:`: confirmations are not cards and must never be edited.
    queue(session, f"incident:{inc.id}:{ev.kind}:{ev.id}", chats, text, now, incident_id=inc.id)


def _ack_row(
    session: Session, inc: Incident, actor: Actor, chat_id: int | None, now: datetime, **extra: object
) -> IncidentEvent:
    assert inc.id is not None
    inc.status, inc.acked_at, inc.acked_by = "acknowledged", now, actor.name
    session.add(inc)
    return log_event(session, inc.id, "acknowledged", now, actor_id=actor.id, actor_name=actor.name,
                     chat_id=chat_id, level=inc.escalation_level, **extra)  # fmt: skip


# --------------------------------------------------------------------------- actions


def acknowledge(
    session: Session, settings: Settings, incident_id: int, actor: Actor, chat_id: int | None, now: datetime,
    *, reply_in_chat: bool = False,
) -> ActionResult:  # fmt: skip
    """Acknowledge: the incident is being handled, escalation stops climbing.

    Records `acknowledged` with the escalation level reached. Acknowledging twice is not
    an error: the second person is told who was first and nothing is written.
    """
    _check(actor, "ack")
    inc = _load(session, incident_id)
    if inc.status == "acknowledged":
        msg = t("act_already_acked", id=incident_id, who=esc(inc.acked_by or ""),
                at=fmt_time(inc.acked_at, settings.tz, now))  # fmt: skip
        return ActionResult(incident_id, "ack", False, msg)
    ev = _ack_row(session, inc, actor, chat_id, now)
    text = t("incident_acked", id=incident_id, who=esc(actor.name))
    _announce(session, settings, inc, ev, text, now, chat_id, reply_in_chat)
    return ActionResult(incident_id, "ack", True, text, event_id=ev.id)


def _pick_step(incident_id: int, steps: list[Step], step_key: str, channel: str) -> Step:
    """The step `step_key` (and `channel`) names; for a recurring step, its open occurrence."""
    # Keys with the card's titles beside them, so the person sees which word to type.
    labels = list(dict.fromkeys(step_label(s) + ("" if s.channel else f"({s.title})") for s in steps))
    key = step_key.strip()
    given = f"{key}:{channel}" if channel else key
    # A person may type the key (statement) or the title shown on the card (发布权威信息).
    same = [s for s in steps if key in (s.key, s.title)]
    if not same:
        raise UnknownStep(incident_id, given, labels)
    if channel:
        same = [s for s in same if (s.channel or "") == channel]
        if not same:
            raise UnknownStep(incident_id, given, labels)
    open_ = sorted((s for s in same if s.done_at is None), key=lambda s: (s.due_at, s.seq, s.id or 0))
    channels = {s.channel for s in open_}
    if not channel and len(channels) > 1:
        raise UnknownStep(incident_id, given, [step_label(s) for s in open_], ambiguous=True)
    if open_:
        return open_[0]
    return max(same, key=lambda s: (s.done_at or s.due_at, s.seq))  # all done: the latest, to report it


def complete_step(
    session: Session, settings: Settings, incident_id: int, step_key: str | None, channel: str,
    actor: Actor, chat_id: int | None, now: datetime, evidence_link: str | None = None,
    *, reply_in_chat: bool = False,
) -> ActionResult:  # fmt: skip
    """Mark a step done now (`done_at = now`, by the actor, with an optional evidence link).

    `step_key` None or "" completes the earliest open step. `channel` is "" or the outlet of
    a per-outlet step (repost); for a recurring step (updates) the open occurrence is
    completed. Done after `due_at` is late and the breach stays on record. An incident
    still waiting for acknowledgement is acknowledged at the same time (someone is plainly
    working on it), logged as such.
    """
    _check(actor, "done")
    inc = _load(session, incident_id)
    steps = _steps(session, incident_id)
    if step_key:
        st = _pick_step(incident_id, steps, step_key, channel)
    else:
        open_ = sorted((s for s in steps if s.done_at is None and (not channel or (s.channel or "") == channel)),
                       key=lambda s: (s.due_at, s.seq, s.id or 0))  # fmt: skip
        if not open_:
            raise NothingToDo(incident_id)
        st = open_[0]
    if st.done_at is not None:
        msg = t("act_step_already_done", id=incident_id, step=esc(step_name(st)), who=esc(st.done_by or ""),
                at=fmt_time(st.done_at, settings.tz, now))  # fmt: skip
        return ActionResult(incident_id, "done", False, msg, step_id=st.id)
    if inc.status == "open":
        _ack_row(session, inc, actor, chat_id, now, implicit=True)
    ev = mark_done(session, inc, st, now, actor.name, evidence_link or None, now,
                   actor_id=actor.id, chat_id=chat_id)  # fmt: skip
    assert st.due_at is not None
    late = now > st.due_at
    suffix = t("step_done_late_suffix", over=fmt_left(now - st.due_at)) if late else ""
    text = t("step_done_msg", id=incident_id, step=esc(step_name(st)), who=esc(actor.name), late=suffix)
    _announce(session, settings, inc, ev, text, now, chat_id, reply_in_chat)
    return ActionResult(incident_id, "done", True, text, event_id=ev.id, step_id=st.id, late=late)


def dismiss(
    session: Session, settings: Settings, incident_id: int, reason: str, actor: Actor, chat_id: int | None,
    now: datetime, *, reply_in_chat: bool = False,
) -> ActionResult:  # fmt: skip
    """Mark the incident a false alarm: no more reminders or escalations. A reason is required."""
    _check(actor, "dismiss")
    reason = " ".join(reason.split())
    if not reason:
        raise ActionError(t("act_reason_required", id=incident_id))
    inc = _load(session, incident_id)
    inc.status, inc.dismissed_reason, inc.closed_by, inc.closed_at = "dismissed", reason, actor.name, now
    session.add(inc)
    ev = log_event(session, incident_id, "dismissed", now, actor_id=actor.id, actor_name=actor.name,
                   chat_id=chat_id, reason=reason, level=inc.escalation_level)  # fmt: skip
    text = t("incident_dismissed", id=incident_id, who=esc(actor.name), reason=esc(reason))
    _announce(session, settings, inc, ev, text, now, chat_id, reply_in_chat)
    return ActionResult(incident_id, "dismiss", True, text, event_id=ev.id)


def close(
    session: Session, settings: Settings, incident_id: int, actor: Actor, chat_id: int | None, now: datetime,
    *, reply_in_chat: bool = False,
) -> ActionResult:  # fmt: skip
    """Close the incident: handled, nothing more owed. Steps still open are named in the log,
    so closing with work outstanding is a recorded decision, not a silent one."""
    _check(actor, "close")
    inc = _load(session, incident_id)
    outstanding = [step_label(s) for s in _steps(session, incident_id) if s.done_at is None]
    inc.status, inc.closed_by, inc.closed_at = "closed", actor.name, now
    session.add(inc)
    ev = log_event(session, incident_id, "closed", now, actor_id=actor.id, actor_name=actor.name,
                   chat_id=chat_id, open_steps=outstanding, level=inc.escalation_level)  # fmt: skip
    text = t("incident_closed", id=incident_id, who=esc(actor.name))
    if outstanding:
        text += "\n" + t("act_closed_open_steps", steps=esc("、".join(outstanding)))
    _announce(session, settings, inc, ev, text, now, chat_id, reply_in_chat)
    return ActionResult(incident_id, "close", True, text, event_id=ev.id)
