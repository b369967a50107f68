"""The reads behind the chat's views (/status, /list, /oncall, /help): rows in, words from `present`.

Each function runs in the caller's session and returns the answer's text (and buttons).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from ..engine.permissions import ACTIONS, Actor, action_label, can
from ..engine.views import incident_view, live_views, load_steps, report_lines, step_evidence
from ..models import Incident
from ..present import lists
from ..present.cards import Buttons, card, card_buttons
from ..runtime import Settings
from ..vocab import Role

__all__ = ["help_text", "incident_card", "on_call", "open_incidents", "overview"]


def incident_card(
    s: Session, settings: Settings, incident_id: int, now: datetime
) -> tuple[str, Buttons | None] | None:
    """One incident's card and its buttons (None when there is no such incident)."""
    inc = s.get(Incident, incident_id)
    if inc is None:
        return None
    steps = load_steps(s, inc.id)
    view = incident_view(inc, steps, report_lines(s, inc.id), settings.playbooks, step_evidence(s, inc.id))
    return card(view, settings.tz, now), card_buttons(view)


def overview(s: Session, settings: Settings, now: datetime) -> str:
    """/status without an id."""
    return lists.overview(live_views(s, settings.playbooks, with_open_steps=False), settings.tz, now)


def open_incidents(s: Session, settings: Settings, now: datetime) -> str:
    """/list."""
    return lists.open_incidents(live_views(s, settings.playbooks, with_open_steps=True), settings.tz, now)


def on_call(settings: Settings, now: datetime) -> str:
    """/oncall: the duty officer now and until when; the policy office and the head."""
    roster = settings.roster
    officer = roster.on_duty(now)
    until = roster.on_duty_until(now) if officer is not None else None
    others = {role: roster.people_with(role) for role in (Role.POLICY_OFFICE, Role.HEAD)}
    return lists.on_call(officer, until, others, settings.tz, now)


def help_text(actor: Actor) -> str:
    """/help for this person: their roles and what those allow."""
    allowed = [action_label(a) for a in ACTIONS if can(actor.roles, a)]
    return lists.help_text(actor.name, sorted(actor.roles), allowed)
