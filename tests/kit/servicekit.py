"""Helpers for tests and benchmarks that run the real service: `python main.py run` as a child process.

- `write_service_config(dir, sources, ...)`: feeds.yaml + roster.yaml (shipped playbooks),
  with a scheme that knows every city of `CITIES`.
- `incident_report(i, published)`: one relevant report that opens its own incident
  (its own city and accident type, and text unlike any other's, so nothing groups).
- `ServiceProcess`: starts `run` with DATABASE_URL and TELEGRAM_* in its environment,
  logs to a file, stops it with SIGTERM or SIGKILL; every wait is bounded.
- `wait_until(predicate, timeout, what)`: poll a condition, fail with `what` after `timeout`.
- `migrate(url)`: `python main.py migrate` in a child process.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from kit.botapi import BAD_GATEWAY_HTML, BotApiEmulator, Fault
from kit.enginekit import ROOT
from kit.enginekit import ROSTER as ENGINE_ROSTER
from responder.models import Outbox

__all__ = [
    "CHATS",
    "CITIES",
    "DUTY",
    "ROOT",
    "ROSTER",
    "TYPES",
    "ControlledBotApi",
    "ServiceProcess",
    "incident_report",
    "migrate",
    "outbox_rows",
    "wait_until",
    "write_service_config",
]

# enginekit's people and chats, but nobody is on duty today (the one duty range lies in the
# past), so an incident's card goes to the duty group alone: one chat, one order to check.
ROSTER = (
    ENGINE_ROSTER.split("rotation:")[0]
    + "rotation:\n  ranges:\n    - {from: 2020-01-06, to: 2020-01-12, person: 值班员甲}\n"
)
DUTY, ADMIN = -100, -300
CHATS = (-100, -200, -300, 1001, 1002, 1003, 1004)

CITIES = (
    "合肥", "芜湖", "蚌埠", "淮南", "马鞍山", "淮北", "铜陵", "安庆",
    "黄山", "滁州", "阜阳", "宿州", "六安", "亳州", "池州", "宣城",
)  # fmt: skip
# One word per accident type of responder.clustering.ACCIDENT_TYPES (same place + same type groups).
TYPES = ("爆炸", "透水", "冒顶", "坍塌", "火灾", "中毒", "泄漏")
FACILITIES = ("化工厂", "煤矿", "建筑工地", "仓库", "加油站", "隧道工程", "冶金企业")
# Filler characters for text that shares nothing with another report's: no region, event,
# accident-type or exclusion word can be spelt from them (no 安 六 火 演 练 死 亡 ...).
_FILLER = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说"
    "种面而方后多定行学法所民得经之进着等部度家电力里如化高自理起小物现实加量都两体制机当使点从业本"
    "去把性好应开它合还因由其些然前外天政日那社义平形相全表间样与关各重新线内数正心反你明看原又么利"
    "比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展果料象员革位入"
)


def incident_report(i: int, published: datetime, *, seed: int = 0) -> tuple[str, str, str, datetime]:
    """Relevant report number `i` (0 ≤ i < 112): (link, title, description, published).

    Reports with different `i` never join one incident: each has its own (city, type)
    pair and random filler text, so neither the place/type rule nor the SimHash rule
    groups them.
    """
    if not 0 <= i < len(CITIES) * len(TYPES):
        raise ValueError(f"report number {i} out of range 0..{len(CITIES) * len(TYPES) - 1}")
    city = CITIES[i % len(CITIES)]
    kind = TYPES[(i // len(CITIES)) % len(TYPES)]
    facility = FACILITIES[i % len(FACILITIES)]
    rng = random.Random(f"{seed}:{i}")
    filler = "".join(rng.choice(_FILLER) for _ in range(60))
    title = f"{city}市一{facility}发生{kind}事故{filler[:12]}"
    text = f"{city}消息:{filler[12:]}。"
    return f"https://news.example/{seed}/{i}", title, text, published


def write_service_config(
    directory: Path,
    sources: Sequence[tuple[str, str]],
    *,
    interval: str = "5m",
    jitter: float = 0.0,
    polling_extra: str = "",
) -> Path:
    """feeds.yaml (sources as (name, url)) and roster.yaml in `directory`; returns feeds.yaml."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    # polling_extra may override a default here: a key written twice is a config error.
    polling = {"interval": interval, "jitter": str(jitter), "timeout": "5s"}
    for x in polling_extra.splitlines():
        if x.strip():
            key, _, value = x.strip().partition(":")
            polling[key.strip()] = value.strip()
    lines = [
        f"playbooks: {ROOT / 'playbooks'}",
        "roster: roster.yaml",
        "polling:",
        *(f"  {k}: {v}" for k, v in polling.items()),
        "sources:",
        *(f"  - {{name: {name}, url: '{url}'}}" for name, url in sources),
        "schemes:",
        "  - name: 安徽事故",
        f"    region: [安徽, {', '.join(CITIES)}]",
        f"    event: [{', '.join(TYPES)}, 死亡, 遇难]",
        "    exclude: [演练, 演习]",
    ]
    cfg = directory / "feeds.yaml"
    cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cfg


def wait_until(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll `predicate` until it is true; after `timeout` seconds fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for: {what}")
        time.sleep(interval)


def _env(database_url: str, extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_URL"))}
    env["DATABASE_URL"] = database_url
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def migrate(database_url: str, timeout: float = 120) -> None:
    """`python main.py migrate` on `database_url`; fails with its output when it fails."""
    done = subprocess.run(
        [sys.executable, "main.py", "migrate"], cwd=ROOT, env=_env(database_url, None),
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"migrate failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"


class ServiceProcess:
    """One `python main.py run` child process with its log in a file."""

    def __init__(
        self,
        config: Path,
        database_url: str,
        log_path: Path,
        *,
        cycle_seconds: float = 1.0,
        telegram_base_url: str | None = None,
        token: str | None = None,
        env: dict[str, str] | None = None,
    ):
        extra = dict(env or {})
        if token:
            extra["TELEGRAM_BOT_TOKEN"] = token
        if telegram_base_url:
            extra["TELEGRAM_BASE_URL"] = telegram_base_url
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115  (closed in stop/kill)
        self.proc = subprocess.Popen(
            [sys.executable, "main.py", "run", "--config", str(config), "--cycle-seconds", str(cycle_seconds)],
            cwd=ROOT, env=_env(database_url, extra), stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def instance(self) -> str:
        """The name the service gives itself (responder.service.instance_name)."""
        import socket

        return f"{socket.gethostname()}:{self.pid}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_running(self, timeout: float = 30) -> None:
        """Until the service logged that it runs (or fail with its log when it died)."""
        wait_until(
            lambda: "已启动" in self.log() or not self.alive(), timeout, f"service {self.pid} to start"
        )
        assert self.alive(), f"service exited with {self.proc.returncode}:\n{self.log()[-3000:]}"

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind runs in the service."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._log.close()

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM and wait (SIGKILL after `timeout`); returns the exit status."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
        return int(self.proc.returncode)

    def errors(self) -> list[str]:
        """Log lines at ERROR level or with a traceback."""
        return [ln for ln in self.log().splitlines() if " ERROR " in ln or ln.startswith("Traceback")]


class ControlledBotApi(BotApiEmulator):
    """The emulator with two switches a test flips while the service runs.

    - `send_delay`: seconds every sendMessage spends before it is carried out, so a test
      can kill the client mid-request; `in_flight` holds the texts being delayed. The
      server finishes such a request even when the client is gone (the message then
      exists although its sender never heard so), as a real server would.
    - `down`: every call except getUpdates answers nginx's 502 page (Telegram unreachable).
    """

    def __init__(self) -> None:
        super().__init__()
        self.send_delay = 0.0
        self.down = False
        self.in_flight: list[str] = []
        for chat in CHATS:
            if chat < 0:
                self.add_chat(chat)
            else:
                self.add_user(chat)

    def _take_fault(self, method: str) -> Fault | None:
        if self.down and method.lower() != "getupdates":
            return Fault(502, BAD_GATEWAY_HTML.encode(), "text/html")
        return super()._take_fault(method)

    def dispatch(self, method: str, params: dict[str, Any]) -> Any:
        delay = self.send_delay
        if method.lower() != "sendmessage" or not delay:
            return super().dispatch(method, params)
        text = str(params.get("text"))
        with self._lock:
            self.in_flight.append(text)
        try:
            self._sleep(delay)
            return super().dispatch(method, params)
        finally:
            with self._lock:
                self.in_flight.remove(text)

    def chat_html(self, chat_id: int) -> list[str]:
        """The HTML of every bot message in `chat_id`, in the order they arrived."""
        return [m.html or m.text for m in self.messages(chat_id)]


def outbox_rows(engine: Engine) -> list[Outbox]:
    """Every outbox row in id order, but the calendar job's notices to the admins: whether the
    unknown-year warning is due depends on the wall-clock date these services run on
    (tests/test_next_year.py covers them on a fixed clock)."""
    with Session(engine) as s:
        rows = s.exec(select(Outbox).order_by(col(Outbox.id))).all()
        return [r for r in rows if not r.dedup_key.startswith("calendar:")]
