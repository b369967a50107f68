"""The three robot platforms side by side, for tests that hold for each: emulator, client,
how to read back what a robot posted, and the platform's documented figures."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from kit.dingtalk import DingTalkEmulator
from kit.feishu import FeishuEmulator
from kit.robotbase import FixedClock, RobotEmulator
from kit.wecom import WeComEmulator
from responder.channels import (
    ChannelMessage,
    DingTalkClient,
    Endpoint,
    FeishuClient,
    Line,
    Segment,
    WebhookClient,
    WeComClient,
)

__all__ = ["LINK", "PLATFORMS", "Platform", "Rig", "alert", "new_token", "rig_fixture"]

LINK = "https://yq.example.gov.cn/console/incidents/42"


@dataclass(frozen=True)
class Platform:
    """One platform's emulator and client, and what its documentation says."""

    name: str
    emulator: type[RobotEmulator]
    client: type[WebhookClient]
    variable: str  # the environment variable a roster would name
    rate_code: int  # the rate-limit answer's code
    rate_wait: int  # seconds we wait after it
    busy_wait: int | None  # seconds after the "busy" answer (None: the outbox backs off)
    bad_key_code: int
    per_minute: int
    size_limit: int  # bytes, of what `size` measures
    size: Callable[[dict[str, Any]], int]  # the measured size of a posted message
    texts: Callable[[RobotEmulator, str], list[str]]  # what each posted message shows


def _wecom_texts(emu: RobotEmulator, token: str) -> list[str]:
    return [m["markdown"]["content"] for m in emu.messages(token)]


def _dingtalk_texts(emu: RobotEmulator, token: str) -> list[str]:
    return [m["markdown"]["text"] for m in emu.messages(token)]


def _feishu_texts(emu: RobotEmulator, token: str) -> list[str]:
    out = []
    for m in emu.messages(token):
        post = m["content"]["post"]["zh_cn"]
        paragraphs = ["".join(e.get("text", "") + (f"<{e['href']}>" if e.get("href") else "") for e in p)
                      for p in post["content"]]  # fmt: skip
        out.append("\n".join([post["title"], *paragraphs]))
    return out


def _json_size(message: dict[str, Any]) -> int:
    import json

    return len(json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode())


PLATFORMS = {
    "wecom": Platform("wecom", WeComEmulator, WeComClient, "WECOM_DUTY_KEY", 45009, 60, None, 93000, 20,
                      4096, lambda m: len(m["markdown"]["content"].encode()), _wecom_texts),
    "dingtalk": Platform("dingtalk", DingTalkEmulator, DingTalkClient, "DINGTALK_DUTY_TOKEN", 130101, 600,
                         None, 300001, 20, 20_000, _json_size, _dingtalk_texts),
    "feishu": Platform("feishu", FeishuEmulator, FeishuClient, "FEISHU_DUTY_TOKEN", 9499, 60, 30, 19001,
                       100, 20_000, _json_size, _feishu_texts),
}  # fmt: skip


def new_token() -> str:
    """A fresh robot token (each test its own robot, so pacers never carry over)."""
    return str(uuid.uuid4())


def alert(extra_lines: int = 0, *, title: str = "【较大】事件 #42 某化工厂闪爆") -> ChannelMessage:
    """An alert card as a channel message: figures, two deadlines, report lines, the link."""
    lines = [
        Line.plain("热度：3 个来源｜死亡 4 人"),
        Line.plain("• 发布权威信息 截止 16:30，剩余 4小时12分", keep=True),
        Line((Segment("1. "), Segment("某报：化工厂发生闪爆", "https://news.example.cn/a(1).html"))),
    ]
    lines += [
        Line.plain(f"{i + 2}. 某网站转载第{i}篇：化工厂闪爆事故后续报道，现场救援仍在进行")
        for i in range(extra_lines)
    ]
    lines.append(Line.plain("• 举行新闻发布会 截止 次日 11:30，剩余 23小时", keep=True))
    return ChannelMessage(title, tuple(lines), LINK)


@dataclass
class Rig:
    """An emulator with one robot, a client for it, and the clock they share."""

    platform: Platform
    emulator: RobotEmulator
    token: str
    clock: FixedClock
    secret: str | None = None

    def client(self, token: str | None = None, secret: str | None = None, **options: Any) -> WebhookClient:
        """A client for this rig's robot (or another token / secret)."""
        endpoint = Endpoint(
            self.platform.name, self.emulator.base_url, token or self.token, secret or self.secret,
            token_env=self.platform.variable, secret_env="SIGNING_SECRET" if (secret or self.secret) else None,
            keyword=options.pop("keyword", None),
        )  # fmt: skip
        options.setdefault("timeout", 2.0)
        return self.platform.client(endpoint, clock=self.clock, **options)

    def texts(self) -> list[str]:
        """What the robot posted, one text per message."""
        return self.platform.texts(self.emulator, self.token)


@pytest.fixture(name="rig", params=list(PLATFORMS))
def rig_fixture(request: pytest.FixtureRequest) -> Iterator[Rig]:
    """Each platform in turn: a running emulator with one robot (signed where the platform signs)."""
    platform = PLATFORMS[request.param]
    clock = FixedClock()
    emulator = platform.emulator(clock)
    emulator.start()
    token = new_token()
    secret = {"wecom": None, "dingtalk": "SEC" + uuid.uuid4().hex * 2, "feishu": uuid.uuid4().hex[:22]}[
        platform.name
    ]
    emulator.add_robot(token, secret)
    try:
        yield Rig(platform, emulator, token, clock, secret)
    finally:
        emulator.close()
