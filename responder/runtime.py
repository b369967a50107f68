"""Everything loaded from configuration, validated together, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from .config import FeedsConfig, load_feeds
from .configfile import ConfigError, Problem, load_yaml
from .i18n import t
from .pipeline import Intake
from .playbook import Playbook, load_playbooks
from .roster import Roster, load_roster
from .workcal import WorkCalendar

__all__ = ["Settings", "load_settings", "reload_settings"]


@dataclass(frozen=True)
class Settings:
    """feeds.yaml, the playbooks and the roster, with what is built from them."""

    config_path: Path
    feeds: FeedsConfig
    intake: Intake
    playbooks: dict[str, Playbook]
    roster: Roster
    calendar: WorkCalendar

    @property
    def base_dir(self) -> Path:
        """The directory of feeds.yaml: relative paths in it start here."""
        return self.config_path.parent

    @property
    def tz(self) -> ZoneInfo:
        """The zone times are shown in (feeds.yaml `timezone`)."""
        return self.feeds.tz

    @property
    def database_path(self) -> Path | None:
        """The SQLite file feeds.yaml chooses with `database:` (None: DATABASE_URL or the default)."""
        return self.feeds.database_path(self.base_dir)


def _paths_anyway(config_path: Path) -> tuple[dict[str, str], bool]:
    """The playbooks/roster paths of a feeds.yaml that failed validation, if they can be read,
    so that their own problems are reported against the right files; and whether the file
    could be read at all (an empty file, a YAML syntax error or a tab say nothing about them)."""
    try:
        data, _ = load_yaml(config_path)
    except ConfigError:
        return {}, False
    if not isinstance(data, dict) or not data:
        return {}, False
    return {k: v for k in ("playbooks", "roster") if isinstance(v := data.get(k), str)}, True


def load_settings(config_path: Path) -> Settings:
    """Load and validate all three; one ConfigError lists every problem of every file.

    When feeds.yaml cannot be read at all, the playbooks and roster are checked only where
    they are by default and only if they are there: "playbook directory not found" would
    be a false lead when the real mistake is a tab in feeds.yaml.
    """
    problems: list[Problem] = []
    feeds = playbooks = roster = None
    paths = {"playbooks": "playbooks", "roster": "roster.yaml"}
    readable = True
    try:
        feeds = load_feeds(config_path)
        paths = {"playbooks": feeds.playbooks, "roster": feeds.roster}
    except ConfigError as exc:
        problems.extend(exc.problems)
        found, readable = _paths_anyway(config_path)
        paths |= found
    base = config_path.parent
    playbook_dir = base / paths["playbooks"]
    roster_path = base / paths["roster"]
    if readable or playbook_dir.is_dir():
        try:
            playbooks = load_playbooks(playbook_dir)
        except ConfigError as exc:
            problems.extend(exc.problems)
    if readable or roster_path.is_file():
        try:
            roster = load_roster(roster_path)
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    assert feeds is not None and playbooks is not None and roster is not None
    return Settings(
        config_path=config_path.resolve(),
        feeds=feeds,
        intake=Intake.from_config(feeds),
        playbooks=playbooks,
        roster=roster,
        calendar=roster.work_calendar(),
    )


def reload_settings(current: Settings) -> Settings:
    """The configuration read again from the same feeds.yaml, validated as at start-up.

    Raises ConfigError (the running settings stay in force) for any problem, and for a
    change that only a restart can apply: another `database:`.
    """
    fresh = load_settings(current.config_path)
    if fresh.database_path != current.database_path:
        line = Problem(str(current.config_path), None, "database", t("reload_database_changed"))
        raise ConfigError([line])
    return fresh
