"""Response playbooks (`playbooks/*.yaml`): what is owed, by when, and who is next if nobody moves.

The validated models (`Playbook`, `StepConfig`, `Escalation`, `Reminders`, `Trigger`),
the deadline arithmetic (`Deadline`, `due_times`), which playbooks apply to an incident
(`select_playbooks`) and which step the reports count as which obligation
(`report_obligations`). What is due as of now is decided by `responder.policy.decide`.

Every clock counts from the incident's `first_published` (for an upstream policy
item, its publication time), never from when the bot noticed it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from .config import Duration, StrictModel, repeated
from .configfile import ConfigError, Problem, load_model, load_yaml
from .durations import format_duration, parse_duration
from .i18n import t
from .policy.keys import fraction_label
from .vocab import ESCALATION_ROLES, Channel, Grade, IncidentKind, Obligation, Role, SourceKind
from .workcal import WorkCalendar

__all__ = [
    "Deadline",
    "Escalation",
    "EscalationLevel",
    "Playbook",
    "Reminders",
    "StepConfig",
    "Trigger",
    "due_times",
    "extended_due",
    "load_playbooks",
    "parse_deadline",
    "report_obligations",
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
            raise ValueError(t("config_workdays_min"))
        return Deadline("workdays", workdays=n)
    try:
        d = parse_duration(s)
    except ValueError:
        raise ValueError(t("config_not_deadline", value=text)) from None
    if d <= timedelta(0):
        raise ValueError(t("config_deadline_positive"))
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
            raise ValueError(t("config_trigger_one"))
        if self.source_kind not in (None, SourceKind.UPSTREAM):
            raise ValueError(t("config_trigger_upstream"))
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
                raise ValueError(t("config_fraction", value=f))
        labels = [fraction_label(f) for f in v]
        if len(set(labels)) != len(labels):
            raise ValueError(t("config_fractions_same"))
        return sorted(v)

    @field_validator("before")
    @classmethod
    def _before(cls, v: list[timedelta]) -> list[timedelta]:
        if any(d <= timedelta(0) for d in v):
            raise ValueError(t("config_before_positive"))
        return sorted(set(v), reverse=True)


class StepConfig(StrictModel):
    """One obligation of a playbook (see docs/reference.md, "Playbooks and the duty roster")."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1)
    deadline: DeadlineField | None = None
    target: DeadlineField | None = None
    repeat: Duration | None = None
    after: str | None = None
    per_channel: list[Channel] = Field(default_factory=list)
    attendees: str | None = None
    extendable_to: DeadlineField | None = None
    # An item on the bureau's own outlet attached to the incident completes this step (on
    # a per-channel step, only an item on that channel): the evidence the office published.
    completed_by: Literal["own_outlet"] | None = None
    # The obligation the weekly summary and the annual report count this step as; a step
    # without one is counted under its own key.
    report_as: Obligation | None = None

    @model_validator(mode="after")
    def _shape(self) -> StepConfig:
        if self.deadline is None and self.repeat is None:
            raise ValueError(t("config_step_needs_deadline"))
        if self.repeat is not None:
            if self.repeat < timedelta(minutes=5):
                raise ValueError(t("config_repeat_min", min="5m"))
            if self.per_channel:
                raise ValueError(t("config_repeat_per_channel"))
        if len(set(self.per_channel)) != len(self.per_channel):
            raise ValueError(t("config_channel_twice"))
        if self.extendable_to is not None:
            d = self.deadline
            if d is None or d.kind != self.extendable_to.kind or d.kind == "same_day":
                raise ValueError(t("config_extendable_kind"))
            if (d.workdays, d.duration) >= (self.extendable_to.workdays, self.extendable_to.duration):
                raise ValueError(t("config_extendable_longer"))
        return self


class EscalationLevel(StrictModel):
    """Who is alerted at this level, how long they have to acknowledge, how often we repeat."""

    level: int = Field(ge=1, le=9)
    role: Role
    ack_timeout: Duration | None = None  # required below the top level: when to climb
    repeat: Duration | None = None

    @field_validator("role")
    @classmethod
    def _escalation_role(cls, v: Role) -> Role:
        if v not in ESCALATION_ROLES:
            raise ValueError(t("config_escalation_role"))
        return v

    @model_validator(mode="after")
    def _positive(self) -> EscalationLevel:
        if self.ack_timeout is not None and self.ack_timeout <= timedelta(0):
            raise ValueError(t("config_ack_timeout_positive"))
        if self.repeat is not None and self.repeat < timedelta(minutes=1):
            raise ValueError(t("config_repeat_min", min="1m"))
        return self


class Escalation(StrictModel):
    """Levels 1..n; an unacknowledged incident climbs one level per ack_timeout, and a
    breached step goes to the top level at once."""

    levels: list[EscalationLevel] = Field(min_length=1)

    @field_validator("levels")
    @classmethod
    def _numbered(cls, v: list[EscalationLevel]) -> list[EscalationLevel]:
        if [lv.level for lv in v] != list(range(1, len(v) + 1)):
            raise ValueError(t("config_levels_numbered"))
        for lv in v[:-1]:
            if lv.ack_timeout is None:
                raise ValueError(t("config_level_needs_ack", level=lv.level, next=lv.level + 1))
        return v

    @property
    def top(self) -> int:
        """The highest level (a breach goes straight there)."""
        return len(self.levels)

    def level(self, n: int) -> EscalationLevel:
        """Level `n`, clamped to 1..top."""
        return self.levels[min(max(n, 1), self.top) - 1]


class Playbook(StrictModel):
    """One `playbooks/*.yaml` file."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    title: str = Field(min_length=1)
    trigger: Trigger
    steps: list[StepConfig] = Field(default_factory=list)  # none: the incident is announced only
    escalation: Escalation
    reminders: Reminders = Reminders()

    @field_validator("steps")
    @classmethod
    def _refs(cls, steps: list[StepConfig]) -> list[StepConfig]:
        dup = repeated(s.key for s in steps)
        if dup:
            raise ValueError(t("config_step_keys_twice", keys="、".join(sorted(dup))))
        by_key = {s.key: s for s in steps}
        for i, s in enumerate(steps):
            if s.after is None:
                continue
            prior = by_key.get(s.after)
            if prior is None or prior is s:
                raise ValueError(t("config_after_unknown", i=i, after=s.after))
            if prior.per_channel or prior.repeat is not None or prior.after is not None:
                raise ValueError(t("config_after_shape", i=i))
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
    elif step.repeat is not None:
        due = start + step.repeat
    else:  # StepConfig validation makes every step give one or the other
        raise ValueError(f"step {step.key!r} has neither a deadline nor repeat")
    target = None if step.target is None else min(step.target.at(start, cal), due)
    return target, due


def extended_due(step: StepConfig, start: datetime, cal: WorkCalendar) -> datetime | None:
    """The deadline after the one extension the office may grant (`extendable_to`), or None."""
    if step.extendable_to is None:
        return None
    return due_times(step, start, cal, extended=True)[1]


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
        raise ConfigError([Problem(str(directory), None, "", t("config_playbook_dir_missing"))])
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not files:
        raise ConfigError([Problem(str(directory), None, "", t("config_no_playbooks"))])
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
                Problem(str(path), lines.get(("name",)), "name", t("config_playbook_twice", name=book.name))
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
                        t("config_step_key_used", key=s.key, other=other),
                    )
                )
            step_owner.setdefault(s.key, book.name)
        books[book.name] = book
    if problems:
        raise ConfigError(problems)
    return books


def report_obligations(playbooks: Mapping[str, Playbook] | Iterable[Playbook]) -> dict[str, str]:
    """Step key → the obligation the reports count it as (`report_as`, else its own key)."""
    books = playbooks.values() if isinstance(playbooks, Mapping) else playbooks
    return {s.key: str(s.report_as or s.key) for b in books for s in b.steps}
