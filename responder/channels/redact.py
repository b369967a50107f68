"""Keeping robot keys, tokens and signing secrets out of log lines and error texts.

A robot's webhook address is its credential: WeCom's `?key=`, DingTalk's `?access_token=`
(and `&sign=`), Feishu's `/hook/<token>`. httpx logs every request address at INFO, so
`protect` lowers httpx and httpcore to WARNING (as the Telegram sender does) and puts a
filter on them and on this package's loggers that rewrites any record mentioning a
registered secret or an address of that shape. `redact` applies the same rewriting to a
text we build ourselves (an outbox `last_error`, a reason shown to the admins).
"""

from __future__ import annotations

import logging
import re

__all__ = ["PLACEHOLDER", "protect", "redact"]

PLACEHOLDER = "<secret>"

# Credentials in webhook addresses, whatever their value: the shapes of the three platforms.
_PATTERNS = (
    re.compile(r"(?P<keep>[?&](?:key|access_token|sign)=)[^&#\s\"'<>]+"),
    re.compile(r"(?P<keep>/open-apis/bot/v2/hook/)[^?#/\s\"'<>]+"),
)

_LOGGERS = (
    "httpx",
    "httpcore",
    "responder.channels",
    "responder.channels.webhook",
    "responder.channels.wecom",
    "responder.channels.dingtalk",
    "responder.channels.feishu",
)


class _Redactor(logging.Filter):
    """Rewrites records that mention a secret. One instance, shared by every logger."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_REDACTOR = _Redactor()


def redact(text: str) -> str:
    """`text` with every registered secret and every webhook credential replaced."""
    for secret in sorted(_REDACTOR.secrets, key=len, reverse=True):
        text = text.replace(secret, PLACEHOLDER)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group("keep") + PLACEHOLDER, text)
    return text


def protect(*secrets: str | None) -> None:
    """Register `secrets` (a robot key, token or signing secret) and make sure the loggers
    that could see them are filtered. Call before the first request with them."""
    for secret in secrets:
        # Very short values would blank out ordinary words; real keys are 16+ characters.
        if secret and len(secret) >= 6:
            _REDACTOR.secrets.add(secret)
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)
