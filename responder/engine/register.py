"""Registering a suggestion from the public (网民意见建议) by hand: an incident of kind `inquiry`.

The bureau must answer a valuable suggestion received online within 7 working days (15 when
extended, seed 001 四（三）); the `public-inquiry` playbook holds that clock. Nothing in the
news opens such an incident, so staff register it: the suggestion's gist, where it was
received and when. The clock runs from the time it was received (`first_published`, which
starts every playbook clock); the next cycle gives the incident its step and its card.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from ..i18n import t
from ..models import Incident
from ..present.formats import format_time
from ..present.html import esc
from ..runtime import Settings
from ..vocab import EventKind, IncidentKind, IncidentStatus
from .incidentlog import log_event
from .permissions import ActionError, Actor, NotPermitted, can

__all__ = ["open_inquiry"]

# The longest gist kept as the incident's title: a card's first line, not the whole message.
MAX_TITLE = 200


def open_inquiry(
    session: Session,
    settings: Settings,
    title: str,
    link: str | None,
    received: datetime | None,
    actor: Actor,
    chat_id: int | None,
    now: datetime,
) -> tuple[int, int, str]:
    """Open an incident of kind `inquiry` for a suggestion received at `received` (default `now`).

    Checks the actor's role first (`register`), then the title (required, spaces folded) and
    the time received (not later than now). Logs `opened` with who, from which chat (or the
    `source`/`address` of the command line and web console), the title, the link and the
    time received. Returns (incident id, event id, the confirmation in Telegram HTML).
    """
    if not can(actor.roles, "register"):
        raise NotPermitted(actor, "register")
    title = " ".join(title.split())[:MAX_TITLE]
    if not title:
        raise ActionError(t("act_inquiry_title_required"))
    at = now if received is None else received
    if at.tzinfo is None:
        raise ValueError("naive datetime given as the time a suggestion was received")
    if at > now:
        raise ActionError(t("act_inquiry_received_future", at=format_time(at, settings.tz, now, full=True)))
    inc = Incident(
        kind=IncidentKind.INQUIRY,
        title=title,
        first_published=at,
        detected_at=now,
        status=IncidentStatus.OPEN,
    )
    session.add(inc)
    session.flush()  # the incident's number, for the log and the answer
    ev = log_event(
        session,
        inc.id,
        EventKind.OPENED,
        now,
        actor_id=actor.id,
        actor_name=actor.name,
        chat_id=chat_id,
        title=title,
        link=link or None,
        received=at.isoformat(),
        **actor.origin(),
    )
    session.flush()
    text = t(
        "act_inquiry_registered",
        id=inc.id,
        title=esc(title),
        who=esc(actor.name),
        at=format_time(at, settings.tz, now, full=True),
    )
    return inc.id, ev.id, text
