"""What a person does to an incident: acknowledge, complete a step, extend a deadline, dismiss, close;
and registering a suggestion from the public, which opens one.

Every action runs in the caller's session (one transaction), checks the actor's role
first (`can`), records who, from which chat and when in the incident log, edits the
cards already sent and queues a short confirmation to the chats that were alerted.
Edits and confirmations go through the outbox, so a Telegram outage delays them but
loses nothing. Errors are typed (`responder.engine.permissions`) and carry a Chinese
message from the catalogue, ready to show to the person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from ..channels.robots import Destination
from ..i18n import t
from ..models import Incident, IncidentEvent
from ..playbook import extended_due
from ..policy import keys
from ..policy.decide import first_receiver
from ..policy.state import StepState, complete
from ..policy.steps import config_of
from ..present import messages
from ..present.formats import format_time, step_name
from ..present.html import esc
from ..present.views import Evidence
from ..runtime import Settings
from ..vocab import CLOSED_STATUSES, EventKind, IncidentStatus
from .completion import choose_step, is_conference, parse_outlets, pick_step, published_on, step_label
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
from .register import open_inquiry
from .views import load_steps

# The permission names are re-exported: callers (the chat, the web console) act through this module.
__all__ = [
    "ACTIONS",
    "MAX_INCIDENT_ID",
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
    "register_inquiry",
    "step_label",
]


# The largest incident number there can be (the id column is a 32-bit integer on PostgreSQL):
# anything larger names no incident and is never sent to the database.
MAX_INCIDENT_ID = 2**31 - 1


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
        if not 0 < incident_id <= MAX_INCIDENT_ID:
            raise UnknownIncident(incident_id)
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
    outlets: Sequence[str] = (),
    head_attended: bool | None = None,
    reply_in_chat: bool = False,
) -> ActionResult:
    """Mark a step done now (`done_at = now`, by the actor, with an optional evidence link).

    `step_key` None or "" completes the earliest open step. `channel` is "" or the outlet of
    a per-outlet step (repost); for a recurring step (updates) the open occurrence is
    completed. `outlets` say where it was published (portal, weibo, wechat, app,
    press_conference, other; a single own outlet also picks a per-outlet step), and
    `head_attended` whether the head attended (a press conference only); both are logged
    for the annual report. Done after `due_at` is late and the breach stays on record. An
    incident still waiting for acknowledgement is acknowledged at the same time (someone is
    plainly working on it), logged as such.
    """
    act = _Act(session, settings, actor, chat_id, now, reply_in_chat)
    inc = act.load("done", incident_id)
    given = parse_outlets(incident_id, outlets)
    steps = load_steps(session, incident_id)
    st = choose_step(incident_id, steps, step_key, channel, given)
    if st.done_at is not None:
        at = format_time(st.done_at, settings.tz, now)
        msg = messages.already_done(incident_id, step_name(st), st.done_by, at)
        return ActionResult(incident_id, "done", False, msg, step_id=st.id)
    if head_attended is not None and not is_conference(settings, st):
        raise ActionError(t("act_head_only_conference", id=incident_id, step=esc(step_name(st))))
    if inc.status == IncidentStatus.OPEN:
        act.acknowledge(inc, implicit=True)
    record_step(st, complete(StepState.from_row(st), now, actor.name, evidence_link or None))
    session.add(st)
    late = now > st.due_at
    where = published_on(st, channel, given, st.evidence_link)
    head = {} if head_attended is None else {"attended_by_head": head_attended}
    ev = act.log(
        inc,
        EventKind.STEP_DONE,
        step_id=st.id,
        key=st.key,
        channel=st.channel or "",
        outlets=[str(o) for o in where],
        **head,
        evidence_link=st.evidence_link,
        done_at=now.isoformat(),
        late=late,
        auto=False,
    )
    proof = Evidence(link=st.evidence_link, outlets=where, head_attended=head_attended)
    late_by = now - st.due_at if late else None
    text = messages.step_done(incident_id, step_name(st), actor.name, late_by, proof, settings.tz, now)
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
    st = pick_step(incident_id, load_steps(session, incident_id), step_key, "")
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


def register_inquiry(
    session: Session,
    settings: Settings,
    title: str,
    link: str | None,
    received: datetime | None,
    actor: Actor,
    chat_id: int | None,
    now: datetime,
) -> ActionResult:
    """Register a suggestion from the public: an incident of kind `inquiry` whose feedback clock
    (7 working days) runs from `received` (default `now`); see `responder.engine.register`."""
    iid, event_id, text = open_inquiry(session, settings, title, link, received, actor, chat_id, now)
    return ActionResult(iid, "register", True, text, event_id=event_id)
