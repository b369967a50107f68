"""Pure: one feed entry → everything intake knows about it: analyse → kind → figures → grouping key.

Both `scan` (the operator's dry run) and the engine's ingest call `analyse`, and both
group through `responder.engine.ingest` (scan on a scratch database), so the dry run
shows exactly what the service would do.

Steps: normalise; blank datelines and bylines (新华社合肥…电 is not the place); match
the schemes; read the places (gazetteer), the report's kind (accident, bulletin,
disaster …), the occurrence time, sites and words; read the figures from the sentences
about the scheme's region only (a roundup's other accidents never count); grade only a
current accident report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .analysis.datelines import mask_datelines
from .analysis.figures import extract_figures
from .analysis.gazetteer import Division, Gazetteer, PlaceHit, gazetteer
from .analysis.kinds import classify
from .analysis.occurrence import Occurrence, read_occurrence
from .analysis.sites import read_sites
from .analysis.words import content_words
from .clustering import ReportKey, accident_families, clamp_published, fingerprint
from .config import FeedsConfig, Source
from .feeds.parse import FeedEntry
from .grading import Figures, Grade, grade_for
from .identity import normalize_link, report_identity
from .matching import Matcher, MatchResult, places_for
from .text import html_to_text, normalize
from .vocab import Channel, ReportKind, SourceKind

__all__ = ["Analysed", "Intake", "analyse"]

# An accident whose written date is this much older than the page is told again, not reported.
_OLD_NEWS = timedelta(days=60)
# What an accident report's part about the region can be when the accident itself is elsewhere.
_ELSEWHERE_KINDS = frozenset({ReportKind.NOTICE, ReportKind.OTHER})
# Without a page date, an accident written as more than this many years before it is seen is told
# again: mirrors drop dates, but no follow-up comes a decade later.
_UNDATED_HISTORY = 10
_SENTENCE = re.compile(r"[^。;；!！?？\n]+[。;；!！?？\n]?")
_LOCATED = re.compile(r"在|于")
_CLAUSE = re.compile(r"[^。;；!！?？\n,， ]+[。;；!！?？\n,， ]?")


@dataclass(frozen=True)
class Intake:
    """What analysis needs from the configuration, built once per config load."""

    config: FeedsConfig
    matcher: Matcher
    regions: dict[str, tuple[Division, ...]] = field(default_factory=dict)  # scheme -> divisions it names
    # The gazetteer with the schemes' own enterprises (feeds.yaml `enterprises:`) added.
    places: Gazetteer = field(default_factory=gazetteer)

    @classmethod
    def from_config(cls, config: FeedsConfig) -> Intake:
        """Build the gazetteer with the schemes' enterprises, the matcher and each scheme's region
        (its words that name divisions)."""
        places = places_for(config.schemes)
        regions = {s.name: tuple(d for w in s.region for d in places.resolve(w)) for s in config.schemes}
        return cls(config, Matcher(config.schemes, places), regions, places)

    @property
    def tz(self) -> ZoneInfo:
        return self.config.tz

    @property
    def region_words(self) -> tuple[str, ...]:
        """Every scheme's region words as written (normalised), in config order."""
        words: list[str] = []
        for scheme in self.config.schemes:
            for w in scheme.region:
                if (nw := normalize(w)) not in words:
                    words.append(nw)
        return tuple(words)


@dataclass(frozen=True)
class Analysed:
    """One entry, analysed. `published` is clamped (the clock start); `raw_published` as given."""

    source: str
    source_kind: SourceKind
    channel: Channel | None
    identity: str
    link_key: str | None
    guid: str | None
    link: str | None
    title: str
    text: str
    raw_published: datetime | None
    published: datetime
    match: MatchResult
    kind: ReportKind | None  # for news: accident, bulletin, disaster … (analysis.kinds); None otherwise
    figures: Figures
    grade: Grade | None
    key: ReportKey
    place: str | None  # the most specific division named, as written
    accident_type: str | None

    @property
    def fingerprint(self) -> int:
        """The text's SimHash (signed 64-bit, as stored)."""
        return self.key.fingerprint

    @property
    def opens_incident(self) -> bool:
        """A relevant current accident report: grouped into an event incident with clocks."""
        return (
            self.match.relevant and self.source_kind == SourceKind.NEWS and self.kind == ReportKind.ACCIDENT
        )

    @property
    def watch(self) -> bool:
        """A relevant news report of another kind: kept on a watch incident, no clock."""
        return (
            self.match.relevant and self.source_kind == SourceKind.NEWS and self.kind != ReportKind.ACCIDENT
        )


def _signed64(v: int) -> int:
    # Stored in a BIGINT column: keep it in the signed range.
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >= 1 << 63 else v


def _most_specific(hits: list[PlaceHit], region: tuple[Division, ...]) -> PlaceHit | None:
    """The deepest division named; inside the scheme's region when it names one; on ties a place
    before an enterprise (马鞍山 before 马钢), then the first mention."""
    inside = [h for h in hits if any(r.contains(h.division) for r in region)] if region else []
    pool = inside or hits
    return max(pool, key=lambda h: (h.division.level, not h.enterprise, -h.start), default=None)


def focus(text: str, hits: list[PlaceHit], region: tuple[Division, ...], whole: bool = True) -> str:
    """The sentences about the scheme's region: others name only places outside it (a roundup's
    other accidents); a sentence without a place goes with the one before it. A sentence naming
    places inside and outside is read clause by clause the same way ("安徽一轿车坠河致3人亡
    其中一人为武汉某干部" keeps its first clause). Nothing about the region: the whole text, or ""
    when `whole` is false."""
    if not region or not hits:
        return text
    kept: list[str] = []
    mixed: list[str] = []
    inside_now = True
    for m in _SENTENCE.finditer(text):
        where = _where(hits, region, m.start(), m.end())
        if where is not None:
            inside_now = where != "out"
        if where == "mixed":
            mixed.append(m.group(0))
            kept += _inside_clauses(text, hits, region, m.start(), m.end())
        elif inside_now:
            kept.append(m.group(0))
    return "".join(kept) if kept else "".join(mixed) or (text if whole else "")


def _where(hits: list[PlaceHit], region: tuple[Division, ...], start: int, end: int) -> str | None:
    """Whether the places named in text[start:end] are all in the region ("in"), none of them ("out")
    or some ("mixed"); None when it names none."""
    here = [h for h in hits if start <= h.start < end]
    ins = sum(1 for h in here if any(r.contains(h.division) for r in region))
    if not here:
        return None
    return "in" if ins == len(here) else "out" if ins == 0 else "mixed"


def _inside_clauses(
    text: str, hits: list[PlaceHit], region: tuple[Division, ...], start: int, end: int
) -> list[str]:
    """The clauses of a mixed sentence about the region."""
    kept: list[str] = []
    inside_now = False  # after a clause naming both, nothing is taken on trust
    for m in _CLAUSE.finditer(text, start, end):
        where = _where(hits, region, m.start(), m.end())
        if where is not None:
            inside_now = where == "in" or (
                where == "mixed" and _located_inside(text, hits, region, m.start(), m.end())
            )
        if inside_now:
            kept.append(m.group(0))
    return kept


def _located_inside(
    text: str, hits: list[PlaceHit], region: tuple[Division, ...], start: int, end: int
) -> bool:
    """A clause naming two provinces that puts what happens in the region: its last place is inside
    and comes after 在/于 (浙江某公司货轮在芜湖长江段发生闪爆)."""
    last = max((h for h in hits if start <= h.start < end), key=lambda h: h.start)
    return any(r.contains(last.division) for r in region) and bool(
        _LOCATED.search(text, max(start, last.start - 2), last.start)
    )


def analyse(
    entry: FeedEntry, source: Source, intake: Intake, now: datetime, *, feed_guids_unique: bool = True
) -> Analysed:
    """Normalise, match, classify, read figures and the grouping key of one entry. Pure."""
    title = normalize(entry.title or "")
    summary = normalize(html_to_text(entry.summary_html or ""))
    text = title + "\n" + summary
    masked = mask_datelines(text)
    match = intake.matcher.match(masked, source.kind)
    published = clamp_published(entry.published, now, intake.config.grouping)
    news = source.kind == SourceKind.NEWS
    readable = news or source.kind == SourceKind.OWN  # own outlets' items are matched to incidents too
    hits = intake.places.find(masked) if readable else []
    region = intake.regions.get(match.scheme or "", ()) if match.relevant else ()
    # Relative days (昨日, 周五) need the page's own date: never the scan or detection time.
    local = entry.published.astimezone(intake.tz) if entry.published else None
    occurrence = read_occurrence(text, local) if news else Occurrence()
    kind = _kind(title, summary, occurrence, entry.published, now, intake) if news else None
    if kind == ReportKind.ACCIDENT and region:
        # Region words that are no division (九华山) place the report without the gazetteer's help.
        places_only = all(intake.places.resolve(w) for w in match.hits["region"])
        kind = _kind_of_region_part(masked, len(title), hits, region, places_only) or kind
    figures = (
        extract_figures(focus(masked, hits, region), occurrence.year)
        if news and match.relevant
        else Figures()
    )
    place = _most_specific(hits, region)
    families = accident_families(text) if readable else ()
    sites = read_sites(masked, [h.word for h in hits]) if readable else None
    key = ReportKey(
        fingerprint=_signed64(fingerprint(text)),
        watch=kind not in (None, ReportKind.ACCIDENT),
        place=place.division.code if place else None,
        occurrence=occurrence,
        families=frozenset(families),
        companies=sites.companies if sites else frozenset(),
        units=sites.units if sites else frozenset(),
        deaths=figures.deaths,
        # Places are weighed on their own: words are what else the reports share.
        words=content_words(masked) - {h.word for h in hits}
        if (news and match.relevant) or source.kind == SourceKind.OWN
        else frozenset(),
    )
    return Analysed(
        source=source.name,
        source_kind=source.kind,
        channel=source.channel,
        identity=report_identity(entry.guid, entry.link, entry.title, feed_guids_unique=feed_guids_unique),
        link_key=normalize_link(entry.link),
        guid=entry.guid,
        link=entry.link,
        title=(entry.title or "").strip(),
        text=text.strip(),
        raw_published=entry.published,
        published=published,
        match=match,
        kind=kind,
        figures=figures,
        grade=grade_for(figures) if kind == ReportKind.ACCIDENT else None,
        key=key,
        place=place.word if place else None,
        accident_type=families[0] if families else None,
    )


def _kind_of_region_part(
    masked: str, title_end: int, hits: list[PlaceHit], region: tuple[Division, ...], places_only: bool
) -> ReportKind | None:
    """A notice or no accident at all when only the parts about places outside the region tell
    of one (江苏某厂爆炸致78死 安徽紧急开展排查); None when the region's part is the accident."""
    inside = [h for h in hits if any(r.contains(h.division) for r in region)]
    if len(inside) == len(hits):
        return None
    if not inside and places_only:  # the region named only as where people come from (安徽籍司机)
        return ReportKind.OTHER
    title_hits = [h for h in hits if h.start < title_end]
    summary_hits = [replace(h, start=h.start - title_end - 1) for h in hits if h.start > title_end]
    title = focus(masked[:title_end], title_hits, region, whole=False) if title_hits else masked[:title_end]
    summary = masked[title_end + 1 :]
    summary = focus(summary, summary_hits, region, whole=False) if summary_hits else summary
    kind = classify(title, summary)
    return kind if kind in _ELSEWHERE_KINDS else None


def _kind(
    title: str, summary: str, occurrence: Occurrence, raw: datetime | None, now: datetime, intake: Intake
) -> ReportKind:
    kind = classify(title, summary)
    if (
        kind == ReportKind.ACCIDENT
        and raw is None
        and occurrence.year
        and now.year - occurrence.year > _UNDATED_HISTORY
    ):
        return (
            ReportKind.RETROSPECTIVE
        )  # an undated page (a mirror, "history today") about an accident of long ago
    if (
        kind == ReportKind.ACCIDENT
        and occurrence.year
        and occurrence.month
        and occurrence.day
        and raw is not None
    ):
        try:
            told = datetime(occurrence.year, occurrence.month, occurrence.day, tzinfo=intake.tz)
        except ValueError:
            return kind
        if raw - told > _OLD_NEWS:  # an old accident told again (a case study, a rewrite)
            return ReportKind.RETROSPECTIVE
    return kind
