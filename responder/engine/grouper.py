"""The clusterer kept in step with the database, so every instance groups alike.

Candidates come from incident rows; each `sync` reads only what changed since the
last one (incidents and grouped reports with higher ids). On PostgreSQL the ingest
transaction holds an advisory lock while it syncs and groups, so two instances never
open two incidents for one event.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from ..clustering import Candidate, Clusterer, extract_places
from ..config import Grouping
from ..models import Incident, Report

__all__ = ["Grouper"]


class Grouper:
    """A `Clusterer` over event incidents, refreshed from the database by `sync`."""

    def __init__(self, grouping: Grouping, region_words: tuple[str, ...]):
        self.grouping = grouping
        self.region_words = region_words
        self.reset()

    def reset(self) -> None:
        """Forget everything; the next sync reloads from the database.

        Called when an ingest transaction rolls back: candidates it added or updated in
        memory never reached the database and must not steer later reports.
        """
        self.clusterer = Clusterer(self.grouping, self.region_words)
        self._last_incident = 0
        self._last_report = 0

    def sync(self, session: Session, now: datetime) -> None:
        """Take in incidents and grouped reports written since the last sync (by anyone)."""
        cutoff = now - self.grouping.window
        incidents = session.exec(
            select(Incident)
            .where(Incident.kind == "event", col(Incident.id) > self._last_incident)
            .where(col(Incident.last_report_at) >= cutoff)
            .order_by(col(Incident.id))
        ).all()
        for inc in incidents:
            assert inc.id is not None and inc.first_published is not None
            self.clusterer.add(
                Candidate(
                    incident_id=inc.id,
                    fingerprint=inc.fingerprint or 0,
                    place=inc.place,
                    accident_type=inc.accident_type,
                    first_published=inc.first_published,
                    last_report_at=inc.last_report_at or inc.first_published,
                )
            )
        if incidents:
            self._last_incident = max(self._last_incident, *(i.id or 0 for i in incidents))
        reports = session.exec(
            select(Report)
            .where(col(Report.id) > self._last_report, col(Report.incident_id).is_not(None))
            .where(Report.source_kind == "news")
            .order_by(col(Report.id))
        ).all()
        for rep in reports:
            self._last_report = max(self._last_report, rep.id or 0)
            if rep.incident_id in self.clusterer:
                self.clusterer.update(
                    rep.incident_id,  # type: ignore[arg-type]  # not None: the query filtered them
                    fingerprint=rep.fingerprint,
                    published=rep.published,
                    places=extract_places(rep.text, self.region_words),
                )
        self.clusterer.expire(now)
