"""`python main.py scan`: the operator's dry run. Fetch every source once, analyse and group in
memory, print a table or one JSON document. Writes nothing, sends nothing.

The JSON field names are a contract operators script against: keep them stable.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .clustering import Candidate, Clusterer
from .config import Source
from .feeds.fetch import Fetcher, FetchResult, Validators
from .feeds.parse import FeedParseError, parse_feed
from .identity import guids_unique
from .pipeline import Analysed, analyse
from .runtime import Settings

__all__ = ["ScanResult", "render_json", "render_table", "scan"]


@dataclass
class _Group:
    key: str
    first: Analysed
    reports: list[Analysed] = field(default_factory=list)


@dataclass
class ScanResult:
    """Reports (with the incident key each joined), incidents, and per-source errors."""

    reports: list[tuple[Analysed, str | None]] = field(default_factory=list)
    incidents: list[_Group] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)


async def _fetch_all(settings: Settings) -> list[tuple[Source, FetchResult]]:
    async with Fetcher(settings.feeds.polling) as f:
        sources = [s for s in settings.feeds.sources if s.enabled]
        results = await asyncio.gather(
            *(f.fetch(settings.feeds.url_of(s, settings.base_dir), Validators()) for s in sources)
        )
    return list(zip(sources, results, strict=True))


def scan(settings: Settings, now: datetime) -> ScanResult:
    """Fetch, normalise, match, grade and group; nothing is stored."""
    out = ScanResult()
    items: list[Analysed] = []
    seen: set[str] = set()
    for src, res in asyncio.run(_fetch_all(settings)):
        if res.text is None:
            out.errors.append((src.name, res.error or "no content"))
            continue
        try:
            parsed = parse_feed(res.text, naive_tz=settings.feeds.tz_of(src), base_url=res.url, now=now)
        except FeedParseError as exc:
            out.errors.append((src.name, str(exc)))
            continue
        unique = guids_unique(e.guid for e in parsed.entries)
        for e in parsed.entries:
            a = analyse(e, src, settings.intake, now, feed_guids_unique=unique)
            # The same report seen twice (same identity or link) is listed once, as the service stores it once.
            keys = {a.identity, a.link_key or a.identity}
            if keys & seen:
                continue
            seen |= keys
            items.append(a)
    clusterer = Clusterer(settings.feeds.grouping, settings.intake.region_words)
    groups: dict[int, _Group] = {}
    for a in sorted(items, key=lambda a: a.published):
        key: str | None = None
        if a.opens_incident:
            gid = clusterer.assign(a.fingerprint, a.place, a.accident_type, a.published, now, a.places)
            if gid is None:
                gid = len(groups) + 1
                groups[gid] = _Group(f"scan-{gid}", a)
                clusterer.add(Candidate(gid, a.fingerprint, a.place, a.accident_type, a.published, a.published,
                                        frozenset(a.places)))  # fmt: skip
            else:
                clusterer.update(gid, fingerprint=a.fingerprint, published=a.published, places=a.places,
                                 place=a.place, accident_type=a.accident_type)  # fmt: skip
            groups[gid].reports.append(a)
            key = groups[gid].key
        out.reports.append((a, key))
    out.incidents = list(groups.values())
    return out


def _iso(d: datetime | None) -> str | None:
    return d.isoformat() if d else None


def _grade(g: _Group) -> str | None:
    grades = [a.grade for a in g.reports if a.grade is not None]
    return max(grades).label if grades else None


def render_json(result: ScanResult) -> str:
    """The stable JSON document of the README."""
    doc: dict[str, Any] = {
        "reports": [
            {
                "source": a.source,
                "link": a.link,
                "title": a.title,
                "published": _iso(a.raw_published),
                "relevant": a.match.relevant,
                "scheme": a.match.scheme,
                "hits": {k: a.match.hits.get(k, []) for k in ("region", "event", "exclude")}
                | ({"topic": a.match.hits["topic"]} if "topic" in a.match.hits else {}),
                "grade": a.grade.label if a.grade else None,
                "deaths": a.figures.deaths,
                "serious_injuries": a.figures.serious_injuries,
                "loss_cny": a.figures.loss_cny,
                "incident": key,
            }
            for a, key in result.reports
        ],
        "incidents": [
            {
                "key": g.key,
                "title": min(g.reports, key=lambda a: a.published).title,
                "grade": _grade(g),
                "first_published": _iso(min(a.published for a in g.reports)),
                "reports": [a.link for a in g.reports],
                "sources": len({a.source for a in g.reports}),
            }
            for g in result.incidents
        ],
        "errors": [{"source": s, "error": e} for s, e in result.errors],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2)


def render_table(result: ScanResult, settings: Settings) -> str:
    """A readable table: relevant reports first, then incidents, then errors."""
    tz = settings.tz
    lines = []
    for a, key in result.reports:
        mark = "✔" if a.match.relevant else " "
        when = a.published.astimezone(tz).strftime("%m-%d %H:%M")
        grade = a.grade.label if a.grade else ""
        lines.append(f"{mark} {when} [{a.source}] {a.title} {grade} {key or ''}".rstrip())
        if a.match.relevant or any(a.match.hits.values()):
            hits = "; ".join(f"{k}: {','.join(v)}" for k, v in a.match.hits.items() if v)
            lines.append(f"      {a.match.scheme or ''} {hits}")
    lines.append("")
    lines.append(f"incidents: {len(result.incidents)}")
    for g in result.incidents:
        title = min(g.reports, key=lambda a: a.published).title
        lines.append(f"  {g.key} [{_grade(g) or '未定级'}] {title} ({len(g.reports)} reports, "
                     f"{len({a.source for a in g.reports})} sources)")  # fmt: skip
    if result.errors:
        lines.append("")
        lines.append(f"errors: {len(result.errors)}")
        lines.extend(f"  {s}: {e}" for s, e in result.errors)
    return "\n".join(lines)
