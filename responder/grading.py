"""Pure: report text -> casualties and loss -> accident grade.

The grades and their thresholds are those of the 生产安全事故报告和调查处理条例,
article 3 (see docs/design.md, "Grading reports"). "以上" includes the number itself and
"以下" excludes it, so 10 deaths is 重大 and 30 deaths is 特别重大.

`responder.analysis.figures` reads deaths, serious injuries (重伤, acute poisoning
included), plain injuries and direct economic loss from report text (`extract_figures`,
and `grade_text` for both steps at once); this module knows only the figures. Only a current accident report is graded (`responder.analysis.kinds`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from .vocab import Grade  # the vocabulary's scale; re-exported here for the intake

__all__ = [
    "DEFAULT_THRESHOLDS",
    "Bar",
    "Figures",
    "Grade",
    "GradeThresholds",
    "grade_for",
]


@dataclass(frozen=True)
class Bar:
    """Lower bounds ("以上", inclusive) of one grade; reaching any one is enough."""

    deaths: int
    serious_injuries: int
    loss_cny: float


@dataclass(frozen=True)
class GradeThresholds:
    """The regulation's numbers, in one place. Grades below 较大 are 一般."""

    larger: Bar = field(default_factory=lambda: Bar(3, 10, 10_000_000))  # 较大
    major: Bar = field(default_factory=lambda: Bar(10, 50, 50_000_000))  # 重大
    especially_major: Bar = field(default_factory=lambda: Bar(30, 100, 100_000_000))  # 特别重大

    def __post_init__(self) -> None:
        bars = (self.larger, self.major, self.especially_major)
        for name in ("deaths", "serious_injuries", "loss_cny"):
            values = [getattr(b, name) for b in bars]
            if values != sorted(values) or values[0] <= 0:
                raise ValueError(
                    f"grade thresholds for {name} must be positive and rise from 较大 to 特别重大, got {values}"
                )

    def bars(self) -> list[tuple[Grade, Bar]]:
        """(grade, bar) from the gravest grade down."""
        return [
            (Grade.特别重大, self.especially_major),
            (Grade.重大, self.major),
            (Grade.较大, self.larger),
        ]


DEFAULT_THRESHOLDS = GradeThresholds()
_N = TypeVar("_N", int, float)


@dataclass(frozen=True)
class Figures:
    """What a report says: None means the text gives no such figure (0 means 'none').

    `injured` (plain 受伤/轻伤) never raises a grade, but it is a figure: a report of
    13 injured is a 一般 accident, not one without a grade.
    """

    deaths: int | None = None
    serious_injuries: int | None = None
    loss_cny: float | None = None
    injured: int | None = None

    @property
    def known(self) -> bool:
        """True when at least one figure was found."""
        return not (
            self.deaths is None
            and self.serious_injuries is None
            and self.loss_cny is None
            and self.injured is None
        )

    @staticmethod
    def highest(items: Iterable[Figures]) -> Figures:
        """Figure by figure maximum: an incident's figures from its reports'."""
        deaths: int | None = None
        serious: int | None = None
        loss: float | None = None
        injured: int | None = None
        for f in items:
            deaths = _max(deaths, f.deaths)
            serious = _max(serious, f.serious_injuries)
            loss = _max(loss, f.loss_cny)
            injured = _max(injured, f.injured)
        return Figures(deaths, serious, loss, injured)


def _max(a: _N | None, b: _N | None) -> _N | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def grade_for(figures: Figures, thresholds: GradeThresholds = DEFAULT_THRESHOLDS) -> Grade | None:
    """The highest grade any figure reaches; None when the report gives no figure at all."""
    if not figures.known:
        return None
    for grade, bar in thresholds.bars():
        if (
            (figures.deaths is not None and figures.deaths >= bar.deaths)
            or (figures.serious_injuries is not None and figures.serious_injuries >= bar.serious_injuries)
            or (figures.loss_cny is not None and figures.loss_cny >= bar.loss_cny)
        ):
            return grade
    return Grade.一般
