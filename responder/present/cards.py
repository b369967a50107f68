"""The incident card (Telegram HTML, every outside string escaped) and its buttons.

One card per incident: the escalation messages carry it under their header, and every
change edits the cards already sent to show the same body again.

A card always keeps what people act on: its deadlines, its status and its buttons. Outside
text is shortened to fit (the title to `TITLE_CHARS`, each report line's title, a dismissal
reason), and when the card would still pass `CARD_BUDGET` the report lines go first, so a
10,000-character title never pushes the deadlines past Telegram's 4,096 characters.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from ..i18n import t
from ..vocab import IncidentKind, IncidentStatus, Obligation, Outlet, channel_rank
from .evidence import evidence_text, short
from .formats import (
    channel_label,
    format_span,
    format_time,
    grade_tag,
    kind_label,
    outlet_label,
    step_name,
    zone_name,
)
from .html import TEXT_LIMIT, esc, link, pack_callback, visible_len
from .views import IncidentView, StepView

__all__ = [
    "CARD_BUDGET",
    "HEAD_NO",
    "HEAD_YES",
    "MAX_REPORT_LINES",
    "TITLE_CHARS",
    "Buttons",
    "card",
    "card_buttons",
]

Buttons = list[list[dict[str, str]]]
MAX_REPORT_LINES = 8
TITLE_CHARS = 200  # the incident's title on its card
_REPORT_TITLE_CHARS = 80  # each report line ("source: title")
_REASON_CHARS = 200  # a dismissal reason on the status line
# Room left under Telegram's limit for the header an escalation puts above the card.
CARD_BUDGET = TEXT_LIMIT - 400
# The last word of a conference button's callback data: did the head attend?
HEAD_YES, HEAD_NO = "head", "nohead"
# The outlets a publishing step's buttons offer, in the order shown.
_OUTLET_BUTTONS = tuple(Outlet)


def _figure(n: int | None) -> str:
    return t("figure_unknown") if n is None else t("figure_people", n=n)


def _step_line(step: StepView, tz: tzinfo, now: datetime) -> str:
    name = esc(step_name(step))
    due = format_time(step.due_at, tz, now)
    if step.done_at is not None:
        at, who = format_time(step.done_at, tz, now), esc(step.done_by or "")
        if step.breached_at is not None or step.done_at > step.due_at:
            line = t("card_step_done_late", step=name, at=at, who=who, due=due)
        else:
            line = t("card_step_done", step=name, at=at, who=who)
        return line + "\n" + t("card_step_evidence", evidence=evidence_text(step.evidence, tz, now))
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
        reason = esc(short(inc.dismissed_reason or "", _REASON_CHARS))
        return t("card_status_dismissed", who=who, reason=reason)
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


def _report_lines(inc: IncidentView, shown: int) -> list[str]:
    """The reports behind the card: the first `shown` linked, the rest counted."""
    if not inc.reports:
        return []
    lines = [t("card_reports", n=len(inc.reports))]
    for i, r in enumerate(inc.reports[:shown], 1):
        label = short(t("card_report_label", source=r.source, title=r.title), _REPORT_TITLE_CHARS)
        lines.append(t("card_report", n=i, link=link(r.link, label) if r.link else esc(label)))
    if len(inc.reports) > shown:
        lines.append(t("card_more_reports", n=len(inc.reports) - shown))
    return lines


def card(inc: IncidentView, tz: tzinfo, now: datetime) -> str:
    """The card: tag, title, heat, figures, first publication, what is owed, status, reports.

    Fits `CARD_BUDGET`: report lines are left out (and counted) before anything else.
    """
    icon = "🚨" if inc.kind == IncidentKind.EVENT else "📄"
    lines: list[str] = []
    tag = esc(grade_tag(inc.kind, inc.grade))
    lines.append(t("card_head", icon=icon, grade=tag, kind=kind_label(inc.kind), id=inc.id))
    lines.append(t("card_title", title=esc(short(inc.title, TITLE_CHARS))))
    lines.append(_figures_line(inc))
    lines.append(t("card_first_published", at=format_time(inc.first_published, tz), tz=zone_name(tz)))
    lines.append(t("card_owed"))
    ordered = sorted(inc.steps, key=lambda s: (s.due_at, s.key, channel_rank(s.channel), s.seq))
    lines.extend([_step_line(s, tz, now) for s in ordered] or [t("card_no_steps")])
    lines.append(_status_line(inc, tz, now))
    body = "\n".join(lines)
    room = CARD_BUDGET - visible_len(body) - 1
    shown = min(len(inc.reports), MAX_REPORT_LINES)
    while shown > 0 and visible_len("\n".join(_report_lines(inc, shown))) > room:
        shown -= 1
    reports = _report_lines(inc, shown)
    if reports and visible_len("\n".join(reports)) > room:
        reports = []  # not even the count fits: the deadlines and the status come first
    return "\n".join([body, *reports])


def _done_buttons(inc: IncidentView, step: StepView) -> list[dict[str, str]]:
    """How the first open step is marked done: a press conference says whether the head
    attended; a step per outlet names its outlet; any other says where it was published.
    The last word of the callback data carries that (`done:12:statement:weibo`)."""

    def button(text: str, last: str) -> dict[str, str]:
        return {"text": text, "callback_data": pack_callback("done", inc.id, step.key, last)}

    if step.obligation == Obligation.PRESS_CONFERENCE:
        return [
            button(t("button_conference_head"), HEAD_YES),
            button(t("button_conference_no_head"), HEAD_NO),
        ]
    if step.channel:
        return [button(t("button_done_on", outlet=channel_label(step.channel)), step.channel)]
    return [button(t("button_published", outlet=outlet_label(o, short=True)), o) for o in _OUTLET_BUTTONS]


def card_buttons(inc: IncidentView) -> Buttons | None:
    """确认 / 误报, then the first open step's buttons (已发布·微博 …, or whether the head attended a
    press conference); for a policy item 确认 and one 已转载 per outlet."""
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
        row.append({"text": t("button_dismiss"), "callback_data": pack_callback("dismiss", inc.id)})
        if pending:
            done = _done_buttons(inc, pending[0])
            rows += [done[i : i + 3] for i in range(0, len(done), 3)]
    rows = [r for r in rows if r]
    return rows or None
