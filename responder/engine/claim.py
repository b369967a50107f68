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

A wall clock that was ahead (`responder.clock`) leaves dates in the future: a lease or a
retry time further ahead than any this code sets (`MAX_LEASE`, `MAX_WAIT`) was written by
a wrong clock and is not waited for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ..models import Outbox
from ..senders.base import Outgoing
from ..vocab import UNSENT_STATUSES, OutboxKind, OutboxStatus

__all__ = ["MAX_LEASE", "MAX_WAIT", "Claimed", "claim"]

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


def _chat_order(session: Session) -> list[list[int]]:
    """Every unsent row id per chat (a Telegram chat or a robot), in id order, chats by their
    oldest row; read without locks, so a chat is claimable only from its real head even when
    another instance locks some rows."""
    order: dict[tuple[int, str | None], list[int]] = {}
    unsent = col(Outbox.status).in_(UNSENT_STATUSES)
    for row_id, chat_id, robot in session.exec(
        select(Outbox.id, Outbox.chat_id, Outbox.robot).where(unsent).order_by(col(Outbox.id))
    ):
        order.setdefault((chat_id, robot), []).append(row_id)
    return sorted(order.values(), key=lambda ids: ids[0])


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
    head row waits holds back the rest); returns them in id order, each with its fencing token,
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
