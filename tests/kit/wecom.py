"""A WeCom (企业微信) group-robot emulator: `POST /cgi-bin/webhook/send?key=KEY`.

Source: 群机器人配置说明, developer.work.weixin.qq.com/document/path/91770 (the same text at
work.weixin.qq.com/api/doc/90000/90136/91770), and the answers WeCom's servers give as
reported against public SDKs (issues of PrometheusAlert, BiliBiliTool, watchvuln …):

- The key in the query is the only credential (no signing, keyword or IP settings). An
  unknown or removed key: errcode 93000 "invalid webhook url, hint: […], from ip: …, more
  info at https://open.work.weixin.qq.com/devtool/query?e=93000".
- `text`: content at most 2048 bytes of UTF-8 (the page; servers have been seen to allow
  5120, but we hold to the page). `markdown`: content at most 4096 bytes ("markdown.content
  exceed max length 4096. invalid Request Parameter", errcode 40058; text likewise).
- At most 20 messages a minute per robot, counted here over a sliding 60 s (the stricter
  reading): errcode 45009 "api freq out of limit". Refused requests do not count.
- Every answer is HTTP 200 with {"errcode", "errmsg"}; "busy" is errcode -1 "system busy".
Message types other than text and markdown (image, news, file, template_card) are not
emulated: errcode 40008 "invalid message type", as for an unknown type. Malformed JSON or
a missing content get 40058 (WeCom's global code for an invalid parameter); our client
never sends either.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from kit.robotbase import Answer, RobotEmulator, Window

__all__ = ["TEXT_LIMIT", "WeComEmulator", "wecom_fixture"]

TEXT_LIMIT = 2048
MARKDOWN_LIMIT = 4096
WINDOWS = (Window(20, 60.0),)
_HINT = "hint: [1700000000_0_emulator], from ip: {ip}, more info at https://open.work.weixin.qq.com/devtool/query?e={code}"


def _error(code: int, message: str, ip: str = "127.0.0.1") -> Answer:
    return Answer(200, {"errcode": code, "errmsg": f"{message}, {_HINT.format(ip=ip, code=code)}"})


class WeComEmulator(RobotEmulator):
    """WeCom's webhook on 127.0.0.1."""

    name = "wecom"

    def webhook(self, key: str) -> str:
        """The robot's webhook address, as the app shows it."""
        return f"{self.base_url}/cgi-bin/webhook/send?key={key}"

    def fault_answer(self, kind: str) -> Answer:
        if kind == "rate_limited":
            return _error(45009, "api freq out of limit")
        return Answer(200, {"errcode": -1, "errmsg": "system busy"})

    def answer(self, path: str, query: dict[str, str], body: bytes, ip: str) -> Answer:
        if path != "/cgi-bin/webhook/send":
            return Answer(404, "<html><body>404 Not Found</body></html>", "text/html")
        robot = self.robots.get(query.get("key", ""))
        if robot is None:
            return _error(93000, "invalid webhook url", ip)
        try:
            message = json.loads(body)
        except ValueError:
            return _error(40058, "invalid Request Parameter. Warning: wrong json format.", ip)
        problem = _check(message)
        if problem is not None:
            return problem
        now = self.clock()
        if self.over_limit(robot, WINDOWS, now):
            return _error(45009, "api freq out of limit", ip)
        self.accept(robot, message, now)
        return Answer(200, {"errcode": 0, "errmsg": "ok"})

    def contents(self, key: str) -> list[str]:
        """The text or markdown content of each message robot `key` posted."""
        return [m[m["msgtype"]]["content"] for m in self.messages(key)]


def _check(message: Any) -> Answer | None:
    if not isinstance(message, dict):
        return _error(40058, "invalid Request Parameter. Warning: wrong json format.")
    kind = message.get("msgtype")
    if kind not in ("text", "markdown"):
        return _error(40008, "invalid message type")
    content = (message.get(kind) or {}).get("content")
    if not isinstance(content, str) or not content:
        return _error(40058, f"missing {kind}.content. invalid Request Parameter")
    limit = TEXT_LIMIT if kind == "text" else MARKDOWN_LIMIT
    if len(content.encode("utf-8")) > limit:
        return _error(40058, f"{kind}.content exceed max length {limit}. invalid Request Parameter")
    return None


@pytest.fixture(name="wecom")
def wecom_fixture() -> Iterator[WeComEmulator]:
    """A running WeCom emulator, closed after the test."""
    emulator = WeComEmulator()
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.close()
