"""The Telegram sender: python-telegram-bot's Bot, with Telegram's answers turned into the outbox's terms.

Flood control: `build()` gives the bot an AIORateLimiter that paces requests (30/s
overall, 20/min per group) but does not retry a 429 itself (max_retries=0): a retry
inside the limiter would sleep in this process, holding the drain and losing the wait
on restart, while the outbox records `next_attempt_at = now + retry_after` in the
database and gives the chat back to the next drain. The interactive application may
use a limiter with retries for its short answers; this sender is the outbox's.

Failures: a 429 is a `FloodWait`; network errors, timeouts and 5xx are transient;
chat not found, bot blocked or kicked and other 400s are `Rejected` for good. HTML the
server cannot parse is sent again as plain text rather than lost; an edit answered
"message is not modified" counts as delivered.
"""

from __future__ import annotations

import logging
import warnings
from datetime import timedelta
from typing import Any

from ..env import TelegramEnv
from ..i18n import t
from ..present.cards import Buttons
from ..present.html import CALLBACK_MAX_BYTES, CAPTION_LIMIT, TEXT_LIMIT, truncate_html, truncate_text
from ..vocab import OutboxKind
from .base import DeliveryError, FloodWait, Outgoing, Rejected, SendResult, TransientError
from .redact import ExpectedFlood, protect_token, redact

__all__ = ["TelegramSender", "keyboard"]

log = logging.getLogger(__name__)

_EXPECTED_FLOOD = ExpectedFlood()


def keyboard(buttons: Buttons | None, what: str) -> Any:
    """Our button rows ({"text", "callback_data"} or {"text", "url"}) as Telegram's inline keyboard.

    A button whose callback data breaks Telegram's 64-byte limit is dropped and logged: one
    bad button must not cost the whole message.
    """
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    rows = []
    for row in buttons or []:
        made = []
        for spec in row:
            data = spec.get("callback_data")
            if data is not None and not 1 <= len(data.encode("utf-8")) <= CALLBACK_MAX_BYTES:
                log.error("%s: button %r dropped: callback data over 64 bytes", what, spec)
                continue
            made.append(InlineKeyboardButton(spec["text"], callback_data=data, url=spec.get("url")))
        if made:
            rows.append(made)
    return InlineKeyboardMarkup(rows) if rows else None


class TelegramSender:
    """Sends outbox rows through a python-telegram-bot `Bot`."""

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
        """A sender with its own ExtBot (see `from_env`); the addresses may be a server's root."""
        return cls.from_env(TelegramEnv.of(token, base_url, base_file_url), flood_retries=flood_retries)

    @classmethod
    def from_env(cls, env: TelegramEnv, *, flood_retries: int = 0) -> TelegramSender:
        """A sender with its own ExtBot: the environment's API addresses and flood pacing."""
        from telegram.ext import AIORateLimiter, ExtBot
        from telegram.request import HTTPXRequest

        protect_token(env.token)  # before ExtBot(): PTB logs the URL with the token as it is built
        limiter_log = logging.getLogger("telegram.ext.AIORateLimiter")
        if flood_retries == 0 and _EXPECTED_FLOOD not in limiter_log.filters:
            limiter_log.addFilter(_EXPECTED_FLOOD)
        bot = ExtBot(
            env.token,
            base_url=env.base_url,
            base_file_url=env.base_file_url,
            # Chats are drained concurrently: one pooled connection (PTB's default) would queue them.
            # TELEGRAM_PROXY, when set, carries Telegram's requests alone (feeds and robots go direct).
            request=HTTPXRequest(connection_pool_size=8, pool_timeout=10.0, proxy=env.proxy),
            rate_limiter=AIORateLimiter(max_retries=flood_retries),
        )
        return cls(bot)

    @property
    def bot(self) -> Any:
        """The underlying telegram.Bot."""
        return self._bot

    def redact(self, text: str) -> str:
        """`text` with the bot token (and its secret half) replaced."""
        return redact(text, self._token)

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
                raise self._classify(exc, item.chat_id) from None
            log.error(
                "outbox row %d: Telegram could not parse its HTML (%s); sending it as plain text instead",
                item.row_id,
                self.redact(str(exc)),
            )
            try:
                result = await self._send_once(item, plain=True)
            except TelegramError as again:
                raise self._classify(again, item.chat_id) from None
            return SendResult(result.message_id, note=f"sent as plain text: {self.redact(str(exc))}")
        except TelegramError as exc:
            raise self._classify(exc, item.chat_id) from None

    async def _send_once(self, item: Outgoing, plain: bool) -> SendResult:
        from telegram.constants import ParseMode

        limit = CAPTION_LIMIT if item.kind == OutboxKind.PHOTO or item.edit_is_photo else TEXT_LIMIT
        if plain:
            text, mode = truncate_text(item.plain_text(), limit), None
        else:
            text, mode = truncate_html(item.text, limit), ParseMode.HTML
        markup = self._keyboard(item)
        if item.kind == OutboxKind.EDIT:
            return await self._edit(item, text, mode, markup)
        if item.kind == OutboxKind.PHOTO:
            if not item.photo:
                raise Rejected("photo row without image bytes")
            msg = await self._bot.send_photo(
                item.chat_id, photo=item.photo, caption=text or None, parse_mode=mode, reply_markup=markup
            )
            return SendResult(msg.message_id)
        msg = await self._bot.send_message(item.chat_id, text, parse_mode=mode, reply_markup=markup)
        return SendResult(msg.message_id)

    async def _edit(self, item: Outgoing, text: str, mode: Any, markup: Any) -> SendResult:
        from telegram.error import BadRequest

        if item.edit_message_id is None:
            raise Rejected("the original message has no Telegram message id (it went to the console)")
        where = {"chat_id": item.chat_id, "message_id": item.edit_message_id}
        try:
            if item.edit_is_photo:
                msg = await self._bot.edit_message_caption(
                    **where, caption=text, parse_mode=mode, reply_markup=markup
                )
            else:
                msg = await self._bot.edit_message_text(text, **where, parse_mode=mode, reply_markup=markup)
        except BadRequest as exc:
            if "message is not modified" in str(exc).lower():
                return SendResult(item.edit_message_id, note="not modified")
            raise
        return SendResult(getattr(msg, "message_id", item.edit_message_id))

    def _keyboard(self, item: Outgoing) -> Any:
        return keyboard(item.buttons, f"outbox row {item.row_id}")

    def _classify(self, exc: Exception, chat_id: int) -> DeliveryError:
        from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter

        reason = self.redact(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, RetryAfter):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # PTB's int→timedelta deprecation notice
                wait = exc.retry_after
            wait = wait if isinstance(wait, timedelta) else timedelta(seconds=float(wait))
            return FloodWait(reason, wait)
        if isinstance(exc, ChatMigrated):
            # The admins read this reason in their message about the refused rows.
            return Rejected(t("tg_chat_migrated", old_id=chat_id, new_id=exc.new_chat_id), chat_level=True)
        if isinstance(exc, Forbidden):
            return Rejected(reason, chat_level=True)
        if isinstance(exc, BadRequest):  # before NetworkError: PTB makes BadRequest a NetworkError
            return Rejected(reason, chat_level="chat not found" in reason.lower())
        if isinstance(exc, InvalidToken):
            return TransientError("Telegram refused the bot token: check TELEGRAM_BOT_TOKEN")
        return TransientError(reason)
