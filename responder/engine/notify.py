"""From the policy's `Notify` and `RefreshCards` to outbox rows: who by role, what in words.

The audience is the roles a notice names (the playbook's role for the level), looked up
in the roster at `now`: every channel a roster chat names, its Telegram group and its
robots alike (`Roster.destinations_for_role`); the words come from `responder.present`.
Cards of one incident are rendered once per call site (`CardText`) and reused by the
notices and the edits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from sqlalchemy import func
from sqlmodel import Session, select

from ..channels.robots import Destination
from ..i18n import t
from ..models import Incident, Outbox, Step
from ..policy import keys
from ..policy.state import NoticeKind, Notify, StepRef
from ..present import messages
from ..present.cards import Buttons, card, card_buttons
from ..present.channels import robot_name, robot_refused
from ..present.views import IncidentView, ReportLine
from ..roster import Roster
from ..runtime import Settings
from ..vocab import OutboxStatus, Role
from .drain import FailedDelivery
from .outbox import queue, queue_edits
from .views import incident_view, report_lines, step_evidence, step_view

__all__ = ["CardText", "audience", "names_for", "queue_notice", "refresh_cards", "report_delivery_failures"]


log = logging.getLogger(__name__)


def audience(roster: Roster, roles: Iterable[Role], now: datetime) -> list[Destination]:
    """The chats of every role (Telegram chat ids and robot addresses), in order, each once."""
    return list(dict.fromkeys(dest for role in roles for dest in roster.destinations_for_role(role, now)))


def names_for(roster: Roster, role: Role, now: datetime) -> str:
    """Who answers for `role` now, as a card header names them (or that nobody is listed)."""
    return "、".join(p.name for p in roster.people_for(role, now)) or t("nobody")


@dataclass
class CardText:
    """An incident's card, read and rendered once however many messages carry it."""

    session: Session
    settings: Settings
    incident: Incident
    steps: list[Step]
    now: datetime
    reports: list[ReportLine] | None = None

    @cached_property
    def view(self) -> IncidentView:
        """The incident as the card shows it."""
        lines = self.reports if self.reports is not None else report_lines(self.session, self.incident.id)
        proof = step_evidence(self.session, self.incident.id) if any(s.done_at for s in self.steps) else {}
        return incident_view(self.incident, self.steps, lines, self.settings.playbooks, proof)

    @cached_property
    def body(self) -> str:
        """The card itself, rendered once for every message that carries it."""
        return card(self.view, self.settings.tz, self.now)

    def text(self, header: str = "") -> str:
        """The card, under `header` when one is given."""
        return f"{header}\n{self.body}" if header else self.body

    @cached_property
    def buttons(self) -> Buttons | None:
        """The card's buttons for its current state."""
        return card_buttons(self.view)


def _notice_text(n: Notify, cards: CardText, settings: Settings, now: datetime) -> str | None:
    roster, inc = settings.roster, cards.incident
    if n.kind == NoticeKind.REPEAT:
        return messages.escalation_repeat(inc.id, n.level, n.params["repeat"], names_for(roster, n.role, now))
    if n.kind == NoticeKind.ESCALATION:
        names = names_for(roster, n.role, now)
        header = messages.escalation_header(
            n.level, n.role, names, n.params["reason"], n.params.get("step_title")
        )
        return cards.text(header)
    if n.kind == NoticeKind.GRADE_RAISED:
        return messages.grade_raised(n.params, inc.first_published, settings.tz)
    if n.step is None:
        raise ValueError(f"a {n.kind} notice needs its step ({n.dedup_key})")
    step = next((s for s in cards.steps if StepRef(s.playbook, s.key, s.channel, s.seq) == n.step), None)
    if step is None:
        return None  # its row went to another instance's transaction: the next cycle sends it
    view = step_view(step, settings.playbooks)
    return messages.step_notice(
        n.kind,
        cards.view,
        view,
        settings.tz,
        now,
        detected_late=bool(n.params.get("detected_late")),
        about=str(n.params.get("about", "deadline")),
        channels=list(n.params.get("channels", [])),
    )


def queue_notice(session: Session, n: Notify, cards: CardText, settings: Settings, now: datetime) -> int:
    """Queue one notice to its audience; returns how many rows were new."""
    text = _notice_text(n, cards, settings, now)
    if text is None:
        return 0
    with_card = n.kind in (NoticeKind.ESCALATION, NoticeKind.REPEAT)
    chats = audience(settings.roster, n.roles, now)
    buttons = cards.buttons if with_card else None
    return queue(session, n.dedup_key, chats, text, now, incident_id=cards.incident.id, buttons=buttons)


def report_delivery_failures(
    session: Session, roster: Roster, failures: Iterable[FailedDelivery], now: datetime
) -> int:
    """Queue the admins' reports of rows refused for good; returns how many were new.

    A Telegram chat's refusal is reported per row, as ever. A robot that refuses everything
    (bad key, signature, keyword, IP) is reported once per spell: the report's key names the
    robot and its last delivered message, so later refusals before it delivers again add
    nothing, on any instance, across restarts. A refusal of the admins' own chats is only
    logged (reporting it to them would loop).
    """
    admin = roster.destinations_for_role(Role.ADMIN)
    new = 0
    for f in failures:
        where: Destination = f.robot if f.robot is not None else f.chat_id
        if where in admin:
            log.error(t("log_admin_chat_refuses", chat=where, reason=f.reason))
            continue
        if f.robot is not None and f.chat_level:
            last_ok = session.exec(
                select(func.max(Outbox.sent_at)).where(
                    Outbox.robot == f.robot, Outbox.status == OutboxStatus.SENT
                )
            ).one()
            key = keys.robot_refused(f.robot, last_ok)
            new += queue(session, key, admin, robot_refused(f.robot, f.reason), now)
        else:
            text = messages.delivery_failed(robot_name(f.robot) if f.robot else f.chat_id, f.reason)
            new += queue(session, keys.delivery_failed(f.outbox_id), admin, text, now)
    return new


def refresh_cards(session: Session, cards: CardText, change: str) -> int:
    """Edit every card already sent for the incident to show its current state."""
    return queue_edits(session, cards.incident.id, change, cards.text(), cards.now, cards.buttons)
