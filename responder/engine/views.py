"""Database rows → the plain data the presentation layer renders (`responder.present.views`).

The one place that reads what a card shows: the incident, its steps (with who attends,
from the playbook) and the reports behind it. Used by the cycle, people's actions and
the chat's /status alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlmodel import Session, col, select

from ..models import Incident, Report, Step
from ..playbook import Playbook
from ..present.views import IncidentView, ReportLine, StepView
from ..vocab import SourceKind

__all__ = ["incident_view", "load_steps", "report_lines", "step_view"]


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


def step_view(row: Step, playbooks: Mapping[str, Playbook]) -> StepView:
    """One step row as people see it, with the playbook's attendees where it names them."""
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
