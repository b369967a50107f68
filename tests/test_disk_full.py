"""A full disk: one clear error per episode, the admins told, `status` names it, nothing lost.

The database lives on a real, tiny filesystem: a 3 MB tmpfs mounted for the test (root
only), filled with a file of zeros until the kernel answers ENOSPC, then emptied again.
That is the failure as production meets it: SQLite's own writes (the WAL, new pages) fail
with SQLITE_FULL from the operating system. Without the right to mount, the test is
skipped: SQLite's `max_page_count` pragma would fill the database but not the disk, and
that leaves out the part `status` checks (the room left on the database's disk).

The service runs in-process on a test clock; its messages go through the real
python-telegram-bot to the Bot API emulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kit.botapi import TOKEN, BotApiEmulator, botapi_fixture  # noqa: F401
from kit.enginekit import rss, write_config
from kit.feedserver import FeedServer
from sqlmodel import Session, col, select

from responder.db import make_engine
from responder.engine.poll import sync_feed_states
from responder.migrate import upgrade
from responder.models import Fault, Incident, Outbox
from responder.runtime import load_settings
from responder.senders.telegram import TelegramSender
from responder.service import Service
from responder.status import render_status

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
DUTY, ADMIN_CHAT = -100, -300


class TinyDisk:
    """A tmpfs of `size` mounted at `path`; `fill()` takes every free byte, `free()` gives them back."""

    def __init__(self, path: Path, size: str = "3m") -> None:
        self.path = path
        path.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small filesystem here ({done.stderr.strip() or 'not root'})")
        self.filler = path / "filler"

    def fill(self) -> None:
        with contextlib.suppress(OSError), open(self.filler, "wb", buffering=0) as fh:
            while True:
                fh.write(b"\0" * 4096)
        assert os.statvfs(self.path).f_bavail == 0

    def free(self) -> None:
        self.filler.unlink()

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[TinyDisk]:
    d = TinyDisk(tmp_path / "disk")
    yield d
    d.unmount()


def accident(i: int, published: datetime) -> tuple[str, str, str, datetime]:
    city, kind = [("合肥", "爆炸"), ("淮南", "透水"), ("六安", "坍塌")][i]
    return (
        f"https://news.example/disk/{i}",
        f"{city}市一工厂发生{kind}事故",
        f"{city}消息：{kind}。",
        published,
    )


def test_a_full_disk_is_one_error_one_admin_alert_named_by_status_and_loses_nothing(
    tmp_path: Path,
    disk: TinyDisk,
    botapi: BotApiEmulator,
    feed_server: FeedServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for chat in (DUTY, -200, ADMIN_CHAT):
        botapi.add_chat(chat)
    for user in (1001, 1002, 1003, 1004):
        botapi.add_user(user)
    url = f"sqlite:///{disk.path / 'responder.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    source = f"  - name: 新闻\n    url: {feed_server.url('/news.xml')}\n    interval: 1m\n"
    settings = load_settings(write_config(tmp_path, source))
    sync_feed_states(engine, settings, T0 - timedelta(minutes=1))
    items = [accident(0, T0 - timedelta(minutes=5))]
    feed_server.route("/news.xml", rss(items))
    clock = {"now": T0, "steady": 0.0}

    def advance(seconds: float) -> None:
        clock["now"] += timedelta(seconds=seconds)
        clock["steady"] += seconds

    async def scenario() -> None:
        sender = TelegramSender.build(TOKEN, base_url=botapi.base_url, base_file_url=botapi.base_file_url)
        svc = Service(
            settings,
            engine,
            sender,
            clock=lambda: clock["now"],
            steady=lambda: clock["steady"],
            cycle_every=5,
        )

        async def tick() -> None:
            await svc.poll_job()
            await svc.cycle_job()
            advance(5)

        for _ in range(2):
            await tick()
        assert len(botapi.messages(DUTY)) == 1, "the first incident's card went out"
        disk.fill()
        # While the disk is full a second accident is reported, and 30 cycles pass.
        items.append(accident(1, clock["now"]))
        feed_server.route("/news.xml", rss(items))
        for _ in range(30):
            advance(55)  # every feed is due at each tick
            await tick()
        assert svc.disk is not None
        status = render_status(engine, clock["now"])
        assert "磁盘已满" in status and str(disk.path) in status
        disk.free()
        for _ in range(4):
            advance(55)
            await tick()
        assert svc.disk is None
        await svc.fetcher.aclose()
        await asyncio.to_thread(svc.parser.close)
        await sender.aclose()

    with caplog.at_level(logging.INFO):
        asyncio.run(scenario())
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage()[:4] for r in errors] == ["磁盘已满"], "one error for the whole episode"
    assert not [r for r in caplog.records if r.exc_info], "no traceback"
    admin = [m.text for m in botapi.messages(ADMIN_CHAT)]
    assert len([m for m in admin if m.startswith("💾 磁盘已满")]) == 1, "the admins were told once, at once"
    assert len([m for m in admin if m.startswith("✅ 磁盘已可写入")]) == 1
    cards = [m.text for m in botapi.messages(DUTY)]
    assert len(cards) == 2 and "淮南" in cards[1], "the accident reported while the disk was full was alerted"
    with Session(engine) as s:
        assert len(s.exec(select(Incident)).all()) == 2
        fault = s.exec(select(Fault)).one()
        unsent = s.exec(select(Outbox).where(col(Outbox.status) != "sent")).all()
        keys = list(s.exec(select(Outbox.dedup_key)).all())
    fault_key = f"{fault.instance}:{fault.started_at.isoformat(timespec='seconds')}"
    assert fault.kind == "disk_full" and fault.ended_at is not None
    assert unsent == []
    # The outbox could not take the alert, so it went past it; the record came with the all-clear.
    assert fault.data["told"] is True
    assert [k for k in keys if k.startswith("disk-full:")] == [f"disk-full:{fault_key}:room@{ADMIN_CHAT}"]
    assert "磁盘已满" in render_status(engine, T0 + timedelta(hours=1)) and "已恢复" in render_status(
        engine, T0 + timedelta(hours=1)
    )
    engine.dispose()
