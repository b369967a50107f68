"""How the console names things: chats, states, filters, report rows (pure; words from the catalogue).

Times, spans, grades, kinds, roles, outlets and step names come from the one presentation
layer (`responder.present.formats`), as on the cards; what is the console's own (a step's
state on the board, an outbox row's delivery, a log row's title) is here. Every catalogue
key is written out in full, so a search for a key finds its uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, tzinfo

from ..i18n import t
from ..models import Incident, Step
from ..policy import keys
from ..present.channels import robot_name
from ..present.evidence import short
from ..present.formats import (
    channel_label,
    format_span,
    format_time,
    grade_tag,
    kind_label,
    outlet_label,
    person_role_label,
    step_name,
)
from ..present.views import Evidence
from ..reports.annual import ROW_TEXTS, AnnualRow, value_text
from ..roster import Roster
from ..vocab import EventKind, IncidentStatus, OutboxStatus, Role

# `channel_label` and `kind_label` are re-exported for the templates (`p.channel_label(c)`).
__all__ = [
    "annual_note",
    "annual_row",
    "annual_short",
    "annual_unit",
    "annual_value",
    "channel_label",
    "chat_label",
    "delivery_label",
    "event_title",
    "filter_label",
    "fmt_dt",
    "grade_text",
    "kind_label",
    "late_label",
    "left_text",
    "message_kind",
    "outlet_label",
    "proof_text",
    "reason_label",
    "roles_label",
    "status_label",
    "step_label_text",
    "step_state",
    "timeliness_label",
    "via_label",
]

_STATUSES: dict[str, str] = {
    IncidentStatus.OPEN: "web_status_open",
    IncidentStatus.ACKNOWLEDGED: "web_status_acknowledged",
    IncidentStatus.CLOSED: "web_status_closed",
    IncidentStatus.DISMISSED: "web_status_dismissed",
}
_DELIVERY: dict[str, str] = {
    OutboxStatus.PENDING: "web_delivery_pending",
    OutboxStatus.SENDING: "web_delivery_sending",
    OutboxStatus.SENT: "web_delivery_sent",
    OutboxStatus.FAILED: "web_delivery_failed",
}
_EVENTS: dict[str, str] = {
    EventKind.OPENED: "web_ev_opened",
    EventKind.ESCALATED: "web_ev_escalated",
    EventKind.ACKNOWLEDGED: "web_ev_acknowledged",
    EventKind.STEP_DONE: "web_ev_step_done",
    EventKind.OVERDUE: "web_ev_overdue",
    EventKind.EXTENDED: "web_ev_extended",
    EventKind.DISMISSED: "web_ev_dismissed",
    EventKind.CLOSED: "web_ev_closed",
    EventKind.GRADE_RAISED: "web_ev_grade_raised",
    EventKind.OWN_REPORT: "web_ev_own_report",
    EventKind.RETIMED: "web_ev_retimed",
    EventKind.CLOCK_MOVED: "web_ev_clock_moved",
}
_REASONS: dict[str, str] = {
    "detected": "web_reason_detected",
    "ack_timeout": "web_reason_ack_timeout",
    "step_overdue": "web_reason_step_overdue",
    "detected_late": "web_reason_detected_late",
}
_FILTERS: dict[str, str] = {
    "grade": "web_filter_grade",
    "kind": "web_filter_kind",
    "status": "web_filter_status",
    "timeliness": "web_filter_timeliness",
}
_TIMELINESS: dict[str, str] = {
    "late": "web_timeliness_late",
    "on_time": "web_timeliness_on_time",
    "open": "web_timeliness_open",
}
_LATE: dict[str, str] = {
    "on_time": "web_late_on_time",
    "late": "web_late_late",
    "overdue": "web_late_overdue",
    "open": "web_late_open",
}
_MESSAGES: dict[str, str] = {
    "overdue": "web_msg_overdue",
    "due": "web_msg_due",
    "reminder": "web_msg_reminder",
    "confirmation": "web_msg_confirmation",
    "grade": "web_msg_grade",
}


def fmt_dt(at: datetime | None, tz: tzinfo) -> str:
    """Full local date and time (2026-11-30 13:40), or — for none."""
    return format_time(at, tz, full=True)


def grade_text(inc: Incident) -> str:
    """The grade as the cards' tag shows it: the accident grade (未定级 without one); for the
    other kinds, which have no accident grade, what they are (转载, 关注 …)."""
    return grade_tag(inc.kind, inc.grade)


def status_label(status: IncidentStatus | str) -> str:
    """open / acknowledged / closed / dismissed in words."""
    key = _STATUSES.get(status)
    return t(key) if key is not None else str(status)


def delivery_label(status: OutboxStatus | str) -> str:
    """An outbox row's state in words (待发送, 已送达 …)."""
    key = _DELIVERY.get(status)
    return t(key) if key is not None else str(status)


def event_title(kind: EventKind | str) -> str:
    """A log row's title on the timeline (确认收到, 事项完成 …); an unknown kind as stored."""
    key = _EVENTS.get(kind)
    return t(key) if key is not None else str(kind)


def reason_label(reason: str) -> str:
    """Why an escalation happened, in words."""
    key = _REASONS.get(reason)
    return t(key) if key is not None else reason


def filter_label(name: str) -> str:
    """A ledger filter's label."""
    return t(_FILTERS[name])


def timeliness_label(value: str) -> str:
    """A ledger timeliness filter value in words."""
    return t(_TIMELINESS[value])


def late_label(timeliness: str) -> str:
    """A ledger row's "late?" column (否（按时）, 是（逾期未办） …); '' without a step."""
    key = _LATE.get(timeliness)
    return t(key) if key is not None else ""


def annual_row(code: str) -> str:
    """An annual-report row's indicator, as the report names it."""
    return t(ROW_TEXTS[code][0])


def annual_unit(code: str) -> str:
    """An annual-report row's unit."""
    return t(ROW_TEXTS[code][1])


def annual_short(code: str) -> str:
    """An annual-report row's short name (for the notes)."""
    return t(ROW_TEXTS[code][2])


def annual_value(row: AnnualRow) -> str:
    """An annual-report row's figure (or why the records cannot give it)."""
    return value_text(row)


def annual_note(code: str) -> str:
    """How an annual-report row was counted."""
    return t(ROW_TEXTS[code][3])


def roles_label(roles: Iterable[str]) -> str:
    """A person's roles in words (值班员、政策法规处)."""
    named = sorted(r for r in roles if r in Role.__members__.values())
    return "、".join(person_role_label(r) for r in named) or t("act_role_none")


def step_label_text(step: Step) -> str:
    """A step's title with outlet and occurrence (发布权威信息, 转载链接·政务微博)."""
    return step_name(step)


def step_state(step: Step, now: datetime) -> str:
    """done / done_late / overdue / open, as of `now`."""
    if step.done_at is not None:
        return "done_late" if (step.breached_at is not None or step.done_at > step.due_at) else "done"
    return "overdue" if now >= step.due_at else "open"


def left_text(due: datetime, now: datetime) -> str:
    """剩余 4小时12分钟 or 已超时 1小时3分钟 (what the countdown shows before its script runs)."""
    if now >= due:
        return t("web_overdue_by", span=format_span(now - due))
    return t("web_left", span=format_span(due - now))


def _robot_label(roster: Roster, address: str) -> str:
    """A robot's address in words: the group it posts to and the robot (值班室群（企业微信机器人（…）））."""
    robot = robot_name(address)
    groups = {"duty": "web_chat_duty", "policy_office": "web_chat_policy_office", "admin": "web_chat_admin"}
    for purpose, key in groups.items():
        if any(r.address == address for r in roster.chats.channels(purpose).robots()):
            return t("web_chat_robot", chat=t(key), robot=robot)
    return robot


def chat_label(roster: Roster, chat_id: int | str | None) -> str:
    """A destination in words: the roster's group chats by purpose, a person's private chat by
    name, a group robot (its address, `wecom:WECOM_DUTY_KEY`) by its group and platform."""
    if chat_id is None:
        return "—"
    if isinstance(chat_id, str):
        return _robot_label(roster, chat_id)
    c = roster.chats
    groups = {c.duty: "web_chat_duty", c.policy_office: "web_chat_policy_office"}
    if c.admin is not None:
        groups.setdefault(c.admin, "web_chat_admin")
    if chat_id in groups:
        return t(groups[chat_id])
    person = roster.person(chat_id)
    return person.name if person is not None else str(chat_id)


def via_label(roster: Roster, chat_id: int | None, data: dict[str, object]) -> str:
    """Where an action came from: 网页(127.0.0.1), the command line (user@host), a chat, or the engine itself."""
    if data.get("source") == "web":
        return t("web_via_web", address=data.get("address") or "?")
    if data.get("source") == "cli":
        return t("web_via_cli", address=data.get("address") or "?")
    if chat_id is not None:
        return t("web_via_chat", chat=chat_label(roster, chat_id))
    return t("web_via_system")


def message_kind(dedup_key: str) -> str:
    """What an outbox message was, read from its key (`policy.keys.describe`): 告警卡片（第2级）…"""
    kind, level = keys.describe(keys.notice_of_row(dedup_key))
    if kind == "escalation":
        return t("web_msg_escalation", level=level)
    key = _MESSAGES.get(kind)
    return t(key) if key is not None else t("web_msg_other")


def proof_text(ev: Evidence | None, tz: tzinfo) -> str:
    """How a completion was published, in the cards' words without the link (the page shows the
    link itself): 发布渠道：政务微博、微信公众号，主要负责同志参加; for an automatic completion, which
    item on which own outlet proved it; the cards' "nothing recorded" when there is nothing at all."""
    parts: list[str] = []
    if ev is not None and ev.auto:
        outlet = outlet_label(ev.outlets[0]) if ev.outlets else t("outlet_own")
        at, source = fmt_dt(ev.published, tz), ev.source or ""
        if ev.title:
            parts.append(t("evidence_auto", outlet=outlet, source=source, at=at, title=short(ev.title, 60)))
        else:
            parts.append(t("evidence_auto_untitled", outlet=outlet, source=source, at=at))
    elif ev is not None:
        if ev.outlets:
            outlets = t("evidence_outlet_sep").join(outlet_label(o) for o in ev.outlets)
            parts.append(t("evidence_outlets", outlets=outlets))
        if ev.head_attended is not None:
            parts.append(t("evidence_head_yes") if ev.head_attended else t("evidence_head_no"))
    if parts:
        return t("evidence_sep").join(parts)
    return "" if ev is not None and ev.link else t("evidence_none")
