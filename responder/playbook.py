"""Response playbooks: what is owed, by when, and who is next if nobody moves.

Two halves:

- the validated `playbooks/*.yaml` models (`Playbook`, `StepConfig`, `Escalation`,
  `Reminders`, `Trigger`) and the deadline arithmetic (`due_times`);
- `decide()`, a pure function of (incident state, playbooks, calendar, now) that
  returns the actions the engine must carry out: create steps, send notices with a
  stable dedup key, mark breaches, escalate. No I/O, no clock: the engine takes
  `now` once per cycle and persists the actions in one transaction, so running a
  cycle twice queues each notice once (the outbox key is unique).

Every clock counts from the incident's `first_published` (for an upstream policy
item, its publication time), never from when the bot noticed it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from .config import Duration, StrictModel
from .configfile import ConfigError, Problem, load_model, load_yaml
from .durations import format_duration, parse_duration
from .vocab import CLOSED_STATUSES, ESCALATION_ROLES, Channel, Grade, IncidentKind, Role, SourceKind
from .workcal import WorkCalendar

__all__ = [
    "Action",
    "CreateStep",
    "Deadline",
    "Escalate",
    "Escalation",
    "EscalationLevel",
    "IncidentState",
    "MarkBreached",
    "Notify",
    "Playbook",
    "Reminders",
    "StepConfig",
    "StepState",
    "Trigger",
    "decide",
    "due_times",
    "load_playbooks",
    "parse_deadline",
    "select_playbooks",
]


# --------------------------------------------------------------------------- deadlines


@dataclass(frozen=True)
class Deadline:
    """A deadline rule: a duration (`5h`), working days (`1wd`) or `same_day`."""

    kind: Literal["duration", "workdays", "same_day"]
    duration: timedelta = timedelta(0)
    workdays: int = 0

    def at(self, start: datetime, cal: WorkCalendar) -> datetime:
        """When this deadline falls for a clock started at `start` (aware; result in UTC)."""
        if self.kind == "duration":
            if start.tzinfo is None:
                raise ValueError("naive datetime given as a deadline start; pass an aware (UTC) time")
            return start.astimezone(UTC) + self.duration
        if self.kind == "workdays":
            return cal.add_working_days(start, self.workdays)
        return cal.end_of_day(start)

    def __str__(self) -> str:
        if self.kind == "duration":
            return format_duration(self.duration)
        if self.kind == "workdays":
            return f"{self.workdays}wd"
        return "same_day"


_WD = re.compile(r"^(\d+)\s*wd$")


def parse_deadline(text: object) -> Deadline:
    """Parse `5h`, `24h`, `90m`, `1wd`, `7wd` or `same_day`."""
    if isinstance(text, Deadline):
        return text
    s = str(text).strip().lower()
    if s == "same_day":
        return Deadline("same_day")
    m = _WD.match(s)
    if m:
        n = int(m.group(1))
        if n < 1:
            raise ValueError("a working-day deadline is at least 1wd")
        return Deadline("workdays", workdays=n)
    try:
        d = parse_duration(s)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a deadline; write a duration (5h, 24h, 90m), "
            "working days (1wd, 7wd) or same_day"
        ) from None
    if d <= timedelta(0):
        raise ValueError("a deadline must be longer than zero")
    return Deadline("duration", duration=d)


DeadlineField = Annotated[Deadline, BeforeValidator(parse_deadline), PlainSerializer(str)]


# --------------------------------------------------------------------------- config models


class Trigger(StrictModel):
    """When a playbook applies: an event of at least `min_grade`, an `upstream` policy
    item (`source_kind: upstream`), or an incident of another kind (`incident_kind`)."""

    min_grade: Grade | None = None
    source_kind: SourceKind | None = None
    incident_kind: IncidentKind | None = None

    @model_validator(mode="after")
    def _one(self) -> Trigger:
        given = [n for n in ("min_grade", "source_kind", "incident_kind") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of min_grade (e.g. 重大), source_kind (upstream) or incident_kind"
            )
        if self.source_kind not in (None, SourceKind.UPSTREAM):
            raise ValueError("source_kind: only upstream items open incidents of their own; write upstream")
        return self

    def matches(self, kind: str, grade: str | None) -> bool:
        """Does an incident of this `kind` ('event', 'policy', …) and `grade` trigger it?"""
        if self.min_grade is not None:
            return kind == IncidentKind.EVENT and Grade.rank_of(grade) >= self.min_grade.rank
        if self.source_kind is not None:
            return kind == IncidentKind.POLICY
        return kind == self.incident_kind

    @property
    def strictness(self) -> int:
        """How grave an event must be to trigger it (0 when the trigger is not a grade)."""
        return Grade.rank_of(self.min_grade)


class Reminders(StrictModel):
    """Reminder points: fractions of the window (of the soft target when a step has
    one) and fixed times before the hard deadline."""

    fractions: list[float] = Field(default_factory=lambda: [0.5, 0.8])
    before: list[Duration] = Field(default_factory=lambda: [timedelta(minutes=15)])

    @field_validator("fractions")
    @classmethod
    def _fractions(cls, v: list[float]) -> list[float]:
        for f in v:
            if not 0 < f < 1:
                raise ValueError(
                    f"{f} is not a fraction of the window; use numbers between 0 and 1, e.g. 0.5"
                )
        labels = [_pct(f) for f in v]
        if len(set(labels)) != len(labels):
            raise ValueError("two fractions round to the same percentage")
        return sorted(v)

    @field_validator("before")
    @classmethod
    def _before(cls, v: list[timedelta]) -> list[timedelta]:
        if any(d <= timedelta(0) for d in v):
            raise ValueError("reminders before a deadline must be longer than zero, e.g. 15m")
        return sorted(set(v), reverse=True)


class StepConfig(StrictModel):
    """One obligation of a playbook (see README, "Playbooks and the duty roster")."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1)
    deadline: DeadlineField | None = None
    target: DeadlineField | None = None
    repeat: Duration | None = None
    after: str | None = None
    per_channel: list[Channel] = Field(default_factory=list)
    attendees: str | None = None
    extendable_to: DeadlineField | None = None

    @model_validator(mode="after")
    def _shape(self) -> StepConfig:
        if self.deadline is None and self.repeat is None:
            raise ValueError("give a deadline (5h, 1wd, same_day) or, for recurring steps, repeat (e.g. 4h)")
        if self.repeat is not None:
            if self.repeat < timedelta(minutes=5):
                raise ValueError("repeat must be at least 5m")
            if self.per_channel:
                raise ValueError("a recurring step (repeat) cannot also be per_channel")
        if len(set(self.per_channel)) != len(self.per_channel):
            raise ValueError("a channel is listed twice in per_channel")
        if self.extendable_to is not None:
            d = self.deadline
            if d is None or d.kind != self.extendable_to.kind or d.kind == "same_day":
                raise ValueError(
                    "extendable_to must be the same kind of deadline as deadline, e.g. 7wd → 15wd"
                )
            if (d.workdays, d.duration) >= (self.extendable_to.workdays, self.extendable_to.duration):
                raise ValueError("extendable_to must be longer than deadline")
        return self


class EscalationLevel(StrictModel):
    """Who is alerted at this level, how long they have to acknowledge, how often we repeat."""

    level: int = Field(ge=1, le=9)
    role: Role
    ack_timeout: Duration
    repeat: Duration | None = None

    @field_validator("role")
    @classmethod
    def _escalation_role(cls, v: Role) -> Role:
        if v not in ESCALATION_ROLES:
            raise ValueError("an escalation level goes to duty_officer, policy_office or head")
        return v

    @model_validator(mode="after")
    def _positive(self) -> EscalationLevel:
        if self.ack_timeout <= timedelta(0):
            raise ValueError("ack_timeout must be longer than zero")
        if self.repeat is not None and self.repeat < timedelta(minutes=1):
            raise ValueError("repeat must be at least 1m")
        return self


class Escalation(StrictModel):
    """Levels 1..n; an unacknowledged incident climbs one level per ack_timeout, and a
    breached step goes to the top level at once."""

    levels: list[EscalationLevel] = Field(min_length=1)

    @field_validator("levels")
    @classmethod
    def _numbered(cls, v: list[EscalationLevel]) -> list[EscalationLevel]:
        if [lv.level for lv in v] != list(range(1, len(v) + 1)):
            raise ValueError("levels must be numbered 1, 2, 3 … in order")
        return v

    @property
    def top(self) -> int:
        return len(self.levels)

    def level(self, n: int) -> EscalationLevel:
        """Level `n`, clamped to 1..top."""
        return self.levels[min(max(n, 1), self.top) - 1]


class Playbook(StrictModel):
    """One `playbooks/*.yaml` file."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    title: str = Field(min_length=1)
    trigger: Trigger
    steps: list[StepConfig] = Field(min_length=1)
    escalation: Escalation
    reminders: Reminders = Reminders()

    @field_validator("steps")
    @classmethod
    def _refs(cls, steps: list[StepConfig]) -> list[StepConfig]:
        keys = [s.key for s in steps]
        dup = {k for k in keys if keys.count(k) > 1}
        if dup:
            raise ValueError(f"step keys must be unique; repeated: {', '.join(sorted(dup))}")
        by_key = {s.key: s for s in steps}
        for i, s in enumerate(steps):
            if s.after is None:
                continue
            prior = by_key.get(s.after)
            if prior is None or prior is s:
                raise ValueError(f"steps[{i}].after: {s.after!r} names no other step of this playbook")
            if prior.per_channel or prior.repeat is not None or prior.after is not None:
                raise ValueError(
                    f"steps[{i}].after: must name a single step that has no repeat, per_channel or after"
                )
        return steps

    def step(self, key: str) -> StepConfig:
        """The step configuration with this key."""
        for s in self.steps:
            if s.key == key:
                return s
        raise KeyError(f"playbook {self.name!r} has no step {key!r}")


def due_times(
    step: StepConfig, start: datetime, cal: WorkCalendar, *, extended: bool = False
) -> tuple[datetime | None, datetime]:
    """(target_at or None, due_at) for the first occurrence of `step` started at `start`.

    `extended=True` uses `extendable_to` (e.g. 15wd instead of 7wd). The soft target
    never lies after the hard deadline.
    """
    rule = step.extendable_to if extended and step.extendable_to is not None else step.deadline
    if rule is not None:
        due = rule.at(start, cal)
    else:
        assert step.repeat is not None  # guaranteed by StepConfig validation
        due = start + step.repeat
    target = None if step.target is None else min(step.target.at(start, cal), due)
    return target, due


def select_playbooks(
    playbooks: Mapping[str, Playbook] | Iterable[Playbook],
    kind: str,
    grade: str | None,
    with_steps_from: Iterable[str] = (),
) -> list[Playbook]:
    """The playbooks to pass to `decide()` for an incident, strictest first.

    Those whose trigger matches (`kind`, `grade`), plus those named in
    `with_steps_from` (playbooks that already have steps for the incident, so their
    reminders go on if the grade is later revised downwards). The first one's
    escalation policy governs the incident.
    """
    books = list(playbooks.values()) if isinstance(playbooks, Mapping) else list(playbooks)
    keep = set(with_steps_from)
    chosen = [b for b in books if b.trigger.matches(kind, grade) or b.name in keep]
    return sorted(chosen, key=lambda b: (-b.trigger.strictness, b.name))


def load_playbooks(directory: Path) -> dict[str, Playbook]:
    """Load every `*.yaml` in `directory`; raise one ConfigError listing every problem
    of every file (file:line: field: message)."""
    problems: list[Problem] = []
    if not directory.is_dir():
        raise ConfigError([Problem(str(directory), None, "", "playbook directory not found")])
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not files:
        raise ConfigError([Problem(str(directory), None, "", "no playbooks (*.yaml) in this directory")])
    books: dict[str, Playbook] = {}
    step_owner: dict[str, str] = {}
    for path in files:
        try:
            book = load_model(path, Playbook)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        _, lines = load_yaml(path)
        if book.name in books:
            problems.append(
                Problem(str(path), lines.get(("name",)), "name", f"playbook name {book.name!r} is used twice")
            )
            continue
        for i, s in enumerate(book.steps):
            # Step keys name steps in chat commands and dedup keys: one meaning each.
            other = step_owner.get(s.key)
            if other is not None:
                problems.append(
                    Problem(
                        str(path),
                        lines.get(("steps", i, "key")),
                        f"steps[{i}].key",
                        f"step key {s.key!r} is already used by playbook {other!r}; keys must be unique",
                    )
                )
            step_owner.setdefault(s.key, book.name)
        books[book.name] = book
    if problems:
        raise ConfigError(problems)
    return books


# --------------------------------------------------------------------------- state and actions


@dataclass(frozen=True)
class StepState:
    """A persisted step (a `Step` row); `id` is None only for steps decide() is creating."""

    id: int | None
    key: str
    channel: str
    seq: int
    title: str
    started_at: datetime
    target_at: datetime | None
    due_at: datetime
    done_at: datetime | None = None
    breached_at: datetime | None = None
    playbook: str = ""

    @classmethod
    def from_row(cls, row: Any) -> StepState:
        """From a `responder.models.Step` (or anything with the same attributes)."""
        return cls(
            id=row.id,
            key=row.key,
            channel=row.channel or "",
            seq=row.seq,
            title=row.title,
            started_at=row.started_at,
            target_at=row.target_at,
            due_at=row.due_at,
            done_at=row.done_at,
            breached_at=row.breached_at,
            playbook=row.playbook,
        )


@dataclass(frozen=True)
class IncidentState:
    """What decide() needs to know about one incident (an `Incident` row, its steps,
    and the dedup keys already in the outbox for it)."""

    id: int
    kind: str
    grade: str | None
    status: str
    first_published: datetime
    detected_at: datetime
    acked_at: datetime | None = None
    escalation_level: int = 0
    escalated_at: datetime | None = None
    closed_at: datetime | None = None
    steps: tuple[StepState, ...] = ()
    sent: frozenset[str] = frozenset()

    @classmethod
    def from_rows(cls, incident: Any, steps: Iterable[Any], sent: Iterable[str]) -> IncidentState:
        """From a `responder.models.Incident`, its `Step` rows and its queued outbox keys."""
        return cls(
            id=incident.id,
            kind=incident.kind,
            grade=incident.grade,
            status=incident.status,
            first_published=incident.first_published,
            detected_at=incident.detected_at,
            acked_at=incident.acked_at,
            escalation_level=incident.escalation_level,
            escalated_at=incident.escalated_at,
            closed_at=incident.closed_at,
            steps=tuple(s if isinstance(s, StepState) else StepState.from_row(s) for s in steps),
            sent=frozenset(sent),
        )


@dataclass(frozen=True)
class CreateStep:
    """Insert a `Step` row. `breached_at` is set when the step is already past due as it
    is created (late detection, grade raised late)."""

    playbook: str
    key: str
    channel: str
    seq: int
    title: str
    started_at: datetime
    target_at: datetime | None
    due_at: datetime
    breached_at: datetime | None = None


@dataclass(frozen=True)
class Notify:
    """Queue one message (an outbox row keyed by `dedup_key`) for the audience of
    escalation level `audience_level` (role `audience_role`).

    kind: reminder | due (soft target reached) | overdue | escalation | repeat.
    `params` holds JSON-safe values (datetimes as ISO-8601 UTC strings) for rendering.
    """

    dedup_key: str
    audience_level: int
    kind: str
    step_key: str
    channel: str
    params: dict[str, Any]
    seq: int = 0
    audience_role: str = ""


@dataclass(frozen=True)
class MarkBreached:
    """Set `Step.breached_at = at` (the deadline); permanent, never cleared."""

    step_id: int
    at: datetime


@dataclass(frozen=True)
class Escalate:
    """Set `Incident.escalation_level = to_level`, `escalated_at = now`; log an event."""

    to_level: int
    reason: str  # detected | ack_timeout | step_overdue | detected_late
    role: str = ""


Action = CreateStep | Notify | MarkBreached | Escalate


# --------------------------------------------------------------------------- decide


def decide(
    state: IncidentState,
    playbooks: Playbook | Sequence[Playbook],
    calendar: WorkCalendar,
    now: datetime,
    reminders: Reminders | None = None,
) -> list[Action]:
    """What must happen for `state` as of `now`: steps to create, breaches to mark,
    escalation, and notices not yet in `state.sent`.

    `playbooks` is one playbook or several (see `select_playbooks`, strictest first;
    the first one's escalation policy governs). `reminders` overrides each playbook's
    own reminder points. Pure: the same arguments always give the same actions, and
    applying them then calling again gives no new notice.
    """
    if now.tzinfo is None:
        raise ValueError("decide() needs an aware `now` (UTC)")
    books = [playbooks] if isinstance(playbooks, Playbook) else list(playbooks)
    if not books or state.status in CLOSED_STATUSES:
        return []

    escalation = books[0].escalation
    top = escalation.top
    creates: list[CreateStep] = []
    evaluated: list[tuple[Playbook, StepState]] = []
    for book in books:
        own = [s for s in state.steps if s.playbook == book.name]
        new = _missing_steps(state, book, own, calendar, now)
        creates.extend(new)
        # Steps being created are judged like stored ones, so a step that is late
        # from birth is created breached and its overdue notice goes out at once.
        virtual = [_virtual(c) for c in new]
        evaluated.extend((book, s) for s in own + virtual)

    marks: list[MarkBreached] = []
    overdue: list[StepState] = []
    for _book, s in evaluated:
        if s.done_at is not None:
            # Done, but late: the breach stays on record even if no cycle saw it open.
            if s.done_at > s.due_at and s.breached_at is None and s.id is not None:
                marks.append(MarkBreached(s.id, s.due_at))
            continue
        if now >= s.due_at:
            overdue.append(s)
            if s.breached_at is None and s.id is not None:
                marks.append(MarkBreached(s.id, s.due_at))

    acked = state.acked_at is not None or state.status == "acknowledged"
    esc = _escalate(state, escalation, overdue, acked, now)
    level_now = esc.to_level if esc else min(max(state.escalation_level, 1), top)

    step_notices: list[tuple[datetime, Notify]] = []
    for book, s in evaluated:
        if s.done_at is not None:
            continue
        if now >= s.due_at:
            step_notices.append((s.due_at, _step_notice(state, s, "overdue", "", top, escalation, now)))
            continue
        point = _latest_point(s, reminders or book.reminders, now)
        if point is not None:
            at, kind, label = point
            step_notices.append((at, _step_notice(state, s, kind, label, level_now, escalation, now)))

    notices = [n for _, n in sorted(step_notices, key=lambda p: p[0])]
    if esc is not None:
        cause = (
            min(overdue, key=lambda s: s.due_at) if esc.reason in ("step_overdue", "detected_late") else None
        )
        notices.append(_escalation_notice(state, esc.to_level, 0, esc.reason, escalation, cause))
    elif not acked and state.escalation_level >= 1 and state.escalated_at is not None:
        level = min(state.escalation_level, top)
        every = escalation.level(level).repeat
        if every is not None and now >= state.escalated_at + every:
            k = (now - state.escalated_at) // every
            notices.append(_escalation_notice(state, level, k, "unacknowledged", escalation, None))

    out: list[Action] = [*creates, *marks]
    if esc is not None:
        out.append(esc)
    seen = set(state.sent)
    for n in notices:
        if n.dedup_key not in seen:
            seen.add(n.dedup_key)
            out.append(n)
    return out


def _virtual(c: CreateStep) -> StepState:
    return StepState(
        id=None,
        key=c.key,
        channel=c.channel,
        seq=c.seq,
        title=c.title,
        started_at=c.started_at,
        target_at=c.target_at,
        due_at=c.due_at,
        playbook=c.playbook,
    )


def _escalate(
    state: IncidentState, escalation: Escalation, overdue: list[StepState], acked: bool, now: datetime
) -> Escalate | None:
    """A breach goes straight to the top; otherwise climb one level per unanswered ack_timeout."""
    top = escalation.top
    level = min(state.escalation_level, top)
    if overdue and level < top:
        first = min(overdue, key=lambda s: s.due_at)
        reason = "detected_late" if first.due_at <= state.detected_at else "step_overdue"
        return Escalate(top, reason, escalation.level(top).role)
    if acked:
        return None
    if level == 0:
        return Escalate(1, "detected", escalation.level(1).role)
    if (
        level < top
        and state.escalated_at is not None
        and now >= state.escalated_at + escalation.level(level).ack_timeout
    ):
        return Escalate(level + 1, "ack_timeout", escalation.level(level + 1).role)
    return None


def _missing_steps(
    state: IncidentState, book: Playbook, own: list[StepState], cal: WorkCalendar, now: datetime
) -> list[CreateStep]:
    """Steps this playbook owes that have no row yet (one new occurrence per recurring step)."""
    have = {(s.key, s.channel, s.seq): s for s in own}
    out: list[CreateStep] = []

    def create(
        cfg: StepConfig, channel: str, seq: int, start: datetime, target: datetime | None, due: datetime
    ) -> None:
        out.append(
            CreateStep(
                book.name, cfg.key, channel, seq, cfg.title, start, target, due, due if now >= due else None
            )
        )

    for cfg in book.steps:
        start = state.first_published
        if cfg.after is not None:
            prior = have.get((cfg.after, "", 0))
            if prior is None or prior.done_at is None:
                continue  # e.g. updates begin once the first statement is out
            start = prior.done_at
        if cfg.repeat is None:
            for channel in cfg.per_channel or [""]:
                if (cfg.key, channel, 0) not in have:
                    target, due = due_times(cfg, start, cal)
                    create(cfg, channel, 0, start, target, due)
            continue
        runs = sorted((s for s in own if s.key == cfg.key), key=lambda s: s.seq)
        if not runs:
            target, due = due_times(cfg, start, cal)
            create(cfg, "", 0, start, target, due)
            continue
        last = runs[-1]
        if last.done_at is not None:
            nxt = last.done_at
        elif now >= last.due_at:
            # Missed: the next window starts where the missed one ended; after an
            # outage, skip to the window containing now rather than a burst of breaches.
            nxt = last.due_at + cfg.repeat * ((now - last.due_at) // cfg.repeat)
        else:
            continue
        create(cfg, "", last.seq + 1, nxt, None, nxt + cfg.repeat)
    return out


def _pct(f: float) -> str:
    return f"{round(f * 100)}pct"


def _latest_point(s: StepState, rem: Reminders, now: datetime) -> tuple[datetime, str, str] | None:
    """The latest reminder point at or before `now` (earlier ones are never sent late)."""
    end = s.target_at or s.due_at
    points: list[tuple[datetime, int, str, str]] = []
    for f in rem.fractions:
        points.append((s.started_at + (end - s.started_at) * f, 0, "reminder", _pct(f)))
    if s.target_at is not None and s.target_at < s.due_at:
        points.append((s.target_at, 1, "due", "target"))
    for d in rem.before:
        at = s.due_at - d
        if at > s.started_at:
            points.append((at, 0, "reminder", format_duration(d)))
    passed = [p for p in points if p[0] <= now]
    if not passed:
        return None
    at, _, kind, label = max(passed, key=lambda p: (p[0], p[1]))
    return at, kind, label


def _step_prefix(state: IncidentState, s: StepState) -> str:
    key = s.key if s.seq == 0 else f"{s.key}#{s.seq}"
    return f"incident:{state.id}:{key}:{s.channel}"


def _iso(d: datetime | None) -> str | None:
    return None if d is None else d.isoformat()


def _step_notice(
    state: IncidentState, s: StepState, kind: str, label: str, level: int, esc: Escalation, now: datetime
) -> Notify:
    key = f"{_step_prefix(state, s)}:{kind}" + (f":{label}" if kind == "reminder" else "")
    params: dict[str, Any] = {
        "incident_id": state.id,
        "playbook": s.playbook,
        "title": s.title,
        "point": label or kind,
        "started_at": _iso(s.started_at),
        "target_at": _iso(s.target_at),
        "due_at": _iso(s.due_at),
        "seconds_left": int((s.due_at - now).total_seconds()),
    }
    if kind == "overdue":
        params["detected_late"] = s.due_at <= state.detected_at
    return Notify(key, level, kind, s.key, s.channel, params, s.seq, esc.level(level).role)


def _escalation_notice(
    state: IncidentState, level: int, k: int, reason: str, esc: Escalation, step: StepState | None
) -> Notify:
    params: dict[str, Any] = {
        "incident_id": state.id,
        "level": level,
        "reason": reason,
        "repeat": k,
        "step_title": step.title if step else None,
        "due_at": _iso(step.due_at) if step else None,
    }
    return Notify(
        f"incident:{state.id}:escalation:L{level}:r{k}",
        level,
        "escalation" if k == 0 else "repeat",
        step.key if step else "",
        step.channel if step else "",
        params,
        step.seq if step else 0,
        esc.level(level).role,
    )
