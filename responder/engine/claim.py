"""Claiming outbox rows: the due ones, in per-chat order, each by one instance.

A row is claimed (`sending`, with a lease) in one short transaction and sent outside
any. Several instances may claim at once: on PostgreSQL the scan takes row locks with
SKIP LOCKED, so two claim transactions never wait on each other; every claim is also a
compare-and-set on (status, claim_token), which alone suffices on SQLite, where writers
are serialised anyway.

Fencing: each claim stamps the row with its owner (`claimed_by`) and a new token
(`claim_token` + 1). The drain sends a row and records its outcome only while the token
is still the one it claimed with, so a drain that outlived its lease (a frozen process, a
send that hung) never sends or marks a row another instance has taken over since.

Order: each chat's rows go out by `delivery_key`, which is id order except that nothing
about an incident goes before that incident's first card in the chat (a reminder queued
ahead of the card waits right behind it), so the order follows what the rows mean, not the
order they happened to be written in.

A wall clock that was ahead (`responder.clock`) leaves dates in the future: a lease or a
retry time further ahead than any this code sets (`MAX_LEASE`, `MAX_WAIT`) was written by
a wrong clock and is not waited for.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ..models import Outbox
from ..policy import keys
from ..senders.base import Outgoing
from ..vocab import UNSENT_STATUSES, OutboxKind, OutboxStatus

__all__ = ["MAX_LEASE", "MAX_WAIT", "Claimed", "claim", "delivery_key"]

NEVER_DELIVERED = "the message to edit was never delivered"
# The longest lease a drain takes and the longest a row is ever told to wait (backoff, flood
# wait): a stored date further ahead was written by a clock that was wrong.
MAX_LEASE = timedelta(minutes=10)
MAX_WAIT = timedelta(hours=1)


@dataclass(frozen=True)
class Claimed:
    """A row this instance now holds: what the sender needs, and the outbox's own bookkeeping."""

    item: Outgoing
    dedup_key: str
    incident_id: int | None
    attempts: int
    token: int  # the fencing token of this claim: the row is ours while it still holds it


@dataclass(frozen=True)
class _EditOf:
    message_id: int | None = None
    is_photo: bool = False
    after: int | None = None


ChatKey = tuple[int, str | None]  # (Telegram chat id, robot address): one destination


@dataclass(frozen=True)
class _Queued:
    """An outbox row as the delivery order sees it."""

    id: int
    incident_id: int | None
    card: bool  # one of its incident's cards (under `keys.card_prefix`)


def _is_card(kind: str, dedup_key: str, incident_id: int | None) -> bool:
    return (
        incident_id is not None
        and kind == OutboxKind.MESSAGE
        and dedup_key.startswith(keys.card_prefix(incident_id))
    )


_ROW = (
    col(Outbox.id),
    col(Outbox.chat_id),
    col(Outbox.robot),
    col(Outbox.incident_id),
    col(Outbox.kind),
    col(Outbox.dedup_key),
)


def _rows(session: Session, *where: Any) -> Iterator[tuple[ChatKey, _Queued]]:
    """The rows matching `where`, in id order, each with its chat."""
    for row_id, chat_id, robot, incident_id, kind, dedup_key in session.execute(
        sa.select(*_ROW).where(*where).order_by(col(Outbox.id))
    ):
        yield (chat_id, robot), _Queued(row_id, incident_id, _is_card(kind, dedup_key, incident_id))


def delivery_key(row_id: int, first_card: int | None) -> tuple[int, int, int]:
    """Where a row stands in its chat's queue: `first_card` is the id of the first card of the
    row's incident in that chat (None when there is none, or for rows about no incident).

    A row queued before its incident's first card in that chat (the cycle queued a reminder
    ahead of the card, or rows written by an older release or another instance) goes right
    after that card; everything else keeps its id order. So the first card of an incident goes
    out before anything else about it, in every chat, whatever order the rows were written in.
    """
    anchor = row_id if first_card is None else max(row_id, first_card)
    return anchor, 0 if anchor == row_id else 1, row_id


def _first_cards(session: Session, chats: dict[ChatKey, list[_Queued]]) -> dict[tuple[ChatKey, int], int]:
    """The id of each incident's first card per chat, where an unsent row of that incident
    precedes its earliest unsent card (the only case the order changes). Cards already sent
    count too (then nothing moves), so they are looked up; usually there is nothing to look up."""
    suspects: set[tuple[ChatKey, int]] = set()
    for chat, rows in chats.items():
        earliest_card: dict[int, int] = {}
        for r in rows:
            if r.card and r.incident_id is not None:
                earliest_card.setdefault(r.incident_id, r.id)
        for r in rows:
            card = earliest_card.get(r.incident_id) if r.incident_id is not None else None
            if r.incident_id is not None and card is not None and r.id < card:
                suspects.add((chat, r.incident_id))
    if not suspects:
        return {}
    first: dict[tuple[ChatKey, int], int] = {}
    incidents = sorted({incident for _, incident in suspects})
    of_them = col(Outbox.incident_id).in_(incidents)
    for chat, row in _rows(session, of_them, col(Outbox.kind) == OutboxKind.MESSAGE):
        at = (chat, row.incident_id)
        if row.card and row.incident_id is not None and at in suspects:
            first.setdefault((chat, row.incident_id), row.id)
    return first


def _chat_order(session: Session) -> list[list[int]]:
    """Every unsent row id per chat (a Telegram chat or a robot) in delivery order
    (`delivery_key`), chats by their oldest row; read without locks, so a chat is claimable
    only from its real head even when another instance locks some rows."""
    chats: dict[ChatKey, list[_Queued]] = {}
    for chat, row in _rows(session, col(Outbox.status).in_(UNSENT_STATUSES)):
        chats.setdefault(chat, []).append(row)
    first = _first_cards(session, chats)
    order = [
        [
            r.id
            for r in sorted(
                rows,
                key=lambda r: delivery_key(
                    r.id, first.get((chat, r.incident_id)) if r.incident_id is not None else None
                ),
            )
        ]
        for chat, rows in chats.items()
    ]
    return sorted(order, key=min)


def _edit_of(session: Session, row: Outbox, claimed: dict[int, Outbox]) -> _EditOf | str | None:
    """Where an edit row stands: the message it edits (`_EditOf`), "wait" while that message is
    not sent yet, or None when it never will be."""
    original = session.get(Outbox, row.edit_of) if row.edit_of is not None else None
    same_chat = original is not None and (original.chat_id, original.robot) == (row.chat_id, row.robot)
    if original is not None and original.id in claimed and same_chat:
        # Claimed just before in this batch: it is sent first, then edited.
        return _EditOf(is_photo=original.kind == OutboxKind.PHOTO, after=original.id)
    if original is not None and original.status in UNSENT_STATUSES:
        return "wait"
    if original is None or original.status != OutboxStatus.SENT:
        return None  # its failure was reported already
    return _EditOf(original.message_id, original.kind == OutboxKind.PHOTO)


def _take(session: Session, row: Outbox, lease_until: datetime, owner: str) -> bool:
    """Compare-and-set the row to `sending` under a new token: False when another instance
    took it first (the token moved on)."""
    won = session.execute(
        sa.update(Outbox)
        .where(
            col(Outbox.id) == row.id,
            col(Outbox.status) == row.status,
            col(Outbox.claim_token) == row.claim_token,
        )
        .values(
            status=OutboxStatus.SENDING,
            lease_until=lease_until,
            claimed_by=owner,
            claim_token=row.claim_token + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(won.rowcount == 1)  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult at run time


def _due(row: Outbox | None, now: datetime) -> bool:
    if row is None:  # locked by another instance's claim, or new since
        return False
    lease = row.lease_until
    if row.status == OutboxStatus.SENDING and lease is not None and now < lease <= now + MAX_LEASE:
        return False  # in flight elsewhere
    wait = row.next_attempt_at
    return wait is None or wait <= now or wait > now + MAX_WAIT  # else it waits for its retry


def claim(
    engine: Engine, now: datetime, batch: int, lease_until: datetime, owner: str = ""
) -> tuple[list[Claimed], int]:
    """Mark up to `batch` due rows `sending` for `owner`, respecting per-chat order (a chat whose
    head row waits holds back the rest); returns them in delivery order, each with its fencing token,
    and how many edits failed for good because the message they edit was never delivered."""
    claimed: dict[int, Outbox] = {}
    out: list[Claimed] = []
    failed = 0
    with Session(engine, expire_on_commit=False) as session:
        chats = _chat_order(session)
        query = select(Outbox).where(col(Outbox.status).in_(UNSENT_STATUSES)).order_by(col(Outbox.id))
        if engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        mine = {row.id: row for row in session.exec(query)}
        for chat_rows in chats:
            for row_id in chat_rows:
                row = mine.get(row_id)
                if len(out) >= batch or row is None or not _due(row, now):
                    break
                edit = _edit_of(session, row, claimed) if row.kind == OutboxKind.EDIT else _EditOf()
                if edit == "wait":
                    break  # the message to edit does not exist yet
                if edit is None:
                    row.status, row.last_error = OutboxStatus.FAILED, NEVER_DELIVERED
                    failed += 1
                    continue
                if not isinstance(edit, _EditOf) or not _take(session, row, lease_until, owner):
                    break  # another instance took it between our read and our write
                claimed[row.id] = row
                token = row.claim_token + 1
                out.append(Claimed(_outgoing(row, edit), row.dedup_key, row.incident_id, row.attempts, token))
        session.commit()
    return out, failed


def _outgoing(row: Outbox, edit: _EditOf) -> Outgoing:
    return Outgoing(
        row_id=row.id,
        kind=row.kind,
        chat_id=row.chat_id,
        robot=row.robot,
        incident_id=row.incident_id,
        text=row.text,
        buttons=row.buttons,
        photo=row.photo,
        edit_message_id=edit.message_id,
        edit_is_photo=edit.is_photo,
        edit_after=edit.after,
    )
