"""The homework's marking: weights add up, rungs count from the bottom."""

import math

from optbook.homework.marking import (
    PART_A_RUNGS,
    PART_B_RUNGS,
    REPORT_CRITERIA,
    WEIGHTS,
    mark_part_a,
    mark_part_b,
)

A = {"course": 0.1852, "tuned_adam": 0.1836, "tuned_adam_standard_error": 5e-5,
     "genie": 0.1832}  # fmt: skip
B = {"nearest_point": 0.244, "classical": 0.209, "genie": 0.197}


def test_weights_and_rungs_add_up():
    assert sum(WEIGHTS.values()) == 100
    assert PART_A_RUNGS[-1][0] == WEIGHTS["A"] and PART_B_RUNGS[-1][0] == WEIGHTS["B"]
    assert sum(points for points, _ in REPORT_CRITERIA) == WEIGHTS["report"]


def test_part_a_rungs():
    assert mark_part_a(0.1860, 5e-5, **A).points == 0
    assert mark_part_a(0.1845, 5e-5, **A).points == 15
    assert mark_part_a(0.1836, 5e-5, **A).points == 30
    assert mark_part_a(0.1833, 5e-5, **A).points == 40
    # a recipe too noisy to be told apart from the course's earns nothing
    assert mark_part_a(0.1845, 1e-3, **A).points == 0
    # and its spread never lifts it to a higher rung
    assert mark_part_a(0.1839, 3e-4, **A).points == 15
    assert mark_part_a(math.nan, 5e-5, **A).points == 0


def test_part_b_rungs():
    assert mark_part_b(0.25, 1e-4, **B).points == 0
    assert mark_part_b(0.22, 1e-4, **B).points == 10
    assert mark_part_b(0.207, 1e-4, **B).points == 25
    assert mark_part_b(0.205, 1e-4, **B).points == 40
    # the top rung needs the lower ones
    assert mark_part_b(0.205, 1e-4, **{**B, "nearest_point": 0.2}).points == 0
