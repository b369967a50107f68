"""Addresses of console pages, built from `web.public_url` (pure; no web framework imported).

Send-only chat channels (WeCom, DingTalk, Feishu robots) cannot carry buttons, so their
messages carry `incident_url(...)`: the page where the person acts.
"""

from __future__ import annotations

from urllib.parse import quote

from ..config import WebConsole

__all__ = ["base_url", "incident_url", "login_url", "path_prefix"]


def _host_for_url(host: str) -> str:
    # A wildcard address is where the server listens, not one a browser can open.
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def base_url(web: WebConsole, port: int | None = None) -> str:
    """The console's address without a trailing slash: `public_url`, else http://host:port
    (`port` is the port actually bound, when `web.port` is 0)."""
    if web.public_url:
        return web.public_url
    return f"http://{_host_for_url(web.host)}:{port if port is not None else web.port}"


def path_prefix(web: WebConsole) -> str:
    """The path part of `public_url` ('' or e.g. '/console'): a reverse proxy serves the
    console under it and strips it before passing requests on, so page links add it back."""
    if not web.public_url:
        return ""
    rest = web.public_url.split("://", 1)[1]
    return "/" + rest.split("/", 1)[1] if "/" in rest else ""


def incident_url(web: WebConsole, incident_id: int, port: int | None = None) -> str:
    """The console page of incident `incident_id`, e.g. https://yq.example.gov.cn/console/incidents/12."""
    return f"{base_url(web, port)}/incidents/{int(incident_id)}"


def login_url(web: WebConsole, token: str, port: int | None = None) -> str:
    """The one-time sign-in link for `token`."""
    return f"{base_url(web, port)}/login/{quote(token, safe='')}"
