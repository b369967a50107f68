"""The Telegram side people talk to: the command table installed, card buttons, and who may use them.

`build_application` returns a python-telegram-bot Application: one handler per row of
`responder.chat.table.COMMANDS`, plus the card buttons and the reply that dismisses. The
caller runs it inside its own event loop (`async with app:`, `app.start()`,
`app.updater.start_polling()`) and calls `register_commands(app.bot)` once.

Two kinds of output, on purpose:
- the answer to the person who asked (a command's reply, a button's toast) is sent
  directly: it only matters while they are looking;
- what other people must see (the cards edited, the confirmations) is queued in the
  outbox by the actions and sent by the outbox sender, so it survives an outage.

Authorisation: commands count only in the roster's chats (duty, policy office, admin)
and in private chats of people in the roster; each action needs a role that allows it
(`actions.can`). Everyone else gets a polite refusal and a WARNING in the log with
their user id and chat (never the bot token, which `protect_token` keeps out of logs).
Each handler reads the clock once and passes that `now` down.

Every message the handlers send goes through `responder.chat.throttle.ReplyLimiter`
(each chat's share of Telegram's limits, refusals to one person at most once per few
minutes), and `/summary` answers come from an `AnswerCache`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session
from telegram import BotCommand, Chat, ForceReply, Message, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from ..engine import actions
from ..engine.actions import MAX_INCIDENT_ID, ActionResult, Actor
from ..env import TelegramEnv
from ..i18n import t
from ..models import utcnow
from ..present.cards import HEAD_NO, HEAD_YES
from ..present.html import esc, strip_tags, truncate_html, truncate_text, unpack_callback
from ..runtime import Settings
from ..senders.redact import protect_token
from ..senders.telegram import keyboard
from ..vocab import Outlet
from .commands import UsageError
from .table import ALIASES, COMMANDS, Answer, Command, Request, run_action
from .throttle import AnswerCache, ReplyLimiter

__all__ = ["Clock", "build_application", "register_commands"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
App = Application[Any, Any, Any, Any, Any, Any]  # PTB's defaults for bot, context and the three data stores
Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]
_CALLBACK_TEXT = 200  # Telegram's limit on answerCallbackQuery text


async def register_commands(bot: Any) -> bool:
    """Register the command list (Chinese descriptions) with setMyCommands."""
    return bool(await bot.set_my_commands([BotCommand(c.name, t(c.description)) for c in COMMANDS]))


def build_application(
    settings: Settings,
    engine: Engine,
    telegram: TelegramEnv,
    *,
    clock: Clock = utcnow,
    limiter: ReplyLimiter | None = None,
    answers: AnswerCache[Any] | None = None,
) -> App:
    """The PTB Application with every command and button handler installed.

    `telegram` says where the Bot API is (api.telegram.org or a self-hosted server);
    `clock` gives the business time (UTC), read once per update; `limiter` paces the
    answers and `answers` keeps heavy ones a while (fresh ones by default).
    """
    protect_token(telegram.token)  # before the Bot exists: PTB logs its URL, token included
    # Handlers keep no state between updates and run their database work in threads, so
    # several updates may be handled at once (one slow /summary must not queue the rest).
    builder = ApplicationBuilder().token(telegram.token).concurrent_updates(8)
    builder = builder.base_url(telegram.base_url).base_file_url(telegram.base_file_url)
    if telegram.proxy:  # TELEGRAM_PROXY: the bot's requests and getUpdates alike
        builder = builder.proxy(telegram.proxy).get_updates_proxy(telegram.proxy)
    app = builder.build()
    _Handlers(settings, engine, clock, limiter or ReplyLimiter(), answers or AnswerCache()).install(app)
    return app


def _prompt_pattern() -> re.Pattern[str]:
    """The 误报 prompt as the client shows it (tags gone), with the incident id captured."""
    shown = strip_tags(t("tg_dismiss_prompt", id="\x00", who="\x01"))
    slots = {"\x00": r"(?P<id>\d+)", "\x01": r".*?"}
    parts = re.split("([\x00\x01])", shown)
    return re.compile("".join(slots.get(p) or re.escape(p) for p in parts), re.S)


class _Handlers:
    """The handlers, sharing settings, the database engine and the clock."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        clock: Clock,
        limiter: ReplyLimiter,
        answers: AnswerCache[Any],
    ):
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.limiter = limiter
        self.answers = answers
        self._waiting: set[asyncio.Task[None]] = set()  # answers waiting for their slot

    def install(self, app: App) -> None:
        """One handler per command of the table (and its aliases), the buttons, the 误报 reply, the rest."""
        only_new = filters.UpdateType.MESSAGE  # an edited "/ack 3" must not act twice
        by_name = {c.name: c for c in COMMANDS}
        for command in COMMANDS:
            app.add_handler(CommandHandler(command.name, self.handler(command), filters=only_new))
        for alias, name in ALIASES.items():
            app.add_handler(CommandHandler(alias, self.handler(by_name[name]), filters=only_new))
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_handler(
            MessageHandler(filters.REPLY & filters.TEXT & ~filters.COMMAND & only_new, self.on_reply)
        )
        app.add_handler(MessageHandler(filters.COMMAND & only_new, self.on_unknown))
        app.add_error_handler(self.on_error)

    # ------------------------------------------------------------------ plumbing

    def _chat_allowed(self, chat: Chat, user_id: int) -> bool:
        c = self.settings.roster.chats
        if chat.id in {c.duty, c.policy_office, c.admin}:
            return True
        return (
            chat.type == Chat.PRIVATE
            and chat.id == user_id
            and self.settings.roster.person(user_id) is not None
        )

    def authorise(self, update: Update, action: str, what: str) -> tuple[Actor | None, str]:
        """The actor when allowed, else None and the polite refusal to show (the attempt is logged)."""
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            return None, ""
        if self.settings.roster.person(user.id) is None:
            log.warning("refused %s: user %d is not in the roster (chat %d)", what, user.id, chat.id)
            return None, t("tg_refused_stranger", user_id=user.id)
        if not self._chat_allowed(chat, user.id):
            log.warning("refused %s by user %d: chat %d is not a configured chat", what, user.id, chat.id)
            return None, t("tg_refused_chat")
        actor = Actor.from_roster(self.settings.roster, user.id)
        if not actions.can(actor.roles, action):
            roles = ",".join(sorted(actor.roles))
            log.warning(
                "refused %s by user %d (%s) in chat %d: roles %s do not allow %s",
                what,
                user.id,
                actor.name,
                chat.id,
                roles,
                action,
            )
            return None, actions.NotPermitted(actor, action).message
        return actor, ""

    def _book(self, chat_id: int, messages: int, what: str) -> float | None:
        """Book the chat's next free answer slots: the seconds to wait, or None (logged) when
        none comes within the limiter's wait."""
        wait = self.limiter.reserve(chat_id, messages)
        if wait is None:
            log.warning(
                "answer to %s in chat %d dropped: the chat's share of Telegram's limit is spent",
                what,
                chat_id,
            )
        return wait

    def _later(self, wait: float, send: Coroutine[Any, Any, None]) -> None:
        """Send after `wait` seconds without holding the handler (other chats' updates go on)."""

        async def run() -> None:
            try:
                await asyncio.sleep(wait)
            except asyncio.CancelledError:  # the application stops: the answer is not sent
                send.close()
                raise
            try:
                await send
            except Exception as exc:  # the answer only matters while the person looks: logged
                log.warning("a delayed answer could not be sent (%s)", type(exc).__name__)

        task = asyncio.get_running_loop().create_task(run())
        self._waiting.add(task)
        task.add_done_callback(self._waiting.discard)

    async def refuse(self, update: Update, text: str) -> None:
        """A refusal, sent only when the limiter allows one to this person in this chat now."""
        msg, user = update.effective_message, update.effective_user
        if msg is None or user is None or not self.limiter.refusal(user.id, msg.chat_id):
            return
        await msg.reply_text(truncate_html(text), parse_mode=ParseMode.HTML)

    async def reply(self, update: Update, *answers: Answer) -> None:
        """Answer the person in the chat they wrote in, in order, within the chat's share of the limit."""
        msg = update.effective_message
        if msg is None or not answers:
            return
        wait = self._book(msg.chat_id, len(answers), "a command")
        if wait is None:
            return
        if wait > 0:
            self._later(wait, self._send(msg, answers))
        else:
            await self._send(msg, answers)

    async def _send(self, msg: Message, answers: Sequence[Answer]) -> None:
        for answer in answers:
            markup = keyboard(answer.buttons, "reply")
            if answer.photo is not None:
                await msg.reply_photo(answer.photo, caption=answer.text)
            elif answer.html:
                text = truncate_html(answer.text)
                await msg.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
            else:
                await msg.reply_text(truncate_text(answer.text), reply_markup=markup)

    async def _request(self, update: Update, action: str, what: str, now: datetime) -> Request | None:
        """The request when the person may take `action` here; else the refusal is sent and None returned."""
        actor, refusal = self.authorise(update, action, what)
        if actor is None:
            user, chat = update.effective_user, update.effective_chat
            colleague = (
                user is not None
                and chat is not None
                and self.settings.roster.person(user.id) is not None
                and self._chat_allowed(chat, user.id)
            )
            if colleague:  # a role that may not: told like any answer, each time
                await self.reply(update, Answer(refusal))
            elif refusal:  # a stranger, or a chat that is not ours: once per few minutes
                await self.refuse(update, refusal)
            return None
        chat = update.effective_chat
        where = chat.id if chat else actor.id
        assert where is not None  # someone writing on Telegram has a user id
        return Request(self.settings, self.engine, actor, where, now, self.answers)

    def handler(self, command: Command) -> Handler:
        """The handler of one table row: clock, permission, arguments, action, answer."""

        async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            now = self.clock()
            req = await self._request(update, command.permission, f"/{command.name}", now)
            if req is None:
                return
            try:
                args = command.parse(context.args or [])
            except UsageError as exc:
                await self.reply(update, Answer(str(exc)))
                return
            await self.reply(update, *await command.run(req, args))

        return handle

    # ------------------------------------------------------------------ buttons and replies

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """确认, 已发布 / 已转载 and 误报 under a card."""
        now = self.clock()
        query = update.callback_query
        if query is None:
            return
        try:
            action, iid, step, last = unpack_callback(query.data or "")
        except ValueError:
            action = ""
        if action not in ("ack", "done", "dismiss"):
            await query.answer(t("tg_button_invalid"), show_alert=True)
            return
        if not 0 < iid <= MAX_INCIDENT_ID:  # no incident has that number: the usage, not a traceback
            usage = {"ack": "tg_usage_ack", "done": "tg_usage_done", "dismiss": "tg_usage_dismiss"}[action]
            await query.answer(truncate_text(strip_tags(t(usage)), _CALLBACK_TEXT), show_alert=True)
            return
        actor, refusal = self.authorise(update, action, f"button {query.data}")
        if actor is None:
            await query.answer(
                truncate_text(refusal or t("tg_refused_chat"), _CALLBACK_TEXT), show_alert=True
            )
            return
        chat_id = update.effective_chat.id if update.effective_chat else None
        if action == "dismiss":
            await self._ask_reason(update, context, actor, iid, chat_id)
            return
        st = self.settings
        # The last word says whether the head attended (a conference) or where it was published.
        head = {HEAD_YES: True, HEAD_NO: False}.get(last)
        outlets = (last,) if last in {o.value for o in Outlet} else ()

        def press(s: Session) -> ActionResult:
            if action == "ack":
                return actions.acknowledge(s, st, iid, actor, chat_id, now)
            return actions.complete_step(
                s, st, iid, step or None, "", actor, chat_id, now, outlets=outlets, head_attended=head
            )

        where = chat_id or actor.id
        assert where is not None  # someone pressing a button on Telegram has a user id
        [answer] = await run_action(Request(st, self.engine, actor, where, now), press)
        await query.answer(truncate_text(strip_tags(answer.text), _CALLBACK_TEXT), show_alert=answer.error)

    async def _ask_reason(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, actor: Actor, iid: int, chat_id: int | None
    ) -> None:
        """A false-alarm verdict silences every deadline of the incident, so it needs a reason on
        record and must not happen on a slip of the thumb: ask for it (a reply dismisses, see
        on_reply) instead of acting at once."""
        query = update.callback_query
        if query is not None:
            await query.answer(truncate_text(t("tg_dismiss_how", id=iid), _CALLBACK_TEXT))
        wait = None if chat_id is None else self._book(chat_id, 1, "the false-alarm prompt")
        if chat_id is None or wait is None:
            return
        mention = f'<a href="tg://user?id={actor.id}">{esc(actor.name)}</a>'
        placeholder = ForceReply(selective=True, input_field_placeholder=t("tg_dismiss_placeholder"))
        text = t("tg_dismiss_prompt", id=iid, who=mention)

        async def ask() -> None:
            await context.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, reply_markup=placeholder)

        if wait > 0:
            self._later(wait, ask())
        else:
            await ask()

    async def on_reply(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A reply to the bot's 误报 prompt: its text is the reason, and the incident is dismissed."""
        now = self.clock()
        msg = update.effective_message
        if msg is None or msg.reply_to_message is None or not msg.text:
            return
        prompt = msg.reply_to_message
        if prompt.from_user is None or prompt.from_user.id != context.bot.id:
            return
        m = _prompt_pattern().fullmatch(prompt.text or "")
        if m is None:
            return  # a reply to some other message of the bot: not addressed to it
        req = await self._request(update, "dismiss", "dismiss reply", now)
        if req is None:
            return
        iid, reason, st = int(m.group("id")), msg.text, self.settings

        def dismiss(s: Session) -> ActionResult:
            return actions.dismiss(s, st, iid, reason, req.actor, req.chat_id, now, reply_in_chat=True)

        await self.reply(update, *await run_action(req, dismiss))

    async def on_unknown(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A command the table does not have: say so (to people on the roster, in their chats)."""
        msg, chat, user = update.effective_message, update.effective_chat, update.effective_user
        if msg is None or chat is None or user is None or not msg.text:
            return
        word = msg.text.split(maxsplit=1)[0]
        target = word.partition("@")[2]
        if target and target.lower() != (context.bot.username or "").lower():
            return  # a command for another bot in the same group
        if self.settings.roster.person(user.id) is None or not self._chat_allowed(chat, user.id):
            log.warning("ignored unknown command from user %d in chat %d", user.id, chat.id)
            return
        await self.reply(update, Answer(t("tg_unknown_command", command=esc(word))))

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log a handler's failure and tell the person it did not work (rather than silence)."""
        log.error("handling an update failed: %s", context.error, exc_info=context.error)
        if isinstance(update, Update):
            try:
                if update.callback_query is not None:
                    await update.callback_query.answer(t("tg_internal_error"), show_alert=True)
                elif update.effective_message is not None:
                    await update.effective_message.reply_text(t("tg_internal_error"))
            except Exception:  # the answer itself failed (Telegram down): the log line above stands
                log.warning("could not tell the user about the failure")
