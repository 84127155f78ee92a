"""optbook.schedules: lr_trace records what torch's schedulers set, step by step."""

from __future__ import annotations

import math

import matplotlib
import pytest
from torch.optim import lr_scheduler as S

from optbook.schedules import lr_trace, plot_lr_traces

matplotlib.use("Agg")

BASE = 0.1
T = 60

# name: (scheduler factory, closed form of the lr used by optimizer step t+1, t = 0, 1,
# ...)
CLOSED_FORMS = {
    "StepLR": (
        lambda o: S.StepLR(o, step_size=15, gamma=0.5),
        lambda t: BASE * 0.5 ** (t // 15),
    ),
    "ExponentialLR": (lambda o: S.ExponentialLR(o, gamma=0.9), lambda t: BASE * 0.9**t),
    "CosineAnnealingLR": (
        lambda o: S.CosineAnnealingLR(o, T_max=T, eta_min=1e-3),
        lambda t: 1e-3 + (BASE - 1e-3) * (1 + math.cos(math.pi * t / T)) / 2,
    ),
    "LinearLR": (
        lambda o: S.LinearLR(o, start_factor=0.1, total_iters=10),
        lambda t: BASE * (0.1 + 0.9 * min(t, 10) / 10),
    ),
    "LambdaLR": (
        lambda o: S.LambdaLR(o, lambda t: 1 / math.sqrt(t + 1)),
        lambda t: BASE / math.sqrt(t + 1),
    ),
}


@pytest.mark.parametrize("name", CLOSED_FORMS)
def test_trace_follows_the_closed_form(name):
    make, formula = CLOSED_FORMS[name]
    trace = lr_trace(make, T, BASE)
    assert len(trace) == T
    expected = [formula(t) for t in range(T)]
    assert trace == pytest.approx(expected, rel=1e-12, abs=0)
    assert max(trace) > min(trace)  # the schedule really changes the lr over the run


@pytest.mark.parametrize("name", CLOSED_FORMS)
def test_negative_control_a_one_step_shift_is_caught(name):
    # the trace of a scheduler stepped before the optimizer would be formula(t + 1)
    make, formula = CLOSED_FORMS[name]
    trace = lr_trace(make, T, BASE)
    shifted = [formula(t + 1) for t in range(T)]
    assert trace != pytest.approx(shifted, rel=1e-12, abs=0)


def test_first_entry_is_what_the_constructor_set():
    # LinearLR's constructor already multiplies the lr by start_factor, before any step
    trace = lr_trace(lambda o: S.LinearLR(o, start_factor=0.25, total_iters=4), 6, 0.2)
    assert trace[0] == pytest.approx(0.05, rel=1e-15)
    assert trace[4:] == pytest.approx([0.2, 0.2], rel=1e-15)


def test_sequential_warmup_then_cosine():
    warm, total = 5, 25
    trace = lr_trace(
        lambda o: S.SequentialLR(
            o,
            [
                S.LinearLR(o, start_factor=0.01, total_iters=warm),
                S.CosineAnnealingLR(o, T_max=total - warm),
            ],
            milestones=[warm],
        ),
        total,
        BASE,
    )
    assert all(
        a < b for a, b in zip(trace[:warm], trace[1 : warm + 1], strict=True)
    )  # warm-up rises
    assert trace[warm] == pytest.approx(
        BASE, rel=1e-12
    )  # the peak, where cosine starts
    assert all(
        a > b for a, b in zip(trace[warm:-1], trace[warm + 1 :], strict=True)
    )  # then decays


def test_one_cycle_peaks_at_pct_start_and_cycles_momentum():
    make = lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=100, pct_start=0.3)  # noqa: E731
    lrs = lr_trace(make, 100, BASE)
    momenta = lr_trace(make, 100, BASE, key="momentum")
    peak = max(range(100), key=lambda t: lrs[t])
    assert peak == 29  # the warm-up phase covers pct_start * total_steps - 1 steps
    assert lrs[peak] == pytest.approx(0.5, rel=1e-12)
    assert lrs[0] == pytest.approx(0.5 / 25, rel=1e-12)  # max_lr / div_factor
    assert momenta[peak] == pytest.approx(
        0.85, rel=1e-12
    )  # base_momentum at the lr peak
    assert momenta[0] == pytest.approx(0.95, rel=1e-12)  # max_momentum at the start


def test_reduce_on_plateau_reacts_to_the_metric():
    make = lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=3)  # noqa: E731
    improving = lr_trace(make, 20, BASE, metrics=[1.0 / (t + 1) for t in range(20)])
    assert improving == [BASE] * 20
    flat = lr_trace(make, 20, BASE, metrics=[1.0] * 20)
    assert flat[0] == BASE and flat[-1] < BASE / 4
    assert all(b in (a, a * 0.5) for a, b in zip(flat[:-1], flat[1:], strict=True))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"steps": 0}, "steps"),
        ({"steps": 2.5}, "steps"),
        ({"base_lr": 0.0}, "base_lr"),
        ({"key": "beta"}, "key must name"),
        ({"metrics": [1.0, 2.0]}, "only used by ReduceLROnPlateau"),
    ],
)
def test_invalid_arguments(kwargs, match):
    arguments = {"make_scheduler": lambda o: S.StepLR(o, 2), "steps": 5, **kwargs}
    if "metrics" in kwargs:
        arguments["steps"] = 2
    with pytest.raises(ValueError, match=match):
        lr_trace(**arguments)


def test_plateau_needs_metrics():
    make = lambda o: S.ReduceLROnPlateau(o)  # noqa: E731
    with pytest.raises(ValueError, match="pass metrics"):
        lr_trace(make, 5)
    with pytest.raises(ValueError, match="one per step"):
        lr_trace(make, 5, metrics=[1.0, 2.0])


def test_plot_lr_traces_draws_one_labelled_line_per_trace():
    traces = {
        "step": lr_trace(CLOSED_FORMS["StepLR"][0], T),
        "exp": lr_trace(CLOSED_FORMS["ExponentialLR"][0], T),
    }
    ax = plot_lr_traces(traces, logy=True, title="schedules")
    assert [line.get_label() for line in ax.get_lines()] == ["step", "exp"]
    assert list(ax.get_lines()[1].get_ydata()) == pytest.approx(traces["exp"])
    assert ax.get_yscale() == "log" and ax.get_title() == "schedules"
    with pytest.raises(ValueError, match="empty"):
        plot_lr_traces({})
