"""Persist analysed feed entries: each report once, grouped into incidents, every change logged.

One call handles one fetch of one source, in the caller's transaction. What it
writes is what the playbooks and the chat react to: `opened`, `report_added`,
`grade_raised` and `own_report` rows in the incident log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from ..clustering import Candidate
from ..grading import Figures, Grade, grade_for
from ..models import Incident, Report
from ..pipeline import Analysed
from ..text import normalize
from ..vocab import EventKind, IncidentKind, IncidentStatus
from .grouper import Grouper
from .incidentlog import log_event

__all__ = ["IngestStats", "ingest", "log_event"]

# Any constant works: it names the lock every instance takes while grouping.
_GROUPING_LOCK = 0x5E5D0001
# A repost obligation lasts at most a few working days; a week bounds the search.
_POLICY_WINDOW = timedelta(days=7)


@dataclass
class IngestStats:
    """What one ingest did; used for logs and `scan`-like summaries."""

    new: int = 0
    duplicate: int = 0
    relevant: int = 0
    opened: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    raised: list[int] = field(default_factory=list)


def _existing(session: Session, items: Sequence[Analysed]) -> tuple[set[str], set[str]]:
    ids = [a.identity for a in items]
    links = [a.link_key for a in items if a.link_key]
    have_ids = set(session.exec(select(Report.identity).where(col(Report.identity).in_(ids))).all())
    have_links: set[str] = set()
    if links:
        found = session.exec(select(Report.link_key).where(col(Report.link_key).in_(links))).all()
        have_links = {x for x in found if x}
    return have_ids, have_links


def _report_row(a: Analysed, now: datetime) -> Report:
    return Report(
        identity=a.identity,
        link_key=a.link_key,
        source=a.source,
        source_kind=a.source_kind,
        channel=a.channel,
        guid=a.guid,
        link=a.link,
        title=a.title,
        text=a.text,
        published=a.published,
        fetched_at=now,
        relevant=a.match.relevant,
        scheme=a.match.scheme,
        hits=a.match.hits,
        deaths=a.figures.deaths,
        serious_injuries=a.figures.serious_injuries,
        loss_cny=a.figures.loss_cny,
        grade=a.grade,
        fingerprint=a.fingerprint,
    )


def ingest(session: Session, grouper: Grouper, items: Sequence[Analysed], now: datetime) -> IngestStats:
    """Store new reports and group them; returns what changed. Runs in the caller's transaction."""
    stats = IngestStats()
    if not items:
        return stats
    have_ids, have_links = _existing(session, items)
    fresh: list[Analysed] = []
    for a in items:
        if a.identity in have_ids or (a.link_key and a.link_key in have_links):
            stats.duplicate += 1
            continue
        have_ids.add(a.identity)
        if a.link_key:
            have_links.add(a.link_key)
        fresh.append(a)
    if not fresh:
        return stats
    if any(a.opens_incident or a.source_kind == "own" for a in fresh):
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _GROUPING_LOCK})
        grouper.sync(session, now)
    for a in sorted(fresh, key=lambda a: a.published):
        report = _report_row(a, now)
        try:
            # Added inside the savepoint: begin_nested() flushes what is pending first, so a
            # row added before it would hit the unique key outside the savepoint and spoil the
            # whole transaction (the fetch lost, its feed claimed until the claim expired).
            with session.begin_nested():
                session.add(report)
                session.flush()
        except Exception:  # same link or identity stored concurrently by another instance
            if report in session:  # the savepoint's rollback normally expunged it already
                session.expunge(report)
            stats.duplicate += 1
            continue
        stats.new += 1
        if a.opens_incident:
            stats.relevant += 1
            _group_event(session, grouper, a, report, now, stats)
        elif a.source_kind == "upstream" and a.match.relevant:
            stats.relevant += 1
            _policy_item(session, a, report, now, stats)
        elif a.source_kind == "own":
            _own_report(session, grouper, a, report, now, stats)
    return stats


def _open_incident(
    session: Session, kind: IncidentKind, a: Analysed, report: Report, now: datetime
) -> Incident:
    inc = Incident(
        kind=kind,
        title=a.title,
        scheme=a.match.scheme,
        grade=a.grade,
        deaths=a.figures.deaths,
        serious_injuries=a.figures.serious_injuries,
        loss_cny=a.figures.loss_cny,
        heat=1,
        place=a.place,
        accident_type=a.accident_type,
        fingerprint=a.fingerprint,
        first_published=a.published,
        detected_at=now,
        last_report_at=a.published,
        status=IncidentStatus.OPEN,
    )
    session.add(inc)
    session.flush()
    assert inc.id is not None
    report.incident_id = inc.id
    log_event(
        session, inc.id, EventKind.OPENED, now,
        report_id=report.id, source=a.source, link=a.link, title=a.title, grade=inc.grade,
    )  # fmt: skip
    return inc


def _group_event(
    session: Session, grouper: Grouper, a: Analysed, report: Report, now: datetime, stats: IngestStats
) -> None:
    cl = grouper.clusterer
    iid = cl.assign(a.fingerprint, a.place, a.accident_type, a.published, now, a.places)
    inc = session.get(Incident, iid) if iid is not None else None
    if inc is None:
        inc = _open_incident(session, IncidentKind.EVENT, a, report, now)
        assert inc.id is not None and inc.first_published is not None
        cl.add(
            Candidate(
                incident_id=inc.id,
                fingerprint=a.fingerprint,
                place=a.place,
                accident_type=a.accident_type,
                first_published=inc.first_published,
                last_report_at=inc.first_published,
                places=frozenset(a.places),
            )
        )
        stats.opened.append(inc.id)
        return
    _join(session, inc, a, report, now, stats)
    cl.update(inc.id, fingerprint=a.fingerprint, published=a.published, places=a.places,
              place=a.place, accident_type=a.accident_type)  # fmt: skip


def _join(
    session: Session, inc: Incident, a: Analysed, report: Report, now: datetime, stats: IngestStats
) -> None:
    assert inc.id is not None and inc.first_published is not None
    report.incident_id = inc.id
    session.flush()
    log_event(
        session,
        inc.id,
        EventKind.REPORT_ADDED,
        now,
        report_id=report.id,
        source=a.source,
        link=a.link,
        title=a.title,
    )
    inc.heat = session.exec(
        select(func.count(func.distinct(Report.source))).where(Report.incident_id == inc.id)
    ).one()
    if a.published < inc.first_published:
        # An earlier report surfaced: the clock starts earlier (steps are re-timed by the cycle).
        log_event(session, inc.id, EventKind.CLOCK_MOVED, now, **{"from": inc.first_published.isoformat(),
                  "to": a.published.isoformat(), "report_id": report.id})  # fmt: skip
        inc.first_published = a.published
        inc.title = a.title
    inc.last_report_at = max(inc.last_report_at or a.published, a.published)
    inc.place = inc.place or a.place
    inc.accident_type = inc.accident_type or a.accident_type
    before = Grade.from_label(inc.grade) if inc.grade else None
    figures = Figures.highest([Figures(inc.deaths, inc.serious_injuries, inc.loss_cny), a.figures])
    inc.deaths, inc.serious_injuries, inc.loss_cny = (
        figures.deaths,
        figures.serious_injuries,
        figures.loss_cny,
    )
    after = grade_for(figures)
    if after is not None and (before is None or after > before):
        inc.grade = after
        log_event(
            session, inc.id, EventKind.GRADE_RAISED, now,
            **{"from": before.label if before else None, "to": after.label, "report_id": report.id,
               "title": a.title, "link": a.link, "deaths": figures.deaths},
        )  # fmt: skip
        stats.raised.append(inc.id)
    session.add(inc)
    stats.updated.append(inc.id)


def _policy_item(session: Session, a: Analysed, report: Report, now: datetime, stats: IngestStats) -> None:
    """One upstream item is one policy incident; the same title from a second upstream feed joins it."""
    window = now - _POLICY_WINDOW
    same = session.exec(
        select(Incident).where(Incident.kind == "policy", Incident.title == a.title)
        .where(col(Incident.detected_at) >= window)
    ).first()  # fmt: skip
    if same is not None:
        _join(session, same, a, report, now, stats)
        return
    inc = _open_incident(session, IncidentKind.POLICY, a, report, now)
    assert inc.id is not None
    stats.opened.append(inc.id)
    # The repost may have been read first (feeds are polled in any order): attach it now.
    wanted = normalize(a.title)
    for own in session.exec(
        select(Report).where(Report.source_kind == "own", col(Report.incident_id).is_(None))
        .where(col(Report.fetched_at) >= now - _POLICY_WINDOW)
    ).all():  # fmt: skip
        if wanted and wanted in own.text:
            _attach_own(session, inc.id, own, now)


def _own_report(
    session: Session, grouper: Grouper, a: Analysed, report: Report, now: datetime, stats: IngestStats
) -> None:
    """An item on the bureau's own outlet: attach it to the policy item or incident it answers."""
    target: int | None = None
    body = a.text  # already normalised
    for inc in session.exec(
        select(Incident).where(Incident.kind == "policy", col(Incident.status).in_(("open", "acknowledged")))
        .where(col(Incident.detected_at) >= now - _POLICY_WINDOW)
    ).all():  # fmt: skip
        t = normalize(inc.title)
        if t and t in body:
            target = inc.id
            break
    if target is None:
        target = grouper.clusterer.assign(a.fingerprint, a.place, a.accident_type, a.published, now, a.places)
    if target is None:
        return
    _attach_own(session, target, report, now)
    stats.updated.append(target)


def _attach_own(session: Session, incident_id: int, report: Report, now: datetime) -> None:
    report.incident_id = incident_id
    session.add(report)
    session.flush()
    published = report.published.isoformat() if report.published else None
    log_event(session, incident_id, EventKind.OWN_REPORT, now, report_id=report.id, channel=report.channel,
              link=report.link, title=report.title, published=published)  # fmt: skip
