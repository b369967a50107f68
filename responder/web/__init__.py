"""The web console: board, incident pages with actions, ledger (台账) and reports, behind sign-in.

`incident_url` and `issue_login_link` are what other parts call (a send-only chat channel's
link to the page where people act; the Telegram `/login` command).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from .links import incident_url

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from ..runtime import Settings

__all__ = ["incident_url", "issue_login_link"]


def issue_login_link(
    engine: Engine, settings: Settings, person: str, now: datetime, *, port: int | None = None
) -> str:
    """See `responder.web.auth.issue_login_link` (imported lazily: argon2 is not needed to link)."""
    from .auth import issue_login_link as issue

    return issue(engine, settings, person, now, port=port)
