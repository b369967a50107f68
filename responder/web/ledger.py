"""The ledger (台账): every incident detected in a period with each of its obligations, one row each.

An incident with no obligation (一般 grade, or a grade not yet known) is one row with the step
columns empty, so the ledger lists every incident. A done step says where it was published
(发布情况: the outlets, the head's attendance, the own-outlet item of an automatic completion),
in the words of the incident page and the cards. Filters: grade, kind, status, and
timeliness (late = done late or overdue undone; on time; not yet due).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ..engine.views import evidence_of
from ..i18n import t
from ..models import Incident, IncidentEvent, Report, Step
from ..present.views import Evidence
from ..reports.period import chunks
from ..vocab import EventKind, Grade, IncidentKind, IncidentStatus, SourceKind
from .present import fmt_dt, proof_text, status_label
from .timeline import step_order

__all__ = ["GRADE_NONE", "LedgerFilter", "LedgerRow", "load_ledger", "timeliness"]

GRADE_NONE = "none"  # the grade filter's value for events not (yet) graded
KINDS: tuple[IncidentKind, ...] = tuple(IncidentKind)
STATUSES: tuple[IncidentStatus, ...] = tuple(IncidentStatus)
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
        allowed: dict[str, tuple[str, ...]] = {
            "grade": (*Grade, GRADE_NONE),
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
        picked = (
            ("grade", self.grade),
            ("kind", self.kind),
            ("status", self.status),
            ("timeliness", self.timeliness),
        )
        return q | {k: v for k, v in picked if v}


@dataclass(frozen=True)
class LedgerRow:
    """One obligation of one incident (or the incident alone when it owes nothing)."""

    incident: Incident
    step: Step | None
    timeliness: str  # on_time, late, overdue, open, or '' without a step
    responsible: str
    note: str
    proof: str = ""  # where a done step was published (发布情况); '' while open


def timeliness(step: Step, now: datetime) -> str:
    """on_time / late (done after the deadline) / overdue (undone, deadline passed) / open."""
    if step.done_at is not None:
        return "late" if (step.breached_at is not None or step.done_at > step.due_at) else "on_time"
    return "overdue" if now >= step.due_at else "open"


def _keeps(f: LedgerFilter, state: str) -> bool:
    if not f.timeliness:
        return True
    return state in {"late": ("late", "overdue"), "on_time": ("on_time",), "open": ("open",)}[f.timeliness]


@dataclass
class _Facts:
    """What the log says of one incident: whom the last escalation named, which steps completed themselves."""

    escalated_to: str = ""
    auto_done: set[int] = field(default_factory=set)
    evidence: dict[int, Evidence] = field(default_factory=dict)  # step id → its latest completion's proof


def _incident_note(inc: Incident, tz: tzinfo) -> str:
    if inc.status == IncidentStatus.DISMISSED:
        return t("web_note_dismissed", who=inc.closed_by or "", reason=inc.dismissed_reason or "")
    if inc.status == IncidentStatus.CLOSED:
        return t("web_note_closed", who=inc.closed_by or "", at=fmt_dt(inc.closed_at, tz))
    if inc.status == IncidentStatus.ACKNOWLEDGED:
        return t("web_note_acked", who=inc.acked_by or "", at=fmt_dt(inc.acked_at, tz))
    return status_label(inc.status)


def _load(
    s: Session, f: LedgerFilter, tz: tzinfo
) -> tuple[list[Incident], dict[int, list[Step]], dict[int, _Facts]]:
    lo, hi = f.bounds(tz)
    q = select(Incident).where(col(Incident.detected_at) >= lo, col(Incident.detected_at) < hi)
    if f.kind:
        q = q.where(Incident.kind == f.kind)
    if f.status:
        q = q.where(Incident.status == f.status)
    if f.grade == GRADE_NONE:
        q = q.where(Incident.kind == IncidentKind.EVENT, col(Incident.grade).is_(None))
    elif f.grade:
        q = q.where(Incident.grade == f.grade)
    incidents = list(s.exec(q.order_by(col(Incident.detected_at), col(Incident.id))).all())
    steps: dict[int, list[Step]] = defaultdict(list)
    facts: dict[int, _Facts] = defaultdict(_Facts)
    for chunk in chunks([i.id for i in incidents]):
        for st in s.exec(select(Step).where(col(Step.incident_id).in_(chunk))).all():
            steps[st.incident_id].append(st)
        # The bureau's own items: an automatic completion names the one that proved it.
        own: dict[int, dict[str, Report]] = defaultdict(dict)
        for r in s.exec(
            select(Report).where(col(Report.incident_id).in_(chunk), Report.source_kind == SourceKind.OWN)
        ).all():
            if r.link and r.incident_id is not None:
                own[r.incident_id][r.link] = r
        for ev in s.exec(
            select(IncidentEvent)
            .where(col(IncidentEvent.incident_id).in_(chunk))
            .where(col(IncidentEvent.kind).in_((EventKind.ESCALATED, EventKind.STEP_DONE)))
            .order_by(col(IncidentEvent.id))
        ).all():
            if ev.kind == EventKind.ESCALATED:
                facts[ev.incident_id].escalated_to = str(ev.data.get("to") or "")
                continue
            if ev.step_id is None:
                continue
            if ev.data.get("auto"):
                facts[ev.incident_id].auto_done.add(ev.step_id)
            found = evidence_of(ev.data or {}, ev.actor_name, own[ev.incident_id])
            facts[ev.incident_id].evidence[ev.step_id] = found
    return incidents, steps, facts


def load_ledger(engine: Engine, f: LedgerFilter, tz: tzinfo, now: datetime) -> list[LedgerRow]:
    """The ledger's rows: incidents in detection order, each one's steps in deadline order."""
    with Session(engine) as s:
        incidents, steps, facts = _load(s, f, tz)
    rows: list[LedgerRow] = []
    for inc in incidents:
        note = _incident_note(inc, tz)
        owner = inc.acked_by or facts[inc.id].escalated_to
        if not steps[inc.id]:
            if not f.timeliness:
                rows.append(LedgerRow(inc, None, "", owner, note))
            continue
        for st in sorted(steps[inc.id], key=step_order):
            state = timeliness(st, now)
            if not _keeps(f, state):
                continue
            extra = [t("web_auto_done")] if st.id in facts[inc.id].auto_done else []
            # As the incident page says it: done without saying where reads 未登记.
            proof = proof_text(facts[inc.id].evidence.get(st.id), tz) if st.done_at is not None else ""
            rows.append(LedgerRow(inc, st, state, st.done_by or owner, "；".join([*extra, note]), proof))
    return rows
