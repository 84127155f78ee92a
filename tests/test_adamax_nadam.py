"""optbook's Adamax and NAdam equal torch.optim's, and reduce to the chapter's special cases."""

from __future__ import annotations

import inspect

import pytest
import torch

from optbook.optimizers.adamax import Adamax
from optbook.optimizers.nadam import NAdam, momentum_schedule
from optbook.verify import compare_with_reference

STEPS = 500
TOLERANCE = 1e-12  # float64; in practice the runs agree bitwise

PAIRS = {"Adamax": (Adamax, torch.optim.Adamax), "NAdam": (NAdam, torch.optim.NAdam)}


def step_lr(optimizer):
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=100, gamma=0.5)


def exponential(optimizer):
    return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.995)


@pytest.fixture
def float64_default():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


@pytest.mark.parametrize("name", PAIRS)
def test_signature_is_torchs(name):
    ours, theirs = (inspect.signature(cls.__init__).parameters for cls in PAIRS[name])
    assert list(ours) == list(theirs)
    for key, parameter in theirs.items():
        assert ours[key].kind == parameter.kind, key
        assert ours[key].default == parameter.default, key


# -- equality with torch -----------------------------------------------------------------------
GRID = [
    ("Adamax", {}),
    ("Adamax", {"lr": 1e-2}),
    ("Adamax", {"lr": 2e-2, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("Adamax", {"lr": 1e-2, "weight_decay": 0.1}),
    ("Adamax", {"lr": 1e-2, "maximize": True}),
    ("NAdam", {}),
    ("NAdam", {"lr": 1e-2}),
    ("NAdam", {"lr": 2e-2, "betas": (0.8, 0.99), "eps": 1e-6, "momentum_decay": 1e-2}),
    ("NAdam", {"lr": 1e-2, "momentum_decay": 0.0}),
    ("NAdam", {"lr": 1e-2, "weight_decay": 0.1}),
    ("NAdam", {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("NAdam", {"lr": 1e-2, "maximize": True}),
]


@pytest.mark.parametrize(
    ("name", "options"),
    GRID,
    ids=lambda x: (
        x
        if isinstance(x, str)
        else ",".join(f"{k}={v}" for k, v in x.items()) or "defaults"
    ),
)
def test_equals_torch_with_groups_reload_and_scheduler(name, options):
    ours, theirs = PAIRS[name]
    result = compare_with_reference(
        lambda groups: ours(groups, **options),
        lambda groups: theirs(groups, **options),
        steps=STEPS,
        second_group={"lr": options.get("lr", 2e-3) * 0.3},
        reload_at=STEPS // 2,
        make_scheduler=step_lr,
    )
    assert result.max_rel_diff <= TOLERANCE, result
    assert result.distance_travelled > 0.1, f"a trivial run proves nothing: {result}"


@pytest.mark.parametrize("name", PAIRS)
def test_equals_torch_plain_run_and_second_group_with_other_betas(name):
    ours, theirs = PAIRS[name]
    plain = compare_with_reference(
        lambda g: ours(g, lr=1e-2), lambda g: theirs(g, lr=1e-2), steps=STEPS
    )
    assert plain.max_rel_diff <= TOLERANCE and plain.distance_travelled > 0.5, plain
    group = {"lr": 5e-3, "betas": (0.5, 0.9), "weight_decay": 0.1}
    mixed = compare_with_reference(
        lambda g: ours(g, lr=1e-2),
        lambda g: theirs(g, lr=1e-2),
        steps=STEPS,
        second_group=group,
        make_scheduler=exponential,
        reload_at=123,
    )
    assert mixed.max_rel_diff <= TOLERANCE and mixed.distance_travelled > 0.5, mixed


def test_nadam_equals_torch_when_mu_product_is_float64(float64_default):
    """Under a float64 default dtype torch keeps step and mu_product in float64: so does optbook."""
    result = compare_with_reference(
        lambda g: NAdam(g, lr=1e-2),
        lambda g: torch.optim.NAdam(g, lr=1e-2),
        steps=STEPS,
        reload_at=100,
        make_scheduler=step_lr,
    )
    assert result.max_rel_diff <= TOLERANCE and result.distance_travelled > 0.5, result


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_nadam_mu_product_has_torchs_dtype(dtype):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        states = []
        for cls in PAIRS["NAdam"]:
            p = torch.ones(2, dtype=torch.float64, requires_grad=True)
            optimizer = cls([p])
            p.grad = torch.ones_like(p)
            optimizer.step()
            states.append(optimizer.state[p])
    finally:
        torch.set_default_dtype(previous)
    ours, theirs = states
    assert list(ours) == list(theirs) == ["step", "mu_product", "exp_avg", "exp_avg_sq"]
    for key in theirs:
        assert ours[key].dtype == theirs[key].dtype and torch.equal(
            ours[key], theirs[key]
        ), key
    assert ours["mu_product"].dtype == dtype


def test_adamax_state_keys_are_torchs():
    states = []
    for cls in PAIRS["Adamax"]:
        p = torch.ones(2, dtype=torch.float64, requires_grad=True)
        optimizer = cls([p])
        p.grad = torch.tensor([0.5, -2.0], dtype=torch.float64)
        optimizer.step()
        states.append(optimizer.state[p])
    assert list(states[0]) == list(states[1]) == ["step", "exp_avg", "exp_inf"]
    assert all(torch.equal(states[0][key], states[1][key]) for key in states[1])


@pytest.mark.parametrize("name", PAIRS)
def test_negative_control_the_check_sees_a_small_difference(name):
    ours, theirs = PAIRS[name]
    result = compare_with_reference(
        lambda g: ours(g, lr=1e-2, betas=(0.9, 0.99)),
        lambda g: theirs(g, lr=1e-2, betas=(0.9, 0.999)),
        steps=STEPS,
    )
    assert result.max_rel_diff > 1e-4, result


def test_negative_control_nadam_momentum_decay_matters():
    result = compare_with_reference(
        lambda g: NAdam(g, lr=1e-2, momentum_decay=4e-3),
        lambda g: torch.optim.NAdam(g, lr=1e-2, momentum_decay=8e-3),
        steps=STEPS,
    )
    assert result.max_rel_diff > 1e-4, result


# -- the chapter's special cases ----------------------------------------------------------------
class PaperAdamax(torch.optim.Optimizer):
    """Kingma and Ba's Algorithm 2 (the lecture's v_t = max(beta2 v, |g|)), written independently."""

    def __init__(self, params, lr, betas):
        super().__init__(params, {"lr": lr, "betas": betas})

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["t"], state["m"], state["u"] = (
                        0,
                        torch.zeros_like(p),
                        torch.zeros_like(p),
                    )
                state["t"] += 1
                state["m"] = beta1 * state["m"] + (1 - beta1) * p.grad
                state["u"] = torch.maximum(beta2 * state["u"], p.grad.abs())
                p -= group["lr"] / (1 - beta1 ** state["t"]) * state["m"] / state["u"]


def test_adamax_without_eps_is_the_papers_algorithm_2():
    result = compare_with_reference(
        lambda g: Adamax(g, lr=1e-2, eps=0.0),
        lambda g: PaperAdamax(g, lr=1e-2, betas=(0.9, 0.999)),
        steps=STEPS,
        second_group={"lr": 3e-3},
    )
    # the same operations in another order (lerp against a * m + b * g): rounding only
    assert result.max_rel_diff <= 1e-11 and result.distance_travelled > 0.5, result


class LectureNadam(torch.optim.Optimizer):
    """The lecture's Nadam with a constant momentum coefficient mu = beta1, written independently:
    theta -= lr * (mu m_t / (1 - mu^(t+1)) + (1 - mu) g_t / (1 - mu^t)) / (sqrt(v_hat) + eps)."""

    def __init__(self, params, lr, betas, eps):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            mu, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["t"], state["m"], state["v"] = (
                        0,
                        torch.zeros_like(p),
                        torch.zeros_like(p),
                    )
                state["t"] += 1
                t, g = state["t"], p.grad
                state["m"] = mu * state["m"] + (1 - mu) * g
                state["v"] = beta2 * state["v"] + (1 - beta2) * g**2
                m_bar = mu * state["m"] / (1 - mu ** (t + 1)) + (1 - mu) * g / (
                    1 - mu**t
                )
                p -= (
                    group["lr"]
                    * m_bar
                    / (torch.sqrt(state["v"] / (1 - beta2**t)) + group["eps"])
                )


def test_nadam_with_huge_momentum_decay_is_the_lectures_constant_mu_form(
    float64_default,
):
    """0.96**(t * psi) underflows to 0 for a huge psi: mu_t = beta1 at every step."""
    assert momentum_schedule(1, 0.9, 1e9) == 0.9
    result = compare_with_reference(
        lambda g: NAdam(g, lr=1e-2, momentum_decay=1e9),
        lambda g: LectureNadam(g, lr=1e-2, betas=(0.9, 0.999), eps=1e-8),
        steps=STEPS,
        second_group={"lr": 3e-3},
    )
    # mu_product is a running product and beta1**t a power: they round differently, slightly
    assert result.max_rel_diff <= 1e-11 and result.distance_travelled > 0.5, result


def test_momentum_schedule_warms_up_from_half_beta1_to_beta1():
    steps = torch.arange(1, 200_001, dtype=torch.float64)
    values = torch.tensor(
        [momentum_schedule(t, 0.9, 4e-3) for t in steps.tolist()], dtype=torch.float64
    )
    assert torch.all(values[1:] >= values[:-1]) and torch.all(
        values[1:5000] > values[:4999]
    )
    assert abs(values[0] - 0.45) < 1e-3 and 0.9 - values[-1] < 1e-6
    half_way = int(
        steps[values >= 0.675][0]
    )  # 0.96**(t psi) = 1/2 at t = ln 2 / (psi ln(1/0.96))
    assert abs(half_way - 0.6931471805599453 / (4e-3 * 0.040821994520255166)) < 1.0
    assert momentum_schedule(7, 0.9, 0.0) == 0.45  # no warm-up: mu stays beta1 / 2


# -- validation ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PAIRS)
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lr": -1e-3}, r"lr \(the learning rate.*must be >= 0"),
        ({"eps": -1e-8}, r"eps \(the small constant.*must be >= 0"),
        (
            {"betas": (1.0, 0.999)},
            r"betas\[0\] \(the decay of the gradient average.*must lie in \[0, 1\)",
        ),
        (
            {"betas": (0.9, 1.5)},
            r"betas\[1\] \(the decay of the .*must lie in \[0, 1\)",
        ),
        ({"betas": 0.9}, r"betas must be a pair"),
        (
            {"weight_decay": -0.1},
            r"weight_decay \(the weight-decay coefficient lambda\) must be >= 0",
        ),
    ],
)
def test_invalid_hyperparameters_are_refused_in_words(name, options, message):
    with pytest.raises(ValueError, match=message):
        PAIRS[name][0]([torch.zeros(2, requires_grad=True)], **options)


def test_adamax_says_what_its_beta2_means():
    with pytest.raises(
        ValueError, match=r"betas\[1\] \(the decay of the running maximum u of \|g\|\)"
    ):
        Adamax([torch.zeros(2, requires_grad=True)], betas=(0.9, 1.0))


def test_nadam_refuses_a_negative_momentum_decay():
    with pytest.raises(
        ValueError,
        match=r"momentum_decay \(psi, how fast the momentum coefficient mu_t warms up",
    ):
        NAdam([torch.zeros(2, requires_grad=True)], momentum_decay=-4e-3)


@pytest.mark.parametrize("name", PAIRS)
@pytest.mark.parametrize("switch", ["foreach", "capturable", "differentiable"])
def test_implementation_switches_are_refused(name, switch):
    with pytest.raises(
        ValueError,
        match=f"{switch}=True selects one of torch's fast implementation paths",
    ):
        PAIRS[name][0]([torch.zeros(2, requires_grad=True)], **{switch: True})
