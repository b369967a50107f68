"""Command line: run, scan, check-config, migrate, status, summary, report."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .configfile import ConfigError
from .env import Environment
from .i18n import use_language
from .models import utcnow

if TYPE_CHECKING:
    from .runtime import Settings

__all__ = ["main"]

log = logging.getLogger("responder")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request URL at INFO and the bot token is part of Telegram's URLs.
    for noisy in ("httpx", "httpcore", "telegram.ext.Updater", "apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _print_problems(exc: ConfigError) -> int:
    print(f"配置有误 / config problems ({len(exc.problems)}):", file=sys.stderr)
    for p in exc.problems:
        print(f"  {p}", file=sys.stderr)
    return 2


def _settings(args: argparse.Namespace) -> Settings | int:
    """feeds.yaml, the playbooks and the roster of `--config`; on a problem, the problems
    printed and the exit status to return."""
    from .runtime import load_settings

    try:
        return load_settings(Path(args.config))
    except ConfigError as exc:
        return _print_problems(exc)


def cmd_check_config(args: argparse.Namespace, env: Environment) -> int:
    """Validate feeds.yaml, the playbooks and the roster together; print what loaded."""
    st = _settings(args)
    if isinstance(st, int):
        return st
    f = st.feeds
    print(
        f"{args.config}: {len(f.sources)} sources ({sum(s.enabled for s in f.sources)} enabled), "
        f"{len(f.schemes)} schemes, {st.intake.matcher.word_count} words, time zone {f.timezone}"
    )
    print(f"playbooks: {', '.join(sorted(st.playbooks))}")
    print(
        f"roster: {len(st.roster.people)} people; on duty now: "
        f"{(p.name if (p := st.roster.on_duty(utcnow())) else '-')}"
    )
    return 0


def cmd_scan(args: argparse.Namespace, env: Environment) -> int:
    """Fetch every source once and show what the service would do; writes and sends nothing."""
    from .scan import render_json, render_table, scan

    st = _settings(args)
    if isinstance(st, int):
        return st
    result = scan(st, utcnow())
    print(render_json(result) if args.json else render_table(result, st))
    return 0


def cmd_run(args: argparse.Namespace, env: Environment) -> int:
    """Run the service until SIGINT/SIGTERM."""
    import asyncio

    from .db import DEFAULT_SQLITE, database_url, make_engine, redact_url
    from .migrate import NotMigratedError, check_migrated, upgrade
    from .senders import make_sender
    from .service import Service

    st = _settings(args)
    if isinstance(st, int):
        return st
    url = database_url(env.database_url)
    if url == f"sqlite:///{DEFAULT_SQLITE}":
        # The embedded default must start in one command: it migrates itself.
        upgrade(url)
    engine = make_engine(url)
    try:
        check_migrated(engine)
    except NotMigratedError as exc:
        print(str(exc), file=sys.stderr)
        return 3
    sender = make_sender(env)
    application = None
    if env.telegram is not None:
        from .chat.telegram import build_application

        application = build_application(st, engine, env.telegram)
    log.info("database %s", redact_url(url))
    service = Service(st, engine, sender, application=application, cycle_every=args.cycle_seconds)
    asyncio.run(service.run())
    return 0


def cmd_status(args: argparse.Namespace, env: Environment) -> int:
    """Feeds, open incidents and the outbox, as the database has them now."""
    from .db import make_engine
    from .status import render_status

    print(render_status(make_engine(env.database_url), utcnow(), args.tz))
    return 0


def cmd_migrate(args: argparse.Namespace, env: Environment) -> int:
    """Bring the database (DATABASE_URL, else the SQLite file) to the newest schema."""
    from sqlalchemy.exc import OperationalError

    from .db import database_url, redact_url
    from .i18n import t
    from .migrate import upgrade

    url = database_url(env.database_url)
    try:
        before, after = upgrade(url)
    except OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        print(t("db_connect_failed", url=redact_url(url), error=reason), file=sys.stderr)
        return 1
    if before == after:
        print(t("db_up_to_date", url=redact_url(url), rev=after))
    else:
        empty = t("db_no_revision")
        print(t("db_migrated", url=redact_url(url), before=before or empty, after=after or empty))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; one sub-command per operator task."""
    p = argparse.ArgumentParser(prog="responder", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("check-config", help="validate feeds.yaml, playbooks/ and roster.yaml")
    c.add_argument("--config", default="feeds.yaml", help="path to feeds.yaml")
    c.set_defaults(func=cmd_check_config)

    r = sub.add_parser("run", help="run the service (feeds, deadlines, Telegram) until stopped")
    r.add_argument("--config", default="feeds.yaml", help="path to feeds.yaml")
    r.add_argument("--cycle-seconds", type=float, default=5.0, help="how often the engine cycle runs")
    r.set_defaults(func=cmd_run)

    sc = sub.add_parser("scan", help="dry run: fetch every source once, print what would happen")
    sc.add_argument("--config", default="feeds.yaml", help="path to feeds.yaml")
    sc.add_argument("--json", action="store_true", help="one JSON document (stable field names)")
    sc.set_defaults(func=cmd_scan)

    stt = sub.add_parser("status", help="feeds, open incidents and outbox depth from the database")
    stt.add_argument("--tz", default="Asia/Shanghai", help="time zone for display")
    stt.set_defaults(func=cmd_status)

    m = sub.add_parser("migrate", help="upgrade the database (DATABASE_URL) to the newest schema")
    m.set_defaults(func=cmd_migrate)

    from .reports.commands import add_commands as add_report_commands

    add_report_commands(sub)  # summary, report annual
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, read the environment once, and run one command; returns the exit status."""
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        env = Environment.read()
        use_language(env.lang)
    except ValueError as exc:  # a malformed variable: named, its value never echoed if secret
        print(str(exc), file=sys.stderr)
        return 2
    return int(args.func(args, env) or 0)
