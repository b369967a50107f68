"""End to end with the real `python main.py run` process and group robots.

A WeCom-only deployment (no Telegram token, a roster of WeCom robots and people without
Telegram ids): the alert reaches the duty group's robot with the link to the incident's
console page; a person whose password was set by `web passwd` signs in, follows the link
and acknowledges; the incident log shows it (from the web, by name), the robot's group is
told, and the escalation stops climbing. Then Telegram through TELEGRAM_PROXY: the bot's
requests and getUpdates pass the proxy, the feed and the robot are reached directly, and the
proxy's password never reaches the log. Real wall-clock waits here are bounded waits for
another process's I/O and for the escalation timer of a playbook made fast for the test.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from kit.botapi import TOKEN, BotApiEmulator, botapi_fixture  # noqa: F401
from kit.enginekit import ROOT, recent, rss
from kit.feedserver import FeedServer
from kit.httpproxy import HttpProxy
from kit.wecom import WeComEmulator, wecom_fixture  # noqa: F401
from sqlmodel import Session, col, select

from responder.db import make_engine
from responder.models import Incident, IncidentEvent, Outbox

TITLE = "淮南市潘集区一化工厂发生爆炸 多人受伤"
DUTY_KEY, POLICY_KEY, ADMIN_KEY = (
    "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "7a2b3c4d-5e6f-4b7c-9d8e-0f1a2b3c4d5e",
    "8b3c4d5e-6f7a-4c8d-0e9f-1a2b3c4d5e6f",
)
PASSWORD = "duty room password 2026"
ACK_TIMEOUT = 4  # seconds, level 1 of the test's playbook: without an ack, level 2 follows


def wait_for(ready: Callable[[], object], what: str, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fast_playbooks(into: Path) -> Path:
    """The shipped playbooks with the first level's ack timeout cut to seconds."""
    shutil.copytree(ROOT / "playbooks", into)
    for path in into.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("ack_timeout: 10m", f"ack_timeout: {ACK_TIMEOUT}s"), encoding="utf-8")
    return into


def roster(chats: str) -> str:
    return (
        "timezone: Asia/Shanghai\npeople:\n"
        "  - {name: 值班员甲, roles: [duty_officer]}\n"
        "  - {name: 法规处长, roles: [policy_office]}\n"
        "  - {name: 局长, roles: [head]}\n"
        "  - {name: 管理员, roles: [admin]}\n"
        f"chats:\n{chats}rotation:\n  start: 2026-01-05\n  order: [值班员甲]\n"
    )


def write_config(tmp: Path, feed_url: str, chats: str, port: int) -> Path:
    (tmp / "roster.yaml").write_text(roster(chats), encoding="utf-8")
    cfg = tmp / "feeds.yaml"
    cfg.write_text(
        f"playbooks: {fast_playbooks(tmp / 'playbooks')}\nroster: roster.yaml\n"
        "polling:\n  interval: 2s\n  jitter: 0\n"
        f"web:\n  port: {port}\n  public_url: http://127.0.0.1:{port}\n"
        f"sources:\n  - name: 新闻\n    url: {feed_url}\n"
        "schemes:\n  - name: 安徽事故\n    region: [安徽, 淮南, 潘集区]\n    event: [爆炸, 死亡, 受伤]\n",
        encoding="utf-8",
    )
    return cfg


@dataclass
class Run:
    proc: subprocess.Popen[bytes]
    log: Path
    url: str
    env: dict[str, str]
    cfg: Path

    def main(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], env=self.env, input=stdin,
                              capture_output=True, text=True, cwd=self.cfg.parent, timeout=60)  # fmt: skip

    def rows(self) -> list[Outbox]:
        with Session(make_engine(self.url)) as s:
            return list(s.exec(select(Outbox).order_by(col(Outbox.id))))

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(30) == 0
        return self.log.read_text(encoding="utf-8", errors="replace")


def start(tmp: Path, env: dict[str, str], cfg: Path) -> Run:
    url = f"sqlite:///{tmp / 'run.sqlite3'}"
    env = {**env, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    main = [sys.executable, str(ROOT / "main.py")]
    subprocess.run([*main, "migrate"], env=env, check=True, capture_output=True, cwd=tmp)
    log = tmp / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*main, "-v", "run", "--config", str(cfg), "--cycle-seconds", "0.5"],
                                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp)  # fmt: skip
    return Run(proc, log, url, env, cfg)


def base_env() -> dict[str, str]:
    """The test process's environment without any Telegram or robot settings of its own."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WECOM_", "RESPONDER_"))}


@pytest.fixture
def wecom_only(tmp_path: Path, feed_server: FeedServer, wecom: WeComEmulator) -> Iterator[Run]:
    published = recent(timedelta(minutes=20))
    feed_server.route("/n.xml", rss([("https://news.example/e1", TITLE, "事故已造成12人死亡。", published)]))
    for key in (DUTY_KEY, POLICY_KEY, ADMIN_KEY):
        wecom.add_robot(key)
    chats = (
        "  duty: {wecom: {key_env: WECOM_DUTY_KEY}}\n"
        "  policy_office: {wecom: {key_env: WECOM_POLICY_KEY}}\n"
        "  admin: {wecom: {key_env: WECOM_ADMIN_KEY}}\n"
    )
    port = free_port()
    cfg = write_config(tmp_path, feed_server.url("/n.xml"), chats, port)
    env = {**base_env(), "WECOM_DUTY_KEY": wecom.webhook(DUTY_KEY), "WECOM_POLICY_KEY": wecom.webhook(POLICY_KEY),
           "WECOM_ADMIN_KEY": wecom.webhook(ADMIN_KEY)}  # fmt: skip
    run = start(tmp_path, env, cfg)
    try:
        yield run
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait(10)


def csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, html[:300]
    return m.group(1)


def test_a_wecom_only_deployment_alerts_and_is_acknowledged_from_the_console_link(
    wecom_only: Run, wecom: WeComEmulator
) -> None:
    run = wecom_only
    # The password is set while the service runs, as an admin would (one line on stdin).
    done = run.main("web", "passwd", "值班员甲", "--config", str(run.cfg), stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr

    cards = lambda: [c for c in wecom.contents(DUTY_KEY) if TITLE in c]  # noqa: E731
    wait_for(cards, "the alert card from the duty group's WeCom robot")
    card = cards()[0]
    link = re.search(r"\]\((http://127\.0\.0\.1:\d+/incidents/(\d+))\)", card)
    assert link, card
    page_url, incident_id = link.group(1), int(link.group(2))
    assert "截止" in card and "误报" not in card  # deadlines kept, the buttons replaced by the link

    with httpx.Client(follow_redirects=True, timeout=10) as web:
        page = web.get(page_url)  # not signed in: the sign-in page, which comes back here after
        assert "登录" in page.text
        signed = web.post(str(page.url), data={"csrf": csrf(page.text), "next": f"/incidents/{incident_id}",
                                               "name": "值班员甲", "password": PASSWORD})  # fmt: skip
        assert signed.status_code == 200 and TITLE in signed.text
        acked = web.post(f"{page_url}/ack", data={"csrf": csrf(signed.text)})
        assert acked.status_code == 200
    acked_at = time.monotonic()

    with Session(make_engine(run.url)) as s:
        [ev] = s.exec(select(IncidentEvent).where(IncidentEvent.kind == "acknowledged")).all()
        level = s.get_one(Incident, incident_id).escalation_level
    assert ev.incident_id == incident_id and ev.actor_name == "值班员甲" and ev.actor_id is None
    assert ev.data["source"] == "web"
    # The duty group is told who took it (robots cannot edit the card, so a message of its own).
    wait_for(
        lambda: any("值班员甲" in c and TITLE not in c for c in wecom.contents(DUTY_KEY)), "the confirmation"
    )
    # The escalation stops: past the level's timeout with the cycle running, nothing climbs.
    wait_for(lambda: time.monotonic() > acked_at + ACK_TIMEOUT + 2, "the level-1 timeout to pass")
    climbed = [r.dedup_key for r in run.rows() if f":escalation:L{level + 1}" in r.dedup_key]
    assert climbed == []
    # Everything queued went to a robot and was delivered, none to Telegram.
    assert all(r.robot is not None and r.status == "sent" for r in run.rows() if r.kind != "edit")

    text = run.stop()
    # The console links point at 127.0.0.1: start-up said so.
    assert "web.public_url" in text and "127.0.0.1" in text
    assert DUTY_KEY not in text and POLICY_KEY not in text and PASSWORD not in text


def test_an_unset_robot_variable_stops_run_and_check_config_at_its_line(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    chats = "  duty: {wecom: {key_env: WECOM_DUTY_KEY}}\n  policy_office: -200\n"
    cfg = write_config(tmp_path, feed_server.url("/n.xml"), chats, free_port())
    env = {**base_env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"}
    for command in ("check-config", "run"):
        done = subprocess.run([sys.executable, str(ROOT / "main.py"), command, "--config", str(cfg)],
                              env=env, capture_output=True, text=True, cwd=tmp_path, timeout=60)  # fmt: skip
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert "roster.yaml:8: chats.duty.wecom.key_env" in done.stderr and "WECOM_DUTY_KEY" in done.stderr


def test_check_config_warns_when_robot_links_would_point_at_this_machine(tmp_path: Path) -> None:
    chats = "  duty: {wecom: {key_env: WECOM_DUTY_KEY}}\n  policy_office: -200\n"
    cfg = write_config(tmp_path, "feed.xml", chats, 8080)
    env = {**base_env(), "WECOM_DUTY_KEY": DUTY_KEY}
    main = [sys.executable, str(ROOT / "main.py"), "check-config", "--config", str(cfg)]
    done = subprocess.run(main, env=env, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "web.public_url" in done.stdout and "127.0.0.1:8080" in done.stdout
    # A public address: no warning. No robots: no warning either.
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(
        text.replace("http://127.0.0.1:8080", "https://yq.example.gov.cn/console"), encoding="utf-8"
    )
    done = subprocess.run(main, env=env, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 0 and "web.public_url" not in done.stdout


def test_telegram_goes_through_its_proxy_while_the_feed_and_robots_go_direct(
    tmp_path: Path, feed_server: FeedServer, botapi: BotApiEmulator, wecom: WeComEmulator
) -> None:
    published = recent(timedelta(minutes=20))
    feed_server.route("/n.xml", rss([("https://news.example/e1", TITLE, "事故已造成12人死亡。", published)]))
    wecom.add_robot(DUTY_KEY)
    botapi.add_chat(-100, "值班群")
    botapi.add_chat(-200, "政策法规处")
    proxy = HttpProxy(user="office", password="proxy-Secret-2026").start()
    chats = "  duty:\n    telegram: -100\n    wecom: {key_env: WECOM_DUTY_KEY}\n  policy_office: -200\n"
    cfg = write_config(tmp_path, feed_server.url("/n.xml"), chats, free_port())
    env = {**base_env(), "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": botapi.base_url,
           "TELEGRAM_PROXY": proxy.url(), "WECOM_DUTY_KEY": wecom.webhook(DUTY_KEY)}  # fmt: skip
    run = start(tmp_path, env, cfg)
    try:
        wait_for(
            lambda: any(TITLE in m.text for m in botapi.messages(-100)), "the card in the Telegram group"
        )
        wait_for(lambda: any(TITLE in c for c in wecom.contents(DUTY_KEY)), "the card from the WeCom robot")
        wait_for(lambda: any("getUpdates" in t for t in proxy.targets()), "getUpdates through the proxy")
        text = run.stop()
    finally:
        proxy.close()
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait(10)
    carried = proxy.targets()
    assert any("sendMessage" in t for t in carried) and any("getMe" in t for t in carried)
    assert all(t.startswith(botapi.base_url) for t in carried), carried  # Telegram alone
    assert feed_server.url("/n.xml") not in carried and not any("/cgi-bin/webhook" in t for t in carried)
    assert proxy.refused == 0  # the credentials in TELEGRAM_PROXY were used
    assert "proxy-Secret-2026" not in text and TOKEN not in text
