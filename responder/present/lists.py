"""Overviews people ask for in chat: open incidents, what is due next, who is on duty, what they may do."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from ..i18n import t
from ..roster import Person
from ..vocab import IncidentStatus, Role
from .formats import format_span, format_time, grade_tag, person_role_label, role_label, step_name
from .html import esc
from .views import IncidentView

__all__ = ["help_text", "on_call", "open_incidents", "overview"]

_TITLE_CHARS = 40  # titles in one-line overviews


def _short(text: str, n: int = _TITLE_CHARS) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _head(inc: IncidentView) -> str:
    return t(
        "tg_line_head", id=inc.id, grade=esc(grade_tag(inc.kind, inc.grade)), title=esc(_short(inc.title))
    )


def overview(incidents: Sequence[IncidentView], tz: tzinfo, now: datetime) -> str:
    """/status without an id: one line per open incident, with who took it or how far it climbed."""
    if not incidents:
        return t("tg_none_open")
    lines = [t("tg_status_title", n=len(incidents))]
    for inc in incidents:
        if inc.status == IncidentStatus.ACKNOWLEDGED:
            state = t("tg_state_acked", who=esc(inc.acked_by or ""), at=format_time(inc.acked_at, tz, now))
        else:
            state = t("tg_state_open", level=max(inc.escalation_level, 1))
        lines.append(f"{_head(inc)} · {state}")
    return "\n".join(lines)


def open_incidents(incidents: Sequence[IncidentView], tz: tzinfo, now: datetime) -> str:
    """/list: open incidents, nearest deadline first, each with its next step and time left."""
    if not incidents:
        return t("tg_none_open")

    def urgency(inc: IncidentView) -> tuple[int, datetime]:
        pending = inc.open_steps()
        return (0, pending[0].due_at) if pending else (1, inc.detected_at)

    lines = [t("tg_list_title", n=len(incidents))]
    for inc in sorted(incidents, key=urgency):
        lines.append(_head(inc))
        pending = inc.open_steps()
        if not pending:
            lines.append(t("tg_list_no_deadline"))
            continue
        nxt = pending[0]
        name, due = esc(step_name(nxt)), format_time(nxt.due_at, tz, now)
        more = t("tg_list_more", n=len(pending) - 1) if len(pending) > 1 else ""
        if now >= nxt.due_at:
            lines.append(
                t("tg_list_overdue", step=name, due=due, over=format_span(now - nxt.due_at), more=more)
            )
        else:
            lines.append(t("tg_list_next", step=name, due=due, left=format_span(nxt.due_at - now), more=more))
    return "\n".join(lines)


def on_call(
    officer: Person | None,
    until: datetime | None,
    others: dict[Role, list[Person]],
    tz: tzinfo,
    now: datetime,
) -> str:
    """/oncall: the duty officer now and until when, then the people of the other roles."""
    if officer is None:
        lines = [t("tg_oncall_nobody")]
    elif until is None:
        lines = [t("tg_oncall_open_end", name=esc(officer.name))]
    else:
        lines = [t("tg_oncall_now", name=esc(officer.name), until=format_time(until, tz, now))]
    for role, people in others.items():
        names = "、".join(esc(p.name) for p in people) or t("nobody")
        lines.append(t("tg_oncall_role", role=role_label(role), names=names))
    return "\n".join(lines)


def help_text(name: str, roles: Sequence[str], allowed: Sequence[str]) -> str:
    """/help: who you are to the bot, what you may do, and the commands."""
    text = t(
        "tg_help",
        name=esc(name),
        roles="、".join(person_role_label(r) for r in sorted(roles)),
        allowed="、".join(allowed),
    )
    text += "\n" + t("tg_help_extend") + "\n" + t("tg_help_login")
    if "admin" in roles:
        text += "\n" + t("tg_help_calendar")
    return text
