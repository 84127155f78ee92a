"""The synthetic problems of optbook.problems and their loop, run_problem."""

from __future__ import annotations

import math

import pytest
import torch

from optbook.landscapes import elongated_quadratic
from optbook.optimizers.adagrad import Adagrad
from optbook.optimizers.sgd import SGD
from optbook.problems import (
    CurveFit,
    LandscapeProblem,
    SparseRegression,
    curve_fit,
    run_problem,
    sparse_regression,
)


# -- SparseRegression
# ----------------------------------------------------------------------------
def test_sparse_regression_frequencies_are_log_spaced_from_frequent_to_rare():
    problem = sparse_regression(num_features=5, max_frequency=0.5, min_frequency=0.005)
    assert problem.num_features == 5
    torch.testing.assert_close(
        problem.frequencies[[0, -1]], torch.tensor([0.5, 0.005], dtype=torch.float64)
    )
    ratios = problem.frequencies[:-1] / problem.frequencies[1:]
    torch.testing.assert_close(
        ratios, torch.full((4,), math.sqrt(10), dtype=torch.float64)
    )
    assert bool((problem.true_weights == 1.0).all())


def test_sparse_regression_features_are_on_with_their_frequency():
    problem = sparse_regression(
        num_features=4, max_frequency=0.8, min_frequency=0.05, noise=0.0
    )
    x, y = problem.sample(20000, torch.Generator().manual_seed(0))
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    observed = x.mean(0)
    standard_error = torch.sqrt(problem.frequencies * (1 - problem.frequencies) / 20000)
    assert bool(((observed - problem.frequencies).abs() < 5 * standard_error).all()), (
        observed
    )
    torch.testing.assert_close(y, x @ problem.true_weights)  # no noise: y is exact


def test_sparse_regression_loss_gradient_is_zero_for_features_that_are_off():
    problem = SparseRegression(
        torch.tensor([1.0, 0.5, 0.1]), torch.tensor([1.0, -2.0, 3.0]), noise=0.1
    )
    (weights,) = problem.init_params(torch.Generator())
    x = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    y = torch.tensor([0.5, 1.0])
    problem.loss([weights], (x, y)).backward()
    assert weights.grad[2] == 0  # feature 2 is off in the whole batch
    torch.testing.assert_close(weights.grad, -(x.T @ y) / 2)  # at w = 0: -X^T y / n
    torch.testing.assert_close(
        problem.weight_error([weights]), torch.tensor([1.0, 2.0, 3.0])
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"frequencies": torch.tensor([0.5, 0.0]), "true_weights": torch.ones(2)},
            "every frequency must lie in",
        ),
        (
            {"frequencies": torch.tensor([0.5, 1.5]), "true_weights": torch.ones(2)},
            "every frequency must lie in",
        ),
        ({"frequencies": torch.ones(3), "true_weights": torch.ones(2)}, "same length"),
        (
            {
                "frequencies": torch.ones(2),
                "true_weights": torch.ones(2),
                "noise": -1.0,
            },
            "noise is a standard deviation",
        ),
    ],
)
def test_sparse_regression_refuses_nonsense(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SparseRegression(**kwargs)


def test_sparse_regression_factory_and_sample_refuse_nonsense():
    with pytest.raises(ValueError, match="min_frequency"):
        sparse_regression(max_frequency=0.1, min_frequency=0.2)
    with pytest.raises(ValueError, match="num_features"):
        sparse_regression(num_features=0)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        sparse_regression().sample(None, torch.Generator())


# -- LandscapeProblem and CurveFit
# ---------------------------------------------------------------
def test_landscape_problem_is_the_landscape_from_its_start():
    landscape = elongated_quadratic()
    problem = LandscapeProblem(landscape, (-4.0, 1.5))
    (point,) = problem.init_params(torch.Generator())
    assert point.requires_grad and point.dtype == torch.float64
    assert problem.sample(None, torch.Generator()) is None
    assert problem.loss([point], None).item() == pytest.approx(0.5 * (16 + 20 * 2.25))


def test_curve_fit_network_shapes_and_batches():
    problem = curve_fit(num_points=50, hidden=(8, 4))
    params = problem.init_params(torch.Generator().manual_seed(0))
    assert [tuple(p.shape) for p in params] == [
        (8, 1),
        (8,),
        (4, 8),
        (4,),
        (1, 4),
        (1,),
    ]
    assert problem.predict(params, problem.x).shape == (50, 1)
    x, y = problem.sample(None, torch.Generator())
    assert x is problem.x and y is problem.y
    x, y = problem.sample(7, torch.Generator().manual_seed(0))
    matches = (
        x[:, 0, None] == problem.x[None, :, 0]
    )  # [7, 50]: which data point each row is
    assert x.shape == (7, 1) and bool(matches.any(1).all())
    assert torch.equal(
        y, problem.y[matches.to(torch.int8).argmax(1)]
    )  # with its own target
    with pytest.raises(ValueError, match="num_points"):
        curve_fit(num_points=0)


# -- run_problem
# -----------------------------------------------------------------------------------
def test_run_problem_is_reproducible_and_records_every_step():
    problem = sparse_regression(num_features=6)

    def record(optimizer, params):
        return {
            "weights": params[0],
            "lr": optimizer.effective_lr(params[0]),
            "sum": 1.0,
        }

    first = run_problem(
        problem, lambda p: Adagrad(p, lr=0.3), 40, batch_size=4, seed=3, record=record
    )
    second = run_problem(
        problem, lambda p: Adagrad(p, lr=0.3), 40, batch_size=4, seed=3, record=record
    )
    other = run_problem(problem, lambda p: Adagrad(p, lr=0.3), 40, batch_size=4, seed=4)
    assert first.losses.shape == (40,) and torch.equal(first.losses, second.losses)
    assert not torch.equal(first.losses, other.losses)
    assert first.records["weights"].shape == (40, 6) and first.records["sum"].shape == (
        40,
    )
    torch.testing.assert_close(first.records["weights"][-1], first.params[0].detach())
    assert not torch.equal(
        first.records["weights"][0], first.records["weights"][-1]
    )  # copies, not views
    assert isinstance(first.optimizer, Adagrad)


def test_run_problem_losses_are_before_each_step_and_decrease_on_a_quadratic():
    problem = LandscapeProblem(elongated_quadratic(), (-4.0, 1.5))
    run = run_problem(problem, lambda p: SGD(p, lr=0.05), 100)
    assert run.losses[0].item() == pytest.approx(
        problem.loss(problem.init_params(torch.Generator()), None).item()
    )
    assert run.losses[-1] < 1e-2 * run.losses[0]


def test_run_problem_trains_the_network():
    problem = curve_fit(num_points=64, hidden=(16,))
    run = run_problem(problem, lambda p: Adagrad(p, lr=0.05), 300)
    assert run.losses[-1] < 0.5 * run.losses[0]


def test_run_problem_keeps_a_diverging_run_and_refuses_zero_steps():
    problem = LandscapeProblem(elongated_quadratic(), (-4.0, 1.5))
    run = run_problem(problem, lambda p: SGD(p, lr=1.0), 400)  # lr > 2 / 20: diverges
    assert not torch.isfinite(run.losses[-1])
    with pytest.raises(ValueError, match="steps must be at least 1"):
        run_problem(problem, lambda p: SGD(p, lr=0.1), 0)


def test_curve_fit_is_a_dataclass_of_its_data():
    x = torch.linspace(0, 1, 5, dtype=torch.float64).unsqueeze(1)
    problem = CurveFit(x, x**2, hidden=(3,))
    assert (
        problem.loss(
            problem.init_params(torch.Generator().manual_seed(0)), (x, x**2)
        ).dim()
        == 0
    )


def test_run_problem_on_an_explicit_device_gives_the_same_run():
    problem = sparse_regression(num_features=5)
    here = run_problem(problem, lambda p: Adagrad(p, lr=0.3), 30, batch_size=4, seed=1)
    there = run_problem(
        problem, lambda p: Adagrad(p, lr=0.3), 30, batch_size=4, seed=1, device="cpu"
    )
    assert torch.equal(here.losses, there.losses)
    assert torch.equal(here.params[0].detach(), there.params[0].detach())
