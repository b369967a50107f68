"""Registering a suggestion from the public: `python main.py inquiry TITLE… --as NAME`.

The command runs in its own process against a real SQLite file, as staff type it; one
engine cycle at a fixed `now` then gives the incident the `public-inquiry` playbook's
feedback step, 7 working days on the official calendar from the time it was received.
The chat command `/inquiry` is tested with the other chat commands (tests/test_telegram.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from kit.enginekit import Service, rss, write_config
from kit.feedserver import FeedServer
from kit.servicekit import ROOT
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from responder.models import Incident, IncidentEvent, Step

SH = ZoneInfo("Asia/Shanghai")
# Friday 2026-09-25 16:00 in Shanghai, the last Friday before the National Day break
# (10-01 … 10-07 off; Saturday 10-10 a make-up working day).
RECEIVED = datetime(2026, 9, 25, 16, 0, tzinfo=SH)
NOW = datetime(2026, 9, 28, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
LINK = "https://www.ah.gov.example/hdjl/1234.html"


def cli(url: str, cfg: Path, *words: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_URL"))}
    env["DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "main.py", *words, "--config", str(cfg)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def inquiries(engine: Engine) -> list[Incident]:
    with Session(engine) as s:
        return list(
            s.exec(select(Incident).where(Incident.kind == "inquiry").order_by(col(Incident.id))).all()
        )


def test_a_suggestion_registered_on_the_command_line_gets_seven_working_days(
    sqlite_engine: Engine, sqlite_url: str, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.route("/n.xml", rss([]))
    cfg = write_config(tmp_path, f"  - name: 新闻\n    url: {feed_server.url('/n.xml')}\n")

    done = cli(
        sqlite_url, cfg, "inquiry", "网民建议", "--as", "法规处长", "在危化品运输路段增设夜间检查",
        "--link", LINK, "--received", "2026-09-25 16:00",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [inc] = inquiries(sqlite_engine)
    assert f"已登记网民意见建议 #{inc.id}：网民建议 在危化品运输路段增设夜间检查" in done.stdout
    assert "接收时间 2026-09-25 16:00（法规处长）" in done.stdout
    assert (inc.title, inc.first_published, inc.status) == (
        "网民建议 在危化品运输路段增设夜间检查",
        RECEIVED.astimezone(UTC),
        "open",
    )
    with Session(sqlite_engine) as s:
        [ev] = s.exec(select(IncidentEvent).where(IncidentEvent.incident_id == inc.id)).all()
    assert (ev.kind, ev.actor_name, ev.actor_id, ev.chat_id) == ("opened", "法规处长", 1002, None)
    assert ev.data["source"] == "cli" and "@" in ev.data["address"]
    assert (ev.data["link"], ev.data["received"]) == (LINK, RECEIVED.isoformat())

    # One cycle gives it the feedback step: the day received does not count, the break does
    # not either, the make-up Saturday does; the 7th working day is Monday 10-12, until 24:00.
    svc = Service.start(sqlite_engine, cfg, NOW)
    svc.step(NOW)
    with Session(sqlite_engine) as s:
        [step] = s.exec(select(Step).where(Step.incident_id == inc.id)).all()
    assert (step.playbook, step.key) == ("public-inquiry", "feedback")
    assert step.due_at == datetime(2026, 10, 13, 0, 0, tzinfo=SH).astimezone(UTC)
    # ... and its card goes to the policy office, the playbook's first receiver.
    cards = [o for o in svc.outbox() if o.incident_id == inc.id and o.chat_id == -200]
    assert cards and "网民建议 在危化品运输路段增设夜间检查" in cards[0].text


def test_who_may_register_and_what_a_mistake_says(
    sqlite_engine: Engine, sqlite_url: str, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.route("/n.xml", rss([]))
    cfg = write_config(tmp_path, f"  - name: 新闻\n    url: {feed_server.url('/n.xml')}\n")

    refused = cli(sqlite_url, cfg, "inquiry", "建议增设夜间检查", "--as", "值班员甲")
    assert refused.returncode == 1 and "不能执行「登记网民意见建议」" in refused.stderr
    stranger = cli(sqlite_url, cfg, "inquiry", "建议增设夜间检查", "--as", "某某")
    assert stranger.returncode == 2 and "不在值班名单" in stranger.stderr
    for words, said in (
        (["--link", "ah.gov.example/1", "建议"], "--link 应为以 http:// 或 https:// 开头的网址"),
        (["--received", "周五下午", "建议"], "--received 无法识别 周五下午"),
        ([LINK], "用法：/inquiry 要点 [链接]"),
    ):
        wrong = cli(sqlite_url, cfg, "inquiry", *words, "--as", "管理员")
        assert wrong.returncode == 2 and said in wrong.stderr and "Traceback" not in wrong.stderr
        assert len(wrong.stderr.strip().splitlines()) == 1
    future = cli(sqlite_url, cfg, "inquiry", "建议", "--received", "2999-01-01 09:00", "--as", "管理员")
    assert future.returncode == 1 and "晚于现在" in future.stderr
    assert inquiries(sqlite_engine) == []  # nothing registered by any of these
    # An admin may; a link given as the last word is where it was received.
    admin = cli(sqlite_url, cfg, "inquiry", "建议增设夜间检查", LINK, "--as", "管理员")
    assert admin.returncode == 0, admin.stderr
    [inc] = inquiries(sqlite_engine)
    assert inc.title == "建议增设夜间检查"
