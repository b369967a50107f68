"""Quality on real news: relevance, kind, grades and grouping against a hand-labelled corpus.

Run: .venv/bin/python bench/bench_quality.py [CORPUS] [--check] [--baseline REF]

CORPUS defaults to ../shared/real-news/items.json relative to the repository root
(its README says how the labels were decided); any corpus in that format can be scored,
such as a held-out set kept outside the repository (docs/design.md, "Quality on real news"). Every item becomes an RSS entry (title
+ summary, its address as link, `published` as given: a date is read as 12:00 Beijing
time, a month as its first day, a missing date as the scan time) and goes through
`responder.scan.scan_entries`, the pipeline `scan` and the service share. The scan time
is one instant after every item (as a `scan` run today would be), so every
publication time older than `grouping.max_age` is replaced by it and grouping rests on
what the text says.

Two runs, each scored:

- **Anhui**: all items against one plain scheme: 安徽 and its 16 cities as region
  words, the shipped feeds.yaml's event and exclusion words. A current accident
  report is a positive when its labelled province is 安徽省.
- **National**: the items of each labelled province against a plain scheme of that
  province (its name alone; the gazetteer supplies the cities and counties), one scan
  per province; items without a province are left out. A positive is any current
  accident report.

Scores: relevance precision and recall (a report counts as found when it is relevant
AND its kind is `accident`), false major alarms (a report, or an incident, graded
重大/特别重大 that is not a current accident of that grade), grades exact (of the
labelled accident reports: grade equal to the label, no grade where the label has
none), and grouping over the reports put on an incident (event or watch): B-cubed
precision/recall/F1, events split (a labelled event on more than one incident) and
incidents merged (one incident holding two labelled events).

Long-apart follow-ups: the corpus gives investigation reports, features and memorials
the event id of their accident. The service files them as `watch` reports on their
own incidents (they never join an accident's incident, which would restart nothing and
mislead), so for grouping an event's accident reports and its other reports are two
events (`D_alxa` and `D_alxa/watch`).

`--baseline REF` (default: the commit before the real-news work) scores the code of
that commit in the same run, in a subprocess, from `git archive`. `--check` exits 1
when a score is below its floor (FLOORS, set at the figures reached minus a margin).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT.parent / "shared" / "real-news" / "items.json"
BASELINE_REF = "a778465"  # main before the real-news work: the baseline of the report
NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
MAJOR = ("重大", "特别重大")
ANHUI = "安徽省"
ANHUI_REGION = ["安徽", "合肥", "芜湖", "蚌埠", "淮南", "马鞍山", "淮北", "铜陵", "安庆", "黄山", "滁州",
                "阜阳", "宿州", "六安", "亳州", "池州", "宣城"]  # fmt: skip

# --check floors: the figures reached minus a small margin (see docs/design.md, "Quality on real news").
FLOORS: dict[str, float] = {
    "anhui.precision": 0.95,  # reached 1.000
    "anhui.recall": 0.95,  # 1.000 (the two 马钢 items are placed by the enterprise list)
    "anhui.grades_exact": 0.93,  # 0.958
    "anhui.bcubed_f1": 0.95,  # 1.000
    "national.precision": 0.98,  # 1.000
    "national.recall": 0.96,  # 0.990
    "national.grades_exact": 0.95,  # 0.979
    "national.bcubed_f1": 0.96,  # 0.992
}
CEILINGS: dict[str, float] = {
    "anhui.false_major_reports": 0,
    "anhui.false_major_incidents": 0,
    "national.false_major_reports": 0,
    "national.false_major_incidents": 0,
    "anhui.merged": 0,
    "national.merged": 0,
}


# ---------------------------------------------------------------- predicting (runs on any code version)


def _published(value: str | None) -> datetime | None:
    if not value:
        return None
    parts = [int(p) for p in value.split("-")]
    year, month, day = [*parts, 1, 1][:3]
    return datetime(year, month, day, 12, 0, tzinfo=SHANGHAI).astimezone(UTC)


def _province_word(province: str) -> str:
    """The short form of a province name (河南省 → 河南, 内蒙古自治区 → 内蒙古)."""
    from responder.text import normalize

    name = normalize(province)
    for suffix in ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _shipped_words() -> tuple[list[str], list[str]]:
    from responder.config import load_feeds

    scheme = next(s for s in load_feeds(ROOT / "feeds.yaml").schemes if s.region)
    return list(scheme.event), list(scheme.exclude)


def _predict_new(config: Any, source: Any, entries: list[Any]) -> dict[str, dict[str, Any]]:
    from responder.pipeline import Intake
    from responder.scan import scan_entries

    result = scan_entries(Intake.from_config(config), [(source, entries)], NOW)
    return {
        a.guid: {
            "relevant": a.match.relevant,
            "kind": a.kind,
            "grade": a.grade.label if a.grade else None,
            "incident": key,
        }
        for a, key in result.reports
    }


def _predict_old(config: Any, source: Any, entries: list[Any]) -> dict[str, dict[str, Any]]:
    """The scan of the baseline commit (no kinds: every relevant report was an accident)."""
    from responder.clustering import Candidate, Clusterer
    from responder.pipeline import Intake, analyse

    intake = Intake.from_config(config)
    items = sorted((analyse(e, source, intake, NOW) for e in entries), key=lambda a: a.published)
    clusterer = Clusterer(config.grouping, intake.region_words)
    out: dict[str, dict[str, Any]] = {}
    opened = 0
    for a in items:
        key = None
        if a.opens_incident:
            gid = clusterer.assign(a.fingerprint, a.place, a.accident_type, a.published, NOW, a.places)
            if gid is None:
                opened += 1
                gid = opened
                clusterer.add(Candidate(gid, a.fingerprint, a.place, a.accident_type, a.published, a.published,
                                        frozenset(a.places)))  # fmt: skip
            else:
                clusterer.update(gid, fingerprint=a.fingerprint, published=a.published, places=a.places,
                                 place=a.place, accident_type=a.accident_type)  # fmt: skip
            key = f"scan-{gid}"
        out[a.guid] = {"relevant": a.match.relevant, "kind": "accident" if a.match.relevant else None,
                       "grade": a.grade.label if a.grade else None, "incident": key}  # fmt: skip
    return out


def predict(items: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """{run: {item id: {relevant, kind, grade, incident}}} for the code on sys.path."""
    from responder import scan as scan_module
    from responder.config import FeedsConfig, Scheme, Source
    from responder.feeds.parse import FeedEntry

    run = _predict_new if hasattr(scan_module, "scan_entries") else _predict_old
    event, exclude = _shipped_words()
    source = Source(name="corpus", url="corpus.xml")

    def entries(group: list[dict[str, Any]]) -> list[FeedEntry]:
        return [FeedEntry(guid=it["id"], link=it["source_url"], title=it["title"], summary_html=it["summary"],
                          published=_published(it["published"])) for it in group]  # fmt: skip

    def config(region: list[str]) -> FeedsConfig:
        return FeedsConfig(sources=[source], schemes=[Scheme(name="plain", region=region, event=event,
                                                             exclude=exclude)])  # fmt: skip

    out: dict[str, dict[str, dict[str, Any]]] = {"anhui": run(config(ANHUI_REGION), source, entries(items))}
    by_province: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for it in items:
        if it["labels"]["province"]:
            by_province[_province_word(it["labels"]["province"])].append(it)
    national: dict[str, dict[str, Any]] = {}
    for word, group in sorted(by_province.items()):
        for iid, p in run(config([word]), source, entries(group)).items():
            national[iid] = p | {"incident": f"{word}:{p['incident']}" if p["incident"] else None}
    out["national"] = national
    return out


# ---------------------------------------------------------------- scoring


def _gold_cluster(it: dict[str, Any]) -> str:
    if not it["event"]:
        return it["id"]
    return it["event"] if it["labels"]["kind"] == "accident" else it["event"] + "/watch"


def _bcubed(pred: dict[str, str], gold: dict[str, str]) -> tuple[float, float, float]:
    by_pred: dict[str, set[str]] = defaultdict(set)
    by_gold: dict[str, set[str]] = defaultdict(set)
    for i in pred:
        by_pred[pred[i]].add(i)
        by_gold[gold[i]].add(i)
    if not pred:
        return 1.0, 1.0, 1.0
    p = sum(len(by_pred[pred[i]] & by_gold[gold[i]]) / len(by_pred[pred[i]]) for i in pred) / len(pred)
    r = sum(len(by_pred[pred[i]] & by_gold[gold[i]]) / len(by_gold[gold[i]]) for i in pred) / len(pred)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def score(
    items: list[dict[str, Any]], preds: dict[str, dict[str, Any]], anhui_only: bool
) -> dict[str, float]:
    """The figures of one run (see the module docstring)."""
    considered = [it for it in items if it["id"] in preds]

    def positive(it: dict[str, Any]) -> bool:
        lab = it["labels"]
        return lab["kind"] == "accident" and (not anhui_only or lab["province"] == ANHUI)

    found = {
        it["id"] for it in considered if preds[it["id"]]["relevant"] and preds[it["id"]]["kind"] == "accident"
    }
    gold = {it["id"] for it in considered if positive(it)}
    tp = len(found & gold)
    graded = [it for it in considered if positive(it)]
    exact = sum(1 for it in graded if _grade(preds[it["id"]]) == it["labels"]["grade"])
    false_reports = [it["id"] for it in considered if _grade(preds[it["id"]]) in MAJOR
                     and not (it["labels"]["kind"] == "accident" and it["labels"]["grade"] == _grade(preds[it["id"]]))]  # fmt: skip
    by_incident: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for it in considered:
        if preds[it["id"]]["incident"]:
            by_incident[preds[it["id"]]["incident"]].append(it)
    false_incidents = 0
    for members in by_incident.values():
        grades = [_grade(preds[m["id"]]) for m in members if _grade(preds[m["id"]])]
        top = max(grades, key=_rank) if grades else None
        if top in MAJOR and not any(
            m["labels"]["kind"] == "accident" and m["labels"]["grade"] == top for m in members
        ):
            false_incidents += 1
    pred_cluster = {it["id"]: preds[it["id"]]["incident"] for member in by_incident.values() for it in member}
    gold_cluster = {i: _gold_cluster(next(it for it in considered if it["id"] == i)) for i in pred_cluster}
    bp, br, bf = _bcubed(pred_cluster, gold_cluster)
    events_on: dict[str, set[str]] = defaultdict(set)
    for i, inc in pred_cluster.items():
        events_on[gold_cluster[i]].add(inc)
    split = sum(1 for incs in events_on.values() if len(incs) > 1)
    merged = sum(1 for members in by_incident.values() if len({_gold_cluster(m) for m in members}) > 1)
    return {
        "precision": tp / len(found) if found else 1.0,
        "recall": tp / len(gold) if gold else 1.0,
        "found": len(found),
        "positives": len(gold),
        "false_major_reports": len(false_reports),
        "false_major_incidents": false_incidents,
        "grades_exact": exact / len(graded) if graded else 1.0,
        "grouped_reports": len(pred_cluster),
        "bcubed_precision": bp,
        "bcubed_recall": br,
        "bcubed_f1": bf,
        "split": split,
        "merged": merged,
        "_false": false_reports,  # type: ignore[dict-item]
    }


def _grade(p: dict[str, Any]) -> str | None:
    return p["grade"] if p["kind"] == "accident" else None


def _rank(grade: str) -> int:
    return ("一般", "较大", "重大", "特别重大").index(grade)


# ---------------------------------------------------------------- baseline and output


def baseline_predictions(ref: str, corpus: Path) -> dict[str, Any] | None:
    """Predictions of the code at `ref`, computed in a subprocess from `git archive`; None if unavailable."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "responder"], check=True,
                                     capture_output=True).stdout  # fmt: skip
            subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        except (subprocess.CalledProcessError, FileNotFoundError) as exc:
            print(f"baseline {ref}: not available ({exc}); showing today's figures only")
            return None
        env = os.environ | {"PYTHONPATH": tmp}
        proc = subprocess.run([sys.executable, __file__, str(corpus), "--predict-only"], env=env, cwd=tmp,
                              capture_output=True, text=True)  # fmt: skip
        if proc.returncode != 0:
            print(
                f"baseline {ref}: failed to run ({proc.stderr.strip().splitlines()[-1:]}); today's figures only"
            )
            return None
        return json.loads(proc.stdout)


ROWS = [
    ("precision", "relevance precision (current accident reports)", "{:.3f}"),
    ("recall", "relevance recall", "{:.3f}"),
    ("found", "reported as accidents / labelled accidents", None),
    ("false_major_reports", "false 重大/特别重大 alarms, reports", "{:d}"),
    ("false_major_incidents", "false 重大/特别重大 alarms, incidents", "{:d}"),
    ("grades_exact", "grades exact (labelled accident reports)", "{:.3f}"),
    ("grouped_reports", "reports on incidents", "{:d}"),
    ("bcubed_f1", "grouping B-cubed F1", "{:.3f}"),
    ("bcubed_precision", "  B-cubed precision", "{:.3f}"),
    ("bcubed_recall", "  B-cubed recall", "{:.3f}"),
    ("split", "events split over several incidents", "{:d}"),
    ("merged", "incidents mixing two events", "{:d}"),
]


def _cell(figures: dict[str, Any] | None, key: str, fmt: str | None) -> str:
    if figures is None:
        return "-"
    if fmt is None:
        return f"{figures['found']} / {figures['positives']}"
    return fmt.format(figures[key])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", nargs="?", default=str(DEFAULT_CORPUS))
    ap.add_argument("--check", action="store_true", help="exit 1 when a figure is below its floor")
    ap.add_argument(
        "--baseline", default=BASELINE_REF, help="git ref whose code is scored alongside ('' for none)"
    )
    ap.add_argument("--predict-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--verbose", action="store_true", help="list the items each run got wrong")
    args = ap.parse_args()
    corpus = Path(args.corpus)
    items = json.loads(corpus.read_text(encoding="utf-8"))
    if args.predict_only:
        sys.path.insert(0, os.environ["PYTHONPATH"])
        print(json.dumps(predict(items), ensure_ascii=False))
        return 0
    sys.path.insert(0, str(ROOT))
    now_preds = predict(items)
    base_preds = baseline_predictions(args.baseline, corpus) if args.baseline and not args.check else None
    print(f"quality on {len(items)} real news items ({corpus}); scan time {NOW.isoformat()}")
    failures = []
    for run in ("anhui", "national"):
        today = score(items, now_preds[run], anhui_only=run == "anhui")
        before = score(items, base_preds[run], anhui_only=run == "anhui") if base_preds else None
        title = "plain 安徽 scheme, all items" if run == "anhui" else "each province's own plain scheme"
        print(f"\n{run} ({title})" + (f"        baseline {args.baseline:>8}   now" if before else "   now"))
        for key, label, fmt in ROWS:
            print(
                f"  {label:<48} {(_cell(before, key, fmt) if before else ''):>10}   {_cell(today, key, fmt)}"
            )
        if args.verbose:
            _explain(items, now_preds[run], today, run)
        for key, floor in FLOORS.items():
            if key.startswith(run + ".") and today[key.split(".", 1)[1]] < floor:
                failures.append(f"{key} {today[key.split('.', 1)[1]]:.3f} < floor {floor}")
        for key, ceiling in CEILINGS.items():
            if key.startswith(run + ".") and today[key.split(".", 1)[1]] > ceiling:
                failures.append(f"{key} {today[key.split('.', 1)[1]]} > ceiling {ceiling}")
    if args.check:
        print(
            "\nfloor check: "
            + ("FAILED: " + "; ".join(failures) if failures else "all figures at or above their floors")
        )
        return 1 if failures else 0
    return 0


def _explain(
    items: list[dict[str, Any]], preds: dict[str, dict[str, Any]], figures: dict[str, Any], run: str
) -> None:
    anhui = run == "anhui"
    for it in items:
        p = preds.get(it["id"])
        if p is None:
            continue
        lab = it["labels"]
        positive = lab["kind"] == "accident" and (not anhui or lab["province"] == ANHUI)
        found = p["relevant"] and p["kind"] == "accident"
        wrong = []
        if positive != found:
            wrong.append(
                f"relevance {found} (kind {p['kind']}, relevant {p['relevant']}; label {lab['kind']})"
            )
        if positive and _grade(p) != lab["grade"]:
            wrong.append(f"grade {_grade(p)} (label {lab['grade']})")
        if wrong:
            print(f"    {it['id']} {it['title'][:40]}: " + "; ".join(wrong))
    by_incident: dict[str, list[str]] = defaultdict(list)
    for it in items:
        if it["id"] in preds and preds[it["id"]]["incident"]:
            by_incident[preds[it["id"]]["incident"]].append(it["id"])
    gold = {it["id"]: _gold_cluster(it) for it in items}
    for inc, ids in sorted(by_incident.items()):
        events = Counter(gold[i] for i in ids)
        if len(events) > 1:
            print(f"    merged {inc}: {dict(events)}")
    on: dict[str, set[str]] = defaultdict(set)
    for inc, ids in by_incident.items():
        for i in ids:
            on[gold[i]].add(inc)
    for ev, incs in sorted(on.items()):
        if len(incs) > 1:
            members = {inc: [i for i in by_incident[inc] if gold[i] == ev] for inc in sorted(incs)}
            print(f"    split {ev}: {members}")


if __name__ == "__main__":
    sys.exit(main())
