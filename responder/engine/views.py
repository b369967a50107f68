"""Database rows → the plain data the presentation layer renders (`responder.present.views`).

The one place that reads what a card shows: the incident, its steps (with who attends,
from the playbook) and the reports behind it. Used by the cycle, people's actions and
the chat's /status alike.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ..models import Incident, Report, Step
from ..playbook import Playbook
from ..present.views import IncidentView, ReportLine, StepView
from ..vocab import LIVE_STATUSES, SourceKind

__all__ = ["incident_view", "live_views", "load_steps", "report_lines", "step_view"]

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


def step_view(row: Step | Any, playbooks: Mapping[str, Playbook]) -> StepView:
    """One step row (a `Step`, or a row of `_STEP_COLUMNS`) as people see it, with the playbook's
    attendees where it names them."""
    book = playbooks.get(row.playbook)
    cfg = next((c for c in book.steps if c.key == row.key), None) if book else None
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
    )


def incident_view(
    inc: Incident, steps: Iterable[Step], reports: Iterable[ReportLine], playbooks: Mapping[str, Playbook]
) -> IncidentView:
    """The incident as its card shows it."""
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
        steps=tuple(step_view(s, playbooks) for s in steps),
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
