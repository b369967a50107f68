"""Service jobs on a fixed clock: the Monday summary (owed from Monday 09:00, once, also after
being down then, across restarts) and the stuck-outbox warning."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kit.enginekit import rss, write_config
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from responder.engine.poll import sync_feed_states
from responder.models import FeedState, Outbox
from responder.runtime import load_settings
from responder.senders.console import ConsoleSender
from responder.service import Service

MONDAY_0900 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, ISO week 2026-W48
H = timedelta(hours=1)


def service_at(engine: Engine, tmp_path: Path, now: datetime) -> Service:
    """The service as `run` builds it, on a feed file that answers, with its clock stopped at `now`."""
    feeds = tmp_path / "feeds"
    feeds.mkdir(exist_ok=True)
    (feeds / "news.xml").write_bytes(rss([]))
    settings = load_settings(write_config(tmp_path, "  - name: 新闻\n    url: feeds/news.xml\n"))
    return Service(settings, engine, ConsoleSender(), clock=lambda: now)


def run_jobs(svc: Service, *, poll: bool = True) -> None:
    """What `run` does in its first seconds: feeds registered, a poll, a cycle (with its drain)."""
    sync_feed_states(svc.engine, svc.settings, svc.clock() - 10 * timedelta(minutes=1))  # feeds due now

    async def jobs() -> None:
        if poll:
            await svc.poll_job()
        await svc.cycle_job()
        await svc.fetcher.aclose()
        await asyncio.to_thread(svc.parser.close)

    asyncio.run(jobs())


def weekly_rows(engine: Engine) -> list[Outbox]:
    with Session(engine) as s:
        q = select(Outbox).where(col(Outbox.dedup_key).startswith("summary:")).order_by(col(Outbox.id))
        return list(s.exec(q).all())


def test_the_weekly_post_is_owed_from_monday_0900_and_sent_once_across_a_restart(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    # Running on Sunday evening: last week's post (W46) went out long ago; W47's is not due yet.
    run_jobs(service_at(sqlite_engine, tmp_path, MONDAY_0900 - 13 * H))
    with Session(sqlite_engine) as s:
        assert s.exec(select(FeedState.baselined_at)).one() == MONDAY_0900 - 13 * H  # running since
    assert weekly_rows(sqlite_engine) == []
    # Down at Monday 09:00; back at 11:30: the post is owed, and sent now.
    back = MONDAY_0900 + 2.5 * H
    run_jobs(service_at(sqlite_engine, tmp_path, back))
    rows = weekly_rows(sqlite_engine)
    # Policy-office chat (-200) and the head's private chat (1003), chart first, then the text.
    assert sorted({r.chat_id for r in rows}) == [-200, 1003]
    assert [r.kind for r in rows if r.chat_id == -200] == ["photo", "message"]
    photo = next(r for r in rows if r.kind == "photo")
    assert photo.photo is not None and photo.photo.startswith(b"\x89PNG")
    text = next(r for r in rows if r.kind == "message").text
    assert "2026-W47" in text  # last complete week, not the one that just began
    assert {r.status for r in rows} == {"sent"} and {r.created_at for r in rows} == {back}
    # Once: another cycle, another restart the same day, another instance on Tuesday.
    run_jobs(service_at(sqlite_engine, tmp_path, back + 5 * H))
    run_jobs(service_at(sqlite_engine, tmp_path, MONDAY_0900 + 24 * H), poll=False)
    assert len(weekly_rows(sqlite_engine)) == len(rows)


def test_a_new_installation_posts_no_week_it_was_not_running_for(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    # First started on Wednesday: W47's post fell due on Monday, before there was a service.
    run_jobs(service_at(sqlite_engine, tmp_path, MONDAY_0900 + 48 * H))
    assert weekly_rows(sqlite_engine) == []
    # Its first post is W48's, the next Monday at 09:00 and not a minute before.
    run_jobs(service_at(sqlite_engine, tmp_path, MONDAY_0900 + 7 * 24 * H - timedelta(minutes=1)))
    assert weekly_rows(sqlite_engine) == []
    run_jobs(service_at(sqlite_engine, tmp_path, MONDAY_0900 + 7 * 24 * H))
    assert {"2026-W48" in r.text for r in weekly_rows(sqlite_engine) if r.kind == "message"} == {True}


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
