"""Typed, validated `feeds.yaml`: sources, monitoring schemes and intake settings."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
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

from .configfile import load_model
from .durations import parse_duration
from .vocab import Channel, SourceKind

__all__ = [
    "Duration",
    "FeedsConfig",
    "Grouping",
    "Polling",
    "Scheme",
    "Source",
    "StrictModel",
    "TimeZoneName",
    "check_timezone",
    "load_feeds",
    "repeated",
]


def check_timezone(v: str) -> str:
    """An IANA zone name, or a ValueError that says what to write instead."""
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {v!r}; use an IANA name such as Asia/Shanghai") from None
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

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, v: str | None) -> str | None:
        if v is None:
            return v
        scheme = urlsplit(v).scheme
        if scheme not in ("http", "https", "file", ""):
            raise ValueError(f"URL scheme {scheme!r} is not supported; use http(s) or a file path")
        return v

    @field_validator("route")
    @classmethod
    def _route_shape(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith("/"):
            raise ValueError("an RSSHub route starts with '/', e.g. /gov/zhengce/zuixin")
        return v

    @model_validator(mode="after")
    def _one_location(self) -> Source:
        if (self.url is None) == (self.route is None):
            raise ValueError("give exactly one of url (a feed address or file) or route (RSSHub)")
        if self.kind == "own" and self.channel is None:
            raise ValueError("an 'own' source needs channel: portal, weibo, wechat or app")
        if self.kind != "own" and self.channel is not None:
            raise ValueError("channel is only for sources of kind 'own'")
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

    @field_validator("region", "event", "exclude", "topic")
    @classmethod
    def _words(cls, v: list[str]) -> list[str]:
        words = [str(w).strip() for w in v]
        if any(not w for w in words):
            raise ValueError("empty word in list")
        return words

    @model_validator(mode="after")
    def _shape(self) -> Scheme:
        if self.topic and (self.region or self.event):
            raise ValueError("a scheme is either region+event words or topic words, not both")
        if not self.topic and not (self.region and self.event):
            raise ValueError("give both region and event words (or topic words for a topic-only scheme)")
        return self


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


class Grouping(StrictModel):
    """When a new report joins an existing incident (see README, 'Grouping')."""

    window: Duration = timedelta(hours=72)
    near_duplicate_distance: int = Field(default=12, ge=0, le=64)
    same_place_type_window: Duration = timedelta(hours=24)
    max_future: Duration = timedelta(minutes=10)
    max_age: Duration = timedelta(days=7)


class FeedsConfig(StrictModel):
    """The whole of `feeds.yaml`."""

    timezone: TimeZoneName = "Asia/Shanghai"
    rsshub_base: str | None = None
    # Paths relative to this file: the playbook directory and the duty roster.
    playbooks: str = "playbooks"
    roster: str = "roster.yaml"
    polling: Polling = Polling()
    grouping: Grouping = Grouping()
    sources: list[Source] = Field(default_factory=list)
    schemes: list[Scheme] = Field(default_factory=list)

    @model_validator(mode="after")
    def _cross(self) -> FeedsConfig:
        seen: set[str] = set()
        for s in self.sources:
            if s.name in seen:
                raise ValueError(f"two sources are named {s.name!r}; names must be unique")
            seen.add(s.name)
            if s.route is not None and not self.rsshub_base:
                raise ValueError(f"source {s.name!r} uses an RSSHub route but rsshub_base is not set")
        names = [s.name for s in self.schemes]
        if len(names) != len(set(names)):
            raise ValueError("scheme names must be unique")
        return self

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

    def url_of(self, source: Source, base_dir: Path) -> str:
        """The address to fetch: RSSHub route joined to rsshub_base, or a path made absolute."""
        if source.route is not None:
            assert self.rsshub_base is not None
            return self.rsshub_base.rstrip("/") + source.route
        assert source.url is not None
        if urlsplit(source.url).scheme in ("http", "https", "file"):
            return source.url
        return (base_dir / source.url).resolve().as_uri()


def load_feeds(path: Path) -> FeedsConfig:
    """Load and validate `feeds.yaml`; raises ConfigError naming file, line and field."""
    return load_model(path, FeedsConfig)
