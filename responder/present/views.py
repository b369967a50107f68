"""What the engine hands the presentation layer: plain, frozen data about an incident.

`responder.engine.views` builds these from the database rows; everything under
`responder.present` renders them and never reads the database itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..vocab import Channel, Grade, IncidentKind, IncidentStatus, Outlet, channel_rank

__all__ = ["Evidence", "IncidentView", "ReportLine", "StepView"]


@dataclass(frozen=True)
class ReportLine:
    """One report as a card lists it."""

    source: str
    title: str
    link: str | None


@dataclass(frozen=True)
class Evidence:
    """What proves a step done, as its completion recorded it.

    `outlets` are where it was published; `head_attended` whether the head attended (a
    press conference, when recorded). An automatic completion (`auto`) names the item on
    the bureau's own outlet that proved it: its `source`, `title` and `published` time.
    """

    link: str | None = None
    outlets: tuple[Outlet, ...] = ()
    head_attended: bool | None = None
    auto: bool = False
    source: str | None = None
    title: str | None = None
    published: datetime | None = None


@dataclass(frozen=True)
class StepView:
    """One step as people see it. `attendees` comes from the playbook (who attends a conference),
    `obligation` is what the step counts as (`report_as`, else its key), `evidence` what proves
    it done (None while open, or when nothing was recorded)."""

    key: str
    title: str
    channel: Channel | None
    seq: int
    started_at: datetime
    target_at: datetime | None
    due_at: datetime
    done_at: datetime | None = None
    done_by: str | None = None
    breached_at: datetime | None = None
    attendees: str | None = None
    obligation: str | None = None
    evidence: Evidence | None = None


@dataclass(frozen=True)
class IncidentView:
    """One incident with its steps and the reports behind it (own-outlet items excluded)."""

    id: int
    kind: IncidentKind
    title: str
    grade: Grade | None
    status: IncidentStatus
    heat: int
    deaths: int | None
    serious_injuries: int | None
    loss_cny: float | None
    first_published: datetime
    detected_at: datetime
    escalation_level: int = 0
    acked_by: str | None = None
    acked_at: datetime | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None
    dismissed_reason: str | None = None
    steps: tuple[StepView, ...] = ()
    reports: tuple[ReportLine, ...] = ()

    def open_steps(self) -> list[StepView]:
        """Steps not done yet, nearest deadline first."""
        return sorted(
            (s for s in self.steps if s.done_at is None),
            key=lambda s: (s.due_at, s.key, channel_rank(s.channel)),
        )
