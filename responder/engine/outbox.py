"""Queuing messages: one outbox row per (message key, destination), stored once however often queued.

A destination is a Telegram chat id (`chat_id`, as every row has always had) or a group
robot's address (`robot`, e.g. `wecom:WECOM_DUTY_KEY`, with `chat_id` 0). The rows hold the
message as rendered for chat (Telegram HTML); a sender makes it fit its channel's limits
when it sends it. Robots cannot edit what they posted, so a card's edits are queued for its
Telegram copies alone: the robots' groups learn of an acknowledgement or a completion from
the confirmation every action queues to the chats that were alerted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, col, select

from ..channels.robots import Destination
from ..db import insert_ignore
from ..models import Outbox
from ..policy import keys
from ..present.cards import Buttons
from ..vocab import OutboxKind

__all__ = ["card_destinations", "queue", "queue_edits", "sent_keys"]


def queue(
    session: Session,
    key: str,
    chats: Iterable[Destination],
    text: str,
    now: datetime,
    *,
    incident_id: int | None = None,
    buttons: Buttons | None = None,
    photo: bytes | None = None,
) -> int:
    """Queue `text` to every destination under `key` (Telegram chat ids, robot addresses);
    returns how many rows were new.

    The row key is `key` plus the destination, so the same notice to two chats is two rows,
    and queuing it again (a second cycle, a restarted process) is a no-op.
    """
    new = 0
    for chat in dict.fromkeys(chats):  # keep order, drop repeats
        robot, chat_id = (chat, 0) if isinstance(chat, str) else (None, chat)
        row = Outbox(
            dedup_key=keys.row_key(key, chat),
            created_at=now,
            incident_id=incident_id,
            kind=OutboxKind.PHOTO if photo is not None else OutboxKind.MESSAGE,
            chat_id=chat_id,
            robot=robot,
            text=text,
            buttons=buttons,
            photo=photo,
            next_attempt_at=now,
        )
        new += insert_ignore(session, row, ["dedup_key"])
    return new


def queue_edits(
    session: Session,
    incident_id: int,
    change: str,
    text: str,
    now: datetime,
    buttons: Buttons | None = None,
) -> int:
    """Queue an edit of every card already sent for the incident (keys under `keys.card_prefix`)
    to a Telegram chat (robots cannot edit: see the module docstring).

    `change` names this change (`keys.event_change`, `keys.card_refresh`), so each change
    edits each card once.
    """
    cards = session.exec(
        select(Outbox)
        .where(Outbox.incident_id == incident_id, Outbox.kind == OutboxKind.MESSAGE)
        .where(col(Outbox.robot).is_(None))
        .where(col(Outbox.dedup_key).startswith(keys.card_prefix(incident_id)))
        .where(col(Outbox.created_at) < now)  # a card queued in this same cycle already shows it
    ).all()
    new = 0
    for card in cards:
        row = Outbox(
            dedup_key=keys.edit(change, card.id),
            created_at=now,
            incident_id=incident_id,
            kind=OutboxKind.EDIT,
            chat_id=card.chat_id,
            text=text,
            buttons=buttons,
            edit_of=card.id,
            next_attempt_at=now,
        )
        new += insert_ignore(session, row, ["dedup_key"])
    return new


def card_destinations(session: Session, incident_id: int) -> list[Destination]:
    """Where the incident's cards were queued (Telegram chats and robots), in order, each once."""
    rows = session.exec(
        select(Outbox.chat_id, Outbox.robot)
        .where(Outbox.incident_id == incident_id, Outbox.kind == OutboxKind.MESSAGE)
        .where(col(Outbox.dedup_key).startswith(keys.card_prefix(incident_id)))
        .order_by(col(Outbox.id))
    ).all()
    return list(dict.fromkeys(robot if robot is not None else chat for chat, robot in rows))


def sent_keys(session: Session, incident_id: int) -> set[str]:
    """The message keys already queued for an incident (without the chat)."""
    rows = session.exec(select(Outbox.dedup_key).where(Outbox.incident_id == incident_id)).all()
    return {keys.notice_of_row(k) for k in rows}
