"""Running the real python-telegram-bot Application against the Bot API emulator inside a test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from telegram.ext import Application

__all__ = ["running", "until"]


async def until(ready: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait (bounded) for the emulator to record something the bot did over HTTP."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not ready():
        if loop.time() > deadline:
            raise AssertionError("the bot did not answer in time")
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(app: Application) -> AsyncIterator[None]:  # type: ignore[type-arg]
    """The application inside the test's event loop, as `python main.py run` runs it."""
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            yield
        finally:
            await app.updater.stop()
            await app.stop()
