"""All database tables, in one module (the SQLModel docs' advice).

Every datetime column holds UTC. `UTCDateTime` stores naive UTC (SQLite has no
zone) and hands back aware UTC, so code never compares naive with aware values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import JSON, Column, Field, SQLModel

__all__ = [
    "FeedState",
    "Incident",
    "IncidentEvent",
    "Lease",
    "Outbox",
    "Report",
    "Step",
    "UTCDateTime",
    "WebKey",
    "WebLoginAttempt",
    "WebLoginToken",
    "WebPassword",
    "WebSession",
    "utcnow",
]


# Named constraints from the first release on, so that a later migration can drop or
# alter one by a name that is the same on SQLite and PostgreSQL.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


def utcnow() -> datetime:
    """The wall clock, in UTC. Only the cycle's entry points call this; all else takes `now`."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC; returns aware UTC; refuses naive input (a bug, not data)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class FeedState(SQLModel, table=True):
    """Polling state of one source: validators, backoff, health. Keyed by source name."""

    __tablename__ = "feed_state"

    source: str = Field(primary_key=True)
    url: str = ""
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None  # an unchanged body is not parsed again
    last_attempt_at: datetime | None = _ts()
    last_success_at: datetime | None = _ts()
    last_error: str | None = None
    consecutive_failures: int = 0
    next_poll_at: datetime | None = _ts(index=True)
    down_since: datetime | None = _ts()
    health_alerted: bool = False  # one alert per outage, one more on recovery
    claimed_by: str | None = None  # instance currently polling it
    claimed_until: datetime | None = _ts()
    polls: int = 0
    # The first successful poll, which recorded what the feed already held (the baseline);
    # None until then, and again when the source's address changes.
    baselined_at: datetime | None = _ts()
    last_new_at: datetime | None = _ts()  # the last poll that stored a report never seen before
    newest_item_at: datetime | None = _ts()  # the latest publication time the feed has shown
    stale_since: datetime | None = _ts()  # alerted as quiet (nothing new) since; None when not


class Report(SQLModel, table=True):
    """One news item, stored once whatever feed or how often it was seen."""

    __tablename__ = "report"

    id: int | None = Field(default=None, primary_key=True)
    identity: str = Field(unique=True)  # guid, else link, else hash of link+title
    link_key: str | None = Field(default=None, unique=True)  # normalised link: same URL = one report
    source: str = Field(index=True)
    source_kind: str = "news"
    channel: str | None = None
    guid: str | None = None
    link: str | None = None
    title: str = ""
    text: str = ""  # normalised title + summary, what matching and grading read
    published: datetime | None = _ts()
    fetched_at: datetime | None = _ts(nullable=False, index=True)
    relevant: bool = False
    scheme: str | None = None
    hits: dict[str, list[str]] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    deaths: int | None = None
    serious_injuries: int | None = None
    loss_cny: float | None = None
    grade: str | None = None
    fingerprint: int | None = Field(default=None, sa_column=Column(sa.BigInteger()))
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    # What the report is (accident, bulletin, disaster … responder.analysis.kinds); None before 0002.
    kind: str | None = None
    injured: int | None = None
    # What grouping reads (place, occurrence, sites, words …: clustering.ReportKey.to_json).
    grouping: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class Incident(SQLModel, table=True):
    """One event (many reports) or one upstream policy item to repost.

    `kind` is 'event' for current accidents found in news, 'watch' for other relevant news
    (bulletins, verdicts, disasters …: sentiment to watch, no statutory clock), 'policy'
    for upstream items.
    `first_published` starts every playbook clock.
    """

    __tablename__ = "incident"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = "event"
    title: str = ""
    scheme: str | None = None
    grade: str | None = None
    deaths: int | None = None
    serious_injuries: int | None = None
    loss_cny: float | None = None
    heat: int = 0  # distinct sources
    place: str | None = None
    accident_type: str | None = None
    fingerprint: int | None = Field(default=None, sa_column=Column(sa.BigInteger()))
    first_published: datetime | None = _ts(nullable=False)
    detected_at: datetime | None = _ts(nullable=False, index=True)
    last_report_at: datetime | None = _ts(index=True)
    status: str = Field(default="open", index=True)  # open, acknowledged, closed, dismissed
    acked_at: datetime | None = _ts()
    acked_by: str | None = None
    closed_at: datetime | None = _ts()
    closed_by: str | None = None
    dismissed_reason: str | None = None
    escalation_level: int = 0  # highest level alerted so far
    escalated_at: datetime | None = _ts()


class IncidentEvent(SQLModel, table=True):
    """Append-only log: the record that accountability rests on."""

    __tablename__ = "incident_event"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    at: datetime | None = _ts(nullable=False, index=True)
    kind: str  # opened, report_added, grade_raised, acknowledged, step_done, escalated, overdue, dismissed, closed
    step_id: int | None = None
    actor_id: int | None = Field(default=None, sa_column=Column(sa.BigInteger()))
    actor_name: str | None = None
    chat_id: int | None = Field(default=None, sa_column=Column(sa.BigInteger()))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Step(SQLModel, table=True):
    """One obligation of a playbook for one incident (and one outlet, for reposts).

    `target_at` is the soft aim (1 hour), `due_at` the hard limit (1 working day).
    `breached_at` is permanent: completing later never erases it.
    """

    __tablename__ = "step"
    __table_args__ = (sa.UniqueConstraint("incident_id", "playbook", "key", "channel", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    playbook: str
    key: str
    channel: str = ""  # '' when the step is not per outlet
    seq: int = 0  # recurring steps (updates) count up
    title: str = ""
    started_at: datetime | None = _ts(nullable=False)
    target_at: datetime | None = _ts()
    due_at: datetime | None = _ts(nullable=False, index=True)
    done_at: datetime | None = _ts()
    done_by: str | None = None
    evidence_link: str | None = None
    breached_at: datetime | None = _ts()


class Outbox(SQLModel, table=True):
    """A message to send. The unique `dedup_key` makes queuing idempotent.

    status: pending → sending (with `lease_until`) → sent | failed.
    `kind='edit'` rows edit the message that row `edit_of` produced.
    """

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    dedup_key: str = Field(unique=True)
    created_at: datetime | None = _ts(nullable=False, index=True)
    incident_id: int | None = Field(default=None, index=True)
    kind: str = "message"  # message, edit, photo
    chat_id: int = Field(sa_column=Column(sa.BigInteger(), nullable=False))
    text: str = ""
    buttons: list[list[dict[str, str]]] | None = Field(default=None, sa_column=Column(JSON))
    photo: bytes | None = Field(default=None, sa_column=Column(sa.LargeBinary()))
    edit_of: int | None = None
    status: str = Field(default="pending", index=True)
    attempts: int = 0
    next_attempt_at: datetime | None = _ts(index=True)
    lease_until: datetime | None = _ts()
    sent_at: datetime | None = _ts()
    message_id: int | None = Field(default=None, sa_column=Column(sa.BigInteger()))
    last_error: str | None = None


class Lease(SQLModel, table=True):
    """A named lease (e.g. 'telegram-poller') held by one instance until it expires."""

    __tablename__ = "lease"

    name: str = Field(primary_key=True)
    holder: str
    expires_at: datetime | None = _ts(nullable=False)


class FeedOutage(SQLModel, table=True):
    """One outage of one source, from the first failed poll to the next success.

    `ended_at` is None while the source is still down. The weekly summary reads
    these rows (clipped to the week) to say which feeds were down and for how long.
    """

    __tablename__ = "feed_outage"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(index=True)
    started_at: datetime | None = _ts(nullable=False, index=True)
    ended_at: datetime | None = _ts()
    error: str | None = None


# --- the web console (responder/web/): sign-in and sessions, shared by every instance ---


class WebPassword(SQLModel, table=True):
    """A roster person's console password, as an argon2id hash (`python main.py web passwd NAME`)."""

    __tablename__ = "web_password"

    person: str = Field(primary_key=True)  # the roster name
    hash: str
    set_at: datetime | None = _ts(nullable=False)


class WebSession(SQLModel, table=True):
    """A signed-in browser. The cookie holds the token; only its SHA-256 is stored here."""

    __tablename__ = "web_session"

    id: str = Field(primary_key=True)  # sha256 hex of the cookie's token
    person: str = Field(index=True)
    csrf: str  # the token every form of this session carries
    created_at: datetime | None = _ts(nullable=False)
    expires_at: datetime | None = _ts(nullable=False, index=True)
    address: str | None = None  # client address at sign-in
    method: str = "password"  # password or link


class WebLoginToken(SQLModel, table=True):
    """A one-time sign-in link: valid until `expires_at`, spent at `used_at`."""

    __tablename__ = "web_login_token"

    id: str = Field(primary_key=True)  # sha256 hex of the link's token
    person: str
    created_at: datetime | None = _ts(nullable=False)
    expires_at: datetime | None = _ts(nullable=False, index=True)
    used_at: datetime | None = _ts()
    used_from: str | None = None


class WebLoginAttempt(SQLModel, table=True):
    """Every sign-in attempt, for the rate limit (failures per name and per address) and for audit."""

    __tablename__ = "web_login_attempt"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime | None = _ts(nullable=False, index=True)
    person: str = Field(index=True)  # the name typed (may be no roster name at all)
    address: str = Field(index=True)
    ok: bool = False
    method: str = "password"


class WebKey(SQLModel, table=True):
    """The cookie-signing key when RESPONDER_WEB_SECRET is not set: made once, shared by all instances."""

    __tablename__ = "web_key"

    name: str = Field(primary_key=True)
    value: str  # hex
    created_at: datetime | None = _ts(nullable=False)
