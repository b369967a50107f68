"""What the weekly summary holds: plain, frozen figures (computed by `weekly`, rendered by `render`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..vocab import Grade
from .period import WeekInfo

__all__ = [
    "GRADES_GRAVEST_FIRST",
    "AckFigures",
    "FeedDown",
    "IncidentCounts",
    "ObligationFigures",
    "OverdueItem",
    "WeekFigures",
    "WeeklySummary",
]

GRADES_GRAVEST_FIRST: tuple[Grade, ...] = tuple(reversed(Grade))


@dataclass(frozen=True)
class IncidentCounts:
    """Incidents detected in the week. `by_grade` counts events by current grade."""

    by_grade: dict[str, int]  # every grade plus "" for not (yet) graded
    policy: int  # upstream items to repost
    dismissed: int  # false alarms, of either kind

    @property
    def events(self) -> int:
        """Accident events opened, all grades and ungraded together."""
        return sum(self.by_grade.values())

    @property
    def total(self) -> int:
        """Incidents that count (events + policy items), dismissed excluded."""
        return self.events + self.policy


@dataclass(frozen=True)
class ObligationFigures:
    """One obligation's week: due = on_time + late + open + overdue."""

    name: str
    key: str
    deadline: str  # "due" (hard limit) or "target" (soft aim)
    due: int = 0
    on_time: int = 0
    late: int = 0
    open: int = 0
    overdue: int = 0
    median: timedelta | None = None  # time to completion of the done ones
    p90: timedelta | None = None

    @property
    def decided(self) -> int:
        """Obligations whose outcome is known: on time, late or overdue."""
        return self.on_time + self.late + self.overdue

    @property
    def on_time_rate(self) -> float | None:
        """Share done on time among those whose deadline is decided; None when none is."""
        return self.on_time / self.decided if self.decided else None


@dataclass(frozen=True)
class AckFigures:
    """Time from detection to first acknowledgement, for one escalation level."""

    level: int
    count: int
    median: timedelta
    p90: timedelta


@dataclass(frozen=True)
class OverdueItem:
    """An obligation of the week whose deadline passed undone (done late or still undone)."""

    incident_id: int
    title: str
    kind: str  # 'event' or 'policy'
    grade: str | None
    obligation: str
    channel: str
    deadline: datetime  # aware UTC
    done_at: datetime | None  # None: still undone as of now
    late_by: timedelta  # done_at (or now) minus the deadline
    level: int  # escalation level in force at the deadline
    holders: tuple[str, ...]  # who that level was sent to
    acknowledged_by: str | None  # who had taken the incident before the deadline
    done_by: str | None


@dataclass(frozen=True)
class FeedDown:
    """A source's outages in the week, clipped to the week (and to now)."""

    source: str
    outages: int
    down: timedelta
    still_down: bool
    last_error: str | None


@dataclass(frozen=True)
class WeekFigures:
    """All figures of one week."""

    week: WeekInfo
    incidents: IncidentCounts
    obligations: list[ObligationFigures]
    acks: list[AckFigures]
    unacknowledged: int  # opened in the week, not dismissed, never acknowledged (as of now)
    overdue: list[OverdueItem]
    feeds_down: list[FeedDown]

    def obligation(self, name: str) -> ObligationFigures:
        """The figures of obligation `name` (zeros when none was due)."""
        for o in self.obligations:
            if o.name == name:
                return o
        raise KeyError(name)


@dataclass(frozen=True)
class WeeklySummary:
    """This week, the previous week (for up/down) and on-time rates of the weeks before."""

    current: WeekFigures
    previous: WeekFigures
    history: list[tuple[str, dict[str, float | None]]] = field(default_factory=list)  # oldest first
    now: datetime | None = None
