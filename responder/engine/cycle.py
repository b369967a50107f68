"""The engine cycle: for every live incident, load its state, decide once, write the answer.

The policy (`responder.policy.decide`) says everything that is due; `apply` says what
each action changes; this module only reads the rows, writes the state `apply` returns,
logs each action in the incident's log and queues each notice.

Each incident is handled in its own transaction. On PostgreSQL the incident row is
claimed with `FOR UPDATE SKIP LOCKED`, so several instances split the work and each
reminder is decided once; on any database, outbox keys and the step key constraint
make a repeated decision harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ..db import insert_ignore, session_scope
from ..models import FeedState, Incident, IncidentEvent, Outbox, Report, Step, table
from ..policy import keys
from ..policy.cards import CARD_CHANGES
from ..policy.decide import decide
from ..policy.state import (
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
    StepRef,
    StepState,
    apply,
)
from ..policy.weekly import weekly_post_due
from ..runtime import Settings
from ..vocab import LIVE_STATUSES, EventKind, Grade, OutboxKind, Role, SourceKind
from .incidentlog import log_event
from .notify import CardText, audience, names_for, queue_notice, refresh_cards
from .outbox import queue
from .views import load_steps

__all__ = ["CycleStats", "queue_weekly_post", "record_step", "run_cycle"]

log = logging.getLogger(__name__)


@dataclass
class CycleStats:
    """What one cycle did."""

    incidents: int = 0
    steps_created: int = 0
    notices: int = 0
    escalations: int = 0
    auto_done: list[int] = field(default_factory=list)


def run_cycle(engine: Engine, settings: Settings, now: datetime) -> CycleStats:
    """One pass over the live incidents. Safe to run twice, or on several instances."""
    stats = CycleStats()
    with Session(engine) as s:
        live = col(Incident.status).in_(LIVE_STATUSES)
        ids = s.exec(select(Incident.id).where(live).order_by(col(Incident.id))).all()
    for iid in ids:
        with session_scope(engine) as s:
            q = select(Incident).where(Incident.id == iid, col(Incident.status).in_(LIVE_STATUSES))
            if s.get_bind().dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            inc = s.exec(q).first()
            if inc is None:
                continue  # another instance has it, or it was closed meanwhile
            stats.incidents += 1
            _process(s, settings, inc, now, stats)
    return stats


def load_state(s: Session, inc: Incident, steps: Sequence[Step]) -> IncidentState:
    """What decide() reads about `inc`: its row and steps, the message keys already
    queued, its own-outlet items (earliest first) and its grade changes."""
    own = s.exec(
        select(Report)
        .where(Report.incident_id == inc.id, Report.source_kind == SourceKind.OWN)
        .order_by(col(Report.published))
    ).all()
    raised = s.exec(
        select(IncidentEvent).where(
            IncidentEvent.incident_id == inc.id, IncidentEvent.kind == EventKind.GRADE_RAISED
        )
    ).all()
    sent, cards = _outbox_state(s, inc.id)
    return IncidentState.from_rows(
        inc,
        steps,
        sent,
        [OwnItem(r.link, r.channel, r.published, r.source, r.title) for r in own],
        [_grade_change(ev) for ev in raised],
        **cards,
    )


def _grade_change(ev: IncidentEvent) -> GradeChange:
    before = ev.data.get("from")
    grade = Grade(ev.data["to"])
    return GradeChange(ev.id, Grade(before) if before else None, grade, ev.data.get("link"), ev.at)


# Built once: the cycle asks these of every live incident every few seconds, and building a
# statement costs more than running it.
_OUTBOX = table(Outbox)
_OUTBOX_ROWS = sa.select(
    _OUTBOX.c.id, _OUTBOX.c.kind, _OUTBOX.c.dedup_key, _OUTBOX.c.created_at, _OUTBOX.c.edit_of
).where(_OUTBOX.c.incident_id == sa.bindparam("incident_id"))
_EVENTS = table(IncidentEvent)
_LATEST_CARD_CHANGE = sa.select(sa.func.max(_EVENTS.c.at)).where(
    _EVENTS.c.incident_id == sa.bindparam("incident_id"), _EVENTS.c.kind.in_(sorted(CARD_CHANGES))
)


def _outbox_state(s: Session, incident_id: int) -> tuple[set[str], dict[str, datetime | None]]:
    """From the incident's outbox rows (one query): the message keys already queued, and what
    `responder.policy.cards` decides on: when the stalest card was last rendered (its own
    creation or its latest edit), when the cards were last edited, and (from the log) the
    latest change a card shows."""
    rows = s.execute(_OUTBOX_ROWS, {"incident_id": incident_id}).all()
    sent = {keys.notice_of_row(key) for _, _, key, _, _ in rows}
    prefix = keys.card_prefix(incident_id)
    cards = {
        rid: at for rid, kind, key, at, _ in rows if kind == OutboxKind.MESSAGE and key.startswith(prefix)
    }
    if not cards:
        return sent, {}
    last_edit: dict[int, datetime] = {}
    for _, kind, _, at, of in rows:
        if kind == OutboxKind.EDIT and of is not None:
            last_edit[of] = max(at, last_edit.get(of, at))
    changed = s.execute(_LATEST_CARD_CHANGE, {"incident_id": incident_id}).scalar_one()
    return sent, {
        "cards_rendered_at": min(max(at, last_edit.get(rid, at)) for rid, at in cards.items()),
        "cards_edited_at": max(last_edit.values(), default=None),
        "card_changed_at": changed,
    }


def _process(s: Session, settings: Settings, inc: Incident, now: datetime, stats: CycleStats) -> None:
    steps = load_steps(s, inc.id)
    state = load_state(s, inc, steps)
    actions = decide(state, settings.playbooks, settings.calendar, now)
    if not actions:
        return
    after = apply(state, actions)
    rows = _write_state(s, settings, inc, steps, state, after, actions, now, stats)
    cards = CardText(s, settings, inc, rows, now)
    for a in actions:
        if isinstance(a, Notify):
            stats.notices += queue_notice(s, a, cards, settings, now)
        elif isinstance(a, RefreshCards):
            refresh_cards(s, cards, a.change)


def record_step(row: Step, step: StepState) -> None:
    """Write a step's state (times, completion, breach) onto its row."""
    row.started_at, row.target_at, row.due_at = step.started_at, step.target_at, step.due_at
    row.done_at, row.done_by, row.evidence_link = step.done_at, step.done_by, step.evidence_link
    row.breached_at = step.breached_at


def _write_state(
    s: Session,
    settings: Settings,
    inc: Incident,
    steps: list[Step],
    before: IncidentState,
    after: IncidentState,
    actions: Sequence[Action],
    now: datetime,
    stats: CycleStats,
) -> list[Step]:
    """Insert and update the rows to match `after`, logging each action; returns the step rows."""
    rows: dict[StepRef, Step] = {StepState.from_row(r).ref: r for r in steps}
    for a in actions:
        if isinstance(a, CreateStep):
            row = _insert_step(s, inc, after.step(a.ref))
            if row is None:
                continue  # made by another instance meanwhile
            rows[a.ref] = row
            stats.steps_created += 1
        if isinstance(a, Escalate):
            inc.escalation_level, inc.escalated_at = a.to_level, a.at
            s.add(inc)
            to = names_for(settings.roster, a.role, now)
            log_event(
                s, inc.id, EventKind.ESCALATED, now, level=a.to_level, reason=a.reason, role=a.role, to=to
            )
            stats.escalations += 1
        elif not isinstance(a, Notify | RefreshCards):
            _log_step_action(s, inc, a, rows, before, after, now, stats)
    for ref, row in rows.items():
        record_step(row, after.step(ref))
        s.add(row)
    s.flush()
    return list(rows.values())


def _insert_step(s: Session, inc: Incident, step: StepState) -> Step | None:
    row = Step(
        incident_id=inc.id,
        playbook=step.playbook,
        key=step.key,
        channel=step.channel,
        seq=step.seq,
        title=step.title,
        started_at=step.started_at,
        target_at=step.target_at,
        due_at=step.due_at,
        breached_at=step.breached_at,
    )
    if not insert_ignore(s, row, ["incident_id", "playbook", "key", "channel", "seq"]):
        return None
    return s.get_one(Step, row.id)


def _log_step_action(
    s: Session,
    inc: Incident,
    a: Action,
    rows: dict[StepRef, Step],
    before: IncidentState,
    after: IncidentState,
    now: datetime,
    stats: CycleStats,
) -> None:
    """The log row of one step action (a created step is logged only when born overdue)."""
    ref = a.ref if isinstance(a, CreateStep) else getattr(a, "step", None)
    row = rows.get(ref) if isinstance(ref, StepRef) else None
    if row is None:
        return
    fields = {"step_id": row.id, "key": row.key, "channel": row.channel or ""}
    if isinstance(a, Retime):
        due_from = before.step(a.step).due_at.isoformat()
        log_event(s, inc.id, EventKind.RETIMED, now, **fields, due_from=due_from, due_to=a.due_at.isoformat())
    elif isinstance(a, CreateStep) and a.breached_at is not None:
        log_event(s, inc.id, EventKind.OVERDUE, now, **fields, due_at=a.breached_at.isoformat())
    elif isinstance(a, MarkBreached):
        log_event(s, inc.id, EventKind.OVERDUE, now, **fields, due_at=a.at.isoformat())
    elif isinstance(a, CompleteStep):
        late = a.at > after.step(a.step).due_at
        log_event(
            s,
            inc.id,
            EventKind.STEP_DONE,
            now,
            **fields,
            actor_name=a.by,
            evidence_link=a.evidence_link,
            done_at=a.at.isoformat(),
            late=late,
            auto=True,
            # Which own-outlet item proved it (its source is the actor): on the cards, in the annual report.
            outlets=[a.channel] if a.channel else [],
            title=a.title,
        )
        stats.auto_done.append(row.id)


def _in_service_since(s: Session) -> datetime | None:
    """The service's first successful poll of a feed it still watches."""
    return s.exec(select(func.min(FeedState.baselined_at))).one()


def queue_weekly_post(engine: Engine, settings: Settings, now: datetime) -> str | None:
    """Queue last week's post (the chart, then the figures) to the policy office and the head
    when it is owed and not yet queued (`responder.policy.weekly`); returns its week or None.

    Cheap when there is nothing to do (one indexed look-up); the summary is computed (and
    matplotlib imported) only when the post is queued: call it off the event loop."""
    from ..reports.post import weekly_post
    from ..reports.weekly import IsoWeek

    chats = audience(settings.roster, (Role.POLICY_OFFICE, Role.HEAD), now)
    if not chats:
        return None
    with Session(engine) as s:
        due = weekly_post_due(now, settings.tz, _in_service_since(s))
        if due is None:
            return None
        week, _ = due
        wanted = [keys.row_key(keys.weekly_summary(week, "text"), chat) for chat in chats]
        queued = s.exec(select(func.count()).where(col(Outbox.dedup_key).in_(wanted))).one()
    if queued == len(wanted):
        return None
    post = weekly_post(engine, IsoWeek.parse(week), settings.tz, settings.playbooks, now)
    with session_scope(engine) as s:
        queue(s, keys.weekly_summary(week, "chart"), chats, post.caption, now, photo=post.chart)
        queue(s, keys.weekly_summary(week, "text"), chats, post.text, now)
    log.info("weekly summary %s queued for %d chats", week, len(chats))
    return week
