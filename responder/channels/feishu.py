"""Feishu (飞书) custom bots: `POST https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN`.

From Feishu's 自定义机器人使用指南 (open.feishu.cn/document/ukTMukTMukTM/ucTM5YjL3ETO24yNxkjN,
the same page on open.larkoffice.com):
- Security settings: 自定义关键词 (up to 10), IP 白名单, 签名校验.
- Signing: `timestamp` in *seconds*, within one hour (3600 s) of the server's clock; the
  string `timestamp + "\n" + secret` is the HmacSHA256 *key*, the message signed is empty,
  and the Base64 result is sent as `sign` in the JSON body beside `timestamp` (unlike
  DingTalk, whose key is the secret and whose signature goes in the address).
- Rate: 100 requests a minute and 5 a second per bot; around the hour and half hour the
  platform may also refuse under load with code 11232.
- Size: the request body may not exceed 20 KB; we keep it within 20,000 bytes, the
  stricter reading of "20 KB".
- Messages: we send `post` (rich text): a title and paragraphs of `text` and `a` elements.
Answers are `{"code": N, "msg": "…", "data": {}}` (older servers add StatusCode): 0 ok;
9499 "too many request" (HTTP 400; rate limit: we wait a minute) and 9499 "Bad Request"
(malformed or over 20 KB: that message is refused); 11232 "frequency limited" (load: wait
half a minute); 19001 "param invalid: incoming webhook access token invalid" (wrong or
deleted bot); 19021 "sign match fail or timestamp is not within one hour from current
time"; 19022 "Ip Not Allowed"; 19024 "Key Words Not Found".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import quote

from .message import ChannelMessage, Line
from .webhook import Delivered, Outcome, Request, WebhookClient, dumps

__all__ = ["BODY_LIMIT", "FeishuClient", "sign"]

BODY_LIMIT = 20_000  # bytes of the request body ("20 KB", read strictly)
RATE_LIMIT_WAIT = 60  # seconds after 9499 "too many request": the wider window is a minute
PRESSURE_WAIT = 30  # seconds after 11232: the platform is shedding load around :00 and :30


def sign(timestamp: int, secret: str) -> str:
    """Feishu's signature of `timestamp` (seconds): HMAC-SHA256 keyed by "timestamp\\nsecret"
    over an empty message, Base64."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def _paragraph(line: Line) -> list[dict[str, str]]:
    return [
        {"tag": "a", "text": s.text, "href": s.href} if s.href else {"tag": "text", "text": s.text}
        for s in line.segments
    ]


class FeishuClient(WebhookClient):
    """One Feishu custom bot, signed when a secret is configured."""

    platform = "feishu"
    limits = ((5, 1.0), (100, 60.0))

    def payload(self, message: ChannelMessage) -> dict[str, Any]:
        """A `post` message: the title, one paragraph per line, the console link last."""
        content = [_paragraph(line) for line in message.lines]
        if message.link:
            content.append([{"tag": "a", "text": message.link_label, "href": message.link}])
        post = {"zh_cn": {"title": message.title, "content": content}}
        return {"msg_type": "post", "content": {"post": post}}

    def build(self, payload: dict[str, Any], now: float) -> Request:
        """The token in the path; timestamp and sign in the body when the bot signs."""
        url = f"{self.endpoint.base}/open-apis/bot/v2/hook/{quote(self.endpoint.token, safe='')}"
        if self.endpoint.secret:
            seconds = int(now)
            payload = {"timestamp": str(seconds), "sign": sign(seconds, self.endpoint.secret), **payload}
        return Request(url, dumps(payload))

    def fits(self, payload: dict[str, Any], request: Request) -> bool:
        """The whole request body within 20,000 bytes."""
        return len(request.body) <= BODY_LIMIT

    def classify(self, status: int, answer: dict[str, Any]) -> Outcome | None:
        """code → outcome (see the module docstring)."""
        code = answer.get("code", answer.get("StatusCode"))
        if not isinstance(code, int):
            return None
        detail = str(answer.get("msg", answer.get("StatusMessage", "")))[:200]
        if code == 0:
            return Delivered()
        if code == 9499 and "too many" in detail.lower():
            return self.rate_limited(code, RATE_LIMIT_WAIT)
        if code == 11232:
            return self.rate_limited(code, PRESSURE_WAIT)
        if code == 19001:
            return self.refused("channel_bad_key", code, detail, robot_level=True)
        if code == 19021:
            return self.refused("channel_bad_sign", code, detail, robot_level=True)
        if code == 19022:
            return self.refused("channel_ip", code, detail, robot_level=True)
        if code == 19024:
            return self.refused("channel_keyword", code, detail, robot_level=True)
        return self.refused("channel_rejected", code, detail, robot_level=False)
