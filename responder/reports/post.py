"""The weekly post: the chart and the figures of one week, assembled once for every place it goes.

The Monday job queues it to the policy office and the head; `/summary` answers with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy.engine import Engine

from ..playbook import Playbook, report_obligations
from .render import render_weekly_text
from .weekly import IsoWeek, compute_weekly

__all__ = ["WeeklyPost", "last_complete_week", "weekly_post"]


@dataclass(frozen=True)
class WeeklyPost:
    """The chart (PNG) with its caption, then the figures as text."""

    week: str
    caption: str
    chart: bytes
    text: str


def last_complete_week(now: datetime, tz: tzinfo) -> IsoWeek:
    """The week the Monday post reports: the last one that has ended."""
    return IsoWeek.containing(now, tz).shift(-1)


def weekly_post(
    engine: Engine, week: IsoWeek, tz: tzinfo, playbooks: dict[str, Playbook], now: datetime
) -> WeeklyPost:
    """Compute `week` as of `now` and render its post (imports matplotlib: call it off the event loop)."""
    from .chart import render_chart

    summary = compute_weekly(engine, week, tz, now=now, obligations=report_obligations(playbooks))
    text = render_weekly_text(summary)
    return WeeklyPost(week.label, text.split("\n", 1)[0], render_chart(summary), text)
