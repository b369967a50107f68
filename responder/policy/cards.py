"""When the cards already sent are edited to show the incident as it stands now.

A card shows the heat, the reports, the figures, the grade, every step's state and who
acknowledged. Whatever changes those is a row in the incident's log (a report joining, a
grade rise, a clock moved, a step re-timed, overdue or done, an acknowledgement …), so
the decision reads three moments from the database: the latest such change, when the
stalest card was last rendered, and when the cards were last edited. A restart or a
second instance reads the same and decides the same; nothing is remembered in memory.

- A change the cards do not show yet is rendered at most once per `CARD_EDIT_INTERVAL`
  (2 minutes) per card, so a dozen outlets joining in a minute cost one edit, not twelve.
- A grade rise, and a step the playbooks just created (a new obligation), are shown at
  once.
- A person's action (ack, done, extend, dismiss, close) edits the cards at once itself
  (`responder.engine.actions`); that edit counts as the last one.

Edits go through the outbox and its sender, which keeps to Telegram's per-chat limits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..vocab import EventKind
from . import keys
from .state import IncidentState, RefreshCards

__all__ = ["CARD_CHANGES", "CARD_EDIT_INTERVAL", "card_refresh"]

CARD_EDIT_INTERVAL = timedelta(minutes=2)

# Log rows that change what a card shows.
CARD_CHANGES: frozenset[EventKind] = frozenset(
    {
        EventKind.REPORT_ADDED,
        EventKind.GRADE_RAISED,
        EventKind.CLOCK_MOVED,
        EventKind.RETIMED,
        EventKind.OVERDUE,
        EventKind.STEP_DONE,
        EventKind.ACKNOWLEDGED,
        EventKind.EXTENDED,
        EventKind.DISMISSED,
        EventKind.CLOSED,
    }
)


def card_refresh(
    state: IncidentState, now: datetime, *, changed_now: bool = False, new_step: bool = False
) -> RefreshCards | None:
    """Edit the cards now? `changed_now`: this decision itself changes what they show (a step
    completed, breached or re-timed: logged as of `now`); `new_step`: it creates a step."""
    rendered = state.cards_rendered_at
    if rendered is None:
        return None  # no card sent yet: the first one shows the incident as it is
    changes = [c for c in (state.card_changed_at, now if changed_now or new_step else None) if c is not None]
    changed = max(changes, default=None)
    if changed is None or changed <= rendered:
        return None  # every card already shows it
    raised = any(g.at is not None and g.at > rendered for g in state.grade_changes)
    edited = state.cards_edited_at
    if not (raised or new_step) and edited is not None and now < edited + CARD_EDIT_INTERVAL:
        return None  # edited less than the interval ago: a later cycle shows it
    return RefreshCards(keys.card_refresh(changed), now)
