"""Service jobs on a fixed clock: the Monday summary (text and chart, once) and the stuck-outbox warning."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kit.enginekit import write_config
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from responder.models import Outbox
from responder.runtime import load_settings
from responder.senders.console import ConsoleSender
from responder.service import Service

MONDAY_0900 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, ISO week 2026-W48


def test_weekly_job_queues_last_weeks_summary_once(sqlite_engine: Engine, tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, "  - name: 新闻\n    url: feeds/none.xml\n"))
    svc = Service(settings, sqlite_engine, ConsoleSender(), clock=lambda: MONDAY_0900)

    async def twice() -> None:
        await svc.weekly_job()
        await svc.weekly_job()  # a second instance, or a restart at 09:00, queues nothing more
        await svc.fetcher.aclose()

    asyncio.run(twice())
    with Session(sqlite_engine) as s:
        rows = list(s.exec(select(Outbox).order_by(col(Outbox.id))).all())
    # Policy-office chat (-200) and the head's private chat (1003), chart first, then the text.
    assert sorted({r.chat_id for r in rows}) == [-200, 1003]
    assert [r.kind for r in rows if r.chat_id == -200] == ["photo", "message"]
    photo = next(r for r in rows if r.kind == "photo")
    assert photo.photo is not None and photo.photo.startswith(b"\x89PNG")
    text = next(r for r in rows if r.kind == "message").text
    assert "2026-W47" in text  # last complete week, not the one that just began


def test_a_stuck_outbox_is_logged(
    sqlite_engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from responder.db import session_scope
    from responder.engine.outbox import queue

    settings = load_settings(write_config(tmp_path, "  - name: 新闻\n    url: feeds/none.xml\n"))
    now = MONDAY_0900
    with session_scope(sqlite_engine) as s:
        queue(s, "probe", [-100], "backing off", now - timedelta(minutes=10))
        row = s.exec(select(Outbox)).one()
        row.next_attempt_at = now + timedelta(minutes=5)  # Telegram has been failing: waiting to retry
        s.add(row)
    svc = Service(settings, sqlite_engine, ConsoleSender(), clock=lambda: now)

    async def cycle() -> None:
        await svc.cycle_job()
        await svc.fetcher.aclose()

    with caplog.at_level(logging.WARNING, logger="responder.service"):
        asyncio.run(cycle())
    assert any("1 条消息未发出" in r.getMessage() for r in caplog.records)
