"""Helpers for engine tests: RSS bytes, a settings bundle in tmp_path, one poll+cycle step."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from responder.engine.cycle import run_cycle
from responder.engine.grouper import Grouper
from responder.engine.poll import poll_due, sync_feed_states
from responder.feeds.fetch import Fetcher
from responder.models import Outbox
from responder.runtime import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]

ROSTER = """\
timezone: Asia/Shanghai
people:
  - {name: 值班员甲, telegram_id: 1001, roles: [duty_officer]}
  - {name: 法规处长, telegram_id: 1002, roles: [policy_office]}
  - {name: 局长, telegram_id: 1003, roles: [head]}
  - {name: 管理员, telegram_id: 1004, roles: [admin]}
chats:
  duty: -100
  policy_office: -200
  admin: -300
rotation:
  handover: "09:00"
  start: 2026-01-05
  days_each: 7
  order: [值班员甲]
"""

SCHEMES = """\
schemes:
  - name: 安徽事故
    region: [安徽, 合肥, 淮南, 淮北, 六安, 潘集区]
    event: [爆炸, 坍塌, 透水, 火灾, 死亡, 遇难]
    exclude: [演练, 演习]
  - name: 政策转载
    applies_to: [upstream]
    topic: [安全生产, 应急管理]
"""


def rss(items: list[tuple[str, str, str, datetime]], title: str = "feed") -> bytes:
    """RSS 2.0 bytes for (guid/link, title, description, published) items."""
    parts = [
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{escape(title)}</title>'
    ]
    for link, t, desc, published in items:
        parts.append(
            f"<item><title>{escape(t)}</title><link>{escape(link)}</link><guid>{escape(link)}</guid>"
            f"<description>{escape(desc)}</description><pubDate>{format_datetime(published)}</pubDate></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


def write_config(tmp_path: Path, sources: str, extra: str = "", playbooks: Path | None = None) -> Path:
    """feeds.yaml + roster.yaml in tmp_path, using the shipped playbooks unless `playbooks` names others."""
    (tmp_path / "roster.yaml").write_text(ROSTER, encoding="utf-8")
    cfg = tmp_path / "feeds.yaml"
    cfg.write_text(
        f"playbooks: {playbooks or ROOT / 'playbooks'}\nroster: roster.yaml\npolling:\n  interval: 5m\n  jitter: 0\n"
        f"{extra}sources:\n{sources}{SCHEMES}",
        encoding="utf-8",
    )
    return cfg


@dataclass
class Service:
    """The parts of a running service a test drives by hand, one `step(now)` at a time."""

    engine: Engine
    settings: Settings
    grouper: Grouper
    item_keys: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def start(cls, engine: Engine, config: Path, now: datetime) -> Service:
        settings = load_settings(config)
        sync_feed_states(engine, settings, now)
        return cls(engine, settings, Grouper(settings.feeds.grouping, settings.intake.region_words))

    def step(self, now: datetime) -> None:
        """Poll whatever is due, then run one engine cycle, both as of `now`."""

        async def poll() -> None:
            async with Fetcher(self.settings.feeds.polling) as f:
                await poll_due(
                    self.engine, self.settings, f, self.grouper, now, "test", item_keys=self.item_keys
                )

        asyncio.run(poll())
        run_cycle(self.engine, self.settings, now)

    def outbox(self) -> list[Outbox]:
        with Session(self.engine) as s:
            return list(s.exec(select(Outbox).order_by(col(Outbox.id))).all())


def recent(ago: timedelta, now: datetime | None = None) -> datetime:
    """A publication time `ago` before `now` (default: the wall clock), but never before the
    last local midnight (Asia/Shanghai): a report published before midnight and seen after it
    has missed its same-day flash deadline and goes straight to the top of escalation, which
    tests run on the wall clock do not expect between 00:00 and 00:20."""
    now = now or datetime.now(UTC)
    local = now.astimezone(ZoneInfo("Asia/Shanghai"))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    return max(now - ago, midnight)
