"""Who gets a message is the playbook's escalation role, not a fixed level → chat table."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kit.enginekit import ROOT, Service, rss, write_config
from kit.feedserver import FeedServer
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from responder.cli import main
from responder.db import session_scope
from responder.engine.cycle import run_cycle
from responder.models import Incident, IncidentEvent, Report, Step

NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai
DUTY, POLICY = -100, -200
DUTY_OFFICER, POLICY_HEAD, HEAD = 1001, 1002, 1003


def playbooks_with_policy_office_first(tmp_path: Path) -> Path:
    """The shipped playbooks, but serious incidents go to the policy office first, then the head."""
    books = tmp_path / "playbooks"
    shutil.copytree(ROOT / "playbooks", books)
    (books / "serious-incident.yaml").write_text(
        """\
name: serious-incident
title: 较大及以上事故信息公开
trigger:
  min_grade: 较大
steps:
  - key: publish_info
    title: 公开事故情况
    deadline: 1h
escalation:
  levels:
    - level: 1
      role: policy_office
      ack_timeout: 15m
    - level: 2
      role: head
      ack_timeout: 1h
""",
        encoding="utf-8",
    )
    return books


def test_the_level_role_decides_who_is_alerted(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    books = playbooks_with_policy_office_first(tmp_path)
    report = ("https://news.example/r1", "六安市霍邱县一铁矿发生透水事故", "事故造成3人遇难。", NOW)
    feed_server.route("/news.xml", rss([report]))
    cfg = write_config(
        tmp_path, f"  - name: 新闻\n    url: {feed_server.url('/news.xml')}\n", playbooks=books
    )
    assert main(["check-config", "--config", str(cfg)]) == 0

    svc = Service.start(sqlite_engine, cfg, NOW - timedelta(minutes=5))
    svc.step(NOW)
    cards = [o for o in svc.outbox() if ":escalation:L1:r0" in o.dedup_key]
    # Level 1 is the policy office: its chat gets the card, the duty chat and officer do not.
    assert [c.chat_id for c in cards] == [POLICY]
    assert "第1级（政策法规处）：法规处长" in cards[0].text

    # Unacknowledged past its 15 minutes: level 2 is the head (private chat + policy office).
    svc.step(NOW + timedelta(minutes=16))
    level2 = {o.chat_id for o in svc.outbox() if ":escalation:L2:r0" in o.dedup_key}
    assert level2 == {HEAD, POLICY}
    assert DUTY not in {o.chat_id for o in svc.outbox()}


def test_watch_items_are_announced_once_to_the_policy_office(sqlite_engine: Engine, tmp_path: Path) -> None:
    # Non-accident sentiment (a statistics bulletin, a verdict) is stored as an incident of kind
    # "watch": the shipped playbook owes nothing by a clock and has one level, the policy office.
    cfg = write_config(tmp_path, "  - name: 新闻\n    url: feeds/none.xml\n")
    svc = Service.start(sqlite_engine, cfg, NOW)
    with session_scope(sqlite_engine) as s:
        row = Incident(
            kind="watch",
            title="省统计局发布前三季度安全生产统计公报",
            heat=1,
            first_published=NOW - timedelta(hours=2),
            detected_at=NOW,
        )
        s.add(row)
    for hours in (0, 1, 6, 30, 80):
        run_cycle(sqlite_engine, svc.settings, NOW + timedelta(hours=hours))
    rows = svc.outbox()
    assert [(o.dedup_key, o.chat_id) for o in rows] == [
        (f"incident:{row.id}:escalation:L1:r0@{POLICY}", POLICY)
    ]
    assert "第1级（政策法规处）：法规处长" in rows[0].text and "【关注】舆情关注" in rows[0].text
    assert "确认" in str(rows[0].buttons)
    with Session(sqlite_engine) as s:
        inc = s.get_one(Incident, row.id)
        escalated = s.exec(select(IncidentEvent).where(IncidentEvent.kind == "escalated")).all()
        steps = s.exec(select(Step)).all()
    assert inc.escalation_level == 1 and steps == []
    assert [(e.data["level"], e.data["role"]) for e in escalated] == [(1, "policy_office")]


def test_a_bulletin_in_a_feed_becomes_a_watch_item_for_the_policy_office_alone(
    sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer
) -> None:
    # Through the real intake: the feed is fetched and parsed, the item is read as a statistics
    # bulletin (not a current accident), grouped into a watch incident, and the cycle announces
    # it once by the watch playbook's only level: the policy office, never the duty chat.
    bulletin = (
        "https://news.example/bulletin",
        "安徽前三季度安全生产形势总体平稳",
        "前三季度，全省共发生生产安全事故412起、死亡286人，同比分别下降12%和9%。",
        NOW - timedelta(minutes=30),
    )
    feed_server.route("/news.xml", rss([bulletin]))
    cfg = write_config(tmp_path, f"  - name: 新闻\n    url: {feed_server.url('/news.xml')}\n")
    svc = Service.start(sqlite_engine, cfg, NOW - timedelta(minutes=5))
    for hours in (0, 1, 6, 30):
        svc.step(NOW + timedelta(hours=hours))

    with Session(sqlite_engine) as s:
        [inc] = s.exec(select(Incident)).all()
        [report] = s.exec(select(Report)).all()
        assert s.exec(select(Step)).all() == []  # no statutory clock
    assert (report.kind, report.incident_id) == ("bulletin", inc.id)
    assert (inc.kind, inc.grade, inc.escalation_level) == ("watch", None, 1)
    rows = svc.outbox()
    assert [(o.dedup_key, o.chat_id) for o in rows] == [
        (f"incident:{inc.id}:escalation:L1:r0@{POLICY}", POLICY)
    ]
    assert "【关注】舆情关注" in rows[0].text and "安徽前三季度安全生产形势总体平稳" in rows[0].text
    assert DUTY not in {o.chat_id for o in rows} and DUTY_OFFICER not in {o.chat_id for o in rows}
