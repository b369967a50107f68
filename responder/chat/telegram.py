"""The Telegram side people talk to: commands, card buttons, and who may use them.

`build_application` returns a python-telegram-bot Application whose handlers turn
commands and button presses into `responder.engine.actions` calls. The caller runs it
inside its own event loop (`async with app:`, `app.start()`, `app.updater.start_polling()`)
and calls `register_commands(app.bot)` once.

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
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from telegram import (
    BotCommand,
    Chat,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
    User,
)
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

from ..db import session_scope
from ..engine import actions
from ..engine.actions import ActionError, ActionResult, Actor
from ..engine.deliver import _normalise_base, protect_token
from ..i18n import t
from ..models import Incident, Report, Step, utcnow
from ..runtime import Settings
from .commands import UsageError, parse_dismiss, parse_done, parse_id, parse_optional_id, parse_week
from .html import esc, strip_tags, truncate_html, truncate_text, unpack_callback
from .render import ReportLine, card, card_buttons, fmt_left, fmt_time, step_name

__all__ = ["COMMANDS", "Clock", "build_application", "register_commands"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
T = TypeVar("T")

# (command, catalogue key of its description), in the order the client shows them.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("ack", "tg_cmd_ack"),
    ("done", "tg_cmd_done"),
    ("dismiss", "tg_cmd_dismiss"),
    ("close", "tg_cmd_close"),
    ("status", "tg_cmd_status"),
    ("list", "tg_cmd_list"),
    ("oncall", "tg_cmd_oncall"),
    ("summary", "tg_cmd_summary"),
    ("help", "tg_cmd_help"),
)
_LIVE = ("open", "acknowledged")
_TITLE_CHARS = 40  # titles in one-line overviews
_CALLBACK_TEXT = 200  # Telegram's limit on answerCallbackQuery text


async def register_commands(bot: Any) -> bool:
    """Register the command list (Chinese descriptions) with setMyCommands."""
    return bool(await bot.set_my_commands([BotCommand(name, t(key)) for name, key in COMMANDS]))


def build_application(
    settings: Settings,
    engine: Engine,
    token: str,
    *,
    base_url: str | None = None,
    base_file_url: str | None = None,
    clock: Clock = utcnow,
) -> Application:  # type: ignore[type-arg]
    """The PTB Application with every command and button handler installed.

    `base_url` / `base_file_url` point at a self-hosted Bot API server (the caller reads
    TELEGRAM_BASE_URL / TELEGRAM_FILE_BASE_URL); either the server root or the full
    `.../bot` prefix is accepted. `clock` gives the business time (UTC), read once per update.
    """
    protect_token(token)  # before the Bot exists: PTB logs its URL, token included, as it builds
    # Handlers keep no state between updates and run their database work in threads, so
    # several updates may be handled at once (one slow /summary must not queue the rest).
    builder = ApplicationBuilder().token(token).concurrent_updates(8)
    if base_url:
        builder = builder.base_url(_normalise_base(base_url, "", "/bot", "TELEGRAM_BASE_URL"))
    if base_file_url:
        builder = builder.base_file_url(
            _normalise_base(base_file_url, "", "/file/bot", "TELEGRAM_FILE_BASE_URL")
        )
    app = builder.build()
    _Handlers(settings, engine, clock).install(app)
    return app


def _prompt_pattern() -> re.Pattern[str]:
    """The 误报 prompt as the client shows it (tags gone), with the incident id captured."""
    shown = strip_tags(t("tg_dismiss_prompt", id="\x00", who="\x01"))
    slots = {"\x00": r"(?P<id>\d+)", "\x01": r".*?"}
    parts = re.split("([\x00\x01])", shown)
    return re.compile("".join(slots.get(p) or re.escape(p) for p in parts), re.S)


def _short(text: str, n: int = _TITLE_CHARS) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


class _Handlers:
    """The handlers, sharing settings, the database engine and the clock."""

    def __init__(self, settings: Settings, engine: Engine, clock: Clock):
        self.settings = settings
        self.engine = engine
        self.clock = clock

    def install(self, app: Application) -> None:  # type: ignore[type-arg]
        only_new = filters.UpdateType.MESSAGE  # an edited "/ack 3" must not act twice
        table: dict[str, Callable[..., Any]] = {
            "ack": self.cmd_ack,
            "done": self.cmd_done,
            "dismiss": self.cmd_dismiss,
            "close": self.cmd_close,
            "status": self.cmd_status,
            "list": self.cmd_list,
            "oncall": self.cmd_oncall,
            "summary": self.cmd_summary,
            "help": self.cmd_help,
            "start": self.cmd_help,
        }
        for name, fn in table.items():
            app.add_handler(CommandHandler(name, fn, filters=only_new))
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_handler(
            MessageHandler(filters.REPLY & filters.TEXT & ~filters.COMMAND & only_new, self.on_reply)
        )
        app.add_handler(MessageHandler(filters.COMMAND & only_new, self.cmd_unknown))
        app.add_error_handler(self.on_error)

    # ------------------------------------------------------------------ plumbing

    def _db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with session_scope(self.engine) as s:
            return fn(s, *args, **kwargs)

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(session, ...)` in one transaction, off the event loop (SQLite may wait on a lock)."""
        return await asyncio.to_thread(self._db, fn, *args, **kwargs)

    def _chat_allowed(self, chat: Chat, user: User) -> bool:
        c = self.settings.roster.chats
        if chat.id in {c.duty, c.policy_office, c.admin}:
            return True
        return (
            chat.type == Chat.PRIVATE
            and chat.id == user.id
            and self.settings.roster.person(user.id) is not None
        )

    def authorise(self, update: Update, action: str, what: str) -> tuple[Actor | None, str]:
        """The actor when allowed, else None and the polite refusal to show (the attempt is logged)."""
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            return None, ""
        person = self.settings.roster.person(user.id)
        if person is None:
            log.warning("refused %s: user %d is not in the roster (chat %d)", what, user.id, chat.id)
            return None, t("tg_refused_stranger", user_id=user.id)
        if not self._chat_allowed(chat, user):
            log.warning("refused %s by user %d: chat %d is not a configured chat", what, user.id, chat.id)
            return None, t("tg_refused_chat")
        actor = Actor.from_roster(self.settings.roster, user.id)
        if not actions.can(actor.roles, action):
            log.warning("refused %s by user %d (%s) in chat %d: roles %s do not allow %s",
                        what, user.id, actor.name, chat.id, ",".join(sorted(actor.roles)), action)  # fmt: skip
            return None, actions.NotPermitted(actor, action).message
        return actor, ""

    async def reply(self, update: Update, text: str, *, html: bool = True, markup: Any = None) -> None:
        msg = update.effective_message
        if msg is None:
            return
        if html:
            await msg.reply_text(truncate_html(text), parse_mode=ParseMode.HTML, reply_markup=markup)
        else:
            await msg.reply_text(truncate_text(text), reply_markup=markup)

    async def _gate(self, update: Update, action: str, what: str) -> Actor | None:
        actor, refusal = self.authorise(update, action, what)
        if actor is None and refusal:
            await self.reply(update, refusal)
        return actor

    async def _act(self, update: Update, fn: Callable[..., ActionResult], *args: Any) -> None:
        """Apply an action and answer the person with its confirmation or its error."""
        try:
            result = await self.db(fn, *args)
        except ActionError as exc:
            await self.reply(update, exc.message)
            return
        await self.reply(update, result.message)

    # ------------------------------------------------------------------ actions

    async def cmd_ack(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        now = self.clock()
        if (actor := await self._gate(update, "ack", "/ack")) is None:
            return
        try:
            iid = parse_id(context.args or [], "ack")
        except UsageError as exc:
            return await self.reply(update, str(exc))
        await self._act(update, self._ack, iid, actor, update.effective_chat.id, now)  # type: ignore[union-attr]

    def _ack(self, s: Session, iid: int, actor: Actor, chat_id: int, now: datetime) -> ActionResult:
        return actions.acknowledge(s, self.settings, iid, actor, chat_id, now, reply_in_chat=True)

    async def cmd_done(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        now = self.clock()
        if (actor := await self._gate(update, "done", "/done")) is None:
            return
        try:
            a = parse_done(context.args or [])
        except UsageError as exc:
            return await self.reply(update, str(exc))
        chat_id = update.effective_chat.id  # type: ignore[union-attr]
        await self._act(update, self._done, a.incident_id, a.step, a.channel, actor, chat_id, now, a.link)

    def _done(
        self, s: Session, iid: int, step: str | None, channel: str, actor: Actor, chat_id: int, now: datetime,
        link: str | None, reply_in_chat: bool = True,
    ) -> ActionResult:  # fmt: skip
        return actions.complete_step(s, self.settings, iid, step, channel, actor, chat_id, now, link,
                                     reply_in_chat=reply_in_chat)  # fmt: skip

    async def cmd_dismiss(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        now = self.clock()
        if (actor := await self._gate(update, "dismiss", "/dismiss")) is None:
            return
        try:
            iid, reason = parse_dismiss(context.args or [])
        except UsageError as exc:
            return await self.reply(update, str(exc))
        await self._act(update, self._dismiss, iid, reason, actor, update.effective_chat.id, now)  # type: ignore[union-attr]

    def _dismiss(
        self, s: Session, iid: int, reason: str, actor: Actor, chat_id: int, now: datetime
    ) -> ActionResult:
        return actions.dismiss(s, self.settings, iid, reason, actor, chat_id, now, reply_in_chat=True)

    async def cmd_close(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        now = self.clock()
        if (actor := await self._gate(update, "close", "/close")) is None:
            return
        try:
            iid = parse_id(context.args or [], "close")
        except UsageError as exc:
            return await self.reply(update, str(exc))
        await self._act(update, self._close, iid, actor, update.effective_chat.id, now)  # type: ignore[union-attr]

    def _close(self, s: Session, iid: int, actor: Actor, chat_id: int, now: datetime) -> ActionResult:
        return actions.close(s, self.settings, iid, actor, chat_id, now, reply_in_chat=True)

    # ------------------------------------------------------------------ buttons

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        now = self.clock()
        query = update.callback_query
        if query is None:
            return
        try:
            action, iid, step, channel = unpack_callback(query.data or "")
        except ValueError:
            await query.answer(t("tg_button_invalid"), show_alert=True)
            return
        if action not in ("ack", "done", "dismiss"):
            await query.answer(t("tg_button_invalid"), show_alert=True)
            return
        actor, refusal = self.authorise(update, action, f"button {query.data}")
        if actor is None:
            await query.answer(
                truncate_text(refusal or t("tg_refused_chat"), _CALLBACK_TEXT), show_alert=True
            )
            return
        chat_id = update.effective_chat.id if update.effective_chat else None
        if action == "dismiss":
            # A false-alarm verdict silences every deadline of the incident, so it needs a
            # reason on record and must not happen on a slip of the thumb: ask for the reason
            # (a reply to the prompt dismisses, see on_reply) instead of acting at once.
            await query.answer(truncate_text(t("tg_dismiss_how", id=iid), _CALLBACK_TEXT))
            if chat_id is not None:
                mention = f'<a href="tg://user?id={actor.id}">{esc(actor.name)}</a>'
                await context.bot.send_message(
                    chat_id, t("tg_dismiss_prompt", id=iid, who=mention), parse_mode=ParseMode.HTML,
                    reply_markup=ForceReply(selective=True, input_field_placeholder=t("tg_dismiss_placeholder")),
                )  # fmt: skip
            return
        try:
            if action == "ack":
                result = await self.db(actions.acknowledge, self.settings, iid, actor, chat_id, now)
            else:
                result = await self.db(
                    self._done, iid, step or None, channel, actor, chat_id, now, None, False
                )
        except ActionError as exc:
            await query.answer(truncate_text(strip_tags(exc.message), _CALLBACK_TEXT), show_alert=True)
            return
        await query.answer(truncate_text(strip_tags(result.message), _CALLBACK_TEXT))

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
        if (actor := await self._gate(update, "dismiss", "dismiss reply")) is None:
            return
        iid = int(m.group("id"))
        await self._act(update, self._dismiss, iid, msg.text, actor, update.effective_chat.id, now)  # type: ignore[union-attr]

    # ------------------------------------------------------------------ views

    async def cmd_status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        now = self.clock()
        if await self._gate(update, "view", "/status") is None:
            return
        try:
            iid = parse_optional_id(context.args or [], "status")
        except UsageError as exc:
            return await self.reply(update, str(exc))
        if iid is None:
            return await self.reply(update, await self.db(self._overview, now))
        found = await self.db(self._card, iid, now)
        if found is None:
            return await self.reply(update, t("act_unknown_incident", id=iid))
        text, buttons = found
        markup = None
        if buttons:
            markup = InlineKeyboardMarkup([[InlineKeyboardButton(**b) for b in row] for row in buttons])
        await self.reply(update, text, markup=markup)

    def _card(self, s: Session, iid: int, now: datetime) -> tuple[str, Any] | None:
        inc = s.get(Incident, iid)
        if inc is None:
            return None
        steps = list(s.exec(select(Step).where(Step.incident_id == iid).order_by(col(Step.id))).all())
        reports = [
            ReportLine(r.source, r.title, r.link)
            for r in s.exec(
                select(Report).where(Report.incident_id == iid, Report.source_kind != "own")
                .order_by(col(Report.published), col(Report.id))
            ).all()
        ]  # fmt: skip
        return card(inc, steps, reports, self.settings.tz, now), card_buttons(inc, steps)

    def _live(self, s: Session) -> list[Incident]:
        return list(
            s.exec(select(Incident).where(col(Incident.status).in_(_LIVE)).order_by(col(Incident.id))).all()
        )

    def _head(self, inc: Incident) -> str:
        grade = esc(inc.grade or t("grade_unknown"))
        return t("tg_line_head", id=inc.id, grade=grade, title=esc(_short(inc.title)))

    def _overview(self, s: Session, now: datetime) -> str:
        tz = self.settings.tz
        rows = self._live(s)
        if not rows:
            return t("tg_none_open")
        lines = [t("tg_status_title", n=len(rows))]
        for inc in rows:
            if inc.status == "acknowledged":
                state = t("tg_state_acked", who=esc(inc.acked_by or ""), at=fmt_time(inc.acked_at, tz, now))
            else:
                state = t("tg_state_open", level=max(inc.escalation_level, 1))
            lines.append(f"{self._head(inc)} · {state}")
        return "\n".join(lines)

    async def cmd_list(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        now = self.clock()
        if await self._gate(update, "view", "/list") is None:
            return
        await self.reply(update, await self.db(self._list, now))

    def _list(self, s: Session, now: datetime) -> str:
        tz = self.settings.tz
        rows = self._live(s)
        if not rows:
            return t("tg_none_open")
        ids = [inc.id for inc in rows]
        open_steps: dict[int, list[Step]] = {}
        for st in s.exec(
            select(Step).where(col(Step.incident_id).in_(ids), col(Step.done_at).is_(None))
        ).all():
            open_steps.setdefault(st.incident_id, []).append(st)

        def urgency(inc: Incident) -> tuple[int, datetime]:
            due = [st.due_at for st in open_steps.get(inc.id or 0, []) if st.due_at is not None]
            return (0, min(due)) if due else (1, inc.detected_at or now)

        lines = [t("tg_list_title", n=len(rows))]
        for inc in sorted(rows, key=urgency):
            lines.append(self._head(inc))
            pending = sorted(open_steps.get(inc.id or 0, []), key=lambda st: (st.due_at, st.key, st.channel))
            if not pending:
                lines.append(t("tg_list_no_deadline"))
                continue
            nxt = pending[0]
            assert nxt.due_at is not None
            name = esc(step_name(nxt))
            more = t("tg_list_more", n=len(pending) - 1) if len(pending) > 1 else ""
            if now >= nxt.due_at:
                lines.append(t("tg_list_overdue", step=name, due=fmt_time(nxt.due_at, tz, now),
                               over=fmt_left(now - nxt.due_at), more=more))  # fmt: skip
            else:
                lines.append(t("tg_list_next", step=name, due=fmt_time(nxt.due_at, tz, now),
                               left=fmt_left(nxt.due_at - now), more=more))  # fmt: skip
        return "\n".join(lines)

    async def cmd_oncall(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        now = self.clock()
        if await self._gate(update, "view", "/oncall") is None:
            return
        roster, tz = self.settings.roster, self.settings.tz
        officer = roster.on_duty(now)
        if officer is None:
            lines = [t("tg_oncall_nobody")]
        else:
            until = roster.on_duty_until(now)
            if until is None:
                lines = [t("tg_oncall_open_end", name=esc(officer.name))]
            else:
                lines = [t("tg_oncall_now", name=esc(officer.name), until=fmt_time(until, tz, now))]
        for role in ("policy_office", "head"):
            names = "、".join(esc(p.name) for p in roster.people_with(role)) or t("nobody")
            lines.append(t("tg_oncall_role", role=t("role_" + role), names=names))
        await self.reply(update, "\n".join(lines))

    async def cmd_summary(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        now = self.clock()
        if await self._gate(update, "view", "/summary") is None:
            return
        try:
            week = parse_week(context.args or [])
        except UsageError as exc:
            return await self.reply(update, str(exc))
        from ..reports.chart import render_chart
        from ..reports.render import render_weekly_text
        from ..reports.weekly import IsoWeek, compute_weekly

        tz = self.settings.tz
        try:
            wk = IsoWeek.parse(week) if week else IsoWeek.containing(now, tz).shift(-1)
        except ValueError:
            return await self.reply(update, t("tg_usage_summary"))
        summary = await asyncio.to_thread(compute_weekly, self.engine, wk, tz, now=now)
        chart = await asyncio.to_thread(render_chart, summary)
        message = update.effective_message
        if message is not None:  # the chart first, as in the Monday post, then the figures
            await message.reply_photo(chart, caption=t("summary_chart_title", week=wk.label))
        await self.reply(update, render_weekly_text(summary), html=False)

    async def cmd_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        if await self._gate(update, "view", "/help") is None or user is None:
            return
        actor = Actor.from_roster(self.settings.roster, user.id)
        roles = "、".join(t("act_role_" + r) for r in sorted(actor.roles))
        allowed = "、".join(t("act_name_" + a) for a in actions.ACTIONS if actions.can(actor.roles, a))
        await self.reply(update, t("tg_help", name=esc(actor.name), roles=roles, allowed=allowed))

    async def cmd_unknown(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg, chat, user = update.effective_message, update.effective_chat, update.effective_user
        if msg is None or chat is None or user is None or not msg.text:
            return
        word = msg.text.split(maxsplit=1)[0]
        target = word.partition("@")[2]
        if target and target.lower() != (context.bot.username or "").lower():
            return  # a command for another bot in the same group
        if self.settings.roster.person(user.id) is None or not self._chat_allowed(chat, user):
            log.warning("ignored unknown command from user %d in chat %d", user.id, chat.id)
            return
        await self.reply(update, t("tg_unknown_command", command=esc(word)))

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
