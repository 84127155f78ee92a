"""Running an optimizer on a 2-D :class:`~optbook.landscapes.Landscape`: its path."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from optbook.landscapes import Landscape


@dataclass
class Path:
    """The points an optimizer visited and their losses.

    ``steps + 1`` rows: the start first."""

    points: Tensor  # [steps + 1, 2], float64
    losses: Tensor  # [steps + 1]

    @property
    def final_point(self) -> Tensor:
        return self.points[-1]

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1])

    def steps_to_reach(self, loss: float) -> int | None:
        """The first step at which the loss is below ``loss`` (``None`` if never)."""
        below = torch.nonzero(self.losses < loss)
        return int(below[0]) if len(below) else None


def run_path(
    landscape: Landscape,
    make_optimizer: Callable[[list[Tensor]], torch.optim.Optimizer],
    start: Sequence[float],
    steps: int,
) -> Path:
    """Minimise ``landscape`` from ``start`` for ``steps`` steps, in float64.

    ``make_optimizer`` takes the list of parameters, e.g. ``lambda p: SGD(p, lr=0.1)``.
    A path that leaves the finite numbers (a diverging run) is kept: its later points
    are ``inf`` or ``nan``, and :attr:`Path.final_loss` says so.
    """
    if len(start) != 2:
        raise ValueError(f"start must be a point (x, y), got {start!r}")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    point = torch.tensor(
        [float(s) for s in start], dtype=torch.float64, requires_grad=True
    )
    optimizer = make_optimizer([point])
    points = [point.detach().clone()]
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = landscape(point)
        losses.append(loss.detach().clone())
        loss.backward()
        optimizer.step()
        points.append(point.detach().clone())
    losses.append(landscape(point.detach()))
    return Path(torch.stack(points), torch.stack(losses))
