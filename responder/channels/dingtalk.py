"""DingTalk (钉钉) custom group robots: `POST https://oapi.dingtalk.com/robot/send?access_token=T`.

From DingTalk's 自定义机器人接入 / 自定义机器人安全设置 / 自定义机器人发送群消息
(open.dingtalk.com/document/orgapp/custom-robot-access, …/customize-robot-security-settings,
…/custom-robots-send-group-messages):
- Security settings (at least one is required when the robot is made): 自定义关键词 (the
  message must contain one of up to 10 keywords), 加签 (signing) and IP 地址段.
- Signing: `timestamp` is the current time in milliseconds, within one hour of the server's
  clock; the string to sign is `timestamp + "\n" + secret` (the secret shown under 加签,
  starting with SEC), signed with HmacSHA256 keyed by the secret, Base64-encoded, then
  URL-encoded; both go in the query: `&timestamp=…&sign=…`.
- `markdown` messages: `{"msgtype": "markdown", "markdown": {"title": …, "text": …}}`; the
  title is what the notification shows.
- Each robot sends at most 20 messages a minute; past 20 it is throttled for 10 minutes.
- Size: the server refuses a request over 20,000 bytes (errcode 460101 "message too long,
  exceed 20000 bytes"; newer servers word it "body 大小不合法…请保持大小在 20000bytes 以内"):
  we keep the whole request body within 20,000 bytes.
Answers (HTTP 200, `{"errcode": N, "errmsg": "…"}`), as servers give them (the pages above
and the errors reported against public DingTalk SDKs): 0 ok; 130101 "send too fast, exceed
20 times per minute" (we wait the 10-minute throttle out); 300001 / 300005 "token is not
exist" (wrong or deleted robot); 310000 for every security refusal, told apart by errmsg
("sign not match", "invalid timestamp", "keywords not in content", "ip … not in
whitelist"); 460101 too large; -1 busy.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import quote

from .message import ChannelMessage, markdown_line, md_link, md_text
from .webhook import Delivered, Outcome, Request, WebhookClient, dumps

__all__ = ["BODY_LIMIT", "DingTalkClient", "sign"]

BODY_LIMIT = 20_000  # bytes of the request body
THROTTLE_WAIT = 600  # seconds: "如果超过20条，会限流10分钟"


def sign(timestamp_ms: int, secret: str) -> str:
    """DingTalk's signature of `timestamp_ms`, Base64 (not yet URL-encoded)."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class DingTalkClient(WebhookClient):
    """One DingTalk custom robot, signed when a secret is configured."""

    platform = "dingtalk"
    limits = ((20, 60.0),)

    def payload(self, message: ChannelMessage) -> dict[str, Any]:
        """A markdown message; lines are paragraphs (DingTalk's markdown joins single newlines)."""
        parts = [f"#### {md_text(message.title)}"]
        parts += [markdown_line(line) for line in message.lines]
        if message.link:
            parts.append(md_link(message.link_label, message.link))
        return {"msgtype": "markdown", "markdown": {"title": message.title[:64], "text": "\n\n".join(parts)}}

    def build(self, payload: dict[str, Any], now: float) -> Request:
        """access_token in the query, and timestamp + sign when the robot signs."""
        url = f"{self.endpoint.base}/robot/send?access_token={quote(self.endpoint.token, safe='')}"
        if self.endpoint.secret:
            ms = int(now * 1000)
            url += f"&timestamp={ms}&sign={quote(sign(ms, self.endpoint.secret), safe='')}"
        return Request(url, dumps(payload))

    def fits(self, payload: dict[str, Any], request: Request) -> bool:
        """The whole request body within 20,000 bytes."""
        return len(request.body) <= BODY_LIMIT

    def classify(self, status: int, answer: dict[str, Any]) -> Outcome | None:
        """errcode → outcome (see the module docstring)."""
        code = answer.get("errcode")
        if not isinstance(code, int):
            return None
        detail = str(answer.get("errmsg", ""))[:200]
        if code == 0:
            return Delivered()
        if code == 130101:
            return self.rate_limited(code, THROTTLE_WAIT)
        if code in (300001, 300005):
            return self.refused("channel_bad_key", code, detail, robot_level=True)
        if code == 310000:
            return self.refused(_security_key(detail), code, detail, robot_level=True)
        if code == -1:
            return self.busy(code, detail)
        return self.refused("channel_rejected", code, detail, robot_level=False)


def _security_key(errmsg: str) -> str:
    """Which security setting refused: signature (or clock), keyword or IP."""
    text = errmsg.lower()
    if "keyword" in text or "关键词" in errmsg:
        return "channel_keyword"
    if "ip" in text.split() or "whitelist" in text or "白名单" in errmsg:
        return "channel_ip"
    return "channel_bad_sign"
