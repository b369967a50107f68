"""Pure-ish: which open or recent incident a new relevant report belongs to.

No database here: the caller loads the open and recent incidents as `Candidate`s into
a `Clusterer` once, asks `assign` for every new report, and tells the clusterer what
it decided (`add` for a new incident, `update` when a report joined one).

The rule (also in README, "Grouping reports into incidents"). A report joins
candidate C when C is live (C.last_report_at >= now - grouping.window) and either

1. near-duplicate: the Hamming distance between the report's SimHash and any
   fingerprint of C's reports is <= grouping.near_duplicate_distance; or
2. same place, same type: the report's place and accident type are both known, the
   type equals C's, the report's most specific place is one of the places C's
   reports named or C's place is one the report names (province names never count:
   "安徽" alone says nothing about which event; 蜀山区 never matches 包河区 through
   their shared 合肥), and the report's publication time lies within
   grouping.same_place_type_window of C's span [first_published, last_report_at].

Among several, near-duplicates win over place/type matches; near-duplicates are
ranked by distance, then by the most recent last report; place/type matches by how
close in time the report is to C's span, then by distance. No match: a new incident.

Fingerprints are 64-bit SimHashes over character 3-grams of the text with punctuation
and spaces removed and every digit run replaced by "0". 3-grams rather than 2-grams:
Chinese accident news shares most of its bigrams (安徽, 事故, 发生, 爆炸, 死亡), which
pulls unrelated stories together; trigrams (淮南市, 化工厂, 发生爆) carry the event.
Digits are folded so that "3人死亡" and "12人死亡" are the same feature: a report
that only updates the toll stays a near-duplicate of the first one.

Near-duplicate search uses a banded index (pigeonhole): the 64 bits are cut into B
bands; two fingerprints within distance d agree on some band up to floor(d/B) bits,
so each band's table is probed with every flip of at most that many bits. B is
chosen for the configured distance to minimise probes plus bucket hits at 10,000
fingerprints (d=12: 5 bands of 12-13 bits, radius 2, about 460 probes and ~600
popcounts instead of 10,000).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from .config import Grouping

__all__ = [
    "ACCIDENT_TYPES",
    "PROVINCES",
    "Candidate",
    "Clusterer",
    "Match",
    "ReportKey",
    "clamp_published",
    "extract_accident_type",
    "extract_place",
    "extract_places",
    "fingerprint",
    "hamming",
    "report_key",
]

_MASK64 = (1 << 64) - 1
_SHINGLE = 3

# ---------------------------------------------------------------- fingerprint

_NOT_CONTENT = re.compile(r"[\s\W_]+", re.UNICODE)
_DIGITS = re.compile(r"\d+")


def _features(text: str) -> set[str]:
    s = _DIGITS.sub("0", _NOT_CONTENT.sub("", text))
    if len(s) <= _SHINGLE:
        return {s} if s else set()
    return {s[i : i + _SHINGLE] for i in range(len(s) - _SHINGLE + 1)}


def _hash64(feature: str) -> int:
    # blake2b, not hash(): the same text must give the same fingerprint in every process
    return int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "big")


def fingerprint(text: str) -> int:
    """64-bit SimHash of normalised `text`, as a signed int (for a BIGINT column).

    Stable across processes and machines; 0 for a text without letters or digits.
    """
    feats = _features(text)
    if not feats:
        return 0
    hashes = [_hash64(f) for f in feats]
    half = len(hashes) / 2
    value = 0
    for bit in range(64):
        ones = sum((h >> bit) & 1 for h in hashes)
        if ones > half:
            value |= 1 << bit
    return value - (1 << 64) if value >= 1 << 63 else value


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two fingerprints (signed or unsigned)."""
    return ((a ^ b) & _MASK64).bit_count()


# ---------------------------------------------------------------- place and type

# Province-level names: present in nearly every report of a provincial scheme, so
# they never identify an event on their own.
PROVINCES: frozenset[str] = frozenset(
    n + suffix
    for n, suffixes in {
        "北京": ("", "市"), "天津": ("", "市"), "上海": ("", "市"), "重庆": ("", "市"),
        "河北": ("", "省"), "山西": ("", "省"), "辽宁": ("", "省"), "吉林": ("", "省"),
        "黑龙江": ("", "省"), "江苏": ("", "省"), "浙江": ("", "省"), "安徽": ("", "省"),
        "福建": ("", "省"), "江西": ("", "省"), "山东": ("", "省"), "河南": ("", "省"),
        "湖北": ("", "省"), "湖南": ("", "省"), "广东": ("", "省"), "海南": ("", "省"),
        "四川": ("", "省"), "贵州": ("", "省"), "云南": ("", "省"), "陕西": ("", "省"),
        "甘肃": ("", "省"), "青海": ("", "省"), "台湾": ("", "省"), "内蒙古": ("", "自治区"),
        "广西": ("", "壮族自治区"), "西藏": ("", "自治区"), "宁夏": ("", "回族自治区"),
        "新疆": ("", "维吾尔自治区"), "香港": ("", "特别行政区"), "澳门": ("", "特别行政区"),
    }.items()
    for suffix in suffixes
)  # fmt: skip
_LOCAL_SUFFIX = ("县", "区", "旗", "镇", "乡", "街道", "村", "园区")


def _level(word: str) -> int:
    if word in PROVINCES:
        return 0
    if word.endswith(_LOCAL_SUFFIX):
        return 2
    return 1


def extract_places(text: str, region_words: Sequence[str]) -> list[str]:
    """Every region word in `text`, most specific first (see `extract_place`)."""
    words = sorted({w for w in region_words if w}, key=len, reverse=True)
    hits: list[tuple[int, int, str]] = []  # (start, end, word), longest word wins a spot
    taken = [False] * len(text)
    for w in words:
        start = text.find(w)
        while start != -1:
            end = start + len(w)
            if not any(taken[start:end]):
                hits.append((start, end, w))
                for i in range(start, end):
                    taken[i] = True
            start = text.find(w, end)
    hits.sort()
    # A word written right after another (安徽省淮南市潘集区) is inside it: one level deeper.
    ranked: dict[str, tuple[int, int]] = {}
    prev_end, prev_level = -10, -1
    for start, end, w in hits:
        level = _level(w)
        if start - prev_end <= 1 and level > 0:
            level = max(level, prev_level + 1)
        prev_end, prev_level = end, level
        best = ranked.get(w)
        if best is None or level > best[0]:
            ranked[w] = (level, start if best is None else best[1])
    return sorted(ranked, key=lambda w: (-ranked[w][0], ranked[w][1]))


def extract_place(text: str, region_words: Sequence[str]) -> str | None:
    """The most specific region word in `text`: a county beats a city beats the province.

    Specificity: a province name ranks lowest, a word ending in 县/区/镇/乡... ranks
    highest, and a word written right after another (淮南市潘集区) ranks above the one
    it follows. Ties go to the earliest mention (the title comes first).
    """
    places = extract_places(text, region_words)
    return places[0] if places else None


# (type, words) from the gravest or most telling down: the first type with a word in
# the text wins. 瓦斯爆炸 and 煤尘爆炸 are 爆炸 (reposts often just say 爆炸); 瓦斯 is
# kept for outbursts and over-limit gas without an explosion.
ACCIDENT_TYPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("爆炸", ("爆炸", "燃爆", "闪爆", "爆燃", "炸响")),
    ("透水", ("透水", "突水", "涌水")),
    ("冒顶", ("冒顶", "片帮")),
    ("坍塌", ("坍塌", "垮塌", "倒塌", "塌方", "塌陷", "坍落")),
    ("火灾", ("火灾", "起火", "着火", "失火", "大火", "燃烧")),
    ("中毒窒息", ("中毒", "窒息")),
    ("泄漏", ("泄漏", "泄露")),
    ("瓦斯", ("瓦斯",)),
    ("交通", ("车祸", "交通事故", "相撞", "追尾", "侧翻", "翻车", "撞车")),
    ("触电", ("触电",)),
    ("坠落", ("坠落", "坠亡", "坠楼", "高处跌落")),
    ("淹溺", ("溺水", "淹溺", "溺亡")),
    ("机械伤害", ("机械伤害", "卷入")),
    ("起重伤害", ("起重伤害", "吊车倾覆", "塔吊倒")),
)


def extract_accident_type(text: str) -> str | None:
    """The accident type named in `text` (爆炸, 火灾, 透水, 坍塌, ...), or None."""
    for kind, words in ACCIDENT_TYPES:
        if any(w in text for w in words):
            return kind
    return None


@dataclass(frozen=True)
class ReportKey:
    """What grouping reads from one report's text."""

    fingerprint: int
    place: str | None
    places: tuple[str, ...]
    accident_type: str | None


def report_key(text: str, region_words: Sequence[str]) -> ReportKey:
    """Fingerprint, most specific place, every place and accident type of normalised `text`."""
    places = extract_places(text, region_words)
    return ReportKey(
        fingerprint(text), places[0] if places else None, tuple(places), extract_accident_type(text)
    )


# ---------------------------------------------------------------- time


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


# ---------------------------------------------------------------- candidates


@dataclass(frozen=True)
class Candidate:
    """An open or recent incident as grouping sees it.

    `fingerprints` holds the fingerprints of its other reports (the incident's own
    `fingerprint` is always used); `places` every region word its reports named.
    """

    incident_id: int
    fingerprint: int
    place: str | None
    accident_type: str | None
    first_published: datetime
    last_report_at: datetime
    places: frozenset[str] = field(default_factory=frozenset)
    fingerprints: tuple[int, ...] = ()

    def all_fingerprints(self) -> set[int]:
        """Every fingerprint of this incident, unsigned."""
        return {fp & _MASK64 for fp in (self.fingerprint, *self.fingerprints)}

    def all_places(self) -> set[str]:
        """Places that identify this incident (province names excluded)."""
        return {p for p in (self.place, *self.places) if p and p not in PROVINCES}


@dataclass(frozen=True)
class Match:
    """Why a report joins an incident: 'near_duplicate' or 'same_place_type'."""

    incident_id: int
    reason: str
    distance: int


class _BandIndex:
    """Exact search of 64-bit fingerprints within Hamming distance d (pigeonhole bands)."""

    def __init__(self, distance: int, expected: int = 10_000) -> None:
        self.distance = distance
        self.bands, self.radius = self._plan(distance, expected)
        widths = [64 // self.bands + (1 if i < 64 % self.bands else 0) for i in range(self.bands)]
        self._spans: list[tuple[int, int]] = []
        shift = 0
        for w in widths:
            self._spans.append((shift, (1 << w) - 1))
            shift += w
        self._flips: list[list[int]] = [
            [
                sum(1 << b for b in bits)
                for r in range(self.radius + 1)
                for bits in itertools.combinations(range(w), r)
            ]
            for w in widths
        ]
        self._tables: list[dict[int, set[tuple[int, int]]]] = [{} for _ in widths]

    @staticmethod
    def _plan(distance: int, expected: int) -> tuple[int, int]:
        best: tuple[float, int, int] | None = None
        for bands in range(1, min(distance + 1, 64) + 1):
            radius = distance // bands
            cost = 0.0
            for i in range(bands):
                w = 64 // bands + (1 if i < 64 % bands else 0)
                probes = sum(math.comb(w, r) for r in range(radius + 1))
                cost += probes * (1 + expected / 2**w)
            if best is None or cost < best[0]:
                best = (cost, bands, radius)
        assert best is not None
        if best[0] >= expected:  # no index beats a scan (a very loose distance): scan
            return 0, 0
        return best[1], best[2]

    def add(self, fp: int, key: int) -> None:
        for (shift, mask), table in zip(self._spans, self._tables, strict=True):
            table.setdefault((fp >> shift) & mask, set()).add((fp, key))

    def discard(self, fp: int, key: int) -> None:
        for (shift, mask), table in zip(self._spans, self._tables, strict=True):
            band = (fp >> shift) & mask
            bucket = table.get(band)
            if bucket is not None:
                bucket.discard((fp, key))
                if not bucket:
                    del table[band]

    def near(self, fp: int) -> dict[int, int]:
        """key -> smallest distance, for every entry within the distance (bands > 0)."""
        found: dict[int, int] = {}
        d = self.distance
        for (shift, mask), table, flips in zip(self._spans, self._tables, self._flips, strict=True):
            band = (fp >> shift) & mask
            get = table.get
            # An entry found through several bands is simply measured again: cheaper
            # than remembering which were seen.
            for bucket in [b for flip in flips if (b := get(band ^ flip))]:
                for other, key in bucket:
                    dist = (fp ^ other).bit_count()
                    if dist <= d and dist < found.get(key, 65):
                        found[key] = dist
        return found


class Clusterer:
    """Open and recent incidents in memory, indexed for `assign` (see module docstring)."""

    def __init__(self, grouping: Grouping, region_words: Sequence[str] = (), expected: int = 10_000) -> None:
        self.grouping = grouping
        self.region_words = list(region_words)
        self._candidates: dict[int, Candidate] = {}
        self._fps: dict[int, set[int]] = {}  # incident -> unsigned fingerprints indexed
        self._index = _BandIndex(grouping.near_duplicate_distance, expected)
        # (place, type) -> incidents: by any place their reports named, and by their main place
        self._by_any: dict[tuple[str, str], set[int]] = {}
        self._by_main: dict[tuple[str, str], set[int]] = {}

    def __len__(self) -> int:
        return len(self._candidates)

    def __contains__(self, incident_id: object) -> bool:
        return incident_id in self._candidates

    def get(self, incident_id: int) -> Candidate | None:
        """The candidate for `incident_id`, if held."""
        return self._candidates.get(incident_id)

    # -- features of a report

    def key_of(self, text: str) -> ReportKey:
        """`report_key` with this clusterer's region words."""
        return report_key(text, self.region_words)

    # -- keeping the candidates

    def add(self, candidate: Candidate) -> None:
        """Hold `candidate` (replacing any held with the same incident id)."""
        if candidate.incident_id in self._candidates:
            self.remove(candidate.incident_id)
        iid = candidate.incident_id
        self._candidates[iid] = candidate
        self._fps[iid] = set()
        for fp in candidate.all_fingerprints():
            self._index_fp(iid, fp)
        for table, key in self._place_keys(candidate):
            table.setdefault(key, set()).add(iid)

    def _place_keys(self, c: Candidate) -> list[tuple[dict[tuple[str, str], set[int]], tuple[str, str]]]:
        if not c.accident_type:
            return []
        keys = [(self._by_any, (p, c.accident_type)) for p in c.all_places()]
        if c.place and c.place not in PROVINCES:
            keys.append((self._by_main, (c.place, c.accident_type)))
        return keys

    def _index_fp(self, iid: int, fp: int) -> None:
        fps = self._fps[iid]
        if fp not in fps:
            fps.add(fp)
            if self._index.bands:
                self._index.add(fp, iid)

    def remove(self, incident_id: int) -> None:
        """Forget an incident (closed, dismissed and expired, or merged)."""
        cand = self._candidates.pop(incident_id, None)
        if cand is None:
            return
        for fp in self._fps.pop(incident_id, set()):
            if self._index.bands:
                self._index.discard(fp, incident_id)
        for table, key in self._place_keys(cand):
            ids = table.get(key)
            if ids is not None:
                ids.discard(incident_id)
                if not ids:
                    del table[key]

    def update(
        self,
        incident_id: int,
        *,
        fingerprint: int | None = None,
        published: datetime | None = None,
        place: str | None = None,
        places: Iterable[str] = (),
        accident_type: str | None = None,
    ) -> Candidate:
        """Record that a report joined `incident_id`; returns the updated candidate.

        Its fingerprint becomes searchable, its publication time widens the span, and
        its places and type fill in what the incident did not know yet.
        """
        cand = self._candidates.get(incident_id)
        if cand is None:
            raise KeyError(f"incident {incident_id} is not held by the clusterer; add() it first")
        extra = set(cand.places) | set(places) | ({place} if place else set())
        new = replace(
            cand,
            place=cand.place or place,
            accident_type=cand.accident_type or accident_type,
            first_published=min(cand.first_published, published) if published else cand.first_published,
            last_report_at=max(cand.last_report_at, published) if published else cand.last_report_at,
            places=frozenset(extra),
            fingerprints=(*cand.fingerprints, fingerprint) if fingerprint is not None else cand.fingerprints,
        )
        if (new.place, new.accident_type) != (cand.place, cand.accident_type):
            self.add(new)  # its keys in the place tables change: index it afresh
            return new
        # The common case, a repost: index only what is new (an incident may have hundreds of reports).
        self._candidates[incident_id] = new
        if fingerprint is not None:
            self._index_fp(incident_id, fingerprint & _MASK64)
        for table, key in self._place_keys(new):
            table.setdefault(key, set()).add(incident_id)
        return new

    def expire(self, now: datetime) -> list[int]:
        """Drop candidates whose last report is older than `grouping.window`; their ids."""
        cutoff = now - self.grouping.window
        old = [iid for iid, c in self._candidates.items() if c.last_report_at < cutoff]
        for iid in old:
            self.remove(iid)
        return old

    # -- deciding

    def match(
        self,
        report_fp: int,
        place: str | None,
        accident_type: str | None,
        published: datetime,
        now: datetime,
        places: Iterable[str] = (),
    ) -> Match | None:
        """The incident the report belongs to and why, or None for a new incident.

        `published` is the report's clamped publication time (`clamp_published`);
        `places` may add the report's other region words to `place`.
        """
        g = self.grouping
        cutoff = now - g.window
        fp = report_fp & _MASK64
        if self._index.bands:
            near = self._index.near(fp)
        else:
            near = {}
            for iid, fps in self._fps.items():
                dist = min(hamming(fp, f) for f in fps)
                if dist <= g.near_duplicate_distance:
                    near[iid] = dist
        best: tuple[tuple[int, float, float, float, int], Match] | None = None
        for iid, dist in near.items():
            cand = self._candidates[iid]
            if cand.last_report_at < cutoff:
                continue
            key = (0, float(dist), -cand.last_report_at.timestamp(), 0.0, iid)
            if best is None or key < best[0]:
                best = (key, Match(iid, "near_duplicate", dist))
        if best is not None:
            return best[1]
        if accident_type is None:
            return None
        # The report's main place among any of C's places, or C's main place among any
        # of the report's: 合肥 matches 合肥市蜀山区, but 蜀山区 never matches 包河区
        # through their shared 合肥.
        ids: set[int] = set()
        if place and place not in PROVINCES:
            ids |= self._by_any.get((place, accident_type), set())
        for p in {place, *places}:
            if p and p not in PROVINCES:
                ids |= self._by_main.get((p, accident_type), set())
        for iid in ids:
            cand = self._candidates[iid]
            if cand.last_report_at < cutoff:
                continue
            gap = _gap(published, cand.first_published, cand.last_report_at)
            if gap > g.same_place_type_window:
                continue
            dist = min(hamming(fp, f) for f in self._fps[iid])
            key = (1, gap.total_seconds(), float(dist), -cand.last_report_at.timestamp(), iid)
            if best is None or key < best[0]:
                best = (key, Match(iid, "same_place_type", dist))
        return best[1] if best is not None else None

    def assign(
        self,
        report_fp: int,
        place: str | None,
        accident_type: str | None,
        published: datetime,
        now: datetime,
        places: Iterable[str] = (),
    ) -> int | None:
        """The incident id the report joins, or None when it opens a new incident."""
        m = self.match(report_fp, place, accident_type, published, now, places)
        return m.incident_id if m is not None else None


def _gap(t: datetime, start: datetime, end: datetime) -> timedelta:
    if t < start:
        return start - t
    if t > end:
        return t - end
    return timedelta(0)
