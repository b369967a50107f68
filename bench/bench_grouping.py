"""Grouping a new report against 10,000 open and recent incidents: target under 5 ms of CPU.

Run: .venv/bin/python bench/bench_grouping.py

Builds a Clusterer holding 10,000 candidates (places drawn from Anhui's counties and
cities, occurrence days and times, accident types, site names and words drawn from a
vocabulary, last reports spread over the grouping window) and times `assign` for 2,000
new reports: half are rewrites of a held incident (its place, day, some of its words, a
fingerprint a few bits away), half are new. The baseline is the same rule (`score`)
applied to every candidate; both must give the same answers.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from responder.analysis.gazetteer import gazetteer
from responder.analysis.occurrence import Occurrence
from responder.clustering import Candidate, Clusterer, ReportKey, score
from responder.config import Grouping

TARGET_MS = 5.0
N_CANDIDATES = 10_000
N_REPORTS = 2_000
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
FAMILIES = ["爆炸", "透水", "坍塌", "中毒窒息", "交通", "触电", "坠落"]


def naive_assign(cands: dict[int, Candidate], g: Grouping, key: ReportKey, published: datetime) -> int | None:
    """The grouping rule as a scan over every candidate (the baseline)."""
    best: tuple[tuple[int, float], int] | None = None
    for iid, c in cands.items():
        if c.last_report_at < NOW - g.window:
            continue
        gap = max(c.first_published - published, published - c.last_report_at, timedelta(0))
        near = any(((key.fingerprint ^ f) & ((1 << 64) - 1)).bit_count() <= g.near_duplicate_distance
                   for f in c.fingerprints)  # fmt: skip
        s = score(key, c, near, gap <= g.same_place_type_window)
        if s is None or s[0] < g.join_score + (1 if key.watch else 0):
            continue
        rank = (s[0], c.last_report_at.timestamp())
        if best is None or rank > best[0]:
            best = (rank, iid)
    return best[1] if best else None


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def main() -> None:
    rng = random.Random(20261121)
    g = Grouping()
    [anhui] = gazetteer().resolve("安徽省")
    places = [d.code for d in gazetteer().by_code.values() if anhui.contains(d) and d.level >= 2]
    vocabulary = [f"词{i}" for i in range(20_000)]
    clusterer = Clusterer(g)
    cands: dict[int, Candidate] = {}
    keys: dict[int, ReportKey] = {}
    for iid in range(1, N_CANDIDATES + 1):
        first = NOW - timedelta(seconds=rng.uniform(0, g.window.total_seconds()))
        key = ReportKey(
            fingerprint=rng.getrandbits(64) - (1 << 63),
            place=rng.choice(places),
            occurrence=Occurrence(None, 11, rng.randint(18, 21), rng.randrange(0, 1440)),
            families=frozenset({rng.choice(FAMILIES)}),
            companies=frozenset({f"企{rng.randrange(50_000)}"}) if rng.random() < 0.5 else frozenset(),
            words=frozenset(rng.sample(vocabulary, 25)),
        )
        c = Candidate.of(iid, key, first)
        cands[iid], keys[iid] = c, key
        clusterer.add(c)

    reports: list[tuple[ReportKey, datetime]] = []
    for i in range(N_REPORTS):
        published = NOW - timedelta(minutes=rng.uniform(0, 120))
        if i % 2 == 0:  # a rewrite of a held incident
            base = keys[rng.randrange(1, N_CANDIDATES + 1)]
            flips = rng.sample(range(64), rng.randrange(0, 30))
            key = ReportKey(base.fingerprint ^ sum(1 << b for b in flips), False, base.place, base.occurrence,
                            base.families, frozenset(), frozenset(),
                            None, frozenset(rng.sample(sorted(base.words), 6)) | set(rng.sample(vocabulary, 10)))  # fmt: skip
        else:  # new
            key = ReportKey(rng.getrandbits(64) - (1 << 63), False, rng.choice(places),
                            Occurrence(None, 11, 21, rng.randrange(0, 1440)), frozenset({rng.choice(FAMILIES)}),
                            words=frozenset(rng.sample(vocabulary, 25)))  # fmt: skip
        reports.append((key, published))

    wall: list[float] = []
    cpu: list[float] = []
    answers = []
    for key, published in reports:
        c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
        answers.append(clusterer.assign(key, published, NOW))
        wall.append((time.perf_counter_ns() - t0) / 1e6)
        cpu.append((time.thread_time_ns() - c0) / 1e6)

    naive: list[float] = []
    for (key, published), expected in zip(reports[:200], answers, strict=False):
        t0 = time.perf_counter_ns()
        got = naive_assign(cands, g, key, published)
        naive.append((time.perf_counter_ns() - t0) / 1e6)
        assert got == expected, f"index and scan disagree: {got} != {expected}"

    joined = sum(a is not None for a in answers)
    med, cpu_med, cpu_p99 = statistics.median(wall), statistics.median(cpu), percentile(cpu, 99)
    verdict = "met" if cpu_p99 < TARGET_MS else "MISSED"
    print(f"grouping: {N_CANDIDATES} candidates, {N_REPORTS} reports ({joined} joined an incident), "
          f"join_score {g.join_score}")  # fmt: skip
    print(f"assign, indexed      : median {med:.3f} ms  p99 {percentile(wall, 99):.3f} ms  (wall clock)")
    print(
        f"assign, CPU time     : median {cpu_med:.3f} ms  p99 {cpu_p99:.3f} ms  (target {TARGET_MS} ms at p99: {verdict})"
    )
    print(
        f"assign, naive scan   : median {statistics.median(naive):.3f} ms  p99 {percentile(naive, 99):.3f} ms"
    )
    print(f"ratio naive / index  : {statistics.median(naive) / med:.1f}x (median)")


if __name__ == "__main__":
    main()
