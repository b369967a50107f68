"""The annual disclosure report's section 二、回应解读情况, filled from the records.

The rows are those of the report's fixed table (附表, seed 002). Each figure is
counted from completed steps (`Step.done_at` in the year, in the bureau's time zone)
of incidents that were not dismissed, with details from their `step_done` events:

- (一) hot spots / major sentiment responded to: accident events (kind 'event') with
  at least one completed response step in the year, one per event whatever the
  number of channels and steps;
- (二)1 press conferences held: completed 'press_conference' steps; of which attended
  by the head: those whose step_done event says {"attended_by_head": true};
- (二)4 Weibo/WeChat responses: events with a completed step published on Weibo or
  WeChat (the channel of the step_done event, else of the step);
- (二)5 responses by other means: events with a completed response step other than a
  press conference whose channel is not Weibo/WeChat (portal, app, or not recorded).

Rows the records cannot support (online interviews, policy-interpretation articles)
are returned with `value=None` and the reason. Upstream policy items the bureau
reposts are not responses to sentiment and count in none of these rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ..models import Incident, IncidentEvent, Step
from .weekly import _chunks, _session, resolve_tz

__all__ = ["ROW_CODES", "AnnualFigures", "AnnualRow", "compute_annual"]

SOCIAL = frozenset({"weibo", "wechat"})

# The rows of 二、回应解读情况 in the report's order; a row's label, unit and note come
# from the catalogue as annual_row_<code>, annual_unit_<code>, annual_note_<code>.
ROW_CODES: tuple[str, ...] = (
    "hotspots",
    "channels",  # the heading (二), no figure of its own
    "press_conferences",
    "press_conferences_head",
    "online_interviews",
    "online_interviews_head",
    "policy_interpretation",
    "weibo_wechat",
    "other_means",
)
UNSUPPORTED: frozenset[str] = frozenset(
    {"online_interviews", "online_interviews_head", "policy_interpretation"}
)


@dataclass(frozen=True)
class AnnualRow:
    """One row: `value` None when the records cannot support it (see `supported`)."""

    code: str
    value: int | None
    supported: bool
    heading: bool = False
    incident_ids: tuple[int, ...] = ()  # what was counted, for audit (steps' incidents)


@dataclass(frozen=True)
class AnnualFigures:
    """Section 二 of `year`, counted in `tz` from the records as of `now`."""

    year: int
    tz: str
    start: datetime  # aware, in tz
    end: datetime  # aware, in tz (exclusive)
    now: datetime
    rows: list[AnnualRow]

    def row(self, code: str) -> AnnualRow:
        """The row with `code` (one of ROW_CODES)."""
        for r in self.rows:
            if r.code == code:
                return r
        raise KeyError(code)


def _year_bounds(year: int, tz: tzinfo) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz)


def compute_annual(
    source: Session | Engine, year: int, tz: str | tzinfo = "Asia/Shanghai", *, now: datetime
) -> AnnualFigures:
    """Count the rows of 二、回应解读情况 for `year` (1 January 00:00 to 1 January 00:00 in `tz`)."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime (UTC)")
    if not 2000 <= year <= 2100:
        raise ValueError(f"year {year} is out of range; give a four-digit year such as 2026")
    zone = resolve_tz(tz)
    start, end = _year_bounds(year, zone)
    lo, hi = start.astimezone(UTC), min(end.astimezone(UTC), now)
    st, inc, ev = Step.__table__, Incident.__table__, IncidentEvent.__table__  # type: ignore[attr-defined]
    session, owned = _session(source)
    try:
        steps = session.execute(
            sa.select(st.c.id, st.c.incident_id, st.c.key, st.c.channel)
            .join(inc, inc.c.id == st.c.incident_id)
            .where(
                st.c.done_at >= lo,
                st.c.done_at < hi,
                inc.c.status != "dismissed",
                inc.c.kind == "event",
            )
        ).all()
        # step_done details (channel, attended_by_head), read by incident (indexed).
        details: dict[int, dict[str, Any]] = defaultdict(dict)
        step_ids = {sid for sid, *_ in steps}
        for chunk in _chunks(sorted({iid for _, iid, _, _ in steps})):
            for step_id, data in session.execute(
                sa.select(ev.c.step_id, ev.c.data).where(
                    ev.c.incident_id.in_(chunk), ev.c.kind == "step_done"
                )
            ):
                if step_id in step_ids and data:
                    d = details[step_id]
                    if data.get("channel"):
                        d["channel"] = data["channel"]
                    d["head"] = d.get("head", False) or bool(data.get("attended_by_head"))
    finally:
        if owned:
            session.close()

    hotspots: set[int] = set()
    social: set[int] = set()
    other: set[int] = set()
    conferences: list[int] = []
    with_head: list[int] = []
    for sid, iid, key, channel in steps:
        hotspots.add(iid)
        where = details.get(sid, {}).get("channel") or channel or ""
        if key == "press_conference":
            conferences.append(iid)
            if details.get(sid, {}).get("head"):
                with_head.append(iid)
        if where in SOCIAL:
            social.add(iid)
        elif key != "press_conference":
            other.add(iid)

    counted: dict[str, list[int] | set[int]] = {
        "hotspots": hotspots,
        "press_conferences": conferences,
        "press_conferences_head": with_head,
        "weibo_wechat": social,
        "other_means": other,
    }
    rows = []
    for code in ROW_CODES:
        if code == "channels":
            rows.append(AnnualRow(code, None, True, heading=True))
        elif code in UNSUPPORTED:
            rows.append(AnnualRow(code, None, False))
        else:
            ids = counted[code]
            rows.append(AnnualRow(code, len(ids), True, incident_ids=tuple(sorted(ids))))
    return AnnualFigures(
        year=year, tz=str(getattr(zone, "key", zone)), start=start, end=end, now=now, rows=rows
    )
