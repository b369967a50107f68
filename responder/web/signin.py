"""Sign-in pages: password form, one-time links, sign-out.

A one-time link opens a confirmation page and is spent only by its button (a POST): chat
apps fetch links to preview them, and a preview must not use up the link. The sign-in
forms have no session yet, so their CSRF token is derived from a random cookie of their
own (a signed double-submit token).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..i18n import t
from ..roster import Person
from .app import PRE_COOKIE, SESSION_COOKIE, Console, client_address, route
from .auth import (
    LoginRefused,
    check_password,
    create_session,
    end_session,
    peek_login_token,
    redeem_login_token,
)

__all__ = ["routes"]


def _console(request: Request) -> Console:
    console: Console = request.app.state.console  # set by build_app
    return console


def _safe_next(target: str | None) -> str:
    """Only a path of this console (never another site: no scheme, no //host)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(c) < 33 or c == "\x7f" for c in target):  # browsers drop tabs and newlines: "/\t/x" is "//x"
        return "/"
    return target


async def _anon_page(
    request: Request, name: str, context: Mapping[str, object], status: int = 200
) -> Response:
    """A sign-in page with its CSRF token, setting the pre-session cookie if it is missing."""
    console = _console(request)
    pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(16)
    signer = await console.signer()
    response = await console.page(request, name, {**context, "csrf": signer.token_for(pre, "login")}, status)
    console.set_cookie(response, PRE_COOKIE, pre, max_age=86400)
    return response


async def _checked_form(request: Request) -> dict[str, str]:
    console = _console(request)
    form = await request.form()
    pre = request.cookies.get(PRE_COOKIE) or ""
    expected = (await console.signer()).token_for(pre, "login")
    if not pre or not hmac.compare_digest(str(form.get("csrf") or "").encode(), expected.encode()):
        raise HTTPException(403, t("web_csrf_failed"))
    return {k: str(v) for k, v in form.items()}


async def _signed_in(request: Request, person: Person, method: str, target: str) -> Response:
    console = _console(request)
    now = console.clock()
    token = await console.db(
        create_session, console.engine, console.settings, person, client_address(request), method, now
    )
    response = console.redirect(_safe_next(target))
    ttl = int(console.settings.feeds.web.session_ttl.total_seconds())
    console.set_cookie(response, SESSION_COOKIE, (await console.signer()).sign(token), max_age=ttl)
    return response


def _refusal(exc: LoginRefused, console: Console) -> str:
    if exc.until is not None:
        return t(exc.reason, until=console.fmt_dt(exc.until))
    return t(exc.reason)


async def login_form(request: Request) -> Response:
    """The password form."""
    return await _anon_page(
        request, "login.html", {"next": _safe_next(request.query_params.get("next")), "error": "", "name": ""}
    )


async def login_submit(request: Request) -> Response:
    """Check name and password (rate-limited), then start a session."""
    console = _console(request)
    form = await _checked_form(request)
    now: datetime = console.clock()
    name, target = form.get("name", "").strip(), _safe_next(form.get("next"))
    try:
        person = await console.db(
            check_password,
            console.engine,
            console.settings,
            name,
            form.get("password", ""),
            client_address(request),
            now,
        )
    except LoginRefused as exc:
        status = 429 if exc.until is not None else 401
        ctx = {"next": target, "error": _refusal(exc, console), "name": name}
        return await _anon_page(request, "login.html", ctx, status)
    return await _signed_in(request, person, "password", target)


async def link_confirm(request: Request) -> Response:
    """A one-time link: whose it is and a button to sign in (spends nothing)."""
    console = _console(request)
    token = request.path_params["token"]
    person = await console.db(peek_login_token, console.engine, console.settings, token, console.clock())
    status = 200 if person is not None else 410
    return await _anon_page(request, "login_link.html", {"person": person, "token": token}, status)


async def link_redeem(request: Request) -> Response:
    """Spend the link (once) and start a session."""
    console = _console(request)
    await _checked_form(request)
    token = request.path_params["token"]
    try:
        person = await console.db(
            redeem_login_token,
            console.engine,
            console.settings,
            token,
            client_address(request),
            console.clock(),
        )
    except LoginRefused as exc:
        ctx = {"person": None, "token": token, "error": _refusal(exc, console)}
        return await _anon_page(request, "login_link.html", ctx, 429 if exc.until else 410)
    return await _signed_in(request, person, "link", "/")


async def logout(request: Request) -> Response:
    """End the session (its row is deleted) and forget the cookie."""
    console = _console(request)
    await console.form(request)
    token = (await console.signer()).unsign(request.cookies.get(SESSION_COOKIE))
    if token:
        await console.db(end_session, console.engine, token)
    response = console.redirect("/login", flash=t("web_signed_out"))
    response.delete_cookie(SESSION_COOKIE, path=console.prefix or "/")
    return response


def routes() -> list[Route]:
    """The sign-in routes (all public except /logout, which the gate guards)."""
    return [
        route("/login", login_form),
        route("/login", login_submit, ["POST"]),
        route("/login/{token}", link_confirm),
        route("/login/{token}", link_redeem, ["POST"]),
        route("/logout", logout, ["POST"]),
    ]
