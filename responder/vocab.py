"""The domain vocabulary: every closed set of words the records, the configuration and the code share.

Each is a `StrEnum`, so a member is the very string stored in the database and written
in the YAML files (`IncidentStatus.OPEN == "open"`), and the models, the configuration
and the policy use the same names. Adding a word (a new incident kind, say) is one line
here; a value outside the set is refused where it enters (configuration validation, a
database write), never carried along as a stray string.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "CLOSED_STATUSES",
    "ESCALATION_ROLES",
    "LIVE_STATUSES",
    "UNSENT_STATUSES",
    "Channel",
    "EventKind",
    "FeedHealth",
    "Grade",
    "IncidentKind",
    "IncidentStatus",
    "Obligation",
    "OutboxKind",
    "OutboxStatus",
    "Outlet",
    "ReportKind",
    "Role",
    "SourceKind",
    "channel_rank",
]


class Grade(StrEnum):
    """Accident grade of 生产安全事故报告和调查处理条例, article 3, ordered: a later member is graver.

    The value is the Chinese name, as the regulation writes it and the database stores it;
    comparisons (`<`, `>`, `max`) follow gravity, not the characters.
    """

    一般 = "一般"
    较大 = "较大"
    重大 = "重大"
    特别重大 = "特别重大"

    @property
    def label(self) -> str:
        """The Chinese name, as written in the regulation and stored in the database."""
        return self.value

    @property
    def rank(self) -> int:
        """1 for 一般 … 4 for 特别重大."""
        return _GRADE_ORDER.index(self) + 1

    @classmethod
    def from_label(cls, label: str) -> Grade:
        """The grade named `label` (一般, 较大, 重大 or 特别重大); ValueError otherwise."""
        try:
            return cls(label.strip())
        except ValueError:
            names = "、".join(g.value for g in cls)
            raise ValueError(f"unknown accident grade {label!r}; use one of {names}") from None

    @staticmethod
    def rank_of(grade: str | None) -> int:
        """0 for no grade, else the rank of the grade named `grade`."""
        return 0 if grade is None else Grade.from_label(grade).rank

    def __lt__(self, other: str, /) -> bool:
        if not isinstance(other, str):
            return NotImplemented
        return self.rank < Grade.from_label(other).rank

    def __le__(self, other: str, /) -> bool:
        if not isinstance(other, str):
            return NotImplemented
        return self.rank <= Grade.from_label(other).rank

    def __gt__(self, other: str, /) -> bool:
        if not isinstance(other, str):
            return NotImplemented
        return self.rank > Grade.from_label(other).rank

    def __ge__(self, other: str, /) -> bool:
        if not isinstance(other, str):
            return NotImplemented
        return self.rank >= Grade.from_label(other).rank


_GRADE_ORDER: tuple[Grade, ...] = tuple(Grade)


class IncidentKind(StrEnum):
    """What an incident is about, and so which playbooks its trigger can match."""

    EVENT = "event"  # an accident found in the news
    POLICY = "policy"  # an upstream policy item the bureau must repost
    INQUIRY = "inquiry"  # a suggestion from the public, opened by hand
    WATCH = "watch"  # other sentiment worth knowing (bulletins, verdicts, reports): no statutory clock


class IncidentStatus(StrEnum):
    """Where an incident stands; closed and dismissed ones get nothing more."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"
    DISMISSED = "dismissed"


LIVE_STATUSES: frozenset[IncidentStatus] = frozenset({IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED})
CLOSED_STATUSES: frozenset[IncidentStatus] = frozenset({IncidentStatus.CLOSED, IncidentStatus.DISMISSED})


class SourceKind(StrEnum):
    """What a feed is read for (feeds.yaml `kind`)."""

    NEWS = "news"  # watched for accidents
    UPSTREAM = "upstream"  # State Council / provincial policy to repost
    OWN = "own"  # the bureau's own outlets: evidence that a statement or repost went out


class ReportKind(StrEnum):
    """What a news report is, read before anything is graded (`responder.analysis.kinds`).

    Only a current accident report opens an event incident with clocks and a grade; a
    relevant report of another kind is kept on a watch incident.
    """

    ACCIDENT = "accident"  # an accident happening now (or in the last days)
    BULLETIN = "bulletin"  # statistics or a periodic summary
    DISASTER = "disaster"  # a natural disaster: outside the production-safety regulation
    JUDICIAL = "judicial"  # a trial, verdict or judgment about an accident
    INVESTIGATION = "investigation"  # an investigation report, accountability or concealment
    RETROSPECTIVE = "retrospective"  # an anniversary, memorial or look back
    DRILL = "drill"  # an exercise; its casualties are simulated
    NOTICE = "notice"  # a notice or campaign
    ROUNDUP = "roundup"  # several accidents in one item
    OTHER = "other"  # none of these: no accident is described


class Channel(StrEnum):
    """The bureau's own outlets (门户网站, 政务微博, 微信, 政务客户端)."""

    PORTAL = "portal"
    WEIBO = "weibo"
    WECHAT = "wechat"
    APP = "app"


_CHANNEL_RANK = {c.value: i for i, c in enumerate(Channel)}


def channel_rank(channel: str | None) -> int:
    """Where an outlet stands in lists people read: the order of `Channel` (portal, Weibo,
    WeChat, app, as the rules name them), a step without an outlet first."""
    return -1 if channel is None else _CHANNEL_RANK.get(channel, len(_CHANNEL_RANK))


class Outlet(StrEnum):
    """Where a response was published, as recorded with its completion: the bureau's own
    outlets (the `Channel` words), a press conference, or anywhere else. The annual report
    counts Weibo/WeChat responses and responses by other means from these words."""

    PORTAL = "portal"
    WEIBO = "weibo"
    WECHAT = "wechat"
    APP = "app"
    PRESS_CONFERENCE = "press_conference"
    OTHER = "other"


class Role(StrEnum):
    """Roles of people in roster.yaml; the first three are also escalation levels' audiences."""

    DUTY_OFFICER = "duty_officer"
    POLICY_OFFICE = "policy_office"
    HEAD = "head"
    ADMIN = "admin"
    SPOKESPERSON = "spokesperson"


ESCALATION_ROLES: frozenset[Role] = frozenset({Role.DUTY_OFFICER, Role.POLICY_OFFICE, Role.HEAD})


class EventKind(StrEnum):
    """Kinds of rows in an incident's append-only log (`incident_event.kind`)."""

    OPENED = "opened"
    REPORT_ADDED = "report_added"
    GRADE_RAISED = "grade_raised"
    CLOCK_MOVED = "clock_moved"
    OWN_REPORT = "own_report"
    RETIMED = "retimed"
    ESCALATED = "escalated"
    OVERDUE = "overdue"
    ACKNOWLEDGED = "acknowledged"
    STEP_DONE = "step_done"
    EXTENDED = "extended"
    DISMISSED = "dismissed"
    CLOSED = "closed"


class Obligation(StrEnum):
    """What the weekly summary and the annual report count (a playbook step's `report_as`)."""

    STATEMENT = "statement"  # 权威信息发布
    PRESS_CONFERENCE = "press_conference"  # 新闻发布会
    PUBLISH_INFO = "publish_info"  # 第一时间发布信息
    FLASH = "flash"  # 事故快讯
    REPOST = "repost"  # 转载链接 (its soft aim is reported apart, as repost_target)
    UPDATES = "updates"  # 持续发布进展
    FEEDBACK = "feedback"  # 答复公众意见


class FeedHealth(StrEnum):
    """What the admins (and, for a baseline, the policy office) are told about a feed; each
    names its notice in the outbox keys (`feed:<source>:<state>:<since>`)."""

    DOWN = "down"  # polls failed `failures_before_alert` times in a row
    UP = "up"  # a feed reported down answers again
    STALE = "stale"  # it answers, but has brought nothing new for longer than `stale_after`
    FRESH = "fresh"  # a stale feed brought something new again
    BASELINE = "baseline"  # its first poll: the relevant items too old to start a clock


class OutboxStatus(StrEnum):
    """pending → sending (with a lease) → sent | failed."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


UNSENT_STATUSES: frozenset[OutboxStatus] = frozenset({OutboxStatus.PENDING, OutboxStatus.SENDING})


class OutboxKind(StrEnum):
    """A new message, an edit of one already sent, or an image with a caption."""

    MESSAGE = "message"
    EDIT = "edit"
    PHOTO = "photo"


class FaultKind(StrEnum):
    """A fault of the running service itself (`fault` rows; `status` names them)."""

    CLOCK_JUMP = "clock_jump"  # the wall clock jumped: time-driven decisions held until it settles
    DISK_FULL = "disk_full"  # the database could not be written: full disk (or full database)
