"""Schedule-Free AdamW, Shampoo and SOAP equal their public references.

The book's usual proof (float64, hundreds of steps, a grid of settings, two parameter
groups, a state_dict reload in the middle of the run, a learning-rate scheduler; the
parameters must agree bit for bit), against packages from the index:

- ScheduleFreeAdamW against ``schedulefree.AdamWScheduleFree`` (schedulefree 1.4.1),
  in train mode during the run and in eval mode (the averaged point x) at the end;
- Shampoo against ``pytorch_optimizer.Shampoo`` (pytorch-optimizer 4.1.0), the plain
  Shampoo of Gupta et al. (2018) that package ships;
- SOAP against ``pytorch_optimizer.SOAP`` (pytorch-optimizer 4.1.0), merge_dims=False.
"""

from __future__ import annotations

import inspect

import pytest
import pytorch_optimizer
import schedulefree
import torch

from optbook.optimizers import SOAP, ScheduleFreeAdamW, Shampoo
from optbook.verify import compare_with_reference

STEPS = 400


def step_lr(optimizer):
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=50, gamma=0.7)


def in_train_mode(optimizer):
    optimizer.train()
    return optimizer


def names_and_defaults(cls, drop=()):
    return [
        (p.name, p.default)
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name not in drop
    ]


# -- Schedule-Free AdamW -------------------------------------------------------------
SF_GRID = [
    {},
    {"lr": 1e-2},
    {"betas": (0.95, 0.99)},
    {"weight_decay": 0.1, "lr": 1e-2},
    {"warmup_steps": 30},
    {"warmup_steps": 30, "r": 1.0},
    {"weight_lr_power": 0.0, "eps": 1e-6},
    {"foreach": False, "warmup_steps": 10},
]


def test_schedule_free_signature_is_the_packages():
    assert names_and_defaults(ScheduleFreeAdamW) == names_and_defaults(
        schedulefree.AdamWScheduleFree
    )


@pytest.mark.parametrize("settings", SF_GRID, ids=[str(s) for s in SF_GRID])
def test_schedule_free_equals_the_package(settings):
    result = compare_with_reference(
        lambda g: in_train_mode(ScheduleFreeAdamW(g, **settings)),
        lambda g: in_train_mode(schedulefree.AdamWScheduleFree(g, **settings)),
        steps=STEPS,
        second_group={"lr": 4e-3},
        make_scheduler=step_lr,
        reload_at=STEPS // 2,
    )
    assert result.max_rel_diff == 0.0, result
    assert result.distance_travelled > 1e-3, "the run moved the parameters"


def _schedule_free_pair(settings, steps):
    torch.manual_seed(0)
    start = torch.randn(6, 4, dtype=torch.float64)
    runs = []
    for cls in (ScheduleFreeAdamW, schedulefree.AdamWScheduleFree):
        param = torch.nn.Parameter(start.clone())
        optimizer = cls([param], **settings)
        optimizer.train()
        runs.append((param, optimizer))
    target = torch.randn(6, 4, dtype=torch.float64)
    for _ in range(steps):
        for param, optimizer in runs:
            optimizer.zero_grad()
            ((param - target) ** 4).sum().backward()
            optimizer.step()
    return runs


def test_schedule_free_eval_and_train_modes_equal_the_package():
    (ours, opt_ours), (theirs, opt_theirs) = _schedule_free_pair({"lr": 1e-2}, 300)
    before = ours.detach().clone()
    opt_ours.eval()
    opt_theirs.eval()
    assert torch.equal(ours, theirs)  # x, the average
    assert not torch.equal(ours, before), "eval() moved the parameters from y to x"
    opt_ours.train()
    opt_theirs.train()
    assert torch.equal(ours, theirs)
    torch.testing.assert_close(ours.detach(), before, rtol=1e-12, atol=1e-12)
    # eval() twice is eval() once, as in the package
    opt_ours.eval()
    opt_ours.eval()
    opt_theirs.eval()
    assert torch.equal(ours, theirs)


def test_schedule_free_refuses_to_step_in_eval_mode_in_words():
    param = torch.nn.Parameter(torch.zeros(3))
    optimizer = ScheduleFreeAdamW([param])
    param.grad = torch.ones(3)
    with pytest.raises(RuntimeError, match=r"call optimizer.train\(\)"):
        optimizer.step()


def test_schedule_free_state_dict_moves_to_the_package_and_back():
    (ours, opt_ours), (_, opt_theirs) = _schedule_free_pair({"lr": 1e-2}, 50)
    state = opt_ours.state_dict()
    assert set(state["state"][0]) == set(opt_theirs.state_dict()["state"][0])
    assert set(state["param_groups"][0]) == set(opt_theirs.state_dict()["param_groups"][0])


def test_schedule_free_refuses_bad_settings_in_words():
    param = torch.nn.Parameter(torch.zeros(3))
    with pytest.raises(ValueError, match="lr"):
        ScheduleFreeAdamW([param], lr=-1.0)
    with pytest.raises(ValueError, match="beta1"):
        ScheduleFreeAdamW([param], betas=(0.0, 0.999))


# -- Shampoo and SOAP: pytorch-optimizer 4.1.0 ------------------------------------------
SHAMPOO_GRID = [
    {},
    {"lr": 1e-2},
    {"momentum": 0.9, "lr": 3e-3},
    {"weight_decay": 0.1, "lr": 1e-2},
    {"weight_decay": 0.1, "weight_decouple": True, "lr": 1e-2},
    {"weight_decay": 0.01, "weight_decouple": True, "fixed_decay": True},
    {"preconditioning_compute_steps": 5, "lr": 1e-2},
    {"matrix_eps": 1e-3, "maximize": True, "momentum": 0.5},
]
SOAP_GRID = [
    {},
    {"lr": 1e-2, "betas": (0.9, 0.99)},
    {"shampoo_beta": 0.9},
    {"weight_decay": 0.0, "precondition_frequency": 3},
    {"precondition_1d": True},
    {"max_precondition_dim": 6, "precondition_1d": True},
    {"correct_bias": False, "normalize_gradient": True},
    {"eps": 1e-6, "maximize": True, "data_format": "channels_last"},
]


@pytest.mark.parametrize("settings", SHAMPOO_GRID, ids=[str(s) for s in SHAMPOO_GRID])
def test_shampoo_equals_pytorch_optimizer(settings):
    result = compare_with_reference(
        lambda g: Shampoo(g, **settings),
        lambda g: pytorch_optimizer.Shampoo(g, **settings),
        steps=STEPS,
        second_group={"lr": 2e-3},
        make_scheduler=step_lr,
        reload_at=STEPS // 2,
    )
    assert result.max_rel_diff == 0.0, result
    assert result.distance_travelled > 1e-3, "the run moved the parameters"


@pytest.mark.parametrize("settings", SOAP_GRID, ids=[str(s) for s in SOAP_GRID])
def test_soap_equals_pytorch_optimizer(settings):
    result = compare_with_reference(
        lambda g: SOAP(g, **settings),
        lambda g: pytorch_optimizer.SOAP(g, **settings),
        steps=STEPS,
        second_group={"lr": 1e-3},
        make_scheduler=step_lr,
        reload_at=STEPS // 2,
    )
    assert result.max_rel_diff == 0.0, result
    assert result.distance_travelled > 1e-3, "the run moved the parameters"


@pytest.mark.parametrize("name", ["Shampoo", "SOAP"])
def test_signature_is_the_packages_but_unknown_keywords_are_refused(name):
    ours, theirs = {"Shampoo": (Shampoo, pytorch_optimizer.Shampoo),
                    "SOAP": (SOAP, pytorch_optimizer.SOAP)}[name]
    assert names_and_defaults(ours) == names_and_defaults(theirs, drop=("kwargs",))
    with pytest.raises(TypeError):
        ours([torch.nn.Parameter(torch.zeros(2, 2))], lr_typo=1.0)


@pytest.mark.parametrize("name", ["Shampoo", "SOAP"])
def test_order_three_tensors_equal_the_package(name):
    ours_cls, theirs_cls = {"Shampoo": (Shampoo, pytorch_optimizer.Shampoo),
                            "SOAP": (SOAP, pytorch_optimizer.SOAP)}[name]
    torch.manual_seed(1)
    start = torch.randn(3, 4, 5, dtype=torch.float64)
    target = torch.randn(3, 4, 5, dtype=torch.float64)
    params = []
    for cls in (ours_cls, theirs_cls):
        param = torch.nn.Parameter(start.clone())
        params.append((param, cls([param], lr=1e-2)))
    for _ in range(100):
        for param, optimizer in params:
            optimizer.zero_grad()
            ((param - target) ** 2 * torch.arange(1.0, 6.0)).sum().backward()
            optimizer.step()
    assert torch.equal(params[0][0], params[1][0])
    assert not torch.equal(params[0][0], start)


def test_soap_refuses_merge_dims_in_words():
    with pytest.raises(ValueError, match="merge_dims"):
        SOAP([torch.nn.Parameter(torch.zeros(2, 2))], merge_dims=True)


def test_shampoo_on_a_matrix_is_the_inverse_fourth_roots():
    """One step from zero statistics: W - lr L^(-1/4) G R^(-1/4), L = eps I + G G^T."""
    torch.manual_seed(2)
    grad = torch.randn(4, 3, dtype=torch.float64)
    param = torch.nn.Parameter(torch.zeros(4, 3, dtype=torch.float64))
    param.grad = grad.clone()
    Shampoo([param], lr=1.0, matrix_eps=1e-6).step()

    def root(matrix):
        values, vectors = torch.linalg.eigh(matrix)
        return vectors @ torch.diag(values ** -0.25) @ vectors.T

    left = root(1e-6 * torch.eye(4, dtype=torch.float64) + grad @ grad.T)
    right = root(1e-6 * torch.eye(3, dtype=torch.float64) + grad.T @ grad)
    torch.testing.assert_close(param.detach(), -(left @ grad @ right))
