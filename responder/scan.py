"""`python main.py scan`: the operator's dry run. Fetch every source once, parse each body
in worker processes bounded in time and memory as the service does (`feeds/isolate.py`: a
hostile body fails its own source, with the reason, and the others still print), then run
the service's own intake (analyse → kind → figures → group, `engine.ingest`) on a scratch
SQLite database in a temporary directory, and print a table or one JSON document. The
service's database is never touched and nothing is sent.

The JSON field names are a contract operators script against: keep them stable.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from .config import Source
from .db import create_all, make_engine, session_scope
from .engine.grouper import Grouper
from .engine.ingest import ingest
from .feeds.fetch import Fetcher, FetchResult, Validators
from .feeds.isolate import ParsePool
from .feeds.parse import FeedEntry, FeedParseError
from .i18n import t
from .identity import guids_unique
from .models import Incident, Report
from .pipeline import Analysed, Intake, analyse
from .present.formats import grade_tag
from .runtime import Settings
from .vocab import ReportKind

__all__ = ["ScanIncident", "ScanResult", "render_json", "render_table", "scan", "scan_entries"]


@dataclass
class ScanIncident:
    """An incident the service would open: its key (scan-1 …), kind and reports."""

    key: str
    kind: str
    grade: str | None
    reports: list[Analysed] = field(default_factory=list)


@dataclass
class ScanResult:
    """Reports (with the incident key each joined), incidents, and per-source errors."""

    reports: list[tuple[Analysed, str | None]] = field(default_factory=list)
    incidents: list[ScanIncident] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)


async def _fetch_all(settings: Settings) -> list[tuple[Source, FetchResult]]:
    async with Fetcher(settings.feeds.polling) as f:
        sources = [s for s in settings.feeds.sources if s.enabled]
        results = await asyncio.gather(
            *(f.fetch(settings.feeds.url_of(s, settings.base_dir), Validators()) for s in sources)
        )
    return list(zip(sources, results, strict=True))


async def _parse(
    pool: ParsePool, settings: Settings, src: Source, res: FetchResult, now: datetime
) -> list[FeedEntry] | str:
    """One source's entries, or what went wrong with it (in the catalogue's words)."""
    if res.text is None:
        return res.error or t("feed_error_empty_body")
    zone = settings.feeds.tz_of(src).key
    try:
        return (await pool.parse(res.text, zone=zone, base_url=res.url, now=now)).entries
    except FeedParseError as exc:
        return str(exc)


async def _fetch_and_parse(settings: Settings, now: datetime) -> list[tuple[Source, list[FeedEntry] | str]]:
    """Fetch every enabled source, then parse each body as the service does: in worker
    processes bounded in time and memory (`polling.parse_*`), so a hostile body fails its own
    source and the others still come through."""
    p = settings.feeds.polling
    pool = ParsePool(
        workers=p.parse_workers, timeout=p.parse_timeout.total_seconds(), memory_mb=p.parse_memory_mb
    )
    try:
        fetched = await _fetch_all(settings)
        parsed = await asyncio.gather(*(_parse(pool, settings, src, res, now) for src, res in fetched))
    finally:
        await asyncio.to_thread(pool.close)
    return [(src, entries) for (src, _), entries in zip(fetched, parsed, strict=True)]


def scan(settings: Settings, now: datetime) -> ScanResult:
    """Fetch every enabled source once and preview intake; nothing is stored or sent."""
    batches: list[tuple[Source, list[FeedEntry]]] = []
    errors: list[tuple[str, str]] = []
    for src, entries in asyncio.run(_fetch_and_parse(settings, now)):
        if isinstance(entries, str):
            errors.append((src.name, entries))
        else:
            batches.append((src, entries))
    result = scan_entries(settings.intake, batches, now)
    result.errors = errors
    return result


def scan_entries(
    intake: Intake, batches: Sequence[tuple[Source, Sequence[FeedEntry]]], now: datetime
) -> ScanResult:
    """Analyse the entries and ingest them, as the service would, into a scratch database."""
    out = ScanResult()
    items: list[Analysed] = []
    seen: set[str] = set()
    for src, entries in batches:
        unique = guids_unique(e.guid for e in entries)
        for e in entries:
            a = analyse(e, src, intake, now, feed_guids_unique=unique)
            # The same report seen twice (same identity or link) is listed once, as the service stores it once.
            keys = {a.identity, a.link_key or a.identity}
            if keys & seen:
                continue
            seen |= keys
            items.append(a)
    with tempfile.TemporaryDirectory(prefix="responder-scan-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'scan.sqlite3'}")
        try:
            create_all(engine)
            with session_scope(engine) as session:
                ingest(session, Grouper(intake.config.grouping), items, now)
            with Session(engine) as session:
                _collect(session, items, out)
        finally:
            engine.dispose()
    return out


def _collect(session: Session, items: list[Analysed], out: ScanResult) -> None:
    by_identity = {a.identity: a for a in items}
    incidents = session.exec(select(Incident).order_by(col(Incident.id))).all()
    keys = {inc.id: f"scan-{n}" for n, inc in enumerate(incidents, 1)}
    groups = {inc.id: ScanIncident(keys[inc.id], inc.kind, inc.grade) for inc in incidents}
    joined: dict[str, str | None] = {}
    for rep in session.exec(select(Report).order_by(col(Report.published), col(Report.id))).all():
        a = by_identity.get(rep.identity)
        if a is None:
            continue
        key = keys.get(rep.incident_id) if rep.incident_id is not None else None
        joined[a.identity] = key
        if rep.incident_id in groups:
            groups[rep.incident_id].reports.append(a)
    out.reports = [(a, joined.get(a.identity)) for a in items]
    out.incidents = [g for g in groups.values() if g.reports]


def _iso(d: datetime | None) -> str | None:
    return d.isoformat() if d else None


def _report_json(a: Analysed, key: str | None) -> dict[str, Any]:
    return {
        "source": a.source,
        "link": a.link,
        "title": a.title,
        "published": _iso(a.raw_published),
        "relevant": a.match.relevant,
        "kind": a.kind,
        "scheme": a.match.scheme,
        "hits": {k: a.match.hits.get(k, []) for k in ("region", "event", "exclude")}
        | ({"topic": a.match.hits["topic"]} if "topic" in a.match.hits else {}),
        "grade": a.grade.label if a.grade else None,
        "deaths": a.figures.deaths,
        "serious_injuries": a.figures.serious_injuries,
        "loss_cny": a.figures.loss_cny,
        "incident": key,
    }


def render_json(result: ScanResult) -> str:
    """The stable JSON document of docs/reference.md ("`scan --json`")."""
    doc: dict[str, Any] = {
        "reports": [_report_json(a, key) for a, key in result.reports],
        "incidents": [
            {
                "key": g.key,
                "kind": g.kind,
                "title": min(g.reports, key=lambda a: a.published).title,
                "grade": g.grade,
                "first_published": _iso(min(a.published for a in g.reports)),
                "reports": [a.link for a in g.reports],
                "sources": len({a.source for a in g.reports}),
            }
            for g in result.incidents
        ],
        "errors": [{"source": s, "error": e} for s, e in result.errors],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2)


# The catalogue word of each report kind and scheme list, written out in full so a search finds it.
_KINDS: dict[str, str] = {
    ReportKind.ACCIDENT: "scan_kind_accident",
    ReportKind.BULLETIN: "scan_kind_bulletin",
    ReportKind.DISASTER: "scan_kind_disaster",
    ReportKind.JUDICIAL: "scan_kind_judicial",
    ReportKind.INVESTIGATION: "scan_kind_investigation",
    ReportKind.RETROSPECTIVE: "scan_kind_retrospective",
    ReportKind.DRILL: "scan_kind_drill",
    ReportKind.NOTICE: "scan_kind_notice",
    ReportKind.ROUNDUP: "scan_kind_roundup",
    ReportKind.OTHER: "scan_kind_other",
}
_HITS: dict[str, str] = {
    "region": "scan_hits_region",
    "event": "scan_hits_event",
    "exclude": "scan_hits_exclude",
    "topic": "scan_hits_topic",
}


def _hits(hits: dict[str, list[str]]) -> str:
    sep = t("scan_list_separator")
    parts = [
        t("scan_hits", what=t(_HITS[k]) if k in _HITS else k, words=sep.join(v)) for k, v in hits.items() if v
    ]
    return t("scan_hits_separator").join(parts)


def _report_line(a: Analysed, key: str | None, tz: tzinfo) -> str:
    mark = "✔" if a.match.relevant else " "
    when = a.published.astimezone(tz).strftime("%m-%d %H:%M")
    kind = (
        t(_KINDS[a.kind]) if a.match.relevant and a.kind and a.kind in _KINDS and a.kind != "accident" else ""
    )
    grade = a.grade.label if a.grade else ""
    return f"{mark} {when} [{a.source}] {a.title} {kind} {grade} {key or ''}".rstrip()


def render_table(result: ScanResult, settings: Settings) -> str:
    """A readable table in the catalogue's words: every report, then incidents, then errors.
    (`render_json` keeps the stable English names.)"""
    tz = settings.tz
    lines = []
    for a, key in result.reports:
        lines.append(_report_line(a, key, tz))
        if a.match.relevant or any(a.match.hits.values()):
            lines.append(f"      {a.match.scheme or ''} {_hits(a.match.hits)}")
    lines.append("")
    lines.append(t("scan_incidents_head", n=len(result.incidents)))
    for g in result.incidents:
        title = min(g.reports, key=lambda a: a.published).title
        lines.append(
            t(
                "scan_incident",
                key=g.key,
                label=grade_tag(g.kind, g.grade),
                title=title,
                reports=len(g.reports),
                sources=len({a.source for a in g.reports}),
            )
        )
    if result.errors:
        lines.append("")
        lines.append(t("scan_errors_head", n=len(result.errors)))
        lines.extend(t("scan_error", source=s, error=e) for s, e in result.errors)
    return "\n".join(lines)
