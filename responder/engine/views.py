"""Database rows → the plain data the presentation layer renders (`responder.present.views`).

The one place that reads what a card shows: the incident, its steps (with who attends,
from the playbook) and the reports behind it. Used by the cycle, people's actions and
the chat's /status alike.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ..models import Incident, IncidentEvent, Report, Step
from ..playbook import Playbook
from ..present.views import Evidence, IncidentView, ReportLine, StepView
from ..vocab import LIVE_STATUSES, EventKind, Outlet, SourceKind

__all__ = [
    "evidence_of",
    "incident_view",
    "live_views",
    "load_steps",
    "report_lines",
    "step_evidence",
    "step_view",
]

# What an overview shows of an incident and of a step: read as plain rows, not as ORM objects.
_INCIDENT_COLUMNS = tuple(
    col(c)
    for c in (
        Incident.id,
        Incident.kind,
        Incident.title,
        Incident.grade,
        Incident.status,
        Incident.heat,
        Incident.deaths,
        Incident.serious_injuries,
        Incident.loss_cny,
        Incident.first_published,
        Incident.detected_at,
        Incident.escalation_level,
        Incident.acked_by,
        Incident.acked_at,
        Incident.closed_by,
        Incident.closed_at,
        Incident.dismissed_reason,
    )
)
_STEP_COLUMNS = tuple(
    col(c)
    for c in (
        Step.incident_id,
        Step.playbook,
        Step.key,
        Step.title,
        Step.channel,
        Step.seq,
        Step.started_at,
        Step.target_at,
        Step.due_at,
        Step.done_at,
        Step.done_by,
        Step.breached_at,
    )
)


def load_steps(session: Session, incident_id: int) -> list[Step]:
    """An incident's step rows in creation order."""
    return list(
        session.exec(select(Step).where(Step.incident_id == incident_id).order_by(col(Step.id))).all()
    )


def report_lines(session: Session, incident_id: int) -> list[ReportLine]:
    """The reports behind an incident, earliest first (own-outlet items are evidence, not reports)."""
    rows = session.exec(
        select(Report)
        .where(Report.incident_id == incident_id, Report.source_kind != SourceKind.OWN)
        .order_by(col(Report.published), col(Report.id))
    ).all()
    return [ReportLine(r.source, r.title, r.link) for r in rows]


def _outlets(words: Iterable[Any]) -> tuple[Outlet, ...]:
    known = {o.value for o in Outlet}
    return tuple(dict.fromkeys(Outlet(w) for w in words if isinstance(w, str) and w in known))


def _published(data: dict[str, Any], item: Report | None) -> datetime | None:
    text = data.get("published") or data.get("done_at")
    if isinstance(text, str):
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    return item.published if item is not None else None


def evidence_of(data: dict[str, Any], actor: str | None, own: Mapping[str, Report]) -> Evidence:
    """The proof one `step_done` log row records. An automatic completion names the own-outlet
    item (read from the incident's own items by its link when the row predates `title`)."""
    link = data.get("evidence_link") or None
    outlets = _outlets(data.get("outlets") or [data.get("channel")])
    head = data.get("attended_by_head")
    if not data.get("auto"):
        return Evidence(link=link, outlets=outlets, head_attended=head if isinstance(head, bool) else None)
    item = own.get(link) if link else None
    if not outlets and item is not None and item.channel is not None:
        outlets = (Outlet(item.channel),)
    return Evidence(
        link=link,
        outlets=outlets,
        auto=True,
        source=actor or (item.source if item is not None else None),
        title=data.get("title") or (item.title if item is not None else None),
        published=_published(data, item),
    )


def step_evidence(session: Session, incident_id: int) -> dict[int, Evidence]:
    """Per step id, the proof its latest completion recorded (the incident's `step_done` rows)."""
    rows = session.exec(
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident_id, IncidentEvent.kind == EventKind.STEP_DONE)
        .order_by(col(IncidentEvent.id))
    ).all()
    if not rows:
        return {}
    own = {
        r.link: r
        for r in session.exec(
            select(Report).where(Report.incident_id == incident_id, Report.source_kind == SourceKind.OWN)
        ).all()
        if r.link
    }
    return {
        ev.step_id: evidence_of(ev.data or {}, ev.actor_name, own) for ev in rows if ev.step_id is not None
    }


def step_view(
    row: Step | Any, playbooks: Mapping[str, Playbook], evidence: Mapping[int, Evidence] | None = None
) -> StepView:
    """One step row (a `Step`, or a row of `_STEP_COLUMNS` for an open step) as people see it,
    with the playbook's attendees where it names them, what it counts as, and (once done) the
    proof its completion recorded."""
    book = playbooks.get(row.playbook)
    cfg = next((c for c in book.steps if c.key == row.key), None) if book else None
    proof = (evidence or {}).get(row.id) if row.done_at is not None else None
    if proof is None and row.done_at is not None and row.evidence_link:
        proof = Evidence(link=row.evidence_link)
    return StepView(
        key=row.key,
        title=row.title,
        channel=row.channel,
        seq=row.seq,
        started_at=row.started_at,
        target_at=row.target_at,
        due_at=row.due_at,
        done_at=row.done_at,
        done_by=row.done_by,
        breached_at=row.breached_at,
        attendees=cfg.attendees if cfg else None,
        obligation=str(cfg.report_as or cfg.key) if cfg else row.key,
        evidence=proof,
    )


def incident_view(
    inc: Incident,
    steps: Iterable[Step],
    reports: Iterable[ReportLine],
    playbooks: Mapping[str, Playbook],
    evidence: Mapping[int, Evidence] | None = None,
) -> IncidentView:
    """The incident as its card shows it (`evidence`: `step_evidence` of its steps)."""
    return IncidentView(
        id=inc.id,
        kind=inc.kind,
        title=inc.title,
        grade=inc.grade,
        status=inc.status,
        heat=inc.heat,
        deaths=inc.deaths,
        serious_injuries=inc.serious_injuries,
        loss_cny=inc.loss_cny,
        first_published=inc.first_published,
        detected_at=inc.detected_at,
        escalation_level=inc.escalation_level,
        acked_by=inc.acked_by,
        acked_at=inc.acked_at,
        closed_by=inc.closed_by,
        closed_at=inc.closed_at,
        dismissed_reason=inc.dismissed_reason,
        steps=tuple(step_view(s, playbooks, evidence) for s in steps),
        reports=tuple(reports),
    )


def live_views(
    session: Session, playbooks: Mapping[str, Playbook], *, with_open_steps: bool
) -> list[IncidentView]:
    """Every live incident as the chat's overviews show it (no reports), by id; with its open
    steps when asked. Two narrow queries, whatever the number of incidents."""
    live = col(Incident.status).in_(LIVE_STATUSES)
    rows = session.execute(sa.select(*_INCIDENT_COLUMNS).where(live).order_by(col(Incident.id))).all()
    steps: dict[int, list[StepView]] = defaultdict(list)
    if with_open_steps and rows:
        open_steps = (
            sa.select(*_STEP_COLUMNS)
            .join(Incident, col(Incident.id) == col(Step.incident_id))
            .where(live, col(Step.done_at).is_(None))
            .order_by(col(Step.id))
        )
        for st in session.execute(open_steps).all():
            steps[st.incident_id].append(step_view(st, playbooks))
    return [
        IncidentView(
            id=r.id,
            kind=r.kind,
            title=r.title,
            grade=r.grade,
            status=r.status,
            heat=r.heat,
            deaths=r.deaths,
            serious_injuries=r.serious_injuries,
            loss_cny=r.loss_cny,
            first_published=r.first_published,
            detected_at=r.detected_at,
            escalation_level=r.escalation_level,
            acked_by=r.acked_by,
            acked_at=r.acked_at,
            closed_by=r.closed_by,
            closed_at=r.closed_at,
            dismissed_reason=r.dismissed_reason,
            steps=tuple(steps[r.id]),
        )
        for r in rows
    ]
