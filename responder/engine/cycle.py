"""The engine cycle: for every live incident, ask decide() what is due as of `now`, and write it.

Each incident is handled in its own transaction. On PostgreSQL the incident row is
claimed with `FOR UPDATE SKIP LOCKED`, so several instances split the work and each
reminder is decided once; on any database, outbox keys and the step key constraint
make a repeated decision harmless.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ..chat.render import ReportLine, card, card_buttons, notice
from ..db import insert_ignore, session_scope
from ..i18n import t
from ..models import Incident, IncidentEvent, Report, Step
from ..playbook import (
    CreateStep,
    Escalate,
    IncidentState,
    MarkBreached,
    Notify,
    decide,
    due_times,
    select_playbooks,
)
from ..runtime import Settings
from .ingest import log_event
from .outbox import queue, queue_edits, sent_keys

__all__ = ["CycleStats", "mark_done", "refresh_cards", "run_cycle"]

log = logging.getLogger(__name__)

LIVE = ("open", "acknowledged")


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
        ids = s.exec(
            select(Incident.id).where(col(Incident.status).in_(LIVE)).order_by(col(Incident.id))
        ).all()
    for iid in ids:
        with session_scope(engine) as s:
            q = select(Incident).where(Incident.id == iid, col(Incident.status).in_(LIVE))
            if s.get_bind().dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            inc = s.exec(q).first()
            if inc is None:
                continue  # another instance has it, or it was closed meanwhile
            stats.incidents += 1
            _process(s, settings, inc, now, stats)
    return stats


def _reports(s: Session, inc: Incident) -> list[ReportLine]:
    rows = s.exec(
        select(Report).where(Report.incident_id == inc.id, Report.source_kind != "own")
        .order_by(col(Report.published), col(Report.id))
    ).all()  # fmt: skip
    return [ReportLine(r.source, r.title, r.link) for r in rows]


def _steps(s: Session, inc: Incident) -> list[Step]:
    return list(s.exec(select(Step).where(Step.incident_id == inc.id).order_by(col(Step.id))).all())


def _names(settings: Settings, role: str, now: datetime) -> str:
    if role == "duty_officer":
        p = settings.roster.on_duty(now)
        people = [p] if p else []
    else:
        people = settings.roster.people_with(role)
    return "、".join(p.name for p in people) or t("nobody")


def _auto_complete(s: Session, inc: Incident, steps: list[Step], now: datetime, stats: CycleStats) -> None:
    """Own-outlet items attached to this incident complete the matching open steps."""
    own = s.exec(
        select(Report).where(Report.incident_id == inc.id, Report.source_kind == "own")
        .order_by(col(Report.published))
    ).all()  # fmt: skip
    used = {st.evidence_link for st in steps if st.evidence_link}
    for rep in own:
        if rep.link in used or rep.published is None:
            continue
        for st in steps:
            if st.done_at is not None:
                continue
            fits = (
                (inc.kind == "policy" and st.key == "repost" and st.channel == rep.channel)
                or (inc.kind == "event" and st.key in ("statement", "publish_info", "updates") and not st.channel)
            )  # fmt: skip
            if not fits or rep.published < st.started_at - (st.due_at - st.started_at):
                continue
            mark_done(s, inc, st, rep.published, f"{rep.source}", rep.link, now, auto=True)
            stats.auto_done.append(st.id or 0)
            used.add(rep.link)
            break


def mark_done(
    s: Session, inc: Incident, st: Step, at: datetime, who: str, evidence: str | None, now: datetime,
    *, auto: bool = False, actor_id: int | None = None, chat_id: int | None = None,
) -> IncidentEvent:  # fmt: skip
    """Complete `st` at `at` (late keeps the breach for good) and log `step_done`; returns the event."""
    assert inc.id is not None and st.due_at is not None
    st.done_at, st.done_by, st.evidence_link = at, who, evidence
    late = at > st.due_at
    if late and st.breached_at is None:
        st.breached_at = st.due_at
    s.add(st)
    return log_event(s, inc.id, "step_done", now, step_id=st.id, actor_id=actor_id, actor_name=who, chat_id=chat_id,
              key=st.key, channel=st.channel or "", evidence_link=evidence, done_at=at.isoformat(), late=late, auto=auto)  # fmt: skip


def _process(s: Session, settings: Settings, inc: Incident, now: datetime, stats: CycleStats) -> None:
    assert inc.id is not None
    steps = _steps(s, inc)
    _retime(s, settings, inc, steps, now)
    books = select_playbooks(settings.playbooks, inc.kind, inc.grade, {st.playbook for st in steps})
    sent = sent_keys(s, inc.id)
    if not books:
        _announce_unplaybooked(s, settings, inc, sent, now)
        return
    # Steps first, so that an own-outlet item already published can complete them before
    # any reminder is decided; then decide again on the completed state.
    actions = decide(IncidentState.from_rows(inc, steps, sent), books, settings.calendar, now)
    created = [a for a in actions if isinstance(a, CreateStep)]
    for a in created:
        row = Step(incident_id=inc.id, playbook=a.playbook, key=a.key, channel=a.channel, seq=a.seq,
                   title=a.title, started_at=a.started_at, target_at=a.target_at, due_at=a.due_at)  # fmt: skip
        # A step created past its due time is not marked breached yet: the second decide()
        # does that, after own-outlet evidence had its chance to show it was done in time.
        if insert_ignore(s, row, ["incident_id", "playbook", "key", "channel", "seq"]):
            steps.append(s.get_one(Step, row.id))
            stats.steps_created += 1
    done_before = len(stats.auto_done)
    _auto_complete(s, inc, steps, now, stats)
    changed = bool(created) or len(stats.auto_done) > done_before
    if changed:
        s.flush()
        actions = decide(IncidentState.from_rows(inc, steps, sent), books, settings.calendar, now)
    by_id = {st.id: st for st in steps}
    for a in actions:
        if isinstance(a, MarkBreached):
            st = by_id.get(a.step_id)
            if st is not None and st.breached_at is None:
                st.breached_at = a.at
                s.add(st)
                log_event(s, inc.id, "overdue", now, step_id=st.id, key=st.key, channel=st.channel or "",
                          due_at=a.at.isoformat())  # fmt: skip
                changed = True
        elif isinstance(a, Escalate):
            inc.escalation_level, inc.escalated_at = a.to_level, now
            s.add(inc)
            log_event(s, inc.id, "escalated", now, level=a.to_level, reason=a.reason, role=a.role,
                      to=_names(settings, a.role, now))  # fmt: skip
            stats.escalations += 1
    s.flush()
    notices = [a for a in actions if isinstance(a, Notify)]
    reports = _reports(s, inc) if notices or changed else []
    for n in notices:
        stats.notices += _notify(s, settings, inc, steps, reports, n, now)
    escalation = books[0].escalation
    _grade_notices(
        s, settings, inc, sent, now, escalation.level(1).role, escalation.level(inc.escalation_level).role
    )
    if changed:
        refresh_cards(s, settings, inc, now, f"cycle:{now.isoformat()}", steps=steps, reports=reports)


def _retime(s: Session, settings: Settings, inc: Incident, steps: list[Step], now: datetime) -> None:
    """An earlier report surfaced after the steps were made: open steps count from the earlier time.

    Only first occurrences that start at publication (not `after` another step, not
    later repeats); a step already done keeps the times it was judged against.
    """
    assert inc.id is not None and inc.first_published is not None
    for st in steps:
        if st.done_at is not None or st.seq != 0 or st.started_at == inc.first_published:
            continue
        book = settings.playbooks.get(st.playbook)
        if book is None:
            continue
        cfg = book.step(st.key)
        if cfg.after is not None or st.started_at is None or st.started_at < inc.first_published:
            continue
        target, due = due_times(cfg, inc.first_published, settings.calendar)
        log_event(s, inc.id, "retimed", now, step_id=st.id, key=st.key, channel=st.channel or "",
                  due_from=st.due_at.isoformat() if st.due_at else None, due_to=due.isoformat())  # fmt: skip
        st.started_at, st.target_at, st.due_at = inc.first_published, target, due
        s.add(st)


def _announce_unplaybooked(
    s: Session, settings: Settings, inc: Incident, sent: set[str], now: datetime
) -> None:
    """No playbook applies (grade 一般 or unknown): the duty officer still sees the card, once."""
    assert inc.id is not None
    key = f"incident:{inc.id}:escalation:L1:r0"
    if key in sent:
        return
    head = t(
        "escalation_head", level=1, role=t("role_duty_officer"), names=_names(settings, "duty_officer", now)
    )
    head += "\n" + t("escalation_reason_detected")
    text = card(inc, [], _reports(s, inc), settings.tz, now, header=head)
    queue(
        s,
        key,
        settings.roster.chats_for_role("duty_officer", now),
        text,
        now,
        incident_id=inc.id,
        buttons=card_buttons(inc, []),
    )
    if inc.escalation_level < 1:
        inc.escalation_level, inc.escalated_at = 1, now
        s.add(inc)
        log_event(s, inc.id, "escalated", now, level=1, reason="detected", role="duty_officer",
                  to=_names(settings, "duty_officer", now))  # fmt: skip


def _find_step(steps: list[Step], n: Notify) -> Step | None:
    for st in steps:
        if st.key == n.step_key and (st.channel or "") == n.channel and st.seq == n.seq:
            return st
    return None


def _notify(
    s: Session, settings: Settings, inc: Incident, steps: list[Step], reports: list[ReportLine], n: Notify,
    now: datetime,
) -> int:  # fmt: skip
    assert inc.id is not None
    tz = settings.tz
    chats = settings.roster.chats_for_role(n.audience_role, now)
    if n.kind in ("escalation", "repeat"):
        names = _names(settings, n.audience_role, now)
        if n.kind == "repeat":
            text = t(
                "escalation_repeat",
                id=inc.id,
                level=n.audience_level,
                n=n.params.get("repeat", 0),
                names=names,
            )
            return queue(
                s, n.dedup_key, chats, text, now, incident_id=inc.id, buttons=card_buttons(inc, steps)
            )
        reason = n.params.get("reason", "detected")
        step_title = n.params.get("step_title") or ""
        head = t(
            "escalation_head",
            level=n.audience_level,
            role=t("role_" + (n.audience_role or "head")),
            names=names,
        )
        head += "\n" + t("escalation_reason_" + reason, step=step_title)
        text = card(inc, steps, reports, tz, now, header=head)
        return queue(s, n.dedup_key, chats, text, now, incident_id=inc.id, buttons=card_buttons(inc, steps))
    step = _find_step(steps, n)
    text = notice(n.kind, inc, step, n.params, tz, now)
    return queue(s, n.dedup_key, chats, text, now, incident_id=inc.id)


def _grade_notices(
    s: Session, settings: Settings, inc: Incident, sent: set[str], now: datetime, first_role: str, role: str
) -> None:
    """Tell the current audience (and the duty chat) why the grade rose and which playbook started."""
    assert inc.id is not None
    for ev in s.exec(
        select(IncidentEvent).where(IncidentEvent.incident_id == inc.id, IncidentEvent.kind == "grade_raised")
    ).all():  # fmt: skip
        data = ev.data
        key = f"incident:{inc.id}:grade:{data.get('to')}:{ev.id}"
        if key in sent:
            continue  # queued by an earlier cycle: no write at all
        books = select_playbooks(settings.playbooks, inc.kind, data.get("to"))
        title = books[0].title if books else "—"
        text = t("grade_raised", id=inc.id, from_grade=data.get("from") or t("grade_unknown"), to_grade=data.get("to"),
                 link=data.get("link") or "", playbook=title,
                 first=inc.first_published.astimezone(settings.tz).strftime("%m-%d %H:%M"))  # fmt: skip
        chats = settings.roster.chats_for_role(first_role, now) + settings.roster.chats_for_role(role, now)
        queue(s, key, chats, text, now, incident_id=inc.id)


def refresh_cards(
    s: Session, settings: Settings, inc: Incident, now: datetime, change_key: str,
    *, steps: list[Step] | None = None, reports: list[ReportLine] | None = None,
) -> int:  # fmt: skip
    """Edit every card already sent for this incident to show its current state."""
    assert inc.id is not None
    steps = steps if steps is not None else _steps(s, inc)
    reports = reports if reports is not None else _reports(s, inc)
    text = card(inc, steps, reports, settings.tz, now)
    return queue_edits(
        s, inc.id, f"incident:{inc.id}:escalation:", change_key, text, now, card_buttons(inc, steps)
    )
