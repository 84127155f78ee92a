"""The homework's marking: the weight of each part and the rungs that earn its points.

=========================  ======  ==================================================
part                       points  earned by
=========================  ======  ==================================================
A, training options            40  the recipe's mean BER over the private seeds
B, design                      40  the detector's BER on the impaired channel
report                         20  the written comparison (:data:`REPORT_CRITERIA`)
=========================  ======  ==================================================

Each part's BER earns the points of the highest rung it reaches (:func:`mark_part_a`,
:func:`mark_part_b`); the rungs are yardsticks graded with the same private seed, on
the same samples. The warm-up (the lecture's plain channel, its four-level ladder,
:func:`optbook.homework.symbol_detection.judge`) is graded for feedback and earns no
points of its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "PART_A_RUNGS",
    "PART_B_RUNGS",
    "REPORT_CRITERIA",
    "WEIGHTS",
    "Mark",
    "mark_part_a",
    "mark_part_b",
]

WEIGHTS = {"A": 40, "B": 40, "report": 20}
"""Points of each part, out of 100."""

PART_A_RUNGS = (
    (15, "below the course recipe (SGD, learning rate 0.1)"),
    (30, "at most the tuned Adam's"),
    (40, "at most halfway from the tuned Adam to the genie MAP"),
)
"""Part A: (points, the mean BER of the recipe is ...)."""

PART_B_RUNGS = (
    (10, "below the nearest-point detector's"),
    (25, "below the classical yardstick's (blind correction + exact MAP)"),
    (40, "a quarter of the way or more from the classical yardstick to the genie"),
)
"""Part B: (points, the BER on the impaired channel is ...). The genie knows every
frame's impairments: no receiver that must estimate them from 256 samples reaches it,
so the top rung asks for a quarter of that distance."""

REPORT_CRITERIA = (
    (5, "the same budget for every method compared (updates x batch size)"),
    (5, "a learning rate tuned for each method, the choice inside its grid"),
    (5, "several seeds per setting (at least 3), the spread reported beside the mean"),
    (5, "conclusions the numbers support: a loss explained, 'not observed' said"),
)
"""The report's 20 points: (points, criterion)."""


@dataclass(frozen=True)
class Mark:
    """The points of one part, the rung reached (0: none) and why."""

    points: int
    rung: int
    reason: str

    def __str__(self) -> str:
        return f"{self.points} points (rung {self.rung}): {self.reason}"


def _ladder(ber: float, steps: list[tuple[bool, int, str]], missed: str) -> Mark:
    """The highest rung whose own test and every lower rung's test hold."""
    if not math.isfinite(ber):
        return Mark(0, 0, "no BER")
    mark = Mark(0, 0, missed)
    for rung, (holds, points, why) in enumerate(steps, start=1):
        if not holds:
            break
        mark = Mark(points, rung, why)
    return mark


def mark_part_a(
    ber: float,
    standard_error: float,
    *,
    course: float,
    tuned_adam: float,
    tuned_adam_standard_error: float,
    genie: float,
) -> Mark:
    """Part A's points from the recipe's mean BER and its standard error.

    The first rung must be shown: the mean lies below the course recipe's by more than
    twice the standard error of the difference. The upper rungs compare the mean with
    the tuned Adam's, allowing twice the tuned Adam's own standard error: a recipe's
    spread over seeds never counts in its favour.
    """
    to_course = 2 * math.hypot(standard_error, tuned_adam_standard_error)
    tolerance = 2 * tuned_adam_standard_error
    halfway = 0.5 * (tuned_adam + genie)
    steps = [
        (ber < course - to_course, *PART_A_RUNGS[0]),
        (ber <= tuned_adam + tolerance, *PART_A_RUNGS[1]),
        (ber <= halfway + tolerance, *PART_A_RUNGS[2]),
    ]
    return _ladder(ber, steps, "not below the course recipe")


def mark_part_b(
    ber: float,
    gap_standard_error: float,
    *,
    nearest_point: float,
    classical: float,
    genie: float,
) -> Mark:
    """Part B's points from the BER on the impaired channel.

    ``gap_standard_error`` is the grade's paired standard error (same samples), and the
    tolerance three times it.
    """
    tolerance = 3 * gap_standard_error
    quarter = classical - 0.25 * (classical - genie)
    steps = [
        (ber < nearest_point - tolerance, *PART_B_RUNGS[0]),
        (ber < classical - tolerance, *PART_B_RUNGS[1]),
        (ber <= quarter, *PART_B_RUNGS[2]),
    ]
    return _ladder(ber, steps, "not below the nearest-point detector")
