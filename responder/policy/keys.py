"""Every message key, in one place.

An outbox row is stored once per key and chat (`row_key`), so queuing a notice twice, in
two cycles or on two instances, sends it once. The keys are part of the records: they
name what was sent (`incident:42:statement::reminder:80pct`) and the cards that later
edits find by prefix (`incident:42:escalation:`), so their shapes never change lightly.
"""

from __future__ import annotations

from datetime import datetime

from ..vocab import Channel, EventKind, FeedHealth

__all__ = [
    "calendar_unknown_year",
    "card_prefix",
    "card_refresh",
    "clock_jump",
    "config_reload_failed",
    "confirmation",
    "delivery_failed",
    "describe",
    "disk_full",
    "edit",
    "escalation",
    "event_change",
    "feed_health",
    "fraction_label",
    "grade_raised",
    "holiday_confirmed",
    "holiday_offer",
    "holiday_unreadable",
    "notice_of_row",
    "robot_refused",
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


def card_refresh(changed_at: datetime) -> str:
    """Names the edit that shows every change up to `changed_at` (the latest one logged), so
    deciding it again, after a restart or on another instance, edits each card once."""
    return f"cards:{changed_at.isoformat()}"


def edit(change: str, card_row_id: int) -> str:
    """The edit of outbox row `card_row_id` for `change` (a full row key: edits go to one chat)."""
    return f"edit:{change}:{card_row_id}"


def feed_health(source: str, state: FeedHealth, since: datetime) -> str:
    """A feed's health notice: down or up again for the outage begun at `since`; stale or
    fresh again for the quiet spell begun at `since`; the baseline digest of its first poll
    (`since` is that poll)."""
    return f"feed:{source}:{state}:{since.isoformat()}"


def weekly_summary(week_label: str, part: str) -> str:
    """The Monday post of `week_label`: part 'chart' (the image) or 'text'."""
    return f"summary:{week_label}:{part}"


def config_reload_failed(digest: str, at: datetime) -> str:
    """The admins' report that a reload (SIGHUP) found problems: one per attempt, named by
    the problems' digest and the moment, so a mistake repeated after a second SIGHUP is reported again."""
    return f"config-reload-failed:{digest}:{at.isoformat(timespec='seconds')}"


def calendar_unknown_year(year: int) -> str:
    """The admins' warning that `year`'s official holidays are unknown: one message per year."""
    return f"calendar:unknown-year:{year}"


def holiday_offer(year: int, digest: str) -> str:
    """The admins' offer of `year`'s holidays read from the State Council's notice: one per set
    of dates (`digest`), so a second outlet carrying the same notice offers nothing new."""
    return f"calendar:holiday-notice:{year}:{digest}"


def holiday_unreadable(year: int, report_id: int) -> str:
    """The admins' note that the notice in report `report_id` could not be read."""
    return f"calendar:holiday-notice:{year}:unreadable:{report_id}"


def holiday_confirmed(year: int, offer_id: int) -> str:
    """The admins' note that an offered schedule was confirmed and is in use."""
    return f"calendar:holiday-confirmed:{year}:{offer_id}"


def delivery_failed(outbox_id: int) -> str:
    """The admins' report that outbox row `outbox_id` could not be delivered."""
    return f"delivery-failed:{outbox_id}"


def robot_refused(address: str, last_delivered: datetime | None) -> str:
    """The admins' one report that robot `address` refuses everything, for the spell since
    its last delivered message (`never` when it has delivered none)."""
    since = last_delivered.isoformat(timespec="seconds") if last_delivered is not None else "never"
    return f"robot-refused:{address}:{since}"


def clock_jump(instance: str, since: datetime) -> str:
    """The admins' notice that `instance`'s wall clock jumped, once per episode begun at `since`."""
    return f"clock-jump:{instance}:{since.isoformat(timespec='seconds')}"


def disk_full(instance: str, since: datetime, part: str) -> str:
    """The admins' record of a full disk seen by `instance` from `since`: part 'full' (when it
    could be queued at once) or 'room' (the disk has room again)."""
    return f"disk-full:{instance}:{since.isoformat(timespec='seconds')}:{part}"


def row_key(key: str, chat_id: int | str) -> str:
    """The outbox row of `key` to one chat (a Telegram chat id, or a robot's address
    `wecom:WECOM_DUTY_KEY`): the same notice to two chats is two rows."""
    return f"{key}@{chat_id}"


def notice_of_row(row: str) -> str:
    """The notice key of an outbox row key (inverse of `row_key`)."""
    return row.rsplit("@", 1)[0]


# Kinds of step notices (the last part of `step_notice`, before a reminder point's label).
_STEP_NOTICES = ("reminder", "due", "overdue")
# Kinds of log rows whose confirmation is a message of its own (`confirmation`).
_CONFIRMED = frozenset(
    {EventKind.ACKNOWLEDGED, EventKind.STEP_DONE, EventKind.EXTENDED, EventKind.DISMISSED, EventKind.CLOSED}
)


def describe(key: str) -> tuple[str, int | None]:
    """What a notice key names, read back (the console's timeline lists sent messages by it):
    ('escalation', level) for a card or its repeat; 'grade', 'confirmation', 'reminder',
    'due' or 'overdue' with None; ('other', None) for anything else."""
    parts = key.split(":")
    if len(parts) < 3 or parts[0] != "incident":
        return "other", None
    if parts[2] == "escalation" and len(parts) >= 4 and parts[3].startswith("L"):
        level = parts[3][1:]
        return "escalation", int(level) if level.isdigit() else None
    if parts[2] == "grade":
        return "grade", None
    if len(parts) == 4 and parts[2] in _CONFIRMED:
        return "confirmation", None
    # incident:42:statement::reminder:80pct, incident:42:repost:weibo:overdue
    for kind in _STEP_NOTICES:
        if kind in parts[4:]:
            return kind, None
    return "other", None
