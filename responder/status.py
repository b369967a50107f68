"""`python main.py status`: what an on-call engineer checks first — feeds, open incidents, outbox."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from .models import FeedState, Incident, Outbox, Step
from .present.formats import format_span, format_time
from .vocab import LIVE_STATUSES, UNSENT_STATUSES, OutboxStatus

__all__ = ["render_status"]


def _t(d: datetime | None, tz: ZoneInfo) -> str:
    return format_time(d, tz, full=True)


def render_status(engine: Engine, now: datetime, tz_name: str = "Asia/Shanghai") -> str:
    """A plain-text report of the service's state as stored (no running process needed)."""
    tz = ZoneInfo(tz_name)
    out = [f"as of {_t(now, tz)} ({tz_name})", "", "feeds:"]
    with Session(engine) as s:
        for f in s.exec(select(FeedState).order_by(col(FeedState.source))).all():
            state = "OK" if not f.consecutive_failures else f"FAILING x{f.consecutive_failures}"
            out.append(
                f"  {f.source}: {state}; last success {_t(f.last_success_at, tz)}; "
                f"next poll {_t(f.next_poll_at, tz)}; polls {f.polls}"
            )
            if f.last_error:
                out.append(f"      last error: {f.last_error}")
        live = s.exec(
            select(Incident).where(col(Incident.status).in_(LIVE_STATUSES)).order_by(col(Incident.id))
        ).all()
        out += ["", f"open incidents: {len(live)}"]
        for inc in live:
            nxt = s.exec(
                select(func.min(Step.due_at)).where(Step.incident_id == inc.id, col(Step.done_at).is_(None))
            ).one()
            left = "-" if nxt is None else ("OVERDUE" if nxt <= now else format_span(nxt - now))
            out.append(f"  #{inc.id} [{inc.grade or '-'}] {inc.status} {inc.title} (next deadline: {left})")
        pending, oldest = s.exec(
            select(func.count(), func.min(Outbox.created_at)).where(col(Outbox.status).in_(UNSENT_STATUSES))
        ).one()
        failed = s.exec(select(func.count()).where(Outbox.status == OutboxStatus.FAILED)).one()
    out += ["", f"outbox: {pending} unsent (oldest queued {_t(oldest, tz)}), {failed} failed for good"]
    return "\n".join(out)
