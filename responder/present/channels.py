"""Words about the chat robots (WeCom, DingTalk, Feishu): their names, their refusals, and the
warning when the console links they carry would point nowhere (pure)."""

from __future__ import annotations

from ipaddress import ip_address
from urllib.parse import urlsplit

from ..i18n import t
from .html import esc

__all__ = ["console_link_warning", "platform_name", "robot_name", "robot_refused"]

_PLATFORM_KEYS = {
    "wecom": "channel_platform_wecom",
    "dingtalk": "channel_platform_dingtalk",
    "feishu": "channel_platform_feishu",
}


def platform_name(platform: str) -> str:
    """A robot platform in words: 企业微信, 钉钉, 飞书."""
    return t(_PLATFORM_KEYS[platform])


def robot_name(address: str) -> str:
    """A robot's address (`wecom:WECOM_DUTY_KEY`) in words: 企业微信机器人（WECOM_DUTY_KEY）."""
    platform, _, variable = address.partition(":")
    if platform not in _PLATFORM_KEYS:
        return address
    return t("robot_name", platform=platform_name(platform), variable=variable)


def robot_refused(address: str, reason: str) -> str:
    """The admins' one report that a robot refuses every message (bad key, signature, keyword, IP)."""
    return t("robot_refused", robot=esc(robot_name(address)), reason=esc(reason))


def _loopback(host: str) -> bool:
    if host in ("localhost", "") or host.endswith(".localhost"):
        return True
    try:
        address = ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def console_link_warning(robots: int, public_url: str | None, shown_url: str) -> str | None:
    """The warning when `robots` robots are configured but their console links would point at
    this machine (`web.public_url` unset, or a loopback address); None when all is well."""
    if robots == 0:
        return None
    if not public_url:
        return t("robots_public_url_unset", n=robots, url=shown_url)
    host = (urlsplit(public_url).hostname or "").lower()
    if _loopback(host):
        return t("robots_public_url_loopback", n=robots, url=public_url)
    return None
