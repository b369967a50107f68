"""What every sender sees and answers: one small interface for Telegram, the console and the
group robots (WeCom, DingTalk, Feishu webhooks, `responder.senders.robots`).

A sender gets one `Outgoing` at a time and either returns a `SendResult` (the channel
said ok) or raises a `DeliveryError` saying what the outbox should do: wait
(`FloodWait`), try again later (`TransientError`) or give up on the row (`Rejected`).
The outbox does the rest: claiming, ordering, retries, recording.

A send-only webhook fits as it is: it posts its own markup of `item.text` with the console
link in place of the buttons, returns `SendResult(None)` (it gets no message id back), and
answers an edit (`item.kind == "edit"`) with `SendResult(None, note=...)`, since such a
channel cannot change what it sent. `item.robot` names the robot a row goes to (None: the
Telegram chat `item.chat_id`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from ..present.cards import Buttons
from ..present.html import strip_tags
from ..vocab import OutboxKind

__all__ = [
    "DeliveryError",
    "FloodWait",
    "Outgoing",
    "Rejected",
    "SendResult",
    "Sender",
    "TransientError",
]


@dataclass(frozen=True)
class Outgoing:
    """One outbox row as a sender needs it, detached from the database session."""

    row_id: int
    kind: OutboxKind
    chat_id: int  # the Telegram chat (0 for a robot's row)
    text: str  # Telegram HTML, as rendered by responder.present
    buttons: Buttons | None = None
    photo: bytes | None = None
    edit_message_id: int | None = None  # kind 'edit': the message produced by row `edit_of`
    edit_is_photo: bool = False  # kind 'edit' of a photo: its caption is edited
    edit_after: int | None = None  # kind 'edit' whose original goes out earlier in the same drain
    robot: str | None = None  # a group robot's address (`wecom:WECOM_DUTY_KEY`): the row goes there
    incident_id: int | None = None  # the incident it is about: robots link to its console page

    @property
    def destination(self) -> int | str:
        """Where it goes: the robot's address, else the Telegram chat id."""
        return self.robot if self.robot is not None else self.chat_id

    def plain_text(self) -> str:
        """The text as a reader sees it, for channels without HTML."""
        return strip_tags(self.text)


@dataclass(frozen=True)
class SendResult:
    """The channel said ok. `note` records anything worth keeping (plain-text fallback, not modified)."""

    message_id: int | None
    note: str | None = None


class DeliveryError(Exception):
    """A send that did not succeed; the subclass says what the outbox should do."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class FloodWait(DeliveryError):
    """The channel said "too many" (Telegram's 429): try again after `retry_after`."""

    def __init__(self, reason: str, retry_after: timedelta):
        super().__init__(reason)
        self.retry_after = retry_after


class TransientError(DeliveryError):
    """Network trouble, a timeout, a 5xx: back off and try again."""


class Rejected(DeliveryError):
    """The channel refused the message for good. `chat_level`: every message to that chat will fail."""

    def __init__(self, reason: str, chat_level: bool = False):
        super().__init__(reason)
        self.chat_level = chat_level


class Sender(Protocol):
    """Delivers one message at a time; raises a `DeliveryError` subclass when it could not."""

    async def send(self, item: Outgoing) -> SendResult:
        """Send `item`; return what the channel answered."""
        ...

    async def aclose(self) -> None:
        """Release connections (called once, when the service stops)."""
        ...
