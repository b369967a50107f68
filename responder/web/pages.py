"""The board, an incident's page, and the actions taken from it.

Actions go through `responder.engine.actions` (the same functions as the chat commands:
same rules, same log entries, same confirmations to the alerted chats), with an Actor whose
source is "web" and whose address is the client's. A refused action answers 403 with the
catalogue's sentence and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..db import session_scope
from ..engine import actions
from ..engine.actions import ActionError, ActionResult, Actor, NotPermitted, UnknownIncident
from ..i18n import t
from ..present.html import strip_tags
from ..vocab import LIVE_STATUSES, Outlet
from .app import Console, client_address, route
from .auth import SessionInfo
from .board import load_board
from .timeline import load_incident

__all__ = ["routes"]


def _console(request: Request) -> Console:
    console: Console = request.app.state.console  # set by build_app
    return console


async def board(request: Request) -> Response:
    """Open incidents (overdue first), repost obligations per outlet, feed health."""
    console = _console(request)
    data = await console.db(load_board, console.engine, console.clock())
    return await console.page(request, "board.html", {"board": data, "refresh": True})


async def incident(request: Request) -> Response:
    """One incident: what is owed, the whole timeline, and the actions the person may take."""
    console = _console(request)
    incident_id = request.path_params["id"]
    if not 0 < incident_id <= actions.MAX_INCIDENT_ID:  # a 30-digit number names no incident
        raise HTTPException(404, t("web_no_incident", id=incident_id))
    record = await console.db(load_incident, console.engine, console.settings.roster, console.tz, incident_id)
    if record is None:
        raise HTTPException(404, t("web_no_incident", id=incident_id))
    live = record.incident.status in LIVE_STATUSES
    open_steps = [s for s in record.steps if s.done_at is None]
    context = {"r": record, "live": live, "open_steps": open_steps, "outlets": tuple(Outlet)}
    return await console.page(request, "incident.html", context)


def _actor(user: SessionInfo, request: Request) -> Actor:
    p = user.person
    return Actor(p.telegram_id, p.name, frozenset(p.roles), source="web", address=client_address(request))


def _run(console: Console, do: Callable[[Any, datetime], ActionResult]) -> ActionResult:
    """One action in one transaction, as of one `now`."""
    now = console.clock()
    with session_scope(console.engine) as s:
        return do(s, now)


def _step_choice(value: str) -> tuple[str, str]:
    key, _, channel = value.partition(":")
    return key.strip(), channel.strip()


def _evidence(value: str) -> str | None:
    link = value.strip()
    if link and not link.startswith(("http://", "https://")):
        raise HTTPException(400, t("web_bad_link"))
    if len(link) > 2000:
        raise HTTPException(400, t("web_bad_link"))
    return link or None


async def act(request: Request) -> Response:
    """POST /incidents/{id}/{action}: ack, done, dismiss or close, as the signed-in person."""
    console = _console(request)
    form = await console.form(request)
    user: SessionInfo = request.state.user
    incident_id: int = request.path_params["id"]
    action = request.path_params["action"]
    actor = _actor(user, request)
    st = console.settings
    if action == "ack":
        do: Callable[[Any, datetime], ActionResult] = lambda s, now: actions.acknowledge(  # noqa: E731
            s, st, incident_id, actor, None, now
        )
    elif action == "done":
        key, channel = _step_choice(str(form.get("step") or ""))
        link = _evidence(str(form.get("evidence") or ""))
        # Where it was published, and (a press conference) whether the head attended.
        outlets = [str(o) for o in form.getlist("outlet")]
        head = {"yes": True, "no": False}.get(str(form.get("head") or ""))
        do = lambda s, now: actions.complete_step(  # noqa: E731
            s,
            st,
            incident_id,
            key or None,
            channel,
            actor,
            None,
            now,
            link,
            outlets=outlets,
            head_attended=head,
        )
    elif action == "dismiss":
        reason = str(form.get("reason") or "")
        do = lambda s, now: actions.dismiss(s, st, incident_id, reason, actor, None, now)  # noqa: E731
    elif action == "close":
        do = lambda s, now: actions.close(s, st, incident_id, actor, None, now)  # noqa: E731
    else:
        raise HTTPException(404, t("web_not_found"))
    try:
        result = await console.db(_run, console, do)
    except NotPermitted as exc:
        raise HTTPException(403, strip_tags(exc.message)) from None
    except UnknownIncident:
        raise HTTPException(404, t("web_no_incident", id=incident_id)) from None
    except ActionError as exc:
        raise HTTPException(409, strip_tags(exc.message)) from None
    return console.redirect(f"/incidents/{incident_id}", flash=strip_tags(result.message))


def routes() -> list[Route]:
    """Board and incident routes (behind the gate)."""
    return [
        route("/", board),
        route("/incidents/{id:int}", incident),
        route("/incidents/{id:int}/{action:str}", act, ["POST"]),
    ]
