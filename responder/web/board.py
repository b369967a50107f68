"""The board: open incidents (overdue first), repost obligations per outlet, feed health.

Read from the database as stored, so every instance shows the same board.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ..models import FeedState, Incident, IncidentEvent, Outbox, Step
from ..policy import keys
from ..vocab import LIVE_STATUSES, Channel, EventKind, IncidentKind, OutboxKind, OutboxStatus
from .timeline import step_order

__all__ = ["Alerting", "Board", "BoardIncident", "load_board", "sort_key"]


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
        return min((s.due_at for s in self.open_steps), default=None)

    @property
    def overdue(self) -> bool:
        """Has an open step passed its deadline?"""
        nxt = self.next_due
        return nxt is not None and nxt <= self.now

    def by_channel(self) -> dict[Channel, Step | None]:
        """For a policy item: the repost step of each outlet (the latest occurrence), None where none."""
        cells: dict[Channel, Step | None] = dict.fromkeys(Channel)
        for s in self.steps:
            if s.channel is not None:
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
        return (2, 0.0, b.incident.id)
    return (0 if b.overdue else 1, nxt.timestamp(), b.incident.id)


def _alerting(inc: Incident, events: list[IncidentEvent], cards: list[Outbox]) -> Alerting:
    last = max((e for e in events if e.kind == EventKind.ESCALATED), key=lambda e: e.id, default=None)
    names = str(last.data.get("to") or "") if last is not None else ""
    counts: dict[OutboxStatus, int] = defaultdict(int)
    for o in cards:
        counts[o.status] += 1
    waiting = counts[OutboxStatus.PENDING] + counts[OutboxStatus.SENDING]
    return Alerting(
        inc.escalation_level, names, counts[OutboxStatus.SENT], waiting, counts[OutboxStatus.FAILED]
    )


def load_board(engine: Engine, now: datetime) -> Board:
    """The live incidents with their steps, escalation and card delivery, and every feed's health."""
    with Session(engine) as s:
        incidents = list(s.exec(select(Incident).where(col(Incident.status).in_(LIVE_STATUSES))).all())
        ids = [i.id for i in incidents]
        steps: dict[int, list[Step]] = defaultdict(list)
        events: dict[int, list[IncidentEvent]] = defaultdict(list)
        cards: dict[int, list[Outbox]] = defaultdict(list)
        if ids:
            for st in s.exec(select(Step).where(col(Step.incident_id).in_(ids))).all():
                steps[st.incident_id].append(st)
            for ev in s.exec(
                select(IncidentEvent)
                .where(col(IncidentEvent.incident_id).in_(ids))
                .where(IncidentEvent.kind == EventKind.ESCALATED)
            ).all():
                events[ev.incident_id].append(ev)
            for o in s.exec(
                select(Outbox)
                .where(col(Outbox.incident_id).in_(ids), Outbox.kind == OutboxKind.MESSAGE)
                .where(col(Outbox.dedup_key).contains(":escalation:"))
            ).all():
                if o.incident_id is not None and o.dedup_key.startswith(keys.card_prefix(o.incident_id)):
                    cards[o.incident_id].append(o)
        feeds = list(s.exec(select(FeedState).order_by(col(FeedState.source))).all())
    rows = []
    for inc in incidents:
        ordered = sorted(steps[inc.id], key=step_order)
        rows.append(BoardIncident(inc, ordered, _alerting(inc, events[inc.id], cards[inc.id]), now))
    rows.sort(key=sort_key)
    feeds.sort(key=lambda f: (-(f.consecutive_failures > 0), f.source))
    return Board(
        now=now,
        events=[r for r in rows if r.incident.kind != IncidentKind.POLICY],
        policies=[r for r in rows if r.incident.kind == IncidentKind.POLICY],
        feeds=feeds,
    )
