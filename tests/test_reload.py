"""SIGHUP (`systemctl reload responder`): a valid configuration is applied, a bad one is refused
and the admins are told, while the service keeps running on what it had."""

from __future__ import annotations

import signal
from pathlib import Path

from kit.servicekit import ServiceProcess, outbox_rows, wait_until, write_service_config
from sqlmodel import Session

from responder.db import make_engine
from responder.migrate import upgrade
from responder.models import FeedState

EMPTY_FEED = b'<?xml version="1.0"?><rss><channel><title>x</title></channel></rss>'
ADMIN_CHAT = -300  # servicekit's roster


def _state(engine, source: str) -> FeedState | None:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return s.get(FeedState, source)


def test_sighup_applies_a_valid_config_and_refuses_a_bad_one(tmp_path: Path) -> None:
    cfg_dir = tmp_path / "cfg"
    (cfg_dir / "feeds").mkdir(parents=True)
    for name in ("a.xml", "b.xml"):
        (cfg_dir / "feeds" / name).write_bytes(EMPTY_FEED)
    cfg = write_service_config(cfg_dir, [("来源甲", "feeds/a.xml")], interval="2s")
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    service = ServiceProcess(cfg, url, tmp_path / "run.log", cycle_seconds=1)
    try:
        service.wait_running(60)
        wait_until(lambda: _state(engine, "来源甲") is not None, 30, "the first source's state")

        # A second source: applied without a restart of the process.
        write_service_config(cfg_dir, [("来源甲", "feeds/a.xml"), ("来源乙", "feeds/b.xml")], interval="2s")
        service.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "配置已重新加载：2 个信息源，5 个应对预案" in service.log(), 60, "the reload")
        wait_until(
            lambda: (st := _state(engine, "来源乙")) is not None and st.polls > 0, 60, "the new source polled"
        )

        # A mistake: refused, named to the admins, and the service goes on as it was.
        cfg.write_text(cfg.read_text(encoding="utf-8").replace("polling:", "poling:"), encoding="utf-8")
        service.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "重新加载被拒绝" in service.log(), 60, "the refusal")
        wait_until(
            lambda: any(
                o.chat_id == ADMIN_CHAT and "重新加载配置失败" in o.text for o in outbox_rows(engine)
            ),
            30,
            "the admins' message",
        )
        polls = _state(engine, "来源乙").polls  # type: ignore[union-attr]
        wait_until(lambda: _state(engine, "来源乙").polls > polls, 30, "polling to go on")  # type: ignore[union-attr]
        assert service.alive()
    finally:
        status = service.stop()
    assert status == 0, service.log()[-3000:]
    [message] = [o for o in outbox_rows(engine) if "重新加载配置失败" in o.text]
    assert "feeds.yaml:3: poling: 未知字段" in message.text
    assert not [line for line in service.errors() if "重新加载被拒绝" not in line]
    engine.dispose()
