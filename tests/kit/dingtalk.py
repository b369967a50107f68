"""A DingTalk (钉钉) custom-robot emulator: `POST /robot/send?access_token=T[&timestamp=&sign=]`.

Sources: 自定义机器人接入 and 自定义机器人安全设置 (open.dingtalk.com/document/orgapp/
custom-robot-access, …/customize-robot-security-settings, …/custom-robots-send-group-messages)
and the answers DingTalk's servers give as reported against public SDKs (issues of
prometheus-webhook-dingtalk, jenkinsci/dingtalk-plugin, nightingale, SecCrawler …):

- Unknown token: errcode 300001 "token is not exist".
- 加签: without `timestamp` and `sign`, 310000 "sign not match" (as reported when one is
  missing); `timestamp` (ms) must be within one hour of the server's clock, else 310000
  "invalid timestamp"; `sign` must equal urlencode(base64(HmacSHA256(key=secret,
  msg=timestamp+"\n"+secret))), checked here as the server does, after URL-decoding the
  query (an unencoded "+" becomes a space and fails): else 310000 "sign not match".
- 自定义关键词: the message must contain one of the keywords, else 310000 "keywords not in
  content". IP 地址段: else 310000 "ip X not in whitelist".
- "每个机器人每分钟最多发送20条消息到群里，如果超过20条，会限流10分钟": the 21st message
  within a sliding minute gets 130101 "send too fast, exceed 20 times per minute", and so
  does every request for the next 10 minutes.
- A request body over 20,000 bytes: 460101 "message too long, exceed 20000 bytes".
- Every answer is HTTP 200 with {"errcode", "errmsg"}; "busy" is -1 "系统繁忙".
Message types: text, markdown (title and text required), link, actionCard, feedCard are
accepted; anything else (and malformed JSON) gets 400105 "不支持的消息类型", a code from
DingTalk's newer error table that the sources above do not confirm; our client never
sends such a request.
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

__all__ = ["BODY_LIMIT", "DingTalkEmulator", "dingtalk_fixture"]

BODY_LIMIT = 20_000
WINDOWS = (Window(20, 60.0),)
THROTTLE = 600.0
TYPES = ("text", "markdown", "link", "actionCard", "feedCard")


def _error(code: int, message: str) -> Answer:
    return Answer(200, {"errcode": code, "errmsg": message})


def expected_sign(timestamp: str, secret: str) -> str:
    """The signature DingTalk computes for `timestamp` (base64, before URL-encoding)."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _visible_text(message: dict[str, Any]) -> str:
    """Every string of the message body but the type: what a keyword is looked for in."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk({k: v for k, v in message.items() if k != "msgtype"})
    return "\n".join(out)


class DingTalkEmulator(RobotEmulator):
    """DingTalk's robot webhook on 127.0.0.1."""

    name = "dingtalk"

    def webhook(self, token: str) -> str:
        """The robot's webhook address, as the app shows it."""
        return f"{self.base_url}/robot/send?access_token={token}"

    def fault_answer(self, kind: str) -> Answer:
        if kind == "rate_limited":
            return _error(130101, "send too fast, exceed 20 times per minute")
        return _error(-1, "系统繁忙")

    def answer(self, path: str, query: dict[str, str], body: bytes, ip: str) -> Answer:
        if path != "/robot/send":
            return Answer(404, "<html><body>404 Not Found</body></html>", "text/html")
        robot = self.robots.get(query.get("access_token", ""))
        if robot is None:
            return _error(300001, "token is not exist")
        now = self.clock()
        refused = self._security(robot, query, ip, now)
        if refused is not None:
            return refused
        if len(body) > BODY_LIMIT:
            return _error(460101, "message too long, exceed 20000 bytes")
        try:
            message = json.loads(body)
        except ValueError:
            return _error(400105, "不支持的消息类型")
        if not isinstance(message, dict) or message.get("msgtype") not in TYPES or not _complete(message):
            return _error(400105, "不支持的消息类型")
        if robot.keywords and not any(k in _visible_text(message) for k in robot.keywords):
            return _error(310000, "keywords not in content")
        if now < robot.throttled_until:
            return _error(130101, "send too fast, exceed 20 times per minute")
        if self.over_limit(robot, WINDOWS, now):
            robot.throttled_until = now + THROTTLE
            return _error(130101, "send too fast, exceed 20 times per minute")
        self.accept(robot, message, now)
        return _error(0, "ok")

    @staticmethod
    def _security(robot: Robot, query: dict[str, str], ip: str, now: float) -> Answer | None:
        if not robot.ip_allowed(ip):
            return _error(310000, f"ip {ip} not in whitelist")
        if robot.secret is None:
            return None
        timestamp, sign = query.get("timestamp", ""), query.get("sign", "")
        if not timestamp or not sign:  # a signing robot called without a signature
            return _error(310000, "sign not match")
        if not timestamp.isdigit() or abs(now * 1000 - int(timestamp)) > 3600 * 1000:
            return _error(310000, "invalid timestamp")
        if not hmac.compare_digest(sign, expected_sign(timestamp, robot.secret)):
            return _error(310000, "sign not match")
        return None

    def markdowns(self, token: str) -> list[dict[str, str]]:
        """The markdown {title, text} of each message robot `token` posted."""
        return [m["markdown"] for m in self.messages(token) if m["msgtype"] == "markdown"]


def _complete(message: dict[str, Any]) -> bool:
    if message["msgtype"] == "markdown":
        md = message.get("markdown") or {}
        return bool(md.get("title")) and bool(md.get("text"))
    if message["msgtype"] == "text":
        return bool((message.get("text") or {}).get("content"))
    return True


@pytest.fixture(name="dingtalk")
def dingtalk_fixture() -> Iterator[DingTalkEmulator]:
    """A running DingTalk emulator, closed after the test."""
    emulator = DingTalkEmulator()
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.close()
