"""The incident log: one append-only row per change, the record accountability rests on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from ..models import IncidentEvent
from ..vocab import EventKind

__all__ = ["log_event"]

_ACTOR_FIELDS = ("actor_id", "actor_name", "chat_id", "step_id")


def log_event(
    session: Session, incident_id: int, kind: EventKind, at: datetime, **data: Any
) -> IncidentEvent:
    """Append one row to an incident's log; `actor_id`, `actor_name`, `chat_id` and `step_id`
    go to their columns, everything else to the row's JSON data."""
    actor = {k: data.pop(k) for k in _ACTOR_FIELDS if k in data}
    ev = IncidentEvent(incident_id=incident_id, kind=kind, at=at, data=data, **actor)
    session.add(ev)
    return ev
