"""The weekly summary posts itself on Monday: text and chart to the policy office and the head, once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from enginekit import write_config
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from responder.engine.deliver import ConsoleSender
from responder.models import Outbox
from responder.runtime import load_settings
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
