"""Next year's calendar while the service runs: the admins warned 60 days ahead, the State
Council's notice read off an upstream feed on 127.0.0.1 and offered in one chat message, an
admin's /calendar_confirm through the real python-telegram-bot against the Bot API emulator,
and the running calendar then counting the new holidays in a repost deadline.

The notice is the invented 2027 one of test_holiday_notice (the real notices' shape).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from kit.botapi import TOKEN, BotApiEmulator, botapi_fixture  # noqa: F401
from kit.enginekit import rss, write_config
from kit.feedserver import FeedServer
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from test_holiday_notice import NOTICE_2027

from responder.chat.telegram import build_application
from responder.cli import main
from responder.db import session_scope
from responder.engine.drain import drain_outbox
from responder.engine.holidays import ConfirmError, confirm_holidays
from responder.engine.poll import sync_feed_states
from responder.env import TelegramEnv
from responder.models import HolidayOffer, Incident, Outbox, Step
from responder.runtime import load_settings
from responder.senders.console import ConsoleSender
from responder.senders.telegram import TelegramSender
from responder.service import Service
from responder.workcal import package_years

SH = ZoneInfo("Asia/Shanghai")
ADMIN_CHAT, ADMIN, POLICY_OFFICE = -300, 1004, 1002
TITLE = "国务院办公厅关于2027年部分节假日安排的通知"
PUBLISHED = datetime(2026, 11, 4, 17, 0, tzinfo=SH)
NOV_5 = datetime(2026, 11, 5, 10, 0, tzinfo=SH).astimezone(UTC)  # 57 days before 2027

pytestmark = pytest.mark.skipif(
    2027 in package_years(), reason="the installed chinese_calendar knows 2027: nothing to confirm"
)


def _page(text: str) -> str:
    return "<p>" + text.replace("\n", "</p><p>") + "</p>"


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _service(engine: Engine, cfg: Path, clock: Clock) -> Service:
    settings = load_settings(cfg)
    sync_feed_states(engine, settings, clock.now - timedelta(minutes=10))
    # The steady clock follows the test clock: moving it forward is time passing, not a jump.
    return Service(settings, engine, ConsoleSender(), clock=clock, steady=lambda: clock.now.timestamp())


def _admin_rows(engine: Engine) -> list[Outbox]:
    with Session(engine) as s:
        rows = s.exec(select(Outbox).where(Outbox.chat_id == ADMIN_CHAT).order_by(col(Outbox.id))).all()
        return list(rows)


async def _until(ready: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not ready():
        assert loop.time() < deadline, "the bot did not answer in time"
        await asyncio.sleep(0.01)


async def _say(botapi: BotApiEmulator, user: int, text: str) -> str:
    before = len(botapi.messages(ADMIN_CHAT))
    botapi.inject_message(user, ADMIN_CHAT, text)
    await _until(lambda: len(botapi.messages(ADMIN_CHAT)) > before)
    return botapi.messages(ADMIN_CHAT)[-1].text


def test_the_notice_on_a_feed_is_offered_confirmed_in_chat_and_counted(
    db_engine: Engine, tmp_path: Path, feed_server: FeedServer, botapi: BotApiEmulator
) -> None:
    notice = (feed_server.url("/notice.html"), TITLE, _page(NOTICE_2027), PUBLISHED)
    feed_server.route("/gov.xml", rss([notice]))
    cfg = write_config(
        tmp_path, f"  - {{name: 国务院, url: '{feed_server.url('/gov.xml')}', kind: upstream}}\n"
    )
    clock = Clock(NOV_5)
    svc = _service(db_engine, cfg, clock)
    sender = TelegramSender.build(TOKEN, base_url=botapi.base_url, base_file_url=botapi.base_file_url)
    botapi.add_chat(ADMIN_CHAT, "管理群")
    botapi.add_user(ADMIN, "管理员")
    botapi.add_user(POLICY_OFFICE, "处长")

    async def scenario() -> None:
        await svc.poll_job()
        await svc.calendar_job()
        await svc.calendar_job()  # a second run (or a second instance) offers nothing twice
        await drain_outbox(db_engine, sender, clock.now, "test")
        said = [m.text for m in botapi.messages(ADMIN_CHAT)]
        assert len(said) == 2, said
        warning, offer = said
        assert "工作日历还不知道 2027 年" in warning and "/calendar_confirm 2027" in warning
        assert TITLE in offer and feed_server.url("/notice.html") in offer
        assert "春节：2月5日（周五）至2月13日（周六）放假，共 9 天" in offer
        assert "调休上班：2月14日（周日）、2月20日（周六）" in offer
        assert "合计：放假 29 天，调休上班 6 天" in offer and "/calendar_confirm 2027" in offer

        telegram = TelegramEnv.of(TOKEN, botapi.base_url, botapi.base_file_url)
        app = build_application(svc.settings, db_engine, telegram, clock=lambda: clock.now)
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0, timeout=1)
            try:
                assert "/calendar_confirm" in await _say(botapi, ADMIN, "/help")
                assert "/calendar_confirm" not in await _say(botapi, POLICY_OFFICE, "/help")
                refused = await _say(botapi, POLICY_OFFICE, "/calendar_confirm 2027")
                assert "不能执行「确认节假日安排」" in refused
                assert not svc.settings.calendar.knows_year(2027)
                done = await _say(botapi, ADMIN, "/calendar_confirm 2027")
                assert "2027 年节假日安排已由 管理员 确认：放假 29 天，调休上班 6 天" in done
                again = await _say(botapi, ADMIN, "/calendar_confirm 2027")
                assert "已经知道 2027 年" in again
            finally:
                await app.updater.stop()
                await app.stop()

        # The running service counts with the confirmed dates at once: a policy item received on
        # the last working day of 2026 is due at the end of Monday 4 January, not on New Year's Day.
        policy = (
            "https://www.gov.cn.example/zc/1",
            "国务院安委会关于加强安全生产工作的通知",
            "安全生产",
            None,
        )
        clock.now = datetime(2026, 12, 31, 10, 5, tzinfo=SH).astimezone(UTC)
        received = datetime(2026, 12, 31, 10, 0, tzinfo=SH)
        feed_server.route("/gov.xml", rss([notice, (*policy[:3], received)]))
        with Session(db_engine) as s:
            state = s.exec(select(Step)).all()
        assert state == []
        await svc.poll_job()
        await svc.calendar_job()
        await svc.fetcher.aclose()
        await sender.aclose()

    asyncio.run(scenario())
    assert svc.settings.calendar.knows_year(2027)
    stored = (tmp_path / "holidays.yaml").read_text(encoding="utf-8")
    assert "2027:" in stored and "confirmed_by: 管理员" in stored
    with Session(db_engine) as s:
        [inc] = s.exec(select(Incident)).all()
        steps = s.exec(select(Step).where(Step.incident_id == inc.id)).all()
        [offer] = s.exec(select(HolidayOffer)).all()
    assert inc.kind == "policy" and len(steps) == 4
    assert {st.due_at for st in steps} == {datetime(2027, 1, 5, tzinfo=SH).astimezone(UTC)}
    assert offer.confirmed_by == "管理员" and offer.year == 2027
    # No second warning once the year is known; the confirmation reached the admins' chat as the reply.
    assert sum(r.dedup_key.startswith("calendar:unknown-year:") for r in _admin_rows(db_engine)) == 1


def test_a_feed_with_the_title_only_is_read_from_the_linked_page(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.route(
        "/notice.html", f"<html><body><h1>{TITLE}</h1>{_page(NOTICE_2027)}</body></html>".encode()
    )
    items = [
        (feed_server.url("/notice.html"), TITLE, "经国务院批准，现将有关安排通知如下。", PUBLISHED),
        # A second outlet carries the same notice: the same dates, no second offer.
        (feed_server.url("/copy.html"), "受权发布丨" + TITLE, _page(NOTICE_2027), PUBLISHED),
    ]
    feed_server.route("/gov.xml", rss(items))
    cfg = write_config(
        tmp_path, f"  - {{name: 国务院, url: '{feed_server.url('/gov.xml')}', kind: upstream}}\n"
    )
    clock = Clock(NOV_5)
    svc = _service(sqlite_engine, cfg, clock)

    async def scenario() -> None:
        await svc.poll_job()
        await svc.calendar_job()
        await svc.calendar_job()
        await svc.fetcher.aclose()

    asyncio.run(scenario())
    offers = [r for r in _admin_rows(sqlite_engine) if r.dedup_key.startswith("calendar:holiday-notice:")]
    assert len(offers) == 1 and "春节：2月5日（周五）至2月13日（周六）放假，共 9 天" in offers[0].text
    assert feed_server.stats("/notice.html").hits == 1  # fetched once, however often the job runs


def test_a_notice_that_cannot_be_read_is_named_to_the_admins_once(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.route("/notice.html", "<html><body><p>页面已迁移</p></body></html>".encode())
    items = [(feed_server.url("/notice.html"), TITLE, "全文稍后发布。", PUBLISHED)]
    feed_server.route("/gov.xml", rss(items))
    cfg = write_config(
        tmp_path, f"  - {{name: 国务院, url: '{feed_server.url('/gov.xml')}', kind: upstream}}\n"
    )
    clock = Clock(NOV_5)
    svc = _service(sqlite_engine, cfg, clock)

    async def scenario() -> None:
        await svc.poll_job()
        await svc.calendar_job()
        await svc.calendar_job()
        await svc.fetcher.aclose()

    asyncio.run(scenario())
    [note] = [r for r in _admin_rows(sqlite_engine) if ":unreadable:" in r.dedup_key]
    assert "未能从中读出 2027 年的放假日期" in note.text and feed_server.url("/notice.html") in note.text
    assert "python main.py calendar import" in note.text
    assert feed_server.stats("/notice.html").hits == 1
    with Session(sqlite_engine) as s:
        assert s.exec(select(HolidayOffer)).all() == []


def test_a_year_confirmed_from_the_command_line_is_taken_up_without_a_reload(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.route("/gov.xml", rss([]))
    cfg = write_config(
        tmp_path, f"  - {{name: 国务院, url: '{feed_server.url('/gov.xml')}', kind: upstream}}\n"
    )
    svc = _service(sqlite_engine, cfg, Clock(NOV_5))
    (tmp_path / "notice.txt").write_text(NOTICE_2027, encoding="utf-8")
    assert main(["calendar", "import", str(tmp_path / "notice.txt"), "--config", str(cfg), "--confirm"]) == 0
    assert not svc.settings.calendar.knows_year(2027)

    async def job() -> None:
        await svc.calendar_job()
        await svc.fetcher.aclose()

    asyncio.run(job())
    assert svc.settings.calendar.knows_year(2027)
    assert not svc.settings.calendar.is_workday(datetime(2027, 2, 5).date())  # 除夕
    assert not [r for r in _admin_rows(sqlite_engine) if r.dedup_key.startswith("calendar:unknown-year:")]


def test_a_notice_page_that_does_not_answer_is_tried_again(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.route("/notice.html", b"busy", status=503, content_type="text/html")
    feed_server.route("/gov.xml", rss([(feed_server.url("/notice.html"), TITLE, "全文见链接。", PUBLISHED)]))
    cfg = write_config(
        tmp_path, f"  - {{name: 国务院, url: '{feed_server.url('/gov.xml')}', kind: upstream}}\n"
    )
    clock = Clock(NOV_5)
    svc = _service(sqlite_engine, cfg, clock)

    async def scenario() -> None:
        await svc.poll_job()
        await svc.calendar_job()
        assert not [r for r in _admin_rows(sqlite_engine) if "holiday-notice" in r.dedup_key]
        feed_server.route("/notice.html", _page(NOTICE_2027).encode(), content_type="text/html")
        clock.now += timedelta(minutes=1)
        await svc.calendar_job()
        await svc.fetcher.aclose()

    asyncio.run(scenario())
    [offer] = [r for r in _admin_rows(sqlite_engine) if "holiday-notice" in r.dedup_key]
    assert "国庆节：10月1日（周五）至10月7日（周四）放假，共 7 天" in offer.text


def test_a_schedule_file_the_service_cannot_write_is_answered_in_words(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path, "  - {name: 国务院, url: feeds/x.xml, kind: upstream}\n")
    roster = tmp_path / "roster.yaml"
    roster.write_text(
        roster.read_text(encoding="utf-8") + "calendar:\n  schedule_file: blocked/holidays.yaml\n"
    )
    (tmp_path / "blocked").write_text("a file where a folder should be", encoding="utf-8")
    settings = load_settings(cfg)
    with session_scope(sqlite_engine) as s:
        s.add(HolidayOffer(year=2027, digest="d", holidays=["2027-01-01"], title=TITLE, offered_at=NOV_5))
    with session_scope(sqlite_engine) as s, pytest.raises(ConfirmError) as refused:
        confirm_holidays(s, settings, 2027, "管理员", NOV_5)
    assert "无法写入" in refused.value.message and "calendar.schedule_file" in refused.value.message
    assert not settings.calendar.knows_year(2027)
