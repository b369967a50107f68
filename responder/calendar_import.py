"""`python main.py calendar import FILE|URL [--confirm]`: next year's holidays from the State Council.

The admin gives the notice (国务院办公厅关于20XX年部分节假日安排的通知) as a saved page, a
text file or its address. The command reads it (responder/holiday_notice.py), shows
every holiday and make-up workday it found, what the notice's own weekdays and day
counts say about them, and how they compare with the chinese_calendar package when the
package already knows the year. Nothing is stored until the admin runs it again with
`--confirm`; then the year goes into the schedule file (`calendar.schedule_file` of
roster.yaml, `holidays.yaml` by default), which the working-day calendar reads at start
and on every reload. A notice that did not check out is stored only with `--force`.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import chinese_calendar

from .env import Environment
from .holiday_notice import HolidayNotice, NoticeError, parse_notice
from .i18n import t
from .models import utcnow
from .present.calendar import festival_lines
from .text import html_to_text
from .workcal import YearSchedule, package_years, save_schedule

if TYPE_CHECKING:
    from .runtime import Settings

__all__ = [
    "add_command",
    "cmd_calendar_import",
    "confirm_command",
    "read_source",
    "render_review",
    "schedule_path",
    "store_schedule",
]

_MAX_PAGE_BYTES = 5 * 1024 * 1024


def _decode(body: bytes, charset: str | None) -> str:
    for encoding in filter(None, (charset, "utf-8", "gb18030")):
        try:
            return body.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("utf-8", errors="replace")


def read_source(source: str, timeout: float = 20.0) -> str:
    """The text of the notice at `source`: a local file (text or a saved page) or an http(s) address."""
    if urlsplit(source).scheme in ("http", "https"):
        import httpx

        with httpx.Client(timeout=timeout, follow_redirects=True) as client:
            response = client.get(source)
            response.raise_for_status()
            body, charset = response.content[:_MAX_PAGE_BYTES], response.charset_encoding
    else:
        body, charset = Path(source).read_bytes()[:_MAX_PAGE_BYTES], None
    text = _decode(body, charset)
    return html_to_text(text) if "<" in text and ">" in text else text


def _package_differences(notice: HolidayNotice) -> list[str]:
    """Where the notice and the installed package disagree on that year's working days."""
    if notice.year not in package_years():
        return []
    first = date(notice.year, 1, 1)
    days = [first + timedelta(days=i) for i in range((date(notice.year + 1, 1, 1) - first).days)]
    holidays, workdays = set(notice.holidays), set(notice.workdays)
    out = []
    for d in days:
        ours = d in workdays or (d.weekday() < 5 and d not in holidays)
        if ours != bool(chinese_calendar.is_workday(d)):
            out.append(d.isoformat())
    return out


def render_review(notice: HolidayNotice, source: str) -> str:
    """What an admin checks before confirming: every festival's days, the checks, the comparison."""
    lines = [t("import_head", year=notice.year, source=source), ""]
    lines += festival_lines(notice.festivals, html=False)
    lines += ["", t("import_totals", holidays=len(notice.holidays), workdays=len(notice.workdays))]
    if notice.warnings:
        lines.append(t("import_warnings_head"))
        lines += [f"  - {w}" for w in notice.warnings]
    else:
        lines.append(t("import_checks_ok"))
    if notice.year in package_years():
        diffs = _package_differences(notice)
        lines.append(
            t("import_package_same")
            if not diffs
            else t("import_package_differs", n=len(diffs), days=t("calendar_list_separator").join(diffs[:10]))
        )
    return "\n".join(lines)


def cmd_calendar_import(args: argparse.Namespace, env: Environment) -> int:
    """Show the dates read from a notice; with --confirm, store them in the schedule file."""
    from .runtime import load_settings

    try:
        notice = parse_notice(read_source(args.source))
    except NoticeError as exc:
        print(t("import_unreadable", error=str(exc)), file=sys.stderr)
        return 2
    print(render_review(notice, args.source))
    if not args.confirm:
        print("\n" + t("import_how_to_confirm", command=confirm_command(args)))
        return 0
    if notice.warnings and not args.force:
        print(t("import_refused_warnings"), file=sys.stderr)
        return 2
    settings = load_settings(Path(args.config or "feeds.yaml"))
    who = args.by or getpass.getuser()
    target = store_schedule(settings, notice.year, notice.holidays, notice.workdays, args.source, who)
    print("\n" + t("import_saved", year=notice.year, path=target))
    return 0


def confirm_command(args: argparse.Namespace) -> str:
    """The command that stores what was just shown: the same source and the same options that
    decide which files it reads and writes (--config) and what it records (--by), plus --confirm."""
    import shlex

    words = ["python", "main.py", "calendar", "import", args.source]
    if args.config:
        words += ["--config", args.config]
    if args.by:
        words += ["--by", args.by]
    return shlex.join([*words, "--confirm"])


def schedule_path(settings: Settings) -> Path:
    """The schedule file of this configuration: `calendar.schedule_file`, relative to roster.yaml."""
    roster_path = settings.base_dir / settings.feeds.roster
    return roster_path.parent / settings.roster.calendar.schedule_file


def store_schedule(
    settings: Settings,
    year: int,
    holidays: Sequence[date],
    workdays: Sequence[date],
    source: str,
    confirmed_by: str,
    now: datetime | None = None,
) -> Path:
    """Write one confirmed year into the schedule file (replacing that year); returns the file."""
    target = schedule_path(settings)
    schedule = YearSchedule(
        holidays=list(holidays),
        workdays=list(workdays),
        source=source,
        confirmed_at=(now or utcnow()).astimezone(settings.tz),
        confirmed_by=confirmed_by,
    )
    save_schedule(target, year, schedule)
    return target


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `calendar import` on the CLI's sub-parsers."""
    c = sub.add_parser("calendar", help="the working-day calendar: import next year's official holidays")
    csub = c.add_subparsers(dest="calendar_command", required=True)
    i = csub.add_parser(
        "import",
        help="read the State Council's holiday notice (file or URL), show the dates, --confirm stores them",
    )
    i.add_argument("source", help="the notice: a text file, a saved web page, or its http(s) address")
    i.add_argument("--confirm", action="store_true", help="store the dates (after reviewing them)")
    i.add_argument(
        "--force", action="store_true", help="with --confirm: store even though some checks failed"
    )
    i.add_argument("--by", help="who confirms (recorded in the file; default: the login name)")
    i.add_argument(
        "--config", help="feeds.yaml, to find roster.yaml and its schedule file (default: ./feeds.yaml)"
    )
    i.set_defaults(func=cmd_calendar_import)
