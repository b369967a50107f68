"""Everything loaded from configuration, validated together, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from .config import FeedsConfig, load_feeds
from .configfile import ConfigError, Problem, load_yaml
from .pipeline import Intake
from .playbook import Playbook, load_playbooks
from .roster import Roster, load_roster
from .workcal import WorkCalendar

__all__ = ["Settings", "load_settings"]


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


def _paths_anyway(config_path: Path) -> dict[str, str]:
    """The playbooks/roster paths of a feeds.yaml that failed validation, if they can be read,
    so that their own problems are reported against the right files."""
    try:
        data, _ = load_yaml(config_path)
    except ConfigError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k in ("playbooks", "roster") if isinstance(v := data.get(k), str)}


def load_settings(config_path: Path) -> Settings:
    """Load and validate all three; one ConfigError lists every problem of every file."""
    problems: list[Problem] = []
    feeds = playbooks = roster = None
    paths = {"playbooks": "playbooks", "roster": "roster.yaml"}
    try:
        feeds = load_feeds(config_path)
        paths = {"playbooks": feeds.playbooks, "roster": feeds.roster}
    except ConfigError as exc:
        problems.extend(exc.problems)
        paths |= _paths_anyway(config_path)
    base = config_path.parent
    playbook_dir = base / paths["playbooks"]
    roster_path = base / paths["roster"]
    try:
        playbooks = load_playbooks(playbook_dir)
    except ConfigError as exc:
        problems.extend(exc.problems)
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
