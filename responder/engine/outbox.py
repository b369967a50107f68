"""Queuing messages: one outbox row per (message key, chat), stored once however often queued.

The rows hold the message as rendered for chat (Telegram HTML); a sender makes it fit
its channel's limits when it sends it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, col, select

from ..db import insert_ignore
from ..models import Outbox
from ..policy import keys
from ..present.cards import Buttons
from ..vocab import OutboxKind

__all__ = ["queue", "queue_edits", "sent_keys"]


def queue(
    session: Session,
    key: str,
    chats: Iterable[int],
    text: str,
    now: datetime,
    *,
    incident_id: int | None = None,
    buttons: Buttons | None = None,
    photo: bytes | None = None,
) -> int:
    """Queue `text` to every chat under `key`; returns how many rows were new.

    The row key is `key` plus the chat, so the same notice to two chats is two rows,
    and queuing it again (a second cycle, a restarted process) is a no-op.
    """
    new = 0
    for chat in dict.fromkeys(chats):  # keep order, drop repeats
        row = Outbox(
            dedup_key=keys.row_key(key, chat),
            created_at=now,
            incident_id=incident_id,
            kind=OutboxKind.PHOTO if photo is not None else OutboxKind.MESSAGE,
            chat_id=chat,
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
    """Queue an edit of every card already sent for the incident (keys under `keys.card_prefix`).

    `change` names this change (`keys.event_change`, `keys.card_refresh`), so each change
    edits each card once.
    """
    cards = session.exec(
        select(Outbox)
        .where(Outbox.incident_id == incident_id, Outbox.kind == OutboxKind.MESSAGE)
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


def sent_keys(session: Session, incident_id: int) -> set[str]:
    """The message keys already queued for an incident (without the chat)."""
    rows = session.exec(select(Outbox.dedup_key).where(Outbox.incident_id == incident_id)).all()
    return {keys.notice_of_row(k) for k in rows}
