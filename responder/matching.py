"""Monitoring schemes applied to report text: region AND event NOT exclude.

One Aho-Corasick automaton holds every word of every scheme, so a report is read
once whatever the number of schemes and words (hundreds per scheme is normal in
this field). Overlapping matches are collected, because scheme words overlap
(`淮南` inside `淮南市`, `爆炸` inside `燃爆炸`), and an exclusion word hidden inside
a longer event word must still be seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import ahocorasick_rs

from .config import Scheme
from .text import normalize

__all__ = ["GROUPS", "MatchResult", "Matcher"]

# Word groups in the order they are reported; "topic" appears only for topic-only schemes.
GROUPS: tuple[str, ...] = ("region", "event", "exclude", "topic")
_REGION, _EVENT, _EXCLUDE, _TOPIC = range(4)


def _key(word: str) -> str:
    """The form a word is searched in: normalised like report text, then lower case."""
    return normalize(word).lower()


@dataclass(frozen=True)
class MatchResult:
    """What one report hit.

    relevant: the report matched a scheme (its required groups hit, no exclusion word).
    scheme:   the scheme the `hits` belong to: the first matching scheme in config
              order when relevant; otherwise the one that came closest (most groups
              satisfied, then most words), so an operator sees why the report was not
              relevant; None when no applicable scheme had a single hit.
    hits:     {"region": [...], "event": [...], "exclude": [...]} (plus "topic" for a
              topic-only scheme): the config spellings of the words found, sorted, unique.
    """

    relevant: bool
    scheme: str | None
    hits: dict[str, list[str]] = field(default_factory=lambda: _empty_hits(False))


def _empty_hits(topic: bool) -> dict[str, list[str]]:
    hits: dict[str, list[str]] = {"region": [], "event": [], "exclude": []}
    if topic:
        hits["topic"] = []
    return hits


@dataclass(frozen=True)
class _Compiled:
    name: str
    kinds: frozenset[str]
    topic_only: bool


class Matcher:
    """All schemes of a config, compiled once; `match` is then pure and fast.

    Scheme words are normalised exactly as report text is (NFKC, traditional →
    simplified) and compared case-insensitively, so a word written in traditional or
    full-width form in feeds.yaml still matches.
    """

    def __init__(self, schemes: Sequence[Scheme]):
        self.schemes: tuple[Scheme, ...] = tuple(schemes)
        self._compiled = [_Compiled(s.name, frozenset(s.applies_to), bool(s.topic)) for s in self.schemes]
        # pattern (normalised) -> every (scheme index, group index, config spelling) it stands for
        owners: dict[str, list[tuple[int, int, str]]] = {}
        for si, s in enumerate(self.schemes):
            for gi, words in enumerate((s.region, s.event, s.exclude, s.topic)):
                for w in words:
                    key = _key(w)
                    if not key:
                        raise ValueError(f"scheme {s.name!r}: word {w!r} is empty after normalisation")
                    owners.setdefault(key, []).append((si, gi, w))
        self._patterns: list[str] = list(owners)
        self._owners: list[tuple[tuple[int, int, str], ...]] = [tuple(owners[p]) for p in self._patterns]
        self._ac = (
            ahocorasick_rs.AhoCorasick(self._patterns, store_patterns=False) if self._patterns else None
        )

    @property
    def word_count(self) -> int:
        """Distinct normalised words in the automaton (for logs and the benchmark)."""
        return len(self._patterns)

    def match(self, text: str, source_kind: str) -> MatchResult:
        """Match normalised report text (see text.report_text) from a source of `source_kind`.

        Only schemes whose `applies_to` lists the kind are considered. The text is
        lower-cased here but not normalised again: callers pass `report_text(...)`.
        """
        compiled = self._compiled
        applicable = [i for i, c in enumerate(compiled) if source_kind in c.kinds]
        if not applicable or self._ac is None:
            return MatchResult(False, None, _empty_hits(False))

        # found[scheme][group] = set of config spellings hit
        found: dict[int, list[set[str]]] = {}
        owners = self._owners
        seen: set[int] = set()
        for pi, _start, _end in self._ac.find_matches_as_indexes(text.lower(), overlapping=True):
            if pi in seen:
                continue
            seen.add(pi)
            for si, gi, word in owners[pi]:
                groups = found.get(si)
                if groups is None:
                    groups = found[si] = [set(), set(), set(), set()]
                groups[gi].add(word)

        best: tuple[tuple[int, int], int] | None = None
        for si in applicable:
            groups = found.get(si)
            if groups is None:
                continue
            c = compiled[si]
            if c.topic_only:
                satisfied = bool(groups[_TOPIC])
                progress = int(satisfied)
            else:
                satisfied = bool(groups[_REGION]) and bool(groups[_EVENT])
                progress = bool(groups[_REGION]) + bool(groups[_EVENT])
            if satisfied and not groups[_EXCLUDE]:
                return MatchResult(True, c.name, self._hits(si, groups))
            # An excluded full match counts as closest: it explains itself best.
            score = (progress, sum(len(g) for g in groups))
            if best is None or score > best[0]:
                best = (score, si)

        if best is None:
            return MatchResult(False, None, _empty_hits(False))
        si = best[1]
        return MatchResult(False, compiled[si].name, self._hits(si, found[si]))

    def _hits(self, si: int, groups: list[set[str]]) -> dict[str, list[str]]:
        hits = _empty_hits(self._compiled[si].topic_only)
        for gi, name in enumerate(GROUPS):
            if name in hits:
                hits[name] = sorted(groups[gi])
        return hits
