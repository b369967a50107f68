"""One builder per message the office receives (Telegram HTML, outside strings escaped).

The engine decides that a message is due and with what data; these functions say it
in words. Each is the only place its message is written, wherever it is sent from.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any, Protocol

from ..i18n import t
from ..vocab import Grade, Role
from .evidence import evidence_text
from .formats import channel_label, format_span, format_time, grade_label, role_label, step_name
from .html import esc, link
from .views import Evidence, IncidentView, StepView

__all__ = [
    "acknowledged",
    "already_acked",
    "already_done",
    "already_extended",
    "clock_jumped",
    "closed",
    "delivery_failed",
    "disk_full",
    "disk_room_again",
    "dismiss_reason_required",
    "dismissed",
    "escalation_header",
    "escalation_repeat",
    "extend_reason_required",
    "extended",
    "feed_baseline_digest",
    "feed_down",
    "feed_fresh",
    "feed_items_not_stored",
    "feed_stale",
    "feed_up",
    "grade_raised",
    "reload_failed",
    "step_done",
    "step_notice",
]

_REASONS: dict[str, str] = {
    "detected": "escalation_reason_detected",
    "ack_timeout": "escalation_reason_ack_timeout",
    "step_overdue": "escalation_reason_step_overdue",
    "detected_late": "escalation_reason_detected_late",
}


def escalation_header(level: int, role: Role, names: str, reason: str, step_title: str | None) -> str:
    """The lines above the card when a level is reached: who is alerted, and why."""
    head = t("escalation_head", level=level, role=role_label(role), names=names)
    return head + "\n" + t(_REASONS[reason], step=esc(step_title or ""))


def escalation_repeat(incident_id: int, level: int, repeat: int, names: str) -> str:
    """The reminder that an incident is still unacknowledged at its level."""
    return t("escalation_repeat", id=incident_id, level=level, n=repeat, names=names)


def step_notice(
    kind: str,
    inc: IncidentView,
    step: StepView,
    tz: tzinfo,
    now: datetime,
    *,
    detected_late: bool = False,
    about: str = "deadline",
    channels: Sequence[str] = (),
) -> str:
    """A reminder, due (soft target reached) or overdue notice for one step.

    A reminder says which time it is about: the soft target (`about="target"`, the window
    its fraction was taken of) or the hard deadline. `channels` are the outlets it covers
    when one reminder speaks for several (转载·微博、微信、客户端).
    """
    title, name = esc(inc.title), esc(_outlets_name(step, channels))
    due = format_time(step.due_at, tz, now)
    if kind == "overdue" and detected_late:
        first = format_time(inc.first_published, tz, now)
        return t("notice_overdue_late", id=inc.id, title=title, step=name, due=due, first=first)
    if kind == "overdue":
        over = format_span(now - step.due_at)
        return t("notice_overdue", id=inc.id, title=title, step=name, due=due, over=over)
    if kind == "due":
        return t(
            "notice_due", id=inc.id, title=title, step=name, due=due, left=format_span(step.due_at - now)
        )
    if about == "target" and step.target_at is not None:
        target = format_time(step.target_at, tz, now)
        left = format_span(step.target_at - now)
        return t(
            "notice_reminder_target", id=inc.id, title=title, step=name, target=target, left=left, due=due
        )
    # A step with a soft target names its deadline as the hard one, so the two are never confused.
    key = "notice_reminder_deadline" if step.target_at is not None else "notice_reminder"
    return t(key, id=inc.id, title=title, step=name, due=due, left=format_span(step.due_at - now))


def _outlets_name(step: StepView, channels: Sequence[str]) -> str:
    """The step's name with every outlet a shared reminder covers, as `step_name` writes one:
    转载、链接上级政策信息·微博、微信、客户端 (one outlet or none: `step_name` itself)."""
    if len(channels) <= 1:
        return step_name(step)
    outlets = t("evidence_outlet_sep").join(channel_label(c) for c in channels)
    return f"{step.title}·{outlets}" + (f" #{step.seq}" if step.seq else "")


def grade_raised(params: dict[str, Any], first_published: datetime, tz: tzinfo) -> str:
    """Why the grade rose (the report that says so) and which playbook started."""
    from_grade: Grade | None = params.get("from_grade")
    return t(
        "grade_raised",
        id=params["incident_id"],
        from_grade=grade_label(from_grade),
        to_grade=params["to_grade"],
        link=esc(params.get("link") or ""),
        playbook=esc(params.get("playbook") or "—"),
        first=format_time(first_published, tz),
    )


def feed_down(
    source: str, since: datetime, failures: int, error: str, next_poll: datetime | None, tz: tzinfo
) -> str:
    """A feed failed `failures` times in a row since `since`: tell the admins once."""
    since_at, next_at = format_time(since, tz), format_time(next_poll, tz)
    return t("feed_down", source=esc(source), since=since_at, n=failures, error=esc(error), next=next_at)


def feed_up(source: str, down_for: timedelta) -> str:
    """A feed the admins were told about works again."""
    return t("feed_up", source=esc(source), down=format_span(down_for))


def feed_stale(source: str, since: datetime, quiet: timedelta, expected: timedelta, tz: tzinfo) -> str:
    """A feed answers but has brought nothing new since `since`, longer than `expected`."""
    return t(
        "feed_stale",
        source=esc(source),
        since=format_time(since, tz),
        quiet=format_span(quiet),
        expected=format_span(expected),
    )


def feed_fresh(source: str, quiet: timedelta) -> str:
    """A feed reported quiet brings something new again, after `quiet`."""
    return t("feed_fresh", source=esc(source), quiet=format_span(quiet))


def feed_items_not_stored(n: int, detail: str) -> str:
    """A feed's last error when the database refused some of its items (they are fetched again)."""
    return t("feed_item_store_failed", n=n, detail=detail)


class _Item(Protocol):
    @property
    def raw_published(self) -> datetime | None: ...
    @property
    def link(self) -> str | None: ...
    @property
    def title(self) -> str: ...


def feed_baseline_digest(
    source: str, items: Sequence[_Item], window: timedelta, tz: tzinfo, *, listed: int = 20
) -> str:
    """A source's first poll: the relevant items it already held, too old (or undated) to
    start a clock, the newest first; the first `listed` by title, the rest counted."""
    lines = []
    for i, item in enumerate(items[:listed], 1):
        when = format_time(item.raw_published, tz) if item.raw_published else t("feed_time_unknown")
        web = item.link is not None and item.link.startswith(("http://", "https://"))
        title = link(item.link, item.title) if web and item.link else esc(item.title)
        lines.append(t("feed_baseline_item", i=i, time=when, title=title))
    if len(items) > listed:
        lines.append(t("feed_baseline_more", n=len(items) - listed))
    return t(
        "feed_baseline_digest",
        source=esc(source),
        n=len(items),
        window=format_span(window),
        items="\n".join(lines),
    )


def reload_failed(problems: Sequence[str], *, shown: int = 10) -> str:
    """A reload (SIGHUP) was refused: the running configuration stays; the first `shown`
    problems, the rest counted."""
    lines = list(problems[:shown])
    if len(problems) > shown:
        lines.append(t("reload_more", n=len(problems) - shown))
    return t("reload_failed", problems=esc("\n".join(lines)))


def delivery_failed(chat_id: int | str, reason: str) -> str:
    """A chat refused a message for good: the admins must fix the roster or re-add the bot."""
    return t("delivery_failed", chat=chat_id, reason=esc(reason))


def jump_span(jump: timedelta) -> str:
    """How far a clock jumped, ahead or behind: 超前 2天 / 落后 45秒 (seconds under a minute)."""
    size = abs(jump)
    span = (
        t("span_seconds", n=int(size.total_seconds())) if size < timedelta(minutes=1) else format_span(size)
    )
    return t("clock_ahead" if jump > timedelta(0) else "clock_behind", span=span)


def clock_jumped(instance: str, jump: timedelta, expected: datetime, wall: datetime, tz: tzinfo) -> str:
    """One host's wall clock jumped: the admins are told once per episode what is held and why."""
    return t(
        "clock_jumped",
        instance=esc(instance),
        jump=jump_span(jump),
        expected=format_time(expected, tz, full=True),
        wall=format_time(wall, tz, full=True),
    )


def disk_full(instance: str, since: datetime, error: str, tz: tzinfo) -> str:
    """The database could not be written (full disk): once per episode, as soon as it can be sent."""
    return t("disk_full", instance=esc(instance), since=format_time(since, tz, full=True), error=esc(error))


def disk_room_again(instance: str, since: datetime, lasted: timedelta, tz: tzinfo) -> str:
    """The database can be written again after a full disk."""
    return t(
        "disk_room_again",
        instance=esc(instance),
        since=format_time(since, tz, full=True),
        lasted=format_span(lasted),
    )


# --------------------------------------------------------------------------- people's actions


def acknowledged(incident_id: int, who: str) -> str:
    """Confirmation: someone took the incident."""
    return t("incident_acked", id=incident_id, who=esc(who))


def already_acked(incident_id: int, who: str | None, at: str) -> str:
    """A second acknowledgement: who was first, and when."""
    return t("act_already_acked", id=incident_id, who=esc(who or ""), at=at)


def step_done(
    incident_id: int,
    step: str,
    who: str,
    late_by: timedelta | None,
    evidence: Evidence | None = None,
    tz: tzinfo | None = None,
    now: datetime | None = None,
) -> str:
    """Confirmation: a step is done (and by how much it was late, if it was), then its proof
    (outlets, the head's attendance, the link) when `tz` and `now` are given."""
    late = t("step_done_late_suffix", over=format_span(late_by)) if late_by is not None else ""
    text = t("step_done_msg", id=incident_id, step=esc(step), who=esc(who), late=late)
    if tz is None or now is None:
        return text
    return text + "\n" + evidence_text(evidence, tz, now)


def already_done(incident_id: int, step: str, who: str | None, at: str) -> str:
    """A step named again after it was done: who did it, and when."""
    return t("act_step_already_done", id=incident_id, step=esc(step), who=esc(who or ""), at=at)


def extended(incident_id: int, step: str, due: str, who: str, reason: str) -> str:
    """Confirmation: a step's deadline was extended, to when, by whom and why."""
    return t("step_extended_msg", id=incident_id, step=esc(step), due=due, who=esc(who), reason=esc(reason))


def already_extended(incident_id: int, step: str, due: str) -> str:
    """The one extension was granted already."""
    return t("act_already_extended", id=incident_id, step=esc(step), due=due)


def extend_reason_required(incident_id: int) -> str:
    """An extension needs a reason on record."""
    return t("act_extend_reason_required", id=incident_id)


def dismiss_reason_required(incident_id: int) -> str:
    """A false-alarm verdict needs a reason on record."""
    return t("act_reason_required", id=incident_id)


def dismissed(incident_id: int, who: str, reason: str) -> str:
    """Confirmation: the incident is a false alarm, and why."""
    return t("incident_dismissed", id=incident_id, who=esc(who), reason=esc(reason))


def closed(incident_id: int, who: str, open_steps: list[str]) -> str:
    """Confirmation: the incident is closed, naming the steps still open."""
    text = t("incident_closed", id=incident_id, who=esc(who))
    if open_steps:
        text += "\n" + t("act_closed_open_steps", steps=esc("、".join(open_steps)))
    return text
