"""AdamW equals torch.optim.AdamW, and AdaBelief equals the authors' adabelief_pytorch.AdaBelief.

Each equivalence test runs ours and the reference side by side for 500 steps in float64
(optbook.verify.compare_with_reference), with two parameter groups that differ in their
hyperparameters, a learning-rate scheduler, and a state_dict save/reload in the middle.
The bound is 1e-12 relative: both sides do the same floating-point operations in the same
order, so they agree to the last bit in practice; the bound leaves room for nothing else.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import math

import pytest
import torch
from adabelief_pytorch import AdaBelief as ReferenceAdaBelief

from optbook.optimizers.adabelief import AdaBelief, rectification
from optbook.optimizers.adam import Adam
from optbook.optimizers.adamw import AdamW
from optbook.verify import compare_with_reference

STEPS = 500
TOLERANCE = 1e-12
MOVED = 0.5  # every run below moves its parameters further than this: the check is not trivial


def signature_of(cls) -> list[tuple[str, inspect._ParameterKind, object]]:
    return [
        (p.name, p.kind, p.default)
        for p in inspect.signature(cls.__init__).parameters.values()
    ]


def quiet_reference(groups, **kwargs):
    """The package's AdaBelief, with its construction messages swallowed."""
    with contextlib.redirect_stdout(io.StringIO()):
        return ReferenceAdaBelief(groups, print_change_log=False, **kwargs)


def cosine(optimizer):
    return torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=STEPS, eta_min=1e-4
    )


def step_decay(optimizer):
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=100, gamma=0.5)


def assert_equal_run(result):
    assert result.steps == STEPS
    assert result.max_rel_diff <= TOLERANCE, str(result)
    assert result.distance_travelled > MOVED, str(result)


# -- AdamW ---------------------------------------------------------------------------------------
def test_adamw_has_torchs_signature():
    assert signature_of(AdamW) == signature_of(torch.optim.AdamW)
    assert inspect.signature(AdamW.__init__).parameters["weight_decay"].default == 1e-2


def test_adamw_is_adam_with_decoupled_decay():
    param = torch.nn.Parameter(torch.zeros(3))
    optimizer = AdamW([param])
    assert isinstance(optimizer, Adam)
    assert optimizer.param_groups[0]["decoupled_weight_decay"] is True
    # as torch.optim.AdamW: a loaded state cannot switch the decay back to L2
    saved = optimizer.state_dict()
    saved["param_groups"][0]["decoupled_weight_decay"] = False
    optimizer.load_state_dict(saved)
    assert optimizer.param_groups[0]["decoupled_weight_decay"] is True


ADAMW_SETTINGS = {
    "defaults-lr1e-2": dict(lr=1e-2),
    "strong-decay": dict(lr=3e-3, weight_decay=0.3),
    "amsgrad": dict(lr=1e-2, weight_decay=0.05, amsgrad=True),
    "maximize": dict(lr=1e-2, weight_decay=0.1, maximize=True),
    "betas-eps": dict(lr=5e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    "no-decay": dict(lr=1e-2, weight_decay=0.0),
}


@pytest.mark.parametrize("settings", ADAMW_SETTINGS.values(), ids=ADAMW_SETTINGS.keys())
def test_adamw_equals_torch(settings):
    assert_equal_run(
        compare_with_reference(
            lambda groups: AdamW(groups, **settings),
            lambda groups: torch.optim.AdamW(groups, **settings),
            steps=STEPS,
        )
    )


@pytest.mark.parametrize("make_scheduler", [cosine, step_decay], ids=["cosine", "step"])
def test_adamw_equals_torch_with_groups_scheduler_and_reload(make_scheduler):
    settings = dict(lr=1e-2, weight_decay=0.1, amsgrad=True)
    assert_equal_run(
        compare_with_reference(
            lambda groups: AdamW(groups, **settings),
            lambda groups: torch.optim.AdamW(groups, **settings),
            steps=STEPS,
            second_group={"lr": 3e-3, "weight_decay": 0.5, "betas": (0.85, 0.995)},
            make_scheduler=make_scheduler,
            reload_at=STEPS // 2,
        )
    )


def test_adamw_check_catches_a_different_decay():
    """Negative controls: the comparison fails for a different weight decay, and for L2 decay."""
    doubled = compare_with_reference(
        lambda groups: AdamW(groups, lr=1e-2, weight_decay=0.1),
        lambda groups: torch.optim.AdamW(groups, lr=1e-2, weight_decay=0.2),
        steps=100,
    )
    assert doubled.max_rel_diff > 1e-4
    l2 = compare_with_reference(
        lambda groups: AdamW(groups, lr=1e-2, weight_decay=0.1),
        lambda groups: torch.optim.Adam(groups, lr=1e-2, weight_decay=0.1),
        steps=100,
    )
    assert l2.max_rel_diff > 1e-3


def test_adamw_decays_a_weight_without_gradient_signal_by_one_minus_lr_times_lambda():
    """With a zero gradient Adam's step is 0 / (0 + eps) = 0: only (adamw.1) acts."""
    param = torch.nn.Parameter(torch.full((3,), 2.0, dtype=torch.float64))
    optimizer = AdamW([param], lr=0.1, weight_decay=0.5)
    for _ in range(10):
        param.grad = torch.zeros_like(param)
        optimizer.step()
    torch.testing.assert_close(
        param.detach(), torch.full((3,), 2.0 * 0.95**10, dtype=torch.float64)
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(weight_decay=-0.01), r"weight_decay \(.*\) must be >= 0"),
        (dict(eps=-1e-8), r"eps \(.*\) must be >= 0"),
        (dict(betas=(1.0, 0.999)), r"betas\[0\] \(.*\) must lie in \[0, 1\)"),
        (dict(betas=(0.9, -0.1)), r"betas\[1\] \(.*\) must lie in \[0, 1\)"),
        (dict(betas=(0.9,)), r"betas must be a pair"),
        (dict(lr=-1e-3), r"lr \(the learning rate.*\) must be >= 0"),
    ],
)
def test_adamw_refuses_invalid_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AdamW([torch.nn.Parameter(torch.zeros(2))], **kwargs)


def test_adamw_refuses_implementation_switches():
    with pytest.raises(ValueError, match="fused=True"):
        AdamW([torch.nn.Parameter(torch.zeros(2))], fused=True)


# -- AdaBelief -------------------------------------------------------------------------------------
def test_adabelief_has_the_packages_signature():
    assert signature_of(AdaBelief) == signature_of(ReferenceAdaBelief)
    defaults = {
        name: p.default
        for name, p in inspect.signature(AdaBelief.__init__).parameters.items()
    }
    assert (
        defaults["eps"] == 1e-16
        and defaults["rectify"] is True
        and defaults["weight_decouple"] is True
    )


def test_adabelief_prints_nothing():
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        AdaBelief([torch.nn.Parameter(torch.zeros(2))], weight_decay=1e-2, amsgrad=True)
    assert buffer.getvalue() == ""


ADABELIEF_SETTINGS = {
    # the paper's Algorithm 2, with and without its options
    "paper-l2": dict(lr=1e-2, rectify=False, weight_decouple=False, weight_decay=0.05),
    "paper-no-decay": dict(lr=1e-2, rectify=False, weight_decouple=False),
    "paper-amsgrad": dict(
        lr=1e-2, rectify=False, weight_decouple=False, weight_decay=0.05, amsgrad=True
    ),
    "paper-decoupled": dict(lr=1e-2, rectify=False, weight_decay=0.1),
    "paper-fixed-decay": dict(
        lr=1e-2, rectify=False, weight_decay=1e-3, fixed_decay=True
    ),
    "paper-eps1e-8": dict(
        lr=1e-2, rectify=False, eps=1e-8, weight_decay=0.1, amsgrad=True
    ),
    # the package's default: RAdam-style rectification
    "defaults-lr1e-2": dict(lr=1e-2),
    "rectify-l2": dict(lr=1e-2, weight_decouple=False, weight_decay=0.05),
    "rectify-amsgrad": dict(lr=1e-2, weight_decay=0.1, amsgrad=True),
    "rectify-no-sgd-warmup": dict(lr=1e-2, weight_decay=0.1, degenerated_to_sgd=False),
    "rectify-fixed-decay": dict(lr=1e-2, weight_decay=1e-3, fixed_decay=True, eps=1e-8),
    "rectify-betas": dict(lr=1e-2, betas=(0.8, 0.95), weight_decay=0.1),
}


@pytest.mark.parametrize(
    "settings", ADABELIEF_SETTINGS.values(), ids=ADABELIEF_SETTINGS.keys()
)
def test_adabelief_equals_the_package(settings):
    assert_equal_run(
        compare_with_reference(
            lambda groups: AdaBelief(groups, **settings),
            lambda groups: quiet_reference(groups, **settings),
            steps=STEPS,
        )
    )


@pytest.mark.parametrize("rectify", [False, True], ids=["paper", "rectify"])
@pytest.mark.parametrize("make_scheduler", [cosine, step_decay], ids=["cosine", "step"])
def test_adabelief_equals_the_package_with_groups_scheduler_and_reload(
    rectify, make_scheduler
):
    settings = dict(lr=1e-2, weight_decay=0.05, rectify=rectify, amsgrad=True)
    assert_equal_run(
        compare_with_reference(
            lambda groups: AdaBelief(groups, **settings),
            lambda groups: quiet_reference(groups, **settings),
            steps=STEPS,
            second_group={"lr": 3e-3, "weight_decay": 0.2, "betas": (0.85, 0.99)},
            make_scheduler=make_scheduler,
            reload_at=STEPS // 2,
        )
    )


def test_adabelief_equals_the_package_in_float32():
    settings = dict(lr=1e-2, weight_decay=0.05)
    result = compare_with_reference(
        lambda groups: AdaBelief(groups, **settings),
        lambda groups: quiet_reference(groups, **settings),
        steps=STEPS,
        dtype=torch.float32,
    )
    assert result.max_rel_diff <= 1e-6 and result.distance_travelled > MOVED, str(
        result
    )


def test_adabelief_check_catches_a_different_setting():
    """Negative controls: rectification on one side only, or L2 instead of decoupled decay."""
    for ours, theirs in [
        (dict(lr=1e-2, rectify=False), dict(lr=1e-2, rectify=True)),
        (
            dict(lr=1e-2, weight_decay=0.1),
            dict(lr=1e-2, weight_decay=0.1, weight_decouple=False),
        ),
        (
            dict(lr=1e-2, eps=1e-16, rectify=False),
            dict(lr=1e-2, eps=1e-8, rectify=False),
        ),
    ]:
        result = compare_with_reference(
            lambda groups, ours=ours: AdaBelief(groups, **ours),
            lambda groups, theirs=theirs: quiet_reference(groups, **theirs),
            steps=100,
        )
        assert result.max_rel_diff > 1e-6, (ours, theirs, str(result))


def test_adabelief_state_matches_the_package():
    """Same state keys and values; only the step counter's type differs (tensor vs int)."""
    torch.manual_seed(0)
    start = torch.randn(4, 3, dtype=torch.float64)
    x, y = (
        torch.randn(16, 3, dtype=torch.float64),
        torch.randn(16, 4, dtype=torch.float64),
    )
    states = []
    for make in (AdaBelief, quiet_reference):
        param = torch.nn.Parameter(start.clone())
        optimizer = make(
            [param], lr=1e-2, amsgrad=True, weight_decouple=False, weight_decay=0.1
        )
        for _ in range(7):
            optimizer.zero_grad()
            ((x @ param.T - y) ** 2).mean().backward()
            optimizer.step()
        states.append(optimizer.state[param])
    ours, theirs = states
    assert (
        set(ours)
        == set(theirs)
        == {"step", "exp_avg", "exp_avg_var", "max_exp_avg_var"}
    )
    assert isinstance(ours["step"], torch.Tensor) and ours["step"].dim() == 0
    assert (
        isinstance(theirs["step"], int) and float(ours["step"]) == theirs["step"] == 7
    )
    for key in ("exp_avg", "exp_avg_var", "max_exp_avg_var"):
        torch.testing.assert_close(ours[key], theirs[key], rtol=1e-14, atol=0)


def test_adabelief_leaves_the_gradient_alone_under_l2_decay():
    """The package adds lambda * theta to p.grad in place; ours does not touch p.grad."""
    grads = []
    for make in (AdaBelief, quiet_reference):
        param = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
        optimizer = make([param], weight_decouple=False, weight_decay=0.5)
        param.grad = torch.zeros(3, dtype=torch.float64)
        optimizer.step()
        grads.append(param.grad.clone())
    torch.testing.assert_close(grads[0], torch.zeros(3, dtype=torch.float64))
    torch.testing.assert_close(grads[1], torch.full((3,), 0.5, dtype=torch.float64))


@pytest.mark.parametrize("make", [AdaBelief, quiet_reference], ids=["ours", "package"])
def test_adabelief_amsgrad_only_matters_without_rectification(make):
    """The package's rectified branch divides by s_t, not by its maximum: amsgrad changes
    nothing there. Without rectification it does, once s_t falls below its maximum."""

    def final_parameter(**settings):
        param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
        optimizer = make([param], lr=1e-2, **settings)
        for t in range(300):
            param.grad = torch.tensor(
                [10.0 if t == 50 else 1.0], dtype=torch.float64
            )  # one spike
            optimizer.step()
        return param.item()

    assert final_parameter(rectify=True, amsgrad=True) == final_parameter(
        rectify=True, amsgrad=False
    )
    assert final_parameter(rectify=False, amsgrad=True) != final_parameter(
        rectify=False, amsgrad=False
    )


def test_rectification_terms():
    beta2 = 0.999
    rho_inf = 2 / (1 - beta2) - 1
    rho, r = rectification(beta2, 1)
    assert r is None and rho == pytest.approx(
        1.0
    )  # rho_1 = 1 for any beta2: no adaptive step yet
    first = next(t for t in range(1, 100) if rectification(beta2, t)[1] is not None)
    assert rectification(beta2, first)[0] >= 5 > rectification(beta2, first - 1)[0]
    rhos = [rectification(beta2, t)[0] for t in range(1, 20_000, 50)]
    assert all(
        a < b for a, b in zip(rhos, rhos[1:], strict=False)
    )  # rho_t grows towards rho_inf
    rho_late, r_late = rectification(beta2, 20_000)
    assert rho_late == pytest.approx(rho_inf, rel=1e-6) and r_late == pytest.approx(
        1.0, rel=1e-6
    )
    assert all(0 < rectification(beta2, t)[1] < 1 for t in range(first, 5000, 37))


def test_adabelief_without_sgd_warmup_does_not_move_in_the_first_steps():
    """rectify=True, degenerated_to_sgd=False: while rho_t < 5 there is no step at all."""
    param = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    optimizer = AdaBelief([param], lr=0.1, degenerated_to_sgd=False)
    first = next(t for t in range(1, 100) if rectification(0.999, t)[1] is not None)
    for _ in range(first - 1):
        param.grad = torch.ones(2, dtype=torch.float64)
        optimizer.step()
    assert torch.equal(param.detach(), torch.ones(2, dtype=torch.float64))
    param.grad = torch.ones(2, dtype=torch.float64)
    optimizer.step()
    assert (param.detach() < 1).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(lr=-1e-3), r"lr \(the learning rate\) must be >= 0"),
        (dict(eps=-1e-16), r"eps \(.*\) must be >= 0"),
        (
            dict(weight_decay=-0.1),
            r"weight_decay \(the weight decay lambda\) must be >= 0",
        ),
        (dict(betas=(0.9, 1.0)), r"betas\[1\] \(.*\) must lie in \[0, 1\)"),
        (dict(betas=(-0.1, 0.999)), r"betas\[0\] \(.*\) must lie in \[0, 1\)"),
        (
            dict(weight_decay=1.0, fixed_decay=True),
            r"fixed_decay=True .* weight_decay must be < 1",
        ),
    ],
)
def test_adabelief_refuses_invalid_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AdaBelief([torch.nn.Parameter(torch.zeros(2))], **kwargs)


def test_adabelief_fixed_decay_bound_only_applies_to_decoupled_decay():
    """With weight_decouple=False the decay is an L2 penalty and fixed_decay is unused, so a
    weight_decay >= 1 is allowed there; the package then computes the same steps."""
    settings = dict(lr=1e-3, weight_decay=2.0, fixed_decay=True, weight_decouple=False)
    result = compare_with_reference(
        lambda groups: AdaBelief(groups, **settings),
        lambda groups: quiet_reference(groups, **settings),
        steps=100,
    )
    assert result.max_rel_diff <= TOLERANCE and result.distance_travelled > 0.05, str(
        result
    )


def test_adabelief_refuses_an_invalid_added_group():
    optimizer = AdaBelief([torch.nn.Parameter(torch.zeros(2))])
    with pytest.raises(ValueError, match=r"eps .* must be >= 0"):
        optimizer.add_param_group(
            {"params": [torch.nn.Parameter(torch.zeros(1))], "eps": -1.0}
        )


def test_adabelief_paper_step_on_a_constant_gradient():
    """One hand-computed step of Algorithm 2: after step 1, m = (1-b1) g, s = (1-b2)(b1 g)^2 + eps."""
    beta1, beta2, eps, lr, g = 0.9, 0.999, 1e-16, 0.1, 2.0
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    optimizer = AdaBelief([param], lr=lr, rectify=False, weight_decouple=False)
    param.grad = torch.full((1,), g, dtype=torch.float64)
    optimizer.step()
    m = (1 - beta1) * g
    s = (1 - beta2) * (g - m) ** 2 + eps
    expected = -lr / (1 - beta1) * m / (math.sqrt(s) / math.sqrt(1 - beta2) + eps)
    assert param.item() == pytest.approx(expected, rel=1e-14)
    assert optimizer.state[param]["exp_avg_var"].item() == pytest.approx(s, rel=1e-14)
