"""What a person does to an incident: acknowledge, complete a step, extend a deadline, dismiss, close.

Every action runs in the caller's session (one transaction), checks the actor's role
first (`can`), records who, from which chat and when in the incident log, edits the
cards already sent and queues a short confirmation to the chats that were alerted.
Edits and confirmations go through the outbox, so a Telegram outage delays them but
loses nothing. Errors are typed (`responder.engine.permissions`) and carry a Chinese
message from the catalogue, ready to show to the person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from ..channels.robots import Destination
from ..models import Incident, IncidentEvent, Step
from ..playbook import extended_due
from ..policy import keys
from ..policy.decide import first_receiver
from ..policy.state import StepState, complete
from ..policy.steps import config_of
from ..present import messages
from ..present.formats import format_time, step_name
from ..runtime import Settings
from ..vocab import CLOSED_STATUSES, EventKind, IncidentStatus
from .cycle import record_step
from .incidentlog import log_event
from .notify import CardText, audience, refresh_cards
from .outbox import card_destinations, queue
from .permissions import (
    ACTIONS,
    PERMISSIONS,
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
from .views import load_steps

# The permission names are re-exported: callers (the chat, the web console) act through this module.
__all__ = [
    "ACTIONS",
    "PERMISSIONS",
    "ActionError",
    "ActionResult",
    "Actor",
    "AlreadyClosed",
    "NotExtendable",
    "NotPermitted",
    "NothingToDo",
    "UnknownIncident",
    "UnknownStep",
    "acknowledge",
    "can",
    "close",
    "complete_step",
    "dismiss",
    "extend_deadline",
    "step_label",
]


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


def step_label(st: Step) -> str:
    """How a person names a step in `/done`: `key`, or `key:channel` for per-outlet steps."""
    return f"{st.key}:{st.channel}" if st.channel else st.key


@dataclass(frozen=True)
class _Act:
    """One person's action in progress: who, from which chat, when, in which transaction."""

    session: Session
    settings: Settings
    actor: Actor
    chat_id: int | None
    now: datetime
    reply_in_chat: bool

    def load(self, action: str, incident_id: int) -> Incident:
        """The live incident, after checking that the actor may take `action` (before any lookup,
        so strangers learn nothing)."""
        if not can(self.actor.roles, action):
            raise NotPermitted(self.actor, action)
        q = select(Incident).where(Incident.id == incident_id)
        if self.session.get_bind().dialect.name == "postgresql":
            # Wait for a cycle working on this incident, so the level recorded is the one reached.
            q = q.with_for_update()
        inc = self.session.exec(q).first()
        if inc is None:
            raise UnknownIncident(incident_id)
        if inc.status in CLOSED_STATUSES:
            raise AlreadyClosed(inc)
        return inc

    def log(self, inc: Incident, kind: EventKind, **data: object) -> IncidentEvent:
        """Record the action in the incident's log, with who and from where (the chat, or the
        web console's source and client address)."""
        self.session.add(inc)
        return log_event(
            self.session,
            inc.id,
            kind,
            self.now,
            actor_id=self.actor.id,
            actor_name=self.actor.name,
            chat_id=self.chat_id,
            **data,
            **self.actor.origin(),
        )

    def acknowledge(self, inc: Incident, **extra: object) -> IncidentEvent:
        """Mark the incident taken (explicitly, or implicitly by working on it)."""
        inc.status, inc.acked_at, inc.acked_by = IncidentStatus.ACKNOWLEDGED, self.now, self.actor.name
        return self.log(inc, EventKind.ACKNOWLEDGED, level=inc.escalation_level, **extra)

    def done(self, inc: Incident, action: str, ev: IncidentEvent, text: str, **result: Any) -> ActionResult:
        """Edit the cards and tell the alerted chats; the chat the person wrote in gets the
        command's reply instead (`reply_in_chat`), not a second confirmation."""
        s = self.session
        s.flush()  # the event id names this change in the outbox keys
        refresh_cards(
            s, CardText(s, self.settings, inc, load_steps(s, inc.id), self.now), keys.event_change(ev.id)
        )
        chats = [c for c in self._concerned_chats(inc) if not (self.reply_in_chat and c == self.chat_id)]
        queue(s, keys.confirmation(inc.id, ev.kind, ev.id), chats, text, self.now, incident_id=inc.id)
        return ActionResult(inc.id, action, True, text, event_id=ev.id, **result)

    def _concerned_chats(self, inc: Incident) -> list[Destination]:
        """The chats (and robots) that were alerted about this incident (its cards), else its first receivers."""
        alerted = card_destinations(self.session, inc.id)
        if alerted:
            return alerted
        role = first_receiver(self.settings.playbooks, inc.kind, inc.grade)
        return audience(self.settings.roster, [role], self.now)


def acknowledge(
    session: Session,
    settings: Settings,
    incident_id: int,
    actor: Actor,
    chat_id: int | None,
    now: datetime,
    *,
    reply_in_chat: bool = False,
) -> ActionResult:
    """Acknowledge: the incident is being handled, escalation stops climbing.

    Records `acknowledged` with the escalation level reached. Acknowledging twice is not
    an error: the second person is told who was first and nothing is written.
    """
    act = _Act(session, settings, actor, chat_id, now, reply_in_chat)
    inc = act.load("ack", incident_id)
    if inc.status == IncidentStatus.ACKNOWLEDGED:
        at = format_time(inc.acked_at, settings.tz, now)
        return ActionResult(incident_id, "ack", False, messages.already_acked(incident_id, inc.acked_by, at))
    ev = act.acknowledge(inc)
    return act.done(inc, "ack", ev, messages.acknowledged(incident_id, actor.name))


def _pick_step(incident_id: int, steps: list[Step], step_key: str, channel: str) -> Step:
    """The step `step_key` (and `channel`) names; for a recurring step, its open occurrence."""
    # Keys with the card's titles beside them, so the person sees which word to type.
    labels = list(dict.fromkeys(step_label(s) + ("" if s.channel else f"({s.title})") for s in steps))
    key = step_key.strip()
    given = f"{key}:{channel}" if channel else key
    # A person may type the key (statement) or the title shown on the card (发布权威信息).
    same = [s for s in steps if key in (s.key, s.title)]
    if channel:
        same = [s for s in same if (s.channel or "") == channel]
    if not same:
        raise UnknownStep(incident_id, given, labels)
    open_ = sorted((s for s in same if s.done_at is None), key=lambda s: (s.due_at, s.seq, s.id))
    if not channel and len({s.channel for s in open_}) > 1:
        raise UnknownStep(incident_id, given, [step_label(s) for s in open_], ambiguous=True)
    if open_:
        return open_[0]
    return max(same, key=lambda s: (s.done_at or s.due_at, s.seq))  # all done: the latest, to report it


def _earliest_open(incident_id: int, steps: list[Step], channel: str) -> Step:
    open_ = [s for s in steps if s.done_at is None and (not channel or (s.channel or "") == channel)]
    if not open_:
        raise NothingToDo(incident_id)
    return min(open_, key=lambda s: (s.due_at, s.seq, s.id))


def complete_step(
    session: Session,
    settings: Settings,
    incident_id: int,
    step_key: str | None,
    channel: str,
    actor: Actor,
    chat_id: int | None,
    now: datetime,
    evidence_link: str | None = None,
    *,
    reply_in_chat: bool = False,
) -> ActionResult:
    """Mark a step done now (`done_at = now`, by the actor, with an optional evidence link).

    `step_key` None or "" completes the earliest open step. `channel` is "" or the outlet of
    a per-outlet step (repost); for a recurring step (updates) the open occurrence is
    completed. Done after `due_at` is late and the breach stays on record. An incident
    still waiting for acknowledgement is acknowledged at the same time (someone is plainly
    working on it), logged as such.
    """
    act = _Act(session, settings, actor, chat_id, now, reply_in_chat)
    inc = act.load("done", incident_id)
    steps = load_steps(session, incident_id)
    st = (
        _pick_step(incident_id, steps, step_key, channel)
        if step_key
        else _earliest_open(incident_id, steps, channel)
    )
    if st.done_at is not None:
        at = format_time(st.done_at, settings.tz, now)
        msg = messages.already_done(incident_id, step_name(st), st.done_by, at)
        return ActionResult(incident_id, "done", False, msg, step_id=st.id)
    if inc.status == IncidentStatus.OPEN:
        act.acknowledge(inc, implicit=True)
    record_step(st, complete(StepState.from_row(st), now, actor.name, evidence_link or None))
    session.add(st)
    late = now > st.due_at
    ev = act.log(
        inc,
        EventKind.STEP_DONE,
        step_id=st.id,
        key=st.key,
        channel=st.channel or "",
        evidence_link=st.evidence_link,
        done_at=now.isoformat(),
        late=late,
        auto=False,
    )
    text = messages.step_done(incident_id, step_name(st), actor.name, now - st.due_at if late else None)
    return act.done(inc, "done", ev, text, step_id=st.id, late=late)


def extend_deadline(
    session: Session,
    settings: Settings,
    incident_id: int,
    step_key: str,
    reason: str,
    actor: Actor,
    chat_id: int | None,
    now: datetime,
    *,
    reply_in_chat: bool = False,
) -> ActionResult:
    """Grant a step the one longer deadline its playbook allows (`extendable_to`, 7wd → 15wd).

    Counted from the step's start like the first; only while the step is open and its
    deadline has not passed; a reason is required. Granting it twice changes nothing.
    """
    act = _Act(session, settings, actor, chat_id, now, reply_in_chat)
    if not can(actor.roles, "extend"):
        raise NotPermitted(actor, "extend")
    reason = " ".join(reason.split())
    if not reason:
        raise ActionError(messages.extend_reason_required(incident_id))
    inc = act.load("extend", incident_id)
    st = _pick_step(incident_id, load_steps(session, incident_id), step_key, "")
    cfg = config_of(settings.playbooks, StepState.from_row(st))
    longer = extended_due(cfg, st.started_at, settings.calendar) if cfg is not None else None
    name = step_name(st)
    if longer is None:
        raise NotExtendable(incident_id, name, "no_rule")
    if st.done_at is not None:
        raise NotExtendable(incident_id, name, "done")
    due_text = format_time(longer, settings.tz, now, full=True)
    if st.due_at >= longer:
        return ActionResult(
            incident_id, "extend", False, messages.already_extended(incident_id, name, due_text)
        )
    if now >= st.due_at:
        raise NotExtendable(incident_id, name, "late")
    before, st.due_at = st.due_at, longer
    session.add(st)
    ev = act.log(
        inc,
        EventKind.EXTENDED,
        step_id=st.id,
        key=st.key,
        channel=st.channel or "",
        due_from=before.isoformat(),
        due_to=longer.isoformat(),
        reason=reason,
    )
    return act.done(
        inc, "extend", ev, messages.extended(incident_id, name, due_text, actor.name, reason), step_id=st.id
    )


def dismiss(
    session: Session,
    settings: Settings,
    incident_id: int,
    reason: str,
    actor: Actor,
    chat_id: int | None,
    now: datetime,
    *,
    reply_in_chat: bool = False,
) -> ActionResult:
    """Mark the incident a false alarm: no more reminders or escalations. A reason is required."""
    act = _Act(session, settings, actor, chat_id, now, reply_in_chat)
    if not can(actor.roles, "dismiss"):
        raise NotPermitted(actor, "dismiss")
    reason = " ".join(reason.split())
    if not reason:
        raise ActionError(messages.dismiss_reason_required(incident_id))
    inc = act.load("dismiss", incident_id)
    inc.status, inc.dismissed_reason, inc.closed_by, inc.closed_at = (
        IncidentStatus.DISMISSED,
        reason,
        actor.name,
        now,
    )
    ev = act.log(inc, EventKind.DISMISSED, reason=reason, level=inc.escalation_level)
    return act.done(inc, "dismiss", ev, messages.dismissed(incident_id, actor.name, reason))


def close(
    session: Session,
    settings: Settings,
    incident_id: int,
    actor: Actor,
    chat_id: int | None,
    now: datetime,
    *,
    reply_in_chat: bool = False,
) -> ActionResult:
    """Close the incident: handled, nothing more owed. Steps still open are named in the log,
    so closing with work outstanding is a recorded decision, not a silent one."""
    act = _Act(session, settings, actor, chat_id, now, reply_in_chat)
    inc = act.load("close", incident_id)
    outstanding = [step_label(s) for s in load_steps(session, incident_id) if s.done_at is None]
    inc.status, inc.closed_by, inc.closed_at = IncidentStatus.CLOSED, actor.name, now
    ev = act.log(inc, EventKind.CLOSED, open_steps=outstanding, level=inc.escalation_level)
    return act.done(inc, "close", ev, messages.closed(incident_id, actor.name, outstanding))
