"""The annual disclosure report's section 二、回应解读情况, filled from the records.

The rows are those of the report's fixed table (附表, seed 002). Each figure is
counted from completed steps (`Step.done_at` in the year, in the bureau's time zone)
of incidents that were not dismissed, with details from their `step_done` events:

- (一) hot spots / major sentiment responded to: accident events (kind 'event') with
  at least one completed response step in the year, one per event whatever the
  number of channels and steps;
- (二)1 press conferences held: completed steps that count as the press conference
  (a playbook step's `report_as: press_conference`, else its key); of which attended
  by the head: those whose step_done event says {"attended_by_head": true} (`/done N
  press_conference 主要负责同志参加`, the card's button, the console's form);
- (二)4 Weibo/WeChat responses: events with a completed step published on Weibo or
  WeChat (the `outlets` of the step_done event, else its channel, else the step's);
- (二)5 responses by other means: events with a completed response step other than a
  press conference published on the portal, the app or another outlet.

Where the records leave a figure open, the row says how much: a conference whose
step_done does not say whether the head attended, a response whose outlet was not
recorded, is counted in `unrecorded` (and in no figure), and a row with nothing counted
but something unrecorded has `value=None`: "the records cannot tell", never a 0 that
reads like a figure. Rows the records cannot support at all (online interviews,
policy-interpretation articles) are returned with `value=None` and the reason.
Upstream policy items the bureau reposts are not responses to sentiment and count in
none of these rows.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Collection, Mapping
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
    "value_text",
]

SOCIAL = frozenset({"weibo", "wechat"})
# Outlets of a response "by other means" (row 5): not Weibo/WeChat, not a press conference.
OTHER_MEANS = frozenset({"portal", "app", "other"})

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
    """One row: `value` None when the records cannot support it (see `supported`).
    `unrecorded` counts what the records leave open (events whose outlet, conferences whose
    attendance was not recorded): not in `value`, and said beside it."""

    code: str
    value: int | None
    supported: bool
    heading: bool = False
    incident_ids: tuple[int, ...] = ()  # what was counted, for audit (steps' incidents)
    unrecorded: int = 0


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
    """Per step: the outlets its `step_done` event names (its `outlets`, else its channel) and
    whether the head attended, when said (read by incident, which is indexed)."""
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
                outlets = [o for o in data.get("outlets") or [data.get("channel")] if o]
                if outlets:
                    d["outlets"] = set(outlets)
                if isinstance(data.get("attended_by_head"), bool):
                    d["head"] = d.get("head", False) or data["attended_by_head"]
    return details


def _count(
    steps: list[_Done], details: dict[int, dict[str, Any]], obligations: Mapping[str, str]
) -> dict[str, tuple[Collection[int], Collection[int]]]:
    """Per supported row: the incidents it counts (a list where one incident may count twice)
    and what the records leave open for it."""
    hotspots: set[int] = set()
    social: set[int] = set()
    other: set[int] = set()
    no_outlet: set[int] = set()
    conferences: list[int] = []
    with_head: list[int] = []
    head_unsaid: list[int] = []
    for sid, iid, key, channel in steps:
        hotspots.add(iid)
        d = details.get(sid, {})
        if obligations.get(key, key) == Obligation.PRESS_CONFERENCE:
            conferences.append(iid)
            head = d.get("head")
            if head is None:
                head_unsaid.append(iid)
            elif head:
                with_head.append(iid)
            continue
        where = d.get("outlets") or ({str(channel)} if channel else set())
        if not where:
            no_outlet.add(iid)
        if where & SOCIAL:
            social.add(iid)
        if where & OTHER_MEANS:
            other.add(iid)
    return {
        "hotspots": (hotspots, set()),
        "press_conferences": (conferences, set()),
        "press_conferences_head": (with_head, head_unsaid),
        "weibo_wechat": (social, no_outlet - social),
        "other_means": (other, no_outlet - other),
    }


def _row(code: str, counted: Collection[int], open_: Collection[int]) -> AnnualRow:
    ids = tuple(sorted(counted))
    if not counted and open_:
        return AnnualRow(code, None, False, unrecorded=len(open_))  # the records cannot tell: no 0
    return AnnualRow(code, len(counted), True, incident_ids=ids, unrecorded=len(open_))


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
            rows.append(_row(code, *counted[code]))
    return AnnualFigures(
        year=year, tz=str(getattr(zone, "key", zone)), start=start, end=end, now=now, rows=rows
    )


# --------------------------------------------------------------------------- rendering


def value_text(row: AnnualRow, lang: str | None = None) -> str:
    """A row's figure as the report shows it: the number; "记录不支持"; or, where the records
    leave some open, the number with how many are open beside it, or only that."""
    cat = catalogue(lang)
    if row.heading:
        return "——"
    if not row.unrecorded:
        return cat("annual_unsupported") if row.value is None else str(row.value)
    what = cat(
        "annual_unrecorded_head" if row.code == "press_conferences_head" else "annual_unrecorded_outlet",
        n=row.unrecorded,
    )
    if row.value is None:
        return cat("annual_value_unrecorded", what=what)
    return cat("annual_value_partial", value=row.value, what=what)


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
        unit_text = "——" if row.heading else cat(unit)
        lines.append(f"{cat(label)} | {unit_text} | {value_text(row, lang)}")
    lines += ["", cat("annual_notes_head")]
    for row in figures.rows:
        if not row.heading:
            _, _, short, note = ROW_TEXTS[row.code]
            lines.append(cat("annual_note_line", short=cat(short), note=cat(note)))
    return "\n".join(lines) + "\n"


def render_annual_csv(figures: AnnualFigures, lang: str | None = None) -> str:
    """One row per report row: year, timezone, code, indicator, unit, value, supported, note,
    unrecorded (after a UTF-8 byte-order mark, for Excel)."""
    cat = catalogue(lang)
    out = io.StringIO()
    out.write(CSV_BOM)
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["year", "timezone", "code", "indicator", "unit", "value", "supported", "note", "unrecorded"])
    for row in figures.rows:
        if row.heading:
            continue
        label, unit, _, note = ROW_TEXTS[row.code]
        value = "" if row.value is None else row.value
        supported = "yes" if row.supported else "no"
        w.writerow(
            [
                figures.year,
                figures.tz,
                row.code,
                cat(label),
                cat(unit),
                value,
                supported,
                cat(note),
                row.unrecorded,
            ]
        )
    return out.getvalue()
