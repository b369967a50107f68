"""Queuing messages: one outbox row per (dedup key, chat), stored once however often queued."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, col, select

from ..chat.html import truncate_html
from ..db import insert_ignore
from ..models import Outbox

__all__ = ["Buttons", "queue", "queue_edits", "sent_keys"]

Buttons = list[list[dict[str, str]]]


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
            dedup_key=f"{key}@{chat}",
            created_at=now,
            incident_id=incident_id,
            kind="photo" if photo is not None else "message",
            chat_id=chat,
            text=truncate_html(text, 1024 if photo is not None else 4096),
            buttons=buttons,
            photo=photo,
            next_attempt_at=now,
        )
        new += insert_ignore(session, row, ["dedup_key"])
    return new


def queue_edits(
    session: Session, incident_id: int, key_prefix: str, edit_key: str, text: str, now: datetime,
    buttons: Buttons | None = None,
) -> int:  # fmt: skip
    """Queue an edit of every message whose key starts with `key_prefix` (the incident's cards).

    `edit_key` names this change (e.g. the log event id), so each change edits once.
    """
    cards = session.exec(
        select(Outbox).where(Outbox.incident_id == incident_id, Outbox.kind == "message")
        .where(col(Outbox.dedup_key).startswith(key_prefix))
        .where(col(Outbox.created_at) < now)  # a card queued in this same cycle already shows it
    ).all()  # fmt: skip
    new = 0
    for card in cards:
        row = Outbox(
            dedup_key=f"edit:{edit_key}:{card.id}",
            created_at=now,
            incident_id=incident_id,
            kind="edit",
            chat_id=card.chat_id,
            text=truncate_html(text, 4096),
            buttons=buttons,
            edit_of=card.id,
            next_attempt_at=now,
        )
        new += insert_ignore(session, row, ["dedup_key"])
    return new


def sent_keys(session: Session, incident_id: int) -> set[str]:
    """The notice keys already queued for an incident (without the chat suffix)."""
    keys = session.exec(select(Outbox.dedup_key).where(Outbox.incident_id == incident_id)).all()
    return {k.rsplit("@", 1)[0] for k in keys}
