"""`python main.py status`: what an on-call engineer checks first — feeds, open incidents, outbox,
and the service's own faults (a clock that jumped, a full disk)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from .db import redact_url, sqlite_path
from .faults import recent_faults
from .i18n import t
from .models import Fault, FeedState, Incident, Outbox, Step
from .present.calendar import unknown_year
from .present.formats import format_span, format_time, grade_tag
from .present.messages import jump_span
from .vocab import LIVE_STATUSES, UNSENT_STATUSES, FaultKind, IncidentStatus, OutboxStatus
from .workcal import WorkCalendar, unknown_year_warning

if TYPE_CHECKING:
    from .runtime import Settings

__all__ = ["fault_lines", "foreign_sources", "has_feed_states", "render_status"]

# Stored times this far past `now` mean the clock was ahead when they were written.
_FUTURE_SLACK = timedelta(minutes=5)
# A SQLite database's folder with less room than this cannot take the next writes.
_LOW_ROOM_BYTES = 1 << 20


def _t(d: datetime | None, tz: ZoneInfo) -> str:
    return format_time(d, tz, full=True)


def has_feed_states(engine: Engine) -> bool:
    """True once any feed has been recorded in this database (it is not a fresh one)."""
    with Session(engine) as s:
        return s.exec(select(FeedState.source).limit(1)).first() is not None


def foreign_sources(engine: Engine, settings: Settings) -> list[str]:
    """Sources recorded in the database that the configuration does not name, in order.

    They come from another feeds.yaml run on the same database (the offline example's
    sources under the real configuration) or from sources since removed; either way their
    incidents are still in this database, so `run` warns and names them.
    """
    configured = {s.name for s in settings.feeds.sources}
    with Session(engine) as s:
        recorded = s.exec(select(FeedState.source).order_by(col(FeedState.source))).all()
    return [name for name in recorded if name not in configured]


def render_status(
    engine: Engine, now: datetime, tz_name: str = "Asia/Shanghai", calendar: WorkCalendar | None = None
) -> str:
    """A plain-text report of the service's state as stored (no running process needed).

    With the configuration's `calendar`, it also says which years the working-day
    calendar knows, and warns from 60 days before a year it does not know begins.
    """
    tz = ZoneInfo(tz_name)
    out = [t("status_as_of", at=_t(now, tz), tz=tz_name), t("status_database", url=redact_url(engine.url))]
    if calendar is not None:
        out.append(calendar.describe_years())
        warning = unknown_year_warning(calendar, now)
        if warning is not None:
            out.append(unknown_year(warning))
    out += fault_lines(engine, now, tz)
    out += ["", t("status_feeds_head")]
    with Session(engine) as s:
        for f in s.exec(select(FeedState).order_by(col(FeedState.source))).all():
            n = f.consecutive_failures
            state = t("status_feed_failing", n=n) if n else t("status_feed_ok")
            last, next_at = _t(f.last_success_at, tz), _t(f.next_poll_at, tz)
            out.append(t("status_feed", source=f.source, state=state, last=last, next=next_at, polls=f.polls))
            if f.last_error:
                out.append(t("status_feed_error", error=f.last_error))
        live = s.exec(
            select(Incident).where(col(Incident.status).in_(LIVE_STATUSES)).order_by(col(Incident.id))
        ).all()
        out += ["", t("status_incidents_head", n=len(live))]
        for inc in live:
            nxt = s.exec(
                select(func.min(Step.due_at)).where(Step.incident_id == inc.id, col(Step.done_at).is_(None))
            ).one()
            left = (
                t("status_no_deadline")
                if nxt is None
                else (t("status_overdue") if nxt <= now else format_span(nxt - now))
            )
            out.append(
                t(
                    "status_incident",
                    id=inc.id,
                    grade=grade_tag(inc.kind, inc.grade),
                    status=t(_STATUS[inc.status]) if inc.status in _STATUS else str(inc.status),
                    title=inc.title,
                    left=left,
                )
            )
        pending, oldest = s.exec(
            select(func.count(), func.min(Outbox.created_at)).where(col(Outbox.status).in_(UNSENT_STATUSES))
        ).one()
        failed = s.exec(select(func.count()).where(Outbox.status == OutboxStatus.FAILED)).one()
    out += ["", t("status_outbox", pending=pending, oldest=_t(oldest, tz), failed=failed)]
    return "\n".join(out)


def _fault_line(f: Fault, tz: ZoneInfo) -> str:
    since, until = _t(f.started_at, tz), _t(f.ended_at, tz)
    if f.kind == FaultKind.DISK_FULL:
        key = "status_disk_open" if f.ended_at is None else "status_disk_closed"
        return t(key, instance=f.instance, since=since, until=until)
    jumps = " → ".join(jump_span(timedelta(seconds=j)) for j in f.data.get("jumps", []))
    key = "status_clock_open" if f.ended_at is None else "status_clock_closed"
    return t(key, instance=f.instance, since=since, until=until, jumps=jumps)


def fault_lines(engine: Engine, now: datetime, tz: ZoneInfo) -> list[str]:
    """What `status` says of the service's own faults: the clock jumps and full disks the
    service recorded (open, or of the last 24 hours), times stored in the future (a clock
    that was ahead, even one the service could not see jump), and a SQLite file's disk."""
    out: list[str] = []
    faults = recent_faults(engine, now)
    if faults:
        out += [t("status_faults_head"), *(_fault_line(f, tz) for f in faults)]
    with Session(engine) as s:
        latest = max(
            (
                d
                for d in (
                    s.exec(select(func.max(FeedState.last_attempt_at))).one(),
                    s.exec(select(func.max(Outbox.created_at))).one(),
                )
                if d is not None
            ),
            default=None,
        )
    if latest is not None and latest > now + _FUTURE_SLACK:
        out.append(t("status_clock_future", latest=_t(latest, tz), ahead=format_span(latest - now)))
    path = sqlite_path(engine.url)
    if path is not None and path.parent.is_dir():
        room = os.statvfs(path.parent)
        free = room.f_bavail * room.f_frsize
        if free < _LOW_ROOM_BYTES:
            out.append(t("status_disk_room", path=str(path.parent), free=free))
    return out


# The catalogue word of each live status, written out in full so a search finds it.
_STATUS: dict[str, str] = {
    IncidentStatus.OPEN: "status_state_open",
    IncidentStatus.ACKNOWLEDGED: "status_state_acknowledged",
}
