"""SignSGD (sign descent with momentum) equals Lion with its two betas equal.

torch has no sign descent; the nearest reference is the authors' package of Lion
(``lion-pytorch``), whose rule with beta1 = beta2 = beta is exactly (sign.1)-(sign.2):
the book's usual proof (float64, hundreds of steps, two parameter groups, a scheduler, a
state_dict reload at half time) must find them equal bit for bit. A negative control
shows the check can fail: beta1 != beta2 is a different rule.
"""

from __future__ import annotations

import pytest
import torch
from lion_pytorch import Lion as ReferenceLion

from optbook.optimizers import SignSGD
from optbook.verify import compare_with_reference

STEPS = 400
SETTINGS = [
    {"lr": 1e-3, "momentum": 0.9},
    {"lr": 1e-2, "momentum": 0.5},
    {"lr": 1e-3, "momentum": 0.99, "weight_decay": 0.5},
    {"lr": 3e-3, "momentum": 0.0},
    {"lr": 3e-3, "momentum": 0.0, "weight_decay": 0.1},
]


def step_lr(optimizer):
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=50, gamma=0.7)


def as_lion(settings):
    beta = settings["momentum"]
    return {"lr": settings["lr"], "betas": (beta, beta),
            "weight_decay": settings.get("weight_decay", 0.0)}


@pytest.mark.parametrize("settings", SETTINGS, ids=str)
def test_sign_descent_equals_lion_with_equal_betas(settings):
    result = compare_with_reference(
        lambda groups: SignSGD(groups, **settings),
        lambda groups: ReferenceLion(groups, **as_lion(settings)),
        steps=STEPS,
        second_group={"lr": 3e-4},
        make_scheduler=step_lr,
        reload_at=STEPS // 2,
    )
    assert result.max_rel_diff == 0.0, result
    assert result.distance_travelled > 1e-3, "the run moved the parameters"


def test_negative_control_unequal_betas_differ():
    result = compare_with_reference(
        lambda groups: SignSGD(groups, lr=1e-2, momentum=0.9),
        lambda groups: ReferenceLion(groups, lr=1e-2, betas=(0.9, 0.99)),
        steps=STEPS,
    )
    assert result.max_rel_diff > 1e-3, result


def test_every_coordinate_moves_by_exactly_lr():
    param = torch.nn.Parameter(torch.zeros(5, dtype=torch.float64))
    optimizer = SignSGD([param], lr=0.01, momentum=0.9)
    param.grad = torch.tensor([3.0, -1e-6, 0.5, -7.0, 1e-9], dtype=torch.float64)
    optimizer.step()
    assert param.detach().tolist() == [-0.01, 0.01, -0.01, 0.01, -0.01]


def test_momentum_remembers_the_direction():
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    optimizer = SignSGD([param], lr=1.0, momentum=0.9)
    for grad in (1.0, -0.5):  # m = 0.1, then 0.09 - 0.05 > 0: still a step down
        param.grad = torch.tensor([grad], dtype=torch.float64)
        optimizer.step()
    assert param.item() == -2.0
    plain = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    sign_only = SignSGD([plain], lr=1.0, momentum=0.0)
    for grad in (1.0, -0.5):
        plain.grad = torch.tensor([grad], dtype=torch.float64)
        sign_only.step()
    assert plain.item() == 0.0 and not sign_only.state


def test_maximize_climbs():
    param = torch.nn.Parameter(torch.zeros(2))
    optimizer = SignSGD([param], lr=0.5, maximize=True)
    param.grad = torch.tensor([1.0, -2.0])
    optimizer.step()
    assert param.detach().tolist() == [0.5, -0.5]


def test_complex_parameters_move_as_pairs_of_reals():
    start = torch.tensor([1 + 2j, -3 - 1j], dtype=torch.complex128)
    param = torch.nn.Parameter(start.clone())
    optimizer = SignSGD([param], lr=0.1, momentum=0.0)
    param.grad = torch.tensor([2 - 1j, -1 + 4j], dtype=torch.complex128)
    optimizer.step()
    expected = start - 0.1 * torch.tensor([1 - 1j, -1 + 1j], dtype=torch.complex128)
    assert torch.equal(param.detach(), expected)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"lr": -1.0}, "lr .*must be >= 0"),
        ({"momentum": 1.0}, r"momentum .*\[0, 1\)"),
        ({"momentum": -0.1}, r"momentum .*\[0, 1\)"),
        ({"weight_decay": -0.1}, "weight_decay .*must be >= 0"),
    ],
)
def test_bad_settings_are_refused_in_clear_words(options, words):
    with pytest.raises(ValueError, match=words):
        SignSGD([torch.nn.Parameter(torch.zeros(2))], **options)


def test_state_dict_round_trip_goes_on_identically():
    generator = torch.Generator().manual_seed(0)
    grads = [torch.randn(3, generator=generator) for _ in range(20)]
    start = torch.randn(3, generator=generator)
    straight = torch.nn.Parameter(start.clone())
    ours = SignSGD([straight], lr=0.1)
    resumed = torch.nn.Parameter(start.clone())
    first = SignSGD([resumed], lr=0.1)
    for k, grad in enumerate(grads):
        straight.grad = grad.clone()
        ours.step()
        resumed.grad = grad.clone()
        first.step()
        if k == 9:
            saved = first.state_dict()
            first = SignSGD([resumed], lr=0.1)
            first.load_state_dict(saved)
    assert torch.equal(straight.detach(), resumed.detach())
