"""How the console names things: times, chats, steps, states (pure; words from the catalogue)."""

from __future__ import annotations

from datetime import datetime, tzinfo

from ..chat.render import fmt_left, step_name
from ..i18n import t
from ..models import Incident, Step
from ..roster import Roster

__all__ = [
    "chat_label",
    "fmt_dt",
    "grade_label",
    "message_kind",
    "roles_label",
    "status_label",
    "step_label_text",
    "step_state",
    "via_label",
]


def fmt_dt(at: datetime | None, tz: tzinfo) -> str:
    """Full local date and time (2026-11-30 13:40), or — for none."""
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if at is not None else "—"


def grade_label(inc: Incident) -> str:
    """The grade as the cards show it: 转载 for a policy item, 未定级 for an event with no figure."""
    if inc.kind != "event":
        return t("grade_policy")
    return inc.grade or t("grade_unknown")


def status_label(status: str) -> str:
    """open / acknowledged / closed / dismissed in words."""
    return t(f"web_status_{status}") if status in ("open", "acknowledged", "closed", "dismissed") else status


def roles_label(roles: list[str] | frozenset[str]) -> str:
    """A person's roles in words (值班员、政策法规处)."""
    return "、".join(t("act_role_" + r) for r in sorted(roles)) or t("act_role_none")


def step_label_text(step: Step) -> str:
    """A step's title with outlet and occurrence (发布权威信息, 转载链接·政务微博)."""
    return step_name(step)


def step_state(step: Step, now: datetime) -> str:
    """done / done_late / overdue / open, as of `now`."""
    assert step.due_at is not None
    if step.done_at is not None:
        return "done_late" if (step.breached_at is not None or step.done_at > step.due_at) else "done"
    return "overdue" if now >= step.due_at else "open"


def left_text(due: datetime, now: datetime) -> str:
    """剩余 4小时12分 or 已超时 1小时3分 (what the countdown shows before its script runs)."""
    if now >= due:
        return t("web_overdue_by", span=fmt_left(now - due))
    return t("web_left", span=fmt_left(due - now))


def chat_label(roster: Roster, chat_id: int | None) -> str:
    """A chat id in words: the roster's group chats by purpose, a person's private chat by name."""
    if chat_id is None:
        return "—"
    c = roster.chats
    groups = {c.duty: "web_chat_duty", c.policy_office: "web_chat_policy_office"}
    if c.admin is not None:
        groups.setdefault(c.admin, "web_chat_admin")
    if chat_id in groups:
        return t(groups[chat_id])
    person = roster.person(chat_id)
    return person.name if person is not None else str(chat_id)


def via_label(roster: Roster, chat_id: int | None, data: dict[str, object]) -> str:
    """Where an action came from: 网页(127.0.0.1), a chat, or the engine itself."""
    if data.get("source") == "web":
        return t("web_via_web", address=data.get("address") or "?")
    if chat_id is not None:
        return t("web_via_chat", chat=chat_label(roster, chat_id))
    return t("web_via_system")


def message_kind(dedup_key: str) -> str:
    """What an outbox message was, read from its key (incident:42:escalation:L2:r1 → 告警（第2级）)."""
    parts = dedup_key.rsplit("@", 1)[0].split(":")  # the chat suffix says nothing of the kind
    if len(parts) >= 4 and parts[2] == "escalation":
        return t("web_msg_escalation", level=parts[3].lstrip("L"))
    if len(parts) >= 3 and parts[2] == "grade":
        return t("web_msg_grade")
    if len(parts) >= 3 and parts[2] in ("acknowledged", "step_done", "dismissed", "closed"):
        return t("web_msg_confirmation")
    if parts[-1] in ("overdue", "due"):
        return t(f"web_msg_{parts[-1]}")
    if any(p.startswith("reminder") for p in parts):
        return t("web_msg_reminder")
    return t("web_msg_other")
