"""Pure: one feed entry → everything intake knows about it (identity, text, hits, figures, place).

Both `scan` (the operator's dry run, nothing stored) and the engine's ingest (which
persists) call `analyse`, so the dry run shows exactly what the service would do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .clustering import clamp_published, extract_accident_type, extract_places, fingerprint
from .config import FeedsConfig, Source
from .feeds.parse import FeedEntry
from .grading import Figures, Grade, grade_for
from .identity import normalize_link, report_identity
from .matching import Matcher, MatchResult
from .text import normalize, report_text
from .vocab import Channel, SourceKind

__all__ = ["Analysed", "Intake", "analyse"]


@dataclass(frozen=True)
class Intake:
    """What analysis needs from the configuration, built once per config load."""

    config: FeedsConfig
    matcher: Matcher
    region_words: tuple[str, ...]

    @classmethod
    def from_config(cls, config: FeedsConfig) -> Intake:
        """Build the matcher and the region vocabulary (for places) from feeds.yaml."""
        words: list[str] = []
        for scheme in config.schemes:
            for w in scheme.region:
                nw = normalize(w)
                if nw not in words:
                    words.append(nw)
        return cls(config, Matcher(config.schemes), tuple(words))


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
    figures: Figures
    grade: Grade | None
    fingerprint: int
    places: tuple[str, ...]
    accident_type: str | None

    @property
    def place(self) -> str | None:
        """The most specific place named (extract_places orders them so)."""
        return self.places[0] if self.places else None

    @property
    def opens_incident(self) -> bool:
        """A relevant news report: grouped into an event incident."""
        return self.match.relevant and self.source_kind == "news"


def _signed64(v: int) -> int:
    # Stored in a BIGINT column: keep it in the signed range.
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >= 1 << 63 else v


def analyse(
    entry: FeedEntry, source: Source, intake: Intake, now: datetime, *, feed_guids_unique: bool = True
) -> Analysed:
    """Normalise, match, grade and fingerprint one entry. Pure."""
    from .grading import extract_figures

    text = report_text(entry.title, entry.summary_html)
    match = intake.matcher.match(text, source.kind)
    figures = extract_figures(text) if source.kind == "news" and match.relevant else Figures()
    return Analysed(
        source=source.name,
        source_kind=source.kind,
        channel=source.channel,
        identity=report_identity(entry.guid, entry.link, entry.title, feed_guids_unique=feed_guids_unique),
        link_key=normalize_link(entry.link),
        guid=entry.guid,
        link=entry.link,
        title=(entry.title or "").strip(),
        text=text,
        raw_published=entry.published,
        published=clamp_published(entry.published, now, intake.config.grouping),
        match=match,
        figures=figures,
        grade=grade_for(figures),
        fingerprint=_signed64(fingerprint(text)),
        places=tuple(extract_places(text, intake.region_words)),
        accident_type=extract_accident_type(text),
    )
