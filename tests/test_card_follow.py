"""Cards that stay true: they follow the incident (debounced), show each step's proof, and keep
their deadlines, status and buttons whatever the length of a title.

The engine runs against a real SQLite file on feeds served from 127.0.0.1 at fixed moments
(tests/kit/enginekit.py); the cards are read as the outbox holds them and, at the end, as
the Bot API emulator shows them after the real sender delivered them.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from kit.botapi import TOKEN, BotApiEmulator, botapi_fixture  # noqa: F401
from kit.enginekit import ROOT, Service, rss, write_config
from kit.feedserver import FeedServer
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from responder.chat.views import incident_card
from responder.engine.cycle import run_cycle
from responder.engine.drain import drain_outbox
from responder.models import Incident, Outbox
from responder.present.cards import card, card_buttons
from responder.present.html import TEXT_LIMIT, strip_tags, visible_len
from responder.present.views import IncidentView, StepView
from responder.senders.telegram import TelegramSender
from responder.vocab import Grade, IncidentKind, IncidentStatus

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai
T0 = NOW - timedelta(minutes=30)
M = timedelta(minutes=1)
TITLE = "淮南市潘集区一化工厂发生爆炸"
TEXT = "潘集区一化工厂发生爆炸，事故已造成12人死亡。"


def the_incident(engine: Engine) -> Incident:
    with Session(engine) as s:
        [inc] = s.exec(select(Incident).where(Incident.kind == "event")).all()
        return inc


def rows(engine: Engine, kind: str) -> list[Outbox]:
    with Session(engine) as s:
        return list(s.exec(select(Outbox).where(Outbox.kind == kind).order_by(col(Outbox.id))).all())


def one_outlet_each(engine: Engine, server: FeedServer, tmp_path: Path, outlets: int) -> Service:
    """Feeds 新闻0 … 新闻N-1 (polled every 30 s), each serving nothing yet."""
    sources = ""
    for i in range(outlets):
        server.route(f"/n{i}.xml", rss([]))
        sources += f"  - name: 新闻{i}\n    url: {server.url(f'/n{i}.xml')}\n    interval: 30s\n"
    return Service.start(engine, write_config(tmp_path, sources), T0)


def publish(server: FeedServer, i: int, text: str = TEXT) -> None:
    server.route(f"/n{i}.xml", rss([(f"https://news{i}.example/a", TITLE, text, T0)]))


def test_a_joining_report_re_renders_the_cards_within_the_debounce(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    svc = one_outlet_each(sqlite_engine, feed_server, tmp_path, 4)
    publish(feed_server, 0)
    svc.step(NOW)
    cards = [r for r in rows(sqlite_engine, "message") if ":escalation:" in r.dedup_key]
    assert cards and all("热度：1 个来源" in c.text and "报道（1）" in c.text for c in cards)

    # A second outlet joins, without a grade change: the cards are edited at once (no edit yet).
    publish(feed_server, 1)
    svc.step(NOW + M)
    edits = rows(sqlite_engine, "edit")
    assert {e.edit_of for e in edits} == {c.id for c in cards}
    assert all("热度：2 个来源" in e.text and "报道（2）" in e.text for e in edits)

    # A third joins a minute later: no edit yet (one per card per 2 minutes) …
    publish(feed_server, 2)
    svc.step(NOW + 2 * M)
    assert len(rows(sqlite_engine, "edit")) == len(cards)
    # … and not after a restart either: the decision reads the database, not memory.
    run_cycle(sqlite_engine, svc.settings, NOW + 2 * M + timedelta(seconds=59))
    assert len(rows(sqlite_engine, "edit")) == len(cards)
    # Two minutes after the last edit, the cards show the third outlet, without any other change.
    run_cycle(sqlite_engine, svc.settings, NOW + 3 * M)
    latest = rows(sqlite_engine, "edit")[len(cards) :]
    assert len(latest) == len(cards) and all(
        "热度：3 个来源" in e.text and "报道（3）" in e.text for e in latest
    )
    run_cycle(sqlite_engine, svc.settings, NOW + 10 * M)  # nothing changed since: nothing edited
    assert len(rows(sqlite_engine, "edit")) == 2 * len(cards)

    # A grade rise is shown at once, however recent the last edit.
    publish(feed_server, 3, "潘集区一化工厂发生爆炸，事故已造成35人死亡。")
    svc.step(NOW + 10 * M + timedelta(seconds=30))
    raised = rows(sqlite_engine, "edit")[2 * len(cards) :]
    # Every card, the level-2 card of the climb at 16:10 included.
    now_cards = [r for r in rows(sqlite_engine, "message") if ":escalation:" in r.dedup_key]
    assert len(now_cards) > len(cards) and {e.edit_of for e in raised} == {c.id for c in now_cards}
    assert all("【特别重大】" in e.text and "死亡 35人" in e.text and "报道（4）" in e.text for e in raised)
    assert the_incident(sqlite_engine).grade == "特别重大"


def test_an_automatic_completion_names_the_own_outlet_item_on_card_and_status(sqlite_engine: Engine) -> None:
    """The offline example's portal already reposted the hazardous-chemicals item."""
    svc = Service.start(sqlite_engine, ROOT / "examples/offline/feeds.yaml", NOW)
    svc.step(NOW + 5 * M)
    with Session(sqlite_engine) as s:
        chem = next(i for i in s.exec(select(Incident)).all() if "危险化学品" in i.title)
        found = incident_card(s, svc.settings, chem.id, NOW + 6 * M)
    assert found is not None
    text, buttons = found
    shown = strip_tags(text)
    portal = next(line for line in shown.splitlines() if "上级政策信息·门户网站" in line)
    assert "已完成" in portal and "本厅门户网站（示例）" in portal
    proof = shown.splitlines()[shown.splitlines().index(portal) + 1]
    assert proof.strip().startswith("证据：自动确认：门户网站「本厅门户网站（示例）」")
    assert "发布《" in proof and "链接：http" in proof
    # The other outlets are still owed, one button each; the portal's is gone.
    labels = [b["text"] for row in buttons or [] for b in row]
    assert "已转载·门户网站" not in labels and "已转载·政务微博" in labels
    # The card that went out says the same.
    card = next(o for o in svc.outbox() if o.incident_id == chem.id and ":escalation:" in o.dedup_key)
    assert "证据：自动确认：门户网站「本厅门户网站（示例）」" in strip_tags(card.text)


def test_a_ten_thousand_character_title_keeps_deadlines_status_and_buttons(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer, botapi: BotApiEmulator
) -> None:
    long_title = TITLE + "（" + "现场视频" * 2500 + "）"
    assert len(long_title) > 10_000
    reports = [(f"https://news.example/{i}", long_title + str(i), TEXT, T0 + i * M) for i in range(12)]
    feed_server.route("/n.xml", rss(reports))
    cfg = write_config(tmp_path, f"  - name: 新闻\n    url: {feed_server.url('/n.xml')}\n")
    svc = Service.start(sqlite_engine, cfg, NOW - 10 * M)
    svc.step(NOW)
    [card] = [
        o for o in rows(sqlite_engine, "message") if o.chat_id == -100 and ":escalation:" in o.dedup_key
    ]
    assert visible_len(card.text) <= TEXT_LIMIT - 200  # room for nothing to be cut by the sender
    shown = strip_tags(card.text)
    assert "截止" in shown and "剩余" in shown and "状态：待确认" in shown and "…" in shown
    assert "另有" in shown  # report lines left out are counted

    botapi.add_chat(-100, "值班群")

    async def deliver() -> None:
        sender = TelegramSender.build(TOKEN, base_url=botapi.base_url, base_file_url=botapi.base_file_url)
        try:
            await drain_outbox(sqlite_engine, sender, NOW, "test")
        finally:
            await sender.aclose()

    asyncio.run(deliver())
    [arrived] = [m for m in botapi.messages(-100) if m.buttons]
    assert "状态：待确认" in arrived.text and "公开事故情况 截止" in arrived.text
    assert [b["text"] for b in arrived.buttons[0]] == ["确认", "误报"]


def test_the_step_due_decides_the_buttons() -> None:
    """A step that publishes offers its outlets; a press conference asks whether the head attended."""
    step = StepView("statement", "发布权威信息", None, 0, T0, None, T0 + 5 * 60 * M, obligation="statement")
    conference = StepView(
        "press_conference",
        "举行新闻发布会",
        None,
        0,
        T0,
        None,
        T0 + 24 * 60 * M,
        obligation="press_conference",
    )
    inc = IncidentView(
        1, IncidentKind.EVENT, TITLE, Grade.重大, IncidentStatus.OPEN, 1, 12, None, None, T0, T0
    )
    first = card_buttons(dataclasses.replace(inc, steps=(step, conference)))
    assert first is not None
    assert [b["text"] for b in first[0]] == ["确认", "误报"]
    labels = [b["text"] for row in first[1:] for b in row]
    assert labels == [
        "已发布·门户",
        "已发布·微博",
        "已发布·微信",
        "已发布·客户端",
        "已发布·发布会",
        "已发布·其他",
    ]
    assert first[1][1]["callback_data"] == "done:1:statement:weibo"
    done = dataclasses.replace(step, done_at=T0 + M, done_by="法规处长")
    later = card_buttons(
        dataclasses.replace(inc, status=IncidentStatus.ACKNOWLEDGED, steps=(done, conference))
    )
    assert later == [
        [{"text": "误报", "callback_data": "dismiss:1"}],
        [
            {"text": "已召开·主要负责同志参加", "callback_data": "done:1:press_conference:head"},
            {"text": "已召开·主要负责同志未参加", "callback_data": "done:1:press_conference:nohead"},
        ],
    ]
    # A completion with nothing recorded says so on the card.
    assert "证据：未登记链接或发布渠道" in card(dataclasses.replace(inc, steps=(done,)), SH, T0 + 2 * M)


def test_a_repost_card_lists_the_outlets_in_the_order_the_rules_name_them() -> None:
    """门户网站、政务微博、微信、政务客户端: the card's lines and its buttons, whatever order the rows came in."""
    due = T0 + 24 * 60 * M
    steps = tuple(
        StepView("repost", "转载、链接上级政策信息", channel, 0, T0, T0 + 60 * M, due, obligation="repost")
        for channel in ("app", "wechat", "portal", "weibo")
    )
    inc = IncidentView(
        3, IncidentKind.POLICY, TITLE, None, IncidentStatus.OPEN, 1, None, None, None, T0, T0, steps=steps
    )
    lines = [line for line in strip_tags(card(inc, SH, T0 + M)).splitlines() if "转载、链接" in line]
    assert [line.split("·")[1].split()[0] for line in lines] == ["门户网站", "政务微博", "微信", "客户端"]
    buttons = card_buttons(inc)
    assert buttons is not None
    assert [b["callback_data"].rsplit(":", 1)[1] for row in buttons[1:] for b in row] == [
        "portal",
        "weibo",
        "wechat",
        "app",
    ]
