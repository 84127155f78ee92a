"""Part A of the homework: training options for a fixed network within a fixed budget.

The lecture asks students to "test various training options". Part A isolates them: the
network (:class:`FixedNetwork`) and the budget (:data:`BUDGET`, training symbols) are
fixed; the student hands in a **training recipe**, a module ``recipe.py`` whose
function ``make_recipe(model, budget)`` returns a :class:`Recipe`: the optimizer (any
class of ``torch.optim`` or ``optbook.optimizers``, with its learning rate and
parameter groups), a learning-rate scheduler of ``torch.optim.lr_scheduler`` (stepped
after every update), the batch size in frames (the number of updates follows from the
budget), an initialisation from :data:`INITIALISATIONS` and an optional gradient
clipping.

:func:`train_with_recipe` trains the network with a recipe from one seed (the seed
fixes the initial weights and the training data); :func:`grade_recipe` trains it from
several seeds and grades each trained network with
:func:`optbook.homework.grading.grade` on the same samples, and returns the mean BER
with its spread; :data:`COURSE_RECIPE` (the lecture's SGD) and :data:`TUNED_ADAM` are
the yardsticks, the genie MAP detector is the limit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from optbook.homework.channel import QAM, check_complex
from optbook.homework.grading import GradeResult, GradingSamples, grade
from optbook.homework.symbol_detection import training_batches

__all__ = [
    "BATCH_FRAMES_RANGE",
    "BUDGET",
    "COURSE_RECIPE",
    "INITIALISATIONS",
    "RECIPE_FILE",
    "SEEDS",
    "SYMBOLS_PER_FRAME",
    "TUNED_ADAM",
    "FixedNetwork",
    "Recipe",
    "RecipeGrade",
    "RecipeRun",
    "check_recipe",
    "grade_recipe",
    "train_with_recipe",
    "updates_for",
]

RECIPE_FILE = "recipe.py"
SYMBOLS_PER_FRAME = 256
"""Training frames have the graded frames' length: the network pools over a frame."""
BUDGET = 3_276_800
"""Training symbols per run: 800 updates of 16 frames of 256 symbols, or any other
split. One run takes a few seconds on one CPU core."""
BATCH_FRAMES_RANGE = (4, 128)
"""The batch size, in frames of 256 symbols, lies in this range (both ends included):
from 3200 updates of 4 frames to 100 updates of 128."""
SEEDS = 3
"""Training runs per recipe in a grade, each from its own private seed."""
INITIALISATIONS = (
    "default",
    "kaiming_uniform",
    "kaiming_normal",
    "xavier_uniform",
    "xavier_normal",
    "orthogonal",
)
"""How the network's weights start (biases start at zero except for ``"default"``,
PyTorch's own initialisation of ``nn.Linear``)."""
_ALLOWED_OPTIMIZERS = ("torch.optim", "optbook.optimizers")


# -- the fixed network -----------------------------------------------------------------


class FixedNetwork(nn.Module):
    """The network of Part A: the course's MLP made aware of the frame's noise level.

    Every bit is carried by one axis (``b0, b2`` by ``x = Re y``, ``b1, b3`` by ``Im
    y``), so one small MLP serves both axes. It sees two numbers per axis value: ``|x|``
    and ``z = log(P) / 2``, with ``P`` the frame's mean received power (``1 + N0`` on
    average), and returns ``h(|x|, z)``: the first bit's logit is ``sign(x) * h_0``,
    the second's ``h_1``. ``Linear(2, 32) -> ReLU -> Linear(32, 32) -> ReLU ->
    Linear(32, 2)``: 1218 parameters. It can approach the genie MAP detector of the
    plain channel; how close it gets in the budget is the recipe's doing.

    Takes received samples, complex ``[frames, symbols]``; returns bit logits
    ``[frames, symbols, 4]``.
    """

    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, 2),
        )  # fmt: skip

    def forward(self, received: Tensor) -> Tensor:
        received = check_complex(received)
        if received.dim() != 2:
            raise ValueError(
                "received must be frames of symbols, complex [frames, symbols], got "
                f"shape {tuple(received.shape)}"
            )
        x = torch.view_as_real(received).to(torch.float32)  # [F, S, 2 axes]
        power = x.square().sum(-1).mean(1, keepdim=True)  # [F, 1]
        z = (0.5 * torch.log(power + 1e-12)).unsqueeze(-1).expand_as(x)
        h = self.net(torch.stack((x.abs(), z), dim=-1))  # [F, S, 2 axes, 2 bits]
        first = torch.sign(x) * h[..., 0]
        logits = torch.stack((first, h[..., 1]), dim=-1)  # [F, S, axis, bit]
        return logits.transpose(-1, -2).flatten(-2)  # b0 = re 0, b1 = im 0, ...


# -- the recipe ------------------------------------------------------------------------


@dataclass
class Recipe:
    """What ``make_recipe(model, budget)`` returns.

    Attributes:
        optimizer: an optimizer of ``model``'s parameters, of a class from
            ``torch.optim`` or ``optbook.optimizers``.
        batch_frames: frames of 256 symbols per update, in :data:`BATCH_FRAMES_RANGE`;
            the run makes ``budget // (batch_frames * 256)`` updates
            (:func:`updates_for`).
        scheduler: ``None`` or a scheduler of ``torch.optim.lr_scheduler`` built on
            ``optimizer``; stepped once after every update.
        init: one of :data:`INITIALISATIONS`, applied by the trainer before the first
            update (the recipe must not change the weights itself).
        clip_grad_norm: ``None`` or the largest gradient norm
            (``torch.nn.utils.clip_grad_norm_`` before every update).
    """

    optimizer: torch.optim.Optimizer
    batch_frames: int = 16
    scheduler: Any = None
    init: str = "default"
    clip_grad_norm: float | None = None


def updates_for(batch_frames: int, budget: int = BUDGET) -> int:
    """The number of updates a batch size buys: ``budget // (batch_frames * 256)``."""
    return budget // (batch_frames * SYMBOLS_PER_FRAME)


def check_recipe(recipe: Any, model: nn.Module) -> Recipe:
    """Return ``recipe`` if it keeps the contract; raise a ``ValueError`` that says
    what is wrong otherwise."""
    if not isinstance(recipe, Recipe):
        raise ValueError(
            "make_recipe(model, budget) must return a Recipe(optimizer=..., "
            f"batch_frames=..., ...), got {type(recipe).__name__}"
        )
    optimizer = recipe.optimizer
    module = type(optimizer).__module__
    if not isinstance(optimizer, torch.optim.Optimizer) or not module.startswith(
        _ALLOWED_OPTIMIZERS
    ):
        raise ValueError(
            "the optimizer must be a class of torch.optim or optbook.optimizers, got "
            f"{type(optimizer).__module__}.{type(optimizer).__name__}"
        )
    owned = {id(p) for p in model.parameters()}
    given = [p for group in optimizer.param_groups for p in group["params"]]
    if not given or any(id(p) not in owned for p in given):
        raise ValueError(
            "the optimizer must be built on the model's own parameters "
            "(model.parameters(), or groups of them)"
        )
    frames = recipe.batch_frames
    low, high = BATCH_FRAMES_RANGE
    if (
        isinstance(frames, bool)
        or not isinstance(frames, int)
        or not low <= frames <= high
    ):
        raise ValueError(
            f"batch_frames must be a whole number from {low} to {high}, got {frames!r}"
        )
    scheduler = recipe.scheduler
    if scheduler is not None:
        if not type(scheduler).__module__.startswith("torch.optim.lr_scheduler"):
            raise ValueError(
                "the scheduler must be None or a class of torch.optim.lr_scheduler, "
                f"got {type(scheduler).__name__}"
            )
        if getattr(scheduler, "optimizer", None) is not optimizer:
            raise ValueError("the scheduler must be built on the recipe's optimizer")
    if recipe.init not in INITIALISATIONS:
        raise ValueError(
            f"init must be one of {', '.join(INITIALISATIONS)}, got {recipe.init!r}"
        )
    clip = recipe.clip_grad_norm
    if clip is not None and not (isinstance(clip, int | float) and clip > 0):
        raise ValueError(f"clip_grad_norm must be None or positive, got {clip!r}")
    return recipe


def _initialise(model: nn.Module, init: str) -> None:
    if init == "default":
        return
    for layer in model.modules():
        if isinstance(layer, nn.Linear):
            if init == "kaiming_uniform":
                nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
            elif init == "kaiming_normal":
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            elif init == "xavier_uniform":
                nn.init.xavier_uniform_(layer.weight)
            elif init == "xavier_normal":
                nn.init.xavier_normal_(layer.weight)
            else:
                nn.init.orthogonal_(layer.weight)
            nn.init.zeros_(layer.bias)


# -- training --------------------------------------------------------------------------


MakeRecipe = Callable[[nn.Module, int], Recipe]


@dataclass
class RecipeRun:
    """One training run: the trained network, its losses, whether it diverged."""

    model: FixedNetwork
    losses: list[float]
    updates: int
    batch_frames: int
    diverged: bool
    seconds: float


def run_seeds(seed: int, run: int) -> tuple[int, int]:
    """The initialisation and data seeds of run ``run`` of a grade with ``seed``."""
    state = np.random.SeedSequence([seed, 0xA, run]).generate_state(2, dtype=np.uint32)
    return int(state[0]), int(state[1])


def train_with_recipe(
    make_recipe: MakeRecipe,
    *,
    init_seed: int,
    data_seed: int,
    budget: int = BUDGET,
) -> RecipeRun:
    """Train a fresh :class:`FixedNetwork` with the recipe; return a :class:`RecipeRun`.

    ``torch.manual_seed(init_seed)`` precedes building the network, ``make_recipe`` and
    the initialisation; the batches come from ``training_batches`` (frames of 256
    symbols, each at its own Eb/N0 uniform on [-20, 20] dB) seeded with ``data_seed``.
    Training stops early if the loss stops being finite (``diverged``).
    """
    start = time.perf_counter()
    with torch.random.fork_rng():
        torch.manual_seed(init_seed)
        model = FixedNetwork()
        before = [p.detach().clone() for p in model.parameters()]
        recipe = check_recipe(make_recipe(model, budget), model)
        if any(
            not torch.equal(a, p)
            for a, p in zip(before, model.parameters(), strict=True)
        ):
            raise ValueError(
                "make_recipe changed the network's weights: choose the "
                "initialisation with Recipe(init=...) instead"
            )
        torch.manual_seed(init_seed)
        with torch.no_grad():
            _initialise(model, recipe.init)
    updates = updates_for(recipe.batch_frames, budget)
    batches = training_batches(
        QAM(4),
        recipe.batch_frames,
        SYMBOLS_PER_FRAME,
        torch.Generator().manual_seed(data_seed),
        grid_points=None,
    )
    loss_fn = nn.BCEWithLogitsLoss()
    losses: list[float] = []
    diverged = False
    model.train()
    for _ in range(updates):
        received, bits = batches.draw()
        loss = loss_fn(model(received), bits)
        value = float(loss.detach())
        losses.append(value)
        if not math.isfinite(value):
            diverged = True
            break
        recipe.optimizer.zero_grad()
        loss.backward()
        if recipe.clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), recipe.clip_grad_norm)
        recipe.optimizer.step()
        if recipe.scheduler is not None:
            recipe.scheduler.step()
    if any(not bool(torch.isfinite(p).all()) for p in model.parameters()):
        diverged = True
    return RecipeRun(
        model.eval(),
        losses,
        updates,
        recipe.batch_frames,
        diverged,
        time.perf_counter() - start,
    )


# -- the yardsticks --------------------------------------------------------------------


def course_recipe(model: nn.Module, budget: int) -> Recipe:
    """The lecture's recipe: SGD, learning rate 0.1, batches of 32 frames, constant."""
    return Recipe(torch.optim.SGD(model.parameters(), lr=0.1), batch_frames=32)


def tuned_adam(model: nn.Module, budget: int) -> Recipe:
    """Adam at its best constant learning rate on a grid (``benchmarks/
    bench_homework_recipes.py`` sweeps it), batches of 16 frames."""
    return Recipe(
        torch.optim.Adam(model.parameters(), lr=TUNED_ADAM_LR), batch_frames=16
    )


TUNED_ADAM_LR = 1e-2
COURSE_RECIPE = course_recipe
TUNED_ADAM = tuned_adam


# -- grading a recipe ------------------------------------------------------------------


@dataclass(frozen=True)
class RecipeGrade:
    """A recipe's grade: one BER per training run, their mean and spread.

    ``bers[i]`` is run ``i``'s average BER (:func:`optbook.homework.grading.grade`,
    conditional estimator, same samples for every run); a diverged run scores 0.5.
    ``spread`` is the standard deviation over runs, ``standard_error`` that of the mean
    (``spread / sqrt(runs)``, with the grades' own standard errors added).
    ``genie_map_ber`` is the limit on the same samples.
    """

    bers: tuple[float, ...]
    diverged: tuple[bool, ...]
    genie_map_ber: float
    seconds: float
    grades: tuple[GradeResult | None, ...] = field(repr=False, default=())

    @property
    def ber(self) -> float:
        return float(np.mean(self.bers))

    @property
    def spread(self) -> float:
        return float(np.std(self.bers, ddof=1)) if len(self.bers) > 1 else 0.0

    @property
    def standard_error(self) -> float:
        grade_errors = [g.standard_error for g in self.grades if g is not None]
        measurement = math.sqrt(sum(e * e for e in grade_errors)) / max(
            1, len(self.bers)
        )
        return math.sqrt(self.spread**2 / len(self.bers) + measurement**2)

    def __str__(self) -> str:
        runs = ", ".join(f"{b:.5f}" for b in self.bers)
        return (
            f"mean BER {self.ber:.5f} ± {self.standard_error:.5f} (spread "
            f"{self.spread:.5f} over {len(self.bers)} runs: {runs}); genie MAP "
            f"{self.genie_map_ber:.5f}"
        )


def grade_trained(
    model: nn.Module, samples: GradingSamples, target_standard_error: float = 2e-4
) -> GradeResult:
    """Grade one trained network on ``samples``."""
    return grade(model, samples=samples, target_standard_error=target_standard_error)


def grade_recipe(
    make_recipe: MakeRecipe,
    *,
    seed: int,
    runs: int = SEEDS,
    samples: GradingSamples | None = None,
    budget: int = BUDGET,
    target_standard_error: float = 2e-4,
    trainer: Callable[..., RecipeRun] | None = None,
) -> RecipeGrade:
    """Train the fixed network with ``make_recipe`` from ``runs`` seeds derived from
    ``seed`` (:func:`run_seeds`) and grade every trained network on the same samples.

    ``samples`` defaults to ``GradingSamples(seed)`` (the plain channel's 81 points).
    ``trainer`` replaces :func:`train_with_recipe` (the grading tool passes one that
    trains inside the sandbox); it is called with ``make_recipe``, ``init_seed``,
    ``data_seed`` and ``budget``.
    """
    start = time.perf_counter()
    samples = samples if samples is not None else GradingSamples(seed)
    trainer = trainer if trainer is not None else train_with_recipe
    bers, diverged, grades = [], [], []
    genie = math.nan
    for run in range(runs):
        init_seed, data_seed = run_seeds(seed, run)
        result = trainer(
            make_recipe, init_seed=init_seed, data_seed=data_seed, budget=budget
        )
        if result.diverged:
            bers.append(0.5)
            diverged.append(True)
            grades.append(None)
            continue
        graded = grade_trained(result.model, samples, target_standard_error)
        genie = graded.genie_map_ber
        bers.append(graded.ber)
        diverged.append(False)
        grades.append(graded)
    return RecipeGrade(
        tuple(bers),
        tuple(diverged),
        genie,
        time.perf_counter() - start,
        tuple(grades),
    )


def seeds_of(seed: int, runs: int = SEEDS) -> Sequence[tuple[int, int]]:
    """Every run's ``(init_seed, data_seed)`` of a grade with ``seed``."""
    return [run_seeds(seed, run) for run in range(runs)]
