"""Tests of optbook.races: batched runs, the tuning protocol, the measures."""

from __future__ import annotations

import math

import pytest
import torch

from optbook.landscapes import beale, double_well, elongated_quadratic, rosenbrock
from optbook.optimizers import Muon
from optbook.paths import run_path
from optbook.races import (
    BOOK_METHODS,
    Runs,
    f_min,
    jitter,
    log_gap,
    overshoot,
    reached,
    run_many,
    run_many_lrs,
    sign_changes,
    steps_to_leave,
    tune_lr,
    valley_direction,
    wilson_interval,
)

STARTS = [[1.0, 1.5], [-1.0, 2.0], [2.0, -1.0], [0.5, 0.5]]


@pytest.mark.parametrize("name", list(BOOK_METHODS))
def test_a_batch_of_starts_is_independent_runs(name):
    """One optimizer over [N, 2] with the loss summed = N runs of run_path."""
    make = BOOK_METHODS[name]
    f = beale()
    batch = run_many(f, make, 1e-2, STARTS, 40)
    for i, start in enumerate(STARTS):
        alone = run_path(f, lambda params: make(params, lr=1e-2), start, 40)
        torch.testing.assert_close(
            batch.points[:, i], alone.points, rtol=0, atol=0, equal_nan=True
        )
        torch.testing.assert_close(
            batch.losses[:, i], alone.losses, rtol=0, atol=0, equal_nan=True
        )


def test_the_batch_trick_fails_for_an_optimizer_that_is_not_element_wise():
    """Muon orthogonalises the whole [N, 2] matrix: its rows are not independent."""
    f = elongated_quadratic()

    def make(params, lr):
        return Muon(params, lr=lr, weight_decay=0.0)

    starts = [[1.0, 1.0], [2.0, -1.0], [-3.0, 0.5]]
    batch = run_many(f, make, 0.1, starts, 5)
    alone = run_many(f, make, 0.1, starts[:1], 5)
    assert not torch.allclose(batch.points[:, 0], alone.points[:, 0])


def test_one_group_per_lr_is_one_run_per_lr():
    f = rosenbrock()
    lrs = [1e-4, 1e-3]
    together = run_many_lrs(f, BOOK_METHODS["Adam"], lrs, STARTS, 30)
    for lr, runs in zip(lrs, together, strict=True):
        alone = run_many(f, BOOK_METHODS["Adam"], lr, STARTS, 30)
        torch.testing.assert_close(runs.points, alone.points, rtol=0, atol=0)
        assert len(runs) == len(STARTS)


@pytest.mark.parametrize(
    "starts, message",
    [([[1.0, 2.0, 3.0]], "shape"), ([], "shape"), ([[math.nan, 0.0]], "finite")],
)
def test_bad_starts_are_refused(starts, message):
    with pytest.raises(ValueError, match=message):
        run_many(beale(), BOOK_METHODS["SGD"], 0.1, starts, 3)


@pytest.mark.parametrize("lrs", [[], [0.0], [-1e-3], [math.inf]])
def test_bad_learning_rates_are_refused(lrs):
    with pytest.raises(ValueError, match="learning rates"):
        run_many_lrs(beale(), BOOK_METHODS["SGD"], lrs, STARTS, 3)


def test_tuning_finds_the_known_best_lr_of_gradient_descent_on_a_bowl():
    """On f = (x^2 + y^2) / 2, GD at lr 1 lands on the minimum in one step."""
    f = elongated_quadratic(steep=1.0, flat=1.0)
    grid = [0.25, 0.5, 1.0, 1.5, 1.9]
    tuning = tune_lr(f, BOOK_METHODS["SGD"], grid, STARTS, 10, 0.0)
    assert tuning.best_lr == 1.0 and tuning.interior
    grid_edge = [0.1, 0.25, 0.5, 1.0]
    assert not tune_lr(f, BOOK_METHODS["SGD"], grid_edge, STARTS, 10, 0.0).interior


def test_a_diverging_lr_scores_inf_and_is_never_chosen():
    f = elongated_quadratic(steep=1.0, flat=1.0)
    tuning = tune_lr(f, BOOK_METHODS["SGD"], [0.5, 3.0], STARTS, 2000, 0.0)
    assert math.isinf(tuning.scores[1]) and tuning.best_lr == 0.5


def test_log_gap_is_floored():
    runs = Runs(
        torch.zeros(3, 1, 2, dtype=torch.float64),
        torch.tensor([[1.0], [1e-3], [0.0]], dtype=torch.float64),
    )
    torch.testing.assert_close(
        log_gap(runs, 0.0), torch.tensor([[0.0], [-3.0], [-12.0]], dtype=torch.float64)
    )


def test_overshoot_measures_how_far_past_the_minimum():
    # run 0 comes from the left and stops 0.3 past 0; run 1 never passes; run 2 is
    # mirrored (from the right, 0.5 past)
    xs = torch.tensor([[-1.0, -1.0, 1.0], [0.3, -0.5, -0.5], [0.0, -0.2, 0.2]])
    points = torch.stack([xs, torch.zeros_like(xs)], dim=-1)
    torch.testing.assert_close(
        overshoot(points, (0.0, 0.0), (1.0, 0.0)),
        torch.tensor([0.3, 0.0, 0.5], dtype=torch.float64),
    )
    with pytest.raises(ValueError, match="nonzero"):
        overshoot(points, (0.0, 0.0), (0.0, 0.0))


def test_jitter_is_zero_for_a_line_and_180_for_a_zigzag():
    t = torch.arange(6, dtype=torch.float64)
    line = torch.stack([t, 2 * t], dim=-1)
    zigzag = torch.stack([(-1.0) ** t, torch.zeros_like(t)], dim=-1)
    square = torch.tensor([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=torch.float64)
    at_rest = torch.ones(6, 2, dtype=torch.float64)
    values = jitter(torch.stack([line, zigzag, torch.cat([square, square[:2]]),
                                 at_rest], dim=1))
    torch.testing.assert_close(
        values, torch.tensor([0.0, 180.0, 90.0, 0.0], dtype=torch.float64),
        rtol=0, atol=1e-5,
    )


def test_sign_changes_skip_values_near_zero():
    values = torch.tensor([[1.0, 1.0], [-1.0, 1e-5], [1.0, -1e-5], [0.0, 1.0]])
    torch.testing.assert_close(
        sign_changes(values, tol=1e-3), torch.tensor([2, 0])
    )
    assert sign_changes(values).tolist() == [2, 2]


def test_steps_to_leave():
    values = torch.tensor([[0.0, 0.0], [0.1, 0.0], [0.7, 0.2]])
    result = steps_to_leave(values, 0.5)
    assert result[0] == 2 and math.isinf(result[1])


def test_reached():
    points = torch.tensor([[[0.0, 0.0], [0.0, 0.0]], [[1.0, 0.05], [0.5, 0.0]]])
    assert reached(points, (1.0, 0.0), 0.1).tolist() == [True, False]


def test_wilson_interval_known_values_and_edges():
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-4)
    assert high == pytest.approx(0.5962, abs=1e-4)
    low, high = wilson_interval(0, 400)
    assert low == 0.0 and 0 < high < 0.01
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(5, 3)


def test_valley_direction_of_rosenbrock_follows_the_parabola():
    direction = valley_direction(rosenbrock())
    # the valley y = x^2 has the tangent (1, 2) at (1, 1)
    expected = torch.tensor([1.0, 2.0], dtype=torch.float64) / math.sqrt(5)
    assert torch.allclose(direction, expected, atol=3e-3)


def test_f_min():
    assert f_min(beale()) == pytest.approx(0.0)
    assert f_min(double_well(0.5)) < f_min(double_well(0.0)) == pytest.approx(0.0)
