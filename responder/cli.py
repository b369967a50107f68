"""Command line: run, scan, check-config, migrate, status, summary, report, calendar, web,
and ack/done/dismiss/close for people without Telegram.

Every command answers a problem an operator can meet — a config mistake, a database
that is down or not migrated, a URL that cannot be read, a missing folder, a closed
pipe (`status | head`) — with one line (or one line per config problem), never a
traceback; `-v` shows the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, cast

from .cli_usage import OneLineParser, migrate_command
from .configfile import ConfigError
from .env import Environment
from .i18n import t, use_language
from .models import utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from .runtime import Settings
    from .senders.base import Sender
    from .service import Service

__all__ = ["build_parser", "main"]

log = logging.getLogger("responder")

EXIT_CONFIG = 2
EXIT_NOT_MIGRATED = 3
EXIT_BROKEN_PIPE = 141  # what a shell reports for a process ended by SIGPIPE


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request URL at INFO and the bot token is part of Telegram's URLs.
    for noisy in ("httpx", "httpcore", "telegram.ext.Updater", "apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _print_problems(exc: ConfigError) -> int:
    print(t("config_problems_head", n=len(exc.problems)), file=sys.stderr)
    for p in exc.problems:
        print(f"  {p}", file=sys.stderr)
    return EXIT_CONFIG


def _optional_settings(args: argparse.Namespace) -> Settings | None:
    """The settings of --config when given (its problems end the command), else of ./feeds.yaml
    when it is there and valid (a note otherwise), else None."""
    from .runtime import load_settings

    if args.config:
        return load_settings(Path(args.config))
    if not Path("feeds.yaml").is_file():
        return None
    try:
        return load_settings(Path("feeds.yaml"))
    except ConfigError as exc:
        print(t("cli_config_ignored", n=len(exc.problems)), file=sys.stderr)
        return None


def _database(args: argparse.Namespace, env: Environment, settings: Settings | None = None) -> str:
    """The database URL for this command (noted on `args` for error messages)."""
    from .db import database_url

    configured = settings.database_path if settings is not None else None
    url = database_url(getattr(args, "database", None), configured, env.database_url)
    args.db_url = url
    return url


def _load_with_robots(config: Path, env: Environment) -> Settings:
    """The settings, with the roster's robots' variables checked in the environment (at the
    roster's file:line:field, never showing a value)."""
    from .runtime import load_settings

    st = load_settings(config)
    problems = st.roster.variable_problems(env.variables)
    if problems:
        raise ConfigError(problems)
    return st


def _robot_link_warning(st: Settings) -> str | None:
    """The warning when robots are configured but their console links would point at this machine."""
    from .present.channels import console_link_warning
    from .web.links import base_url

    web = st.feeds.web
    return console_link_warning(len(st.roster.robots()), web.public_url, base_url(web))


def cmd_check_config(args: argparse.Namespace, env: Environment) -> int:
    """Validate feeds.yaml, the playbooks and the roster together; print what loaded."""
    from .present.calendar import unknown_year
    from .workcal import unknown_year_warning

    st = _load_with_robots(Path(args.config), env)
    f = st.feeds
    enabled = sum(s.enabled for s in f.sources)
    words = st.intake.matcher.word_count
    print(
        t(
            "check_feeds",
            path=args.config,
            sources=len(f.sources),
            enabled=enabled,
            schemes=len(f.schemes),
            words=words,
            tz=f.timezone,
        )
    )
    print(t("check_playbooks", names=t("check_list_separator").join(sorted(st.playbooks))))
    officer = st.roster.on_duty(utcnow())
    on_duty = officer.name if officer is not None else t("check_nobody_on_duty")
    print(t("check_roster", people=len(st.roster.people), on_duty=on_duty))
    if st.database_path is not None:
        print(t("cli_own_database", path=st.database_path))
    print(st.calendar.describe_years())
    warning = unknown_year_warning(st.calendar, utcnow())
    if warning is not None:
        print(unknown_year(warning))
    links = _robot_link_warning(st)
    if links is not None:
        print(links)
    return 0


def cmd_scan(args: argparse.Namespace, env: Environment) -> int:
    """Fetch every source once and show what the service would do; writes and sends nothing."""
    import tempfile

    from .replay import Replay
    from .runtime import load_settings
    from .scan import render_json, render_table, scan

    st = load_settings(Path(args.config))
    now = utcnow()
    with tempfile.TemporaryDirectory(prefix="responder-scan-") as tmp:
        if st.feeds.replay is not None:
            # The example's feeds as they stand now: the items dated up to this moment.
            st = Replay.prepare(st, Path(tmp), now, fresh=True).replayed_settings()
        result = scan(st, now)
    print(render_json(result) if args.json else render_table(result, st))
    return 0


def cmd_run(args: argparse.Namespace, env: Environment) -> int:
    """Run the service until SIGINT/SIGTERM; SIGHUP reloads the configuration."""
    import asyncio

    from .db import DEFAULT_SQLITE, make_engine, redact_url, sqlite_path
    from .migrate import check_migrated, upgrade
    from .senders import make_sender
    from .status import foreign_sources, has_feed_states
    from .supervise import Supervisor
    from .web.server import ConsoleServer, run_with_console

    st = _load_with_robots(Path(args.config), env)
    links = _robot_link_warning(st)
    if links is not None:
        log.warning(links)
    url = _database(args, env, st)
    own = sqlite_path(url)
    if st.database_path is not None or (own is not None and own == Path(DEFAULT_SQLITE)):
        # The embedded default and a config's own file must start in one command: they migrate themselves.
        upgrade(url)
    engine = make_engine(url)
    check_migrated(engine)
    log.info(t("log_database", url=redact_url(url)))
    if st.database_path is not None:
        log.info(t("cli_own_database", path=st.database_path))
    others = foreign_sources(engine, st)
    if others:
        log.warning(
            t("run_foreign_sources", n=len(others), names="、".join(others[:10]), url=redact_url(url))
        )
    try:
        first = [make_sender(env, st)]
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    base = st.database_path.parent if st.database_path is not None else st.base_dir / "var"
    supervisor = Supervisor(
        st,
        engine,
        lambda settings: _build_service(args, env, engine, settings, first),
        replay_dir=base / "replay",
        fresh_database=not has_feed_states(engine),
        check=lambda settings: _check_robots(settings, env),
    )
    # The web console runs in the same loop; in console mode (no bot) it prints sign-in links.
    console = None
    if st.feeds.web.enabled:
        console = ConsoleServer(st, engine, console_mode=env.telegram is None, secret=env.web_secret)
    asyncio.run(run_with_console(supervisor, console))
    return 0


def _check_robots(settings: Settings, env: Environment) -> None:
    """A reloaded roster's robots need their variables in the environment the service started with."""
    problems = settings.roster.variable_problems(env.variables)
    if problems:
        raise ConfigError(problems)


def _build_service(
    args: argparse.Namespace, env: Environment, engine: Engine, settings: Settings, first: list[Sender]
) -> Service:
    """A Service on `settings` with its own sender and Telegram application (one per (re)start:
    a stopped service closes them)."""
    from .clock import FileClock, steady_seconds
    from .senders import make_sender
    from .service import Service

    sender = first.pop() if first else make_sender(env, settings)
    clock, steady = utcnow, steady_seconds
    if env.test_clock is not None:
        log.warning("RESPONDER_TEST_CLOCK is set: running on the test clock of %s", env.test_clock)
        test_clock = FileClock(Path(env.test_clock))
        clock, steady = test_clock.now, test_clock.steady
    application = None
    if env.telegram is not None:
        from .chat.telegram import build_application

        application = build_application(settings, engine, env.telegram, clock=clock)
    return Service(
        settings,
        engine,
        sender,
        application=application,
        cycle_every=args.cycle_seconds,
        clock=clock,
        steady=steady,
    )


def cmd_status(args: argparse.Namespace, env: Environment) -> int:
    """Feeds, open incidents and the outbox, as the database has them now (nothing is created)."""
    from .db import reader_engine
    from .migrate import check_migrated
    from .status import render_status

    st = _optional_settings(args)
    own = st is not None and st.database_path is not None
    create_with = migrate_command((args.config or "feeds.yaml") if own else None)
    engine = reader_engine(_database(args, env, st), create_with)
    try:
        check_migrated(engine)
        tz = args.tz or (st.feeds.timezone if st is not None else "Asia/Shanghai")
        print(render_status(engine, utcnow(), tz, calendar=st.calendar if st is not None else None))
    finally:
        engine.dispose()
    return 0


def cmd_migrate(args: argparse.Namespace, env: Environment) -> int:
    """Bring the database (--config's own file, else DATABASE_URL, else the SQLite file) to the newest schema."""
    from .db import redact_url
    from .migrate import upgrade

    url = _database(args, env, _optional_settings(args) if args.config else None)
    before, after = upgrade(url)
    if before == after:
        print(t("db_up_to_date", url=redact_url(url), rev=after))
    else:
        empty = t("db_no_revision")
        print(t("db_migrated", url=redact_url(url), before=before or empty, after=after or empty))
    return 0


def _database_problem(exc: Exception, args: argparse.Namespace, env: Environment) -> str:
    """One line for a database error, with the URL's password hidden."""
    from .db import redact_url

    url = redact_url(getattr(args, "db_url", None) or env.database_url or "sqlite:///")
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    if "no such table" in reason or ("relation" in reason and "does not exist" in reason):
        return t("db_no_schema", url=url)
    return t("db_connect_failed", url=url, error=reason)


def _run_command(args: argparse.Namespace, env: Environment) -> int:
    """Run the command; turn every error an operator can meet into one line and an exit status."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    from .db import DatabaseUrlError, NoDatabaseError
    from .migrate import NotMigratedError

    try:
        status = int(args.func(args, env) or 0)
        sys.stdout.flush()  # a closed pipe shows up here, not at exit
        return status
    except BrokenPipeError:
        # `status | head`: the reader has gone. Say nothing more, on a stdout that cannot fail.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        return 130
    except ConfigError as exc:
        return _print_problems(exc)
    except DatabaseUrlError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    except NotMigratedError as exc:
        print(str(exc), file=sys.stderr)
        # Only the service has its own status for this (a unit file can tell it apart).
        return EXIT_NOT_MIGRATED if args.command == "run" else 1
    except NoDatabaseError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except (OperationalError, DBAPIError) as exc:
        print(_database_problem(exc, args, env), file=sys.stderr)
        return 1
    except OSError as exc:
        where = exc.filename if exc.filename is not None else ""
        print(t("cli_os_error", path=where, error=exc.strerror or type(exc).__name__), file=sys.stderr)
        return 1
    except Exception as exc:
        if args.verbose:
            raise
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        print(t("cli_unexpected", kind=type(exc).__name__, error=first_line), file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; one sub-command per operator task."""
    p = OneLineParser(prog="responder", description=__doc__)
    p.add_argument(
        "-v", "--verbose", action="store_true", help="debug logging; tracebacks of unexpected errors"
    )
    # Typed as plain ArgumentParser's: the modules that add sub-commands need no more than that.
    sub = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        p.add_subparsers(dest="command", required=True, parser_class=OneLineParser),
    )

    c = sub.add_parser("check-config", help="validate feeds.yaml, playbooks/ and roster.yaml")
    c.add_argument("--config", default="feeds.yaml", help="path to feeds.yaml")
    c.set_defaults(func=cmd_check_config)

    r = sub.add_parser(
        "run", help="run the service (feeds, deadlines, Telegram) until stopped; SIGHUP reloads"
    )
    r.add_argument("--config", default="feeds.yaml", help="path to feeds.yaml")
    r.add_argument("--cycle-seconds", type=float, default=5.0, help="how often the engine cycle runs")
    r.set_defaults(func=cmd_run)

    sc = sub.add_parser("scan", help="dry run: fetch every source once, print what would happen")
    sc.add_argument("--config", default="feeds.yaml", help="path to feeds.yaml")
    sc.add_argument("--json", action="store_true", help="one JSON document (stable field names)")
    sc.set_defaults(func=cmd_scan)

    stt = sub.add_parser("status", help="feeds, open incidents, outbox depth and the calendar's years")
    stt.add_argument(
        "--config", help="feeds.yaml (default: ./feeds.yaml when present): its database and calendar"
    )
    stt.add_argument("--tz", help="time zone for display (default: the config's, else Asia/Shanghai)")
    stt.set_defaults(func=cmd_status)

    m = sub.add_parser("migrate", help="upgrade the database (DATABASE_URL) to the newest schema")
    m.add_argument("--config", help="feeds.yaml whose own database (database:) to migrate")
    m.set_defaults(func=cmd_migrate)

    from .calendar_import import add_command as add_calendar_command
    from .reports.commands import add_commands as add_report_commands

    add_report_commands(sub)  # summary, report annual
    add_calendar_command(sub)  # calendar import
    from .web.commands import add_commands as add_web_commands

    add_web_commands(sub)  # web passwd, web login
    from .cli_act import add_commands as add_act_commands

    add_act_commands(sub)  # ack, done, dismiss, close without Telegram
    return p


def parse_command_line(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line as a namespace; a usage mistake ends the process with one line (status 2).

    The commands that take a chat command's words (ack, done, dismiss, close) take them on
    either side of their options: `done 12 --as 张三 statement 微博` is `done 12 statement 微博 --as 张三`.
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "words_anywhere", False) and not any(w.startswith("-") for w in extra):
        # argparse gives a positional list only its first run of words; the rest come back here, in order.
        args.words = [*args.words, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Read the environment once, parse the command line, and run one command; returns the exit status."""
    try:
        env = Environment.read()
        use_language(env.lang)  # first, so that a usage mistake is told in the chosen language too
    except ValueError as exc:  # a malformed variable: named, its value never echoed if secret
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    args = parse_command_line(argv)
    _setup_logging(args.verbose)
    return _run_command(args, env)
