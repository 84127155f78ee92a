"""optbook's Adagrad and RMSprop are torch.optim's: same signatures, same state, same numbers.

Every equivalence test runs both optimizers side by side for 500 steps in float64 with
:func:`optbook.verify.compare_with_reference` and asserts (a) that the parameters agree to
1e-12 relative at every step and (b) that the run was not trivial (the parameters moved).
The updates do torch's ``_single_tensor_*`` arithmetic in the same order, and the step
counters are torch's (float32 under a float32 default dtype, converted to a Python number
before use), so the runs in fact agree bitwise; 1e-12 leaves room for a future torch that
reorders a multiply-add.
"""

from __future__ import annotations

import inspect
import io
import itertools

import pytest
import torch

import optbook.optimizers.rmsprop as rmsprop_module
from optbook.optimizers.adagrad import Adagrad
from optbook.optimizers.rmsprop import RMSprop
from optbook.verify import compare_with_reference

STEPS = 500
TOLERANCE = 1e-12
PAIRS = [(Adagrad, torch.optim.Adagrad), (RMSprop, torch.optim.RMSprop)]


def step_lr(optimizer):
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=100, gamma=0.5)


def cosine(optimizer):
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=STEPS)


def _ids(options: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in options.items()) or "defaults"


def _assert_equal_and_nontrivial(comparison, min_distance=0.1):
    assert comparison.steps == STEPS
    assert comparison.max_rel_diff <= TOLERANCE, str(comparison)
    assert comparison.distance_travelled > min_distance, (
        f"a trivial run proves nothing: {comparison}"
    )
    assert torch.isfinite(torch.tensor(comparison.last_loss)), str(comparison)


# -- the signatures ------------------------------------------------------------------------------
@pytest.mark.parametrize(("ours", "reference"), PAIRS, ids=["Adagrad", "RMSprop"])
def test_signature_is_torchs(ours, reference):
    def parameters_of(cls):
        return [
            (p.name, p.kind, p.default)
            for p in inspect.signature(cls.__init__).parameters.values()
        ]

    assert parameters_of(ours) == parameters_of(reference)


# -- equality with torch: Adagrad ----------------------------------------------------------------
ADAGRAD_GRID = [
    {},
    {"lr": 0.1},
    {"lr": 0.1, "lr_decay": 1e-2},
    {"lr": 0.05, "weight_decay": 0.1},
    {"lr": 0.05, "initial_accumulator_value": 0.5},
    {"lr": 0.05, "eps": 1e-5},  # the lecture's eps
    {
        "lr": 0.05,
        "eps": 0.1,
        "lr_decay": 1e-3,
        "weight_decay": 1e-2,
        "initial_accumulator_value": 0.1,
    },
    {"lr": 1e-2, "maximize": True, "weight_decay": 0.01},
]


@pytest.mark.parametrize("options", ADAGRAD_GRID, ids=_ids)
def test_adagrad_equals_torch_with_groups_reload_and_scheduler(options):
    result = compare_with_reference(
        lambda groups: Adagrad(groups, **options),
        lambda groups: torch.optim.Adagrad(groups, **options),
        steps=STEPS,
        second_group={"lr": options.get("lr", 1e-2) * 0.3},
        reload_at=STEPS // 2,
        make_scheduler=step_lr,
    )
    _assert_equal_and_nontrivial(result)


def test_adagrad_plain_run_and_a_second_group_with_other_hyperparameters():
    plain = compare_with_reference(
        lambda g: Adagrad(g, lr=0.1),
        lambda g: torch.optim.Adagrad(g, lr=0.1),
        steps=STEPS,
    )
    _assert_equal_and_nontrivial(plain, min_distance=0.5)
    # torch ignores a group's initial_accumulator_value (it starts every accumulator at the
    # constructor's); the second group's value here checks that optbook does the same.
    group = {
        "lr": 0.03,
        "lr_decay": 0.01,
        "weight_decay": 0.1,
        "eps": 1e-3,
        "initial_accumulator_value": 2.0,
    }
    mixed = compare_with_reference(
        lambda g: Adagrad(g, lr=0.1, initial_accumulator_value=0.1),
        lambda g: torch.optim.Adagrad(g, lr=0.1, initial_accumulator_value=0.1),
        steps=STEPS,
        second_group=group,
        make_scheduler=cosine,
        reload_at=123,
    )
    _assert_equal_and_nontrivial(mixed, min_distance=0.5)


def test_adagrad_with_a_tensor_learning_rate():
    result = compare_with_reference(
        lambda g: Adagrad(g, lr=torch.tensor(0.05)),
        lambda g: torch.optim.Adagrad(g, lr=torch.tensor(0.05)),
        steps=STEPS,
        reload_at=100,
    )
    _assert_equal_and_nontrivial(result)


# -- equality with torch: RMSprop ----------------------------------------------------------------
def _rmsprop_grid():
    for centered, momentum, weight_decay in itertools.product(
        (False, True), (0.0, 0.9), (0.0, 0.05)
    ):
        yield {
            "lr": 3e-3,
            "centered": centered,
            "momentum": momentum,
            "weight_decay": weight_decay,
        }
    yield {}
    yield {"lr": 1e-2, "alpha": 0.9, "eps": 1e-5}  # the lecture's settings
    yield {
        "lr": 1e-3,
        "alpha": 0.0,
        "eps": 1e-3,
    }  # alpha = 0: only the newest gradient counts
    yield {"lr": 1e-3, "alpha": 0.9, "eps": 0.0}
    yield {"lr": 1e-4, "maximize": True, "momentum": 0.5, "centered": True}


@pytest.mark.parametrize("options", list(_rmsprop_grid()), ids=_ids)
def test_rmsprop_equals_torch_with_groups_reload_and_scheduler(options):
    result = compare_with_reference(
        lambda groups: RMSprop(groups, **options),
        lambda groups: torch.optim.RMSprop(groups, **options),
        steps=STEPS,
        second_group={"lr": options.get("lr", 1e-2) * 0.3},
        reload_at=STEPS // 2,
        make_scheduler=step_lr,
    )
    _assert_equal_and_nontrivial(result)


def test_rmsprop_plain_run_and_a_second_group_with_other_hyperparameters():
    plain = compare_with_reference(
        lambda g: RMSprop(g, lr=3e-3),
        lambda g: torch.optim.RMSprop(g, lr=3e-3),
        steps=STEPS,
    )
    _assert_equal_and_nontrivial(plain, min_distance=0.5)
    group = {
        "lr": 1e-3,
        "alpha": 0.9,
        "momentum": 0.9,
        "centered": True,
        "weight_decay": 0.1,
    }
    mixed = compare_with_reference(
        lambda g: RMSprop(g, lr=3e-3),
        lambda g: torch.optim.RMSprop(g, lr=3e-3),
        steps=STEPS,
        second_group=group,
        make_scheduler=cosine,
        reload_at=123,
    )
    _assert_equal_and_nontrivial(mixed, min_distance=0.5)


# -- the checks can fail -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make_ours", "make_reference"),
    [
        (
            lambda g: Adagrad(g, lr=0.05, eps=1e-5),
            lambda g: torch.optim.Adagrad(g, lr=0.05),
        ),
        (
            lambda g: Adagrad(g, lr=0.05, lr_decay=1e-3),
            lambda g: torch.optim.Adagrad(g, lr=0.05),
        ),
        (
            lambda g: RMSprop(g, lr=3e-3, alpha=0.9),
            lambda g: torch.optim.RMSprop(g, lr=3e-3),
        ),
        (
            lambda g: RMSprop(g, lr=3e-3, centered=True),
            lambda g: torch.optim.RMSprop(g, lr=3e-3),
        ),
    ],
    ids=["adagrad-eps", "adagrad-lr_decay", "rmsprop-alpha", "rmsprop-centered"],
)
def test_negative_control_a_different_setting_is_caught(make_ours, make_reference):
    result = compare_with_reference(make_ours, make_reference, steps=STEPS)
    assert result.max_rel_diff > 1e-6, result


# -- the state -----------------------------------------------------------------------------------
def _params():
    torch.manual_seed(0)
    return [
        torch.nn.Parameter(torch.randn(3, 2, dtype=torch.float64)),
        torch.nn.Parameter(torch.randn(2, dtype=torch.float64)),
    ]


def _serialised(state_dict) -> dict:
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def test_adagrad_creates_its_state_eagerly_like_torch():
    ours, theirs = (
        Adagrad(_params(), initial_accumulator_value=0.25),
        torch.optim.Adagrad(_params(), initial_accumulator_value=0.25),
    )
    mine, reference = ours.state_dict()["state"], theirs.state_dict()["state"]
    assert mine.keys() == reference.keys() == {0, 1}
    for index in reference:
        assert list(mine[index]) == list(reference[index]) == ["step", "sum"]
        assert mine[index]["step"].dtype == reference[index]["step"].dtype
        assert mine[index]["step"].item() == 0
        torch.testing.assert_close(
            mine[index]["sum"], reference[index]["sum"], rtol=0, atol=0
        )
        assert bool((mine[index]["sum"] == 0.25).all())
    # a state dict saved before the first step loads into the other class (both ways)
    torch.optim.Adagrad(_params()).load_state_dict(_serialised(ours.state_dict()))
    Adagrad(_params()).load_state_dict(_serialised(theirs.state_dict()))


def test_adagrad_ignores_a_groups_initial_accumulator_value_like_torch():
    first, second = _params()
    groups = [
        {"params": [first]},
        {"params": [second], "initial_accumulator_value": 5.0},
    ]
    ours = Adagrad(groups, initial_accumulator_value=1.0)
    theirs = torch.optim.Adagrad(
        [{"params": [first]}, {"params": [second], "initial_accumulator_value": 5.0}],
        initial_accumulator_value=1.0,
    )
    assert bool((theirs.state[second]["sum"] == 1.0).all()), (
        "torch changed: revisit Adagrad.init_state"
    )
    assert bool((ours.state[second]["sum"] == 1.0).all())
    assert ours.param_groups[1]["initial_accumulator_value"] == 5.0


@pytest.mark.parametrize(
    "options",
    [{}, {"momentum": 0.9}, {"centered": True}, {"momentum": 0.5, "centered": True}],
    ids=_ids,
)
def test_rmsprop_state_keys_are_torchs(options):
    state = {}
    for cls in (RMSprop, torch.optim.RMSprop):
        params = _params()
        optimizer = cls(params, lr=1e-2, **options)
        assert not optimizer.state_dict()["state"], (
            "RMSprop creates its state on the first step"
        )
        sum(p.sum() for p in params).backward()
        optimizer.step()
        state[cls] = optimizer.state_dict()["state"]
    for index, reference in state[torch.optim.RMSprop].items():
        assert list(state[RMSprop][index]) == list(reference)
        for key, value in reference.items():
            torch.testing.assert_close(
                state[RMSprop][index][key], value, rtol=0, atol=0
            )


@pytest.mark.parametrize(("ours", "reference"), PAIRS, ids=["Adagrad", "RMSprop"])
@pytest.mark.parametrize("direction", ["torch-to-optbook", "optbook-to-torch"])
def test_state_dict_moves_between_optbook_and_torch_mid_run(ours, reference, direction):
    generator = torch.Generator().manual_seed(1)
    batches = [
        (
            torch.randn(8, 3, generator=generator, dtype=torch.float64),
            torch.randn(8, 2, generator=generator, dtype=torch.float64),
        )
        for _ in range(60)
    ]
    first, second = (
        (reference, ours) if direction == "torch-to-optbook" else (ours, reference)
    )
    options = {"lr": 0.05, "weight_decay": 0.01}
    if reference is torch.optim.RMSprop:
        options.update(momentum=0.5, centered=True)
    else:
        options.update(lr_decay=0.01)

    def run(optimizer, weight, data):
        for x, y in data:
            optimizer.zero_grad()
            ((x @ weight.T - y) ** 2).mean().backward()
            optimizer.step()

    weight = torch.nn.Parameter(
        torch.randn(2, 3, generator=generator, dtype=torch.float64)
    )
    optimizer = first([weight], **options)
    run(optimizer, weight, batches[:30])
    saved = optimizer.state_dict()
    finals = []
    for cls in (first, second):
        copy = torch.nn.Parameter(weight.detach().clone())
        fresh = cls([copy], **options)
        # load_state_dict keeps the saved tensors (a shallow copy): each optimizer gets its
        # own deserialised copy, or the first run would change the state the second loads.
        fresh.load_state_dict(_serialised(saved))
        run(fresh, copy, batches[30:])
        finals.append(copy.detach())
    assert not torch.equal(finals[0], weight.detach()), (
        "the second half must move the weights"
    )
    torch.testing.assert_close(finals[1], finals[0], rtol=TOLERANCE, atol=0)


@pytest.mark.parametrize(("ours", "reference"), PAIRS, ids=["Adagrad", "RMSprop"])
def test_complex_parameters_like_torch(ours, reference):
    generator = torch.Generator().manual_seed(2)
    start = torch.randn(4, dtype=torch.complex128, generator=generator)
    grads = [
        torch.randn(4, dtype=torch.complex128, generator=generator) for _ in range(50)
    ]
    finals = []
    for cls in (ours, reference):
        param = torch.nn.Parameter(start.clone())
        options = {"lr": 0.05, "weight_decay": 0.1}
        if cls in (RMSprop, torch.optim.RMSprop):
            options.update(momentum=0.5, centered=True)
        optimizer = cls([param], **options)
        for grad in grads:
            param.grad = grad.clone()
            optimizer.step()
        finals.append(param.detach())
    assert (finals[1] - start).abs().max() > 0.1
    torch.testing.assert_close(finals[0], finals[1], rtol=TOLERANCE, atol=0)


def test_float32_runs_agree_too():
    for ours, reference, options in (
        (Adagrad, torch.optim.Adagrad, {"lr": 0.05, "lr_decay": 1e-3}),
        (RMSprop, torch.optim.RMSprop, {"lr": 3e-3, "momentum": 0.9}),
    ):
        result = compare_with_reference(
            lambda g, c=ours, o=options: c(g, **o),
            lambda g, c=reference, o=options: c(g, **o),
            steps=200,
            dtype=torch.float32,
            reload_at=50,
        )
        assert result.max_rel_diff <= 1e-6 and result.distance_travelled > 0.1, result


# -- the effective learning rate ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cls", "options"),
    [
        (
            Adagrad,
            {
                "lr": 0.1,
                "lr_decay": 0.1,
                "weight_decay": 0.2,
                "initial_accumulator_value": 0.3,
            },
        ),
        (RMSprop, {"lr": 0.01, "alpha": 0.9, "weight_decay": 0.2}),
        (RMSprop, {"lr": 0.01, "centered": True}),
    ],
    ids=["Adagrad", "RMSprop", "RMSprop-centered"],
)
def test_effective_lr_is_the_factor_of_the_last_step(cls, options):
    generator = torch.Generator().manual_seed(3)
    param = torch.nn.Parameter(torch.randn(5, generator=generator, dtype=torch.float64))
    optimizer = cls([param], **options)
    for _ in range(7):
        param.grad = torch.randn(5, generator=generator, dtype=torch.float64)
        before = param.detach().clone()
        optimizer.step()
        gradient = param.grad + options.get("weight_decay", 0) * before
        torch.testing.assert_close(
            param.detach() - before,
            -optimizer.effective_lr(param) * gradient,
            rtol=1e-12,
            atol=1e-15,
        )


def test_effective_lr_before_the_first_step():
    param = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    adagrad = Adagrad([param], lr=0.1, initial_accumulator_value=4.0, eps=0.0)
    torch.testing.assert_close(
        adagrad.effective_lr(param), torch.full((3,), 0.05, dtype=torch.float64)
    )
    with pytest.raises(KeyError, match="no step"):
        RMSprop([param]).effective_lr(param)
    with pytest.raises(KeyError, match="not one of"):
        adagrad.effective_lr(torch.nn.Parameter(torch.zeros(3)))


# -- invalid hyperparameters ---------------------------------------------------------------------
INVALID = [
    (Adagrad, {"lr": -1e-2}, r"lr \(the learning rate\) must be >= 0"),
    (
        Adagrad,
        {"lr_decay": -0.1},
        r"lr_decay \(how fast the learning rate decays.*\) must be >= 0",
    ),
    (
        Adagrad,
        {"weight_decay": -1e-4},
        r"weight_decay \(the L2 penalty lambda\) must be >= 0",
    ),
    (
        Adagrad,
        {"initial_accumulator_value": -1.0},
        r"initial_accumulator_value \(the starting value of the sum of squared gradients.*\) must be >= 0",
    ),
    (
        Adagrad,
        {"eps": -1e-10},
        r"eps \(the small number added to sqrt\(sum\).*\) must be >= 0",
    ),
    (Adagrad, {"eps": float("nan")}, r"eps .* must be a number, got NaN"),
    (
        Adagrad,
        {"lr": torch.tensor([0.1, 0.2])},
        r"lr \(the learning rate\) must be a single number",
    ),
    (RMSprop, {"lr": -1e-2}, r"lr \(the learning rate\) must be >= 0"),
    (
        RMSprop,
        {"alpha": -0.5},
        r"alpha \(the decay rate of the moving average of squared gradients\) must be >= 0",
    ),
    (
        RMSprop,
        {"alpha": 1.0},
        r"alpha .* must be < 1, got 1.0: .*never learns anything",
    ),
    (RMSprop, {"alpha": 1.5}, r"alpha .* must be < 1, got 1.5"),
    (
        RMSprop,
        {"eps": -1e-8},
        r"eps \(the small number added to sqrt\(average\).*\) must be >= 0",
    ),
    (
        RMSprop,
        {"weight_decay": -0.1},
        r"weight_decay \(the L2 penalty lambda\) must be >= 0",
    ),
    (
        RMSprop,
        {"momentum": -0.9},
        r"momentum \(the momentum coefficient mu\) must be >= 0",
    ),
]


@pytest.mark.parametrize(
    ("cls", "options", "match"),
    INVALID,
    ids=lambda v: str(v) if isinstance(v, dict) else None,
)
def test_invalid_hyperparameters_are_refused_in_words(cls, options, match):
    param = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(ValueError, match=match):
        cls([param], **options)
    optimizer = cls([param])  # the same check guards groups added later
    with pytest.raises(ValueError, match=match):
        optimizer.add_param_group(
            {"params": [torch.nn.Parameter(torch.zeros(2))], **options}
        )


def test_invalid_values_torch_accepts_but_optbook_refuses_are_few_and_documented():
    param = torch.nn.Parameter(torch.zeros(2))
    torch.optim.RMSprop([param], alpha=1.0)  # torch accepts it ...
    with pytest.raises(
        ValueError
    ):  # ... optbook does not, and says so in its docstring
        RMSprop([param], alpha=1.0)
    assert "optbook refuses ``alpha >= 1``" in rmsprop_module.__doc__


@pytest.mark.parametrize(
    ("cls", "switch"),
    [
        (Adagrad, "foreach"),
        (Adagrad, "fused"),
        (Adagrad, "differentiable"),
        (RMSprop, "foreach"),
        (RMSprop, "capturable"),
        (RMSprop, "differentiable"),
    ],
)
def test_implementation_switches_are_refused(cls, switch):
    param = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(ValueError, match=f"{switch}=True"):
        cls([param], **{switch: True})


def test_adagrad_refuses_sparse_gradients_in_words():
    embedding = torch.nn.Embedding(5, 2, sparse=True)
    optimizer = Adagrad(embedding.parameters())
    embedding(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse gradients"):
        optimizer.step()
