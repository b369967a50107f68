"""Every message key, in one place.

An outbox row is stored once per key and chat (`row_key`), so queuing a notice twice, in
two cycles or on two instances, sends it once. The keys are part of the records: they
name what was sent (`incident:42:statement::reminder:80pct`) and the cards that later
edits find by prefix (`incident:42:escalation:`), so their shapes never change lightly.
"""

from __future__ import annotations

from datetime import datetime

from ..vocab import Channel, EventKind

__all__ = [
    "card_prefix",
    "confirmation",
    "cycle_change",
    "delivery_failed",
    "edit",
    "escalation",
    "event_change",
    "feed_health",
    "fraction_label",
    "grade_raised",
    "notice_of_row",
    "row_key",
    "step_notice",
    "weekly_summary",
]


def step_notice(
    incident_id: int, key: str, seq: int, channel: Channel | None, kind: str, label: str = ""
) -> str:
    """A step's reminder, due or overdue notice: `incident:42:updates#2:weibo:reminder:80pct`.

    `label` names the reminder point (80pct, 15m); the other kinds have one notice per step.
    """
    step = key if seq == 0 else f"{key}#{seq}"
    tail = f":{label}" if label else ""
    return f"incident:{incident_id}:{step}:{channel or ''}:{kind}{tail}"


def fraction_label(fraction: float) -> str:
    """A reminder point at a fraction of the window, as keys name it: 0.8 → 80pct."""
    return f"{round(fraction * 100)}pct"


def escalation(incident_id: int, level: int, repeat: int = 0) -> str:
    """The card sent when level `level` is reached (repeat 0) and its `repeat`-th reminder."""
    return f"{card_prefix(incident_id)}L{level}:r{repeat}"


def card_prefix(incident_id: int) -> str:
    """What every card of an incident starts with: edits find the cards by it."""
    return f"incident:{incident_id}:escalation:"


def grade_raised(incident_id: int, to_grade: str, event_id: int) -> str:
    """The notice of one `grade_raised` log row."""
    return f"incident:{incident_id}:grade:{to_grade}:{event_id}"


def confirmation(incident_id: int, kind: EventKind, event_id: int) -> str:
    """The short confirmation of a person's action (never under `card_prefix`: it is not edited)."""
    return f"incident:{incident_id}:{kind}:{event_id}"


def event_change(event_id: int) -> str:
    """Names a change made by a logged action, so each change edits each card once."""
    return f"event:{event_id}"


def cycle_change(now: datetime) -> str:
    """Names the changes one cycle made to an incident."""
    return f"cycle:{now.isoformat()}"


def edit(change: str, card_row_id: int) -> str:
    """The edit of outbox row `card_row_id` for `change` (a full row key: edits go to one chat)."""
    return f"edit:{change}:{card_row_id}"


def feed_health(source: str, state: str, since: datetime) -> str:
    """A feed went down (`state` 'down') or came back ('up'), for the outage begun at `since`."""
    return f"feed:{source}:{state}:{since.isoformat()}"


def weekly_summary(week_label: str, part: str) -> str:
    """The Monday post of `week_label`: part 'chart' (the image) or 'text'."""
    return f"summary:{week_label}:{part}"


def delivery_failed(outbox_id: int) -> str:
    """The admins' report that outbox row `outbox_id` could not be delivered."""
    return f"delivery-failed:{outbox_id}"


def row_key(key: str, chat_id: int) -> str:
    """The outbox row of `key` to one chat: the same notice to two chats is two rows."""
    return f"{key}@{chat_id}"


def notice_of_row(row: str) -> str:
    """The notice key of an outbox row key (inverse of `row_key`)."""
    return row.rsplit("@", 1)[0]
