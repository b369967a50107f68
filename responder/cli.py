"""Command line: run, scan, check-config (more arrive with their issues)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .configfile import ConfigError

__all__ = ["main"]

log = logging.getLogger("responder")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request URL at INFO and the bot token is part of Telegram's URLs.
    for noisy in ("httpx", "httpcore", "telegram.ext.Updater", "apscheduler.executors"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate feeds.yaml (and, as they arrive, playbooks and roster); print what loaded."""
    from .config import load_feeds

    try:
        cfg = load_feeds(Path(args.config))
    except ConfigError as exc:
        print(f"配置有误 / config problems ({len(exc.problems)}):", file=sys.stderr)
        for p in exc.problems:
            print(f"  {p}", file=sys.stderr)
        return 2
    print(f"{args.config}: {len(cfg.sources)} sources, {len(cfg.schemes)} schemes, time zone {cfg.timezone}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Bring the database (DATABASE_URL, else the SQLite file) to the newest schema."""
    from sqlalchemy.exc import OperationalError

    from .db import database_url, redact_url
    from .i18n import t
    from .migrate import upgrade

    url = database_url()
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

    m = sub.add_parser("migrate", help="upgrade the database (DATABASE_URL) to the newest schema")
    m.set_defaults(func=cmd_migrate)

    from .reports.commands import add_commands as add_report_commands

    add_report_commands(sub)  # summary, report annual
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command; returns the exit status."""
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    return int(args.func(args) or 0)
