"""The duty roster (`roster.yaml`): people, their roles, the chats, and who is on duty.

Each escalation level of a playbook names a role; roles map onto people and chats:

| role | chats alerted |
|---|---|
| duty_officer | the duty chat + the private chat of the officer on duty now |
| policy_office | the policy-office chat (政策法规处) |
| head | the private chat of every `head` + the policy-office chat |
| spokesperson | their private chats (press-conference steps) |
| admin | the admin chat (feed health, configuration), else the duty chat |

A chat is a Telegram group and/or group robots of WeCom, DingTalk and Feishu
(`responder/channels/robots.py`); `chats_for_role` gives the Telegram chat ids and
`robots_for_role` the robots. A Telegram user's private chat id is their user id, so people
need no separate chat id; robots post only into their group, so a private alert has no
robot counterpart. A person is known by their roster `name` (unique): the web console signs
them in by it and logs their actions under it, so `telegram_id` is needed only to reach
them on Telegram or take their chat commands.
The duty day runs from one handover to the next (e.g. 09:00 to 09:00), so a call at
03:00 on Tuesday reaches Monday's duty officer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator, ConfigDict, Field, PrivateAttr, model_validator

from .channels.robots import ChatChannels, Destination, Robot, chat_shorthand
from .config import StrictModel, TimeZoneName
from .configfile import ConfigError, FieldProblems, Loc, Problem, load_model, load_yaml
from .i18n import t
from .vocab import Role
from .workcal import CalendarConfig, ScheduleFile, WorkCalendar, load_schedules

__all__ = ["Chats", "DutyRange", "Person", "Roster", "Rotation", "load_roster"]


def _clock(v: object) -> object:
    # YAML 1.1 reads an unquoted 9:00 as the base-60 integer 540; take it as 9 h 0 min.
    if isinstance(v, int) and not isinstance(v, bool):
        if not 0 <= v < 24 * 60:
            raise ValueError(t("config_clock_quotes"))
        return time(v // 60, v % 60)
    return v


Clock = Annotated[time, BeforeValidator(_clock)]


class _Strict(StrictModel):
    model_config = ConfigDict(populate_by_name=True)  # DutyRange's `from` is a Python keyword


class Person(_Strict):
    """Someone the bot may alert or take commands from."""

    name: str = Field(min_length=1)  # unique: who they are in the log and in the web console
    telegram_id: int | None = Field(
        default=None, gt=0, description="the Telegram user id (also their private chat id); optional"
    )
    roles: list[Role] = Field(min_length=1)

    def has(self, role: str) -> bool:
        """Does this person hold `role`?"""
        return role in self.roles


Channels = Annotated[ChatChannels, BeforeValidator(chat_shorthand)]


class Chats(_Strict):
    """Group chats by purpose. Each is a Telegram group id (negative, e.g. -1001234567890),
    or a mapping of channels: `{telegram: -100…, wecom: {key_env: …}, dingtalk: …, feishu: …}`.

    `duty`, `policy_office` and `admin` are the Telegram ids (None where a chat has no
    Telegram group), as chat commands compare them; `channels(purpose)` has the rest.
    """

    model_config = ConfigDict(populate_by_name=False)  # only the names people write

    duty_channels: Channels = Field(alias="duty")
    policy_office_channels: Channels = Field(alias="policy_office")
    admin_channels: Channels | None = Field(default=None, alias="admin")

    @property
    def duty(self) -> int | None:
        """The duty group's Telegram chat id."""
        return self.duty_channels.telegram

    @property
    def policy_office(self) -> int | None:
        """The policy office group's Telegram chat id."""
        return self.policy_office_channels.telegram

    @property
    def admin(self) -> int | None:
        """The admin group's Telegram chat id (None: the duty chat serves)."""
        return self.admin_channels.telegram if self.admin_channels is not None else None

    def channels(self, purpose: str) -> ChatChannels:
        """The channels of chat `purpose` (duty, policy_office, admin: the duty chat's when unset)."""
        if purpose == "duty":
            return self.duty_channels
        if purpose == "policy_office":
            return self.policy_office_channels
        if purpose == "admin":
            return self.admin_channels or self.duty_channels
        raise ValueError(f"unknown chat {purpose!r}; chats are duty, policy_office, admin")


class DutyRange(_Strict):
    """An explicit assignment: `person` is on duty from the handover on `from` to the
    handover on the day after `to` (both dates inclusive)."""

    from_: date = Field(alias="from")
    to: date
    person: str

    @model_validator(mode="after")
    def _order(self) -> DutyRange:
        if self.to < self.from_:
            raise ValueError(t("config_range_order"))
        return self


class Rotation(_Strict):
    """Who is duty officer: `ranges` first (holidays, swaps), else the cycle `order`,
    one person per `days_each` days (7 = weekly) starting on `start`."""

    handover: Clock = time(9)
    start: date | None = None
    days_each: int = Field(default=7, ge=1, le=31)
    order: list[str] = Field(default_factory=list)
    ranges: list[DutyRange] = Field(default_factory=list)

    @model_validator(mode="after")
    def _shape(self) -> Rotation:
        if not self.order and not self.ranges:
            raise ValueError(t("config_rotation_empty"))
        if self.order and self.start is None:
            raise ValueError(t("config_rotation_start"))
        problems: list[tuple[Loc, str]] = []
        spans = sorted(enumerate(self.ranges), key=lambda ir: ir[1].from_)
        for (_, a), (j, b) in pairwise(spans):
            if b.from_ <= a.to:
                message = t("config_ranges_overlap", a=f"{a.from_}–{a.to}", b=f"{b.from_}–{b.to}")
                problems.append((("ranges", j), message))
        if problems:
            raise FieldProblems(problems)
        return self


class Roster(_Strict):
    """The whole of `roster.yaml`."""

    timezone: TimeZoneName = "Asia/Shanghai"
    people: list[Person] = Field(min_length=1)
    chats: Chats
    rotation: Rotation
    calendar: CalendarConfig = CalendarConfig()
    # Confirmed State Council schedules from calendar.schedule_file (set by load_roster).
    _schedules: ScheduleFile = PrivateAttr(default_factory=ScheduleFile)
    # The file it was loaded from (set by load_roster), for problems found after loading.
    _path: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _cross(self) -> Roster:
        problems = _duplicate_people(self.people)
        by_name = {p.name: p for p in self.people}
        named: list[tuple[Loc, str]] = [
            (("rotation", "order", i), n) for i, n in enumerate(self.rotation.order)
        ]
        named += [(("rotation", "ranges", i, "person"), r.person) for i, r in enumerate(self.rotation.ranges)]
        for loc, n in named:
            if n not in by_name:
                problems.append((loc, t("config_rotation_unknown_person", name=n)))
            elif not by_name[n].has(Role.DUTY_OFFICER):
                problems.append((loc, t("config_rotation_not_duty", name=n)))
        if not any(p.has(Role.HEAD) for p in self.people):
            problems.append((("people",), t("config_no_head")))
        if problems:
            raise FieldProblems(problems)
        return self

    @property
    def tz(self) -> ZoneInfo:
        """The office's zone (duty days and handovers are on its clock)."""
        return ZoneInfo(self.timezone)

    def work_calendar(self) -> WorkCalendar:
        """The working-day calendar with this file's overrides (build once, keep it)."""
        return self.calendar.build(self.tz, self._schedules)

    def duty_date(self, now: datetime) -> date:
        """The duty day `now` belongs to: before the handover time it is still yesterday's."""
        local = now.astimezone(self.tz)
        d = local.date()
        return d - timedelta(days=1) if local.time() < self.rotation.handover else d

    def _on_duty_date(self, d: date) -> Person | None:
        by_name = {p.name: p for p in self.people}
        for r in self.rotation.ranges:
            if r.from_ <= d <= r.to:
                return by_name[r.person]
        if not self.rotation.order or self.rotation.start is None:
            return None
        turn = ((d - self.rotation.start).days // self.rotation.days_each) % len(self.rotation.order)
        return by_name[self.rotation.order[turn]]

    def on_duty(self, now: datetime) -> Person | None:
        """The duty officer at `now` (None only in a gap between explicit ranges)."""
        return self._on_duty_date(self.duty_date(now))

    def on_duty_until(self, now: datetime) -> datetime | None:
        """When the current duty officer hands over (UTC), within the next year; for /oncall."""
        d = self.duty_date(now)
        current = self._on_duty_date(d)
        for i in range(1, 367):
            if self._on_duty_date(d + timedelta(days=i)) != current:
                return datetime.combine(d + timedelta(days=i), self.rotation.handover, self.tz).astimezone(
                    UTC
                )
        return None

    def people_with(self, role: Role | str) -> list[Person]:
        """Everyone holding `role`, in file order."""
        return [p for p in self.people if p.has(role)]

    def person(self, user_id: int) -> Person | None:
        """The person with this Telegram user id, if any."""
        return next((p for p in self.people if p.telegram_id is not None and p.telegram_id == user_id), None)

    def person_named(self, name: str) -> Person | None:
        """The person with this roster name (how the web console and the log know people)."""
        return next((p for p in self.people if p.name == name), None)

    def people_for(self, role: Role | str, now: datetime) -> list[Person]:
        """Who answers for `role` at `now`: the officer on duty for duty_officer, else everyone holding it."""
        if role == Role.DUTY_OFFICER:
            officer = self.on_duty(now)
            return [officer] if officer is not None else []
        return self.people_with(role)

    def chats_for_role(self, role: Role | str, now: datetime | None = None) -> list[int]:
        """Telegram chat ids to alert for `role` (see the module docstring); `now` adds the
        private chat of the duty officer on duty for the duty_officer role. Chats and people
        without Telegram are left out (their robots: `robots_for_role`)."""
        c = self.chats
        out: list[int | None]
        match _role(role):
            case Role.DUTY_OFFICER:
                officer = self.on_duty(now) if now is not None else None
                out = [c.duty] + ([officer.telegram_id] if officer is not None else [])
            case Role.POLICY_OFFICE:
                out = [c.policy_office]
            case Role.HEAD:
                out = [p.telegram_id for p in self.people_with(Role.HEAD)] + [c.policy_office]
            case Role.ADMIN:
                out = [c.channels("admin").telegram]
            case Role.SPOKESPERSON:
                out = [p.telegram_id for p in self.people_with(Role.SPOKESPERSON)]
        return list(dict.fromkeys(x for x in out if x is not None))

    def robots_for_role(self, role: Role | str) -> list[Robot]:
        """The group robots to alert for `role`: those of the groups `chats_for_role` names
        (robots post only into their group: private alerts have none), each once."""
        robots = [r for purpose in _GROUPS[_role(role)] for r in self.chats.channels(purpose).robots()]
        return list({r.address: r for r in robots}.values())

    def destinations_for_role(self, role: Role | str, now: datetime | None = None) -> list[Destination]:
        """Everywhere a notice to `role` goes: its Telegram chats, then its robots' addresses."""
        return [*self.chats_for_role(role, now), *(r.address for r in self.robots_for_role(role))]

    def robot(self, address: str) -> Robot | None:
        """The robot of any chat with this address (`wecom:WECOM_DUTY_KEY`), if the roster names it."""
        purposes = ("duty", "policy_office", "admin")
        return next(
            (r for p in purposes for r in self.chats.channels(p).robots() if r.address == address), None
        )

    def robots(self) -> list[Robot]:
        """Every robot the roster names, each once."""
        every = [r for p in ("duty", "policy_office", "admin") for r in self.chats.channels(p).robots()]
        return list({r.address: r for r in every}.values())

    def variable_problems(self, variables: Mapping[str, str]) -> list[Problem]:
        """The robots' environment variables that are unset or malformed in `variables` (the
        environment as `responder.env` read it), each at the roster's file:line:field."""
        found: list[tuple[Loc, str]] = []
        for purpose in ("duty", "policy_office", "admin"):
            chat = getattr(self.chats, f"{purpose}_channels")
            if chat is not None:
                found += [(("chats", purpose, *loc), msg) for loc, msg in chat.variable_problems(variables)]
        if not found:
            return []
        file, lines = str(self._path or "roster.yaml"), {}
        if self._path is not None:
            # Unreadable since it was loaded: the problems stand without their lines.
            with contextlib.suppress(ConfigError):
                lines = load_yaml(self._path)[1]
        return [Problem(file, _line(loc, lines), ".".join(map(str, loc)), message) for loc, message in found]


# Which group chats a role's notices reach (robots live in groups only).
_GROUPS: dict[Role, tuple[str, ...]] = {
    Role.DUTY_OFFICER: ("duty",),
    Role.POLICY_OFFICE: ("policy_office",),
    Role.HEAD: ("policy_office",),
    Role.ADMIN: ("admin",),
    Role.SPOKESPERSON: (),
}


def _line(loc: Loc, lines: dict[Loc, int]) -> int | None:
    """The line of the field at `loc`, else of its nearest parent that has one."""
    while loc and loc not in lines:
        loc = loc[:-1]
    return lines.get(loc)


def _role(role: Role | str) -> Role:
    if role not in Role.__members__.values():
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(Role)}")
    return Role(role)


def _duplicate_people(people: list[Person]) -> list[tuple[Loc, str]]:
    """A name or Telegram id listed a second time, reported at the second listing."""
    problems: list[tuple[Loc, str]] = []
    for label in ("name", "telegram_id"):
        seen: set[object] = set()
        for i, p in enumerate(people):
            value = getattr(p, label)
            if value is None:
                continue
            if value in seen:
                problems.append((("people", i, label), t("config_person_twice", field=label, value=value)))
            seen.add(value)
    return problems


def load_roster(path: Path) -> Roster:
    """Load and validate `roster.yaml` and its schedule file (confirmed holiday schedules);
    raises ConfigError naming file, line and field of every problem of both."""
    problems: list[Problem] = []
    roster = None
    try:
        roster = load_model(path, Roster)
    except ConfigError as exc:
        problems += exc.problems
    schedule_file = roster.calendar.schedule_file if roster else CalendarConfig().schedule_file
    try:
        schedules = load_schedules(path.parent / schedule_file)
    except ConfigError as exc:
        problems += exc.problems
    if problems:
        raise ConfigError(problems)
    assert roster is not None
    roster._schedules = schedules
    roster._path = path
    return roster
