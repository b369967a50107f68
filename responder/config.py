"""Typed, validated `feeds.yaml`: sources, monitoring schemes and intake settings."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from .configfile import ConfigError, FieldProblems, Loc, Problem, load_yaml, validate_all
from .durations import parse_duration
from .i18n import t
from .vocab import Channel, SourceKind

__all__ = [
    "Duration",
    "FeedsConfig",
    "Grouping",
    "Polling",
    "Replay",
    "Scheme",
    "Source",
    "StaleAfter",
    "StrictModel",
    "TimeZoneName",
    "WebConsole",
    "check_timezone",
    "load_feeds",
    "repeated",
]

# A value the shipped feeds.yaml asks the bureau to replace (an account id, a column address).
PLACEHOLDER = "REPLACE_WITH_"


def check_timezone(v: str) -> str:
    """An IANA zone name, or a ValueError that says what to write instead."""
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(t("config_bad_timezone", value=v)) from None
    return v


def repeated(values: Iterable[str]) -> list[str]:
    """The values that occur more than once, sorted (for "… is used twice" errors)."""
    seen: set[str] = set()
    twice: set[str] = set()
    for v in values:
        (twice if v in seen else seen).add(v)
    return sorted(twice)


def _duration(v: object) -> timedelta:
    if isinstance(v, timedelta):
        return v
    return parse_duration(v if isinstance(v, int | float) else str(v))


Duration = Annotated[timedelta, BeforeValidator(_duration)]
TimeZoneName = Annotated[str, AfterValidator(check_timezone)]


class StrictModel(BaseModel):
    """The base of every configuration model: unknown keys are errors (a typo is never
    silently ignored) and a loaded configuration cannot be changed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(StrictModel):
    """One feed. `url` is http(s) or a local path; `route` is an RSSHub route."""

    name: str = Field(min_length=1)
    url: str | None = None
    route: str | None = None
    kind: SourceKind = SourceKind.NEWS
    channel: Channel | None = None
    interval: Duration | None = None
    enabled: bool = True
    # The zone this source's dates without a zone (and CST) are in; default: the top-level timezone.
    timezone: TimeZoneName | None = None
    # Nothing new for longer than this is reported to the admins; default per kind, 0 = never.
    stale_after: Duration | None = None

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, v: str | None) -> str | None:
        if v is None:
            return v
        scheme = urlsplit(v).scheme
        if scheme not in ("http", "https", "file", ""):
            raise ValueError(t("config_url_scheme", scheme=scheme))
        return v

    @field_validator("route")
    @classmethod
    def _route_shape(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith("/"):
            raise ValueError(t("config_route_slash"))
        return v

    @model_validator(mode="after")
    def _one_location(self) -> Source:
        if (self.url is None) == (self.route is None):
            raise ValueError(t("config_url_or_route"))
        if self.kind == "own" and self.channel is None:
            raise ValueError(t("config_own_needs_channel"))
        if self.kind != "own" and self.channel is not None:
            raise ValueError(t("config_channel_only_own"))
        return self


class Scheme(StrictModel):
    """A monitoring scheme: region words AND event words NOT exclusion words.

    A topic-only scheme (no region or event words, `topic` given) selects upstream
    policy items that must be reposted.
    """

    name: str = Field(min_length=1)
    applies_to: list[SourceKind] = Field(default_factory=lambda: [SourceKind.NEWS])
    region: list[str] = Field(default_factory=list)
    event: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    topic: list[str] = Field(default_factory=list)
    # Enterprises reports name instead of a place, each with the division it is in
    # (马钢合肥公司: 合肥市): region words of this scheme that place the report there, beside the
    # shipped list (responder/analysis/enterprises.yaml).
    enterprises: dict[str, str] = Field(default_factory=dict)

    @field_validator("region", "event", "exclude", "topic")
    @classmethod
    def _words(cls, v: list[str]) -> list[str]:
        words = [str(w).strip() for w in v]
        if any(not w for w in words):
            raise ValueError(t("config_empty_word"))
        return words

    @field_validator("enterprises", mode="before")
    @classmethod
    def _codes_as_text(cls, v: object) -> object:
        # A division code written unquoted (马钢: 340500) is read by YAML as a number.
        if isinstance(v, dict):
            return {k: str(w) if isinstance(w, int) and not isinstance(w, bool) else w for k, w in v.items()}
        return v

    @model_validator(mode="after")
    def _shape(self) -> Scheme:
        if self.topic and (self.region or self.event):
            raise ValueError(t("config_scheme_both"))
        if not self.topic and not (self.region and self.event):
            raise ValueError(t("config_scheme_needs_words"))
        return self

    @model_validator(mode="after")
    def _enterprise_places(self) -> Scheme:
        problems = _enterprise_problems(self) if self.enterprises else []
        if problems:
            raise FieldProblems(problems)
        return self


def _enterprise_problems(scheme: Scheme) -> list[tuple[Loc, str]]:
    """What is wrong with a scheme's enterprises: a name that is a place already, a division that
    is none or several, a division outside the scheme's region."""
    from .analysis.gazetteer import NotADivision, gazetteer

    places = gazetteer()
    roots = [d for w in scheme.region for d in places.resolve(w)]
    problems: list[tuple[Loc, str]] = []
    for name, where in scheme.enterprises.items():
        loc: Loc = ("enterprises", name)
        if not name.strip():
            problems.append((loc, t("config_enterprise_empty")))
            continue
        if places.is_place_name(name):
            problems.append((loc, t("config_enterprise_is_place", name=name)))
            continue
        try:
            division = places.division_named(where)
        except NotADivision as exc:
            if not exc.candidates:
                problems.append((loc, t("config_enterprise_no_division", where=where)))
                continue
            named = [f"{places.full_name(d)} {d.code}" for d in exc.candidates]
            message = t(
                "config_enterprise_ambiguous",
                where=where,
                candidates="、".join(named),
                code=exc.candidates[0].code,
            )
            problems.append((loc, message))
            continue
        if roots and not any(r.contains(division) for r in roots):
            problems.append((loc, t("config_enterprise_outside", name=name, division=division.name)))
    return problems


class StaleAfter(StrictModel):
    """How long each kind of source may bring nothing new before the admins hear of it.

    News feeds publish daily; upstream policy feeds can fall silent over a week-long
    holiday (Spring Festival, National Day) without being broken; the bureau's own
    outlets may post only every week or two.
    """

    news: Duration = timedelta(days=3)
    upstream: Duration = timedelta(days=10)
    own: Duration = timedelta(days=14)


class Polling(StrictModel):
    """How feeds are fetched. Defaults suit a few hundred Chinese news feeds."""

    interval: Duration = timedelta(minutes=5)
    timeout: Duration = timedelta(seconds=20)
    max_body_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    max_redirects: int = Field(default=5, ge=0)
    per_host: int = Field(default=4, ge=1, le=20)
    jitter: float = Field(default=0.1, ge=0, le=0.5)
    max_backoff: Duration = timedelta(hours=6)
    failures_before_alert: int = Field(default=3, ge=1)
    user_agent: str = "responder/0.1 (+work-safety press office news watch)"
    # Parsing runs in worker processes, each parse bounded in time and memory.
    parse_timeout: Duration = timedelta(seconds=15)
    parse_memory_mb: int = Field(default=256, ge=32, le=4096)
    parse_workers: int = Field(default=2, ge=1, le=8)
    # A source's first successful poll: only items published within this window open
    # incidents with deadlines; older matches go into one digest. 0 = no baseline.
    baseline_window: Duration = timedelta(hours=2)
    stale_after: StaleAfter = StaleAfter()


class Grouping(StrictModel):
    """When a new report joins an existing incident (docs/design.md, 'Grouping reports into incidents')."""

    window: Duration = timedelta(hours=72)
    near_duplicate_distance: int = Field(default=12, ge=0, le=64)
    same_place_type_window: Duration = timedelta(hours=24)
    join_score: int = Field(default=4, ge=1, le=20)
    max_future: Duration = timedelta(minutes=10)
    max_age: Duration = timedelta(days=7)


class WebConsole(StrictModel):
    """The web console (`responder/web/`): where it listens and how sign-in behaves."""

    enabled: bool = True
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8080, ge=0, le=65535)  # 0: any free port (tests), printed at start
    # The address people reach, e.g. https://yq.example.gov.cn/console behind a reverse proxy;
    # links in chat messages and sign-in links start with it. Default http://host:port.
    public_url: str | None = None
    login_link_ttl: Duration = timedelta(minutes=15)
    session_ttl: Duration = timedelta(hours=12)
    login_attempts: int = Field(default=5, ge=1, le=100)  # failed sign-ins per name or address ...
    login_window: Duration = timedelta(minutes=15)  # ... within this window, then refused until it passes
    trusted_proxies: list[str] = Field(default_factory=list)  # whose X-Forwarded-For/-Proto to believe

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(t("config_public_url"))
        if parts.query or parts.fragment:
            raise ValueError(t("config_public_url_query"))
        return v.rstrip("/")

    @model_validator(mode="after")
    def _durations(self) -> WebConsole:
        for name in ("login_link_ttl", "session_ttl", "login_window"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(t("config_duration_positive", name=name))
        return self


class Replay(StrictModel):
    """Replay of local feed files on a live timeline (the offline example).

    The files were written as if it were `recorded_start`; at run time every date in
    them is moved by (start of the first run − recorded_start), and an item appears only
    once its moved date has come. See responder/replay.py.
    """

    recorded_start: datetime

    @field_validator("recorded_start")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError(t("config_replay_naive"))
        return v


class FeedsConfig(StrictModel):
    """The whole of `feeds.yaml`."""

    timezone: TimeZoneName = "Asia/Shanghai"
    rsshub_base: str | None = None
    # Paths relative to this file: the playbook directory and the duty roster.
    playbooks: str = "playbooks"
    roster: str = "roster.yaml"
    # A SQLite file of this config's own, relative to this file (the offline example's),
    # chosen over DATABASE_URL so that trying the example never touches the real database.
    database: str | None = None
    replay: Replay | None = None
    polling: Polling = Polling()
    grouping: Grouping = Grouping()
    web: WebConsole = WebConsole()
    sources: list[Source] = Field(default_factory=list)
    schemes: list[Scheme] = Field(default_factory=list)

    @model_validator(mode="after")
    def _cross(self) -> FeedsConfig:
        # Checked here rather than per field, so that they are reported with the sources' problems.
        problems = self._source_problems()
        base = self.rsshub_base
        if base is not None and (urlsplit(base).scheme not in ("http", "https") or not urlsplit(base).netloc):
            problems.append((("rsshub_base",), t("config_rsshub_scheme", value=base)))
        if self.database is not None and ("://" in self.database or not self.database.strip()):
            problems.append((("database",), t("config_database_not_file")))
        if not any(s.enabled for s in self.sources):
            problems.append((("sources",), t("config_no_sources")))
        if not self.schemes:
            problems.append((("schemes",), t("config_no_schemes")))
        seen: set[str] = set()
        placed: dict[str, tuple[str, str]] = {}  # enterprise -> (where, first scheme naming it)
        for i, scheme in enumerate(self.schemes):
            if scheme.name in seen:
                problems.append((("schemes", i, "name"), t("config_scheme_twice", name=scheme.name)))
            seen.add(scheme.name)
            for name, where in scheme.enterprises.items():
                where0, other = placed.setdefault(name, (where, scheme.name))
                if where0 != where:
                    message = t("config_enterprise_disagrees", name=name, other=other, where=where0)
                    problems.append((("schemes", i, "enterprises", name), message))
        if problems:
            raise FieldProblems(problems)
        return self

    def _source_problems(self) -> list[tuple[Loc, str]]:
        problems: list[tuple[Loc, str]] = []
        seen: set[str] = set()
        for i, s in enumerate(self.sources):
            if s.name in seen:
                problems.append((("sources", i, "name"), t("config_source_twice", name=s.name)))
            seen.add(s.name)
            if s.route is not None and not self.rsshub_base:
                problems.append((("sources", i, "route"), t("config_route_needs_rsshub", name=s.name)))
            field = "route" if s.route is not None else "url"
            if s.enabled and PLACEHOLDER in (s.route or s.url or ""):
                problems.append((("sources", i, field), t("config_placeholder", name=s.name)))
        return problems

    def path_of(self, relative: str, base_dir: Path) -> Path:
        """A path from this file, made absolute against the file's own directory."""
        return (base_dir / relative).resolve()

    @property
    def tz(self) -> ZoneInfo:
        """The zone times are shown in and zone-less feed dates are read in."""
        return ZoneInfo(self.timezone)

    def interval_of(self, source: Source) -> timedelta:
        """How often `source` is polled: its own interval, else the default."""
        return source.interval or self.polling.interval

    def tz_of(self, source: Source) -> ZoneInfo:
        """The zone the source's zone-less dates are read in."""
        return ZoneInfo(source.timezone or self.timezone)

    def stale_after_of(self, source: Source) -> timedelta | None:
        """How long the source may bring nothing new before an alert; None = never."""
        limit = (
            source.stale_after
            if source.stale_after is not None
            else getattr(self.polling.stale_after, source.kind)
        )
        return limit if limit > timedelta(0) else None

    def url_of(self, source: Source, base_dir: Path) -> str:
        """The address to fetch: RSSHub route joined to rsshub_base, or a path made absolute."""
        if source.route is not None:
            assert self.rsshub_base is not None
            return self.rsshub_base.rstrip("/") + source.route
        assert source.url is not None
        if urlsplit(source.url).scheme in ("http", "https", "file"):
            return source.url
        return (base_dir / source.url).resolve().as_uri()

    def database_path(self, base_dir: Path) -> Path | None:
        """The SQLite file this config keeps its records in, if it names one."""
        return None if self.database is None else (base_dir / self.database).resolve()


def load_feeds(path: Path) -> FeedsConfig:
    """Load and validate `feeds.yaml`; raises ConfigError naming file, line and field."""
    data, lines = load_yaml(path)
    if not data:  # empty, or nothing but comments
        raise ConfigError([Problem(str(path), None, "", t("config_empty_file"))])
    return validate_all(FeedsConfig, data, str(path), lines)
