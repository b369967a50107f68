"""The ledger (台账): every incident detected in a period with each of its obligations, one row each.

An incident with no obligation (一般 grade, or a grade not yet known) is one row with the step
columns empty, so the ledger lists every incident. Filters: grade, kind, status, and
timeliness (late = done late or overdue undone; on time; not yet due).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ..i18n import t
from ..models import Incident, IncidentEvent, Step
from ..reports.weekly import GRADES
from .present import fmt_dt, status_label

__all__ = ["GRADE_NONE", "LedgerFilter", "LedgerRow", "load_ledger", "timeliness"]

GRADE_NONE = "none"  # the grade filter's value for events not (yet) graded
KINDS = ("event", "policy")
STATUSES = ("open", "acknowledged", "closed", "dismissed")
TIMELINESS = ("late", "on_time", "open")
MAX_DAYS = 366 * 3


@dataclass(frozen=True)
class LedgerFilter:
    """A period of local dates (both inclusive) and the optional filters ('' = all)."""

    start: date
    end: date
    grade: str = ""
    kind: str = ""
    status: str = ""
    timeliness: str = ""

    @classmethod
    def from_query(cls, q: Mapping[str, str], today: date) -> LedgerFilter:
        """From a page's query string; ValueError (a sentence for the person) on a bad value."""
        try:
            start = date.fromisoformat(q["start"]) if q.get("start") else today.replace(day=1)
            end = date.fromisoformat(q["end"]) if q.get("end") else today
        except ValueError:
            raise ValueError(t("web_ledger_bad_date")) from None
        if end < start or (end - start).days > MAX_DAYS:
            raise ValueError(t("web_ledger_bad_period", days=MAX_DAYS))
        picked = {k: q.get(k, "") for k in ("grade", "kind", "status", "timeliness")}
        allowed = {
            "grade": (*GRADES, GRADE_NONE),
            "kind": KINDS,
            "status": STATUSES,
            "timeliness": TIMELINESS,
        }
        for k, v in picked.items():
            if v and v not in allowed[k]:
                raise ValueError(t("web_ledger_bad_filter", field=k, value=v))
        return cls(start, end, **picked)

    def bounds(self, tz: tzinfo) -> tuple[datetime, datetime]:
        """[start 00:00, day after end 00:00) in `tz`, as aware datetimes."""
        lo = datetime.combine(self.start, time(0), tzinfo=tz)
        hi = datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=tz)
        return lo, hi

    def query(self) -> dict[str, str]:
        """The filter as query parameters (for the export link)."""
        q = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        q |= {k: v for k, v in (("grade", self.grade), ("kind", self.kind), ("status", self.status),
                                ("timeliness", self.timeliness)) if v}  # fmt: skip
        return q


@dataclass(frozen=True)
class LedgerRow:
    """One obligation of one incident (or the incident alone when it owes nothing)."""

    incident: Incident
    step: Step | None
    timeliness: str  # on_time, late, overdue, open, or '' without a step
    responsible: str
    note: str


def timeliness(step: Step, now: datetime) -> str:
    """on_time / late (done after the deadline) / overdue (undone, deadline passed) / open."""
    assert step.due_at is not None
    if step.done_at is not None:
        return "late" if (step.breached_at is not None or step.done_at > step.due_at) else "on_time"
    return "overdue" if now >= step.due_at else "open"


def _keeps(f: LedgerFilter, state: str) -> bool:
    if not f.timeliness:
        return True
    return state in {"late": ("late", "overdue"), "on_time": ("on_time",), "open": ("open",)}[f.timeliness]


def _chunks(ids: list[int], size: int = 500) -> Iterable[list[int]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def _incident_note(inc: Incident, tz: tzinfo) -> str:
    if inc.status == "dismissed":
        return t("web_note_dismissed", who=inc.closed_by or "", reason=inc.dismissed_reason or "")
    if inc.status == "closed":
        return t("web_note_closed", who=inc.closed_by or "", at=fmt_dt(inc.closed_at, tz))
    if inc.status == "acknowledged":
        return t("web_note_acked", who=inc.acked_by or "", at=fmt_dt(inc.acked_at, tz))
    return status_label(inc.status)


def _load(
    s: Session, f: LedgerFilter, tz: tzinfo
) -> tuple[list[Incident], dict[int, list[Step]], dict[int, dict]]:
    lo, hi = f.bounds(tz)
    q = select(Incident).where(col(Incident.detected_at) >= lo, col(Incident.detected_at) < hi)
    if f.kind:
        q = q.where(Incident.kind == f.kind)
    if f.status:
        q = q.where(Incident.status == f.status)
    if f.grade == GRADE_NONE:
        q = q.where(Incident.kind == "event", col(Incident.grade).is_(None))
    elif f.grade:
        q = q.where(Incident.grade == f.grade)
    incidents = list(s.exec(q.order_by(col(Incident.detected_at), col(Incident.id))).all())
    steps: dict[int, list[Step]] = defaultdict(list)
    facts: dict[int, dict] = defaultdict(dict)  # per incident: escalation names, auto-done step ids
    ids = [i.id for i in incidents if i.id is not None]
    for chunk in _chunks(ids):
        for st in s.exec(select(Step).where(col(Step.incident_id).in_(chunk))).all():
            steps[st.incident_id].append(st)
        for ev in s.exec(
            select(IncidentEvent).where(col(IncidentEvent.incident_id).in_(chunk))
            .where(col(IncidentEvent.kind).in_(("escalated", "step_done"))).order_by(col(IncidentEvent.id))
        ).all():  # fmt: skip
            if ev.kind == "escalated":
                facts[ev.incident_id]["to"] = str(ev.data.get("to") or "")
            elif ev.data.get("auto"):
                facts[ev.incident_id].setdefault("auto", set()).add(ev.step_id)
    return incidents, steps, facts


def load_ledger(engine: Engine, f: LedgerFilter, tz: tzinfo, now: datetime) -> list[LedgerRow]:
    """The ledger's rows: incidents in detection order, each one's steps in deadline order."""
    with Session(engine) as s:
        incidents, steps, facts = _load(s, f, tz)
    rows: list[LedgerRow] = []
    for inc in incidents:
        assert inc.id is not None
        note = _incident_note(inc, tz)
        owner = inc.acked_by or facts[inc.id].get("to", "")
        if not steps[inc.id]:
            if not f.timeliness:
                rows.append(LedgerRow(inc, None, "", owner, note))
            continue
        for st in sorted(steps[inc.id], key=lambda x: (x.due_at, x.key, x.channel, x.seq)):
            state = timeliness(st, now)
            if not _keeps(f, state):
                continue
            extra = [t("web_auto_done")] if st.id in facts[inc.id].get("auto", ()) else []
            rows.append(LedgerRow(inc, st, state, st.done_by or owner, "；".join([*extra, note])))
    return rows
