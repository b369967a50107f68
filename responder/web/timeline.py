"""One incident's whole record as a timeline: reports, log events and the messages sent.

Everything comes from the stored rows (`report`, `incident_event`, `outbox`), so the page is
what a review of a late response (问责) would read: who was told what and when, whether it
arrived, who acknowledged, who completed what with which evidence, who dismissed and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ..engine.views import evidence_of, step_evidence
from ..i18n import t
from ..models import Incident, IncidentEvent, Outbox, Report, Step
from ..present.formats import grade_label, step_name
from ..roster import Roster
from ..vocab import EventKind, OutboxKind, SourceKind
from .present import (
    chat_label,
    delivery_label,
    event_title,
    fmt_dt,
    message_kind,
    proof_text,
    reason_label,
    via_label,
)

__all__ = ["Entry", "IncidentRecord", "load_incident", "step_order"]


@dataclass(frozen=True)
class Entry:
    """One line of the timeline. `details` are (label, text) pairs; `links` (label, url) pairs."""

    at: datetime
    kind: str  # css class and catalogue suffix: report, acknowledged, step_done, alert ...
    title: str
    who: str = ""
    details: list[tuple[str, str]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    order: int = 0  # ties at one instant: reports, then events, then messages


@dataclass(frozen=True)
class IncidentRecord:
    """The incident, its steps in deadline order, its reports and the merged timeline; `proofs`
    says per done step how it was published (`present.proof_text`: outlets, the head's
    attendance, the own-outlet item of an automatic completion)."""

    incident: Incident
    steps: list[Step]
    reports: list[Report]
    timeline: list[Entry]
    proofs: dict[int, str] = field(default_factory=dict)


def step_order(st: Step) -> tuple[datetime, str, str, int]:
    """Steps in deadline order (then key, outlet and occurrence; a step of no outlet first)."""
    return (st.due_at, st.key, st.channel or "", st.seq)


def _report_entry(r: Report, tz: tzinfo) -> Entry:
    figures = [] if r.deaths is None else [(t("web_field_deaths"), str(r.deaths))]
    return Entry(
        at=r.fetched_at,
        kind="report",
        title=t("web_ev_report", source=r.source),
        details=[
            (t("web_field_title"), r.title),
            (t("web_field_published"), fmt_dt(r.published, tz)),
            (t("web_field_detected"), fmt_dt(r.fetched_at, tz)),
            *figures,
        ],
        links=[(t("web_field_link"), r.link)] if r.link else [],
    )


def _event_details(
    ev: IncidentEvent, tz: tzinfo, steps: dict[int, Step], own: Mapping[str, Report]
) -> list[tuple[str, str]]:
    d: dict[str, Any] = ev.data or {}
    st = steps.get(ev.step_id or -1)
    step = [(t("web_field_step"), step_name(st))] if st else []
    if ev.kind == EventKind.ESCALATED:
        return [
            (t("web_field_level"), str(d.get("level", ""))),
            (t("web_field_to"), str(d.get("to", ""))),
            (t("web_field_reason"), reason_label(str(d.get("reason", "")))),
        ]
    if ev.kind == EventKind.ACKNOWLEDGED:
        out = [(t("web_field_level"), str(d.get("level", "")))]
        return out + ([(t("web_field_note"), t("web_implicit_ack"))] if d.get("implicit") else [])
    if ev.kind == EventKind.STEP_DONE:
        done_at = datetime.fromisoformat(d["done_at"]) if d.get("done_at") else None
        late = t("web_yes") if d.get("late") else t("web_no")
        out = [*step, (t("web_field_done_at"), fmt_dt(done_at, tz)), (t("web_field_late"), late)]
        proof = proof_text(evidence_of(d, ev.actor_name, own), tz)
        out += [(t("web_field_proof"), proof)] if proof else []
        return out + ([(t("web_field_note"), t("web_auto_done"))] if d.get("auto") else [])
    if ev.kind == EventKind.OVERDUE:
        due = datetime.fromisoformat(d["due_at"]) if d.get("due_at") else None
        return [*step, (t("web_field_due"), fmt_dt(due, tz))]
    if ev.kind == EventKind.EXTENDED:
        due = datetime.fromisoformat(d["due_to"]) if d.get("due_to") else None
        return [
            *step,
            (t("web_field_due"), fmt_dt(due, tz)),
            (t("web_field_reason"), str(d.get("reason", ""))),
        ]
    if ev.kind == EventKind.DISMISSED:
        return [(t("web_field_reason"), str(d.get("reason", "")))]
    if ev.kind == EventKind.CLOSED:
        left = "、".join(d.get("open_steps") or []) or t("web_none")
        return [(t("web_field_open_steps"), left)]
    if ev.kind == EventKind.GRADE_RAISED:
        grades = f"{grade_label(d.get('from'))} → {d.get('to')}"
        return [(t("web_field_grade"), grades), (t("web_field_title"), str(d.get("title", "")))]
    if ev.kind in (EventKind.OPENED, EventKind.OWN_REPORT):
        return [(t("web_field_title"), str(d.get("title", "")))]
    if ev.kind == EventKind.RETIMED:
        return step
    return []


def _event_entry(
    ev: IncidentEvent, roster: Roster, tz: tzinfo, steps: dict[int, Step], own: Mapping[str, Report]
) -> Entry:
    d: dict[str, Any] = ev.data or {}
    title = event_title(ev.kind)
    who = ""
    if ev.actor_name:
        who = t("web_who_via", who=ev.actor_name, via=via_label(roster, ev.chat_id, d))
    links = [(t("web_field_evidence"), d["evidence_link"])] if d.get("evidence_link") else []
    if d.get("link") and ev.kind in (EventKind.GRADE_RAISED, EventKind.OWN_REPORT, EventKind.OPENED):
        links.append((t("web_field_link"), str(d["link"])))
    details = _event_details(ev, tz, steps, own)
    return Entry(at=ev.at, kind=ev.kind, title=title, who=who, details=details, links=links, order=1)


def _message_entry(o: Outbox, roster: Roster, tz: tzinfo) -> Entry:
    details = [
        (t("web_field_to"), chat_label(roster, o.robot if o.robot is not None else o.chat_id)),
        (t("web_field_delivery"), delivery_label(o.status)),
        (t("web_field_sent_at"), fmt_dt(o.sent_at, tz)),
    ]
    if o.attempts > 1 or o.last_error:
        details.append((t("web_field_attempts"), str(o.attempts)))
    if o.last_error:
        details.append((t("web_field_error"), o.last_error))
    return Entry(at=o.created_at, kind="alert", title=message_kind(o.dedup_key), details=details, order=2)


def load_incident(engine: Engine, roster: Roster, tz: tzinfo, incident_id: int) -> IncidentRecord | None:
    """The record of one incident, oldest entry first; None when there is no such incident.

    Card edits (the same card updated after an action) are left out: the action itself is
    on the timeline, and its confirmation message is listed with its delivery.
    """
    with Session(engine) as s:
        inc = s.get(Incident, incident_id)
        if inc is None:
            return None
        steps = list(s.exec(select(Step).where(Step.incident_id == incident_id)).all())
        reports = list(
            s.exec(
                select(Report)
                .where(Report.incident_id == incident_id)
                .order_by(col(Report.fetched_at), col(Report.id))
            ).all()
        )
        events = s.exec(
            select(IncidentEvent)
            .where(IncidentEvent.incident_id == incident_id)
            .where(IncidentEvent.kind != EventKind.REPORT_ADDED)
            .order_by(col(IncidentEvent.id))
        ).all()
        messages = s.exec(
            select(Outbox)
            .where(Outbox.incident_id == incident_id, Outbox.kind != OutboxKind.EDIT)
            .order_by(col(Outbox.id))
        ).all()
        evidence = step_evidence(s, incident_id)
    by_id = {st.id: st for st in steps}
    own = {r.link: r for r in reports if r.source_kind == SourceKind.OWN and r.link}
    entries = [_report_entry(r, tz) for r in reports]
    entries += [_event_entry(ev, roster, tz, by_id, own) for ev in events]
    entries += [_message_entry(o, roster, tz) for o in messages]
    entries.sort(key=lambda e: (e.at, e.order))
    steps.sort(key=step_order)
    proofs = {st.id: proof_text(evidence.get(st.id), tz) for st in steps if st.done_at is not None}
    return IncidentRecord(inc, steps, reports, entries, proofs)
