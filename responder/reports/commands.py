"""Command-line sub-commands `summary` and `report annual` (registered by responder.cli)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["add_commands", "cmd_report_annual", "cmd_summary"]


def _config_database(args: argparse.Namespace) -> Path | None:
    """The SQLite file --config keeps its records in (`database:`), e.g. the offline example's."""
    if not args.config:
        return None
    from ..config import load_feeds

    path = Path(args.config)
    return load_feeds(path).database_path(path.parent)


def _zone_name(args: argparse.Namespace) -> str:
    """--tz, else the timezone of feeds.yaml (--config, or ./feeds.yaml when present), else Asia/Shanghai."""
    if args.tz:
        return str(args.tz)
    path = Path(args.config) if args.config else Path("feeds.yaml")
    if args.config or path.exists():
        from ..config import load_feeds

        return load_feeds(path).timezone
    return "Asia/Shanghai"


def _as_of(text: str | None) -> datetime:
    if not text:
        from ..models import utcnow

        return utcnow()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--as-of {text!r} is not a date-time; write e.g. 2026-11-23T09:00+08:00") from None
    if moment.tzinfo is None:
        raise ValueError(f"--as-of {text!r} has no UTC offset; write e.g. 2026-11-23T09:00+08:00")
    return moment.astimezone(UTC)


def _run(args: argparse.Namespace, body) -> int:  # type: ignore[no-untyped-def]
    """Shared error handling: bad input and a database without tables get one clear line, exit 2 / 1."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from ..configfile import ConfigError
    from ..db import database_url, make_engine, redact_url
    from ..i18n import t

    try:
        url = database_url(args.database, _config_database(args))
    except ConfigError as exc:
        for p in exc.problems:
            print(f"  {p}", file=sys.stderr)
        return 2
    args.db_url = url
    try:
        zone = _zone_name(args)
        now = _as_of(args.as_of)
        engine = make_engine(url)
        try:
            return int(body(engine, zone, now) or 0)
        finally:
            engine.dispose()
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


def cmd_summary(args: argparse.Namespace) -> int:
    """Print the weekly timeliness summary (text, CSV or JSON); optionally write the chart PNG."""
    from .render import render_weekly_csv, render_weekly_json, render_weekly_text
    from .weekly import IsoWeek, compute_weekly, resolve_tz

    def body(engine, zone: str, now: datetime) -> int:  # type: ignore[no-untyped-def]
        # Without --week: the last complete week, the one the Monday post reports.
        week = IsoWeek.parse(args.week) if args.week else IsoWeek.containing(now, resolve_tz(zone)).shift(-1)
        summary = compute_weekly(engine, week, zone, now=now)
        render = {"text": render_weekly_text, "csv": render_weekly_csv, "json": render_weekly_json}[
            args.format
        ]
        sys.stdout.write(render(summary))
        if args.chart:
            from .chart import render_chart

            Path(args.chart).write_bytes(render_chart(summary))
        return 0

    return _run(args, body)


def cmd_report_annual(args: argparse.Namespace) -> int:
    """Print the annual report's section 二 rows the records support (text or CSV)."""
    from .annual import compute_annual
    from .render import render_annual_csv, render_annual_text

    def body(engine, zone: str, now: datetime) -> int:  # type: ignore[no-untyped-def]
        figures = compute_annual(engine, args.year, zone, now=now)
        sys.stdout.write(render_annual_csv(figures) if args.format == "csv" else render_annual_text(figures))
        return 0

    return _run(args, body)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="feeds.yaml, for its timezone (default: ./feeds.yaml if present)")
    p.add_argument(
        "--tz", help="IANA time zone of the week/year edges (overrides the config), e.g. Asia/Shanghai"
    )
    p.add_argument("--database", help="database URL (default: DATABASE_URL, else the SQLite file under var/)")
    p.add_argument("--as-of", dest="as_of", help="count the records as of this moment (ISO 8601 with offset)")


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
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
