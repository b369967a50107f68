"""Benchmark: the weekly summary (and the annual figures) over a year of records in SQLite.

Builds a year of history (100,000 incidents, 500,000 log events, the steps their
playbooks imply, feed outages) in a fresh SQLite file, then computes the summary of
2026-W47 with its previous week and 8 weeks of history, as the Monday post does.
Target: under 2 s for one weekly summary. The build time is printed separately.

    .venv/bin/python bench/bench_summary.py [--incidents 100000] [--events 500000] [--runs 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from responder.db import create_all, make_engine
from responder.models import FeedOutage, Incident, IncidentEvent, Step
from responder.reports.annual import compute_annual
from responder.reports.chart import render_chart
from responder.reports.render import render_weekly_text
from responder.reports.weekly import compute_weekly

YEAR_START = datetime(2025, 12, 31, 16, 0, tzinfo=UTC)  # 2026-01-01 00:00 in Shanghai
H = timedelta(hours=1)
CHANNELS = ("portal", "weibo", "wechat", "app")
SOURCES = [f"source-{i:03d}" for i in range(300)]
TARGET_SECONDS = 2.0


def _done(rng: random.Random, started: datetime, deadline: datetime) -> datetime | None:
    """Most obligations are met, some late, a few never."""
    r = rng.random()
    span = (deadline - started).total_seconds()
    if r < 0.80:
        return started + timedelta(seconds=rng.uniform(0.05, 1.0) * span)
    if r < 0.95:
        return deadline + timedelta(seconds=rng.uniform(0.01, 0.5) * span)
    return None


def build(path: Path, n_incidents: int, n_events: int, seed: int = 7) -> dict[str, int]:
    """Write the synthetic year into `path`; return row counts."""
    rng = random.Random(seed)
    engine = make_engine(f"sqlite:///{path}")
    create_all(engine)
    incidents, steps, events, outages = [], [], [], []
    step_id = 0
    year_seconds = 365 * 86400
    for iid in range(1, n_incidents + 1):
        detected = YEAR_START + timedelta(seconds=rng.uniform(0, year_seconds))
        published = detected - timedelta(minutes=rng.uniform(0, 90))
        r = rng.random()
        kind = "policy" if r < 0.25 else "event"
        status = "dismissed" if r > 0.95 else rng.choice(("open", "acknowledged", "closed", "closed"))
        grade = None
        if kind == "event":
            g = rng.random()
            grade = (
                "特别重大"
                if g < 0.03
                else "重大"
                if g < 0.13
                else "较大"
                if g < 0.38
                else "一般"
                if g < 0.98
                else None
            )
        incidents.append(
            {"id": iid, "kind": kind, "title": f"事件{iid}", "grade": grade, "status": status, "heat": 1,
             "first_published": published, "detected_at": detected, "last_report_at": detected,
             "escalation_level": 0}
        )  # fmt: skip
        events.append({"incident_id": iid, "at": detected, "kind": "opened", "data": {}})
        level = 0
        if rng.random() < 0.3:
            level = rng.choice((1, 1, 2))
            for lv in range(1, level + 1):
                events.append(
                    {"incident_id": iid, "at": detected + lv * 0.5 * H, "kind": "escalated",
                     "data": {"level": lv, "reason": "unacknowledged", "to": [f"L{lv}-duty"]}}
                )  # fmt: skip
        if rng.random() < 0.9:
            events.append(
                {"incident_id": iid, "at": detected + timedelta(minutes=rng.uniform(1, 30 + 60 * level)),
                 "kind": "acknowledged", "actor_name": "duty", "data": {"level": level}}
            )  # fmt: skip
        plan: list[tuple[str, str, int, timedelta, timedelta | None]] = []
        if kind == "policy":
            plan = [("repost", c, 0, 24 * H, 1 * H) for c in CHANNELS]
        elif grade in ("特别重大", "重大"):
            plan = [("statement", "", 0, 5 * H, None), ("press_conference", "", 0, 24 * H, None),
                    ("updates", "", 1, 12 * H, None), ("updates", "", 2, 36 * H, None)]  # fmt: skip
        elif grade == "较大":
            plan = [("flash", "", 0, 10 * H, None), ("publish_info", "", 0, 5 * H, None)]
        else:
            plan = [("flash", "", 0, 10 * H, None)]
        for key, channel, seq, limit, target in plan:
            step_id += 1
            due = published + limit
            done = _done(rng, published, due)
            steps.append(
                {"id": step_id, "incident_id": iid, "playbook": "bench", "key": key, "channel": channel,
                 "seq": seq, "title": key, "started_at": published,
                 "target_at": published + target if target else None, "due_at": due, "done_at": done,
                 "done_by": "duty" if done else None,
                 "breached_at": due if done is None or done > due else None}
            )  # fmt: skip
            if done is not None:
                events.append(
                    {"incident_id": iid, "at": done, "kind": "step_done", "step_id": step_id, "actor_name": "duty",
                     "data": {"late": done > due, "channel": channel or rng.choice((*CHANNELS, "")),
                              "attended_by_head": key == "press_conference" and rng.random() < 0.3}}
                )  # fmt: skip
    # Top up with report_added rows to the requested size of the log.
    while len(events) < n_events:
        iid = rng.randint(1, n_incidents)
        at = incidents[iid - 1]["detected_at"] + timedelta(minutes=rng.uniform(1, 600))
        events.append({"incident_id": iid, "at": at, "kind": "report_added", "data": {}})
    for _ in range(2000):
        start = YEAR_START + timedelta(seconds=rng.uniform(0, year_seconds))
        end = start + timedelta(minutes=rng.uniform(5, 3000)) if rng.random() < 0.98 else None
        outages.append(
            {"source": rng.choice(SOURCES), "started_at": start, "ended_at": end, "error": "timeout"}
        )

    # executemany wants one shape of row: every event row names every column.
    blank = {"step_id": None, "actor_name": None}
    events = [{**blank, **e} for e in events]
    with engine.begin() as conn:
        for table, rows in (
            (Incident.__table__, incidents),  # type: ignore[attr-defined]
            (Step.__table__, steps),  # type: ignore[attr-defined]
            (IncidentEvent.__table__, events),  # type: ignore[attr-defined]
            (FeedOutage.__table__, outages),  # type: ignore[attr-defined]
        ):
            for i in range(0, len(rows), 20_000):
                conn.execute(table.insert(), rows[i : i + 20_000])
    engine.dispose()
    return {"incidents": len(incidents), "steps": len(steps), "events": len(events), "outages": len(outages)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--incidents", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=500_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--week", default="2026-W47")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        t0 = time.perf_counter()
        counts = build(path, args.incidents, args.events)
        build_s = time.perf_counter() - t0
        size_mb = path.stat().st_size / 1e6
        print(f"built {counts} in {build_s:.1f} s ({size_mb:.0f} MB SQLite file, not part of the figure)")

        engine = make_engine(f"sqlite:///{path}")
        now = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai, after W47
        times = []
        summary = None
        for _ in range(args.runs):
            t = time.perf_counter()
            summary = compute_weekly(engine, args.week, "Asia/Shanghai", now=now)
            times.append(time.perf_counter() - t)
        assert summary is not None
        t = time.perf_counter()
        text = render_weekly_text(summary, lang="zh")
        png = render_chart(summary, lang="zh")
        render_s = time.perf_counter() - t
        t = time.perf_counter()
        annual = compute_annual(engine, 2026, "Asia/Shanghai", now=now)
        annual_s = time.perf_counter() - t
        engine.dispose()

    cur = summary.current
    statement = cur.obligation("statement")
    print(
        f"week {cur.week.label}: {cur.incidents.total} incidents opened, "
        f"{sum(o.due for o in cur.obligations)} obligations due, {len(cur.overdue)} missed, "
        f"statement on-time rate {statement.on_time_rate:.0%}, {len(text)} characters of text, {len(png)} byte PNG"
    )
    first, best, median = times[0], min(times), statistics.median(times)
    print(
        f"compute_weekly ({args.runs} runs): first {first:.3f} s, best {best:.3f} s, median {median:.3f} s "
        f"(target < {TARGET_SECONDS:.0f} s: {'ok' if max(times) < TARGET_SECONDS else 'MISSED'}; "
        f"{TARGET_SECONDS / max(times):.1f}x headroom on the slowest run)"
    )
    print(f"text + chart rendering: {render_s:.3f} s")
    print(f"compute_annual 2026: {annual_s:.3f} s, hot spots responded to: {annual.row('hotspots').value}")
    return 0 if max(times) < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
