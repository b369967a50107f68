"""One formatter per thing people read: a time, a span, a grade, a kind, a role, a channel, a step.

Every chat message, console page and report takes its words from here, so 4 h 12 m 40 s
reads "4小时12分钟" on a card, in a confirmation and in the weekly summary alike. Each
catalogue key is written out in full (no `"role_" + role`), so a search finds its uses.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Protocol

from ..i18n import Catalogue, catalogue
from ..vocab import Channel, Grade, IncidentKind, Outlet, Role

__all__ = [
    "channel_label",
    "format_span",
    "format_time",
    "grade_label",
    "grade_tag",
    "kind_label",
    "outlet_label",
    "person_role_label",
    "role_label",
    "step_name",
    "zone_name",
]

_NONE = "—"


def format_time(at: datetime | None, tz: tzinfo, now: datetime | None = None, *, full: bool = False) -> str:
    """A moment on the local wall clock: "16:02" when it is today (as of `now`), else
    "11-21 16:02"; `full` always gives the year too ("2026-11-21 16:02"). "—" for none."""
    if at is None:
        return _NONE
    local = at.astimezone(tz)
    if full:
        return local.strftime("%Y-%m-%d %H:%M")
    if now is not None and local.date() == now.astimezone(tz).date():
        return local.strftime("%H:%M")
    return local.strftime("%m-%d %H:%M")


def format_span(span: timedelta | None, cat: Catalogue | None = None) -> str:
    """A span in whole minutes, cut (not rounded) as a clock shows it: 2天3小时30分钟, 1小时,
    0分钟. A negative span reads as 0分钟; none reads "—"."""
    cat = cat or catalogue()
    if span is None:
        return _NONE
    minutes = max(0, int(span.total_seconds() // 60))
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(cat("span_days", n=days))
    if hours:
        parts.append(cat("span_hours", n=hours))
    if mins or not parts:
        parts.append(cat("span_minutes", n=mins))
    return "".join(parts)


def zone_name(tz: tzinfo) -> str:
    """The IANA name of a zone (Asia/Shanghai), for saying which clock a time is on."""
    return str(getattr(tz, "key", tz))


def grade_label(grade: Grade | str | None, cat: Catalogue | None = None) -> str:
    """An accident grade as written in the regulation; 未定级 when there is none yet."""
    cat = cat or catalogue()
    return cat("grade_unknown") if not grade else str(grade)


# The catalogue key of each word, written out in full so a search for a key finds it.
_GRADE_TAGS: dict[str, str] = {
    IncidentKind.POLICY: "grade_policy",
    IncidentKind.INQUIRY: "grade_inquiry",
    IncidentKind.WATCH: "grade_watch",
}
_KINDS: dict[str, str] = {
    IncidentKind.EVENT: "kind_event",
    IncidentKind.POLICY: "kind_policy",
    IncidentKind.INQUIRY: "kind_inquiry",
    IncidentKind.WATCH: "kind_watch",
}
_ESCALATION_ROLES: dict[str, str] = {
    Role.DUTY_OFFICER: "role_duty_officer",
    Role.POLICY_OFFICE: "role_policy_office",
    Role.HEAD: "role_head",
}
_PERSON_ROLES: dict[str, str] = {
    Role.DUTY_OFFICER: "act_role_duty_officer",
    Role.POLICY_OFFICE: "act_role_policy_office",
    Role.HEAD: "act_role_head",
    Role.ADMIN: "act_role_admin",
    Role.SPOKESPERSON: "act_role_spokesperson",
}
_CHANNELS: dict[str, str] = {
    Channel.PORTAL: "channel_portal",
    Channel.WEIBO: "channel_weibo",
    Channel.WECHAT: "channel_wechat",
    Channel.APP: "channel_app",
}
_OUTLETS: dict[str, str] = {
    Outlet.PORTAL: "outlet_portal",
    Outlet.WEIBO: "outlet_weibo",
    Outlet.WECHAT: "outlet_wechat",
    Outlet.APP: "outlet_app",
    Outlet.PRESS_CONFERENCE: "outlet_press_conference",
    Outlet.OTHER: "outlet_other",
}
_OUTLETS_SHORT: dict[str, str] = {
    Outlet.PORTAL: "outlet_short_portal",
    Outlet.WEIBO: "outlet_short_weibo",
    Outlet.WECHAT: "outlet_short_wechat",
    Outlet.APP: "outlet_short_app",
    Outlet.PRESS_CONFERENCE: "outlet_short_press_conference",
    Outlet.OTHER: "outlet_short_other",
}


def grade_tag(kind: IncidentKind | str, grade: Grade | str | None) -> str:
    """The 【tag】 of a card or a list line: the grade of an accident; for the other kinds,
    which have no accident grade, what they are (a policy item says 转载)."""
    key = _GRADE_TAGS.get(kind)
    return grade_label(grade) if key is None else catalogue()(key)


def kind_label(kind: IncidentKind | str) -> str:
    """What kind of incident it is, in words (事故舆情, 上级政策转载 …)."""
    return catalogue()(_KINDS[kind])


def role_label(role: Role | str) -> str:
    """The audience of an escalation level, as the card's header names it."""
    return catalogue()(_ESCALATION_ROLES[role])


def person_role_label(role: Role | str) -> str:
    """A person's roster role, as /help and refusals name it."""
    return catalogue()(_PERSON_ROLES[role])


def channel_label(channel: Channel | str) -> str:
    """An outlet's short name, as cards and buttons show it (微博, 微信 …)."""
    return catalogue()(_CHANNELS[channel])


def outlet_label(outlet: Outlet | str, *, short: bool = False) -> str:
    """Where a response was published, in words (政务微博, 新闻发布会 …; `short` for buttons: 微博)."""
    return catalogue()((_OUTLETS_SHORT if short else _OUTLETS)[outlet])


class _Step(Protocol):
    @property
    def title(self) -> str: ...
    @property
    def channel(self) -> Channel | None: ...
    @property
    def seq(self) -> int: ...


def step_name(step: _Step) -> str:
    """A step's title, with its outlet and occurrence where it has them: 转载·微博, 持续发布权威信息 #2."""
    name = step.title
    if step.channel:
        name += f"·{channel_label(step.channel)}"
    if step.seq:
        name += f" #{step.seq}"
    return name
