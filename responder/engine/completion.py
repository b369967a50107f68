"""Which step a completion names, and what it records about where the response was published.

Shared by `/done`, the card's buttons, the web console and the command line through
`responder.engine.actions.complete_step`.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from ..i18n import t
from ..models import Step
from ..policy.state import StepState
from ..policy.steps import config_of
from ..present.html import esc
from ..runtime import Settings
from ..vocab import Channel, Obligation, Outlet
from .permissions import ActionError, NothingToDo, UnknownStep

__all__ = [
    "choose_step",
    "earliest_open",
    "is_conference",
    "parse_outlets",
    "pick_step",
    "published_on",
    "step_label",
]

# Where a link points says where it was published when the person did not say.
_LINK_OUTLETS: dict[str, Outlet] = {
    "weibo.com": Outlet.WEIBO,
    "weibo.cn": Outlet.WEIBO,
    "mp.weixin.qq.com": Outlet.WECHAT,
    "weixin.qq.com": Outlet.WECHAT,
}


def step_label(st: Step) -> str:
    """How a person names a step in `/done`: `key`, or `key:channel` for per-outlet steps."""
    return f"{st.key}:{st.channel}" if st.channel else st.key


def pick_step(incident_id: int, steps: list[Step], step_key: str, channel: str) -> Step:
    """The step `step_key` (and `channel`) names; for a recurring step, its open occurrence."""
    # Keys with the card's titles beside them, so the person sees which word to type.
    labels = list(
        dict.fromkeys(
            step_label(s) if s.channel else t("act_step_titled", key=step_label(s), title=s.title)
            for s in steps
        )
    )
    key = step_key.strip()
    given = f"{key}:{channel}" if channel else key
    # A person may type the key (statement) or the title shown on the card (发布权威信息).
    same = [s for s in steps if key in (s.key, s.title)]
    if channel:
        same = [s for s in same if (s.channel or "") == channel]
    if not same:
        raise UnknownStep(incident_id, given, labels)
    open_ = sorted((s for s in same if s.done_at is None), key=lambda s: (s.due_at, s.seq, s.id))
    if not channel and len({s.channel for s in open_}) > 1:
        raise UnknownStep(incident_id, given, [step_label(s) for s in open_], ambiguous=True)
    if open_:
        return open_[0]
    return max(same, key=lambda s: (s.done_at or s.due_at, s.seq))  # all done: the latest, to report it


def earliest_open(incident_id: int, steps: list[Step], channel: str) -> Step:
    open_ = [s for s in steps if s.done_at is None and (not channel or (s.channel or "") == channel)]
    if not open_:
        raise NothingToDo(incident_id)
    return min(open_, key=lambda s: (s.due_at, s.seq, s.id))


def parse_outlets(incident_id: int, words: Sequence[str]) -> tuple[Outlet, ...]:
    known = {o.value for o in Outlet}
    for w in words:
        if w not in known:
            raise ActionError(t("act_unknown_outlet", id=incident_id, outlet=esc(w)))
    return tuple(dict.fromkeys(Outlet(w) for w in words))


def choose_step(
    incident_id: int, steps: list[Step], step_key: str | None, channel: str, outlets: tuple[Outlet, ...]
) -> Step:
    """The step a completion names. A per-outlet step (repost) is chosen by its outlet: the
    explicit `key:channel`, else the one outlet given (`/done 15 repost 微博`); for any other
    step the outlets only say where it was published."""
    own = [o for o in outlets if o in {c.value for c in Channel}]
    hint = channel or (own[0] if len(outlets) == 1 and own else "")
    if step_key:
        named = [s for s in steps if step_key.strip() in (s.key, s.title)]
        per_outlet = any(s.channel for s in named)
        return pick_step(incident_id, steps, step_key, hint if per_outlet else "")
    if hint and any(s.done_at is None and s.channel == hint for s in steps):
        return earliest_open(incident_id, steps, hint)
    return earliest_open(incident_id, steps, "")


def published_on(st: Step, channel: str, outlets: tuple[Outlet, ...], link: str | None) -> tuple[Outlet, ...]:
    """Where the step's response was published: its own outlet for a per-outlet step; else what
    the person said (and `statement:weibo`'s outlet); else what the link's address shows."""
    if st.channel:
        return (Outlet(st.channel),)
    said = tuple(
        dict.fromkeys([*outlets, *([Outlet(channel)] if channel in {o.value for o in Outlet} else [])])
    )
    if said or not link:
        return said
    host = (urlsplit(link).hostname or "").lower()
    for domain, outlet in _LINK_OUTLETS.items():
        if host == domain or host.endswith("." + domain):
            return (outlet,)
    return ()


def is_conference(settings: Settings, st: Step) -> bool:
    cfg = config_of(settings.playbooks, StepState.from_row(st))
    counted_as = (cfg.report_as or cfg.key) if cfg is not None else st.key
    return str(counted_as) == Obligation.PRESS_CONFERENCE
