"""All database tables, in one module (the SQLModel docs' advice).

Every datetime column holds UTC. `UTCDateTime` stores naive UTC (SQLite has no
zone) and hands back aware UTC, so code never compares naive with aware values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import JSON, Column, Field, SQLModel

from .vocab import (
    Channel,
    EventKind,
    FaultKind,
    Grade,
    IncidentKind,
    IncidentStatus,
    OutboxKind,
    OutboxStatus,
    ReportKind,
    SourceKind,
)

__all__ = [
    "Fault",
    "FeedState",
    "HolidayOffer",
    "Incident",
    "IncidentEvent",
    "Lease",
    "Outbox",
    "Report",
    "Step",
    "UTCDateTime",
    "VocabText",
    "WebKey",
    "WebLoginAttempt",
    "WebLoginToken",
    "WebPassword",
    "WebSession",
    "table",
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


def table(model: type[SQLModel]) -> sa.Table:
    """The Core table of a model, for column-level queries (the reports read many rows cheaply)."""
    return SQLModel.metadata.tables[str(model.__tablename__)]


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


E = TypeVar("E", bound=StrEnum)


class VocabText(TypeDecorator[E]):
    """A word of the vocabulary (`responder.vocab`) in a text column: stored as its value,
    read back as the member, refused on the way in when it is not one of the words.

    `blank_is_none`: the column is NOT NULL and stores '' for "none" (a step that is not
    per outlet keeps '' so the unique key over its columns still holds); Python sees None.
    """

    impl = sa.String
    cache_ok = True

    def __init__(self, vocabulary: type[E], blank_is_none: bool = False):
        super().__init__()
        self.vocabulary = vocabulary
        self.blank_is_none = blank_is_none

    def process_bind_param(self, value: E | str | None, dialect: Any) -> str | None:
        if value is None or value == "":
            return "" if self.blank_is_none else None
        return str(self.vocabulary(value).value)

    def process_result_value(self, value: str | None, dialect: Any) -> E | None:
        return None if value is None or value == "" else self.vocabulary(value)


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _word(
    vocabulary: type[StrEnum], default: StrEnum | None = None, *, nullable: bool = False, index: bool = False
) -> Any:
    return Field(default=default, sa_column=Column(VocabText(vocabulary), nullable=nullable, index=index))


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

    id: int = Field(default=None, primary_key=True)  # set by the database when the row is flushed
    identity: str = Field(unique=True)  # guid, else link, else hash of link+title
    link_key: str | None = Field(default=None, unique=True)  # normalised link: same URL = one report
    source: str = Field(index=True)
    source_kind: SourceKind = _word(SourceKind, SourceKind.NEWS)
    channel: Channel | None = _word(Channel, nullable=True)
    guid: str | None = None
    link: str | None = None
    title: str = ""
    text: str = ""  # normalised title + summary, what matching and grading read
    published: datetime | None = _ts()
    fetched_at: datetime = _ts(nullable=False, index=True)
    relevant: bool = False
    scheme: str | None = None
    hits: dict[str, list[str]] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    deaths: int | None = None
    serious_injuries: int | None = None
    loss_cny: float | None = None
    grade: Grade | None = _word(Grade, nullable=True)
    fingerprint: int | None = Field(default=None, sa_column=Column(sa.BigInteger()))
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    # What the report is (accident, bulletin, disaster … `responder.vocab.ReportKind`); None
    # for reports stored before 0003 and for items of upstream and own sources.
    kind: ReportKind | None = _word(ReportKind, nullable=True)
    injured: int | None = None
    # What grouping reads (place, occurrence, sites, words …: clustering.ReportKey.to_json).
    grouping: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class Incident(SQLModel, table=True):
    """One event (many reports) or one upstream policy item to repost.

    `kind` says what it is about (`responder.vocab.IncidentKind`): a current accident in the
    news, an upstream policy item, a public inquiry, or other relevant news to watch
    (bulletins, verdicts, disasters …: sentiment, no statutory clock).
    `first_published` starts every playbook clock.
    """

    __tablename__ = "incident"

    id: int = Field(default=None, primary_key=True)  # set by the database when the row is flushed
    kind: IncidentKind = _word(IncidentKind, IncidentKind.EVENT)
    title: str = ""
    scheme: str | None = None
    grade: Grade | None = _word(Grade, nullable=True)
    deaths: int | None = None
    serious_injuries: int | None = None
    loss_cny: float | None = None
    heat: int = 0  # distinct sources
    place: str | None = None
    accident_type: str | None = None
    fingerprint: int | None = Field(default=None, sa_column=Column(sa.BigInteger()))
    first_published: datetime = _ts(nullable=False)
    detected_at: datetime = _ts(nullable=False, index=True)
    last_report_at: datetime | None = _ts(index=True)
    status: IncidentStatus = _word(IncidentStatus, IncidentStatus.OPEN, index=True)
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

    id: int = Field(default=None, primary_key=True)  # set by the database when the row is flushed
    incident_id: int = Field(foreign_key="incident.id", index=True)
    at: datetime = _ts(nullable=False, index=True)
    kind: EventKind = _word(EventKind)
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

    id: int = Field(default=None, primary_key=True)  # set by the database when the row is flushed
    incident_id: int = Field(foreign_key="incident.id", index=True)
    playbook: str
    key: str
    # None when the step is not per outlet (stored as '', so the unique key above holds).
    channel: Channel | None = Field(
        default=None, sa_column=Column(VocabText(Channel, blank_is_none=True), nullable=False)
    )
    seq: int = 0  # recurring steps (updates) count up
    title: str = ""
    started_at: datetime = _ts(nullable=False)
    target_at: datetime | None = _ts()
    due_at: datetime = _ts(nullable=False, index=True)
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

    id: int = Field(default=None, primary_key=True)  # set by the database when the row is flushed
    dedup_key: str = Field(unique=True)
    created_at: datetime = _ts(nullable=False, index=True)
    incident_id: int | None = Field(default=None, index=True)
    kind: OutboxKind = _word(OutboxKind, OutboxKind.MESSAGE)
    chat_id: int = Field(sa_column=Column(sa.BigInteger(), nullable=False))  # 0 for a robot's row
    # A group robot's address (`wecom:WECOM_DUTY_KEY`) when the row goes to a robot, else None
    # (the row goes to Telegram chat `chat_id`, or the console).
    robot: str | None = None
    text: str = ""
    buttons: list[list[dict[str, str]]] | None = Field(default=None, sa_column=Column(JSON))
    photo: bytes | None = Field(default=None, sa_column=Column(sa.LargeBinary()))
    edit_of: int | None = None
    status: OutboxStatus = _word(OutboxStatus, OutboxStatus.PENDING, index=True)
    attempts: int = 0
    next_attempt_at: datetime | None = _ts(index=True)
    lease_until: datetime | None = _ts()
    # The instance holding the row while `sending`, and the fencing token of that claim: every
    # claim adds one, and a drain writes (and sends) only while the token is still its own.
    claimed_by: str | None = None
    claim_token: int = Field(default=0, sa_column=Column(sa.Integer(), nullable=False, server_default="0"))
    sent_at: datetime | None = _ts()
    message_id: int | None = Field(default=None, sa_column=Column(sa.BigInteger()))
    last_error: str | None = None


class Fault(SQLModel, table=True):
    """A fault of the running service: a wall-clock jump (decisions held until it settled) or a
    full disk (nothing could be written). `ended_at` is None while it lasts; `data` holds its
    figures (the jumps in seconds, the database's error)."""

    __tablename__ = "fault"

    id: int = Field(default=None, primary_key=True)  # set by the database when the row is flushed
    kind: FaultKind = _word(FaultKind)
    instance: str
    started_at: datetime = _ts(nullable=False, index=True)
    ended_at: datetime | None = _ts()
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Lease(SQLModel, table=True):
    """A named lease (e.g. 'telegram-poller') held by one instance until it expires."""

    __tablename__ = "lease"

    name: str = Field(primary_key=True)
    holder: str
    expires_at: datetime = _ts(nullable=False)


class FeedOutage(SQLModel, table=True):
    """One outage of one source, from the first failed poll to the next success.

    `ended_at` is None while the source is still down. The weekly summary reads
    these rows (clipped to the week) to say which feeds were down and for how long.
    """

    __tablename__ = "feed_outage"

    id: int = Field(default=None, primary_key=True)  # set by the database when the row is flushed
    source: str = Field(index=True)
    started_at: datetime = _ts(nullable=False, index=True)
    ended_at: datetime | None = _ts()
    error: str | None = None


# --- the web console (responder/web/): sign-in and sessions, shared by every instance ---


class WebPassword(SQLModel, table=True):
    """A roster person's console password, as an argon2id hash (`python main.py web passwd NAME`)."""

    __tablename__ = "web_password"

    person: str = Field(primary_key=True)  # the roster name
    hash: str
    set_at: datetime = _ts(nullable=False)


class WebSession(SQLModel, table=True):
    """A signed-in browser. The cookie holds the token; only its SHA-256 is stored here."""

    __tablename__ = "web_session"

    id: str = Field(primary_key=True)  # sha256 hex of the cookie's token
    person: str = Field(index=True)
    csrf: str  # the token every form of this session carries
    created_at: datetime = _ts(nullable=False)
    expires_at: datetime = _ts(nullable=False, index=True)
    address: str | None = None  # client address at sign-in
    method: str = "password"  # password or link


class WebLoginToken(SQLModel, table=True):
    """A one-time sign-in link: valid until `expires_at`, spent at `used_at`."""

    __tablename__ = "web_login_token"

    id: str = Field(primary_key=True)  # sha256 hex of the link's token
    person: str
    created_at: datetime = _ts(nullable=False)
    expires_at: datetime = _ts(nullable=False, index=True)
    used_at: datetime | None = _ts()
    used_from: str | None = None


class WebLoginAttempt(SQLModel, table=True):
    """Every sign-in attempt, for the rate limit (failures per name and per address) and for audit."""

    __tablename__ = "web_login_attempt"

    id: int = Field(default=None, primary_key=True)  # set by the database when the row is flushed
    at: datetime = _ts(nullable=False, index=True)
    person: str = Field(index=True)  # the name typed (may be no roster name at all)
    address: str = Field(index=True)
    ok: bool = False
    method: str = "password"


class WebKey(SQLModel, table=True):
    """The cookie-signing key when RESPONDER_WEB_SECRET is not set: made once, shared by all instances."""

    __tablename__ = "web_key"

    name: str = Field(primary_key=True)
    value: str  # hex
    created_at: datetime = _ts(nullable=False)


# --- next year's calendar (responder/engine/holidays.py) ---


class HolidayOffer(SQLModel, table=True):
    """A year's holidays and make-up workdays read from the State Council's notice on a feed,
    offered to the admins; confirming it (`/calendar_confirm`) writes the schedule file.

    One row per year and set of dates (`digest`): the notice carried by a second outlet is
    the same offer. The dates are ISO strings, as the admins saw them.
    """

    __tablename__ = "holiday_offer"
    __table_args__ = (sa.UniqueConstraint("year", "digest"),)

    id: int = Field(default=None, primary_key=True)  # set by the database when the row is flushed
    year: int = Field(index=True)
    digest: str
    holidays: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    workdays: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    warnings: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    title: str = ""
    link: str | None = None
    report_id: int | None = Field(default=None, foreign_key="report.id")
    offered_at: datetime = _ts(nullable=False)
    confirmed_at: datetime | None = _ts()
    confirmed_by: str | None = None
