"""`python main.py web passwd NAME` and `python main.py web login NAME`."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from sqlalchemy.engine import Engine

from ..configfile import ConfigError
from ..env import Environment
from ..i18n import t
from ..models import utcnow
from ..runtime import Settings

__all__ = ["add_commands"]


def _setup(args: argparse.Namespace, env: Environment) -> tuple[Settings, Engine] | int:
    """Settings and a migrated engine, or an exit status with the reason printed."""
    from ..db import DEFAULT_SQLITE, database_url, make_engine
    from ..migrate import NotMigratedError, check_migrated, upgrade
    from ..runtime import load_settings

    try:
        st = load_settings(Path(args.config))
    except ConfigError as exc:
        print(t("config_problems_head", n=len(exc.problems)), file=sys.stderr)
        for p in exc.problems:
            print(f"  {p}", file=sys.stderr)
        return 2
    # The database `run` uses with this config: its own file (the offline example's), else DATABASE_URL.
    url = database_url(None, st.database_path, env.database_url)
    if st.database_path is not None or url == f"sqlite:///{DEFAULT_SQLITE}":
        upgrade(url)  # the embedded default and a config's own file migrate themselves, as `run` does
    engine = make_engine(url)
    try:
        check_migrated(engine)
    except NotMigratedError as exc:
        print(str(exc), file=sys.stderr)
        return 1  # exit status 3 is the service's own (README, "Errors are one line")
    return st, engine


def _read_password(from_stdin: bool) -> str | None:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(t("web_passwd_prompt"))
    if getpass.getpass(t("web_passwd_again")) != first:
        print(t("web_passwd_mismatch"), file=sys.stderr)
        return None
    return first


def cmd_passwd(args: argparse.Namespace, env: Environment) -> int:
    """Set a roster person's console password (asked twice on a terminal, else one line of stdin)."""
    from .auth import MIN_PASSWORD, set_password

    ready = _setup(args, env)
    if isinstance(ready, int):
        return ready
    st, engine = ready
    if not any(p.name == args.name for p in st.roster.people):
        print(t("web_not_on_roster", name=args.name), file=sys.stderr)
        return 2
    password = _read_password(args.stdin)
    if password is None:
        return 1
    if len(password) < MIN_PASSWORD:
        print(t("web_passwd_short", n=MIN_PASSWORD), file=sys.stderr)
        return 2
    set_password(engine, st.roster, args.name, password, utcnow())
    print(t("web_passwd_set", name=args.name))
    return 0


def cmd_login(args: argparse.Namespace, env: Environment) -> int:
    """Print a one-time sign-in link for a roster person."""
    from .auth import issue_login_link

    ready = _setup(args, env)
    if isinstance(ready, int):
        return ready
    st, engine = ready
    try:
        link = issue_login_link(engine, st, args.name, utcnow())
    except ValueError:
        print(t("web_not_on_roster", name=args.name), file=sys.stderr)
        return 2
    minutes = int(st.feeds.web.login_link_ttl.total_seconds() // 60)
    print(t("web_console_link", name=args.name, minutes=minutes, link=link))
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `web passwd` and `web login` on the main parser's sub-commands."""
    web = sub.add_parser("web", help="web console: set a password, print a one-time sign-in link")
    inner = web.add_subparsers(dest="web_command", required=True)
    pw = inner.add_parser("passwd", help="set a roster person's console password")
    pw.add_argument("name", help="the person's name as written in roster.yaml")
    pw.add_argument("--stdin", action="store_true", help="read the password from one line of standard input")
    pw.add_argument("--config", default="feeds.yaml", help="path to feeds.yaml")
    pw.set_defaults(func=cmd_passwd)
    lg = inner.add_parser("login", help="print a one-time sign-in link for a roster person")
    lg.add_argument("name", help="the person's name as written in roster.yaml")
    lg.add_argument("--config", default="feeds.yaml", help="path to feeds.yaml")
    lg.set_defaults(func=cmd_login)
