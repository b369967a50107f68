"""The step half of the policy: which steps to re-time, create and complete from evidence.

Pure helpers of `decide()`: each takes the state as it stands after the previous ones'
actions were applied and returns actions of its own kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from ..playbook import Playbook, StepConfig, due_times, extended_due
from ..vocab import Channel
from ..workcal import WorkCalendar
from .state import CompleteStep, CreateStep, IncidentState, OwnItem, Retime, StepState

__all__ = ["config_of", "missing_steps", "own_outlet_completions", "retimes"]


def config_of(books: Mapping[str, Playbook], step: StepState) -> StepConfig | None:
    """The configuration of `step` (None when its playbook or key left the configuration)."""
    book = books.get(step.playbook)
    if book is None:
        return None
    return next((c for c in book.steps if c.key == step.key), None)


def retimes(state: IncidentState, books: Mapping[str, Playbook], cal: WorkCalendar) -> list[Retime]:
    """An earlier report surfaced after the steps were made: open steps count from the earlier time.

    Only first occurrences that start at publication (not `after` another step, not later
    repeats); a step already done keeps the times it was judged against, and an extended
    step keeps its extension.
    """
    out: list[Retime] = []
    start = state.first_published
    for st in state.steps:
        if st.done_at is not None or st.seq != 0 or st.started_at <= start:
            continue
        cfg = config_of(books, st)
        if cfg is None or cfg.after is not None:
            continue
        extended = cfg.extendable_to is not None and st.due_at == extended_due(cfg, st.started_at, cal)
        target, due = due_times(cfg, start, cal, extended=extended)
        out.append(Retime(st.ref, start, target, due))
    return out


def missing_steps(state: IncidentState, book: Playbook, cal: WorkCalendar, now: datetime) -> list[CreateStep]:
    """Steps this playbook owes that have no row yet (one new occurrence per recurring step).

    Created without a breach mark: `decide` sets it once evidence had its chance to show
    the step done in time.
    """
    own = [s for s in state.steps if s.playbook == book.name]
    have = {(s.key, s.channel, s.seq): s for s in own}
    out: list[CreateStep] = []
    for cfg in book.steps:
        start = state.first_published
        if cfg.after is not None:
            prior = have.get((cfg.after, None, 0))
            if prior is None or prior.done_at is None:
                continue  # e.g. updates begin once the first statement is out
            start = prior.done_at
        if cfg.repeat is None:
            channels: list[Channel | None] = [*cfg.per_channel] or [None]
            for channel in channels:
                if (cfg.key, channel, 0) not in have:
                    target, due = due_times(cfg, start, cal)
                    out.append(CreateStep(book.name, cfg.key, channel, 0, cfg.title, start, target, due))
            continue
        runs = sorted((s for s in own if s.key == cfg.key), key=lambda s: s.seq)
        if not runs:
            target, due = due_times(cfg, start, cal)
            out.append(CreateStep(book.name, cfg.key, None, 0, cfg.title, start, target, due))
            continue
        last = runs[-1]
        if last.done_at is not None:
            nxt = last.done_at
        elif now >= last.due_at:
            # Missed: the next window starts where the missed one ended; after an outage,
            # skip to the window containing now rather than a burst of breaches.
            nxt = last.due_at + cfg.repeat * ((now - last.due_at) // cfg.repeat)
        else:
            continue
        out.append(CreateStep(book.name, cfg.key, None, last.seq + 1, cfg.title, nxt, None, nxt + cfg.repeat))
    return out


def _evidence_fits(item: OwnItem, published: datetime, step: StepState, cfg: StepConfig | None) -> bool:
    if step.done_at is not None or cfg is None or cfg.completed_by != "own_outlet":
        return False
    if step.channel is not None and step.channel != item.channel:
        return False
    # An item published long before the step's window began answers something earlier.
    return published >= step.started_at - (step.due_at - step.started_at)


def own_outlet_completions(state: IncidentState, books: Mapping[str, Playbook]) -> list[CompleteStep]:
    """Items on the bureau's own outlets complete the open steps that name them as evidence.

    Each item completes at most one step (the first fitting one, in creation order), at
    the item's publication time; an item already recorded as a step's evidence is used up.
    """
    used: set[str | None] = {s.evidence_link for s in state.steps if s.evidence_link}
    done: set[int] = set()
    out: list[CompleteStep] = []
    for item in state.own_items:
        published = item.published
        if published is None or item.link in used:
            continue
        for i, st in enumerate(state.steps):
            if i in done or not _evidence_fits(item, published, st, config_of(books, st)):
                continue
            out.append(CompleteStep(st.ref, published, item.source, item.link, item.channel, item.title))
            done.add(i)
            used.add(item.link)
            break
    return out
