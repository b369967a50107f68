"""The board: open incidents (overdue first), repost obligations per outlet, feed health.

Read from the database as stored, so every instance shows the same board.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ..config import CHANNELS
from ..models import FeedState, Incident, IncidentEvent, Outbox, Step
from ..playbook import CLOSED_STATUSES

__all__ = ["Alerting", "Board", "BoardIncident", "load_board", "sort_key"]

LIVE = ("open", "acknowledged")


@dataclass(frozen=True)
class Alerting:
    """Who the incident has reached: escalation level, the people named at it, delivery of its cards."""

    level: int
    names: str
    cards_sent: int
    cards_waiting: int
    cards_failed: int


@dataclass(frozen=True)
class BoardIncident:
    """One live incident with its steps (all of them, in deadline order)."""

    incident: Incident
    steps: list[Step]
    alerting: Alerting
    now: datetime

    @property
    def open_steps(self) -> list[Step]:
        """The steps not done yet."""
        return [s for s in self.steps if s.done_at is None]

    @property
    def next_due(self) -> datetime | None:
        """The nearest hard deadline of an open step, if any."""
        dues = [s.due_at for s in self.open_steps if s.due_at is not None]
        return min(dues) if dues else None

    @property
    def overdue(self) -> bool:
        """Has an open step passed its deadline?"""
        nxt = self.next_due
        return nxt is not None and nxt <= self.now

    def by_channel(self) -> dict[str, Step | None]:
        """For a policy item: the repost step of each outlet (the latest occurrence), None where none."""
        cells: dict[str, Step | None] = dict.fromkeys(CHANNELS)
        for s in self.steps:
            if s.channel in cells:
                cells[s.channel] = s
        return cells


@dataclass(frozen=True)
class Board:
    """Everything the board shows, as of `now`."""

    now: datetime
    events: list[BoardIncident]
    policies: list[BoardIncident]
    feeds: list[FeedState] = field(default_factory=list)

    @property
    def overdue_count(self) -> int:
        """Live incidents with an open step past its deadline."""
        return sum(1 for b in self.events + self.policies if b.overdue)


def sort_key(b: BoardIncident) -> tuple[int, float, int]:
    """Overdue first (longest overdue first), then the nearest deadline, then no deadline."""
    nxt = b.next_due
    if nxt is None:
        return (2, 0.0, b.incident.id or 0)
    return (0 if b.overdue else 1, nxt.timestamp(), b.incident.id or 0)


def _alerting(inc: Incident, events: list[IncidentEvent], cards: list[Outbox]) -> Alerting:
    last = max((e for e in events if e.kind == "escalated"), key=lambda e: e.id or 0, default=None)
    names = str(last.data.get("to") or "") if last is not None else ""
    counts = defaultdict(int)
    for o in cards:
        counts[o.status] += 1
    return Alerting(inc.escalation_level, names, counts["sent"], counts["pending"] + counts["sending"],
                    counts["failed"])  # fmt: skip


def load_board(engine: Engine, now: datetime) -> Board:
    """The live incidents with their steps, escalation and card delivery, and every feed's health."""
    with Session(engine) as s:
        incidents = list(s.exec(select(Incident).where(col(Incident.status).in_(LIVE))).all())
        ids = [i.id for i in incidents]
        steps: dict[int, list[Step]] = defaultdict(list)
        events: dict[int, list[IncidentEvent]] = defaultdict(list)
        cards: dict[int, list[Outbox]] = defaultdict(list)
        if ids:
            for st in s.exec(select(Step).where(col(Step.incident_id).in_(ids))).all():
                steps[st.incident_id].append(st)
            for ev in s.exec(
                select(IncidentEvent).where(col(IncidentEvent.incident_id).in_(ids))
                .where(IncidentEvent.kind == "escalated")
            ).all():  # fmt: skip
                events[ev.incident_id].append(ev)
            for o in s.exec(
                select(Outbox).where(col(Outbox.incident_id).in_(ids), Outbox.kind == "message")
                .where(col(Outbox.dedup_key).contains(":escalation:"))
            ).all():  # fmt: skip
                cards[o.incident_id or 0].append(o)
        feeds = list(s.exec(select(FeedState).order_by(col(FeedState.source))).all())
    rows = []
    for inc in incidents:
        assert inc.id is not None and inc.status not in CLOSED_STATUSES
        ordered = sorted(steps[inc.id], key=lambda x: (x.due_at, x.key, x.channel, x.seq))
        rows.append(BoardIncident(inc, ordered, _alerting(inc, events[inc.id], cards[inc.id]), now))
    rows.sort(key=sort_key)
    feeds.sort(key=lambda f: (-(f.consecutive_failures > 0), f.source))
    return Board(
        now=now,
        events=[r for r in rows if r.incident.kind != "policy"],
        policies=[r for r in rows if r.incident.kind == "policy"],
        feeds=feeds,
    )
