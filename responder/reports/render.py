"""The weekly summary as text (from the message catalogue), CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from ..i18n import Catalogue, catalogue
from ..present.formats import format_span, format_time
from ..vocab import IncidentKind
from .figures import GRADES_GRAVEST_FIRST, ObligationFigures, OverdueItem, WeekFigures, WeeklySummary
from .period import resolve_tz
from .weekly import CORE_OBLIGATIONS

__all__ = [
    "arrow",
    "channel_label",
    "obligation_label",
    "render_weekly_csv",
    "render_weekly_json",
    "render_weekly_text",
]

# A Telegram message holds 4096 characters: the text lists the worst few; CSV/JSON carry all.
OVERDUE_LIST_MAX = 10
FEEDS_LIST_MAX = 8


def _trend(current: float | None, previous: float | None) -> str:
    a = arrow(current, previous)
    return f" {a}" if a else ""


def arrow(current: float | None, previous: float | None) -> str:
    """↑, ↓ or → comparing with the previous week; '' when either side has no figure."""
    if current is None or previous is None:
        return ""
    if abs(current - previous) < 1e-9:
        return "→"
    return "↑" if current > previous else "↓"


def _pct(rate: float | None) -> int | None:
    return None if rate is None else round(rate * 100)


def _rate(rate: float | None, cat: Catalogue) -> str:
    return cat("summary_none") if rate is None else f"{rate * 100:.0f}%"


_OBLIGATION_LABELS: dict[str, str] = {
    "statement": "summary_ob_statement",
    "press_conference": "summary_ob_press_conference",
    "publish_info": "summary_ob_publish_info",
    "flash": "summary_ob_flash",
    "repost_target": "summary_ob_repost_target",
    "repost": "summary_ob_repost",
    "updates": "summary_ob_updates",
    "feedback": "summary_ob_feedback",
}

_CHANNEL_LABELS: dict[str, str] = {
    "portal": "summary_channel_portal",
    "weibo": "summary_channel_weibo",
    "wechat": "summary_channel_wechat",
    "app": "summary_channel_app",
}


def obligation_label(name: str, cat: Catalogue | None = None) -> str:
    """The obligation's name for people; the raw step key for one the catalogue does not know."""
    key = _OBLIGATION_LABELS.get(name)
    return (cat or catalogue())(key) if key else name


def channel_label(channel: str, cat: Catalogue | None = None) -> str:
    """portal/weibo/wechat/app by their full names (政务微博, 微信公众号 …); an unknown channel as it is."""
    key = _CHANNEL_LABELS.get(channel)
    return (cat or catalogue())(key) if key else channel


def _local(dt: datetime, tz: tzinfo) -> str:
    return format_time(dt, tz, full=True)


def _dates(days: tuple[date, ...]) -> str:
    return "、".join(f"{d.month}/{d.day}" for d in days)


def _obligation_line(o: ObligationFigures, p: ObligationFigures, cat: Catalogue) -> str:
    return cat(
        "summary_obligation",
        name=obligation_label(o.name, cat),
        due=o.due,
        on_time=o.on_time,
        late=o.late,
        open=o.open,
        overdue=o.overdue,
        rate=_rate(o.on_time_rate, cat),
        prev_rate=_rate(p.on_time_rate, cat),
        # Compared at the precision shown, so "81% (previous 81%)" never carries an arrow.
        trend=_trend(_pct(o.on_time_rate), _pct(p.on_time_rate)),
        median=format_span(o.median, cat),
        p90=format_span(o.p90, cat),
    )


def _head_lines(summary: WeeklySummary, tz: tzinfo, cat: Catalogue) -> list[str]:
    week = summary.current.week
    now = _local(summary.now, tz) if summary.now else ""
    lines = [
        cat("summary_title", week=week.label),
        cat("summary_period", start=_local(week.start, tz), end=_local(week.end, tz), tz=week.tz, now=now),
    ]
    if not week.calendar_known:
        lines.append(cat("summary_calendar_unknown"))
    elif week.holidays or week.makeup_workdays:
        holidays = _dates(week.holidays) or cat("summary_none")
        lines.append(
            cat(
                "summary_holidays",
                holidays=holidays,
                workdays=_dates(week.makeup_workdays) or cat("summary_none"),
            )
        )
    return lines


def _incident_lines(cur: WeekFigures, prev: WeekFigures, cat: Catalogue) -> list[str]:
    ci, pi = cur.incidents, prev.incidents
    grades = [cat("summary_grade_count", grade=g, n=ci.by_grade.get(g, 0)) for g in GRADES_GRAVEST_FIRST]
    grades.append(cat("summary_grade_count", grade=cat("summary_ungraded"), n=ci.by_grade.get("", 0)))
    return [
        cat("summary_incidents", n=ci.total, prev=pi.total, trend=_trend(ci.total, pi.total)),
        "  " + " · ".join(grades),
        "  " + cat("summary_policy_dismissed", policy=ci.policy, dismissed=ci.dismissed),
    ]


def _obligation_lines(cur: WeekFigures, prev: WeekFigures, cat: Catalogue) -> list[str]:
    lines = [cat("summary_obligations_head")]
    prev_by_name = {o.name: o for o in prev.obligations}
    for o in cur.obligations:
        p = prev_by_name.get(o.name) or ObligationFigures(o.name, o.key, o.deadline)
        if o.due == 0 and p.due == 0 and (o.name, o.key, o.deadline) not in CORE_OBLIGATIONS:
            continue
        lines.append(_obligation_line(o, p, cat))
    return lines


def _ack_lines(cur: WeekFigures, prev: WeekFigures, cat: Catalogue) -> list[str]:
    lines = [cat("summary_acks_head")]
    if not cur.acks:
        lines.append("  " + cat("summary_none"))
    prev_levels = {a.level: a for a in prev.acks}
    for a in cur.acks:
        pa = prev_levels.get(a.level)
        trend = _trend(a.median.total_seconds(), pa.median.total_seconds() if pa else None)
        median, p90 = format_span(a.median, cat), format_span(a.p90, cat)
        lines.append(cat("summary_ack_level", level=a.level, n=a.count, median=median, p90=p90, trend=trend))
    if cur.unacknowledged:
        lines.append("  " + cat("summary_unacked", n=cur.unacknowledged))
    return lines


def _overdue_line(item: OverdueItem, tz: tzinfo, cat: Catalogue) -> str:
    late = format_span(item.late_by, cat)
    if item.done_at:
        state = cat("summary_overdue_done_late", late=late, by=item.done_by or "?")
    else:
        state = cat("summary_overdue_undone", late=late)
    grade = (
        cat("summary_kind_policy")
        if item.kind == IncidentKind.POLICY
        else item.grade or cat("summary_ungraded")
    )
    outlet = f"/{channel_label(item.channel, cat)}" if item.channel else ""
    return cat(
        "summary_overdue_item",
        id=item.incident_id,
        title=item.title or "—",
        grade=grade,
        obligation=obligation_label(item.obligation, cat) + outlet,
        deadline=_local(item.deadline, tz),
        state=state,
        level=item.level,
        holders="、".join(item.holders) or cat("summary_first_receivers"),
        acked=item.acknowledged_by or cat("summary_not_acked"),
    )


def _overdue_lines(cur: WeekFigures, prev: WeekFigures, tz: tzinfo, cat: Catalogue, most: int) -> list[str]:
    n, before = len(cur.overdue), len(prev.overdue)
    lines = [cat("summary_overdue_head", n=n, prev=before, trend=_trend(n, before))]
    lines += [_overdue_line(item, tz, cat) for item in cur.overdue[:most]]
    if n > most:
        lines.append("  " + cat("summary_more", n=n - most))
    return lines


def _feed_lines(cur: WeekFigures, cat: Catalogue, most: int) -> list[str]:
    lines = [cat("summary_feeds_head")]
    if not cur.feeds_down:
        lines.append("  " + cat("summary_feeds_none"))
    for f in cur.feeds_down[:most]:
        still = cat("summary_still_down") if f.still_down else ""
        lines.append(
            cat("summary_feed_down", source=f.source, n=f.outages, down=format_span(f.down, cat), still=still)
        )
    if len(cur.feeds_down) > most:
        lines.append("  " + cat("summary_more", n=len(cur.feeds_down) - most))
    return lines


def render_weekly_text(
    summary: WeeklySummary,
    lang: str | None = None,
    *,
    max_overdue: int = OVERDUE_LIST_MAX,
    max_feeds: int = FEEDS_LIST_MAX,
) -> str:
    """The summary as a chat message (plain text, Simplified Chinese by default).

    The overdue list and the feed list are cut to `max_overdue` / `max_feeds` lines
    (worst first) with a line saying how many more there are.
    """
    cat = catalogue(lang)
    cur, prev = summary.current, summary.previous
    tz = resolve_tz(cur.week.tz)
    sections = [
        _head_lines(summary, tz, cat),
        _incident_lines(cur, prev, cat),
        _obligation_lines(cur, prev, cat),
        _ack_lines(cur, prev, cat),
        _overdue_lines(cur, prev, tz, cat, max_overdue),
        _feed_lines(cur, cat, max_feeds),
    ]
    return "\n\n".join("\n".join(lines) for lines in sections).rstrip() + "\n"


def _minutes(td: timedelta | None) -> str:
    return "" if td is None else f"{td.total_seconds() / 60:.1f}"


def _num(v: float | None) -> str:
    return "" if v is None else f"{v:.4f}".rstrip("0").rstrip(".")


# Excel on Chinese Windows reads a CSV without a byte-order mark as GBK: every Chinese cell mojibake.
CSV_BOM = "\ufeff"
# The word for "no grade yet" in both exports (the summary text says 未定级).
UNGRADED = "ungraded"


def _week_rows(w: WeekFigures) -> list[tuple[str, str, str, str]]:
    """(section, item, metric, value) with the JSON export's names: section = its key, metric = its
    field (durations in minutes, so `median` becomes `median_minutes`), item = the grade, obligation,
    level or source the row is about ('' for a figure of the section itself)."""
    rows: list[tuple[str, str, str, str]] = []
    for g in (*GRADES_GRAVEST_FIRST, ""):
        rows.append(("incidents", g or UNGRADED, "by_grade", str(w.incidents.by_grade.get(g, 0))))
    for metric in ("policy", "dismissed", "events", "total"):
        rows.append(("incidents", "", metric, str(getattr(w.incidents, metric))))
    for o in w.obligations:
        for metric in ("due", "on_time", "late", "open", "overdue"):
            rows.append(("obligations", o.name, metric, str(getattr(o, metric))))
        rows.append(("obligations", o.name, "on_time_rate", _num(o.on_time_rate)))
        rows.append(("obligations", o.name, "median_minutes", _minutes(o.median)))
        rows.append(("obligations", o.name, "p90_minutes", _minutes(o.p90)))
    for a in w.acks:
        rows.append(("acks", f"level_{a.level}", "count", str(a.count)))
        rows.append(("acks", f"level_{a.level}", "median_minutes", _minutes(a.median)))
        rows.append(("acks", f"level_{a.level}", "p90_minutes", _minutes(a.p90)))
    rows.append(("unacknowledged", "", "count", str(w.unacknowledged)))
    rows.append(("overdue", "", "count", str(len(w.overdue))))
    for f in w.feeds_down:
        rows.append(("feeds_down", f.source, "outages", str(f.outages)))
        rows.append(("feeds_down", f.source, "down_minutes", _minutes(f.down)))
        rows.append(("feeds_down", f.source, "still_down", str(f.still_down).lower()))
    return rows


def render_weekly_csv(summary: WeeklySummary) -> str:
    """One row per figure: week, time zone, section, item, metric, value, previous week's value.

    Names are the JSON export's (see `_week_rows`); the overdue list follows as rows of section
    'overdue', one item per obligation. Durations are in minutes, rates are fractions (0.5 = 50%),
    times are ISO 8601 in the week's zone. Starts with a UTF-8 byte-order mark for Excel.
    """
    cur, prev = summary.current, summary.previous
    tz = resolve_tz(cur.week.tz)
    out = io.StringIO()
    out.write(CSV_BOM)
    w = csv.writer(out, lineterminator="\n")
    w.writerow(
        ["week", "timezone", "week_start", "week_end", "section", "item", "metric", "value", "previous"]
    )
    head = [cur.week.label, cur.week.tz, cur.week.start.isoformat(), cur.week.end.isoformat()]
    prev_rows = {(s, i, m): v for s, i, m, v in _week_rows(prev)}
    for s, i, m, v in _week_rows(cur):
        w.writerow([*head, s, i, m, v, prev_rows.get((s, i, m), "")])
    for item in cur.overdue:
        ident = f"{item.incident_id}:{item.obligation}" + (f":{item.channel}" if item.channel else "")
        detail = {
            "deadline": item.deadline.astimezone(tz).isoformat(),
            "done_at": item.done_at.astimezone(tz).isoformat() if item.done_at else "",
            "late_by_minutes": _minutes(item.late_by),
            "level": str(item.level),
            "holders": "、".join(item.holders),
            "acknowledged_by": item.acknowledged_by or "",
            "done_by": item.done_by or "",
            "title": item.title,
        }
        for metric, value in detail.items():
            w.writerow([*head, "overdue", ident, metric, value, ""])
    return out.getvalue()


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, timedelta):
        return v.total_seconds()
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v


def render_weekly_json(summary: WeeklySummary) -> str:
    """The whole summary as JSON: durations in seconds, times ISO 8601, rates as fractions."""

    def week(w: WeekFigures) -> dict[str, Any]:
        d = asdict(w)
        # The same word as the CSV for incidents with no grade (not an empty key).
        d["incidents"]["by_grade"] = {(g or UNGRADED): n for g, n in w.incidents.by_grade.items()}
        d["incidents"]["events"] = w.incidents.events
        d["incidents"]["total"] = w.incidents.total
        for od, o in zip(d["obligations"], w.obligations, strict=True):
            od["on_time_rate"] = o.on_time_rate
        return d

    doc = {
        "now": summary.now,
        "current": week(summary.current),
        "previous": week(summary.previous),
        "history": [{"week": label, "on_time_rate": rates} for label, rates in summary.history],
    }
    return json.dumps(_jsonable(doc), ensure_ascii=False, indent=2) + "\n"
