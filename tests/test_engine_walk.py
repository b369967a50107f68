"""A whole 24-hour playbook walked with a test clock: every message once, in order, restart or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from kit.enginekit import Service, rss, write_config
from kit.feedserver import FeedServer
from sqlalchemy.engine import Engine

from responder.db import make_engine
from responder.migrate import upgrade

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # the first report's publication time
STEP = timedelta(minutes=5)
END = T0 + timedelta(hours=26)


def walk(engine: Engine, cfg: Path, restart_at: datetime | None) -> list[tuple[str, int]]:
    """Cycles every 5 minutes from detection to 26 h; a fresh Service at `restart_at`."""
    now = T0 + timedelta(minutes=2)
    svc = Service.start(engine, cfg, now)
    while now <= END:
        if restart_at is not None and now >= restart_at:
            svc = Service.start(engine, cfg, now)  # new process: nothing kept in memory
            restart_at = None
        svc.step(now)
        now += STEP
    return [(o.dedup_key.rsplit("@", 1)[0], o.chat_id) for o in svc.outbox()]


def test_major_incident_walk_sends_each_message_once_in_order(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    report = (
        "https://news.example/x1",
        "淮南市潘集区一化工厂爆炸事故已造成12人死亡",
        "事故已造成12人死亡。",
        T0,
    )
    feed_server.route("/n.xml", rss([report]))
    cfg = write_config(tmp_path, f"  - name: 新闻\n    url: {feed_server.url('/n.xml')}\n")

    runs = {}
    for name, restart in (("straight", None), ("restarted", T0 + timedelta(hours=7, minutes=33))):
        url = f"sqlite:///{tmp_path / name}.sqlite3"
        upgrade(url)
        runs[name] = walk(make_engine(url), cfg, restart)

    sent = runs["straight"]
    # Exactly once: no (message, chat) pair twice; a restart changes nothing at all.
    assert len(sent) == len(set(sent))
    assert runs["restarted"] == sent

    keys = list(dict.fromkeys(k for k, _ in sent))
    assert keys[0] == "incident:1:escalation:L1:r0"  # the card, at detection
    statement = [k for k in keys if k.startswith("incident:1:statement::")]
    assert statement == [
        "incident:1:statement::reminder:50pct",
        "incident:1:statement::reminder:80pct",
        "incident:1:statement::reminder:15m",
        "incident:1:statement::overdue",
    ]
    press = [k for k in keys if k.startswith("incident:1:press_conference::")]
    assert press == [
        "incident:1:press_conference::reminder:50pct",
        "incident:1:press_conference::reminder:80pct",
        "incident:1:press_conference::reminder:15m",
        "incident:1:press_conference::overdue",
    ]
    # Nobody acknowledged: the card climbed level by level, then the breach went to the top.
    esc = [k for k in keys if ":escalation:L" in k and k.endswith(":r0")]
    assert esc[:3] == [
        "incident:1:escalation:L1:r0",
        "incident:1:escalation:L2:r0",
        "incident:1:escalation:L3:r0",
    ]
    assert keys.index("incident:1:statement::reminder:80pct") < keys.index("incident:1:statement::overdue")
    assert keys.index("incident:1:statement::overdue") < keys.index("incident:1:press_conference::overdue")
