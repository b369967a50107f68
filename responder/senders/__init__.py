"""How a message leaves: one small `Sender` interface (`base`), one module per channel.

- `base`: `Outgoing`, `SendResult`, the `DeliveryError` family, the `Sender` protocol;
- `console`: prints messages (no bot token set);
- `telegram`: python-telegram-bot, flood pacing, Telegram's errors classified;
- `robots`: WeCom, DingTalk and Feishu group robots (`responder.channels` has their clients);
- `redact`: the bot token kept out of every log line.

`make_sender(env, settings)` picks the channels: Telegram when the environment has a bot
token (else the console) for rows addressed to a chat id, and the robots for rows
addressed to a robot, when the roster names any.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..env import Environment
from .base import Outgoing, Sender, SendResult
from .console import ConsoleSender

if TYPE_CHECKING:
    from ..runtime import Settings

__all__ = ["Router", "make_sender"]


class Router:
    """One sender for the outbox: robots' rows to the robot sender, the rest to Telegram (or the console)."""

    def __init__(self, chats: Sender, robots: Sender):
        self.chats = chats
        self.robots = robots

    async def send(self, item: Outgoing) -> SendResult:
        """Send `item` through the sender for its destination."""
        return await (self.robots if item.robot is not None else self.chats).send(item)

    async def aclose(self) -> None:
        """Close both senders."""
        await self.chats.aclose()
        await self.robots.aclose()


def make_sender(env: Environment, settings: Settings | None = None) -> Sender:
    """The Telegram sender when the environment has a bot token, else the console; with the
    robots of `settings.roster` beside it when it names any."""
    chats: Sender
    if env.telegram is None:
        chats = ConsoleSender()
    else:
        from .telegram import TelegramSender

        chats = TelegramSender.from_env(env.telegram)
    if settings is None or not settings.roster.robots():
        return chats
    from .robots import RobotSender

    return Router(chats, RobotSender(settings.roster, env.variables, settings.feeds.web))
