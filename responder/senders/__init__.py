"""How a message leaves: one small `Sender` interface (`base`), one module per channel.

- `base`: `Outgoing`, `SendResult`, the `DeliveryError` family, the `Sender` protocol;
- `console`: prints messages (no bot token set);
- `telegram`: python-telegram-bot, flood pacing, Telegram's errors classified;
- `redact`: the bot token kept out of every log line.

`make_sender(env)` picks the channel from the environment.
"""

from __future__ import annotations

from ..env import Environment
from .base import Sender
from .console import ConsoleSender

__all__ = ["make_sender"]


def make_sender(env: Environment) -> Sender:
    """The Telegram sender when the environment has a bot token, else the console."""
    if env.telegram is None:
        return ConsoleSender()
    from .telegram import TelegramSender

    return TelegramSender.from_env(env.telegram)
