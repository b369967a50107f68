"""A Feishu (飞书) custom-bot emulator: `POST /open-apis/bot/v2/hook/TOKEN`.

Source: 自定义机器人使用指南 (open.feishu.cn/document/ukTMukTMukTM/ucTM5YjL3ETO24yNxkjN, the
same page on open.larkoffice.com), and the answers Feishu's servers give as reported
against public SDKs and tools (PrometheusAlert #422, TrendRadar #278, …):

- Unknown token: HTTP 200 {"code": 19001, "msg": "param invalid: incoming webhook access
  token invalid"}.
- 签名校验: the body carries `timestamp` (seconds, within 3600 s of the server's clock) and
  `sign` = base64(HmacSHA256(key=timestamp+"\n"+secret, msg="")); otherwise 19021 "sign
  match fail or timestamp is not within one hour from current time".
- 自定义关键词: 19024 "Key Words Not Found". IP 白名单: 19022 "Ip Not Allowed".
- "单租户单机器人 100 次/分钟，5 次/秒" (sliding windows here): HTTP 400 {"code": 9499,
  "msg": "too many request"}. Under load the platform also answers 11232 "frequency
  limited" (the `busy` fault).
- "请求体的数据大小不能超过 20 KB": read strictly as 20,000 bytes; like a malformed body it
  gets HTTP 400 {"code": 9499, "msg": "Bad Request"}.
Message types: text, post, image, share_chat, interactive; a `post` must have, under
content.post, a language with a content list of paragraphs of tagged elements.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest

from kit.robotbase import Answer, Robot, RobotEmulator, Window

__all__ = ["BODY_LIMIT", "FeishuEmulator", "feishu_fixture"]

BODY_LIMIT = 20_000
WINDOWS = (Window(5, 1.0), Window(100, 60.0))
TYPES = ("text", "post", "image", "share_chat", "interactive")
TAGS = ("text", "a", "at", "img", "media", "emotion")


def _answer(code: int, msg: str, status: int = 200) -> Answer:
    return Answer(status, {"code": code, "data": {}, "msg": msg})


def expected_sign(timestamp: str, secret: str) -> str:
    """The signature Feishu computes for `timestamp`."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


class FeishuEmulator(RobotEmulator):
    """Feishu's custom-bot webhook on 127.0.0.1."""

    name = "feishu"

    def webhook(self, token: str) -> str:
        """The bot's webhook address, as the app shows it."""
        return f"{self.base_url}/open-apis/bot/v2/hook/{token}"

    def fault_answer(self, kind: str) -> Answer:
        if kind == "rate_limited":
            return _answer(9499, "too many request", 400)
        return _answer(11232, "frequency limited psm[lark.oapi.app_platform_runtime]appID[1]")

    def answer(self, path: str, query: dict[str, str], body: bytes, ip: str) -> Answer:
        prefix = "/open-apis/bot/v2/hook/"
        if not path.startswith(prefix):
            return Answer(404, "404 page not found", "text/plain")
        robot = self.robots.get(path[len(prefix) :])
        if robot is None:
            return _answer(19001, "param invalid: incoming webhook access token invalid")
        if len(body) > BODY_LIMIT:
            return _answer(9499, "Bad Request", 400)
        try:
            message = json.loads(body)
        except ValueError:
            return _answer(9499, "Bad Request", 400)
        if not isinstance(message, dict):
            return _answer(9499, "Bad Request", 400)
        now = self.clock()
        refused = self._security(robot, message, ip, now)
        if refused is not None:
            return refused
        if not _well_formed(message):
            return _answer(9499, "Bad Request", 400)
        if self.over_limit(robot, WINDOWS, now):
            return _answer(9499, "too many request", 400)
        self.accept(robot, message, now)
        return Answer(
            200, {"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"}
        )

    @staticmethod
    def _security(robot: Robot, message: dict[str, Any], ip: str, now: float) -> Answer | None:
        if not robot.ip_allowed(ip):
            return _answer(19022, "Ip Not Allowed")
        if robot.secret is not None:
            timestamp, sign = str(message.get("timestamp", "")), str(message.get("sign", ""))
            fresh = timestamp.isdigit() and abs(now - int(timestamp)) <= 3600
            if not fresh or not hmac.compare_digest(sign, expected_sign(timestamp, robot.secret)):
                return _answer(19021, "sign match fail or timestamp is not within one hour from current time")
        if robot.keywords:
            text = json.dumps(message.get("content", {}), ensure_ascii=False)
            if not any(k in text for k in robot.keywords):
                return _answer(19024, "Key Words Not Found")
        return None

    def posts(self, token: str) -> list[dict[str, Any]]:
        """The post (zh_cn: title and content) of each post message bot `token` sent."""
        return [m["content"]["post"]["zh_cn"] for m in self.messages(token) if m["msg_type"] == "post"]


def _well_formed(message: dict[str, Any]) -> bool:
    kind = message.get("msg_type")
    if kind not in TYPES:
        return False
    if kind == "text":
        return bool((message.get("content") or {}).get("text"))
    if kind != "post":
        return True
    post = (message.get("content") or {}).get("post")
    if not isinstance(post, dict) or not post:
        return False
    for lang in post.values():
        paragraphs = lang.get("content") if isinstance(lang, dict) else None
        if not isinstance(paragraphs, list):
            return False
        for paragraph in paragraphs:
            if not isinstance(paragraph, list):
                return False
            for element in paragraph:
                if not isinstance(element, dict) or element.get("tag") not in TAGS:
                    return False
                if element["tag"] == "a" and not str(element.get("href", "")).startswith(
                    ("http://", "https://")
                ):
                    return False
    return True


@pytest.fixture(name="feishu")
def feishu_fixture() -> Iterator[FeishuEmulator]:
    """A running Feishu emulator, closed after the test."""
    emulator = FeishuEmulator()
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.close()
