"""Pure-ish: which open or recent incident a new relevant report belongs to.

No database here: the caller loads the open and recent incidents as `Candidate`s into
a `Clusterer` once, asks `match` for every new report's `ReportKey`, and tells the
clusterer what it decided (`add` for a new incident, `update` when a report joined one).

Reports of one event are written independently by different outlets: they share the
facts, not the wording. The rule (docs/design.md, "Grouping reports into incidents") weighs
what both reports say and joins the best live candidate that reaches
`grouping.join_score` points without a contradiction:

| evidence | points |
|---|---|
| near-duplicate text (SimHash within `near_duplicate_distance` bits) | 4 |
| a named site or company in common (浩业化工, 谢桥煤矿) | 3 |
| same county or district / same city | 2 / 1 |
| same day of occurrence read from the text / and time of day within 2 h | 2 / +1 |
| same accident type family (爆炸, 燃爆, 爆鸣 and 起火 are one family) | 1 |
| same death toll | 1 |
| published within `same_place_type_window` of the incident's reports (accidents only) | 1 |
| word similarity (segmented words: cosine ≥ 0.5 / 0.3 / 0.2, or 6 / 4 / 2 words in common) | 3 / 2 / 1 |

A watch item (not a current accident) needs one point more than `join_score`, and no
report joins on time alone: a place, a site, shared words or near-duplicate text must
be among the evidence.
Contradictions veto: one a current accident and the other a watch item (bulletin,
verdict …); places neither inside the other (蜀山区 and 包河区, 合肥 and 淮南); days or
times of day that differ; accident types of different families; named units (plants,
buildings) that share no name, or companies that share none. Place and type points
count only for reports published within `same_place_type_window` of the incident.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from .analysis.gazetteer import Division, gazetteer
from .analysis.occurrence import Occurrence
from .analysis.sites import share_a_name
from .analysis.words import similarity
from .config import Grouping
from .simhash import MASK64, BandIndex, fingerprint, hamming

__all__ = [
    "ACCIDENT_FAMILIES",
    "Candidate",
    "Clusterer",
    "Match",
    "ReportKey",
    "accident_families",
    "clamp_published",
    "fingerprint",
    "hamming",
]

# (family, words): the first family named is the report's accident type.
ACCIDENT_FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("爆炸", ("爆炸", "燃爆", "闪爆", "爆燃", "爆鸣", "炸响", "爆管", "爆裂", "火灾", "起火", "着火", "失火", "大火",
             "燃烧", "火情", "过火", "著火")),
    ("透水", ("透水", "突水", "涌水")),
    ("坍塌", ("坍塌", "垮塌", "倒塌", "塌方", "塌陷", "坍落", "冒顶", "片帮", "倾覆", "倾倒", "倾塌", "掩埋", "塔吊",
             "龙门吊", "塔机", "起重", "吊车")),
    ("中毒窒息", ("中毒", "窒息", "泄漏", "泄露", "漏气", "瓦斯", "有毒气体", "煤气")),
    ("交通", ("车祸", "交通事故", "相撞", "追尾", "侧翻", "翻车", "撞车")),
    ("触电", ("触电",)),
    ("坠落", ("坠落", "坠亡", "坠楼", "高处跌落", "高空坠物", "坠下")),
    ("淹溺", ("溺水", "淹溺", "溺亡")),
    ("机械伤害", ("机械伤害", "卷入")),
)  # fmt: skip
FAMILY_WORDS: frozenset[str] = frozenset(w for _, words in ACCIDENT_FAMILIES for w in words)
_MAX_WORDS = 120
# Evidence that both reports are about the same thing (not only the same moment).
_ABOUT_THE_SAME = frozenset(
    {"same_county", "same_city", "same_site", "similar_words", "near_duplicate"}
)  # words an incident keeps for similarity (its first reports')
_COMMON_WORD = 60  # a word held by more incidents than this finds no candidates


def accident_families(text: str) -> tuple[str, ...]:
    """Every accident type family named in `text`, in the order of ACCIDENT_FAMILIES."""
    return tuple(name for name, words in ACCIDENT_FAMILIES if any(w in text for w in words))


def clamp_published(published: datetime | None, detected_at: datetime, grouping: Grouping) -> datetime:
    """A report's publication time as grouping and the playbook clock use it.

    Missing, more than `grouping.max_future` in the future, or older than
    `grouping.max_age` before detection: the detection time.
    """
    if published is None:
        return detected_at
    if published > detected_at + grouping.max_future or published < detected_at - grouping.max_age:
        return detected_at
    return published


@dataclass(frozen=True)
class ReportKey:
    """What grouping reads from one report (stored with the report as JSON)."""

    fingerprint: int
    watch: bool = False  # not a current accident: groups with other watch items only
    place: str | None = None  # code of the most specific division named
    occurrence: Occurrence = field(default_factory=Occurrence)
    families: frozenset[str] = frozenset()
    companies: frozenset[str] = frozenset()
    units: frozenset[str] = frozenset()
    deaths: int | None = None
    words: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (without the fingerprint, which has its own column)."""
        return {
            "watch": self.watch,
            "place": self.place,
            "occurrence": self.occurrence.to_json(),
            "families": sorted(self.families),
            "companies": sorted(self.companies),
            "units": sorted(self.units),
            "deaths": self.deaths,
            "words": sorted(self.words),
        }

    @classmethod
    def from_json(cls, fp: int, data: dict[str, Any]) -> ReportKey:
        """The inverse of `to_json`."""
        return cls(
            fp,
            bool(data.get("watch")),
            data.get("place"),
            Occurrence.from_json(data.get("occurrence")),
            frozenset(data.get("families", ())),
            frozenset(data.get("companies", ())),
            frozenset(data.get("units", ())),
            data.get("deaths"),
            frozenset(data.get("words", ())),
        )


@dataclass(frozen=True)
class Candidate:
    """An open or recent incident as grouping sees it: what its reports said, together."""

    incident_id: int
    first_published: datetime
    last_report_at: datetime
    watch: bool = False
    place: str | None = None  # the most specific place any report named
    occurrence: Occurrence = field(default_factory=Occurrence)
    families: frozenset[str] = frozenset()
    companies: frozenset[str] = frozenset()
    units: frozenset[str] = frozenset()
    deaths: int | None = None
    words: frozenset[str] = frozenset()
    fingerprints: frozenset[int] = frozenset()

    @classmethod
    def of(cls, incident_id: int, key: ReportKey, published: datetime) -> Candidate:
        """A new incident opened by one report."""
        return cls(
            incident_id,
            published,
            published,
            key.watch,
            key.place,
            key.occurrence,
            key.families,
            key.companies,
            key.units,
            key.deaths,
            key.words,
            frozenset({key.fingerprint & MASK64}),
        )

    def joined(self, key: ReportKey, published: datetime) -> Candidate:
        """This incident after `key`'s report joined it."""
        return replace(
            self,
            first_published=min(self.first_published, published),
            last_report_at=max(self.last_report_at, published),
            place=_deeper(self.place, key.place),
            occurrence=self.occurrence if self.occurrence.known else key.occurrence,
            families=self.families | key.families,
            companies=self.companies | key.companies,
            units=self.units | key.units,
            deaths=max((d for d in (self.deaths, key.deaths) if d is not None), default=None),
            words=self.words
            if len(self.words) >= _MAX_WORDS
            else frozenset(sorted(self.words | key.words)[:_MAX_WORDS]),
            fingerprints=self.fingerprints | {key.fingerprint & MASK64},
        )


def _division(code: str | None) -> Division | None:
    return gazetteer().by_code.get(code) if code else None


def _deeper(a: str | None, b: str | None) -> str | None:
    da, db = _division(a), _division(b)
    if da is None:
        return b
    if db is None:
        return a
    return b if db.level > da.level and da.contains(db) else a


@dataclass(frozen=True)
class Match:
    """Why a report joins an incident: its points and the evidence that gave them."""

    incident_id: int
    score: int
    reasons: tuple[str, ...]


def score(
    key: ReportKey, c: Candidate, near: bool, close_in_time: bool
) -> tuple[int, tuple[str, ...]] | None:
    """Points for `key` joining `c`, or None when something contradicts (see the module docstring)."""
    if key.watch != c.watch:
        return None
    points: list[tuple[str, int]] = []
    dk, dc = _division(key.place), _division(c.place)
    if dk is not None and dc is not None:
        if not dk.related(dc):
            return None
        if close_in_time and dk.code == dc.code and dk.level >= 2:
            points.append(("same_county" if dk.level == 3 else "same_city", 2 if dk.level == 3 else 1))
        elif close_in_time and dk.level >= 2 and dc.level >= 2 and dk.city == dc.city:
            points.append(("same_city", 1))
    if not key.occurrence.compatible(c.occurrence):
        return None
    if key.occurrence.same_day(c.occurrence):
        points.append(("same_day", 2))
        if key.occurrence.minute is not None and c.occurrence.minute is not None:
            points.append(("same_time", 1))
    if key.families and c.families:
        if not key.families & c.families:
            return None
        if close_in_time:
            points.append(("same_type", 1))
    if key.units and c.units and not share_a_name(key.units, c.units):
        return None
    site = share_a_name(key.companies | key.units, c.companies | c.units)
    if key.companies and c.companies and not site:
        return None
    if site:
        points.append(("same_site", 3))
    if key.deaths and c.deaths and key.deaths == c.deaths:
        points.append(("same_toll", 1))
    sim = similarity(key.words, c.words)
    shared = len(key.words & c.words)
    words = max(
        3 if sim >= 0.5 else 2 if sim >= 0.3 else 1 if sim >= 0.2 else 0,
        3 if shared >= 6 else 2 if shared >= 4 else 1 if shared >= 2 else 0,
    )
    if words:
        points.append(("similar_words", words))
    if near:
        points.append(("near_duplicate", 4))
    if close_in_time and not key.watch:  # bulletins and verdicts on different things appear together
        points.append(("close_in_time", 1))
    reasons = tuple(r for r, _ in points)
    if not set(reasons) & _ABOUT_THE_SAME:  # time alone never makes two reports one event
        return None
    return sum(p for _, p in points), reasons


class Clusterer:
    """Open and recent incidents in memory, indexed so `match` looks at a few of them only."""

    def __init__(self, grouping: Grouping, expected: int = 10_000) -> None:
        self.grouping = grouping
        self._candidates: dict[int, Candidate] = {}
        self._index = BandIndex(grouping.near_duplicate_distance, expected)
        self._by: dict[str, set[int]] = {}  # "p:<code>", "s:<bigram>", "w:<word>" -> incidents

    def __len__(self) -> int:
        return len(self._candidates)

    def __contains__(self, incident_id: object) -> bool:
        return incident_id in self._candidates

    def get(self, incident_id: int) -> Candidate | None:
        """The candidate for `incident_id`, if held."""
        return self._candidates.get(incident_id)

    def _keys(self, c: Candidate) -> set[str]:
        keys = {f"w:{w}" for w in c.words}
        keys |= {f"s:{n[i : i + 2]}" for n in c.companies | c.units for i in range(len(n) - 1)}
        d = _division(c.place)
        if d is not None and d.level >= 2:
            keys.add(f"p:{d.code}")
            if c.occurrence.day is not None:
                keys.add(f"d:{d.city}:{c.occurrence.month}-{c.occurrence.day}")
        return keys

    def add(self, candidate: Candidate) -> None:
        """Hold `candidate` (replacing any held with the same incident id)."""
        self.remove(candidate.incident_id)
        iid = candidate.incident_id
        self._candidates[iid] = candidate
        for fp in candidate.fingerprints:
            if self._index.bands:
                self._index.add(fp, iid)
        for k in self._keys(candidate):
            self._by.setdefault(k, set()).add(iid)

    def remove(self, incident_id: int) -> None:
        """Forget an incident (closed, dismissed and expired, or merged)."""
        cand = self._candidates.pop(incident_id, None)
        if cand is None:
            return
        if self._index.bands:
            for fp in cand.fingerprints:
                self._index.discard(fp, incident_id)
        for k in self._keys(cand):
            ids = self._by.get(k)
            if ids is not None:
                ids.discard(incident_id)
                if not ids:
                    del self._by[k]

    def update(self, incident_id: int, key: ReportKey, published: datetime) -> Candidate:
        """Record that the report of `key` joined `incident_id`; returns the updated candidate."""
        cand = self._candidates.get(incident_id)
        if cand is None:
            raise KeyError(f"incident {incident_id} is not held by the clusterer; add() it first")
        new = cand.joined(key, published)
        self.add(new)
        return new

    def expire(self, now: datetime) -> list[int]:
        """Drop candidates whose last report is older than `grouping.window`; their ids."""
        cutoff = now - self.grouping.window
        old = [iid for iid, c in self._candidates.items() if c.last_report_at < cutoff]
        for iid in old:
            self.remove(iid)
        return old

    def _near(self, fp: int) -> dict[int, int]:
        if self._index.bands:
            return self._index.near(fp)
        d = self.grouping.near_duplicate_distance
        return {
            iid: 0 for iid, c in self._candidates.items() if any(hamming(fp, f) <= d for f in c.fingerprints)
        }

    def match(self, key: ReportKey, published: datetime, now: datetime) -> Match | None:
        """The incident the report belongs to and why, or None for a new incident."""
        g = self.grouping
        cutoff = now - g.window
        near = self._near(key.fingerprint & MASK64)
        found: dict[int, int] = {}
        probe = [f"w:{w}" for w in key.words]
        probe += [f"s:{n[i : i + 2]}" for n in key.companies | key.units for i in range(len(n) - 1)]
        # Every candidate that could reach join_score shares one of these keys: its own place
        # (or the report's city), its city and occurrence day, a site bigram, a word, or is a
        # near-duplicate. Words held by more than _COMMON_WORD incidents find no one.
        d = _division(key.place)
        if d is not None and d.level >= 2:
            probe += [f"p:{d.code}", f"p:{d.city}"]
            occ = key.occurrence
            if occ.day is not None:
                cities = [d.city] if occ.month is not None else []
                probe += [f"d:{city}:{occ.month}-{occ.day}" for city in cities]
        for k in probe:
            ids = self._by.get(k)
            if ids and (len(ids) <= _COMMON_WORD or not k.startswith("w:")):
                for iid in ids:
                    found[iid] = found.get(iid, 0) + 1
        pool = near.keys() | found.keys()
        best: tuple[tuple[int, float], Match] | None = None
        for iid in pool:
            c = self._candidates[iid]
            if c.last_report_at < cutoff:
                continue
            gap = _gap(published, c.first_published, c.last_report_at)
            scored = score(key, c, iid in near, gap <= g.same_place_type_window)
            # Watch items (bulletins, verdicts …) rarely name a day or an accident type, and two of
            # them on different matters share words easily: they need one point more.
            if scored is None or scored[0] < g.join_score + (1 if key.watch else 0):
                continue
            rank = (scored[0], c.last_report_at.timestamp())
            if best is None or rank > best[0]:
                best = (rank, Match(iid, scored[0], scored[1]))
        return best[1] if best is not None else None

    def assign(self, key: ReportKey, published: datetime, now: datetime) -> int | None:
        """The incident id the report joins, or None when it opens a new incident."""
        m = self.match(key, published, now)
        return m.incident_id if m is not None else None


def candidates_from(reports: Iterable[tuple[int, ReportKey, datetime]]) -> dict[int, Candidate]:
    """Incidents rebuilt from their reports (incident id, key, published), in publication order."""
    out: dict[int, Candidate] = {}
    for iid, key, published in sorted(reports, key=lambda r: r[2]):
        out[iid] = out[iid].joined(key, published) if iid in out else Candidate.of(iid, key, published)
    return out


def _gap(t: datetime, start: datetime, end: datetime) -> timedelta:
    if t < start:
        return start - t
    if t > end:
        return t - end
    return timedelta(0)
