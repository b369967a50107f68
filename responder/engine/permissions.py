"""Who may do what to an incident, who is acting, and the errors an action answers with.

Errors are typed and carry a message from the catalogue (Telegram HTML, outside
strings escaped), ready to show to the person.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..i18n import t
from ..models import Incident
from ..present.formats import person_role_label
from ..present.html import esc
from ..roster import Roster
from ..vocab import IncidentStatus, Role

__all__ = [
    "ACTIONS",
    "PERMISSIONS",
    "ActionError",
    "Actor",
    "AlreadyClosed",
    "NotExtendable",
    "NotPermitted",
    "NothingToDo",
    "UnknownIncident",
    "UnknownStep",
    "action_label",
    "can",
]

# Actions a person can take; "view" covers /status, /list, /oncall, /summary; "calendar" is
# confirming next year's holidays read from the State Council's notice (/calendar_confirm);
# "register" is opening an incident for a suggestion from the public (/inquiry).
ACTIONS: tuple[str, ...] = ("view", "ack", "done", "extend", "dismiss", "close", "calendar", "register")

# Who may do what (issue 5): duty officers acknowledge; the policy office acknowledges,
# completes, extends, dismisses and closes; the head acknowledges, extends and closes
# (decides and answers for it); admins everything. A spokesperson may look but not act.
# Suggestions from the public are the policy office's to register and answer (seed 001 四（三）).
PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.DUTY_OFFICER: frozenset({"view", "ack"}),
    Role.POLICY_OFFICE: frozenset({"view", "ack", "done", "extend", "dismiss", "close", "register"}),
    Role.HEAD: frozenset({"view", "ack", "extend", "close"}),
    Role.ADMIN: frozenset(ACTIONS),
    Role.SPOKESPERSON: frozenset({"view"}),
}

_ROLE_NAMES = frozenset(r.value for r in Role)

_ACTION_LABELS: dict[str, str] = {
    "view": "act_name_view",
    "ack": "act_name_ack",
    "done": "act_name_done",
    "extend": "act_name_extend",
    "dismiss": "act_name_dismiss",
    "close": "act_name_close",
    "calendar": "act_name_calendar",
    "register": "act_name_register",
}


def can(roles: Iterable[str], action: str) -> bool:
    """May someone holding `roles` take `action` (one of ACTIONS)? Strangers (no roles) may not."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; actions are {', '.join(ACTIONS)}")
    return any(action in PERMISSIONS[Role(r)] for r in roles if r in _ROLE_NAMES)


def action_label(action: str) -> str:
    """An action in words (确认, 标记完成 …)."""
    return t(_ACTION_LABELS[action])


@dataclass(frozen=True)
class Actor:
    """The person acting: Telegram user id (None for someone acting from the web console who
    has none), the name recorded in the log (the roster name: who they are), their roles.

    `source` and `address` say where an action came from when it was not a chat (the web
    console: "web" and the client address); they are logged with every event it writes.
    """

    id: int | None
    name: str
    roles: frozenset[str] = field(default_factory=frozenset)
    source: str | None = None
    address: str | None = None

    def origin(self) -> dict[str, str]:
        """The `source`/`address` fields to log, only those that are set (chat actions log none)."""
        return {k: v for k, v in (("source", self.source), ("address", self.address)) if v is not None}

    @classmethod
    def from_roster(cls, roster: Roster, user_id: int, fallback_name: str = "") -> Actor:
        """The roster's name and roles for `user_id`; a stranger keeps `fallback_name` and no roles."""
        p = roster.person(user_id)
        if p is None:
            return cls(user_id, fallback_name or str(user_id), frozenset())
        return cls(user_id, p.name, frozenset(p.roles))


class ActionError(Exception):
    """An action that could not be applied; `str(exc)` is the message for the person."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UnknownIncident(ActionError):
    """No incident with that id."""

    def __init__(self, incident_id: int):
        super().__init__(t("act_unknown_incident", id=incident_id))
        self.incident_id = incident_id


class UnknownStep(ActionError):
    """The step key (or key + channel) names no step of the incident; `valid` lists the ones that do."""

    def __init__(self, incident_id: int, given: str, valid: list[str], *, ambiguous: bool = False):
        key = "act_ambiguous_step" if ambiguous else "act_unknown_step"
        listed = t("act_list_separator").join(valid) or t("act_no_steps")
        super().__init__(t(key, id=incident_id, step=esc(given), valid=esc(listed)))
        self.valid = valid


_CLOSED_STATES: dict[IncidentStatus, str] = {
    IncidentStatus.CLOSED: "act_state_closed",
    IncidentStatus.DISMISSED: "act_state_dismissed",
}


class AlreadyClosed(ActionError):
    """The incident is closed or dismissed: nothing more can be done to it."""

    def __init__(self, inc: Incident):
        key = _CLOSED_STATES.get(inc.status)
        state = t(key) if key else str(inc.status)
        super().__init__(t("act_already_closed", id=inc.id, state=state, who=esc(inc.closed_by or "")))


class NotPermitted(ActionError):
    """The actor's roles do not allow the action."""

    def __init__(self, actor: Actor, action: str):
        roles = "、".join(person_role_label(r) for r in sorted(actor.roles)) or t("act_role_none")
        super().__init__(t("act_not_permitted", action=action_label(action), roles=roles))
        self.action = action


class NothingToDo(ActionError):
    """`done` without a step key, but every step of the incident is already done."""

    def __init__(self, incident_id: int):
        super().__init__(t("act_nothing_open", id=incident_id))


class NotExtendable(ActionError):
    """The step's playbook grants no longer deadline, it is done, or its deadline already passed."""

    def __init__(self, incident_id: int, step: str, why: str):
        keys = {"no_rule": "act_not_extendable", "done": "act_extend_done", "late": "act_extend_too_late"}
        super().__init__(t(keys[why], id=incident_id, step=esc(step)))
        self.why = why
