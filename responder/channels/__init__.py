"""Send-only chat channels beside Telegram: WeCom (企业微信), DingTalk (钉钉) and Feishu (飞书)
group robots, reached by webhook.

A robot can only post into its group, so each message carries the link to the incident's
page in the web console (`responder.web.links.incident_url`), where people act. roster.yaml
names the robots of each chat and the environment variables holding their secrets
(`robots.py`); a client per platform renders, shortens, signs, paces and sends one
message and says what happened in three outcomes (`webhook.py`), which the robot sender
(`responder/senders/robots.py`) hands the outbox.

    endpoint = roster.chats.channels("duty").wecom.endpoint(env.variables)  # WECOM_DUTY_KEY
    client = client_for(endpoint)
    outcome = await client.send(ChannelMessage(title, lines, incident_url(web, 42)))
"""

from __future__ import annotations

from typing import Any

from .dingtalk import DingTalkClient
from .feishu import FeishuClient
from .message import ChannelMessage, Line, Segment, from_telegram_html
from .robots import ChatChannels, DingTalkRobot, Endpoint, FeishuRobot, Robot, RobotSecretError, WeComRobot
from .webhook import Delivered, Outcome, Permanent, RetryLater, WebhookClient
from .wecom import WeComClient

__all__ = [
    "ChannelMessage",
    "ChatChannels",
    "Delivered",
    "DingTalkClient",
    "DingTalkRobot",
    "Endpoint",
    "FeishuClient",
    "FeishuRobot",
    "Line",
    "Outcome",
    "Permanent",
    "RetryLater",
    "Robot",
    "RobotSecretError",
    "Segment",
    "WeComClient",
    "WeComRobot",
    "WebhookClient",
    "client_for",
    "from_telegram_html",
]

_CLIENTS: dict[str, type[WebhookClient]] = {
    "wecom": WeComClient,
    "dingtalk": DingTalkClient,
    "feishu": FeishuClient,
}


def client_for(endpoint: Endpoint, **options: Any) -> WebhookClient:
    """The client of `endpoint`'s platform (options: http, clock, pacer, timeout)."""
    return _CLIENTS[endpoint.platform](endpoint, **options)
