"""Acting without Telegram: `python main.py ack|done|dismiss|close ID … --as NAME`.

The real `run` process in console mode (no bot token: the quick start, or a bureau whose
network cannot reach Telegram) watches a feed on 127.0.0.1 with a playbook whose first
level waits 20 s for an acknowledgement. Two incidents are alerted; one is acknowledged
from the command line. The other climbs to level 2 when its 20 s pass, and that is the
moment the test checks that the acknowledged one did not. Waits are bounded waits for
another process's I/O.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kit.enginekit import rss
from kit.feedserver import FeedServer
from kit.servicekit import ROOT, ROSTER, ServiceProcess, migrate, wait_until
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from responder.db import make_engine
from responder.models import Incident, IncidentEvent, Step

PLAYBOOK = """\
name: fast
title: 测试流程
trigger:
  min_grade: 较大
steps:
  - key: statement
    title: 发布权威信息
    deadline: 5h
escalation:
  levels:
    - {level: 1, role: duty_officer, ack_timeout: 20s}
    - {level: 2, role: policy_office}
"""
FIRE = ("https://news.example/c1", "合肥市一化工厂发生爆炸事故造成3人死亡", "合肥消息:化工厂爆炸，3人死亡。")
FLOOD = ("https://news.example/c2", "淮北市一煤矿发生透水事故造成4人遇难", "淮北消息:煤矿透水，4人遇难。")


@pytest.fixture
def console_service(tmp_path: Path, feed_server: FeedServer) -> Iterator[tuple[ServiceProcess, Path, str]]:
    published = datetime.now(UTC) - timedelta(minutes=5)
    feed_server.route("/n.xml", rss([(link, title, text, published) for link, title, text in (FIRE, FLOOD)]))
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "fast.yaml").write_text(PLAYBOOK, encoding="utf-8")
    (tmp_path / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    cfg = tmp_path / "feeds.yaml"
    cfg.write_text(
        "playbooks: playbooks\nroster: roster.yaml\npolling: {interval: 2s, jitter: 0}\n"
        "web: {enabled: false}\n"
        f"sources:\n  - {{name: 新闻, url: '{feed_server.url('/n.xml')}'}}\n"
        "schemes:\n  - name: 安徽事故\n    region: [合肥, 淮北]\n    event: [爆炸, 透水, 死亡, 遇难]\n",
        encoding="utf-8",
    )
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    migrate(url)
    proc = ServiceProcess(cfg, url, tmp_path / "run.log", cycle_seconds=0.5)
    try:
        yield proc, cfg, url
    finally:
        proc.stop()


def cli(url: str, cfg: Path, *words: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_URL"))}
    env["DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "main.py", *words, "--config", str(cfg)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def incidents(engine: Engine) -> dict[str, Incident]:
    with Session(engine) as s:
        return {i.title[:2]: i for i in s.exec(select(Incident)).all()}


def events(engine: Engine, iid: int, kind: str) -> list[IncidentEvent]:
    with Session(engine) as s:
        q = select(IncidentEvent).where(IncidentEvent.incident_id == iid, IncidentEvent.kind == kind)
        return list(s.exec(q.order_by(col(IncidentEvent.id))).all())


def test_a_command_line_ack_stops_the_escalation_and_is_logged(
    console_service: tuple[ServiceProcess, Path, str],
) -> None:
    proc, cfg, url = console_service
    proc.wait_running()
    engine = make_engine(url)

    def alerted() -> bool:
        found = incidents(engine)
        return len(found) == 2 and all(i.escalation_level == 1 for i in found.values())

    def climbed(iid: int) -> bool:
        return any(e.data["level"] == 2 for e in events(engine, iid, "escalated"))

    wait_until(alerted, 30, "both incidents alerted at level 1")
    fire, flood = incidents(engine)["合肥"], incidents(engine)["淮北"]

    done = cli(url, cfg, "ack", str(fire.id), "--as", "值班员甲")
    assert done.returncode == 0, done.stderr
    assert f"#{fire.id} 已由 值班员甲 确认" in done.stdout
    [ack] = events(engine, fire.id, "acknowledged")
    assert (ack.actor_name, ack.actor_id, ack.chat_id, ack.data["level"]) == ("值班员甲", 1001, None, 1)
    assert ack.data["source"] == "cli" and "@" in ack.data["address"]

    # The other incident climbs when its 20 s pass; the acknowledged one stays where it was.
    wait_until(lambda: climbed(flood.id), 60, "the unacknowledged incident to climb")
    assert fire.escalated_at is not None  # and a few cycles past its own 20 s, had it not been acknowledged:
    wait_until(lambda: datetime.now(UTC) > fire.escalated_at + timedelta(seconds=22), 10, "its timeout")
    assert incidents(engine)["合肥"].escalation_level == 1
    assert [e.data["level"] for e in events(engine, fire.id, "escalated")] == [1]
    # The alerted chat was told, through the outbox: in console mode, on the service's console.
    wait_until(lambda: f"#{fire.id} 已由 值班员甲 确认" in proc.log(), 20, "the confirmation on the console")


def test_command_line_done_dismiss_close_rights_and_usage(
    console_service: tuple[ServiceProcess, Path, str],
) -> None:
    proc, cfg, url = console_service
    proc.wait_running()
    engine = make_engine(url)
    wait_until(lambda: len(incidents(engine)) == 2, 30, "both incidents opened")
    fire, flood = incidents(engine)["合肥"], incidents(engine)["淮北"]
    link = "https://weibo.com/1234/abc"

    refused = cli(url, cfg, "done", str(fire.id), "statement", "--as", "值班员甲")
    assert refused.returncode == 1 and "不能执行「标记完成」" in refused.stderr
    usage = cli(url, cfg, "ack", "123456789012345678901234567890", "--as", "值班员甲")
    assert usage.returncode == 2 and "用法：/ack" in usage.stderr and "Traceback" not in usage.stderr
    stranger = cli(url, cfg, "ack", str(fire.id), "--as", "某某")
    assert stranger.returncode == 2 and "不在值班名单" in stranger.stderr

    # The chat command's words may follow --as as well as precede it.
    done = cli(url, cfg, "done", str(fire.id), "--as", "法规处长", "statement", "微信", link)
    assert done.returncode == 0, done.stderr
    assert "发布权威信息 已完成（法规处长）" in done.stdout
    assert f"证据：发布渠道：微信公众号，链接：{link}" in done.stdout  # what was said wins over the link
    with Session(engine) as s:
        step = s.exec(select(Step).where(Step.incident_id == fire.id)).one()
    assert (step.done_by, step.evidence_link) == ("法规处长", link)
    [ev] = events(engine, fire.id, "step_done")
    assert ev.data["outlets"] == ["wechat"] and ev.data["source"] == "cli"
    # Nothing said: a Weibo address says where it was published.
    done = cli(url, cfg, "done", str(flood.id), link, "--as", "管理员")
    assert done.returncode == 0 and "证据：发布渠道：政务微博，链接：" in done.stdout

    dismissed = cli(url, cfg, "dismiss", str(flood.id), "系", "--as", "法规处长", "旧闻")
    assert dismissed.returncode == 0 and "已标记为误报（法规处长）：系 旧闻" in dismissed.stdout
    closed = cli(url, cfg, "close", str(fire.id), "--as", "局长")
    assert closed.returncode == 0 and f"#{fire.id} 已关闭（局长）" in closed.stdout
    again = cli(url, cfg, "close", str(fire.id), "--as", "管理员")
    assert again.returncode == 1 and "不能再操作" in again.stderr
    logged = [e for k in ("dismissed", "closed") for i in (fire, flood) for e in events(engine, i.id, k)]
    assert len(logged) == 2 and {e.data["source"] for e in logged} == {"cli"}
