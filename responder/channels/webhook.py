"""The shared part of the three robot clients: outcomes, pacing, fitting, posting, errors.

Every answer ends as one of three outcomes, which the robot sender
(`responder/senders/robots.py`) gives the outbox as the Telegram sender does (`SendResult`,
`FloodWait` / `TransientError`, `Rejected`):

| outcome | Telegram sender | when |
|---|---|---|
| `Delivered` | `SendResult` | the platform said ok (errcode / code 0) |
| `RetryLater(after=…)` | `FloodWait(retry_after)` | our pacing, or the platform's rate limit: wait exactly that long |
| `RetryLater(after=None)` | `TransientError` | network error, timeout, 5xx, an answer we cannot read: the outbox backs off |
| `Permanent(robot_level=…)` | `Rejected(chat_level=…)` | bad key, bad signature, keyword or IP refused (`robot_level`: every message to this robot will fail), too large after shortening |

A request that timed out may have been delivered; retrying it can repeat the message,
which we prefer to losing it (as for Telegram). Nothing here sleeps: waiting is the
outbox's job, recorded in the database. Reasons are the catalogue's words (staff and
admins read them on the console and in the admin report), never holding a secret.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

import httpx

from ..i18n import t
from ..present.channels import platform_name
from .message import ChannelMessage, shorten
from .pacing import Clock, Pacer, pacer_for
from .redact import protect, redact
from .robots import Endpoint

__all__ = ["Delivered", "Outcome", "Permanent", "Request", "RetryLater", "WebhookClient"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass(frozen=True)
class Delivered:
    """The platform accepted the message."""

    note: str | None = None


@dataclass(frozen=True)
class RetryLater:
    """Not delivered for a passing reason: try again after `after`, or (None) after the
    outbox's own back-off."""

    reason: str
    after: timedelta | None = None


@dataclass(frozen=True)
class Permanent:
    """Refused for good. `robot_level`: the robot refuses everything (key, signature, keyword,
    IP), so the admins must act and later messages to it need not be tried."""

    reason: str
    robot_level: bool = False


Outcome = Delivered | RetryLater | Permanent


@dataclass(frozen=True)
class Request:
    """One HTTP request to a robot: its address (with credentials) and JSON body."""

    url: str
    body: bytes


class WebhookClient(ABC):
    """Sends `ChannelMessage`s to one group robot, paced, fitted and classified.

    Subclasses say how the platform is addressed and signed (`build`), how big a request
    may be (`fits`) and what its answers mean (`classify`).
    """

    platform: ClassVar[str]
    limits: ClassVar[tuple[tuple[int, float], ...]]  # (count, window seconds), the documented rate

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Clock = time.time,
        pacer: Pacer | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    ):
        if endpoint.platform != self.platform:
            raise ValueError(f"a {endpoint.platform} endpoint given to the {self.platform} client")
        protect(endpoint.token, endpoint.secret)
        self.endpoint = endpoint
        self.clock = clock
        digest = hashlib.sha256(f"{endpoint.base}|{endpoint.token}".encode()).hexdigest()[:16]
        self.pacer = pacer or pacer_for(self.platform, digest, self.limits, clock)
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    @property
    def name(self) -> str:
        """The platform's name in the catalogue's words (企业微信, 钉钉, 飞书)."""
        return platform_name(self.platform)

    async def aclose(self) -> None:
        """Close the HTTP connections this client opened."""
        if self._own_http:
            await self._http.aclose()

    # -- what subclasses provide -----------------------------------------------------

    @abstractmethod
    def payload(self, message: ChannelMessage) -> dict[str, Any]:
        """The platform's JSON body for `message` (before signing)."""

    @abstractmethod
    def build(self, payload: dict[str, Any], now: float) -> Request:
        """The signed request for `payload` at time `now` (seconds since the epoch)."""

    @abstractmethod
    def fits(self, payload: dict[str, Any], request: Request) -> bool:
        """Are `payload` and its signed `request` within the platform's documented size limit?"""

    @abstractmethod
    def classify(self, status: int, answer: dict[str, Any]) -> Outcome | None:
        """The outcome of an HTTP answer whose body was a JSON object; None when the answer
        says nothing the platform documents (then the HTTP status decides)."""

    # -- sending -----------------------------------------------------------------------

    def prepare(self, message: ChannelMessage, now: float) -> Request | None:
        """The request for `message`, shortened to fit (None: too large even shortened)."""
        if self.endpoint.keyword and not _mentions(message, self.endpoint.keyword):
            # The robot's security setting drops messages without its keyword.
            message = ChannelMessage(
                f"【{self.endpoint.keyword}】{message.title}", message.lines, message.link, message.link_label
            )

        def fits(candidate: ChannelMessage) -> bool:
            payload = self.payload(candidate)
            return self.fits(payload, self.build(payload, now))

        fitted = shorten(message, fits)
        return None if fitted is None else self.build(self.payload(fitted), now)

    async def send(self, message: ChannelMessage) -> Outcome:
        """Send `message` once (never sleeps); what happened, in the outbox's three outcomes."""
        now = self.clock()
        request = self.prepare(message, now)
        if request is None:
            return Permanent(t("channel_too_large", platform=self.name))
        wait = self.pacer.take()
        if wait > 0:
            seconds = Pacer.whole_seconds(wait)
            key = "channel_held" if self.pacer.held_for() > 0 else "channel_paced"
            return RetryLater(t(key, platform=self.name, seconds=seconds), timedelta(seconds=seconds))
        try:
            response = await self._http.post(
                request.url, content=request.body, headers={"Content-Type": "application/json; charset=utf-8"}
            )
        except httpx.TimeoutException:
            return RetryLater(t("channel_timeout", platform=self.name))
        except httpx.HTTPError as exc:
            error = redact(f"{type(exc).__name__}: {exc}")
            return RetryLater(t("channel_network", platform=self.name, error=error))
        outcome = self._answer(response)
        if isinstance(outcome, RetryLater) and outcome.after is not None:
            self.pacer.block(outcome.after.total_seconds())
        if not isinstance(outcome, Delivered):
            log.warning("%s robot %s: %s", self.platform, self.endpoint.address, redact(_reason(outcome)))
        return outcome

    def _answer(self, response: httpx.Response) -> Outcome:
        status = response.status_code
        if status >= 500:  # the platform or a gateway in front of it failed: never delivered
            return RetryLater(t("channel_server_error", platform=self.name, status=status))
        try:
            answer = json.loads(response.content)
        except ValueError:
            answer = None
        if isinstance(answer, dict):
            outcome = self.classify(status, answer)
            if outcome is not None:
                return outcome
        if status == 429:
            seconds = _retry_after(response.headers.get("Retry-After"))
            return self.rate_limited(429, seconds)
        return RetryLater(t("channel_bad_answer", platform=self.name, status=status))

    # -- helpers for subclasses ------------------------------------------------------------

    def rate_limited(self, code: int, seconds: int) -> RetryLater:
        """The platform's rate-limit answer: wait `seconds`."""
        return RetryLater(
            t("channel_rate_limited", platform=self.name, code=code, seconds=seconds),
            timedelta(seconds=seconds),
        )

    def busy(self, code: int, detail: str) -> RetryLater:
        """The platform is busy (or failed inside): back off and try again."""
        return RetryLater(redact(t("channel_busy", platform=self.name, code=code, detail=detail)))

    def refused(self, key: str, code: int, detail: str, *, robot_level: bool) -> Permanent:
        """A refusal for good, explained with catalogue message `key`."""
        return Permanent(
            redact(t(key, platform=self.name, code=code, detail=detail, env=self._variables())),
            robot_level=robot_level,
        )

    def _variables(self) -> str:
        names = [self.endpoint.token_env] + ([self.endpoint.secret_env] if self.endpoint.secret_env else [])
        return "、".join(names)


def _mentions(message: ChannelMessage, keyword: str) -> bool:
    return keyword in message.title or any(keyword in line.text for line in message.lines)


def _reason(outcome: Outcome) -> str:
    return getattr(outcome, "reason", "")


def _retry_after(value: str | None) -> int:
    try:
        return max(1, min(3600, int(value or "")))
    except ValueError:
        return 60


def dumps(payload: dict[str, Any]) -> bytes:
    """JSON as the platforms want it: UTF-8, Chinese unescaped (escapes would triple its size)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
