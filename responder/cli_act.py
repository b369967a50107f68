"""`python main.py ack|done|dismiss|close ID … --as NAME`: acting on an incident without Telegram;
`python main.py inquiry TITLE… [--link URL] [--received TIME] --as NAME` registers a suggestion.

For a bureau whose network cannot reach Telegram (console mode) or a person without it.
The words after the command are the chat command's (`/done 12 statement 微博 https://…`),
parsed by the same parsers; the person is a roster name, whose roles are checked by the
same rules (`responder.engine.permissions`); the action is the same function
(`responder.engine.actions`), so the incident log gets the same entries, recorded with
`"source": "cli"` and `"address"`: the login name and host that typed it. The cards are
edited and the alerted chats told through the outbox, as for a chat command; the running
service delivers them (to the console in console mode).
"""

from __future__ import annotations

import argparse
import getpass
import socket
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .env import Environment
from .i18n import t
from .models import utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

    from .engine.actions import ActionResult, Actor
    from .runtime import Settings

    Run = Callable[[Session, datetime], ActionResult]

__all__ = ["add_commands"]

EXIT_REFUSED = 1
EXIT_USAGE = 2


class _OptionError(ValueError):
    """An option's value that cannot be used (`--link`, `--received`); the message says which."""


def _address() -> str:
    """Who typed the command, as far as this machine knows: login name @ host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        user = "?"
    return f"{user}@{socket.gethostname()}"


def _setup(env: Environment, config: Path) -> tuple[Settings, Engine]:
    """The settings of `config` and an engine on the database `run` uses with it."""
    from .db import DEFAULT_SQLITE, database_url, make_engine
    from .migrate import check_migrated, upgrade
    from .runtime import load_settings

    st = load_settings(config)
    url = database_url(None, st.database_path, env.database_url)
    if st.database_path is not None or url == f"sqlite:///{DEFAULT_SQLITE}":
        upgrade(url)  # the embedded default and a config's own file migrate themselves, as `run` does
    engine = make_engine(url)
    check_migrated(engine)
    return st, engine


def _ack(st: Settings, actor: Actor, iid: Any) -> Run:
    from .engine import actions

    return lambda s, now: actions.acknowledge(s, st, iid, actor, None, now)


def _done(st: Settings, actor: Actor, a: Any) -> Run:
    from .engine import actions

    return lambda s, now: actions.complete_step(
        s,
        st,
        a.incident_id,
        a.step,
        a.channel,
        actor,
        None,
        now,
        a.link,
        outlets=a.outlets,
        head_attended=a.head,
    )


def _dismiss(st: Settings, actor: Actor, a: Any) -> Run:
    from .engine import actions

    iid, reason = a
    return lambda s, now: actions.dismiss(s, st, iid, reason, actor, None, now)


def _close(st: Settings, actor: Actor, iid: Any) -> Run:
    from .engine import actions

    return lambda s, now: actions.close(s, st, iid, actor, None, now)


def _inquiry(st: Settings, actor: Actor, a: Any) -> Run:
    from .engine import actions

    words, link, received = a
    # A time written without a zone is on the bureau's wall clock (Asia/Shanghai unless configured).
    if received is not None and received.tzinfo is None:
        received = received.replace(tzinfo=st.tz)
    return lambda s, now: actions.register_inquiry(
        s, st, words.title, link or words.link, received, actor, None, now
    )


# command → (help, the action it runs); the words are parsed as the chat command's
_COMMANDS: dict[str, tuple[str, Callable[[Settings, Actor, Any], Run]]] = {
    "ack": ("acknowledge an incident: ID", _ack),
    "done": ("mark a step done: ID [STEP[:CHANNEL]] [OUTLET…] [head|nohead] [LINK]", _done),
    "dismiss": ("dismiss a false alarm: ID REASON…", _dismiss),
    "close": ("close an incident: ID", _close),
    "inquiry": ("register a suggestion from the public: TITLE… [LINK]", _inquiry),
}


def _received(text: str | None) -> datetime | None:
    """`--received` as written: 2026-11-20 15:30 (or 2026-11-20T15:30, 2026-11-20, with or
    without a UTC offset); naive when no offset was given. A mistake raises ValueError."""
    if text is None:
        return None
    return datetime.fromisoformat(text.strip())


def _parse(command: str, words: list[str], args: argparse.Namespace) -> Any:
    from .chat.commands import is_link, parse_dismiss, parse_done, parse_id, parse_inquiry

    if command == "inquiry":
        if args.link is not None and not is_link(args.link):
            raise _OptionError(t("cli_inquiry_bad_link", value=args.link))
        try:
            received = _received(args.received)
        except ValueError:
            raise _OptionError(t("cli_inquiry_bad_received", value=args.received)) from None
        return parse_inquiry(words), args.link, received
    if command == "done":
        return parse_done(words)
    if command == "dismiss":
        return parse_dismiss(words)
    return parse_id(words, command)


def cmd_act(args: argparse.Namespace, env: Environment) -> int:
    """ack, done, dismiss, close or inquiry as the roster person `--as`: parse the words, check the person,
    run the action in one transaction, print its answer (a refusal on stderr, exit 1)."""
    from .chat.commands import UsageError
    from .db import session_scope
    from .engine.actions import ActionError, Actor
    from .present.html import strip_tags

    try:
        parsed = _parse(args.command, args.words, args)
    except UsageError as exc:
        print(t("cli_act_usage", command=args.command, usage=strip_tags(str(exc))), file=sys.stderr)
        return EXIT_USAGE
    except _OptionError as exc:
        print(t("cli_usage", prog=f"responder {args.command}", error=str(exc)), file=sys.stderr)
        return EXIT_USAGE
    st, engine = _setup(env, Path(args.config))
    try:
        person = next((p for p in st.roster.people if p.name == args.person), None)
        if person is None:
            print(t("cli_act_not_on_roster", name=args.person), file=sys.stderr)
            return EXIT_USAGE
        actor = Actor(
            person.telegram_id, person.name, frozenset(person.roles), source="cli", address=_address()
        )
        run = _COMMANDS[args.command][1](st, actor, parsed)
        try:
            with session_scope(engine) as s:
                result = run(s, utcnow())
        except ActionError as exc:
            print(strip_tags(exc.message), file=sys.stderr)
            return EXIT_REFUSED
    finally:
        engine.dispose()
    print(strip_tags(result.message))
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `ack`, `done`, `dismiss`, `close` and `inquiry` on the main parser's sub-commands."""
    for name, (text, _) in _COMMANDS.items():
        p = sub.add_parser(name, help=f"{text}, as a roster person (--as NAME), without Telegram")
        if name == "inquiry":
            p.add_argument("words", nargs="+", metavar="TITLE", help="the suggestion's gist, e.g. 建议增设…")
            p.add_argument("--link", help="where the suggestion was received (a web address)")
            p.add_argument(
                "--received",
                metavar="TIME",
                help="when it was received, e.g. '2026-11-20 15:30' (local time; default now): "
                "the 7-working-day clock runs from it",
            )
        else:
            p.add_argument(
                "words",
                nargs="+",
                metavar="ID",
                help="the incident and the other words of the chat command, e.g. 12 statement 微博 https://…",
            )
        p.add_argument("--as", dest="person", required=True, help="the roster name of the person acting")
        p.add_argument("--config", default="feeds.yaml", help="path to feeds.yaml")
        # The words may also follow the options (`ack 12 --as 张三`, `done 12 --as 张三 statement`):
        # responder.cli.parse_command_line puts them back together.
        p.set_defaults(func=cmd_act, words_anywhere=True)
