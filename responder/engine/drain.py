"""Draining the outbox: send the claimed rows through a sender, once each, in order, and record it.

The shape follows GoAlert's message sender: rows are claimed (`responder.engine.claim`),
sent outside any transaction, and marked `sent` only after the channel said ok. A crash
between the two leaves the row `sending`; when its lease expires another drain sends it
again. That is the one case where a message can arrive twice (the one in flight at the
crash): we prefer a duplicate to a lost alert.

Fencing: a row is sent, and its outcome recorded, only while it still carries this drain's
claim token (`responder.engine.claim`). A drain that outlived its lease (a send that hung,
a frozen process) finds the rows another instance took over since and leaves them alone:
of those, only the one that was on the wire when the lease ran out can arrive twice.

Ordering: within one chat rows go out in delivery order (`claim.delivery_key`: id order,
except that an incident's first card goes before anything else about it), and a chat whose
head row waits for a retry holds back its later rows, so after an outage everything
arrives, in order.

Failures (the sender says which, `responder.senders.base`):
- `FloodWait`: the row waits exactly that long (`next_attempt_at = now + retry_after`, at
  most `MAX_WAIT`: then it asks again);
- `TransientError` (network, timeout, 5xx) or a bug in a sender: exponential backoff
  capped at BACKOFF_CAP, the row stays pending;
- `Rejected` (chat not found, bot blocked, other 400s): the row is `failed`, `last_error`
  kept, and a `FailedDelivery` returned so the caller tells the admins once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from ..models import Outbox
from ..senders.base import DeliveryError, FloodWait, Rejected, Sender, SendResult, TransientError
from ..vocab import OutboxKind, OutboxStatus
from .claim import MAX_WAIT, NEVER_DELIVERED, Claimed, claim

__all__ = ["BACKOFF_BASE", "BACKOFF_CAP", "DrainStats", "FailedDelivery", "backoff", "drain_outbox"]

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(seconds=10)
BACKOFF_CAP = timedelta(minutes=5)


@dataclass(frozen=True)
class FailedDelivery:
    """A row the channel rejected for good; the caller queues one admin report per failure."""

    outbox_id: int
    dedup_key: str
    chat_id: int
    incident_id: int | None
    kind: OutboxKind
    reason: str
    robot: str | None = None  # the robot's address, when the row went to a robot
    chat_level: bool = False  # the chat (or robot) refuses everything, not just this row


@dataclass
class DrainStats:
    """What one drain did."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0  # attempted, failed for a passing reason, pending again
    held: int = 0  # claimed but not attempted: an earlier row of the same chat is waiting
    taken_over: int = 0  # claimed, but another instance holds it now (this drain outlived its lease)
    failed: int = 0
    permanent_failures: list[FailedDelivery] = field(default_factory=list)


def backoff(attempts: int) -> timedelta:
    """Delay after the `attempts`-th transient failure in a row: 10 s, 20 s, 40 s ... capped at 5 min."""
    return min(BACKOFF_CAP, BACKOFF_BASE * (1 << max(0, attempts - 1)))


def _mine(row: Claimed) -> Any:
    """The condition that `row` is still held by the claim that gave it to this drain."""
    return sa.and_(
        col(Outbox.id) == row.item.row_id,
        col(Outbox.status) == OutboxStatus.SENDING,
        col(Outbox.claim_token) == row.token,
    )


def _update(engine: Engine, row: Claimed, **values: Any) -> bool:
    """Record an outcome on a row this drain still holds; False (nothing written) when it does not."""
    with Session(engine) as session:
        stmt = sa.update(Outbox).where(_mine(row)).values(**values)
        done = session.execute(stmt.execution_options(synchronize_session=False))
        session.commit()
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult at run time


def _holds(engine: Engine, row: Claimed) -> bool:
    """True while the row still carries this drain's claim (checked just before sending it)."""
    with Session(engine) as session:
        return session.execute(sa.select(col(Outbox.id)).where(_mine(row))).first() is not None


def _release(engine: Engine, rows: Sequence[Claimed], stats: DrainStats) -> None:
    """Give back rows claimed behind a row that must wait, untouched, for a later drain."""
    for row in rows:
        if _update(engine, row, status=OutboxStatus.PENDING, lease_until=None, claimed_by=None):
            stats.held += 1


def _taken_over(row: Claimed, instance: str, stats: DrainStats, *, sent: bool) -> None:
    stats.taken_over += 1
    what = "was sent here, and may arrive twice" if sent else "was not sent here"
    log.warning(
        "outbox row %d was taken over by another instance while %s held it past its lease; it %s",
        row.item.row_id,
        instance,
        what,
    )


async def drain_outbox(
    engine: Engine,
    sender: Sender,
    now: datetime,
    instance: str,
    batch: int = 20,
    lease: timedelta = timedelta(seconds=60),
) -> DrainStats:
    """Send the due outbox rows once each, in per-chat order, and record the outcome.

    `now` is the cycle's clock: it decides what is due and stamps sent_at and retry times.
    `lease` must outlast one drain's sends (batch × flood pacing), or another instance may
    take a row over while it is still being sent. Never raises for a failed send; returns
    what happened, with `permanent_failures` for the caller to report to the admins (do
    not report failures of the admin reports themselves, or a dead admin chat loops).
    Cancelling it (shutdown) leaves nothing half-written: untried rows are pending again.
    """
    stats = DrainStats()
    claimed, stats.failed = claim(engine, now, batch, now + lease, instance)
    stats.claimed = len(claimed)
    by_chat: dict[tuple[int, str | None], list[Claimed]] = {}
    for row in claimed:
        by_chat.setdefault((row.item.chat_id, row.item.robot), []).append(row)
    # Chats are independent: send them concurrently; within a chat, one after another.
    await asyncio.gather(
        *(_drain_chat(engine, sender, now, instance, rows, stats) for rows in by_chat.values())
    )
    if claimed:
        log.info(
            "outbox drain by %s: %d claimed, %d sent, %d to retry, %d held, %d taken over, %d failed",
            instance,
            stats.claimed,
            stats.sent,
            stats.retrying,
            stats.held,
            stats.taken_over,
            stats.failed,
        )
    return stats


async def _drain_chat(
    engine: Engine, sender: Sender, now: datetime, instance: str, rows: Sequence[Claimed], stats: DrainStats
) -> None:
    dead_chat: str | None = None  # set when the chat itself refused: the rest fail without a call
    delivered: dict[int, int | None] = {}  # row id -> message id, for edits of rows sent just now
    for index, row in enumerate(rows):
        item = row.item
        if item.edit_after is not None:
            if item.edit_after not in delivered:
                if _update(
                    engine, row, status=OutboxStatus.FAILED, lease_until=None, last_error=NEVER_DELIVERED
                ):
                    stats.failed += 1
                continue
            item = dataclasses.replace(item, edit_message_id=delivered[item.edit_after])
        if not _holds(engine, row):
            # Another instance took this row over: it sends this one and, in order, the rest.
            _taken_over(row, instance, stats, sent=False)
            _release(engine, rows[index + 1 :], stats)
            return
        try:
            if dead_chat is not None:
                raise Rejected(dead_chat, chat_level=True)
            result = await sender.send(item)
        except asyncio.CancelledError:
            # Shutting down. Rows not yet tried go back to pending at once; the one in flight
            # stays `sending` until its lease expires, because whether it arrived is unknown.
            _release(engine, rows[index + 1 :], stats)
            raise
        except Rejected as exc:
            dead_chat = exc.reason if exc.chat_level else dead_chat
            _rejected(engine, row, exc, instance, stats)
            continue
        except Exception as exc:
            _retry_later(engine, row, exc, now, instance, stats)
            _release(engine, rows[index + 1 :], stats)
            return
        if not _sent(engine, row, result, now, instance, stats):
            _release(engine, rows[index + 1 :], stats)
            return
        delivered[item.row_id] = result.message_id


def _sent(
    engine: Engine, row: Claimed, result: SendResult, now: datetime, instance: str, stats: DrainStats
) -> bool:
    """Mark the row sent; False when it was taken over meanwhile (its new holder records it)."""
    marked = _update(
        engine,
        row,
        status=OutboxStatus.SENT,
        lease_until=None,
        sent_at=now,
        message_id=result.message_id,
        last_error=result.note,
    )
    if marked:
        stats.sent += 1
    else:
        _taken_over(row, instance, stats, sent=True)
    return marked


def _rejected(engine: Engine, row: Claimed, exc: Rejected, instance: str, stats: DrainStats) -> None:
    item = row.item
    where = item.robot or item.chat_id
    log.error("outbox row %d to chat %s rejected for good: %s", item.row_id, where, exc.reason)
    if not _update(engine, row, status=OutboxStatus.FAILED, lease_until=None, last_error=exc.reason):
        _taken_over(row, instance, stats, sent=False)
        return
    stats.failed += 1
    failure = FailedDelivery(
        item.row_id,
        row.dedup_key,
        item.chat_id,
        row.incident_id,
        item.kind,
        exc.reason,
        item.robot,
        exc.chat_level,
    )
    stats.permanent_failures.append(failure)


def _retry_later(
    engine: Engine, row: Claimed, exc: Exception, now: datetime, instance: str, stats: DrainStats
) -> None:
    """A flood wait waits as long as told; anything else backs off. The row stays pending."""
    row_id = row.item.row_id
    if isinstance(exc, FloodWait):
        wait = min(exc.retry_after, MAX_WAIT)
        log.warning("outbox row %d: flood limit, retry in %s (%s)", row_id, wait, instance)
        _update(
            engine,
            row,
            status=OutboxStatus.PENDING,
            lease_until=None,
            claimed_by=None,
            next_attempt_at=now + wait,
            last_error=exc.reason,
        )
    else:
        # TransientError, or a bug in a sender: either way keep the row and try later,
        # because dropping an alert is worse than retrying one.
        if not isinstance(exc, TransientError):
            log.exception("outbox row %d: unexpected error while sending; will retry", row_id, exc_info=exc)
        reason = exc.reason if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
        delay = backoff(row.attempts + 1)
        log.warning("outbox row %d: %s; retry in %s (%s)", row_id, reason, delay, instance)
        _update(
            engine,
            row,
            status=OutboxStatus.PENDING,
            lease_until=None,
            claimed_by=None,
            attempts=row.attempts + 1,
            next_attempt_at=now + delay,
            last_error=reason,
        )
    stats.retrying += 1
