"""Races of optimizers on 2-D landscapes, from many starts at once, and their measures.

The ten optimizers raced here (:data:`BOOK_METHODS`) are element-wise: the update of
one coordinate reads only that coordinate's gradient and state (learning rates, betas
and weight decay are scalars); Adafactor and Muon, which the book also derives, are
not. So one optimizer over a parameter of shape ``[N, 2]`` whose loss is the *sum*
of the landscape over the ``N`` rows makes ``N`` independent runs: the gradient of the
sum with respect to row ``i`` is the gradient of row ``i``'s own loss, and nothing else
mixes the rows. :func:`run_many` relies on that (``tests/test_races.py`` proves it
against :func:`optbook.paths.run_path` for each of the book's ten methods, and shows a
non-element-wise optimizer, Muon, failing it). It does not hold for optimizers that
take norms over a tensor (Muon, Adafactor, LAMB).

:func:`run_many_lrs` goes one step further: one parameter group per learning rate,
all groups in one optimizer, so that a learning-rate sweep over ``N`` starts is one
batched run.

The measures (:func:`overshoot`, :func:`jitter`, :func:`sign_changes`,
:func:`steps_to_leave`, :func:`wilson_interval`) take the runs' points, tensors
``[steps + 1, N, 2]``, and return one number per run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from optbook.landscapes import Landscape
from optbook.optimizers import (
    SGD,
    AdaBelief,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    NAdam,
    RMSprop,
)
from optbook.paths import Path

Factory = Callable[..., torch.optim.Optimizer]

#: The ten optimizers raced on the 2-D landscapes, each with its reference's defaults
#: except the learning rate: ``BOOK_METHODS[name](params, lr=...)`` builds one.
#: AdaBelief is raced in the paper's form (Algorithm 2, ``rectify=False``): the
#: package's default rectified form takes its first steps (until rho_t >= 5) as
#: momentum-SGD steps ``lr * m_hat``, which the large gradients of these landscapes
#: (about 100 at Beale's start) throw off the map at any learning rate the adaptive
#: steps need; the visualizing chapter measures it.
BOOK_METHODS: dict[str, Factory] = {
    "SGD": lambda params, lr: SGD(params, lr=lr),
    "momentum": lambda params, lr: SGD(params, lr=lr, momentum=0.9),
    "Nesterov": lambda params, lr: SGD(params, lr=lr, momentum=0.9, nesterov=True),
    "Adagrad": lambda params, lr: Adagrad(params, lr=lr),
    "RMSProp": lambda params, lr: RMSprop(params, lr=lr),
    "Adam": lambda params, lr: Adam(params, lr=lr),
    "AdaMax": lambda params, lr: Adamax(params, lr=lr),
    "NAdam": lambda params, lr: NAdam(params, lr=lr),
    "AdamW": lambda params, lr: AdamW(params, lr=lr),
    "AdaBelief": lambda params, lr: AdaBelief(params, lr=lr, rectify=False),
}
#: The methods that do not scale their step by gradient statistics.
UNSCALED = ("SGD", "momentum", "Nesterov")
#: The methods with a momentum (an average of past gradients in the step).
WITH_MOMENTUM = (
    "momentum", "Nesterov", "Adam", "AdaMax", "NAdam", "AdamW", "AdaBelief"
)


@dataclass
class Runs:
    """``N`` runs of one optimizer: ``points [steps + 1, N, 2]``, ``losses [steps + 1,
    N]`` (float64; a diverging run keeps its ``inf``/``nan`` rows)."""

    points: Tensor
    losses: Tensor

    def __len__(self) -> int:
        return self.points.shape[1]

    def path(self, index: int) -> Path:
        """Run ``index`` as a :class:`~optbook.paths.Path` (for ``plot_paths``)."""
        return Path(self.points[:, index], self.losses[:, index])

    def gap(self, f_min: float) -> Tensor:
        """``loss - f_min`` at every step of every run (``inf`` where not finite)."""
        gap = self.losses - f_min
        return torch.where(torch.isfinite(gap), gap, torch.inf)


def _starts(starts: Tensor | Sequence[Sequence[float]]) -> Tensor:
    starts = torch.as_tensor(starts, dtype=torch.float64)
    if starts.dim() != 2 or starts.shape[1] != 2 or starts.shape[0] == 0:
        raise ValueError(
            "starts must be N points (x, y), a tensor of shape [N, 2] with N >= 1, "
            f"got shape {tuple(starts.shape)}"
        )
    if not torch.isfinite(starts).all():
        raise ValueError("starts must be finite points")
    return starts


def run_many_lrs(
    landscape: Landscape,
    method: Factory,
    lrs: Sequence[float],
    starts: Tensor | Sequence[Sequence[float]],
    steps: int,
) -> list[Runs]:
    """Run ``method`` from every start at every learning rate: one :class:`Runs` per lr.

    ``method(params, lr=...)`` builds the optimizer (e.g. ``BOOK_METHODS["Adam"]``); it
    receives one parameter group per learning rate, each a ``[N, 2]`` tensor, and all
    ``len(lrs) * N`` runs advance together.
    """
    starts = _starts(starts)
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    lrs = [float(lr) for lr in lrs]
    if not lrs or any(not (lr > 0 and math.isfinite(lr)) for lr in lrs):
        raise ValueError(f"learning rates must be positive and finite, got {lrs}")
    params = [starts.clone().requires_grad_(True) for _ in lrs]
    optimizer = method(
        [{"params": [p], "lr": lr} for p, lr in zip(params, lrs, strict=True)],
        lr=lrs[0],
    )
    count = len(starts)
    points = torch.empty(steps + 1, len(lrs) * count, 2, dtype=torch.float64)
    losses = torch.empty(steps + 1, len(lrs) * count, dtype=torch.float64)
    points[0] = torch.cat([p.detach() for p in params])
    for step in range(steps):
        optimizer.zero_grad()
        values = landscape(torch.cat(params))
        losses[step] = values.detach()
        values.sum().backward()
        optimizer.step()
        points[step + 1] = torch.cat([p.detach() for p in params])
    with torch.no_grad():
        losses[steps] = landscape(points[steps])
    return [
        Runs(points[:, slice_], losses[:, slice_])
        for slice_ in (slice(k * count, (k + 1) * count) for k in range(len(lrs)))
    ]


def run_many(
    landscape: Landscape,
    method: Factory,
    lr: float,
    starts: Tensor | Sequence[Sequence[float]],
    steps: int,
) -> Runs:
    """Run ``method`` at ``lr`` from every start (``[N, 2]``): ``N`` independent
    runs."""
    return run_many_lrs(landscape, method, [lr], starts, steps)[0]


def log_gap(runs: Runs, f_min: float, floor: float = 1e-12) -> Tensor:
    """``log10(max(loss - f_min, floor))`` at every step of every run."""
    return torch.log10(runs.gap(f_min).clamp(min=floor))


@dataclass
class Tuning:
    """A learning-rate sweep: one score per lr (lower is better), and the best lr."""

    lrs: list[float]
    scores: list[float]

    @property
    def best_index(self) -> int:
        finite = [s if math.isfinite(s) else math.inf for s in self.scores]
        return min(range(len(finite)), key=finite.__getitem__)

    @property
    def best_lr(self) -> float:
        return self.lrs[self.best_index]

    @property
    def interior(self) -> bool:
        """Whether the best lr lies strictly inside the grid (not at either edge)."""
        return 0 < self.best_index < len(self.lrs) - 1 and math.isfinite(
            self.scores[self.best_index]
        )


def tune_lr(
    landscape: Landscape,
    method: Factory,
    lrs: Sequence[float],
    starts: Tensor | Sequence[Sequence[float]],
    steps: int,
    f_min: float,
) -> Tuning:
    """The race's tuning protocol: score each lr by the mean, over starts and steps,
    of ``log10(loss - f_min)`` (:func:`log_gap`), so that a lr scores well if it gets
    low fast from every start. A diverging run scores ``inf``."""
    scores = []
    for runs in run_many_lrs(landscape, method, lrs, starts, steps):
        gaps = log_gap(runs, f_min)
        scores.append(float(gaps.mean()) if torch.isfinite(gaps).all() else math.inf)
    return Tuning([float(lr) for lr in lrs], scores)


def _points(points: Tensor) -> Tensor:
    points = torch.as_tensor(points, dtype=torch.float64)
    if points.dim() != 3 or points.shape[-1] != 2 or points.shape[0] < 2:
        raise ValueError(
            "expected runs' points, a tensor [steps + 1, N, 2] with at least one step, "
            f"got shape {tuple(points.shape)}"
        )
    return points


def overshoot(
    points: Tensor, minimum: Sequence[float], direction: Sequence[float]
) -> Tensor:
    """How far each run goes past ``minimum`` along the line ``direction``.

    With ``u_t = (p_t - minimum) . d`` (``d`` the unit ``direction``, e.g. the valley's
    tangent at the minimum), a run that starts with ``u_0 < 0`` passes the minimum if
    some ``u_t > 0``: its overshoot is ``max_t u_t`` (0 if it never passes); a run
    starting with ``u_0 > 0`` is mirrored. Non-finite points (divergence) count as
    ``inf``.
    """
    points = _points(points)
    d = torch.as_tensor(direction, dtype=torch.float64)
    if d.shape != (2,) or float(d.norm()) == 0:
        raise ValueError(
            f"direction must be a nonzero vector (dx, dy), got {direction}"
        )
    m = torch.as_tensor(minimum, dtype=torch.float64)
    u = (points - m) @ (d / d.norm())
    side = torch.sign(u[0])
    past = -side * u
    past = torch.where(torch.isfinite(past), past, torch.inf)
    return past[1:].max(dim=0).values.clamp(min=0.0)


def jitter(points: Tensor, still: float = 1e-9) -> Tensor:
    """Each run's mean turning angle, in degrees: how rough its path is.

    Steps ``s_t = p_t - p_{t-1}``; the turn between two successive steps is the angle
    between ``s_t`` and ``s_{t+1}``, 0 for a straight line, 180 for a full reversal (a
    zigzag). Steps shorter than ``still`` are left out (a run at rest does not
    jitter); a run with fewer than two moving steps scores 0.
    """
    points = _points(points)
    steps = points[1:] - points[:-1]
    length = steps.norm(dim=-1)
    moving = (length > still) & torch.isfinite(length)
    counted = moving[1:] & moving[:-1]
    cosine = (steps[1:] * steps[:-1]).sum(-1) / (length[1:] * length[:-1])
    angle = torch.rad2deg(torch.arccos(cosine.clamp(-1.0, 1.0)))
    angle = torch.where(counted, angle, 0.0)
    return angle.sum(0) / counted.sum(0).clamp(min=1).double()


def sign_changes(values: Tensor, tol: float = 0.0) -> Tensor:
    """How many times each column of ``values [steps + 1, N]`` changes sign.

    Entries with ``|value| <= tol`` are skipped (``+, 0, -`` is one change), so that
    rounding noise around 0 of a converged run is not counted as oscillation."""
    values = torch.as_tensor(values, dtype=torch.float64)
    if values.dim() != 2:
        raise ValueError(f"expected values [steps + 1, N], got {tuple(values.shape)}")
    if tol < 0:
        raise ValueError(f"tol must be >= 0, got {tol}")
    signs = torch.where(values.abs() > tol, torch.sign(values), 0.0)
    counts = []
    for column in signs.T:
        nonzero = column[column != 0]
        counts.append(int((nonzero[1:] != nonzero[:-1]).sum()))
    return torch.tensor(counts, dtype=torch.int64)


def valley_direction(landscape: Landscape) -> Tensor:
    """The unit direction of the valley at ``landscape.minimum``: the eigenvector of
    the Hessian there with the smallest eigenvalue (the flattest direction)."""
    if landscape.minimum is None:
        raise ValueError(f"{landscape.name} has no minimum to take a valley at")
    at = torch.tensor(landscape.minimum, dtype=torch.float64)
    hessian = torch.autograd.functional.hessian(landscape, at)
    _, vectors = torch.linalg.eigh(hessian)
    direction = vectors[:, 0]
    return direction if direction[0] >= 0 else -direction


def f_min(landscape: Landscape) -> float:
    """The value of ``landscape`` at its minimum."""
    if landscape.minimum is None:
        raise ValueError(f"{landscape.name} has no minimum")
    return float(landscape(torch.tensor(landscape.minimum, dtype=torch.float64)))


def steps_to_leave(values: Tensor, threshold: float) -> Tensor:
    """The first step at which ``|values| > threshold``, per column of ``values
    [steps + 1, N]``; ``inf`` for a column that never does."""
    values = torch.as_tensor(values, dtype=torch.float64)
    if values.dim() != 2:
        raise ValueError(f"expected values [steps + 1, N], got {tuple(values.shape)}")
    out = values.abs() > threshold
    first = torch.argmax(out.int(), dim=0).double()
    return torch.where(out.any(dim=0), first, torch.inf)


def reached(points: Tensor, target: Sequence[float], radius: float) -> Tensor:
    """Whether each run ends within ``radius`` of ``target`` (a bool per run)."""
    points = _points(points)
    final = points[-1]
    distance = (final - torch.as_tensor(target, dtype=torch.float64)).norm(dim=-1)
    return torch.isfinite(distance) & (distance <= radius)


def wilson_interval(
    successes: int, trials: int, z: float = 1.96
) -> tuple[float, float]:
    """Wilson's score interval for a proportion ``successes / trials`` (95 % for
    ``z = 1.96``); unlike ``p +- z sqrt(p(1-p)/n)`` it stays inside [0, 1] and is not
    empty at 0 or ``trials`` successes."""
    if trials < 1 or not 0 <= successes <= trials:
        raise ValueError(
            f"need 0 <= successes <= trials and trials >= 1, got {successes}/{trials}"
        )
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials**2)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def race_table_rows(
    results: Mapping[str, Runs], f_min: float, lrs: Mapping[str, float], tol: float
) -> list[dict[str, object]]:
    """One row per method: its lr, the median steps to ``loss - f_min < tol`` (over
    the runs that get there), the share of runs that do, the median final gap."""
    rows = []
    for name, runs in results.items():
        gap = runs.gap(f_min)
        below = gap < tol
        first = torch.argmax(below.int(), dim=0).double()
        done = below.any(dim=0)
        rows.append(
            {
                "method": name,
                "lr": lrs[name],
                "reached": float(done.double().mean()),
                "median steps": float(first[done].median()) if done.any() else math.nan,
                "median final gap": float(gap[-1].median()),
            }
        )
    return rows
