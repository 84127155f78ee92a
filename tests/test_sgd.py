"""optbook's SGD is torch.optim.SGD: same signature, same errors, same numbers.

Every equivalence test runs both optimizers side by side for 500 steps in float64 with
:func:`optbook.verify.compare_with_reference` and asserts (a) that the parameters agree to
1e-12 relative at every step and (b) that the run was not trivial (the parameters moved).
SGD's arithmetic is done in the same order as torch's ``_single_tensor_sgd``, and it has
no float32 step counter, so the runs in fact agree bitwise; 1e-12 leaves room for a future
torch that reorders a multiply-add.
"""

from __future__ import annotations

import copy
import inspect
import itertools

import pytest
import torch

from optbook.optimizers.base import PerParameterOptimizer
from optbook.optimizers.sgd import SGD
from optbook.verify import compare_with_reference

TOLERANCE = 1e-12
STEPS = 500


def _pair(**options):
    return (lambda groups: SGD(groups, **options)), (
        lambda groups: torch.optim.SGD(groups, **options)
    )


def _assert_equal_and_nontrivial(comparison, min_distance=0.1):
    assert comparison.steps == STEPS
    assert comparison.max_rel_diff <= TOLERANCE, str(comparison)
    assert comparison.distance_travelled > min_distance, f"trivial run: {comparison}"
    assert torch.isfinite(torch.tensor(comparison.last_loss)), str(comparison)


# -- the grid: every combination that torch accepts --------------------------------------------
def _settings():
    grid = itertools.product(
        (0.0, 0.5, 0.9),  # momentum
        (0.0, 0.3),  # dampening
        (False, True),  # nesterov
        (0.0, 1e-2),  # weight_decay
        (False, True),  # maximize
    )
    for momentum, dampening, nesterov, weight_decay, maximize in grid:
        if nesterov and (momentum == 0 or dampening != 0):
            continue  # refused by torch and by optbook (tested below)
        if momentum == 0 and dampening != 0:
            continue  # dampening only acts on the momentum buffer: same run as dampening 0
        # Climbing the loss (maximize) makes the weights grow; a small lr keeps 500 steps finite.
        lr = 1e-3 if maximize else 5e-2
        yield dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            nesterov=nesterov,
            weight_decay=weight_decay,
            maximize=maximize,
        )


SETTINGS = list(_settings())


@pytest.mark.parametrize(
    "options", SETTINGS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items())
)
def test_equal_to_torch_over_a_grid_of_settings(options):
    ours, reference = _pair(**options)
    _assert_equal_and_nontrivial(
        compare_with_reference(ours, reference, steps=STEPS),
        min_distance=0.05 if options["maximize"] else 0.1,
    )


def test_the_grid_covers_every_switch():
    assert len(SETTINGS) >= 20
    for key in ("momentum", "dampening", "nesterov", "weight_decay", "maximize"):
        assert len({str(s[key]) for s in SETTINGS}) >= 2, key


@pytest.mark.parametrize("lr", [1e-3, 1e-2, 0.1])
def test_equal_to_torch_for_several_learning_rates(lr):
    ours, reference = _pair(lr=lr, momentum=0.9, nesterov=True)
    _assert_equal_and_nontrivial(compare_with_reference(ours, reference, steps=STEPS))


def test_equal_with_defaults_only():
    ours, reference = _pair()  # lr=1e-3, no momentum: a slow but honest run
    _assert_equal_and_nontrivial(
        compare_with_reference(ours, reference, steps=STEPS), min_distance=0.01
    )


# -- parameter groups, state_dict round trips, schedulers --------------------------------------
@pytest.mark.parametrize(
    "second_group",
    [
        {"lr": 5e-3},
        {"lr": 0.2, "momentum": 0.5},
        {"nesterov": False, "weight_decay": 0.1},
    ],
)
def test_equal_with_two_parameter_groups(second_group):
    ours, reference = _pair(lr=5e-2, momentum=0.9, nesterov=True)
    _assert_equal_and_nontrivial(
        compare_with_reference(ours, reference, steps=STEPS, second_group=second_group)
    )


@pytest.mark.parametrize(
    "options",
    [
        dict(lr=5e-2),
        dict(lr=5e-2, momentum=0.9, dampening=0.1),
        dict(lr=5e-2, momentum=0.9, nesterov=True, weight_decay=1e-3),
    ],
)
def test_equal_across_a_state_dict_reload(options):
    ours, reference = _pair(**options)
    _assert_equal_and_nontrivial(
        compare_with_reference(ours, reference, steps=STEPS, reload_at=STEPS // 2)
    )


SCHEDULERS = {
    "StepLR": lambda opt: torch.optim.lr_scheduler.StepLR(
        opt, step_size=100, gamma=0.5
    ),
    "CosineAnnealingLR": lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=STEPS
    ),
    # OneCycleLR also cycles the momentum coefficient in the param groups.
    "OneCycleLR": lambda opt: torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=0.1, total_steps=STEPS
    ),
}


@pytest.mark.parametrize("name", SCHEDULERS)
def test_equal_under_a_scheduler(name):
    ours, reference = _pair(lr=5e-2, momentum=0.9)
    _assert_equal_and_nontrivial(
        compare_with_reference(
            ours, reference, steps=STEPS, make_scheduler=SCHEDULERS[name]
        )
    )


def test_equal_with_groups_reload_and_scheduler_together():
    ours, reference = _pair(lr=5e-2, momentum=0.9, nesterov=True, weight_decay=1e-3)
    comparison = compare_with_reference(
        ours,
        reference,
        steps=STEPS,
        second_group={"lr": 1e-2},
        reload_at=300,
        make_scheduler=SCHEDULERS["StepLR"],
    )
    _assert_equal_and_nontrivial(comparison)


def test_equal_in_float32_too():
    ours, reference = _pair(lr=5e-2, momentum=0.9, nesterov=True, weight_decay=1e-3)
    comparison = compare_with_reference(
        ours, reference, steps=STEPS, dtype=torch.float32
    )
    assert comparison.max_rel_diff <= 1e-6, str(
        comparison
    )  # float32 rounding, were it reordered
    assert comparison.distance_travelled > 0.1


def test_tensor_learning_rate_like_torch():
    for lr in (
        torch.tensor(0.05),
        torch.tensor([0.05]),
    ):  # torch accepts a 1-element tensor
        ours, reference = _pair(lr=lr, momentum=0.9)
        _assert_equal_and_nontrivial(
            compare_with_reference(ours, reference, steps=STEPS)
        )


# -- negative controls: the check must catch a different setting and a subtle bug --------------
def test_negative_control_a_different_momentum_is_caught():
    comparison = compare_with_reference(
        lambda g: SGD(g, lr=5e-2, momentum=0.9),
        lambda g: torch.optim.SGD(g, lr=5e-2, momentum=0.89),
        steps=STEPS,
    )
    assert comparison.max_rel_diff > 1e-3, str(comparison)


class _DampedFirstStep(SGD):
    """A plausible bug: damp the first step too, b_1 = (1 - tau) g_1 instead of b_1 = g_1."""

    def update(self, param, grad, state, group):
        if group["momentum"] != 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = torch.zeros_like(param)
        super().update(param, grad, state, group)


def test_negative_control_a_subtle_bug_is_caught():
    comparison = compare_with_reference(
        lambda g: _DampedFirstStep(g, lr=5e-2, momentum=0.9, dampening=0.5),
        lambda g: torch.optim.SGD(g, lr=5e-2, momentum=0.9, dampening=0.5),
        steps=STEPS,
    )
    assert comparison.max_rel_diff > 1e-6, str(comparison)
    # ... while without dampening the "bug" is harmless, and the check says so.
    harmless = compare_with_reference(
        lambda g: _DampedFirstStep(g, lr=5e-2, momentum=0.9),
        lambda g: torch.optim.SGD(g, lr=5e-2, momentum=0.9),
        steps=50,
    )
    assert harmless.max_rel_diff == 0.0


# -- state: the same keys and values as torch, and loadable from torch -------------------------
def _train(optimizer_cls, params, steps, **options):
    optimizer = optimizer_cls(params, **options)
    generator = torch.Generator().manual_seed(1)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = sum(
            ((p - torch.randn(p.shape, generator=generator, dtype=p.dtype)) ** 2).sum()
            for p in params
        )
        loss.backward()
        optimizer.step()
    return optimizer


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_state_dict_matches_torch(momentum):
    start = [
        torch.randn(3, 2, dtype=torch.float64),
        torch.randn(4, dtype=torch.float64),
    ]
    ours = _train(
        SGD, [p.clone().requires_grad_() for p in start], 5, lr=0.1, momentum=momentum
    )
    ref = _train(
        torch.optim.SGD,
        [p.clone().requires_grad_() for p in start],
        5,
        lr=0.1,
        momentum=momentum,
    )
    ours_state, ref_state = ours.state_dict()["state"], ref.state_dict()["state"]
    assert ours_state.keys() == ref_state.keys()  # no entries at all without momentum
    for index in ref_state:
        assert (
            ours_state[index].keys() == ref_state[index].keys() == {"momentum_buffer"}
        )
        torch.testing.assert_close(
            ours_state[index]["momentum_buffer"],
            ref_state[index]["momentum_buffer"],
            rtol=0,
            atol=0,
        )


def test_continues_from_a_torch_state_dict():
    start = torch.randn(5, dtype=torch.float64)
    options = dict(lr=0.05, momentum=0.9, nesterov=True)
    ref_param = start.clone().requires_grad_()
    ref = _train(torch.optim.SGD, [ref_param], 20, **options)
    ours_param = ref_param.detach().clone().requires_grad_()
    ours = SGD([ours_param], **options)
    # A deep copy, as torch.save/torch.load would make: load_state_dict keeps the very tensors
    # it is given when dtype and device already match, and the two runs would share one buffer.
    ours.load_state_dict(copy.deepcopy(ref.state_dict()))
    for _ in range(30):
        for param, optimizer in ((ref_param, ref), (ours_param, ours)):
            optimizer.zero_grad()
            (param**4).sum().backward()
            optimizer.step()
    assert torch.equal(ours_param, ref_param)
    assert not torch.equal(ours_param, start)


# -- the constructor: torch's signature, clear errors -------------------------------------------
def _signature(cls):
    return [
        (p.name, p.kind, p.default) for p in inspect.signature(cls).parameters.values()
    ]


def test_signature_is_torchs():
    assert _signature(SGD) == _signature(torch.optim.SGD)


def test_is_a_torch_optimizer():
    assert issubclass(SGD, PerParameterOptimizer) and issubclass(
        SGD, torch.optim.Optimizer
    )


def _param():
    return [torch.zeros(2, requires_grad=True)]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lr=-0.1), r"lr \(the learning rate\) must be >= 0.*maximize=True"),
        (dict(lr=float("nan")), r"lr \(the learning rate\) must be a number, got NaN"),
        (
            dict(lr=torch.tensor([0.1, 0.2])),
            r"lr \(the learning rate\) must be a single number",
        ),
        (dict(momentum=-0.5), r"momentum \(the momentum coefficient mu\) must be >= 0"),
        (
            dict(weight_decay=-1e-4),
            r"weight_decay \(the L2 penalty lambda\) must be >= 0",
        ),
        (dict(nesterov=True), r"nesterov=True needs momentum > 0"),
        (
            dict(nesterov=True, momentum=0.9, dampening=0.1),
            r"nesterov=True needs momentum > 0 and dampening = 0",
        ),
        (
            dict(foreach=True),
            r"foreach=True selects one of torch's fast implementation paths",
        ),
        (
            dict(fused=True),
            r"fused=True selects one of torch's fast implementation paths",
        ),
        (dict(differentiable=True), r"differentiable=True selects"),
    ],
)
def test_invalid_hyperparameters_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SGD(_param(), **kwargs)


def test_invalid_value_in_a_parameter_group_is_refused_too():
    with pytest.raises(ValueError, match=r"lr \(the learning rate\) must be >= 0"):
        SGD([{"params": _param(), "lr": -1.0}], lr=0.1)
    optimizer = SGD(_param(), lr=0.1)
    with pytest.raises(ValueError, match=r"momentum .* must be >= 0"):
        optimizer.add_param_group({"params": _param(), "momentum": -0.9})


def test_non_numbers_and_unknown_arguments_raise_type_errors():
    with pytest.raises(TypeError, match="must be a number"):
        SGD(_param(), lr="0.1")
    with pytest.raises(TypeError, match="unexpected keyword argument 'betas'"):
        SGD(_param(), lr=0.1, betas=(0.9, 0.99))
    with pytest.raises(TypeError, match="unexpected keyword argument 'capturable'"):
        SGD(_param(), capturable=False)  # torch's SGD has no capturable either


def test_switches_at_their_defaults_are_accepted():
    SGD(_param(), foreach=None, fused=None, differentiable=False)
    SGD(_param(), foreach=False, fused=False)


def test_sparse_gradients_are_refused_clearly():
    param = torch.zeros(4, requires_grad=True)
    optimizer = SGD([param], lr=0.1)
    param.grad = torch.eye(4)[0].to_sparse()
    with pytest.raises(RuntimeError, match="does not support sparse gradients"):
        optimizer.step()
