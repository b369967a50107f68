"""The weekly timeliness summary, computed from the incident records (never from counters).

A week is an ISO week, Monday 00:00 to the next Monday 00:00 in the bureau's time
zone (Asia/Shanghai by default). Every figure is recomputed from `step`,
`incident`, `incident_event` and `feed_outage` rows as of `now`, so it cannot drift
and a past week can be recomputed at any time. Definitions (also in docs/reference.md,
"Weekly summary and annual figures"):

- An obligation is *due in the week* when its hard deadline (`Step.due_at`) falls in
  the week. The repost 1-hour aim is counted as its own obligation (`repost_target`),
  due in the week when `Step.target_at` falls in it.
- Each due obligation is exactly one of: *on time* (done at or before the deadline),
  *late* (done after it), *open* (not done, deadline still ahead of `now`),
  *overdue* (not done, deadline passed). Completions after `now` are not yet known.
- The on-time rate is on time / (on time + late + overdue); open ones are not yet decided.
- Time to completion runs from `Step.started_at` to `Step.done_at` (done ones only).
- Incidents opened in the week are those detected in it; dismissed incidents (false
  alarms) count in no obligation and no acknowledgement figure, only as "dismissed".
- Time to first acknowledgement runs from detection (the first alert) to the first
  `acknowledged` event, grouped by the escalation level recorded in that event.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ..models import Incident, Step, table
from ..vocab import IncidentStatus, Obligation
from .figures import (
    GRADES_GRAVEST_FIRST,
    AckFigures,
    FeedDown,
    IncidentCounts,
    ObligationFigures,
    OverdueItem,
    WeekFigures,
    WeeklySummary,
)
from .period import IsoWeek, WeekInfo, open_session, percentile, resolve_tz, spread, week_info
from .records import StepRow, feeds_down, incidents_and_acks, overdue_items

__all__ = [
    "CORE_OBLIGATIONS",
    "GRADES_GRAVEST_FIRST",
    "AckFigures",
    "FeedDown",
    "IncidentCounts",
    "IsoWeek",
    "ObligationFigures",
    "OverdueItem",
    "WeekFigures",
    "WeekInfo",
    "WeeklySummary",
    "compute_weekly",
    "percentile",
    "resolve_tz",
]


# (line name, obligation, which deadline) in display order. Which steps count as which
# obligation the playbooks say (`report_as`); a step that says nothing counts under its
# own key. A repost has two deadlines, so it appears twice: the 1-hour aim and the
# 1-working-day limit.
CORE_OBLIGATIONS: tuple[tuple[str, str, str], ...] = (
    ("statement", Obligation.STATEMENT, "due"),
    ("press_conference", Obligation.PRESS_CONFERENCE, "due"),
    ("publish_info", Obligation.PUBLISH_INFO, "due"),
    ("flash", Obligation.FLASH, "due"),
    ("repost_target", Obligation.REPOST, "target"),
    ("repost", Obligation.REPOST, "due"),
)
_OPTIONAL_ORDER = (Obligation.UPDATES, Obligation.FEEDBACK)
_TARGET_OBLIGATIONS = frozenset(ob for _, ob, which in CORE_OBLIGATIONS if which == "target")

# A repost's 1-hour aim lies before its hard limit, and 1 working day after the aim
# is at most a Spring Festival away; reading hard limits up to this far past the
# window finds every aim inside it while still using the due_at index.
_TARGET_LOOKAHEAD = timedelta(days=31)


# ----------------------------------------------------------------------------- loading


def _naive_col(col: Any) -> Any:
    # Tens of thousands of step times are read per summary; the plain DateTime
    # processor hands back the stored naive UTC twice as fast as UTCDateTime's
    # aware values, so the step arithmetic below runs on naive UTC (`_naive`).
    return sa.type_coerce(col, sa.DateTime()).label(col.name)


def _naive(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None)


def _aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC)


def _target_keys(obligations: Mapping[str, str]) -> set[str]:
    """Step keys whose soft aim is reported too (counted as an obligation with a target line)."""
    mapped = {key for key, ob in obligations.items() if ob in _TARGET_OBLIGATIONS}
    return mapped | {ob for ob in _TARGET_OBLIGATIONS if ob not in obligations}


def _load_steps(
    s: Session, lo: datetime, hi: datetime, now: datetime, target_keys: set[str]
) -> list[StepRow]:
    """Steps with a deadline in [lo, hi) of incidents known by `now` and not dismissed (times naive UTC);
    steps of `target_keys` also when only their soft aim lies in the window."""
    st, inc = table(Step), table(Incident)
    q = (
        sa.select(
            st.c.id,
            st.c.incident_id,
            st.c.key,
            st.c.channel,
            _naive_col(st.c.started_at),
            _naive_col(st.c.target_at),
            _naive_col(st.c.due_at),
            _naive_col(st.c.done_at),
            st.c.done_by,
        )
        .join(inc, inc.c.id == st.c.incident_id)
        .where(
            st.c.due_at >= lo,
            st.c.due_at < hi + _TARGET_LOOKAHEAD,
            sa.or_(st.c.due_at < hi, st.c.key.in_(sorted(target_keys))),
            inc.c.status != IncidentStatus.DISMISSED,
            inc.c.detected_at <= now,
        )
    )
    return [StepRow(*r) for r in s.execute(q)]


# ----------------------------------------------------------------------------- figures


def _classify(deadline: datetime, done_at: datetime | None, now: datetime) -> str:
    if done_at is not None and done_at <= now:
        return "on_time" if done_at <= deadline else "late"
    return "open" if deadline > now else "overdue"


def _obligation_order(obligations: Iterable[str]) -> list[tuple[str, str, str]]:
    """The core obligations always; others (updates, feedback, a step's own key) when present."""
    present = set(obligations) - {ob for _, ob, _ in CORE_OBLIGATIONS}
    extra = [k for k in _OPTIONAL_ORDER if k in present] + sorted(present - set(_OPTIONAL_ORDER))
    return [*CORE_OBLIGATIONS, *((k, k, "due") for k in extra)]


_Entry = tuple[str, str, StepRow, datetime]  # obligation name, which deadline, step, deadline


def _bucket(
    steps: list[StepRow],
    edges: list[datetime],
    order: list[tuple[str, str, str]],
    obligations: Mapping[str, str],
) -> list[list[_Entry]]:
    """One pass over the steps: each deadline goes to the week (between `edges`) it falls in."""
    lines: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for name, ob, which in order:
        lines[ob].append((name, which))
    buckets: list[list[_Entry]] = [[] for _ in range(len(edges) - 1)]
    for row in steps:
        for name, which in lines.get(obligations.get(row.key, row.key), ()):
            deadline = row.due_at if which == "due" else row.target_at
            if deadline is None or not (edges[0] <= deadline < edges[-1]):
                continue
            buckets[bisect_right(edges, deadline) - 1].append((name, which, row, deadline))
    return buckets


def _obligations(
    entries: list[_Entry], now: datetime, order: list[tuple[str, str, str]]
) -> tuple[list[ObligationFigures], list[tuple[StepRow, str, datetime]]]:
    """Per-obligation figures of one week's deadlines, and the (step, obligation, deadline) that missed."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    spans: dict[str, list[timedelta]] = defaultdict(list)
    missed: list[tuple[StepRow, str, datetime]] = []
    for name, which, row, deadline in entries:
        verdict = _classify(deadline, row.done_at, now)
        counts[name][verdict] += 1
        if verdict in ("on_time", "late"):
            assert row.done_at is not None
            spans[name].append(row.done_at - row.started_at)
        # Only hard limits make the overdue list; a missed 1-hour aim is a rate, not a breach.
        if verdict in ("late", "overdue") and which == "due":
            missed.append((row, name, deadline))
    out = []
    for name, key, which in order:
        c = counts.get(name, {})
        med, p90 = spread(spans.get(name, []))
        out.append(
            ObligationFigures(
                name=name,
                key=str(key),
                deadline=which,
                due=sum(c.values()),
                on_time=c.get("on_time", 0),
                late=c.get("late", 0),
                open=c.get("open", 0),
                overdue=c.get("overdue", 0),
                median=med,
                p90=p90,
            )
        )
    return out, missed


def _week_figures(
    s: Session,
    week: IsoWeek,
    tz: tzinfo,
    now: datetime,
    entries: list[_Entry],
    order: list[tuple[str, str, str]],
) -> WeekFigures:
    lo, hi = week.bounds(tz)
    obligations, missed = _obligations(entries, _naive(now), order)
    counts, acks, unacked = incidents_and_acks(s, lo, hi, now)
    return WeekFigures(
        week=week_info(week, tz),
        incidents=counts,
        obligations=obligations,
        acks=acks,
        unacknowledged=unacked,
        overdue=overdue_items(s, missed, now),
        feeds_down=feeds_down(s, lo, hi, now),
    )


def compute_weekly(
    source: Session | Engine,
    week: IsoWeek | str,
    tz: str | tzinfo = "Asia/Shanghai",
    *,
    now: datetime,
    history_weeks: int = 8,
    obligations: Mapping[str, str] | None = None,
) -> WeeklySummary:
    """The summary of `week` as of `now` (aware), with the previous week and `history_weeks` of rates.

    `source` is a Session or an Engine; nothing is written. `obligations` maps step keys to
    the obligation they count as (`playbook.report_obligations`); a key it does not name
    counts under its own name.
    """
    obligations = obligations or {}
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime (UTC)")
    zone = resolve_tz(tz)
    wk = week if isinstance(week, IsoWeek) else IsoWeek.parse(week)
    n = max(history_weeks, 1)
    weeks = [wk.shift(-back) for back in range(n, -1, -1)]  # oldest first, wk last
    edges = [w.bounds(zone)[0] for w in weeks] + [wk.bounds(zone)[1]]
    session, owned = open_session(source)
    try:
        steps = _load_steps(session, edges[0], edges[-1], now, _target_keys(obligations))
        order = _obligation_order(obligations.get(r.key, r.key) for r in steps)
        buckets = _bucket(steps, [_naive(e) for e in edges], order, obligations)
        current = _week_figures(session, wk, zone, now, buckets[-1], order)
        previous = _week_figures(session, weeks[-2], zone, now, buckets[-2], order)
        history: list[tuple[str, dict[str, float | None]]] = []
        for w, entries in list(zip(weeks, buckets, strict=True))[-1 - history_weeks : -1]:
            figs, _ = _obligations(entries, _naive(now), order)
            history.append((w.label, {o.name: o.on_time_rate for o in figs}))
    finally:
        if owned:
            session.close()
    return WeeklySummary(current=current, previous=previous, history=history, now=now)
