"""The clusterer kept in step with the database, so every instance groups alike.

Candidates come from live event and watch incidents and the grouping keys stored with
their reports; each `sync` reads only what changed since the last one (incidents and
grouped reports with higher ids). On PostgreSQL the ingest transaction holds an advisory
lock while it syncs and groups, so two instances never open two incidents for one event.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from ..clustering import Candidate, Clusterer, ReportKey
from ..config import Grouping
from ..models import Incident, Report
from ..vocab import IncidentKind, SourceKind

__all__ = ["GROUPED_KINDS", "Grouper", "key_of"]

GROUPED_KINDS = (IncidentKind.EVENT, IncidentKind.WATCH)


def key_of(rep: Report) -> ReportKey:
    """The grouping key stored with a report (a report stored before keys existed: its fingerprint)."""
    return ReportKey.from_json(rep.fingerprint or 0, rep.grouping or {})


class Grouper:
    """A `Clusterer` over event and watch incidents, refreshed from the database by `sync`."""

    def __init__(self, grouping: Grouping, region_words: tuple[str, ...] = ()):
        # `region_words` is accepted for callers of the older signature; places now come
        # from the gazetteer and are stored with each report.
        self.grouping = grouping
        self.reset()

    def reset(self) -> None:
        """Forget everything; the next sync reloads from the database.

        Called when an ingest transaction rolls back: candidates it added or updated in
        memory never reached the database and must not steer later reports.
        """
        self.clusterer = Clusterer(self.grouping)
        self._last_incident = 0
        self._last_report = 0

    def sync(self, session: Session, now: datetime) -> None:
        """Take in incidents and grouped reports written since the last sync (by anyone)."""
        cutoff = now - self.grouping.window
        incidents = session.exec(
            select(Incident)
            .where(col(Incident.kind).in_(GROUPED_KINDS), col(Incident.id) > self._last_incident)
            .where(col(Incident.last_report_at) >= cutoff)
            .order_by(col(Incident.id))
        ).all()
        fresh = {inc.id for inc in incidents}
        if incidents:
            self._last_incident = max(self._last_incident, *(i.id or 0 for i in incidents))
            # A new incident's reports may carry ids below the last seen: read them all.
            for inc in incidents:
                assert inc.id is not None and inc.first_published is not None
                reps = session.exec(
                    select(Report)
                    .where(Report.incident_id == inc.id, Report.source_kind == SourceKind.NEWS)
                    .order_by(col(Report.published))
                ).all()
                cand: Candidate | None = None
                for rep in reps:
                    key, at = key_of(rep), rep.published or inc.first_published
                    cand = cand.joined(key, at) if cand else Candidate.of(inc.id, key, at)
                    self._last_report = max(self._last_report, rep.id or 0)
                if cand is None:
                    cand = Candidate(
                        inc.id,
                        inc.first_published,
                        inc.last_report_at or inc.first_published,
                        watch=inc.kind == IncidentKind.WATCH,
                    )
                self.clusterer.add(cand)
        reports = session.exec(
            select(Report)
            .where(col(Report.id) > self._last_report, col(Report.incident_id).is_not(None))
            .where(Report.source_kind == SourceKind.NEWS)
            .order_by(col(Report.id))
        ).all()
        for rep in reports:
            self._last_report = max(self._last_report, rep.id or 0)
            if (
                rep.incident_id is not None
                and rep.incident_id in self.clusterer
                and rep.incident_id not in fresh
            ):
                self.clusterer.update(rep.incident_id, key_of(rep), rep.published or now)
        self.clusterer.expire(now)
