"""The ledger (台账) and its .xlsx, the board and an incident's timeline, from incidents the engine made.

A feed on 127.0.0.1 is polled and cycled at fixed times (tests/kit/enginekit.py); people act
through `responder.engine.actions` as the console does (source "web", a client address);
the workbook is read back with openpyxl, a different library from the one that wrote it.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from kit.enginekit import Service, rss, write_config
from kit.feedserver import FeedServer
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from responder.db import session_scope
from responder.engine import actions
from responder.engine.actions import Actor
from responder.i18n import t
from responder.models import Incident, IncidentEvent
from responder.web.board import load_board
from responder.web.ledger import LedgerFilter, load_ledger
from responder.web.timeline import load_incident
from responder.web.xlsx import COLUMNS, ledger_xlsx

NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai
T0 = NOW - timedelta(minutes=30)
EXPLOSION = ("https://news.example/a1", "淮南市潘集区一化工厂发生爆炸", "事故已造成12人死亡。", T0)
MINOR = ("https://news.example/c1", "合肥市一仓库发生火灾", "火灾造成1人死亡。", T0)
POLICY = (
    "https://gov.example/p1",
    '=HYPERLINK("x")国务院安委会关于加强冬季安全生产工作的通知',
    "安全生产",
    T0,
)
EVIDENCE = "https://www.example.gov.cn/xwfb/2026/1121/statement.html"
DAY = date(2026, 11, 21)


@pytest.fixture
def svc(sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer) -> Service:
    feed_server.route("/news.xml", rss([EXPLOSION, MINOR]))
    feed_server.route("/gov.xml", rss([POLICY]))
    sources = (f"  - name: 新闻A\n    url: {feed_server.url('/news.xml')}\n"
               f"  - name: 国务院\n    url: {feed_server.url('/gov.xml')}\n    kind: upstream\n")  # fmt: skip
    service = Service.start(sqlite_engine, write_config(tmp_path, sources), NOW - timedelta(minutes=10))
    service.step(NOW)
    return service


def _incident(engine: Engine, part: str) -> Incident:
    with Session(engine) as s:
        return next(i for i in s.exec(select(Incident)).all() if part in i.title)


def _web(svc: Service, user_id: int) -> Actor:
    p = svc.settings.roster.person(user_id)
    assert p is not None
    return Actor(p.telegram_id, p.name, frozenset(p.roles), source="web", address="192.0.2.10")


def _work(svc: Service) -> tuple[Incident, Incident, Incident]:
    big, minor, policy = (_incident(svc.engine, w) for w in ("淮南", "合肥", "国务院"))
    policy_office = _web(svc, 1002)
    with session_scope(svc.engine) as s:
        actions.acknowledge(s, svc.settings, big.id, policy_office, None, NOW + timedelta(minutes=5))  # type: ignore[arg-type]
    with session_scope(svc.engine) as s:  # 发布权威信息 (5 h) on time, with evidence
        actions.complete_step(s, svc.settings, big.id, "statement", "", policy_office, None,  # type: ignore[arg-type]
                              NOW + timedelta(hours=1), EVIDENCE)  # fmt: skip
    with session_scope(svc.engine) as s:  # 公开事故情况 (1 h from T0) done late
        actions.complete_step(s, svc.settings, big.id, "publish_info", "", policy_office, None,  # type: ignore[arg-type]
                              NOW + timedelta(hours=1))  # fmt: skip
    with session_scope(svc.engine) as s:
        actions.dismiss(
            s, svc.settings, minor.id, "系演练报道", policy_office, None, NOW + timedelta(minutes=20)
        )  # type: ignore[arg-type]
    with session_scope(svc.engine) as s:  # a repost on Weibo, from an open incident: acknowledges it too
        actions.complete_step(s, svc.settings, policy.id, "repost", "weibo", policy_office, None,  # type: ignore[arg-type]
                              NOW + timedelta(minutes=40), "https://weibo.example/status/1")  # fmt: skip
    return big, minor, policy


def test_web_actions_are_logged_with_source_person_and_address(svc: Service) -> None:
    _big, _, policy = _work(svc)
    with Session(svc.engine) as s:
        logged = s.exec(select(IncidentEvent).where(IncidentEvent.actor_name == "法规处长")).all()
    kinds = sorted(e.kind for e in logged)
    assert kinds == ["acknowledged", "acknowledged", "dismissed", "step_done", "step_done", "step_done"]
    for e in logged:
        assert e.actor_id == 1002 and e.chat_id is None
        assert e.data["source"] == "web" and e.data["address"] == "192.0.2.10", e.kind
    implicit = [e for e in logged if e.incident_id == policy.id and e.kind == "acknowledged"]
    assert implicit[0].data.get("implicit") is True


def test_ledger_rows_and_filters(svc: Service) -> None:
    big, minor, policy = _work(svc)
    tz, later = svc.settings.tz, NOW + timedelta(hours=2)
    everything = load_ledger(svc.engine, LedgerFilter(DAY, DAY), tz, later)
    by_incident = {i.id: [r for r in everything if r.incident.id == i.id] for i in (big, minor, policy)}
    # The 重大 explosion owes four steps; the dismissed 一般 fire owes none but is listed; the policy item
    # owes a repost on each of four outlets.
    assert len(by_incident[big.id]) == 4 and len(by_incident[policy.id]) == 4
    assert [(r.step, r.timeliness) for r in by_incident[minor.id]] == [(None, "")]
    assert "系演练报道" in by_incident[minor.id][0].note
    statement = next(r for r in by_incident[big.id] if r.step and r.step.key == "statement")
    assert (statement.timeliness, statement.responsible, statement.step.evidence_link) == (
        "on_time",
        "法规处长",
        EVIDENCE,
    )
    publish = next(r for r in by_incident[big.id] if r.step and r.step.key == "publish_info")
    assert publish.timeliness == "late"
    # 发布情况 as the incident page says it: per done step, from its completion's record.
    record = load_incident(svc.engine, svc.settings.roster, tz, big.id)
    assert record is not None
    assert {r.step.id: r.proof for r in by_incident[big.id] if r.step and r.step.done_at} == record.proofs
    repost = {r.step.channel: r.proof for r in by_incident[policy.id] if r.step}
    assert repost == {"weibo": "发布渠道：政务微博", "portal": "", "wechat": "", "app": ""}

    late = load_ledger(svc.engine, LedgerFilter(DAY, DAY, timeliness="late"), tz, later)
    assert {(r.incident.id, r.step.key) for r in late if r.step} == {(big.id, "publish_info")}
    on_time = load_ledger(svc.engine, LedgerFilter(DAY, DAY, timeliness="on_time"), tz, later)
    assert {(r.step.key, r.step.channel) for r in on_time if r.step} == {
        ("statement", None),  # a step of no outlet has channel None in Python (stored as '')
        ("repost", "weibo"),
    }
    assert {
        r.incident.id for r in load_ledger(svc.engine, LedgerFilter(DAY, DAY, kind="policy"), tz, later)
    } == {policy.id}
    assert {
        r.incident.id for r in load_ledger(svc.engine, LedgerFilter(DAY, DAY, grade="一般"), tz, later)
    } == {minor.id}
    assert {
        r.incident.id for r in load_ledger(svc.engine, LedgerFilter(DAY, DAY, status="dismissed"), tz, later)
    } == {minor.id}
    # Detected on 21 November (Shanghai): nothing the day before.
    day_before = DAY - timedelta(days=1)
    assert load_ledger(svc.engine, LedgerFilter(day_before, day_before), tz, later) == []


def test_ledger_filter_from_query_refuses_bad_values() -> None:
    f = LedgerFilter.from_query({}, DAY)
    assert (f.start, f.end) == (date(2026, 11, 1), DAY)
    for bad in ({"start": "21/11/2026"}, {"start": "2026-11-22", "end": "2026-11-21"}, {"grade": "严重"},
                {"timeliness": "soon"}):  # fmt: skip
        with pytest.raises(ValueError):
            LedgerFilter.from_query(bad, DAY)


def test_xlsx_has_the_office_columns_and_the_rows(svc: Service) -> None:
    big, minor, policy = _work(svc)
    p = svc.settings.roster.person(1002)
    assert p is not None
    chat = Actor(p.telegram_id, p.name, frozenset(p.roles))
    with session_scope(svc.engine) as s:  # from the chat: the conference held, the head attending
        actions.complete_step(s, svc.settings, big.id, "press_conference", "", chat, -200,  # type: ignore[arg-type]
                              NOW + timedelta(hours=1), outlets=["press_conference"], head_attended=True)  # fmt: skip
    tz, later = svc.settings.tz, NOW + timedelta(hours=2)
    f = LedgerFilter(DAY, DAY)
    rows = load_ledger(svc.engine, f, tz, later)
    data = ledger_xlsx(rows, f, tz, later, incident_url="https://yq.example.gov.cn/incidents/{id}")
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book[t("web_xlsx_sheet")]
    header = [c.value for c in sheet[1]]
    assert header == [t(key) for key, _ in COLUMNS]
    for name in (
        "事件",
        "等级",
        "首发时间",
        "发现时间",
        "截止时间",
        "完成时间",
        "是否超时",
        "责任人",
        "发布情况",
        "证据链接",
        "处理说明",
    ):
        assert name in header
    col = {name: header.index(name) for name in header}
    table = [[c.value for c in r] for r in sheet.iter_rows(min_row=2)]
    assert len(table) == len(rows) == 9
    statement = next(r for r in table if r[col["事项"]] == "发布权威信息")
    assert statement[col["等级"]] == "重大" and statement[col["责任人"]] == "法规处长"
    assert statement[col["是否超时"]] == t("web_late_on_time") and statement[col["证据链接"]] == EVIDENCE
    # Times are the Shanghai wall clock: done at NOW + 1 h = 17:00 local.
    assert statement[col["完成时间"]] == datetime(2026, 11, 21, 17, 0)
    assert statement[col["首发时间"]] == datetime(2026, 11, 21, 15, 30)
    publish = next(r for r in table if r[col["事项"]] == "公开事故情况")
    assert publish[col["是否超时"]] == t("web_late_late")
    # Where each completion was published, in the incident page's (and the cards') words.
    assert publish[col["发布情况"]] == t("evidence_none")  # done without saying where
    conference = next(r for r in table if r[col["事项"]] == "举行新闻发布会")
    assert conference[col["发布情况"]] == "发布渠道：新闻发布会，主要负责同志参加"
    weibo = next(r for r in table if r[col["编号"]] == policy.id and r[col["事项"]].endswith("政务微博"))
    assert weibo[col["发布情况"]] == "发布渠道：政务微博"
    assert {r[col["发布情况"]] for r in table if r[col["完成时间"]] is None} <= {"", None}  # open: empty
    # A title that looks like a formula is text, and links to the incident's page.
    policy_rows = [r for r in table if r[col["编号"]] == policy.id]
    assert policy_rows[0][col["事件"]] == POLICY[1]
    cell = next(c for c in sheet.iter_rows(min_row=2) if c[0].value == policy.id)[col["事件"]]
    assert (
        cell.data_type == "s" and cell.hyperlink.target == f"https://yq.example.gov.cn/incidents/{policy.id}"
    )
    dismissed = next(r for r in table if r[col["编号"]] == minor.id)
    assert "系演练报道" in dismissed[col["处理说明"]] and dismissed[col["事项"]] in ("", None)


def test_board_and_timeline_show_the_record(svc: Service) -> None:
    big, _minor, policy = _work(svc)
    board = load_board(svc.engine, NOW + timedelta(hours=2))
    assert [b.incident.id for b in board.events] == [big.id]  # the dismissed fire has left the board
    [row] = board.events
    assert row.alerting.level >= 1 and "值班员甲" in row.alerting.names
    assert [p.incident.id for p in board.policies] == [policy.id]
    cells = board.policies[0].by_channel()
    assert cells["weibo"] is not None and cells["weibo"].done_at is not None
    assert cells["portal"] is not None and cells["portal"].done_at is None
    record = load_incident(svc.engine, svc.settings.roster, svc.settings.tz, big.id)
    assert record is not None
    kinds = [e.kind for e in record.timeline]
    assert kinds[0] == "report" and {"acknowledged", "step_done", "alert", "escalated"} <= set(kinds)
    done = next(e for e in record.timeline if e.kind == "step_done" and e.links)
    assert done.links == [(t("web_field_evidence"), EVIDENCE)]
    assert "法规处长" in done.who and "192.0.2.10" in done.who
    alert = next(e for e in record.timeline if e.kind == "alert")
    assert (t("web_field_to"), t("web_chat_duty")) in alert.details
    assert load_incident(svc.engine, svc.settings.roster, svc.settings.tz, 9999) is None


def test_timeline_and_steps_say_where_a_completion_was_published(svc: Service) -> None:
    big, _minor, policy = _work(svc)
    # From the chat: the press conference held, the head attending, with the video's link.
    p = svc.settings.roster.person(1002)
    assert p is not None
    chat = Actor(p.telegram_id, p.name, frozenset(p.roles))
    video = "https://www.example.gov.cn/xwfb/2026/1121/conference.html"
    with session_scope(svc.engine) as s:
        actions.complete_step(s, svc.settings, big.id, "press_conference", "", chat, -200,  # type: ignore[arg-type]
                              NOW + timedelta(hours=2), video, outlets=["press_conference"], head_attended=True)  # fmt: skip
    said = "发布渠道：新闻发布会，主要负责同志参加"  # the card's words (evidence_outlets, evidence_head_yes)
    record = load_incident(svc.engine, svc.settings.roster, svc.settings.tz, big.id)
    assert record is not None
    [conference] = [
        e for e in record.timeline if e.kind == "step_done" and e.links == [(t("web_field_evidence"), video)]
    ]
    assert (t("web_field_proof"), said) in conference.details
    by_key = {st.key: st for st in record.steps}
    assert record.proofs[by_key["press_conference"].id] == said
    # Done without saying where: the page says so, as the card does.
    assert record.proofs[by_key["publish_info"].id] == t("evidence_none")
    # A per-outlet repost names its outlet.
    reposts = load_incident(svc.engine, svc.settings.roster, svc.settings.tz, policy.id)
    assert reposts is not None
    [weibo] = [st for st in reposts.steps if st.channel == "weibo"]
    assert reposts.proofs == {weibo.id: "发布渠道：政务微博"}
