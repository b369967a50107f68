"""Keeping the bot token out of every log line.

httpx logs each request URL at INFO and python-telegram-bot logs its API URL at DEBUG;
both URLs hold the token. `protect_token` raises httpx/httpcore to WARNING and installs
one filter that rewrites any record mentioning a known secret.
"""

from __future__ import annotations

import logging

__all__ = ["ExpectedFlood", "protect_token", "redact"]

# Loggers that can see a request URL (which holds the token).
_URL_LOGGERS = (
    "httpx",
    "httpcore",
    "telegram",
    "telegram.Bot",
    "telegram.ext",
    "telegram.ext.ExtBot",
    "telegram.ext.Updater",
    "telegram.ext.Application",
    "telegram.ext.AIORateLimiter",
    "telegram.request.BaseRequest",
    "telegram.request.HTTPXRequest",
)


class _Redactor(logging.Filter):
    """Rewrites records that mention a known secret. One instance, shared by every logger."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self.secrets):
            record.msg, record.args = redact(message, self.secrets), None
        return True


_REDACTOR = _Redactor()


def _secrets_of(token: str) -> set[str]:
    secret = token.split(":", 1)[-1]
    return {token} | ({secret} if len(secret) >= 8 else set())


def redact(text: str, secrets: set[str] | str) -> str:
    """`text` with every secret (a token and its secret half) replaced by `<token>`."""
    known = _secrets_of(secrets) if isinstance(secrets, str) else secrets
    for secret in sorted(known, key=len, reverse=True):
        text = text.replace(secret, "<token>")
    return text


def protect_token(token: str) -> None:
    """Keep `token` out of the logs. Call before building any Bot with it (PTB logs its URL then)."""
    if not token:
        return
    _REDACTOR.secrets |= _secrets_of(token)
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in _URL_LOGGERS:
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)


class ExpectedFlood(logging.Filter):
    """Drops AIORateLimiter's ERROR-with-traceback for a 429 it was told not to retry
    (max_retries=0): the outbox handles that 429 and logs one warning of its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (str(record.msg).startswith("Rate limit hit after maximum of") and record.args == (0,))
