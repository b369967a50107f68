"""The week's records beside its obligations: incidents opened and first acknowledgements,
the overdue list (who held each missed deadline), and feed outages — read from the log."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from ..models import FeedOutage, Incident, IncidentEvent, table
from ..vocab import Channel, EventKind, IncidentKind, IncidentStatus
from .figures import GRADES_GRAVEST_FIRST, AckFigures, FeedDown, IncidentCounts, OverdueItem
from .period import chunks, spread

__all__ = ["StepRow", "feeds_down", "incidents_and_acks", "overdue_items"]


@dataclass
class StepRow:
    """A step as the weekly figures read it (times in naive UTC, see weekly._naive_col)."""

    id: int
    incident_id: int
    key: str
    channel: Channel | None
    started_at: datetime
    target_at: datetime | None
    due_at: datetime
    done_at: datetime | None
    done_by: str | None


def _aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC)


def incidents_and_acks(
    s: Session, lo: datetime, hi: datetime, now: datetime
) -> tuple[IncidentCounts, list[AckFigures], int]:
    """Incidents detected in [lo, hi) (dismissed apart), time to first acknowledgement by the
    level recorded, and how many were never acknowledged by `now`."""
    inc, ev = table(Incident), table(IncidentEvent)
    hi_now = min(hi, now)
    rows = s.execute(
        sa.select(inc.c.id, inc.c.kind, inc.c.grade, inc.c.status, inc.c.detected_at).where(
            inc.c.detected_at >= lo, inc.c.detected_at < hi_now
        )
    ).all()
    by_grade: dict[str, int] = dict.fromkeys((*GRADES_GRAVEST_FIRST, ""), 0)
    policy = dismissed = 0
    detected: dict[int, datetime] = {}
    for iid, kind, grade, status, det in rows:
        if status == IncidentStatus.DISMISSED:
            dismissed += 1
            continue
        detected[iid] = det
        if kind == IncidentKind.POLICY:
            policy += 1
        else:
            by_grade[grade if grade in by_grade else ""] += 1
    # First acknowledgement per incident: one query joined on the detection range.
    first_ack: dict[int, tuple[datetime, int]] = {}
    ack_rows = s.execute(
        sa.select(ev.c.incident_id, ev.c.at, ev.c.data)
        .join(inc, inc.c.id == ev.c.incident_id)
        .where(
            inc.c.detected_at >= lo,
            inc.c.detected_at < hi_now,
            ev.c.kind == EventKind.ACKNOWLEDGED,
            ev.c.at <= now,
        )
    )
    for iid, at, data in ack_rows:
        if iid not in detected:
            continue
        if iid not in first_ack or at < first_ack[iid][0]:
            first_ack[iid] = (at, int((data or {}).get("level") or 0))
    per_level: dict[int, list[timedelta]] = defaultdict(list)
    for iid, (at, level) in first_ack.items():
        per_level[level].append(at - detected[iid])
    acks = []
    for level in sorted(per_level):
        med, p90 = spread(per_level[level])
        assert med is not None and p90 is not None
        acks.append(AckFigures(level=level, count=len(per_level[level]), median=med, p90=p90))
    return IncidentCounts(by_grade, policy, dismissed), acks, len(detected) - len(first_ack)


def overdue_items(
    s: Session, missed: list[tuple[StepRow, str, datetime]], now: datetime
) -> list[OverdueItem]:
    """Each missed deadline with the level in force then, who it went to and who had acknowledged;
    still-undone first, then the longest overrun."""
    if not missed:
        return []
    inc, ev = table(Incident), table(IncidentEvent)
    ids = sorted({row.incident_id for row, _, _ in missed})
    info: dict[int, tuple[str, str, str | None]] = {}
    history: dict[int, list[tuple[datetime, str, dict[str, Any], str | None]]] = defaultdict(list)
    for chunk in chunks(ids):
        for iid, title, kind, grade in s.execute(
            sa.select(inc.c.id, inc.c.title, inc.c.kind, inc.c.grade).where(inc.c.id.in_(chunk))
        ):
            info[iid] = (title, kind, grade)
        for iid, at, kind, data, actor in s.execute(
            sa.select(ev.c.incident_id, ev.c.at, ev.c.kind, ev.c.data, ev.c.actor_name).where(
                ev.c.incident_id.in_(chunk), ev.c.kind.in_((EventKind.ESCALATED, EventKind.ACKNOWLEDGED))
            )
        ):
            history[iid].append((at, kind, data or {}, actor))
    items = []
    for row, name, naive_deadline in missed:
        deadline = _aware(naive_deadline)
        level, holders, acked_by = 0, (), None
        # The last escalation at or before the deadline says who held the obligation then.
        for at, kind, data, actor in sorted(history[row.incident_id], key=lambda h: h[0]):
            if at > deadline:
                break
            if kind == EventKind.ESCALATED:
                level = int(data.get("level") or 0)
                to = data.get("to") or ()
                holders = tuple(to) if isinstance(to, list | tuple) else (str(to),)
            elif kind == EventKind.ACKNOWLEDGED and acked_by is None:
                acked_by = actor
        done = _aware(row.done_at) if row.done_at is not None and _aware(row.done_at) <= now else None
        title, kind, grade = info.get(row.incident_id, ("", "event", None))
        items.append(
            OverdueItem(
                incident_id=row.incident_id,
                title=title,
                kind=kind,
                grade=grade,
                obligation=name,
                channel=row.channel or "",
                deadline=deadline,
                done_at=done,
                late_by=(done or now) - deadline,
                level=level,
                holders=holders,
                acknowledged_by=acked_by,
                done_by=row.done_by if done else None,
            )
        )
    # Still-undone first, then the longest overrun: what needs attention reads first.
    items.sort(key=lambda i: (i.done_at is not None, -i.late_by.total_seconds(), i.incident_id))
    return items


def feeds_down(s: Session, lo: datetime, hi: datetime, now: datetime) -> list[FeedDown]:
    """Each source's outages clipped to [lo, hi) and to `now`, overlapping rows counted once."""
    fo = table(FeedOutage)
    rows = s.execute(
        sa.select(fo.c.source, fo.c.started_at, fo.c.ended_at, fo.c.error)
        .where(fo.c.started_at < min(hi, now), sa.or_(fo.c.ended_at.is_(None), fo.c.ended_at > lo))
        .order_by(fo.c.started_at)
    )
    acc: dict[str, dict[str, Any]] = {}
    for source, started, ended, error in rows:  # ordered by start
        end_eff = now if ended is None or ended > now else ended
        begin, finish = max(started, lo), min(end_eff, hi)
        if finish <= begin:
            continue
        a = acc.setdefault(
            source, {"n": 0, "down": timedelta(0), "reach": begin, "still": False, "err": None}
        )
        a["n"] += 1
        # Overlapping rows of one source (two pollers, a restart) count their time once.
        if finish > a["reach"]:
            a["down"] += finish - max(begin, a["reach"])
            a["reach"] = finish
        a["still"] = a["still"] or ended is None or ended > now
        a["err"] = error or a["err"]
    out = [FeedDown(src, a["n"], a["down"], a["still"], a["err"]) for src, a in acc.items()]
    out.sort(key=lambda f: (-f.down, f.source))
    return out
