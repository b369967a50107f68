"""Monitoring schemes applied to report text: region AND event NOT exclude.

One Aho-Corasick automaton holds every word of every scheme, so a report is read
once whatever the number of schemes and words (hundreds per scheme is normal in
this field). Overlapping matches are collected, because scheme words overlap
(`淮南` inside `淮南市`, `演练` inside `应急演练`), and an exclusion word hidden inside
a longer event word must still be seen.

A region word that names a division (安徽省, 滁州, 肥西县) stands for every division
inside it, in full and short form (responder.analysis.gazetteer): `安徽省` matches
定远县, 定远 and 淮南市潘集区. A short form counts only where it stands as a word
(not 带来安全's 来安); the hit shows the name as written in the report. Enterprises
the gazetteer places in a division (马钢 in 马鞍山市) are names inside it too, and a scheme's
own `enterprises` are region words of that scheme.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import ahocorasick_rs

from .analysis.gazetteer import EVERYDAY, Gazetteer, gazetteer, short_form_stands
from .config import Scheme
from .text import normalize

__all__ = ["GROUPS", "MatchResult", "Matcher", "places_for"]

# Word groups in the order they are reported; "topic" appears only for topic-only schemes.
GROUPS: tuple[str, ...] = ("region", "event", "exclude", "topic")
_REGION, _EVENT, _EXCLUDE, _TOPIC = range(4)


def places_for(schemes: Sequence[Scheme]) -> Gazetteer:
    """The gazetteer with every scheme's own enterprises added (the shipped one when none has any)."""
    extra = {name: where for s in schemes for name, where in s.enterprises.items()}
    return gazetteer().with_enterprises(extra) if extra else gazetteer()


def _key(word: str) -> str:
    """The form a word is searched in: normalised like report text, then lower case."""
    return normalize(word).lower()


class MatchResult(NamedTuple):
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
    hits: dict[str, list[str]]


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

    def __init__(self, schemes: Sequence[Scheme], places: Gazetteer | None = None):
        self.schemes: tuple[Scheme, ...] = tuple(schemes)
        self._places = places or places_for(self.schemes)
        self._compiled = [_Compiled(s.name, frozenset(s.applies_to), bool(s.topic)) for s in self.schemes]
        # pattern (normalised) -> every (scheme index, group index, config spelling) it stands for
        owners: dict[str, list[tuple[int, int, str]]] = {}
        self._checked: set[str] = set()  # short forms from the gazetteer: checked where they occur
        for si, s in enumerate(self.schemes):
            for gi, words in enumerate((s.region, s.event, s.exclude, s.topic)):
                for w in words:
                    key = _key(w)
                    if not key:
                        raise ValueError(f"scheme {s.name!r}: word {w!r} is empty after normalisation")
                    owners.setdefault(key, []).append((si, gi, w))
            self._expand_region(si, s, owners)
        self._patterns: list[str] = list(owners)
        # Chinese words have no case; skip lower() on every report when no word has letters.
        self._fold = any(p != p.upper() for p in self._patterns)
        self._by_kind: dict[str, tuple[int, ...]] = {}
        # By the automaton's pattern index: what each pattern stands for (for each scheme: its
        # groups and config spellings), and the short forms to check where they occur.
        self._owners: list[tuple[tuple[int, int, str], ...]] = [tuple(o) for o in owners.values()]
        self._owned: list[list[tuple[tuple[int, str], ...]]] = [
            [tuple((gi, w) for s_i, gi, w in o if s_i == si) for o in self._owners]
            for si in range(len(self.schemes))
        ]
        self._checked_idx = frozenset(i for i, p in enumerate(self._patterns) if p in self._checked)
        # DFA + stored patterns: the fastest combination measured (bench/bench_matching.py);
        # a DFA's memory grows with the word list, fine for thousands of words.
        self._ac = (
            ahocorasick_rs.AhoCorasick(
                self._patterns, store_patterns=True, implementation=ahocorasick_rs.Implementation.DFA
            )
            if self._patterns
            else None
        )

    def _expand_region(self, si: int, scheme: Scheme, owners: dict[str, list[tuple[int, int, str]]]) -> None:
        """Every division inside a region word that names one, as a region word of this scheme; and
        the scheme's own enterprises."""
        places = self._places
        found = {alias: places.is_short_word(alias) for alias in map(normalize, scheme.enterprises)}
        roots = [d for w in scheme.region for d in places.resolve(w)]
        if roots:
            found |= places.aliases_within(roots)
        written = {_key(w) for w in scheme.region}
        for alias, short in found.items():
            key = _key(alias)
            if key in written or any(o[0] == si and o[1] == _REGION for o in owners.get(key, ())):
                continue
            if alias in EVERYDAY:  # 郊区, 大通: everyday words; the report names their city as well
                continue
            owners.setdefault(key, []).append((si, _REGION, alias))
            if short:
                self._checked.add(key)

    @property
    def word_count(self) -> int:
        """Distinct normalised words in the automaton (for logs and the benchmark)."""
        return len(self._patterns)

    def _applicable(self, kind: str) -> tuple[int, ...]:
        found = self._by_kind.get(kind)
        if found is None:
            found = self._by_kind[kind] = tuple(i for i, c in enumerate(self._compiled) if kind in c.kinds)
        return found

    def match(self, text: str, source_kind: str) -> MatchResult:
        """Match normalised report text (see text.report_text) from a source of `source_kind`.

        Only schemes whose `applies_to` lists the kind are considered. The text is
        not normalised again (callers pass `report_text(...)`); it is only
        lower-cased, and only when some scheme word has letters with case.
        """
        applicable = self._applicable(source_kind)
        if not applicable or self._ac is None:
            return MatchResult(False, None, _empty_hits(False))
        if self._fold:
            text = text.lower()
        seen = self._patterns_found(text)
        if not seen:
            return MatchResult(False, None, _empty_hits(False))
        if len(applicable) == 1:  # the common case (news: the province's scheme alone)
            return self._one_scheme(applicable[0], seen)

        # found[scheme] = [region, event, exclude, topic] sets of config spellings hit
        found: dict[int, list[set[str]]] = {}
        owners = self._owners
        for idx in seen:
            for si, gi, word in owners[idx]:
                groups = found.get(si)
                if groups is None:
                    groups = found[si] = [set(), set(), set(), set()]
                groups[gi].add(word)

        compiled = self._compiled
        best_score = (-1, -1)
        best = -1
        for si in applicable:
            groups = found.get(si)
            if groups is None:
                continue
            region, event, exclude, topic = groups
            if compiled[si].topic_only:
                progress = 1 if topic else 0
                satisfied = progress == 1
            else:
                progress = (1 if region else 0) + (1 if event else 0)
                satisfied = progress == 2
            if satisfied and not exclude:
                return MatchResult(True, compiled[si].name, self._hits(si, groups))
            # An excluded full match ranks first among misses: it explains itself best.
            score = (progress, len(region) + len(event) + len(exclude) + len(topic))
            if score > best_score:
                best_score, best = score, si

        if best < 0:
            return MatchResult(False, None, _empty_hits(False))
        return MatchResult(False, compiled[best].name, self._hits(best, found[best]))

    def _one_scheme(self, si: int, seen: set[int]) -> MatchResult:
        """`match` when one scheme applies: the same verdict and hits as the general path."""
        groups: list[set[str]] = [set(), set(), set(), set()]
        owned = self._owned[si]
        for idx in seen:
            for gi, word in owned[idx]:
                groups[gi].add(word)
        region, event, exclude, topic = groups
        if not (region or event or exclude or topic):
            return MatchResult(False, None, _empty_hits(False))
        c = self._compiled[si]
        satisfied = bool(topic) if c.topic_only else bool(region and event)
        return MatchResult(satisfied and not exclude, c.name, self._hits(si, groups))

    def _patterns_found(self, text: str) -> set[int]:
        """The automaton's patterns found in `text`; a gazetteer short form only where one of its
        occurrences stands as a word. The segmenter is the cost (bench/bench_matching.py): it is
        asked once per short form and place, none once the form has stood somewhere."""
        if self._ac is None:
            return set()
        checked = self._checked_idx
        seen: set[int] = set()
        for idx, start, end in self._ac.find_matches_as_indexes(text, overlapping=True):
            if idx in seen or (idx in checked and not short_form_stands(text, start, end)):
                continue
            seen.add(idx)
        return seen

    def _hits(self, si: int, groups: list[set[str]]) -> dict[str, list[str]]:
        hits = {
            "region": sorted(groups[_REGION]),
            "event": sorted(groups[_EVENT]),
            "exclude": sorted(groups[_EXCLUDE]),
        }
        if self._compiled[si].topic_only:
            hits["topic"] = sorted(groups[_TOPIC])
        return hits
