"""Small synthetic training problems, fast enough to train inside a notebook cell.

A *problem* knows three things (the :class:`Problem` protocol): how to create its
parameters, how to draw a batch of data, and the loss of the parameters on a batch.
:func:`run_problem` runs any optimizer on any problem and records the loss, and whatever
else a chapter wants to watch, after every step. Two runs with the same ``seed`` start
from the same parameters and see the same stream of batches, so that two optimizers are
compared on exactly the same data.

The problems:

- :class:`SparseRegression` -- linear regression on binary features, each one
  switched on with its own frequency: a few frequent features and many rare ones, the
  setting Adagrad was made for (chapter "Adagrad and RMSProp");
- :class:`LandscapeProblem` -- a 2-D :class:`~optbook.landscapes.Landscape` seen as a
  training problem (no data, one parameter of two coordinates), so that
  :func:`run_problem` can record an optimizer's state along a path;
- :class:`CurveFit` -- a small tanh network fitted to a 1-D curve.

:func:`run_problem` works on plain tensors and lets a chapter look into the optimizer
after every step (its effective learning rates, say); for models written as
``nn.Module`` use :mod:`optbook.training`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import Tensor

from optbook.landscapes import Landscape

Batch = Any  # what a problem's ``sample`` returns and its ``loss`` takes
Recorder = Callable[[torch.optim.Optimizer, list[Tensor]], dict[str, Tensor | float]]


class Problem(Protocol):
    """What :func:`run_problem` needs from a problem."""

    def init_params(self, generator: torch.Generator) -> list[Tensor]:
        """Fresh parameters (leaf tensors with ``requires_grad=True``)."""

    def sample(self, batch_size: int | None, generator: torch.Generator) -> Batch:
        """A batch of ``batch_size`` examples (``None``: the whole data set, if any)."""

    def loss(self, params: Sequence[Tensor], batch: Batch) -> Tensor:
        """The loss of ``params`` on ``batch``, a 0-d tensor."""


# -- sparse features -------------------------------------------------------------------
@dataclass(frozen=True)
class SparseRegression:
    """Linear regression ``y = x @ w_true + noise`` on binary features that are mostly
    off.

    Feature ``i`` of an example is 1 with probability ``frequencies[i]`` and 0
    otherwise, independently of the others, as words in a bag-of-words model or
    categories in a recommender. The loss is half the mean squared error. A feature that
    is off contributes nothing to the gradient of its weight, so a rare feature's weight
    gets a nonzero gradient only on the few steps whose batch contains it.
    """

    frequencies: Tensor  # [d], each in (0, 1]
    true_weights: Tensor  # [d]
    noise: float = 0.1

    def __post_init__(self) -> None:
        if (
            self.frequencies.dim() != 1
            or self.frequencies.shape != self.true_weights.shape
        ):
            raise ValueError(
                "frequencies and true_weights must be vectors of the same length, "
                "got shapes "
                f"{tuple(self.frequencies.shape)} and {tuple(self.true_weights.shape)}"
            )
        if not bool(((self.frequencies > 0) & (self.frequencies <= 1)).all()):
            raise ValueError(
                "every frequency must lie in (0, 1]: it is the probability that the "
                "feature is on"
            )
        if self.noise < 0:
            raise ValueError(
                f"noise is a standard deviation and must be >= 0, got {self.noise}"
            )

    @property
    def num_features(self) -> int:
        return self.frequencies.numel()

    def init_params(self, generator: torch.Generator) -> list[Tensor]:
        """The weights, all zero (``generator`` is unused: the start is fixed)."""
        return [torch.zeros_like(self.true_weights).requires_grad_(True)]

    def sample(
        self, batch_size: int | None, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        if batch_size is None or batch_size < 1:
            raise ValueError(
                "SparseRegression draws fresh examples: batch_size must be >= 1, "
                f"got {batch_size}"
            )
        dtype = self.true_weights.dtype
        uniform = torch.rand(
            batch_size, self.num_features, generator=generator, dtype=dtype
        )
        x = (uniform < self.frequencies).to(dtype)
        y = x @ self.true_weights + self.noise * torch.randn(
            batch_size, generator=generator, dtype=dtype
        )
        return x, y

    def loss(self, params: Sequence[Tensor], batch: tuple[Tensor, Tensor]) -> Tensor:
        x, y = batch
        (weights,) = params
        return 0.5 * torch.mean((x @ weights - y) ** 2)

    def weight_error(self, params: Sequence[Tensor]) -> Tensor:
        """``|w_i - w_true_i|`` for every feature ``i``."""
        return (
            params[0].detach().to(self.true_weights.device) - self.true_weights
        ).abs()


def sparse_regression(
    num_features: int = 40,
    max_frequency: float = 0.5,
    min_frequency: float = 0.002,
    noise: float = 0.1,
    true_weight: float = 1.0,
    dtype: torch.dtype = torch.float64,
) -> SparseRegression:
    """A :class:`SparseRegression` whose frequencies are log-spaced from
    ``max_frequency`` (feature 0, the most frequent) down to ``min_frequency`` (the
    last, the rarest).

    Every true weight is ``true_weight``, so that the features differ in their frequency
    only.
    """
    if num_features < 1:
        raise ValueError(f"num_features must be >= 1, got {num_features}")
    if not 0 < min_frequency <= max_frequency <= 1:
        raise ValueError(
            "need 0 < min_frequency <= max_frequency <= 1, got "
            f"min_frequency={min_frequency}, max_frequency={max_frequency}"
        )
    frequencies = torch.logspace(
        math.log10(max_frequency), math.log10(min_frequency), num_features, dtype=dtype
    )
    weights = torch.full((num_features,), float(true_weight), dtype=dtype)
    return SparseRegression(frequencies, weights, noise)


# -- a landscape as a problem ----------------------------------------------------------
@dataclass(frozen=True)
class LandscapeProblem:
    """Minimising a 2-D landscape from ``start``: one parameter, no data."""

    landscape: Landscape
    start: tuple[float, float]
    dtype: torch.dtype = torch.float64

    def init_params(self, generator: torch.Generator) -> list[Tensor]:
        return [
            torch.tensor(
                [float(s) for s in self.start], dtype=self.dtype, requires_grad=True
            )
        ]

    def sample(self, batch_size: int | None, generator: torch.Generator) -> None:
        return None

    def loss(self, params: Sequence[Tensor], batch: None) -> Tensor:
        return self.landscape(params[0])


# -- a small network -------------------------------------------------------------------
@dataclass(frozen=True)
class CurveFit:
    """A tanh network with hidden layers ``hidden`` fitted to ``(x, y)``.

    The loss is the mean squared error."""

    x: Tensor  # [n, 1]
    y: Tensor  # [n, 1]
    hidden: tuple[int, ...] = (32, 32)

    def init_params(self, generator: torch.Generator) -> list[Tensor]:
        """Weights with variance ``1 / fan_in`` and zero biases, layer by layer."""
        sizes = (1, *self.hidden, 1)
        params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            weight = torch.randn(
                fan_out, fan_in, generator=generator, dtype=self.x.dtype
            ) / math.sqrt(fan_in)
            params += [
                weight.requires_grad_(True),
                torch.zeros(fan_out, dtype=self.x.dtype, requires_grad=True),
            ]
        return params

    def sample(
        self, batch_size: int | None, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        if batch_size is None:
            return self.x, self.y
        index = torch.randint(len(self.x), (batch_size,), generator=generator)
        return self.x[index], self.y[index]

    def predict(self, params: Sequence[Tensor], x: Tensor) -> Tensor:
        hidden = x
        for layer in range(0, len(params) - 2, 2):
            hidden = torch.tanh(hidden @ params[layer].T + params[layer + 1])
        return hidden @ params[-2].T + params[-1]

    def loss(self, params: Sequence[Tensor], batch: tuple[Tensor, Tensor]) -> Tensor:
        x, y = batch
        return torch.mean((self.predict(params, x) - y) ** 2)


def curve_fit(
    fn: Callable[[Tensor], Tensor] = lambda x: torch.sin(2 * x) + 0.3 * x,
    num_points: int = 200,
    xlim: tuple[float, float] = (-3.0, 3.0),
    hidden: tuple[int, ...] = (32, 32),
    dtype: torch.dtype = torch.float64,
) -> CurveFit:
    """A :class:`CurveFit` on ``num_points`` equally spaced points of ``fn``.

    The points span ``xlim``."""
    if num_points < 1:
        raise ValueError(f"num_points must be >= 1, got {num_points}")
    x = torch.linspace(*xlim, num_points, dtype=dtype).unsqueeze(1)
    return CurveFit(x, fn(x), tuple(hidden))


# -- the training loop -----------------------------------------------------------------
@dataclass
class ProblemRun:
    """What :func:`run_problem` returns.

    The final parameters, the optimizer, and per-step records."""

    params: list[Tensor]
    optimizer: torch.optim.Optimizer
    losses: Tensor  # [steps]: the loss of each step's batch, before the step
    records: dict[str, Tensor] = field(
        default_factory=dict
    )  # each [steps, ...], after each step


def run_problem(
    problem: Problem,
    make_optimizer: Callable[[list[Tensor]], torch.optim.Optimizer],
    steps: int,
    *,
    batch_size: int | None = None,
    seed: int = 0,
    record: Recorder | None = None,
    device: torch.device | str | None = None,
) -> ProblemRun:
    """Optimise ``problem`` for ``steps`` steps of the optimizer
    ``make_optimizer(params)``.

    ``seed`` fixes the initial parameters and the stream of batches (two generators, one
    for each, so that the batches do not depend on how the parameters were drawn).
    ``record``, if given, is called after every step with the optimizer and the
    parameters and returns a dict of numbers or tensors; each entry is stacked over the
    steps into ``records``. ``device`` moves parameters and batches there (the problem's
    own tensors stay where they are). A run that diverges is kept: its later losses are
    ``inf`` or ``nan``.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    init_generator = torch.Generator().manual_seed(seed)
    data_generator = torch.Generator().manual_seed(seed + 1)
    params = problem.init_params(init_generator)
    if device is not None:
        params = [p.detach().to(device).requires_grad_(True) for p in params]
    optimizer = make_optimizer(params)
    losses = torch.empty(steps, dtype=torch.float64)
    recorded: dict[str, list[Tensor]] = {}
    for step in range(steps):
        batch = problem.sample(batch_size, data_generator)
        if device is not None and batch is not None:
            batch = tuple(t.to(device) for t in batch)
        optimizer.zero_grad(set_to_none=True)
        loss = problem.loss(params, batch)
        loss.backward()
        optimizer.step()
        losses[step] = loss.detach().cpu()
        if record is not None:
            for key, value in record(optimizer, params).items():
                value = torch.as_tensor(value).detach().to("cpu", copy=True)
                recorded.setdefault(key, []).append(value)
    records = {key: torch.stack(values) for key, values in recorded.items()}
    return ProblemRun(params, optimizer, losses, records)
