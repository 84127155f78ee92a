"""RAdam, Adadelta, SparseAdam, Adafactor, Muon and Lion equal their references.

The book's usual proof: float64, hundreds of steps, a grid of settings, two parameter
groups, a state_dict reload in the middle of the run and a learning-rate scheduler; the
parameters must agree bit for bit. RAdam, Adadelta, SparseAdam, Adafactor and Muon are
proven against torch.optim (their constructors in test_optimizer_contract.py, torch's
own configurations in test_torch_conformance.py); Lion against its authors' package
``lion-pytorch``. SparseAdam runs on an embedding table with sparse gradients, Muon on
weight matrices, as each is meant to be used.
"""

from __future__ import annotations

import copy
import inspect
import io

import pytest
import torch
from lion_pytorch import Lion as ReferenceLion

from optbook.optimizers import Adadelta, Adafactor, Lion, Muon, RAdam, SparseAdam
from optbook.optimizers.muon import newton_schulz
from optbook.optimizers.radam import rho
from optbook.verify import compare_with_reference

STEPS = 400


def step_lr(optimizer):
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=50, gamma=0.7)


DENSE = [
    (
        RAdam,
        torch.optim.RAdam,
        [
            {},
            {"lr": 1e-2},
            {"betas": (0.8, 0.99)},
            {"weight_decay": 0.1},
            {"weight_decay": 0.1, "decoupled_weight_decay": True},
            {"maximize": True, "lr": 1e-2},
        ],
        {"lr": 3e-3},
    ),
    (
        Adadelta,
        torch.optim.Adadelta,
        [
            {},
            {"lr": 0.5},
            {"rho": 0.95},
            {"eps": 1e-4},
            {"weight_decay": 0.1},
            {"maximize": True},
        ],
        {"rho": 0.8},
    ),
    (
        Adafactor,
        torch.optim.Adafactor,
        [
            {},
            {"lr": 1e-3},
            {"beta2_decay": -0.5},
            {"eps": (1e-30, 1e-3)},
            {"d": 2.0},
            {"weight_decay": 0.1},
            {"maximize": True},
        ],
        {"lr": 3e-3},
    ),
    (
        Lion,
        ReferenceLion,
        [
            {},
            {"lr": 1e-3},
            {"betas": (0.95, 0.98)},
            {"weight_decay": 0.5, "lr": 1e-3},
            {"weight_decay": 0.5, "lr": 1e-3, "decoupled_weight_decay": True},
        ],
        {"lr": 3e-4},
    ),
]
CASES = [
    pytest.param(ours, ref, settings, second, id=f"{ours.__name__}-{i}")
    for ours, ref, grid, second in DENSE
    for i, settings in enumerate(grid)
]


@pytest.mark.parametrize(("ours", "reference", "settings", "second"), CASES)
def test_equal_to_the_reference_with_groups_reload_and_scheduler(
    ours, reference, settings, second
):
    result = compare_with_reference(
        lambda groups: ours(groups, **settings),
        lambda groups: reference(groups, **settings),
        steps=STEPS,
        second_group=second,
        make_scheduler=step_lr,
        reload_at=STEPS // 2,
    )
    assert result.max_rel_diff == 0.0, result
    assert result.distance_travelled > 1e-3, "the run moved the parameters"


@pytest.mark.parametrize(
    ("ours", "reference"),
    [
        (RAdam, torch.optim.RAdam),
        (Adadelta, torch.optim.Adadelta),
        (Adafactor, torch.optim.Adafactor),
    ],
    ids=["RAdam", "Adadelta", "Adafactor"],
)
def test_plain_runs_without_groups_or_reload(ours, reference):
    result = compare_with_reference(
        lambda g: ours(g), lambda g: reference(g), steps=300
    )
    assert result.max_rel_diff == 0.0, result


# -- SparseAdam and Muon: their own problems -------------------------------------------
def _side_by_side(make_ours, make_reference, make_params, loss_of, steps=STEPS):
    """Both optimizers on copies of the same parameters, two groups, a StepLR scheduler,
    a save and reload (optimizer and scheduler) at half time; the final parameters."""
    finals = []
    for make in (make_ours, make_reference):
        params = make_params()
        groups = [{"params": params[:1]}, {"params": params[1:], "lr": 2e-3}]
        optimizer = make(groups)
        scheduler = step_lr(optimizer)
        generator = torch.Generator().manual_seed(1)
        for step in range(steps):
            optimizer.zero_grad(set_to_none=True)
            loss_of(params, generator).backward()
            optimizer.step()
            scheduler.step()
            if step == steps // 2:
                buffer = io.BytesIO()
                torch.save(
                    {"o": optimizer.state_dict(), "s": scheduler.state_dict()}, buffer
                )
                buffer.seek(0)
                saved = torch.load(buffer, weights_only=False)
                optimizer = make(groups)
                optimizer.load_state_dict(saved["o"])
                scheduler = step_lr(optimizer)
                scheduler.load_state_dict(saved["s"])
        finals.append([p.detach().clone() for p in params])
    return finals


def _tables():
    generator = torch.Generator().manual_seed(0)
    return [
        torch.nn.Parameter(
            torch.randn(20, 3, generator=generator, dtype=torch.float64) * 0.5
        )
        for _ in range(2)
    ]


def _embedding_loss(params, generator):
    rows = torch.randint(0, 20, (6,), generator=generator)
    target = torch.randn(6, 3, generator=generator, dtype=torch.float64)
    total = 0
    for table in params:
        looked_up = torch.nn.functional.embedding(rows, table, sparse=True)
        total = total + ((torch.tanh(looked_up) - target) ** 2).mean()
    return total


@pytest.mark.parametrize(
    "settings",
    [{}, {"lr": 1e-2}, {"betas": (0.8, 0.99)}, {"eps": 1e-6}, {"maximize": True}],
    ids=["default", "lr", "betas", "eps", "maximize"],
)
def test_sparse_adam_equals_torch_on_an_embedding(settings):
    mine, theirs = _side_by_side(
        lambda g: SparseAdam(g, **settings),
        lambda g: torch.optim.SparseAdam(g, **settings),
        _tables,
        _embedding_loss,
    )
    start = _tables()
    for a, b, s in zip(mine, theirs, start, strict=True):
        assert torch.equal(a, b)
        assert not torch.equal(a, s)


def test_sparse_adam_leaves_the_rows_without_gradient_alone():
    table = torch.nn.Parameter(torch.randn(6, 2, dtype=torch.float64))
    before = table.detach().clone()
    optimizer = SparseAdam([table], lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        torch.nn.functional.embedding(
            torch.tensor([1, 4]), table, sparse=True
        ).sum().backward()
        optimizer.step()
    moved = (table.detach() != before).any(dim=1)
    assert moved.tolist() == [False, True, False, False, True, False]
    assert (optimizer.state[table]["exp_avg"][[0, 2, 3, 5]] == 0).all()


def _matrices():
    generator = torch.Generator().manual_seed(0)
    return [
        torch.nn.Parameter(
            torch.randn(shape, generator=generator, dtype=torch.float64) * 0.3
        )
        for shape in ((6, 4), (3, 6))
    ]


def _mlp_loss(params, generator):
    x = torch.randn(16, 4, generator=generator, dtype=torch.float64)
    y = torch.sin(x.sum(dim=1, keepdim=True)).expand(16, 3)
    first, second = params
    return ((torch.tanh(x @ first.T) @ second.T - y) ** 2).mean()


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"lr": 1e-2},
        {"nesterov": False},
        {"momentum": 0.9, "weight_decay": 0.0},
        {"ns_steps": 3},
        {"adjust_lr_fn": "match_rms_adamw"},
    ],
    ids=["default", "lr", "heavy-ball", "momentum", "ns3", "rms"],
)
def test_muon_equals_torch_on_weight_matrices(settings):
    mine, theirs = _side_by_side(
        lambda g: Muon(g, **settings),
        lambda g: torch.optim.Muon(g, **settings),
        _matrices,
        _mlp_loss,
    )
    for a, b in zip(mine, theirs, strict=True):
        assert torch.equal(a, b)


def test_newton_schulz_makes_the_singular_values_about_one():
    generator = torch.Generator().manual_seed(0)
    matrix = torch.randn(32, 16, generator=generator) @ torch.diag(
        torch.logspace(-2, 0, 16)
    )
    singular = torch.linalg.svdvals(newton_schulz(matrix).float())
    assert singular.min() > 0.6 and singular.max() < 1.25  # about 1, not exactly
    assert torch.linalg.svdvals(matrix).max() / torch.linalg.svdvals(matrix).min() > 50


def test_muon_refuses_what_it_is_not_for_in_words():
    with pytest.raises(ValueError, match="2-D parameters"):
        Muon([torch.nn.Parameter(torch.zeros(3))])
    with pytest.raises(ValueError, match="adjust_lr_fn"):
        Muon([torch.nn.Parameter(torch.zeros(2, 2))], adjust_lr_fn="sqrt")


@pytest.mark.parametrize(
    ("ours", "reference"),
    [
        (SparseAdam, torch.optim.SparseAdam),
        (Muon, torch.optim.Muon),
        (Adafactor, torch.optim.Adafactor),
    ],
    ids=["SparseAdam", "Muon", "Adafactor"],
)
def test_complex_parameters_refused_as_torch_refuses_them(ours, reference):
    def attempt(cls):
        param = torch.nn.Parameter(torch.zeros(2, 2, dtype=torch.complex64))
        optimizer = cls([param])
        if cls in (SparseAdam, torch.optim.SparseAdam):
            return
        param.grad = torch.ones_like(param)
        optimizer.step()

    for cls in (reference, ours):
        with pytest.raises((RuntimeError, ValueError), match="[Cc]omplex|complex"):
            attempt(cls)


def test_radam_rectification_starts_after_step_five_at_the_defaults():
    rho_inf, _ = rho(0.999, 1.0)
    steps = [t for t in range(1, 10) if rho(0.999, float(t))[1] > 5.0]
    assert abs(rho_inf - 1999.0) < 1e-9 and steps[0] == 6


# -- Lion: its authors' package, and complex numbers as pairs of reals -----------------
def test_lion_signature_is_the_packages():
    def names(cls):
        return [
            (p.name, p.default)
            for p in inspect.signature(cls.__init__).parameters.values()
        ]

    assert names(Lion) == names(ReferenceLion)
    with pytest.raises(ValueError, match="use_triton|fused"):
        Lion([torch.nn.Parameter(torch.zeros(2))], use_triton=True)


def test_lion_moves_every_coordinate_by_exactly_lr():
    param = torch.nn.Parameter(torch.zeros(5, dtype=torch.float64))
    optimizer = Lion([param], lr=0.01)
    param.grad = torch.tensor([3.0, -1e-6, 0.5, -7.0, 1e-9], dtype=torch.float64)
    optimizer.step()
    assert param.detach().abs().tolist() == [0.01] * 5


def test_lion_complex_equals_the_package_on_pairs_of_reals():
    generator = torch.Generator().manual_seed(0)
    start = torch.randn(3, dtype=torch.complex128, generator=generator)
    mine = torch.nn.Parameter(start.clone())
    pairs = torch.nn.Parameter(torch.view_as_real(start.clone()).clone())
    ours, theirs = (
        Lion([mine], lr=1e-2, weight_decay=0.1),
        ReferenceLion([pairs], lr=1e-2, weight_decay=0.1),
    )
    for _ in range(50):
        grad = torch.randn(3, dtype=torch.complex128, generator=generator)
        mine.grad, pairs.grad = grad.clone(), torch.view_as_real(grad).clone()
        ours.step()
        theirs.step()
    assert torch.equal(torch.view_as_real(mine.detach()), pairs.detach())


def test_lion_state_dict_loads_into_the_package_and_back():
    param = torch.nn.Parameter(torch.randn(4, dtype=torch.float64))
    ours = Lion([param], lr=1e-2)
    param.grad = torch.ones(4, dtype=torch.float64)
    ours.step()
    theirs = ReferenceLion([param], lr=1e-2)
    theirs.load_state_dict(copy.deepcopy(ours.state_dict()))
    assert torch.equal(theirs.state[param]["exp_avg"], ours.state[param]["exp_avg"])


def test_the_rectifier_is_one_definition_in_radam_and_adabelief():
    """r_t of RAdam's paper; AdaBelief's package multiplies it by sqrt(1 - beta2^t)."""
    from optbook.optimizers.adabelief import rectification
    from optbook.optimizers.radam import rectifier

    for beta2 in (0.999, 0.99):
        for t in range(6, 3000, 13):
            factor = rectification(beta2, t)[1]
            assert factor == pytest.approx(rectifier(beta2, t) * (1 - beta2**t) ** 0.5,
                                           rel=1e-12)
    assert rectifier(0.999, 5) is None and rectifier(0.999, 6) is not None
    # within a 200-step budget RAdam is still in its warm-up: r_t stays below a third
    assert max(rectifier(0.999, t) for t in range(6, 201)) < 1 / 3
