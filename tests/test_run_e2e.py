"""End to end with the real `python main.py run` process, a feed on 127.0.0.1 and the Bot API emulator.

A relevant report appears → the duty chat receives the card with buttons → a policy-office
user presses 确认 → the card is edited and the incident log shows who; a stranger's /ack is
refused; SIGTERM stops the process cleanly; the bot token never reaches the log.
Real wall-clock waits here are bounded waits for another process's I/O, nothing else.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from kit.botapi import TOKEN, BotApiEmulator, botapi_fixture  # noqa: F401
from kit.enginekit import ROOT, recent, rss, write_config
from kit.feedserver import FeedServer
from sqlmodel import Session, select

from responder.db import make_engine
from responder.models import IncidentEvent

DUTY, POLICY, ADMIN = -100, -200, -300
DUTY_OFFICER, POLICY_OFFICE, STRANGER = 1001, 1002, 4242
TITLE = "淮南市潘集区一化工厂发生爆炸 <b>12人</b> & 多人受伤"


def wait_for(ready: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def service(
    tmp_path: Path, feed_server: FeedServer, botapi: BotApiEmulator
) -> Iterator[tuple[subprocess.Popen[bytes], Path, str]]:
    published = recent(timedelta(minutes=20))
    feed_server.route("/n.xml", rss([("https://news.example/e1", TITLE, "事故已造成12人死亡。", published)]))
    cfg = write_config(tmp_path, f"  - name: 新闻\n    url: {feed_server.url('/n.xml')}\n    interval: 2s\n")
    for chat in (DUTY, POLICY, ADMIN):
        botapi.add_chat(chat, f"chat{chat}")
    for uid in (DUTY_OFFICER, POLICY_OFFICE, 1003, 1004, STRANGER):
        botapi.add_user(uid, f"u{uid}")
    url = f"sqlite:///{tmp_path / 'e2e.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": botapi.base_url,
           "PYTHONUNBUFFERED": "1"}  # fmt: skip
    main = [sys.executable, str(ROOT / "main.py")]
    subprocess.run([*main, "migrate"], env=env, check=True, capture_output=True, cwd=tmp_path)
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*main, "-v", "run", "--config", str(cfg), "--cycle-seconds", "0.5"],
                                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)  # fmt: skip
        try:
            yield proc, log, url
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def test_alert_button_ack_and_clean_stop(
    service: tuple[subprocess.Popen[bytes], Path, str], botapi: BotApiEmulator
) -> None:
    proc, log, url = service
    cards = lambda: [m for m in botapi.messages(DUTY) if m.buttons]  # noqa: E731
    wait_for(cards, "the incident card in the duty chat")
    [card] = cards()
    assert TITLE in card.text and "重大" in card.text
    labels = [b["text"] for row in card.buttons for b in row]
    assert labels[:1] == ["确认"] and "误报" in labels
    wait_for(lambda: botapi.calls("setMyCommands"), "setMyCommands")
    wait_for(botapi.wait_for_poller, "the bot polling for updates")

    # A stranger's /ack is refused politely and changes nothing.
    botapi.inject_message(STRANGER, STRANGER, "/ack 1")
    wait_for(lambda: botapi.messages(STRANGER), "the refusal")
    assert "不在值班名单中" in botapi.messages(STRANGER)[-1].text

    # The policy office presses 确认 under the card.
    ack = next(b for row in card.buttons for b in row if b["text"] == "确认")
    qid = botapi.inject_callback(POLICY_OFFICE, DUTY, card.message_id, ack["callback_data"])
    wait_for(lambda: qid in botapi.callback_answers, "the button answer")
    wait_for(
        lambda: "已确认" in cards()[0].text if cards() else False,
        "the card edited to show the acknowledgement",
    )

    with Session(make_engine(url)) as s:
        acks = s.exec(select(IncidentEvent).where(IncidentEvent.kind == "acknowledged")).all()
    assert [(e.actor_id, e.chat_id) for e in acks] == [(POLICY_OFFICE, DUTY)]

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "responder" in text  # the log was captured at DEBUG
    assert TOKEN not in text and TOKEN.split(":", 1)[1] not in text
