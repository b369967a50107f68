"""The annual disclosure report's section 二、回应解读情况, filled from the records.

The rows are those of the report's fixed table (附表, seed 002). Each figure is
counted from completed steps (`Step.done_at` in the year, in the bureau's time zone)
of incidents that were not dismissed, with details from their `step_done` events:

- (一) hot spots / major sentiment responded to: accident events (kind 'event') with
  at least one completed response step in the year, one per event whatever the
  number of channels and steps;
- (二)1 press conferences held: completed steps that count as the press conference
  (a playbook step's `report_as: press_conference`, else its key); of which attended
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

import csv
import io
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ..i18n import catalogue
from ..models import Incident, IncidentEvent, Step, table
from ..present.formats import format_time
from ..vocab import EventKind, IncidentKind, IncidentStatus, Obligation
from .period import chunks, open_session, resolve_tz
from .render import CSV_BOM

__all__ = [
    "ROW_CODES",
    "AnnualFigures",
    "AnnualRow",
    "compute_annual",
    "render_annual_csv",
    "render_annual_text",
]

SOCIAL = frozenset({"weibo", "wechat"})

# The rows of 二、回应解读情况 in the report's order, each with the catalogue keys of its
# label, unit, short name and note ("channels" is the heading (二), no figure of its own).
ROW_TEXTS: dict[str, tuple[str, str, str, str]] = {
    "hotspots": (
        "annual_row_hotspots",
        "annual_unit_hotspots",
        "annual_short_hotspots",
        "annual_note_hotspots",
    ),
    "channels": (
        "annual_row_channels",
        "annual_unit_channels",
        "annual_short_channels",
        "annual_note_channels",
    ),
    "press_conferences": (
        "annual_row_press_conferences",
        "annual_unit_press_conferences",
        "annual_short_press_conferences",
        "annual_note_press_conferences",
    ),
    "press_conferences_head": (
        "annual_row_press_conferences_head",
        "annual_unit_press_conferences_head",
        "annual_short_press_conferences_head",
        "annual_note_press_conferences_head",
    ),
    "online_interviews": (
        "annual_row_online_interviews",
        "annual_unit_online_interviews",
        "annual_short_online_interviews",
        "annual_note_online_interviews",
    ),
    "online_interviews_head": (
        "annual_row_online_interviews_head",
        "annual_unit_online_interviews_head",
        "annual_short_online_interviews_head",
        "annual_note_online_interviews_head",
    ),
    "policy_interpretation": (
        "annual_row_policy_interpretation",
        "annual_unit_policy_interpretation",
        "annual_short_policy_interpretation",
        "annual_note_policy_interpretation",
    ),
    "weibo_wechat": (
        "annual_row_weibo_wechat",
        "annual_unit_weibo_wechat",
        "annual_short_weibo_wechat",
        "annual_note_weibo_wechat",
    ),
    "other_means": (
        "annual_row_other_means",
        "annual_unit_other_means",
        "annual_short_other_means",
        "annual_note_other_means",
    ),
}
ROW_CODES: tuple[str, ...] = tuple(ROW_TEXTS)
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


_Done = tuple[int, int, str, Any]  # step id, incident id, step key, channel


def _done_steps(session: Session, lo: datetime, hi: datetime) -> list[_Done]:
    """Steps completed in [lo, hi) of accident events that were not dismissed."""
    st, inc = table(Step), table(Incident)
    rows = session.execute(
        sa.select(st.c.id, st.c.incident_id, st.c.key, st.c.channel)
        .join(inc, inc.c.id == st.c.incident_id)
        .where(
            st.c.done_at >= lo,
            st.c.done_at < hi,
            inc.c.status != IncidentStatus.DISMISSED,
            inc.c.kind == IncidentKind.EVENT,
        )
    )
    return [(sid, iid, key, channel) for sid, iid, key, channel in rows]


def _done_details(session: Session, steps: list[_Done]) -> dict[int, dict[str, Any]]:
    """Per step: the channel its `step_done` event names and whether the head attended
    (read by incident, which is indexed)."""
    ev = table(IncidentEvent)
    details: dict[int, dict[str, Any]] = defaultdict(dict)
    step_ids = {sid for sid, *_ in steps}
    for chunk in chunks(sorted({iid for _, iid, _, _ in steps})):
        query = sa.select(ev.c.step_id, ev.c.data).where(
            ev.c.incident_id.in_(chunk), ev.c.kind == EventKind.STEP_DONE
        )
        for step_id, data in session.execute(query):
            if step_id in step_ids and data:
                d = details[step_id]
                if data.get("channel"):
                    d["channel"] = data["channel"]
                d["head"] = d.get("head", False) or bool(data.get("attended_by_head"))
    return details


def _count(
    steps: list[_Done], details: dict[int, dict[str, Any]], obligations: Mapping[str, str]
) -> dict[str, list[int] | set[int]]:
    """The incidents each supported row counts (a list where one incident may count twice)."""
    hotspots: set[int] = set()
    social: set[int] = set()
    other: set[int] = set()
    conferences: list[int] = []
    with_head: list[int] = []
    for sid, iid, key, channel in steps:
        hotspots.add(iid)
        where = details.get(sid, {}).get("channel") or channel or ""
        conference = obligations.get(key, key) == Obligation.PRESS_CONFERENCE
        if conference:
            conferences.append(iid)
            if details.get(sid, {}).get("head"):
                with_head.append(iid)
        if where in SOCIAL:
            social.add(iid)
        elif not conference:
            other.add(iid)
    return {
        "hotspots": hotspots,
        "press_conferences": conferences,
        "press_conferences_head": with_head,
        "weibo_wechat": social,
        "other_means": other,
    }


def compute_annual(
    source: Session | Engine,
    year: int,
    tz: str | tzinfo = "Asia/Shanghai",
    *,
    now: datetime,
    obligations: Mapping[str, str] | None = None,
) -> AnnualFigures:
    """Count the rows of 二、回应解读情况 for `year` (1 January 00:00 to 1 January 00:00 in `tz`).

    `obligations` maps step keys to what they count as (`playbook.report_obligations`).
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime (UTC)")
    if not 2000 <= year <= 2100:
        raise ValueError(f"year {year} is out of range; give a four-digit year such as 2026")
    zone = resolve_tz(tz)
    start, end = _year_bounds(year, zone)
    session, owned = open_session(source)
    try:
        steps = _done_steps(session, start.astimezone(UTC), min(end.astimezone(UTC), now))
        details = _done_details(session, steps)
    finally:
        if owned:
            session.close()
    counted = _count(steps, details, obligations or {})
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


# --------------------------------------------------------------------------- rendering


def render_annual_text(figures: AnnualFigures, lang: str | None = None) -> str:
    """Section 二、回应解读情况 as the report's rows (指标 | 单位 | 数量), then how each was counted."""
    cat = catalogue(lang)
    tz = resolve_tz(figures.tz)
    start, end = format_time(figures.start, tz, full=True), format_time(figures.end, tz, full=True)
    now = format_time(figures.now, tz, full=True)
    lines = [
        cat("annual_title", year=figures.year),
        cat("annual_period", start=start, end=end, tz=figures.tz, now=now),
        "",
        cat("annual_header"),
    ]
    for row in figures.rows:
        label, unit, _, _ = ROW_TEXTS[row.code]
        if row.heading:
            value, unit_text = "——", "——"
        else:
            value = cat("annual_unsupported") if row.value is None else str(row.value)
            unit_text = cat(unit)
        lines.append(f"{cat(label)} | {unit_text} | {value}")
    lines += ["", cat("annual_notes_head")]
    for row in figures.rows:
        if not row.heading:
            _, _, short, note = ROW_TEXTS[row.code]
            lines.append(f"- {cat(short)}:{cat(note)}")
    return "\n".join(lines) + "\n"


def render_annual_csv(figures: AnnualFigures, lang: str | None = None) -> str:
    """One row per report row: year, timezone, code, indicator, unit, value, supported, note
    (after a UTF-8 byte-order mark, for Excel)."""
    cat = catalogue(lang)
    out = io.StringIO()
    out.write(CSV_BOM)
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["year", "timezone", "code", "indicator", "unit", "value", "supported", "note"])
    for row in figures.rows:
        if row.heading:
            continue
        label, unit, _, note = ROW_TEXTS[row.code]
        value = "" if row.value is None else row.value
        supported = "yes" if row.supported else "no"
        w.writerow([figures.year, figures.tz, row.code, cat(label), cat(unit), value, supported, cat(note)])
    return out.getvalue()
