"""optbook.bounds: Adam's and AdaMax's largest steps, checked against torch.optim."""

from __future__ import annotations

import math

import pytest
import torch

from optbook.bounds import (
    adam_step_bound,
    adam_step_supremum,
    adamax_step_bound,
    extremal_gradients,
    single_spike_after_silence,
    steady_after_silence,
)


def steps_of(optimizer_class, gradients, **options):
    """|step| / lr of every step of one float64 coordinate, for the given gradients."""
    theta = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_class([theta], lr=1.0, **options)
    moves = []
    for g in gradients:
        before = theta.item()
        theta.grad = torch.tensor([g], dtype=torch.float64)
        optimizer.step()
        moves.append(abs(theta.item() - before))
    return moves


def test_the_defaults_supremum_is_about_seven_and_a_quarter():
    assert adam_step_supremum(0.9, 0.999) == pytest.approx(7.2703, abs=1e-4)
    # Kingma and Ba's figure is less than half of it: it is no bound
    assert single_spike_after_silence(0.9, 0.999) < 0.5 * adam_step_supremum(0.9, 0.999)


@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.8, 0.99), (0.5, 0.9), (0.0, 0.999)])
@pytest.mark.parametrize("t", [1, 7, 200])
def test_the_extremal_gradients_reach_the_bound_in_torch(betas, t):
    # eps = 1e-300 only turns 0 / 0 into 0 for beta1 = 0 (all but the last gradient 0)
    moves = steps_of(torch.optim.Adam, extremal_gradients(*betas, t), betas=betas,
                     eps=1e-300)
    assert moves[-1] == pytest.approx(adam_step_bound(*betas, t), rel=1e-12)


@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.95, 0.99)])
def test_no_random_sequence_exceeds_the_bound(betas):
    generator = torch.Generator().manual_seed(0)
    for trial in range(30):
        t = 5 + 10 * trial
        scale = torch.rand(t, generator=generator, dtype=torch.float64) * 4 - 2
        gradients = (torch.randn(t, generator=generator, dtype=torch.float64)
                     * 10**scale).tolist()
        moves = steps_of(torch.optim.Adam, gradients, betas=betas, eps=0.0)
        for step, move in enumerate(moves, 1):
            assert move <= adam_step_bound(*betas, step) * (1 + 1e-12)


def test_the_bound_approaches_the_supremum_from_below():
    bounds = [adam_step_bound(0.9, 0.999, t) for t in (10, 100, 1000, 10_000, 20_000)]
    assert all(a < b for a, b in zip(bounds, bounds[1:], strict=False))
    supremum = adam_step_supremum(0.9, 0.999)
    assert supremum * (1 - 1e-6) < bounds[-1] < supremum
    assert max(adam_step_bound(0.9, 0.999, t) for t in range(1, 20_000, 7)) < supremum


def test_growing_gradients_in_torch_come_within_a_percent_of_the_supremum():
    t = 6000  # gradients from 1e-150 upwards: their squares stay in float64's range
    gradients = [1e-150 * g / extremal_gradients(0.9, 0.999, t)[0]
                 for g in extremal_gradients(0.9, 0.999, t)]
    last = steps_of(torch.optim.Adam, gradients)[-1]  # torch's defaults, eps included
    assert 0.99 * adam_step_supremum(0.9, 0.999) < last < adam_step_supremum(0.9, 0.999)


def test_no_bound_when_beta1_squared_reaches_beta2():
    assert adam_step_supremum(0.9, 0.8) == math.inf
    assert adam_step_supremum(0.9, 0.81) == math.inf
    moves = [steps_of(torch.optim.Adam, extremal_gradients(0.9, 0.8, t),
                      betas=(0.9, 0.8), eps=0.0)[-1] for t in (50, 200, 800)]
    assert moves[0] * 1.5 < moves[1] and moves[1] * 1.5 < moves[2]  # keeps growing


def test_a_steady_gradient_after_silence_beats_the_single_spike():
    zeros = [0.0] * 1000
    moves = steps_of(torch.optim.Adam, zeros + [1.0] * 40)[1000:]
    assert moves[0] == pytest.approx(single_spike_after_silence(0.9, 0.999)
                                     * math.sqrt(1 - 0.999**1001), rel=1e-6)
    assert max(moves) == pytest.approx(5.2412, abs=1e-4)
    assert max(moves) > 1.6 * single_spike_after_silence(0.9, 0.999)
    # after a much longer silence, the formula (1 - b1^k) / sqrt(1 - b2^k)
    long = steps_of(torch.optim.Adam, [0.0] * 30_000 + [1.0] * 20)[30_000:]
    for k, move in enumerate(long, 1):
        assert move == pytest.approx(steady_after_silence(0.9, 0.999, k), rel=1e-6)


def test_adamax_bound_holds_in_torch_and_is_about_one():
    assert adamax_step_bound(0.9, 0.999) == pytest.approx(1.00909, abs=1e-5)
    t = 400
    # AdaMax's worst case: gradients that shrink by b2 per step, so that every past
    # gradient, decayed, ties for the maximum u_t
    gradients = [0.999**i for i in range(t)]
    moves = steps_of(torch.optim.Adamax, gradients, eps=0.0)
    for step, move in enumerate(moves, 1):
        assert move <= adamax_step_bound(0.9, 0.999, step) * (1 + 1e-12)
    assert moves[-1] == pytest.approx(adamax_step_bound(0.9, 0.999, t), rel=1e-9)


@pytest.mark.parametrize("call", [
    lambda: adam_step_bound(1.0, 0.999, 3), lambda: adam_step_bound(0.9, 0.999, 0),
    lambda: adam_step_supremum(0.9, 1.0), lambda: adamax_step_bound(0.999, 0.9)])
def test_bad_arguments_are_refused(call):
    with pytest.raises(ValueError):
        call()
