"""The console sender: the embedded default when no bot token is set."""

from __future__ import annotations

import sys
from typing import TextIO

from ..i18n import t
from ..vocab import OutboxKind
from .base import Outgoing, SendResult

__all__ = ["ConsoleSender"]

_MARKS = {OutboxKind.EDIT: "✎", OutboxKind.PHOTO: "🖼"}


class ConsoleSender:
    """Prints each message to a stream as plain text."""

    def __init__(self, stream: TextIO | None = None):
        self._stream = stream
        self._hinted = False

    async def send(self, item: Outgoing) -> SendResult:
        """Print `item`; the first call also says how to connect a bot."""
        out = self._stream or sys.stdout
        if not self._hinted:
            print(t("console_no_token"), file=out)
            self._hinted = True
        print(f"{_MARKS.get(item.kind, '✉')} [{item.chat_id}] {item.plain_text()}", file=out)
        if item.buttons:
            print("   " + " ".join(f"[{b.get('text', '')}]" for row in item.buttons for b in row), file=out)
        out.flush()
        return SendResult(message_id=None)

    async def aclose(self) -> None:
        """Nothing to close; here so callers can close any sender alike."""
