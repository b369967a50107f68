"""One incident's whole record as a timeline: reports, log events and the messages sent.

Everything comes from the stored rows (`report`, `incident_event`, `outbox`), so the page is
what a review of a late response (问责) would read: who was told what and when, whether it
arrived, who acknowledged, who completed what with which evidence, who dismissed and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ..i18n import t
from ..models import Incident, IncidentEvent, Outbox, Report, Step
from ..roster import Roster
from .present import chat_label, fmt_dt, message_kind, via_label

__all__ = ["Entry", "IncidentRecord", "load_incident"]

_REASONS = ("detected", "ack_timeout", "step_overdue", "detected_late")


@dataclass(frozen=True)
class Entry:
    """One line of the timeline. `details` are (label, text) pairs; `links` (label, url) pairs."""

    at: datetime
    kind: str  # css class and catalogue suffix: report, acknowledged, step_done, alert ...
    title: str
    who: str = ""
    details: list[tuple[str, str]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    order: int = 0  # ties at one instant: reports, then events, then messages


@dataclass(frozen=True)
class IncidentRecord:
    """The incident, its steps in deadline order, its reports and the merged timeline."""

    incident: Incident
    steps: list[Step]
    reports: list[Report]
    timeline: list[Entry]


def _report_entry(r: Report, tz: tzinfo) -> Entry:
    figures = [] if r.deaths is None else [(t("web_field_deaths"), str(r.deaths))]
    return Entry(
        at=r.fetched_at or datetime.min,
        kind="report",
        title=t("web_ev_report", source=r.source),
        details=[
            (t("web_field_title"), r.title),
            (t("web_field_published"), fmt_dt(r.published, tz)),
            (t("web_field_detected"), fmt_dt(r.fetched_at, tz)),
            *figures,
        ],
        links=[(t("web_field_link"), r.link)] if r.link else [],
    )


def _event_details(ev: IncidentEvent, tz: tzinfo, steps: dict[int, Step]) -> list[tuple[str, str]]:
    d: dict[str, Any] = ev.data or {}
    st = steps.get(ev.step_id or -1)
    step = (
        [(t("web_field_step"), st.title + (f"·{t('channel_' + st.channel)}" if st.channel else ""))]
        if st
        else []
    )
    if ev.kind == "escalated":
        reason = str(d.get("reason", ""))
        return [(t("web_field_level"), str(d.get("level", ""))), (t("web_field_to"), str(d.get("to", ""))),
                (t("web_field_reason"), t("web_reason_" + reason) if reason in _REASONS else reason)]  # fmt: skip
    if ev.kind == "acknowledged":
        out = [(t("web_field_level"), str(d.get("level", "")))]
        return out + ([(t("web_field_note"), t("web_implicit_ack"))] if d.get("implicit") else [])
    if ev.kind == "step_done":
        done_at = datetime.fromisoformat(d["done_at"]) if d.get("done_at") else None
        out = [*step, (t("web_field_done_at"), fmt_dt(done_at, tz)),
               (t("web_field_late"), t("web_yes") if d.get("late") else t("web_no"))]  # fmt: skip
        return out + ([(t("web_field_note"), t("web_auto_done"))] if d.get("auto") else [])
    if ev.kind == "overdue":
        due = datetime.fromisoformat(d["due_at"]) if d.get("due_at") else None
        return [*step, (t("web_field_due"), fmt_dt(due, tz))]
    if ev.kind == "dismissed":
        return [(t("web_field_reason"), str(d.get("reason", "")))]
    if ev.kind == "closed":
        left = "、".join(d.get("open_steps") or []) or t("web_none")
        return [(t("web_field_open_steps"), left)]
    if ev.kind == "grade_raised":
        return [(t("web_field_grade"), f"{d.get('from') or t('grade_unknown')} → {d.get('to')}"),
                (t("web_field_title"), str(d.get("title", "")))]  # fmt: skip
    if ev.kind in ("opened", "own_report"):
        return [(t("web_field_title"), str(d.get("title", "")))]
    if ev.kind == "retimed":
        return step
    return []


def _event_entry(ev: IncidentEvent, roster: Roster, tz: tzinfo, steps: dict[int, Step]) -> Entry:
    d: dict[str, Any] = ev.data or {}
    title = t(f"web_ev_{ev.kind}") if f"web_ev_{ev.kind}" in _EVENT_KINDS else ev.kind
    who = ""
    if ev.actor_name:
        who = t("web_who_via", who=ev.actor_name, via=via_label(roster, ev.chat_id, d))
    links = [(t("web_field_evidence"), d["evidence_link"])] if d.get("evidence_link") else []
    if d.get("link") and ev.kind in ("grade_raised", "own_report", "opened"):
        links.append((t("web_field_link"), str(d["link"])))
    return Entry(at=ev.at or datetime.min, kind=ev.kind, title=title, who=who,
                 details=_event_details(ev, tz, steps), links=links, order=1)  # fmt: skip


_EVENT_KINDS = frozenset(
    f"web_ev_{k}"
    for k in (
        "opened",
        "escalated",
        "acknowledged",
        "step_done",
        "overdue",
        "dismissed",
        "closed",
        "grade_raised",
        "own_report",
        "retimed",
        "clock_moved",
    )
)


def _message_entry(o: Outbox, roster: Roster, tz: tzinfo) -> Entry:
    state = (
        t(f"web_delivery_{o.status}") if o.status in ("pending", "sending", "sent", "failed") else o.status
    )
    details = [(t("web_field_to"), chat_label(roster, o.chat_id)), (t("web_field_delivery"), state),
               (t("web_field_sent_at"), fmt_dt(o.sent_at, tz))]  # fmt: skip
    if o.attempts > 1 or o.last_error:
        details.append((t("web_field_attempts"), str(o.attempts)))
    if o.last_error:
        details.append((t("web_field_error"), o.last_error))
    return Entry(at=o.created_at or datetime.min, kind="alert", title=message_kind(o.dedup_key),
                 details=details, order=2)  # fmt: skip


def load_incident(engine: Engine, roster: Roster, tz: tzinfo, incident_id: int) -> IncidentRecord | None:
    """The record of one incident, oldest entry first; None when there is no such incident.

    Card edits (the same card updated after an action) are left out: the action itself is
    on the timeline, and its confirmation message is listed with its delivery.
    """
    with Session(engine) as s:
        inc = s.get(Incident, incident_id)
        if inc is None:
            return None
        steps = list(s.exec(select(Step).where(Step.incident_id == incident_id)).all())
        reports = list(s.exec(select(Report).where(Report.incident_id == incident_id)
                              .order_by(col(Report.fetched_at), col(Report.id))).all())  # fmt: skip
        events = s.exec(select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
                        .where(IncidentEvent.kind != "report_added").order_by(col(IncidentEvent.id))).all()  # fmt: skip
        messages = s.exec(select(Outbox).where(Outbox.incident_id == incident_id, Outbox.kind != "edit")
                          .order_by(col(Outbox.id))).all()  # fmt: skip
    by_id = {st.id: st for st in steps if st.id is not None}
    entries = [_report_entry(r, tz) for r in reports]
    entries += [_event_entry(ev, roster, tz, by_id) for ev in events]
    entries += [_message_entry(o, roster, tz) for o in messages]
    entries.sort(key=lambda e: (e.at, e.order))
    steps.sort(key=lambda x: (x.due_at, x.key, x.channel, x.seq))
    return IncidentRecord(inc, steps, reports, entries)
