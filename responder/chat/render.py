"""Pure rendering of alerts, cards and notices as Telegram HTML (every outside string escaped).

Times are shown in the configured zone (Asia/Shanghai by default); all inputs are UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from ..i18n import t
from ..models import Incident, Step
from .html import esc, link, pack_callback

__all__ = ["ReportLine", "card", "card_buttons", "fmt_left", "fmt_time", "notice", "step_name"]

_MAX_REPORT_LINES = 8


@dataclass(frozen=True)
class ReportLine:
    """One report as the card lists it."""

    source: str
    title: str
    link: str | None


def fmt_time(at: datetime | None, tz: tzinfo, now: datetime | None = None) -> str:
    """Local time; the date is shown only when it is not today's."""
    if at is None:
        return "—"
    local = at.astimezone(tz)
    if now is not None and local.date() == now.astimezone(tz).date():
        return local.strftime("%H:%M")
    return local.strftime("%m-%d %H:%M")


def fmt_left(delta: timedelta) -> str:
    """A span as 4小时12分 (days, hours, minutes; never negative)."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(t("dur_day", n=days))
    if hours:
        parts.append(t("dur_hour", n=hours))
    if mins or not parts:
        parts.append(t("dur_min", n=mins))
    return "".join(parts)


def step_name(step: Step) -> str:
    """A step's title, with its outlet and occurrence where it has them."""
    name = step.title
    if step.channel:
        name += f"·{t('channel_' + step.channel)}"
    if step.seq:
        name += f" #{step.seq}"
    return name


def _figure(n: int | None) -> str:
    return t("figure_unknown") if n is None else t("figure_people", n=n)


def _step_line(step: Step, tz: tzinfo, now: datetime) -> str:
    assert step.due_at is not None
    name = esc(step_name(step))
    if step.done_at is not None:
        who = esc(step.done_by or "")
        if step.breached_at is not None or step.done_at > step.due_at:
            return t("card_step_done_late", step=name, at=fmt_time(step.done_at, tz, now), who=who,
                     due=fmt_time(step.due_at, tz, now))  # fmt: skip
        return t("card_step_done", step=name, at=fmt_time(step.done_at, tz, now), who=who)
    if now >= step.due_at:
        return t(
            "card_step_overdue",
            step=name,
            due=fmt_time(step.due_at, tz, now),
            over=fmt_left(now - step.due_at),
        )
    left = fmt_left(step.due_at - now)
    if step.target_at is not None and step.target_at < step.due_at:
        return t("card_step_target", step=name, target=fmt_time(step.target_at, tz, now),
                 due=fmt_time(step.due_at, tz, now), left=left)  # fmt: skip
    return t("card_step_open", step=name, due=fmt_time(step.due_at, tz, now), left=left)


def _status_line(inc: Incident, tz: tzinfo, now: datetime) -> str:
    if inc.status == "acknowledged":
        return t("card_status_acknowledged", who=esc(inc.acked_by or ""), at=fmt_time(inc.acked_at, tz, now))
    if inc.status == "closed":
        return t("card_status_closed", who=esc(inc.closed_by or ""), at=fmt_time(inc.closed_at, tz, now))
    if inc.status == "dismissed":
        return t(
            "card_status_dismissed", who=esc(inc.closed_by or ""), reason=esc(inc.dismissed_reason or "")
        )
    return t("card_status_open")


def card(
    inc: Incident, steps: Sequence[Step], reports: Sequence[ReportLine], tz: tzinfo, now: datetime,
    *, header: str = "",
) -> str:  # fmt: skip
    """The incident card: grade, title, heat, figures, first publication, what is owed, reports."""
    assert inc.id is not None
    icon = "🚨" if inc.kind == "event" else "📄"
    lines = [header] if header else []
    # A policy item has no accident grade: its tag says what is owed instead.
    grade = esc(inc.grade or t("grade_unknown")) if inc.kind == "event" else t("grade_policy")
    lines.append(t("card_head", icon=icon, grade=grade,
                   kind=t("kind_" + inc.kind), id=inc.id))  # fmt: skip
    lines.append(t("card_title", title=esc(inc.title)))
    if inc.kind == "event":
        loss = (
            t("figure_unknown") if inc.loss_cny is None else t("figure_loss", n=f"{inc.loss_cny / 10000:g}")
        )
        lines.append(t("card_figures", heat=inc.heat, deaths=_figure(inc.deaths),
                       serious=_figure(inc.serious_injuries), loss=loss))  # fmt: skip
    else:
        lines.append(t("card_heat", heat=inc.heat))
    lines.append(
        t("card_first_published", at=fmt_time(inc.first_published, tz), tz=getattr(tz, "key", str(tz)))
    )
    lines.append(t("card_owed"))
    ordered = sorted(steps, key=lambda s: (s.due_at, s.key, s.channel, s.seq))
    lines.extend([_step_line(s, tz, now) for s in ordered] or [t("card_no_steps")])
    lines.append(_status_line(inc, tz, now))
    if reports:
        lines.append(t("card_reports", n=len(reports)))
        for i, r in enumerate(reports[:_MAX_REPORT_LINES], 1):
            label = f"{r.source}: {r.title}"
            lines.append(t("card_report", n=i, link=link(r.link, label) if r.link else esc(label)))
        if len(reports) > _MAX_REPORT_LINES:
            lines.append(t("card_more_reports", n=len(reports) - _MAX_REPORT_LINES))
    return "\n".join(lines)


def card_buttons(inc: Incident, steps: Sequence[Step]) -> list[list[dict[str, str]]] | None:
    """确认 / 已发布 (the first open step) / 误报 for events; 确认 and one 已转载 per outlet for policy."""
    assert inc.id is not None
    if inc.status in ("closed", "dismissed"):
        return None
    row: list[dict[str, str]] = []
    if inc.status == "open":
        row.append({"text": t("button_ack"), "callback_data": pack_callback("ack", inc.id)})
    pending = sorted((s for s in steps if s.done_at is None), key=lambda s: (s.due_at, s.key, s.channel))
    rows = [row]
    if inc.kind == "policy":
        outlets = [{"text": t("button_repost", channel=t("channel_" + s.channel)),
                    "callback_data": pack_callback("done", inc.id, s.key, s.channel or "")}
                   for s in pending if s.channel]  # fmt: skip
        rows += [outlets[i : i + 2] for i in range(0, len(outlets), 2)]
    else:
        if pending:
            first = pending[0]
            row.append(
                {
                    "text": t("button_done"),
                    "callback_data": pack_callback("done", inc.id, first.key, first.channel or ""),
                }
            )
        row.append({"text": t("button_dismiss"), "callback_data": pack_callback("dismiss", inc.id)})
    rows = [r for r in rows if r]
    return rows or None


def notice(
    kind: str, inc: Incident, step: Step | None, params: dict[str, Any], tz: tzinfo, now: datetime
) -> str:
    """A reminder, due, or overdue notice for one step."""
    assert inc.id is not None
    title = esc(inc.title)
    name = esc(step_name(step)) if step is not None else esc(params.get("title", ""))
    due = step.due_at if step is not None else None
    if kind == "overdue":
        assert due is not None
        if params.get("detected_late"):
            return t("notice_overdue_late", id=inc.id, title=title, step=name, due=fmt_time(due, tz, now),
                     first=fmt_time(inc.first_published, tz, now))  # fmt: skip
        return t("notice_overdue", id=inc.id, title=title, step=name, due=fmt_time(due, tz, now),
                 over=fmt_left(now - due))  # fmt: skip
    assert due is not None
    key = "notice_due" if kind == "due" else "notice_reminder"
    return t(key, id=inc.id, title=title, step=name, due=fmt_time(due, tz, now), left=fmt_left(due - now))
