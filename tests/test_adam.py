"""optbook's Adam equals torch.optim.Adam; its one extra switch is the lecture's first form."""

from __future__ import annotations

import inspect
import io

import pytest
import torch

from optbook.optimizers.adam import Adam
from optbook.verify import compare_with_reference

STEPS = 500
TOLERANCE = 1e-12  # float64; in practice the runs agree bitwise


def step_lr(optimizer):
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=100, gamma=0.5)


def cosine(optimizer):
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=STEPS)


# -- the signature -----------------------------------------------------------------------------
def test_signature_is_torchs_plus_one_documented_switch():
    ours = inspect.signature(Adam.__init__).parameters
    theirs = inspect.signature(torch.optim.Adam.__init__).parameters
    extra = [name for name in ours if name not in theirs]
    assert extra == ["bias_correction"]
    assert list(ours)[: len(theirs)] == list(theirs), (
        "torch's parameters first, in torch's order"
    )
    for name, parameter in theirs.items():
        assert ours[name].kind == parameter.kind, name
        assert ours[name].default == parameter.default, name
    switch = ours["bias_correction"]
    assert switch.kind is inspect.Parameter.KEYWORD_ONLY and switch.default is True
    assert "bias_correction" in Adam.__doc__


# -- equality with torch -----------------------------------------------------------------------
GRID = [
    {},
    {"lr": 1e-2},
    {"lr": 3e-2, "betas": (0.8, 0.99), "eps": 1e-6},
    {"lr": 1e-2, "betas": (0.0, 0.9)},
    {"lr": 1e-2, "weight_decay": 0.1},
    {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True},
    {"lr": 1e-2, "amsgrad": True},
    {"lr": 1e-2, "amsgrad": True, "weight_decay": 0.05, "decoupled_weight_decay": True},
    {"lr": 1e-3, "maximize": True, "weight_decay": 0.01},
]


@pytest.mark.parametrize(
    "options",
    GRID,
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "defaults",
)
def test_equals_torch_with_groups_reload_and_scheduler(options):
    result = compare_with_reference(
        lambda groups: Adam(groups, **options),
        lambda groups: torch.optim.Adam(groups, **options),
        steps=STEPS,
        second_group={"lr": options.get("lr", 1e-3) * 0.3},
        reload_at=STEPS // 2,
        make_scheduler=step_lr,
    )
    assert result.max_rel_diff <= TOLERANCE, result
    assert result.distance_travelled > 0.1, f"a trivial run proves nothing: {result}"


def test_equals_torch_plain_run_and_second_group_with_other_betas():
    plain = compare_with_reference(
        lambda g: Adam(g, lr=1e-2), lambda g: torch.optim.Adam(g, lr=1e-2), steps=STEPS
    )
    assert plain.max_rel_diff <= TOLERANCE and plain.distance_travelled > 0.5, plain
    group = {"lr": 5e-3, "betas": (0.5, 0.9), "weight_decay": 0.1}
    mixed = compare_with_reference(
        lambda g: Adam(g, lr=1e-2),
        lambda g: torch.optim.Adam(g, lr=1e-2),
        steps=STEPS,
        second_group=group,
        make_scheduler=cosine,
        reload_at=123,
    )
    assert mixed.max_rel_diff <= TOLERANCE and mixed.distance_travelled > 0.5, mixed


def test_decoupled_weight_decay_is_adamw():
    result = compare_with_reference(
        lambda g: Adam(g, lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True),
        lambda g: torch.optim.AdamW(g, lr=1e-2, weight_decay=0.1),
        steps=STEPS,
        reload_at=200,
    )
    assert result.max_rel_diff <= TOLERANCE and result.distance_travelled > 0.5, result


def test_tensor_lr_and_betas_as_torch_accepts_them():
    def options():
        return {
            "lr": torch.tensor(1e-2),
            "betas": (torch.tensor(0.9), torch.tensor(0.99)),
        }

    result = compare_with_reference(
        lambda g: Adam(g, **options()),
        lambda g: torch.optim.Adam(g, **options()),
        steps=100,
    )
    assert result.max_rel_diff <= TOLERANCE and result.distance_travelled > 0.1, result


def test_negative_control_the_check_sees_a_small_difference():
    result = compare_with_reference(
        lambda g: Adam(g, lr=1e-2, betas=(0.9, 0.99)),
        lambda g: torch.optim.Adam(g, lr=1e-2, betas=(0.9, 0.999)),
        steps=STEPS,
    )
    assert result.max_rel_diff > 1e-4, result


def test_negative_control_without_bias_correction_differs_from_torch():
    result = compare_with_reference(
        lambda g: Adam(g, lr=1e-3, bias_correction=False),
        lambda g: torch.optim.Adam(g, lr=1e-3),
        steps=STEPS,
    )
    assert result.max_rel_diff > 1e-2, result


def test_state_keys_and_dtypes_are_torchs():
    for amsgrad in (False, True):
        params = {}
        for name, cls in (("ours", Adam), ("torch", torch.optim.Adam)):
            p = torch.ones(3, dtype=torch.float64, requires_grad=True)
            optimizer = cls([p], amsgrad=amsgrad)
            p.grad = torch.full_like(p, 0.5)
            optimizer.step()
            params[name] = optimizer.state[p]
        assert list(params["ours"]) == list(params["torch"])
        for key, value in params["torch"].items():
            assert (
                params["ours"][key].dtype == value.dtype
                and params["ours"][key].shape == value.shape
            ), key
            assert torch.equal(params["ours"][key], value), key


def test_loads_a_state_dict_saved_by_torch_and_goes_on_identically():
    torch.manual_seed(0)
    start = torch.randn(6, dtype=torch.float64)
    target = torch.randn(6, dtype=torch.float64)
    p_ref = start.clone().requires_grad_(True)
    reference = torch.optim.Adam([p_ref], lr=0.05, amsgrad=True)

    def train(p, optimizer, steps):
        for _ in range(steps):
            optimizer.zero_grad()
            ((p - target) ** 4).sum().backward()
            optimizer.step()

    train(p_ref, reference, 20)
    buffer = io.BytesIO()
    torch.save(reference.state_dict(), buffer)
    buffer.seek(0)
    p_ours = p_ref.detach().clone().requires_grad_(True)
    ours = Adam([p_ours], lr=0.05, amsgrad=True)
    ours.load_state_dict(torch.load(buffer))
    assert (
        ours.param_groups[0]["bias_correction"] is True
    )  # torch's dict has no such key
    train(p_ref, reference, 30)
    train(p_ours, ours, 30)
    assert torch.equal(p_ours, p_ref)


# -- the lecture's first form: bias_correction=False -------------------------------------------
def test_without_bias_correction_and_beta1_zero_is_rmsprop():
    """beta1 = 0 makes m_t = g_t; without correction (adam.3) is then exactly RMSProp."""
    result = compare_with_reference(
        lambda g: Adam(g, lr=1e-2, betas=(0.0, 0.99), eps=1e-8, bias_correction=False),
        lambda g: torch.optim.RMSprop(g, lr=1e-2, alpha=0.99, eps=1e-8),
        steps=STEPS,
        second_group={"lr": 3e-3},
        reload_at=250,
        make_scheduler=step_lr,
    )
    assert result.max_rel_diff <= TOLERANCE and result.distance_travelled > 0.5, result


class LectureAdam(torch.optim.Optimizer):
    """The lecture's first Adam slide, written independently: no bias correction."""

    def __init__(self, params, lr, betas, eps):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["m"], state["v"] = torch.zeros_like(p), torch.zeros_like(p)
                state["m"] = beta1 * state["m"] + (1 - beta1) * p.grad
                state["v"] = beta2 * state["v"] + (1 - beta2) * p.grad**2
                p -= group["lr"] * state["m"] / (torch.sqrt(state["v"]) + group["eps"])


def test_without_bias_correction_is_the_lectures_first_form():
    result = compare_with_reference(
        lambda g: Adam(g, lr=3e-3, betas=(0.9, 0.999), bias_correction=False),
        lambda g: LectureAdam(g, lr=3e-3, betas=(0.9, 0.999), eps=1e-8),
        steps=STEPS,
        second_group={"lr": 1e-3},
    )
    # a different order of the same operations (lerp against a * m + b * g): rounding only
    assert result.max_rel_diff <= 1e-11 and result.distance_travelled > 0.5, result


def test_first_step_with_correction_is_lr_times_sign_and_without_is_larger():
    """Step 1: m_1 = (1 - b1) g, v_1 = (1 - b2) g^2. Corrected: lr * sign(g); raw: lr (1 - b1) / sqrt(1 - b2)."""
    g = torch.tensor([3.0, -0.2, 1e-3], dtype=torch.float64)
    moves = {}
    for correction in (True, False):
        p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
        optimizer = Adam([p], lr=0.01, eps=0.0, bias_correction=correction)
        p.grad = g.clone()
        optimizer.step()
        moves[correction] = p.detach()
    torch.testing.assert_close(moves[True], -0.01 * g.sign(), rtol=1e-14, atol=0)
    torch.testing.assert_close(
        moves[False], -0.01 * 0.1 / 0.001**0.5 * g.sign(), rtol=1e-12, atol=0
    )


# -- validation ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lr": -1e-3}, r"lr \(the learning rate.*must be >= 0"),
        ({"eps": -1e-8}, r"eps \(the small constant.*must be >= 0"),
        (
            {"betas": (1.0, 0.999)},
            r"betas\[0\] \(the decay of the gradient average\) must lie in \[0, 1\)",
        ),
        (
            {"betas": (0.9, -0.1)},
            r"betas\[1\] \(the decay of the squared-gradient average\)",
        ),
        ({"betas": (0.9,)}, r"betas must be a pair"),
        (
            {"weight_decay": -0.1},
            r"weight_decay \(the weight-decay coefficient lambda\) must be >= 0",
        ),
        ({"lr": float("nan")}, r"lr .* got NaN"),
    ],
)
def test_invalid_hyperparameters_are_refused_in_words(options, message):
    with pytest.raises(ValueError, match=message):
        Adam([torch.zeros(2, requires_grad=True)], **options)


def test_invalid_hyperparameters_in_an_added_group_are_refused():
    optimizer = Adam([torch.zeros(2, requires_grad=True)])
    with pytest.raises(ValueError, match=r"lr \(the learning rate"):
        optimizer.add_param_group(
            {"params": [torch.zeros(2, requires_grad=True)], "lr": -1.0}
        )


def test_bias_correction_must_be_a_bool():
    with pytest.raises(TypeError, match="bias_correction must be True"):
        Adam([torch.zeros(2, requires_grad=True)], bias_correction="yes")


@pytest.mark.parametrize("switch", ["foreach", "fused", "capturable", "differentiable"])
def test_implementation_switches_are_refused(switch):
    with pytest.raises(
        ValueError,
        match=f"{switch}=True selects one of torch's fast implementation paths",
    ):
        Adam([torch.zeros(2, requires_grad=True)], **{switch: True})
