"""WeCom (企业微信) group robots: `POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY`.

From WeCom's 群机器人配置说明 (developer.work.weixin.qq.com/document/path/91770; also
work.weixin.qq.com/api/doc/90000/90136/91770):
- The key in the webhook address is the robot's only credential; there is no signing,
  keyword or IP setting.
- `markdown` messages: `{"msgtype": "markdown", "markdown": {"content": …}}`, content at
  most 4096 bytes of UTF-8 (the server's answer agrees: errcode 40058 "markdown.content
  exceed max length 4096"). We send markdown (bold title, links); `text` is 2048 bytes by
  the same page (servers have been seen to accept up to 5120; we follow the page).
- Each robot may send at most 20 messages a minute.
Answers are HTTP 200 with `{"errcode": N, "errmsg": "…"}`: 0 ok; 45009 "api freq out of
limit" (rate limit: we wait a full minute); 93000 "invalid webhook url" (wrong or deleted
key: every message fails until the key is fixed); -1 system busy (retry); 40058 too long
and any other code refuse that one message.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .message import ChannelMessage, markdown_line, md_link, md_text
from .webhook import Delivered, Outcome, Request, WebhookClient, dumps

__all__ = ["MARKDOWN_LIMIT", "WeComClient"]

MARKDOWN_LIMIT = 4096  # bytes of markdown.content (UTF-8)
RATE_LIMIT_WAIT = 60  # seconds after 45009: the limit is per minute


class WeComClient(WebhookClient):
    """One WeCom group robot."""

    platform = "wecom"
    limits = ((20, 60.0),)

    def payload(self, message: ChannelMessage) -> dict[str, Any]:
        """A markdown message: the title in bold, the lines, the console link last."""
        parts = [f"**{md_text(message.title)}**"]
        parts += [markdown_line(line) for line in message.lines]
        if message.link:
            parts.append(md_link(message.link_label, message.link))
        return {"msgtype": "markdown", "markdown": {"content": "\n".join(parts)}}

    def build(self, payload: dict[str, Any], now: float) -> Request:
        """The key goes in the query; WeCom robots are not signed."""
        url = f"{self.endpoint.base}/cgi-bin/webhook/send?key={quote(self.endpoint.token, safe='')}"
        return Request(url, dumps(payload))

    def fits(self, payload: dict[str, Any], request: Request) -> bool:
        """markdown.content within 4096 bytes."""
        return len(payload["markdown"]["content"].encode("utf-8")) <= MARKDOWN_LIMIT

    def classify(self, status: int, answer: dict[str, Any]) -> Outcome | None:
        """errcode → outcome (see the module docstring)."""
        code = answer.get("errcode")
        if not isinstance(code, int):
            return None
        detail = str(answer.get("errmsg", ""))[:200]
        if code == 0:
            return Delivered()
        if code == 45009:
            return self.rate_limited(code, RATE_LIMIT_WAIT)
        if code == 93000:
            return self.refused("channel_bad_key", code, detail, robot_level=True)
        if code == -1:
            return self.busy(code, detail)
        return self.refused("channel_rejected", code, detail, robot_level=False)
