"""The outbox sender: delivers `Outbox` rows to Telegram (or the console), in order, once.

The shape follows GoAlert's message sender: a row is claimed (`sending` with a lease)
in one short transaction, sent outside any transaction, and marked `sent` only after
the API said ok. A crash between the two leaves the row `sending`; when its lease
expires another drain sends it again. That is the one case where a message can arrive
twice (the one in flight at the crash): we prefer a duplicate to a lost alert.

Ordering: within one chat rows go out in id order, and a chat whose head row waits for
a retry holds back its later rows, so after an outage everything arrives, in order.

Failures:
- 429 `retry_after`: the row waits exactly that long (`next_attempt_at = now + retry_after`).
- network errors, timeouts, 5xx: exponential backoff capped at BACKOFF_CAP, row stays pending.
- rejected for good (chat not found, bot blocked or kicked, other 400s): row `failed`,
  `last_error` kept, and a `FailedDelivery` returned so the caller tells the admins once.
- HTML the server cannot parse: sent again as plain text (tags stripped) rather than lose it.
- edit answered "message is not modified": counted as sent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol, TextIO
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ..chat.html import (
    CALLBACK_MAX_BYTES,
    CAPTION_LIMIT,
    TEXT_LIMIT,
    strip_tags,
    truncate_html,
    truncate_text,
)
from ..i18n import t
from ..models import Outbox

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "ConsoleSender",
    "DeliveryError",
    "DrainStats",
    "FailedDelivery",
    "FloodWait",
    "Outgoing",
    "Rejected",
    "SendResult",
    "Sender",
    "TelegramSender",
    "TransientError",
    "backoff",
    "drain_outbox",
    "make_sender",
    "protect_token",
]

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(seconds=10)
BACKOFF_CAP = timedelta(minutes=5)

LIVE = ("pending", "sending")


# --- what a sender sees and answers ---------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """One outbox row as a sender needs it, detached from the database session."""

    row_id: int
    kind: str  # message, edit, photo
    chat_id: int
    text: str  # Telegram HTML
    buttons: list[list[dict[str, str]]] | None = None
    photo: bytes | None = None
    edit_message_id: int | None = None  # kind='edit': the message produced by row `edit_of`
    edit_is_photo: bool = False  # kind='edit' of a photo: its caption is edited
    edit_after: int | None = None  # kind='edit' whose original goes out earlier in the same drain


@dataclass(frozen=True)
class SendResult:
    """The API said ok. `note` records anything worth keeping (plain-text fallback, not modified)."""

    message_id: int | None
    note: str | None = None


class DeliveryError(Exception):
    """A send that did not succeed; the subclass says what the outbox should do."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class FloodWait(DeliveryError):
    """Telegram said 429: try again after `retry_after`."""

    def __init__(self, reason: str, retry_after: timedelta):
        super().__init__(reason)
        self.retry_after = retry_after


class TransientError(DeliveryError):
    """Network trouble, a timeout, a 5xx: back off and try again."""


class Rejected(DeliveryError):
    """Telegram refused the message for good. `chat_level`: every message to that chat will fail."""

    def __init__(self, reason: str, chat_level: bool = False):
        super().__init__(reason)
        self.chat_level = chat_level


class Sender(Protocol):
    """Delivers one message. Raises a DeliveryError subclass when it could not."""

    async def send(self, item: Outgoing) -> SendResult:
        """Send `item`; return what the API answered."""
        ...


# --- drain statistics -------------------------------------------------------------------


@dataclass(frozen=True)
class FailedDelivery:
    """A row Telegram rejected for good; the caller queues one admin report per failure."""

    outbox_id: int
    dedup_key: str
    chat_id: int
    incident_id: int | None
    kind: str
    reason: str


@dataclass
class DrainStats:
    """What one drain did."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0  # attempted, failed for a passing reason, pending again
    held: int = 0  # claimed but not attempted: an earlier row of the same chat is waiting
    failed: int = 0
    permanent_failures: list[FailedDelivery] = field(default_factory=list)


def backoff(attempts: int) -> timedelta:
    """Delay after the `attempts`-th transient failure in a row: 10 s, 20 s, 40 s ... capped at 5 min."""
    return min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(0, attempts - 1)))


# --- claiming ---------------------------------------------------------------------------


def _claim(
    engine: Engine, now: datetime, batch: int, lease_until: datetime, stats: DrainStats
) -> list[Outgoing]:
    """Mark up to `batch` due rows `sending`, respecting per-chat order; return them in id order.

    Several instances may drain at once. On PostgreSQL the scan takes row locks with
    SKIP LOCKED, so two claim transactions never wait on each other; every claim is also
    a compare-and-set on (status, lease_until), which alone suffices on SQLite, where
    writers are serialised anyway.
    """
    with Session(engine, expire_on_commit=False) as session:
        # The true order of every live row, read without locks: a chat is claimable only
        # from its real head, even when another instance holds locks on some of its rows.
        order: dict[int, list[int]] = {}
        for row_id, chat_id in session.exec(
            select(Outbox.id, Outbox.chat_id).where(Outbox.status.in_(LIVE)).order_by(Outbox.id)  # type: ignore[union-attr,attr-defined]
        ):
            order.setdefault(chat_id, []).append(row_id)
        query = select(Outbox).where(Outbox.status.in_(LIVE)).order_by(Outbox.id)  # type: ignore[union-attr,attr-defined]
        if engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        mine = {row.id: row for row in session.exec(query)}

        claimed: list[Outgoing] = []
        claimed_ids: set[int] = set()
        for chat_rows in sorted(order.values(), key=lambda ids: ids[0]):
            for row_id in chat_rows:
                if len(claimed) >= batch:
                    break
                row = mine.get(row_id)
                if row is None:  # locked by another instance's claim, or new since
                    break
                if row.status == "sending" and row.lease_until is not None and row.lease_until > now:
                    break  # in flight elsewhere
                if row.next_attempt_at is not None and row.next_attempt_at > now:
                    break  # waiting for its retry: later rows of this chat wait too
                edit_message_id, edit_is_photo, edit_after = None, False, None
                if row.kind == "edit":
                    original = session.get(Outbox, row.edit_of) if row.edit_of is not None else None
                    if (
                        original is not None
                        and original.id in claimed_ids
                        and original.chat_id == row.chat_id
                    ):
                        # Claimed just before in this batch: it is sent first, then edited.
                        edit_is_photo, edit_after = original.kind == "photo", original.id
                    elif original is not None and original.status in LIVE:
                        break  # the message to edit does not exist yet
                    elif original is None or original.status != "sent":
                        # Its original was never delivered (that failure was reported already).
                        row.status, row.last_error = "failed", "the message to edit was never delivered"
                        stats.failed += 1
                        continue
                    else:
                        edit_message_id, edit_is_photo = original.message_id, original.kind == "photo"
                won = session.execute(
                    sa.update(Outbox)
                    .where(
                        Outbox.id == row.id,  # type: ignore[arg-type]
                        Outbox.status == row.status,  # type: ignore[arg-type]
                        Outbox.lease_until.is_not_distinct_from(row.lease_until),  # type: ignore[union-attr]
                    )
                    .values(status="sending", lease_until=lease_until)
                    .execution_options(synchronize_session=False)
                )
                if won.rowcount != 1:  # type: ignore[attr-defined]
                    break  # another instance took it between our read and our write
                claimed.append(
                    Outgoing(
                        row_id=row.id,  # type: ignore[arg-type]
                        kind=row.kind,
                        chat_id=row.chat_id,
                        text=row.text,
                        buttons=row.buttons,
                        photo=row.photo,
                        edit_message_id=edit_message_id,
                        edit_is_photo=edit_is_photo,
                        edit_after=edit_after,
                    )
                )
                claimed_ids.add(row.id)  # type: ignore[arg-type]
        session.commit()
    stats.claimed += len(claimed)
    return claimed


def _update(engine: Engine, row_id: int, only_if_sending: bool = True, **values: Any) -> None:
    with Session(engine) as session:
        stmt = sa.update(Outbox).where(Outbox.id == row_id)  # type: ignore[arg-type]
        if only_if_sending:
            stmt = stmt.where(Outbox.status == "sending")  # type: ignore[arg-type]
        session.execute(stmt.values(**values).execution_options(synchronize_session=False))
        session.commit()


def _row_info(engine: Engine, row_id: int) -> tuple[str, int | None, int]:
    with Session(engine) as session:
        row = session.get(Outbox, row_id)
        assert row is not None
        return row.dedup_key, row.incident_id, row.attempts


# --- draining -----------------------------------------------------------------------------


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
    claimed = _claim(engine, now, batch, now + lease, stats)
    by_chat: dict[int, list[Outgoing]] = {}
    for item in claimed:
        by_chat.setdefault(item.chat_id, []).append(item)
    # Chats are independent: send them concurrently; within a chat, one after another.
    await asyncio.gather(
        *(_drain_chat(engine, sender, now, instance, items, stats) for items in by_chat.values())
    )
    if claimed:
        log.info(
            "outbox drain by %s: %d claimed, %d sent, %d to retry, %d held, %d failed",
            instance,
            stats.claimed,
            stats.sent,
            stats.retrying,
            stats.held,
            stats.failed,
        )
    return stats


async def _drain_chat(
    engine: Engine, sender: Sender, now: datetime, instance: str, items: Sequence[Outgoing], stats: DrainStats
) -> None:
    dead_chat: str | None = None  # set when the chat itself refused: the rest fail without a call
    delivered: dict[int, int | None] = {}  # row id -> message id, for edits of rows sent just now
    for index, item in enumerate(items):
        if item.edit_after is not None:
            if item.edit_after not in delivered:
                _update(engine, item.row_id, status="failed", lease_until=None,
                        last_error="the message to edit was never delivered")  # fmt: skip
                stats.failed += 1
                continue
            item = replace(item, edit_message_id=delivered[item.edit_after])
        try:
            if dead_chat is not None:
                raise Rejected(dead_chat, chat_level=True)
            result = await sender.send(item)
        except asyncio.CancelledError:
            # Shutting down. Rows not yet tried go back to pending at once; the one in flight
            # stays `sending` until its lease expires, because whether it arrived is unknown.
            _release(engine, items[index + 1 :], stats)
            raise
        except FloodWait as exc:
            log.warning(
                "outbox row %d: flood limit, retry in %s (%s)", item.row_id, exc.retry_after, instance
            )
            _update(engine, item.row_id, status="pending", lease_until=None,
                    next_attempt_at=now + exc.retry_after, last_error=exc.reason)  # fmt: skip
            stats.retrying += 1
            _release(engine, items[index + 1 :], stats)
            return
        except Rejected as exc:
            if exc.chat_level:
                dead_chat = exc.reason
            log.error("outbox row %d to chat %d rejected for good: %s", item.row_id, item.chat_id, exc.reason)
            _update(engine, item.row_id, status="failed", lease_until=None, last_error=exc.reason)
            stats.failed += 1
            dedup_key, incident_id, _ = _row_info(engine, item.row_id)
            stats.permanent_failures.append(
                FailedDelivery(item.row_id, dedup_key, item.chat_id, incident_id, item.kind, exc.reason)
            )
            continue
        except Exception as exc:
            # TransientError, or a bug in a sender: either way keep the row and try later,
            # because dropping an alert is worse than retrying one.
            if not isinstance(exc, TransientError):
                log.exception("outbox row %d: unexpected error while sending; will retry", item.row_id)
            reason = exc.reason if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
            _, _, attempts = _row_info(engine, item.row_id)
            delay = backoff(attempts + 1)
            log.warning("outbox row %d: %s; retry in %s (%s)", item.row_id, reason, delay, instance)
            _update(engine, item.row_id, status="pending", lease_until=None, attempts=attempts + 1,
                    next_attempt_at=now + delay, last_error=reason)  # fmt: skip
            stats.retrying += 1
            _release(engine, items[index + 1 :], stats)
            return
        _update(engine, item.row_id, status="sent", lease_until=None, sent_at=now,
                message_id=result.message_id, last_error=result.note)  # fmt: skip
        delivered[item.row_id] = result.message_id
        stats.sent += 1


def _release(engine: Engine, items: Sequence[Outgoing], stats: DrainStats) -> None:
    """Give back rows claimed behind a row that must wait, untouched, for a later drain."""
    for item in items:
        _update(engine, item.row_id, status="pending", lease_until=None)
        stats.held += 1


# --- the console sender ---------------------------------------------------------------------


class ConsoleSender:
    """Prints each message to a stream: the embedded default when no bot token is set."""

    def __init__(self, stream: TextIO | None = None):
        self._stream = stream
        self._hinted = False

    async def send(self, item: Outgoing) -> SendResult:
        """Print `item` as plain text; the first call also says how to connect a bot."""
        out = self._stream or sys.stdout
        if not self._hinted:
            print(t("console_no_token"), file=out)
            self._hinted = True
        mark = {"edit": "✎", "photo": "🖼"}.get(item.kind, "✉")
        print(f"{mark} [{item.chat_id}] {strip_tags(item.text)}", file=out)
        if item.buttons:
            print("   " + " ".join(f"[{b.get('text', '')}]" for row in item.buttons for b in row), file=out)
        out.flush()
        return SendResult(message_id=None)

    async def aclose(self) -> None:
        """Nothing to close; here so callers can close any sender alike."""


# --- the Telegram sender --------------------------------------------------------------------

# Loggers that can see a request URL (which holds the token). PTB logs its API URL at
# DEBUG when a Bot is built; httpx logs every request URL at INFO.
_URL_LOGGERS = (
    "httpx",
    "httpcore",
    "telegram",
    "telegram.Bot",
    "telegram.ext",
    "telegram.ext.ExtBot",
    "telegram.ext.Updater",
    "telegram.ext.Application",
    "telegram.ext.AIORateLimiter",
    "telegram.request.BaseRequest",
    "telegram.request.HTTPXRequest",
)


class _Redactor(logging.Filter):
    """Rewrites records that mention a known secret. One instance, shared by every logger."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self.secrets):
            for secret in sorted(self.secrets, key=len, reverse=True):
                message = message.replace(secret, "<token>")
            record.msg, record.args = message, None
        return True


_REDACTOR = _Redactor()


class _ExpectedFlood(logging.Filter):
    """Drops AIORateLimiter's ERROR-with-traceback for a 429 it was told not to retry
    (max_retries=0): the outbox handles that 429 and logs one warning of its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (str(record.msg).startswith("Rate limit hit after maximum of") and record.args == (0,))


_EXPECTED_FLOOD = _ExpectedFlood()


def protect_token(token: str) -> None:
    """Keep `token` out of the logs: httpx/httpcore at WARNING, and PTB's and httpx's
    records redacted. Call before building any Bot with that token (PTB logs its URL then).
    """
    if not token:
        return
    _REDACTOR.secrets.add(token)
    secret = token.split(":", 1)[-1]
    if len(secret) >= 8:
        _REDACTOR.secrets.add(secret)
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in _URL_LOGGERS:
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)


def _normalise_base(url: str | None, default: str, suffix: str, name: str) -> str:
    if not url:
        return default
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{name}={url!r} is not an http(s) URL; expected e.g. http://127.0.0.1:8081{suffix}")
    if "{token}" not in url and parts.path in ("", "/"):
        # The self-hosted server's root was given: the token goes after /bot, as on api.telegram.org.
        return url.rstrip("/") + suffix
    return url


class TelegramSender:
    """Sends through python-telegram-bot's Bot.

    Flood control: `build()` gives the bot an AIORateLimiter that paces requests (30/s
    overall, 20/min per group) but does not retry a 429 itself (max_retries=0): a retry
    inside the limiter would sleep in this process, holding the drain and losing the wait
    on restart, while the outbox records `next_attempt_at = now + retry_after` in the
    database and gives the chat back to the next drain. The interactive application may
    use a limiter with retries for its short answers; this sender is the outbox's.
    """

    def __init__(self, bot: Any):
        self._bot = bot
        self._token: str = bot.token
        self._started = False
        protect_token(self._token)

    @classmethod
    def build(
        cls,
        token: str,
        *,
        base_url: str | None = None,
        base_file_url: str | None = None,
        flood_retries: int = 0,
    ) -> TelegramSender:
        """A sender with its own ExtBot: given API URLs (self-hosted Bot API server) and flood pacing."""
        from telegram.ext import AIORateLimiter, ExtBot
        from telegram.request import HTTPXRequest

        if not token or ":" not in token:
            raise ValueError(
                "TELEGRAM_BOT_TOKEN does not look like a bot token (expected digits:secret from @BotFather)"
            )
        protect_token(token)  # before ExtBot(): PTB logs the URL with the token as it is built
        limiter_log = logging.getLogger("telegram.ext.AIORateLimiter")
        if flood_retries == 0 and _EXPECTED_FLOOD not in limiter_log.filters:
            limiter_log.addFilter(_EXPECTED_FLOOD)
        bot = ExtBot(
            token,
            base_url=_normalise_base(base_url, "https://api.telegram.org/bot", "/bot", "TELEGRAM_BASE_URL"),
            base_file_url=_normalise_base(
                base_file_url, "https://api.telegram.org/file/bot", "/file/bot", "TELEGRAM_FILE_BASE_URL"
            ),
            # Chats are drained concurrently: one pooled connection (PTB's default) would queue them.
            request=HTTPXRequest(connection_pool_size=8, pool_timeout=10.0),
            rate_limiter=AIORateLimiter(max_retries=flood_retries),
        )
        return cls(bot)

    @property
    def bot(self) -> Any:
        """The underlying telegram.Bot."""
        return self._bot

    def redact(self, text: str) -> str:
        """`text` with the bot token (and its secret half) replaced."""
        secret = self._token.split(":", 1)[-1]
        return text.replace(self._token, "<token>").replace(secret, "<token>") if secret else text

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        if self._started:
            self._started = False
            await self._bot.shutdown()

    async def send(self, item: Outgoing) -> SendResult:
        """Send, edit or upload `item`; translate Telegram's answer into the outbox's terms."""
        from telegram.error import BadRequest, TelegramError

        try:
            if not self._started:
                await self._bot.initialize()  # getMe; a failure here is transient like any other
                self._started = True
            return await self._send_once(item, plain=False)
        except BadRequest as exc:
            if "can't parse entities" not in str(exc).lower():
                raise self._classify(exc) from None
            log.error(
                "outbox row %d: Telegram could not parse its HTML (%s); sending it as plain text instead",
                item.row_id,
                self.redact(str(exc)),
            )
            try:
                result = await self._send_once(item, plain=True)
            except TelegramError as again:
                raise self._classify(again) from None
            return SendResult(result.message_id, note=f"sent as plain text: {self.redact(str(exc))}")
        except TelegramError as exc:
            raise self._classify(exc) from None

    async def _send_once(self, item: Outgoing, plain: bool) -> SendResult:
        from telegram.constants import ParseMode
        from telegram.error import BadRequest

        limit = CAPTION_LIMIT if item.kind == "photo" or item.edit_is_photo else TEXT_LIMIT
        if plain:
            text, mode = truncate_text(strip_tags(item.text), limit), None
        else:
            text, mode = truncate_html(item.text, limit), ParseMode.HTML
        markup = self._keyboard(item)
        bot = self._bot
        if item.kind == "edit":
            if item.edit_message_id is None:
                raise Rejected("the original message has no Telegram message id (it went to the console)")
            try:
                if item.edit_is_photo:
                    msg = await bot.edit_message_caption(
                        chat_id=item.chat_id, message_id=item.edit_message_id, caption=text,
                        parse_mode=mode, reply_markup=markup,
                    )  # fmt: skip
                else:
                    msg = await bot.edit_message_text(
                        text, chat_id=item.chat_id, message_id=item.edit_message_id,
                        parse_mode=mode, reply_markup=markup,
                    )  # fmt: skip
            except BadRequest as exc:
                if "message is not modified" in str(exc).lower():
                    return SendResult(item.edit_message_id, note="not modified")
                raise
            return SendResult(getattr(msg, "message_id", item.edit_message_id))
        if item.kind == "photo":
            if not item.photo:
                raise Rejected("photo row without image bytes")
            msg = await bot.send_photo(
                item.chat_id, photo=item.photo, caption=text or None, parse_mode=mode, reply_markup=markup
            )
            return SendResult(msg.message_id)
        msg = await bot.send_message(item.chat_id, text, parse_mode=mode, reply_markup=markup)
        return SendResult(msg.message_id)

    def _keyboard(self, item: Outgoing) -> Any:
        from telegram import InlineKeyboardButton, InlineKeyboardMarkup

        if not item.buttons:
            return None
        rows = []
        for row in item.buttons:
            buttons = []
            for spec in row:
                data = spec.get("callback_data")
                if data is not None and not 1 <= len(data.encode("utf-8")) <= CALLBACK_MAX_BYTES:
                    # One bad button must not cost the whole alert: drop it, say so loudly.
                    log.error(
                        "outbox row %d: button %r dropped: callback data over 64 bytes", item.row_id, spec
                    )
                    continue
                buttons.append(InlineKeyboardButton(**spec))
            if buttons:
                rows.append(buttons)
        return InlineKeyboardMarkup(rows) if rows else None

    def _classify(self, exc: Exception) -> DeliveryError:
        from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter

        reason = self.redact(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, RetryAfter):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # PTB's int→timedelta deprecation notice
                wait = exc.retry_after
            wait = wait if isinstance(wait, timedelta) else timedelta(seconds=float(wait))
            return FloodWait(reason, wait)
        if isinstance(exc, ChatMigrated):
            return Rejected(
                f"the group became supergroup {exc.new_chat_id}: put that id in the configuration",
                chat_level=True,
            )
        if isinstance(exc, Forbidden):
            return Rejected(reason, chat_level=True)
        if isinstance(exc, BadRequest):  # before NetworkError: PTB makes BadRequest a NetworkError
            return Rejected(reason, chat_level="chat not found" in reason.lower())
        if isinstance(exc, InvalidToken):
            return TransientError("Telegram refused the bot token: check TELEGRAM_BOT_TOKEN")
        return TransientError(reason)


def make_sender(env: Mapping[str, str] | None = None) -> TelegramSender | ConsoleSender:
    """TelegramSender when TELEGRAM_BOT_TOKEN is set (with TELEGRAM_BASE_URL /
    TELEGRAM_FILE_BASE_URL for a self-hosted Bot API server), else the ConsoleSender."""
    env = os.environ if env is None else env
    token = (env.get("TELEGRAM_BOT_TOKEN") or "").strip()
    if not token:
        return ConsoleSender()
    return TelegramSender.build(
        token,
        base_url=(env.get("TELEGRAM_BASE_URL") or "").strip() or None,
        base_file_url=(env.get("TELEGRAM_FILE_BASE_URL") or "").strip() or None,
    )
