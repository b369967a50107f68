"""The console's ASGI application (Starlette + Jinja2): routes, the sign-in gate, page helpers.

Nothing but the sign-in pages and their stylesheet is served without a session: the gate
is a middleware in front of every route, so a route added later is closed by default.
Every form carries the session's CSRF token; every page is sent with headers that keep it
out of caches, frames and other sites' scripts. Database work runs in worker threads (the
engine is synchronous), never on the loop that also runs the service.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..engine.actions import can
from ..i18n import t
from ..models import utcnow
from ..present.formats import format_time
from ..runtime import Settings
from ..vocab import Channel
from . import present
from .auth import SessionInfo, Signer, load_session, signing_key
from .links import path_prefix

__all__ = ["SESSION_COOKIE", "Console", "build_app"]

HERE = Path(__file__).parent
SESSION_COOKIE = "rsp_session"
PRE_COOKIE = "rsp_pre"  # the sign-in form's own CSRF seed, before there is a session
FLASH_COOKIE = "rsp_flash"
PUBLIC_PREFIXES = ("/login", "/static/")
HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),  # a sign-in link must never leave in a Referer
    (b"cache-control", b"no-store"),
]


class Console:
    """What every request needs: settings, database, clock, signer, templates, the bound port."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = utcnow,
        secret: str | None = None,
    ):
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self._secret = secret  # RESPONDER_WEB_SECRET; None: the key kept in the database
        self.port: int | None = None  # set by the server once bound (web.port may be 0)
        self.prefix = path_prefix(settings.feeds.web)
        self.secure = (settings.feeds.web.public_url or "").startswith("https://")
        self._signer: Signer | None = None
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        env.globals |= {"t": t, "link": self.link}
        env.filters |= {"dt": self.fmt_dt, "short": self.fmt_short, "iso": _iso}
        # Only http(s) addresses become links: a feed or a chat could carry a javascript: URL.
        env.tests["web_url"] = lambda v: isinstance(v, str) and v.startswith(("http://", "https://"))
        self.templates = Jinja2Templates(env=env)

    # -- helpers --------------------------------------------------------------------------

    @property
    def tz(self) -> ZoneInfo:
        """The zone times are shown in (feeds.yaml `timezone`)."""
        return self.settings.tz

    def link(self, path: str) -> str:
        """A page's path as the browser must request it (behind the proxy's path prefix)."""
        return self.prefix + path

    def fmt_dt(self, at: datetime | None) -> str:
        """Template filter `dt`: full local date and time."""
        return present.fmt_dt(at, self.tz)

    def fmt_short(self, at: datetime | None) -> str:
        """Template filter `short`: local time, with the date only when it is not today."""
        return format_time(at, self.tz, self.clock())

    async def signer(self) -> Signer:
        """The cookie signer (its key is read once, from the environment or the database)."""
        if self._signer is None:
            key = await run_in_threadpool(signing_key, self.engine, self.clock(), self._secret)
            self._signer = Signer(key)
        return self._signer

    async def db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run `fn` (synchronous database work) in a worker thread."""
        return await run_in_threadpool(fn, *args, **kwargs)

    async def user_for(self, request: Request) -> SessionInfo | None:
        """The signed-in person of this request, if its session cookie is valid and live."""
        token = (await self.signer()).unsign(request.cookies.get(SESSION_COOKIE))
        if token is None:
            return None
        session: SessionInfo | None = await self.db(
            load_session, self.engine, self.settings, token, self.clock()
        )
        return session

    def set_cookie(self, response: Response, name: str, value: str, max_age: int | None = None) -> None:
        """A cookie only this console's pages send back (HttpOnly, SameSite=Lax, Secure behind https)."""
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=self.prefix or "/",
            httponly=True,
            samesite="lax",
            secure=self.secure,
        )

    def redirect(self, path: str, *, flash: str | None = None) -> RedirectResponse:
        """A 303 to `path` (after a form), carrying a one-time notice for the next page."""
        response = RedirectResponse(self.link(path), status_code=303)
        if flash:
            value = base64.urlsafe_b64encode(flash.encode()).decode()
            self.set_cookie(response, FLASH_COOKIE, value, max_age=60)
        return response

    async def page(self, request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        """Render template `name` with the person, their permissions, the CSRF token and any notice."""
        user: SessionInfo | None = getattr(request.state, "user", None)
        flash = request.cookies.get(FLASH_COOKIE)
        roles = frozenset(user.person.roles) if user else frozenset()
        now = self.clock()
        ctx = {
            "user": user,
            "roles": present.roles_label(roles) if user else "",
            "may": (lambda action: can(roles, action)),
            "csrf": user.csrf if user else "",
            "now": now,
            "left": lambda due: present.left_text(due, now),
            "flash": _decode(flash),
            "p": present,
            "channels": tuple(Channel),
            **context,
        }
        response = self.templates.TemplateResponse(request, name, ctx, status_code=status)
        if flash:
            response.delete_cookie(FLASH_COOKIE, path=self.prefix or "/")
        return response

    async def form(self, request: Request) -> FormData:
        """The posted form, after checking its CSRF token against the session's (403 otherwise)."""
        form = await request.form()
        user: SessionInfo | None = getattr(request.state, "user", None)
        sent = str(form.get("csrf") or "")
        if user is None or not hmac.compare_digest(sent.encode(), user.csrf.encode()):
            raise HTTPException(403, t("web_csrf_failed"))
        return form


def _iso(at: datetime | None) -> str:
    return at.isoformat() if at is not None else ""


def _decode(flash: str | None) -> str:
    if not flash:
        return ""
    try:
        return base64.urlsafe_b64decode(flash.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return ""


def client_address(request: Request) -> str:
    """The client's address (uvicorn resolves X-Forwarded-For from `web.trusted_proxies` only)."""
    return request.client.host if request.client else "?"


class Gate:
    """Closes every path but the sign-in pages to requests without a live session, and adds the
    security headers to every response."""

    def __init__(self, app: ASGIApp, console: Console):
        self.app = app
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + HEADERS
            await send(message)

        path = scope["path"]
        if not path.startswith(PUBLIC_PREFIXES):
            request = Request(scope)
            user = await self.console.user_for(request)
            if user is None:
                target = self.console.link("/login")
                if scope["method"] == "GET" and path != "/":
                    target += "?next=" + _quote_next(path, scope.get("query_string", b""))
                await RedirectResponse(target, status_code=303)(scope, receive, send_with_headers)
                return
            scope.setdefault("state", {})["user"] = user
        await self.app(scope, receive, send_with_headers)


def _quote_next(path: str, query: bytes) -> str:
    from urllib.parse import quote

    full = path + ("?" + query.decode("latin-1") if query else "")
    return quote(full, safe="")


async def _error(request: Request, exc: Exception) -> Response:
    console: Console = request.app.state.console
    assert isinstance(exc, HTTPException)
    return await console.page(request, "error.html", {"message": exc.detail}, status=exc.status_code)


def build_app(console: Console) -> ASGIApp:
    """The whole console as one ASGI application, gate included."""
    from . import pages, reports_pages, signin

    routes = [
        *signin.routes(),
        *pages.routes(),
        *reports_pages.routes(),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _error})
    app.state.console = console
    return Gate(app, console)


def route(path: str, endpoint: Callable[..., Any], methods: list[str] | None = None) -> Route:
    """A Route (the page modules build their lists with this)."""
    return Route(path, endpoint, methods=methods or ["GET"])
