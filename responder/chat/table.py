"""Every chat command in one table: command → who may use it → argument parser → what it does.

`responder.chat.telegram` installs one handler per row and does the rest the same way
for all: read the clock once, check the person and the chat, parse the words after the
command (a `UsageError` answers with the usage line), run, reply. Adding a command is
adding a row (and its catalogue lines).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session

from ..db import session_scope
from ..engine import actions
from ..engine.actions import ActionError, ActionResult, Actor
from ..engine.holidays import ConfirmError, confirm_holidays
from ..i18n import t
from ..present.cards import Buttons
from ..present.html import esc
from ..reports.post import WeeklyPost, last_complete_week, weekly_post
from ..reports.weekly import IsoWeek
from ..runtime import Settings
from . import views
from .commands import (
    DoneArgs,
    ExtendArgs,
    InquiryArgs,
    parse_dismiss,
    parse_done,
    parse_extend,
    parse_id,
    parse_inquiry,
    parse_optional_id,
    parse_week,
    parse_year,
)
from .throttle import AnswerCache

__all__ = ["ALIASES", "COMMANDS", "Answer", "Command", "Request", "run_action"]

T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    """One message back to the person: HTML text (or plain), maybe with buttons or above a photo."""

    text: str
    html: bool = True
    buttons: Buttons | None = None
    photo: bytes | None = None
    error: bool = False  # the action was refused or failed: a button shows it as an alert


@dataclass(frozen=True)
class Request:
    """One command as the handlers received it: who, where, when, and with what to work."""

    settings: Settings
    engine: Engine
    actor: Actor
    chat_id: int
    now: datetime
    answers: AnswerCache[Any] | None = None  # heavy answers kept a while (/summary)

    async def db(self, fn: Callable[[Session], T]) -> T:
        """Run `fn(session)` in one transaction, off the event loop (SQLite may wait on a lock)."""

        def run() -> T:
            with session_scope(self.engine) as s:
                return fn(s)

        return await asyncio.to_thread(run)


async def run_action(req: Request, fn: Callable[[Session], ActionResult]) -> list[Answer]:
    """Apply an action; answer with its confirmation or its error."""
    try:
        result = await req.db(fn)
    except ActionError as exc:
        return [Answer(exc.message, error=True)]
    return [Answer(result.message)]


@dataclass(frozen=True)
class Command:
    """A row of the table: `/name`, its description (catalogue key), the permission it needs
    (`actions.ACTIONS`), how its words are parsed and what it does with them."""

    name: str
    description: str
    permission: str
    parse: Callable[[Sequence[str]], Any]
    run: Callable[[Request, Any], Awaitable[list[Answer]]]


# --------------------------------------------------------------------------- what each command does


async def _ack(req: Request, iid: int) -> list[Answer]:
    st, who, chat, now = req.settings, req.actor, req.chat_id, req.now
    return await run_action(
        req, lambda s: actions.acknowledge(s, st, iid, who, chat, now, reply_in_chat=True)
    )


async def _done(req: Request, a: DoneArgs) -> list[Answer]:
    st, who, chat, now = req.settings, req.actor, req.chat_id, req.now
    return await run_action(
        req,
        lambda s: actions.complete_step(
            s,
            st,
            a.incident_id,
            a.step,
            a.channel,
            who,
            chat,
            now,
            a.link,
            outlets=a.outlets,
            head_attended=a.head,
            reply_in_chat=True,
        ),
    )


async def _extend(req: Request, a: ExtendArgs) -> list[Answer]:
    st, who, chat, now = req.settings, req.actor, req.chat_id, req.now
    return await run_action(
        req,
        lambda s: actions.extend_deadline(
            s, st, a.incident_id, a.step, a.reason, who, chat, now, reply_in_chat=True
        ),
    )


async def _dismiss(req: Request, a: tuple[int, str]) -> list[Answer]:
    st, who, chat, now = req.settings, req.actor, req.chat_id, req.now
    iid, reason = a
    return await run_action(
        req, lambda s: actions.dismiss(s, st, iid, reason, who, chat, now, reply_in_chat=True)
    )


async def _close(req: Request, iid: int) -> list[Answer]:
    st, who, chat, now = req.settings, req.actor, req.chat_id, req.now
    return await run_action(req, lambda s: actions.close(s, st, iid, who, chat, now, reply_in_chat=True))


async def _inquiry(req: Request, a: InquiryArgs) -> list[Answer]:
    st, who, chat, now = req.settings, req.actor, req.chat_id, req.now
    return await run_action(
        req, lambda s: actions.register_inquiry(s, st, a.title, a.link, None, who, chat, now)
    )


async def _status(req: Request, iid: int | None) -> list[Answer]:
    if iid is None:
        return [Answer(await req.db(lambda s: views.overview(s, req.settings, req.now)))]
    found = await req.db(lambda s: views.incident_card(s, req.settings, iid, req.now))
    if found is None:
        return [Answer(t("act_unknown_incident", id=iid))]
    text, buttons = found
    return [Answer(text, buttons=buttons)]


async def _list(req: Request, _: None) -> list[Answer]:
    return [Answer(await req.db(lambda s: views.open_incidents(s, req.settings, req.now)))]


async def _oncall(req: Request, _: None) -> list[Answer]:
    return [Answer(views.on_call(req.settings, req.now))]


async def _summary(req: Request, week: str | None) -> list[Answer]:
    st = req.settings
    try:
        wk = IsoWeek.parse(week) if week else last_complete_week(req.now, st.tz)
    except ValueError:
        return [Answer(t("tg_usage_summary"))]

    async def compute() -> WeeklyPost:
        return await asyncio.to_thread(weekly_post, req.engine, wk, st.tz, st.playbooks, req.now)

    # Figures of a past week change only with late records: one computation serves everyone
    # asking within a few minutes (20 /summary in a row used to take 30 s).
    post: WeeklyPost = await (req.answers.get(f"summary:{wk.label}", compute) if req.answers else compute())
    # The chart first, as in the Monday post, then the figures.
    return [Answer(post.caption, html=False, photo=post.chart), Answer(post.text, html=False)]


async def _login(req: Request, _: None) -> list[Answer]:
    """A one-time sign-in link to the web console, in a private chat only: the link signs its
    holder in as this person, so it must not be posted where a group can read it."""
    from ..web.auth import issue_login_link

    web = req.settings.feeds.web
    if not web.enabled:
        return [Answer(t("tg_login_disabled"))]
    if req.chat_id != req.actor.id:  # a private chat with the bot has the person's own id
        return [Answer(t("tg_login_private_only"))]
    st, name, now = req.settings, req.actor.name, req.now
    link = await asyncio.to_thread(issue_login_link, req.engine, st, name, now)
    minutes = int(web.login_link_ttl.total_seconds() // 60)
    return [Answer(t("tg_login_link", name=esc(name), link=esc(link), minutes=minutes))]


async def _help(req: Request, _: None) -> list[Answer]:
    return [Answer(views.help_text(req.actor))]


async def _calendar_confirm(req: Request, year: int | None) -> list[Answer]:
    """An admin confirms next year's holidays as offered from the State Council's notice."""
    st, who, chat, now = req.settings, req.actor.name, req.chat_id, req.now
    try:
        text = await req.db(lambda s: confirm_holidays(s, st, year, who, now, reply_chat=chat))
    except ConfirmError as exc:
        return [Answer(exc.message, error=True)]
    return [Answer(text)]


def _ignore_args(args: Sequence[str]) -> None:
    """Commands that take no arguments ignore any given."""


COMMANDS: tuple[Command, ...] = (
    Command("ack", "tg_cmd_ack", "ack", lambda args: parse_id(args, "ack"), _ack),
    Command("done", "tg_cmd_done", "done", parse_done, _done),
    Command("extend", "tg_cmd_extend", "extend", parse_extend, _extend),
    Command("dismiss", "tg_cmd_dismiss", "dismiss", parse_dismiss, _dismiss),
    Command("close", "tg_cmd_close", "close", lambda args: parse_id(args, "close"), _close),
    Command("status", "tg_cmd_status", "view", lambda args: parse_optional_id(args, "status"), _status),
    Command("list", "tg_cmd_list", "view", _ignore_args, _list),
    Command("oncall", "tg_cmd_oncall", "view", _ignore_args, _oncall),
    Command("summary", "tg_cmd_summary", "view", parse_week, _summary),
    Command("help", "tg_cmd_help", "view", _ignore_args, _help),
    Command("login", "tg_cmd_login", "view", _ignore_args, _login),
    Command("calendar_confirm", "tg_cmd_calendar_confirm", "calendar", parse_year, _calendar_confirm),
    Command("inquiry", "tg_cmd_inquiry", "register", parse_inquiry, _inquiry),
)
# Telegram clients send /start when a person first opens the bot: it is /help.
ALIASES: dict[str, str] = {"start": "help"}
