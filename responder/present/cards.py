"""The incident card (Telegram HTML, every outside string escaped) and its buttons.

One card per incident: the escalation messages carry it under their header, and every
change edits the cards already sent to show the same body again.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from ..i18n import t
from ..vocab import IncidentKind, IncidentStatus
from .formats import channel_label, format_span, format_time, grade_tag, kind_label, step_name, zone_name
from .html import esc, link, pack_callback
from .views import IncidentView, StepView

__all__ = ["MAX_REPORT_LINES", "Buttons", "card", "card_buttons"]

Buttons = list[list[dict[str, str]]]
MAX_REPORT_LINES = 8


def _figure(n: int | None) -> str:
    return t("figure_unknown") if n is None else t("figure_people", n=n)


def _step_line(step: StepView, tz: tzinfo, now: datetime) -> str:
    name = esc(step_name(step))
    due = format_time(step.due_at, tz, now)
    if step.done_at is not None:
        at, who = format_time(step.done_at, tz, now), esc(step.done_by or "")
        if step.breached_at is not None or step.done_at > step.due_at:
            return t("card_step_done_late", step=name, at=at, who=who, due=due)
        return t("card_step_done", step=name, at=at, who=who)
    if now >= step.due_at:
        line = t("card_step_overdue", step=name, due=due, over=format_span(now - step.due_at))
    elif step.target_at is not None and step.target_at < step.due_at:
        target = format_time(step.target_at, tz, now)
        line = t("card_step_target", step=name, target=target, due=due, left=format_span(step.due_at - now))
    else:
        line = t("card_step_open", step=name, due=due, left=format_span(step.due_at - now))
    if step.attendees:
        line += "\n" + t("card_step_attendees", attendees=esc(step.attendees))
    return line


def _status_line(inc: IncidentView, tz: tzinfo, now: datetime) -> str:
    who = esc(inc.closed_by or "")
    if inc.status == IncidentStatus.ACKNOWLEDGED:
        return t(
            "card_status_acknowledged", who=esc(inc.acked_by or ""), at=format_time(inc.acked_at, tz, now)
        )
    if inc.status == IncidentStatus.CLOSED:
        return t("card_status_closed", who=who, at=format_time(inc.closed_at, tz, now))
    if inc.status == IncidentStatus.DISMISSED:
        return t("card_status_dismissed", who=who, reason=esc(inc.dismissed_reason or ""))
    return t("card_status_open")


def _figures_line(inc: IncidentView) -> str:
    if inc.kind != IncidentKind.EVENT:
        return t("card_heat", heat=inc.heat)
    loss = t("figure_unknown") if inc.loss_cny is None else t("figure_loss", n=f"{inc.loss_cny / 10000:g}")
    return t(
        "card_figures",
        heat=inc.heat,
        deaths=_figure(inc.deaths),
        serious=_figure(inc.serious_injuries),
        loss=loss,
    )


def card(inc: IncidentView, tz: tzinfo, now: datetime) -> str:
    """The card: tag, title, heat, figures, first publication, what is owed, status, reports."""
    icon = "🚨" if inc.kind == IncidentKind.EVENT else "📄"
    lines: list[str] = []
    tag = esc(grade_tag(inc.kind, inc.grade))
    lines.append(t("card_head", icon=icon, grade=tag, kind=kind_label(inc.kind), id=inc.id))
    lines.append(t("card_title", title=esc(inc.title)))
    lines.append(_figures_line(inc))
    lines.append(t("card_first_published", at=format_time(inc.first_published, tz), tz=zone_name(tz)))
    lines.append(t("card_owed"))
    ordered = sorted(inc.steps, key=lambda s: (s.due_at, s.key, s.channel or "", s.seq))
    lines.extend([_step_line(s, tz, now) for s in ordered] or [t("card_no_steps")])
    lines.append(_status_line(inc, tz, now))
    if inc.reports:
        lines.append(t("card_reports", n=len(inc.reports)))
        for i, r in enumerate(inc.reports[:MAX_REPORT_LINES], 1):
            label = t("card_report_label", source=r.source, title=r.title)
            lines.append(t("card_report", n=i, link=link(r.link, label) if r.link else esc(label)))
        if len(inc.reports) > MAX_REPORT_LINES:
            lines.append(t("card_more_reports", n=len(inc.reports) - MAX_REPORT_LINES))
    return "\n".join(lines)


def card_buttons(inc: IncidentView) -> Buttons | None:
    """确认 / 已发布 (the first open step) / 误报; for a policy item 确认 and one 已转载 per outlet."""
    if inc.status in (IncidentStatus.CLOSED, IncidentStatus.DISMISSED):
        return None
    row: list[dict[str, str]] = []
    if inc.status == IncidentStatus.OPEN:
        row.append({"text": t("button_ack"), "callback_data": pack_callback("ack", inc.id)})
    pending = inc.open_steps()
    rows = [row]
    if inc.kind == IncidentKind.POLICY:
        outlets = [
            {
                "text": t("button_repost", channel=channel_label(s.channel)),
                "callback_data": pack_callback("done", inc.id, s.key, s.channel or ""),
            }
            for s in pending
            if s.channel
        ]
        rows += [outlets[i : i + 2] for i in range(0, len(outlets), 2)]
    else:
        if pending:
            first = pending[0]
            data = pack_callback("done", inc.id, first.key, first.channel or "")
            row.append({"text": t("button_done"), "callback_data": data})
        row.append({"text": t("button_dismiss"), "callback_data": pack_callback("dismiss", inc.id)})
    rows = [r for r in rows if r]
    return rows or None
