"""When the weekly post is owed: an obligation of the service itself, decided like the others.

Every Monday at `WEEKLY_POST_AT` (09:00 on the bureau's clock) the summary of the week
that just ended is owed to the policy office and the head. The cycle asks on every run
whether it is owed and not yet queued (its message keys, `keys.weekly_summary`, are in
the outbox once it is), so a service that was down at 09:00 posts when it comes back,
once, and a second instance or a restart posts nothing twice.

Only the last complete week is ever owed: a service down for three weeks posts the last
week, not three stale ones. A post that fell due before the service first ran (a new
installation on a Wednesday) is owed nothing: there was nobody to post it then.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo

__all__ = ["WEEKLY_POST_AT", "week_label", "weekly_post_due"]

WEEKLY_POST_AT = time(9, 0)  # on Mondays, in the bureau's time zone


def week_label(monday: datetime) -> str:
    """The ISO week of a Monday, as the reports name it (2026-W47)."""
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def weekly_post_due(
    now: datetime, tz: tzinfo, in_service_since: datetime | None
) -> tuple[str, datetime] | None:
    """The week whose post is owed as of `now` and when it fell due, or None.

    Owed from Monday `WEEKLY_POST_AT` on: the week before the current one, provided the
    service was running (`in_service_since`, its first successful poll) before it fell due.
    """
    local = now.astimezone(tz)
    monday = (local - timedelta(days=local.weekday())).date()
    due = datetime.combine(monday, WEEKLY_POST_AT, tz)
    if now < due or in_service_since is None or in_service_since >= due:
        return None
    last_monday = datetime.combine(monday - timedelta(days=7), time(0), tz)
    return week_label(last_monday), due
