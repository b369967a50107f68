"""Recognise RSSHub's error page, so a broken route is named as such rather than "HTTP 503".

When a route fails, RSSHub (lib/errors/index.tsx, lib/views/error.tsx) answers with an
HTML page headed "Looks like something went wrong" whose message is `<ErrorName>: <text>`,
with status 404 for a route that does not exist (NotFoundError), 403 for a route its
access control refuses (RejectError) and 503 for everything else: a missing setting
(ConfigNotFoundError), expired Weibo cookies ("Cookies expired. Please update
WEIBO_COOKIES"), the upstream site failing or having changed. Older releases printed the
message in `<pre class="message">`.
"""

from __future__ import annotations

import html
import re

from ..i18n import t

__all__ = ["rsshub_error"]

_MARK = "Looks like something went wrong"
_MESSAGE = re.compile(
    r"Error Message:\s*(?:<br\s*/?>)?\s*<code[^>]*>(?P<new>.*?)</code>|<pre class=\"message\">(?P<old>.*?)</pre>",
    re.S | re.IGNORECASE,
)
_TAGS = re.compile(r"<[^>]*>")
_MAX_MESSAGE = 300


def _message(page: str) -> str:
    m = _MESSAGE.search(page)
    raw = (m.group("new") or m.group("old") or "") if m else ""
    text = " ".join(html.unescape(_TAGS.sub(" ", raw)).split())
    return text[:_MAX_MESSAGE] + ("…" if len(text) > _MAX_MESSAGE else "")


def rsshub_error(page: str, status: int | None = None) -> str | None:
    """What went wrong, in the user's language, when `page` is RSSHub's error page; else None."""
    if _MARK not in page or "RSSHub" not in page:
        return None
    message = _message(page) or (f"HTTP {status}" if status else "-")
    name = message.split(":", 1)[0].strip()
    if name == "NotFoundError" or (status == 404 and name != "ConfigNotFoundError"):
        return t("feed_error_rsshub_route", message=message)
    if name == "ConfigNotFoundError" or "cookie" in message.lower():
        return t("feed_error_rsshub_config", message=message)
    if name == "RejectError" or status == 403:
        return t("feed_error_rsshub_rejected", message=message)
    return t("feed_error_rsshub_other", message=message)
