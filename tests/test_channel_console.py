"""A WeCom-only roster (no Telegram anywhere, people without Telegram ids) runs the engine,
and a person acts from the web console: signed in by their roster name, logged by it."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from kit.enginekit import Service, rss, write_config
from kit.feedserver import FeedServer
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from responder.models import Incident, IncidentEvent, Outbox
from responder.web.auth import set_password
from responder.web.server import ConsoleServer

NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
PASSWORD = "an office password 2026"
ROSTER = """\
timezone: Asia/Shanghai
people:
  - {name: 值班员甲, roles: [duty_officer]}
  - {name: 法规处长, roles: [policy_office]}
  - {name: 局长, roles: [head]}
  - {name: 管理员, roles: [admin]}
chats:
  duty: {wecom: {key_env: WECOM_DUTY_KEY}}
  policy_office: {wecom: {key_env: WECOM_POLICY_KEY}}
rotation:
  start: 2026-01-05
  order: [值班员甲]
"""


@pytest.fixture
def svc(sqlite_engine: Engine, tmp_path: Path, feed_server: FeedServer) -> Service:
    item = (
        "https://news.example/a1",
        "淮南市潘集区一化工厂发生爆炸",
        "事故已造成12人死亡。",
        NOW - timedelta(minutes=30),
    )
    feed_server.route("/news.xml", rss([item]))
    sources = f"  - name: 新闻A\n    url: {feed_server.url('/news.xml')}\n"
    config = write_config(tmp_path, sources, "web:\n  port: 0\n")
    (tmp_path / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    service = Service.start(sqlite_engine, config, NOW - timedelta(minutes=10))
    service.step(NOW)
    return service


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, html[:500]
    return m.group(1)


async def test_a_person_without_telegram_acknowledges_from_the_console(svc: Service) -> None:
    with Session(svc.engine) as s:
        incident = s.exec(select(Incident)).one()
        rows = s.exec(select(Outbox)).all()
        # No Telegram chat: the card goes to the duty group's WeCom robot alone.
        assert rows and {(r.robot, r.chat_id) for r in rows} == {("wecom:WECOM_DUTY_KEY", 0)}
    assert incident.id is not None
    set_password(svc.engine, svc.settings.roster, "法规处长", PASSWORD, NOW)
    server = ConsoleServer(svc.settings, svc.engine, out=io.StringIO())
    server.console.clock = lambda: NOW + timedelta(minutes=5)
    assert await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, follow_redirects=True) as web:
            form = await web.get("/login")
            signed_in = await web.post("/login", data={"csrf": _csrf(form.text), "next": f"/incidents/{incident.id}",
                                                       "name": "法规处长", "password": PASSWORD})  # fmt: skip
            assert signed_in.status_code == 200 and "法规处长" in signed_in.text
            page = await web.get(f"/incidents/{incident.id}")
            acked = await web.post(f"/incidents/{incident.id}/ack", data={"csrf": _csrf(page.text)})
            assert acked.status_code == 200
    finally:
        await server.stop()
    with Session(svc.engine) as s:
        ev = s.exec(select(IncidentEvent).where(IncidentEvent.kind == "acknowledged")).one()
        assert ev.incident_id == incident.id
        assert ev.actor_name == "法规处长" and ev.actor_id is None  # known by name, no Telegram id
        assert ev.data["source"] == "web" and ev.data["address"] == "127.0.0.1"
        assert s.get_one(Incident, incident.id).acked_by == "法规处长"
        # The robot's group, which got the card, is told; no edit is queued for a robot.
        [confirmation] = s.exec(
            select(Outbox).where(Outbox.dedup_key.startswith(f"incident:{incident.id}:acknowledged:"))
        ).all()  # type: ignore[attr-defined]
        assert confirmation.robot == "wecom:WECOM_DUTY_KEY" and "法规处长" in confirmation.text
        assert s.exec(select(Outbox).where(Outbox.kind == "edit")).all() == []
