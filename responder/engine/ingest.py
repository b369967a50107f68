"""Persist analysed feed entries: each report once, grouped into incidents, every change logged.

One call handles one fetch of one source, in the caller's transaction. What it
writes is what the playbooks and the chat react to: `opened`, `report_added`,
`grade_raised` and `own_report` rows in the incident log.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import func, or_, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from ..clustering import Candidate
from ..grading import Figures, grade_for
from ..models import Incident, Report
from ..pipeline import Analysed
from ..text import normalize
from ..vocab import LIVE_STATUSES, EventKind, IncidentKind, IncidentStatus, SourceKind
from .grouper import Grouper
from .incidentlog import log_event

__all__ = ["IngestStats", "ingest", "log_event"]

log = logging.getLogger(__name__)

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
    # A source's first poll: relevant items older than the baseline window, stored but clockless.
    baselined: list[Analysed] = field(default_factory=list)
    # Items that could not be stored for a reason other than being stored already: (link, error).
    failed: list[tuple[str, str]] = field(default_factory=list)


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
        kind=a.kind,
        injured=a.figures.injured,
        grouping=a.key.to_json() if a.source_kind in (SourceKind.NEWS, SourceKind.OWN) else None,
    )


def _unique_violation(exc: IntegrityError) -> bool:
    """True when the database refused the row for a duplicate key (not a check, not a NOT NULL)."""
    orig = exc.orig
    return getattr(orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(orig)


def _before_baseline(a: Analysed, baseline_before: datetime | None) -> bool:
    """A relevant item of a first poll that is too old (or undated) to start a clock."""
    if baseline_before is None or not (
        a.opens_incident or a.watch or (a.source_kind == SourceKind.UPSTREAM and a.match.relevant)
    ):
        return False
    return a.raw_published is None or a.raw_published < baseline_before


def ingest(
    session: Session,
    grouper: Grouper,
    items: Sequence[Analysed],
    now: datetime,
    *,
    baseline_before: datetime | None = None,
) -> IngestStats:
    """Store new reports and group them; returns what changed. Runs in the caller's transaction.

    A report seen again (same identity or link) is not stored twice, but an earlier
    publication time is kept (see `_keep_earliest`). `baseline_before` is given for a
    source's first poll: relevant items published before it are stored and listed in
    `stats.baselined` but open nothing. Only a duplicate key counts as a duplicate; any
    other refusal of a row is logged and listed in `stats.failed`, so the caller can poll
    the item again.
    """
    stats = IngestStats()
    if not items:
        return stats
    have_ids, have_links = _existing(session, items)
    fresh: list[Analysed] = []
    seen_again: list[Analysed] = []
    for a in sorted(items, key=lambda a: a.published):  # of two copies in one fetch, the earlier is kept
        if a.identity in have_ids or (a.link_key and a.link_key in have_links):
            stats.duplicate += 1
            seen_again.append(a)
            continue
        have_ids.add(a.identity)
        if a.link_key:
            have_links.add(a.link_key)
        fresh.append(a)
    _keep_earliest(session, grouper, seen_again, now, stats)
    if not fresh:
        return stats
    clocked = [a for a in fresh if not _before_baseline(a, baseline_before)]
    if any(a.opens_incident or a.watch or a.source_kind == SourceKind.OWN for a in clocked):
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _GROUPING_LOCK})
        grouper.sync(session, now)
    for a in fresh:
        report = _report_row(a, now)
        if not _store(session, report, a, stats):
            continue
        stats.new += 1
        if _before_baseline(a, baseline_before):
            stats.baselined.append(a)
        elif a.opens_incident or a.watch:
            stats.relevant += 1
            _group_event(session, grouper, a, report, now, stats)
        elif a.source_kind == SourceKind.UPSTREAM and a.match.relevant:
            stats.relevant += 1
            _policy_item(session, a, report, now, stats)
        elif a.source_kind == SourceKind.OWN:
            _own_report(session, grouper, a, report, now, stats)
    return stats


def _store(session: Session, report: Report, a: Analysed, stats: IngestStats) -> bool:
    """Insert one report in a savepoint; False (counted in `stats`) when the database refused it."""
    try:
        # Added inside the savepoint: begin_nested() flushes what is pending first, so a
        # row added before it would hit the unique key outside the savepoint and spoil the
        # whole transaction (the fetch lost, its feed claimed until the claim expired).
        with session.begin_nested():
            session.add(report)
            session.flush()
    except Exception as exc:
        if report in session:  # the savepoint's rollback normally expunged it already
            session.expunge(report)
        if isinstance(exc, IntegrityError) and _unique_violation(exc):
            stats.duplicate += 1  # stored concurrently by another instance
        else:
            # The driver's own message, first line: SQLAlchemy's adds the statement and every value.
            said = str(getattr(exc, "orig", None) or exc).strip() or type(exc).__name__
            reason = said.splitlines()[0][:300]
            log.warning("report %s of %s not stored: %s", a.link or a.identity, a.source, reason)
            stats.failed.append((a.link or a.identity, f"{type(exc).__name__}: {reason}"))
        return False
    return True


def _keep_earliest(
    session: Session, grouper: Grouper, seen: Sequence[Analysed], now: datetime, stats: IngestStats
) -> None:
    """A report seen again with an earlier publication time keeps the earlier one.

    A repost polled before the original (same link, tracking parameters aside) stored the
    later time; the original's time is the truth, and the clock of a live incident the
    report belongs to moves with it (`clock_moved`; the cycle re-times open steps).
    """
    dated = [a for a in seen if a.raw_published is not None]
    if not dated:
        return
    ids = [a.identity for a in dated]
    links = [a.link_key for a in dated if a.link_key]
    cond = col(Report.identity).in_(ids)
    rows = session.exec(
        select(Report).where(or_(cond, col(Report.link_key).in_(links)) if links else cond)
    ).all()
    stored: dict[str, Report] = {}
    for row in rows:
        stored[row.identity] = row
        if row.link_key:
            stored[row.link_key] = row
    for a in dated:
        r = stored.get(a.identity) or (stored.get(a.link_key) if a.link_key else None)
        if r is None or r.published is None or a.published >= r.published:
            continue
        r.published = a.published
        session.add(r)
        inc = session.get(Incident, r.incident_id) if r.incident_id is not None else None
        if inc is None or inc.status not in LIVE_STATUSES:
            continue
        if a.published < inc.first_published:
            moved = {"from": inc.first_published.isoformat(), "to": a.published.isoformat()}
            log_event(session, inc.id, EventKind.CLOCK_MOVED, now, **moved, report_id=r.id, source=a.source)
            inc.first_published = a.published
            session.add(inc)
            stats.updated.append(inc.id)
            held = grouper.clusterer.get(inc.id)
            if held is not None:
                grouper.clusterer.add(replace(held, first_published=min(held.first_published, a.published)))


def _open_incident(
    session: Session, kind: IncidentKind, a: Analysed, report: Report, now: datetime
) -> Incident:
    # A watch incident records the figures its item states, but never a grade: no clock starts.
    inc = Incident(
        kind=kind,
        title=a.title,
        scheme=a.match.scheme,
        grade=a.grade if kind == IncidentKind.EVENT else None,
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
    report.incident_id = inc.id
    log_event(
        session,
        inc.id,
        EventKind.OPENED,
        now,
        report_id=report.id,
        source=a.source,
        link=a.link,
        title=a.title,
        grade=inc.grade,
    )
    return inc


def _group_event(
    session: Session, grouper: Grouper, a: Analysed, report: Report, now: datetime, stats: IngestStats
) -> None:
    """A current accident report joins or opens an event incident; any other relevant news
    report (bulletin, verdict, disaster …) joins or opens a watch incident (no clock)."""
    cl = grouper.clusterer
    iid = cl.assign(a.key, a.published, now)
    inc = session.get(Incident, iid) if iid is not None else None
    if inc is None:
        kind = IncidentKind.EVENT if a.opens_incident else IncidentKind.WATCH
        inc = _open_incident(session, kind, a, report, now)
        cl.add(Candidate.of(inc.id, a.key, inc.first_published))
        stats.opened.append(inc.id)
        return
    _join(session, inc, a, report, now, stats)
    cl.update(inc.id, a.key, a.published)


def _join(
    session: Session, inc: Incident, a: Analysed, report: Report, now: datetime, stats: IngestStats
) -> None:
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
        moved = {"from": inc.first_published.isoformat(), "to": a.published.isoformat()}
        log_event(session, inc.id, EventKind.CLOCK_MOVED, now, **moved, report_id=report.id)
        inc.first_published = a.published
        inc.title = a.title
    inc.last_report_at = max(inc.last_report_at or a.published, a.published)
    inc.place = inc.place or a.place
    inc.accident_type = inc.accident_type or a.accident_type
    if (
        inc.kind != IncidentKind.EVENT or not a.opens_incident
    ):  # only current accident reports grade an incident
        session.add(inc)
        stats.updated.append(inc.id)
        return
    before = inc.grade
    figures = Figures.highest([Figures(inc.deaths, inc.serious_injuries, inc.loss_cny), a.figures])
    inc.deaths, inc.serious_injuries, inc.loss_cny = (
        figures.deaths,
        figures.serious_injuries,
        figures.loss_cny,
    )
    after = grade_for(figures)
    if after is not None and (before is None or after > before):
        inc.grade = after
        raised = {"from": before.label if before else None, "to": after.label}
        log_event(
            session,
            inc.id,
            EventKind.GRADE_RAISED,
            now,
            **raised,
            report_id=report.id,
            title=a.title,
            link=a.link,
            deaths=figures.deaths,
        )
        stats.raised.append(inc.id)
    session.add(inc)
    stats.updated.append(inc.id)


def _policy_item(session: Session, a: Analysed, report: Report, now: datetime, stats: IngestStats) -> None:
    """One upstream item is one policy incident; the same title from a second upstream feed joins it."""
    window = now - _POLICY_WINDOW
    same = session.exec(
        select(Incident)
        .where(Incident.kind == IncidentKind.POLICY, Incident.title == a.title)
        .where(col(Incident.detected_at) >= window)
    ).first()
    if same is not None:
        _join(session, same, a, report, now, stats)
        return
    inc = _open_incident(session, IncidentKind.POLICY, a, report, now)
    stats.opened.append(inc.id)
    # The repost may have been read first (feeds are polled in any order): attach it now.
    wanted = normalize(a.title)
    for own in session.exec(
        select(Report)
        .where(Report.source_kind == SourceKind.OWN, col(Report.incident_id).is_(None))
        .where(col(Report.fetched_at) >= now - _POLICY_WINDOW)
    ).all():
        if wanted and wanted in own.text:
            _attach_own(session, inc.id, own, now)


def _own_report(
    session: Session, grouper: Grouper, a: Analysed, report: Report, now: datetime, stats: IngestStats
) -> None:
    """An item on the bureau's own outlet: attach it to the policy item or incident it answers."""
    target: int | None = None
    body = a.text  # already normalised
    for inc in session.exec(
        select(Incident)
        .where(Incident.kind == IncidentKind.POLICY, col(Incident.status).in_(LIVE_STATUSES))
        .where(col(Incident.detected_at) >= now - _POLICY_WINDOW)
    ).all():
        t = normalize(inc.title)
        if t and t in body:
            target = inc.id
            break
    if target is None:
        target = grouper.clusterer.assign(a.key, a.published, now)
    if target is None:
        return
    _attach_own(session, target, report, now)
    stats.updated.append(target)


def _attach_own(session: Session, incident_id: int, report: Report, now: datetime) -> None:
    report.incident_id = incident_id
    session.add(report)
    session.flush()
    published = report.published.isoformat() if report.published else None
    log_event(
        session,
        incident_id,
        EventKind.OWN_REPORT,
        now,
        report_id=report.id,
        channel=report.channel,
        link=report.link,
        title=report.title,
        published=published,
    )
