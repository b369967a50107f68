"""The group-robot sender: outbox rows addressed to a WeCom, DingTalk or Feishu robot.

A row's `robot` is the robot's address (`wecom:WECOM_DUTY_KEY`); the roster says which robot
that is (its platform, signing secret and keyword variables), the environment as read at
start holds its credentials, and `responder.channels` has one client per platform that
renders, shortens, signs and paces. This module turns a row into the client's message and the
client's outcome into the outbox's terms:

| client outcome | outbox |
|---|---|
| `Delivered` | `SendResult(None)` (robots give no message id) |
| `RetryLater(after=N s)` (our pacing, the platform's rate limit) | `FloodWait(N s)` |
| `RetryLater(after=None)` (network, timeout, 5xx, busy) | `TransientError`: back off |
| `Permanent(robot_level=…)` (bad key, signature, keyword, IP; too large) | `Rejected(chat_level=…)` |

Robots are send-only: a card's buttons become the link to the incident's console page
(every message carries one: the incident's page, else the board); an edit of a card is not
sent (`SendResult` with a note; `responder.engine.outbox` queues none for robots in the first
place), since a robot cannot change what it posted and a new message per edit would bury the
group; a photo's caption goes as text. A robot missing from the roster (removed by a reload)
or whose variables are not in the environment refuses at the robot level, so the admins are
told once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from ..channels import client_for, from_telegram_html
from ..channels.robots import RobotSecretError
from ..channels.webhook import DEFAULT_TIMEOUT, Delivered, Permanent, RetryLater, WebhookClient
from ..config import WebConsole
from ..i18n import t
from ..roster import Roster
from ..vocab import OutboxKind
from ..web.links import base_url, incident_url
from .base import FloodWait, Outgoing, Rejected, SendResult, TransientError

__all__ = ["RobotSender"]


class RobotSender:
    """Sends rows whose `robot` is set, each through its robot's webhook client."""

    def __init__(
        self,
        roster: Roster,
        variables: Mapping[str, str],
        web: WebConsole,
        *,
        http: httpx.AsyncClient | None = None,
        **client_options: Any,
    ):
        self.roster = roster
        self._variables = variables
        self._web = web
        self._clients: dict[str, WebhookClient] = {}
        # One connection pool for every robot, straight to the platforms: TELEGRAM_PROXY and
        # the process's proxy variables are not for them (as for feed fetching).
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=DEFAULT_TIMEOUT, follow_redirects=False, trust_env=False
        )
        self._options = client_options

    def link(self, incident_id: int | None) -> str:
        """The console page a message to a robot points at: its incident's, else the board."""
        if incident_id is None:
            return base_url(self._web) + "/"
        return incident_url(self._web, incident_id)

    def _client(self, address: str) -> WebhookClient:
        client = self._clients.get(address)
        if client is None:
            robot = self.roster.robot(address)
            if robot is None:
                raise Rejected(t("robot_not_in_roster"), chat_level=True)
            try:
                endpoint = robot.endpoint(self._variables)
            except RobotSecretError as exc:
                raise Rejected(str(exc), chat_level=True) from None
            client = self._clients[address] = client_for(endpoint, http=self._http, **self._options)
        return client

    async def send(self, item: Outgoing) -> SendResult:
        """Post `item` to its robot; say what happened in the outbox's terms."""
        if item.robot is None:
            raise Rejected("not a robot's row")  # the router sends only robots' rows here
        if item.kind == OutboxKind.EDIT:
            return SendResult(None, note=t("robot_edit_skipped"))
        client = self._client(item.robot)
        outcome = await client.send(from_telegram_html(item.text, self.link(item.incident_id)))
        if isinstance(outcome, Delivered):
            note = t("robot_photo_as_text") if item.kind == OutboxKind.PHOTO else outcome.note
            return SendResult(None, note=note)
        if isinstance(outcome, RetryLater):
            if outcome.after is not None:
                raise FloodWait(outcome.reason, outcome.after)
            raise TransientError(outcome.reason)
        assert isinstance(outcome, Permanent)
        raise Rejected(outcome.reason, chat_level=outcome.robot_level)

    async def aclose(self) -> None:
        """Close the shared connection pool."""
        if self._own_http:
            await self._http.aclose()
