"""Command-line sub-commands `summary` and `report annual` (registered by responder.cli)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from ..env import Environment
from ..i18n import t

__all__ = ["add_commands", "cmd_report_annual", "cmd_summary"]


def _config_database(args: argparse.Namespace) -> Path | None:
    """The SQLite file --config keeps its records in (`database:`), e.g. the offline example's."""
    if not args.config:
        return None
    from ..config import load_feeds

    path = Path(args.config)
    return load_feeds(path).database_path(path.parent)


@dataclass(frozen=True)
class _Setting:
    """What a report needs from the configuration: the time zone and which step counts as what."""

    zone: str = "Asia/Shanghai"
    obligations: dict[str, str] = field(default_factory=dict)


def _setting(args: argparse.Namespace) -> _Setting:
    """--tz, else the timezone of feeds.yaml (--config, or ./feeds.yaml when present), else
    Asia/Shanghai; the playbooks beside that feeds.yaml say which step counts as which obligation."""
    path = Path(args.config) if args.config else Path("feeds.yaml")
    if not (args.config or path.exists()):
        return _Setting(args.tz or "Asia/Shanghai")
    from ..config import load_feeds
    from ..playbook import load_playbooks, report_obligations

    feeds = load_feeds(path)
    books = load_playbooks(path.parent / feeds.playbooks)
    return _Setting(args.tz or feeds.timezone, report_obligations(books))


def _as_of(text: str | None) -> datetime:
    if not text:
        from ..models import utcnow

        return utcnow()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(t("cli_as_of_unreadable", value=text)) from None
    if moment.tzinfo is None:
        raise ValueError(t("cli_as_of_naive", value=text))
    return moment.astimezone(UTC)


def _run(
    args: argparse.Namespace, env: Environment, body: Callable[[Engine, _Setting, datetime], int]
) -> int:
    """Shared error handling: bad input gets one clear line and exit 2; a database that is not
    there or not at this version one line and exit 1 (nothing is created)."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from ..cli_usage import migrate_command
    from ..configfile import ConfigError
    from ..db import NoDatabaseError, database_url, reader_engine, redact_url
    from ..migrate import NotMigratedError, check_migrated

    try:
        own = _config_database(args)
        url = database_url(args.database, own, env.database_url)
    except ConfigError as exc:
        for p in exc.problems:
            print(f"  {p}", file=sys.stderr)
        return 2
    args.db_url = url
    create_with = migrate_command(
        args.config if own is not None and not args.database else None, args.database
    )
    try:
        setting = _setting(args)
        now = _as_of(args.as_of)
        engine = reader_engine(url, create_with)
        try:
            # The same words (and exit status 1) as `status` for a database not at this version.
            check_migrated(engine)
            return body(engine, setting, now)
        finally:
            engine.dispose()
    except (NoDatabaseError, NotMigratedError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except ConfigError as exc:
        for p in exc.problems:
            print(f"  {p}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except (OperationalError, ProgrammingError) as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        if "no such table" in reason or "does not exist" in reason:
            print(t("db_no_schema", url=redact_url(url)), file=sys.stderr)
        else:
            print(t("db_connect_failed", url=redact_url(url), error=reason), file=sys.stderr)
        return 1


def cmd_summary(args: argparse.Namespace, env: Environment) -> int:
    """Print the weekly timeliness summary (text, CSV or JSON); optionally write the chart PNG."""
    from .render import render_weekly_csv, render_weekly_json, render_weekly_text
    from .weekly import IsoWeek, compute_weekly, resolve_tz

    def body(engine: Engine, setting: _Setting, now: datetime) -> int:
        # Without --week: the last complete week, the one the Monday post reports.
        zone = resolve_tz(setting.zone)
        week = IsoWeek.parse(args.week) if args.week else IsoWeek.containing(now, zone).shift(-1)
        summary = compute_weekly(engine, week, zone, now=now, obligations=setting.obligations)
        render = {"text": render_weekly_text, "csv": render_weekly_csv, "json": render_weekly_json}[
            args.format
        ]
        sys.stdout.write(render(summary))
        if args.chart:
            from .chart import render_chart

            Path(args.chart).write_bytes(render_chart(summary))
        return 0

    return _run(args, env, body)


def cmd_report_annual(args: argparse.Namespace, env: Environment) -> int:
    """Print the annual report's section 二 rows the records support (text or CSV)."""
    from .annual import compute_annual, render_annual_csv, render_annual_text

    def body(engine: Engine, setting: _Setting, now: datetime) -> int:
        figures = compute_annual(engine, args.year, setting.zone, now=now, obligations=setting.obligations)
        sys.stdout.write(render_annual_csv(figures) if args.format == "csv" else render_annual_text(figures))
        return 0

    return _run(args, env, body)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", help="feeds.yaml, for its timezone and playbooks (default: ./feeds.yaml if present)"
    )
    p.add_argument(
        "--tz", help="IANA time zone of the week/year edges (overrides the config), e.g. Asia/Shanghai"
    )
    p.add_argument("--database", help="database URL (default: DATABASE_URL, else the SQLite file under var/)")
    p.add_argument("--as-of", dest="as_of", help="count the records as of this moment (ISO 8601 with offset)")


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `summary` and `report annual` on the CLI's sub-parsers."""
    s = sub.add_parser("summary", help="weekly timeliness summary from the incident records")
    s.add_argument("--week", help="ISO week such as 2026-W47 (default: the last complete week)")
    s.add_argument("--format", choices=("text", "csv", "json"), default="text")
    s.add_argument("--chart", help="also write the on-time chart to this PNG file")
    _common(s)
    s.set_defaults(func=cmd_summary)

    r = sub.add_parser("report", help="figures for the annual disclosure report")
    rsub = r.add_subparsers(dest="report", required=True)
    a = rsub.add_parser("annual", help="section 二、回应解读情况 of the annual report")
    a.add_argument("--year", type=int, required=True, help="four-digit year, e.g. 2026")
    a.add_argument("--format", choices=("text", "csv"), default="text")
    _common(a)
    a.set_defaults(func=cmd_report_annual)
