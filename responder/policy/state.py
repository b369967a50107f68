"""What the policy reads (an incident's state) and what it answers (actions), and `apply`.

`decide()` returns actions; `apply(state, actions)` is the one statement of what each
action does to the state. The engine writes the state `apply` returns (and logs and
queues per action); tests walk a playbook by calling `decide` and `apply` in turn. No
I/O here: `IncidentState.from_rows` reads attributes of rows the engine already loaded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..vocab import Channel, Grade, IncidentKind, IncidentStatus, Role

__all__ = [
    "Action",
    "CompleteStep",
    "CreateStep",
    "Escalate",
    "EscalationReason",
    "GradeChange",
    "IncidentState",
    "MarkBreached",
    "NoticeKind",
    "Notify",
    "OwnItem",
    "RefreshCards",
    "Retime",
    "StepRef",
    "StepState",
    "apply",
    "complete",
]


class NoticeKind(StrEnum):
    """What a queued message is about."""

    REMINDER = "reminder"  # a reminder point of an open step passed
    DUE = "due"  # a step's soft target was reached
    OVERDUE = "overdue"  # a step's hard deadline passed
    ESCALATION = "escalation"  # the incident reached a level: the card, with a header
    REPEAT = "repeat"  # still unacknowledged at the current level
    GRADE_RAISED = "grade_raised"  # the grade rose and a stricter playbook started


class EscalationReason(StrEnum):
    """Why an escalation card was sent."""

    DETECTED = "detected"
    ACK_TIMEOUT = "ack_timeout"
    STEP_OVERDUE = "step_overdue"
    DETECTED_LATE = "detected_late"
    UNACKNOWLEDGED = "unacknowledged"  # a repeat at the current level


@dataclass(frozen=True, order=True)
class StepRef:
    """Names one step of one incident: the step table's unique key without the incident."""

    playbook: str
    key: str
    channel: Channel | None = None
    seq: int = 0


@dataclass(frozen=True)
class StepState:
    """A step as the policy sees it; `id` is None for a step being created."""

    playbook: str
    key: str
    channel: Channel | None
    seq: int
    title: str
    started_at: datetime
    target_at: datetime | None
    due_at: datetime
    done_at: datetime | None = None
    done_by: str | None = None
    evidence_link: str | None = None
    breached_at: datetime | None = None
    id: int | None = None

    @property
    def ref(self) -> StepRef:
        """This step's name."""
        return StepRef(self.playbook, self.key, self.channel, self.seq)

    @classmethod
    def from_row(cls, row: Any) -> StepState:
        """From a `responder.models.Step` (or anything with the same attributes)."""
        return cls(
            playbook=row.playbook,
            key=row.key,
            channel=row.channel,
            seq=row.seq,
            title=row.title,
            started_at=row.started_at,
            target_at=row.target_at,
            due_at=row.due_at,
            done_at=row.done_at,
            done_by=row.done_by,
            evidence_link=row.evidence_link,
            breached_at=row.breached_at,
            id=row.id,
        )


@dataclass(frozen=True)
class OwnItem:
    """An item on one of the bureau's own outlets, attached to the incident it answers."""

    link: str | None
    channel: Channel | None
    published: datetime | None
    source: str
    title: str = ""


@dataclass(frozen=True)
class GradeChange:
    """One `grade_raised` row of the incident's log (`at`: when it was logged)."""

    event_id: int
    from_grade: Grade | None
    to_grade: Grade
    link: str | None
    at: datetime | None = None


@dataclass(frozen=True)
class IncidentState:
    """What decide() needs to know about one incident: its row, its steps, the message
    keys already queued for it, its own-outlet items and its grade changes; and for the
    cards already sent (`responder.policy.cards`): when the stalest one was last rendered,
    when they were last edited, and the latest logged change a card shows."""

    id: int
    kind: IncidentKind
    grade: Grade | None
    status: IncidentStatus
    first_published: datetime
    detected_at: datetime
    acked_at: datetime | None = None
    escalation_level: int = 0
    escalated_at: datetime | None = None
    closed_at: datetime | None = None
    steps: tuple[StepState, ...] = ()
    sent: frozenset[str] = frozenset()
    own_items: tuple[OwnItem, ...] = ()
    grade_changes: tuple[GradeChange, ...] = ()
    cards_rendered_at: datetime | None = None
    cards_edited_at: datetime | None = None
    card_changed_at: datetime | None = None

    @classmethod
    def from_rows(
        cls,
        incident: Any,
        steps: Iterable[Any],
        sent: Iterable[str],
        own_items: Iterable[OwnItem] = (),
        grade_changes: Iterable[GradeChange] = (),
        **cards: datetime | None,
    ) -> IncidentState:
        """From a `responder.models.Incident`, its `Step` rows and its queued message keys
        (`cards`: `cards_rendered_at`, `cards_edited_at`, `card_changed_at`)."""
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
            own_items=tuple(own_items),
            grade_changes=tuple(grade_changes),
            **cards,
        )

    def step(self, ref: StepRef) -> StepState:
        """The step named `ref` (KeyError when there is none)."""
        for s in self.steps:
            if s.ref == ref:
                return s
        raise KeyError(ref)


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class Retime:
    """An earlier report moved the clock: the open step counts from `started_at` now."""

    step: StepRef
    started_at: datetime
    target_at: datetime | None
    due_at: datetime


@dataclass(frozen=True)
class CreateStep(StepState):
    """A step the playbooks owe that has no row yet (so no `id`). `breached_at` is the deadline
    when the step is already past it as it is created (late detection, grade raised late)."""


@dataclass(frozen=True)
class CompleteStep:
    """An item on the bureau's own outlet shows the step done at `at` (the item's time)."""

    step: StepRef
    at: datetime
    by: str  # the outlet's source name, recorded as who did it
    evidence_link: str | None
    channel: Channel | None = None  # the outlet the item appeared on
    title: str = ""  # the item's title: which item proved it


@dataclass(frozen=True)
class MarkBreached:
    """The deadline passed with the step open (or it was done late): permanent, never cleared."""

    step: StepRef
    at: datetime


@dataclass(frozen=True)
class Escalate:
    """The incident reaches `to_level` (whose audience is `role`) at `at`."""

    to_level: int
    reason: EscalationReason
    role: Role
    at: datetime


@dataclass(frozen=True)
class Notify:
    """Queue one message under `dedup_key` to the people of `roles`.

    `level` is the escalation level the message speaks for; `step` the step it is about;
    `params` holds JSON-safe values (datetimes as ISO-8601 UTC strings) for rendering.
    """

    dedup_key: str
    kind: NoticeKind
    level: int
    roles: tuple[Role, ...]
    step: StepRef | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def role(self) -> Role:
        """The audience whose level this is (the last of `roles`)."""
        return self.roles[-1]


@dataclass(frozen=True)
class RefreshCards:
    """The incident changed: edit the cards already sent so they show it (`change` names it;
    `at` is when, so the state after it knows the cards were rendered then)."""

    change: str
    at: datetime | None = None


Action = Retime | CreateStep | CompleteStep | MarkBreached | Escalate | Notify | RefreshCards


# --------------------------------------------------------------------------- apply


def complete(step: StepState, at: datetime, by: str, evidence_link: str | None) -> StepState:
    """`step` done at `at` by `by`. Done after the deadline is late, and the breach stays for good."""
    late = at > step.due_at
    breached = step.breached_at if step.breached_at is not None or not late else step.due_at
    return dataclasses.replace(
        step, done_at=at, done_by=by, evidence_link=evidence_link, breached_at=breached
    )


def _apply_to_step(step: StepState, action: Action) -> StepState:
    if isinstance(action, Retime):
        return dataclasses.replace(
            step, started_at=action.started_at, target_at=action.target_at, due_at=action.due_at
        )
    if isinstance(action, CompleteStep):
        return complete(step, action.at, action.by, action.evidence_link)
    if isinstance(action, MarkBreached):
        return dataclasses.replace(step, breached_at=step.breached_at or action.at)
    return step


def apply(state: IncidentState, actions: Sequence[Action]) -> IncidentState:
    """The state after `actions`: what the next cycle reads once the engine has written them."""
    steps = list(state.steps)
    sent = set(state.sent)
    level, escalated_at = state.escalation_level, state.escalated_at
    rendered, edited = state.cards_rendered_at, state.cards_edited_at
    for a in actions:
        if isinstance(a, CreateStep):
            steps.append(a)
        elif isinstance(a, Retime | CompleteStep | MarkBreached):
            steps = [_apply_to_step(s, a) if s.ref == a.step else s for s in steps]
        elif isinstance(a, Escalate):
            level, escalated_at = a.to_level, a.at
        elif isinstance(a, Notify):
            sent.add(a.dedup_key)
        elif isinstance(a, RefreshCards) and a.at is not None and rendered is not None:
            rendered = edited = a.at
    return dataclasses.replace(
        state,
        steps=tuple(steps),
        sent=frozenset(sent),
        escalation_level=level,
        escalated_at=escalated_at,
        cards_rendered_at=rendered,
        cards_edited_at=edited,
    )
