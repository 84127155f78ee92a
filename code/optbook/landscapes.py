"""Two-dimensional test functions, small enough to draw and to reason about.

Each :class:`Landscape` evaluates ``f`` on a tensor whose last dimension holds the two
coordinates (x, y), so the same function serves one point (an optimizer's parameter) and
a whole grid (the contour plot). Used by every chapter's 2-D demo.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class Landscape:
    """A function of two variables with its plotting window and its minimiser."""

    name: str
    fn: Callable[[Tensor], Tensor]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    minimum: tuple[float, float] | None = None
    log_contours: bool = True

    def __call__(self, xy: Tensor) -> Tensor:
        if xy.shape[-1] != 2:
            raise ValueError(
                f"{self.name} takes points with 2 coordinates (x, y) in the last "
                f"dimension, got shape {tuple(xy.shape)}"
            )
        return self.fn(xy)

    def grid(self, resolution: int = 200) -> tuple[Tensor, Tensor, Tensor]:
        """``X, Y, Z`` on a ``resolution x resolution`` grid over the window.

        For ``contour``."""
        xs = torch.linspace(*self.xlim, resolution, dtype=torch.float64)
        ys = torch.linspace(*self.ylim, resolution, dtype=torch.float64)
        grid_x, grid_y = torch.meshgrid(xs, ys, indexing="xy")
        values = self(torch.stack([grid_x, grid_y], dim=-1))
        return grid_x, grid_y, values


def elongated_quadratic(steep: float = 20.0, flat: float = 1.0) -> Landscape:
    """``f(x, y) = (flat * x**2 + steep * y**2) / 2``: curvatures ``flat``, ``steep``.

    The condition number is ``steep / flat``: gradient descent needs ``lr < 2 / steep``
    to stay stable along y, and then crawls along x at a rate ``1 - lr * flat`` per
    step.
    """
    if steep <= 0 or flat <= 0:
        raise ValueError(
            f"both curvatures must be positive, got steep={steep}, flat={flat}"
        )

    def fn(xy: Tensor) -> Tensor:
        return 0.5 * (flat * xy[..., 0] ** 2 + steep * xy[..., 1] ** 2)

    return Landscape(
        f"quadratic, curvatures {flat:g} and {steep:g}",
        fn,
        (-5.5, 5.5),
        (-2.5, 2.5),
        (0.0, 0.0),
    )


def rosenbrock(a: float = 1.0, b: float = 100.0) -> Landscape:
    """``f(x, y) = (a - x)**2 + b (y - x**2)**2``: a curved, flat-bottomed valley.

    Its minimum is at ``(a, a**2)``."""

    def fn(xy: Tensor) -> Tensor:
        x, y = xy[..., 0], xy[..., 1]
        return (a - x) ** 2 + b * (y - x**2) ** 2

    return Landscape("Rosenbrock", fn, (-2.0, 2.0), (-1.0, 3.0), (a, a * a))


def saddle() -> Landscape:
    """``f(x, y) = x**2 - y**2 + y**4 / 4``: a saddle at 0, minima at ``(0, +-sqrt 2)``.

    Started on the ridge y = 0 (up to a tiny offset), plain gradient descent barely
    moves in y: the escape takes a direction whose gradient is almost zero.
    """

    def fn(xy: Tensor) -> Tensor:
        x, y = xy[..., 0], xy[..., 1]
        return x**2 - y**2 + y**4 / 4

    return Landscape(
        "saddle", fn, (-2.0, 2.0), (-2.2, 2.2), (0.0, 2**0.5), log_contours=False
    )


def beale() -> Landscape:
    """Beale's function: flat plateaus and steep walls, minimum 0 at ``(3, 0.5)``."""

    def fn(xy: Tensor) -> Tensor:
        x, y = xy[..., 0], xy[..., 1]
        return (
            (1.5 - x + x * y) ** 2
            + (2.25 - x + x * y**2) ** 2
            + (2.625 - x + x * y**3) ** 2
        )

    return Landscape("Beale", fn, (-4.5, 4.5), (-4.5, 4.5), (3.0, 0.5))


def rotated(landscape: Landscape, degrees: float) -> Landscape:
    """``landscape`` turned by ``degrees`` (counter-clockwise) about the origin.

    The turned function at ``p`` is the original at ``R(-degrees) p``; its minimum is
    the original's, turned. Plain gradient descent and momentum turn with the
    function (their steps are rotation-equivariant); an optimizer that scales each
    coordinate separately does not.
    """
    if not math.isfinite(degrees):
        raise ValueError(f"degrees must be a finite angle, got {degrees!r}")
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)

    def fn(xy: Tensor) -> Tensor:
        x, y = xy[..., 0], xy[..., 1]
        back = torch.stack([cos * x + sin * y, -sin * x + cos * y], dim=-1)
        return landscape.fn(back)

    minimum = None
    if landscape.minimum is not None:
        mx, my = landscape.minimum
        minimum = (cos * mx - sin * my, sin * mx + cos * my)
    return Landscape(
        f"{landscape.name}, turned {degrees:g} degrees",
        fn,
        landscape.xlim,
        landscape.ylim,
        minimum,
        landscape.log_contours,
    )


def double_well_points(tilt: float) -> dict[str, tuple[float, float]]:
    """The critical points of :func:`double_well`: ``global``, ``local`` (minima; the
    same well mirrored when ``tilt == 0``) and ``ridge`` (the saddle between them)."""
    roots = sorted(
        float(r.real)
        for r in np.roots([4.0, 0.0, -4.0, tilt])
        if abs(r.imag) < 1e-9
    )
    if len(roots) != 3:
        raise ValueError(f"tilt={tilt} leaves a single well: use |tilt| < 1.5")
    low, mid, high = roots
    first, second = (low, high) if tilt >= 0 else (high, low)
    return {"global": (first, 0.0), "local": (second, 0.0), "ridge": (mid, 0.0)}


def double_well(tilt: float = 0.5, steep: float = 2.0) -> Landscape:
    """``f(x, y) = (x**2 - 1)**2 + tilt * x + steep * y**2 / 2``: two wells.

    With ``tilt > 0`` the well near ``x = -1`` is the global minimum and the well near
    ``x = +1`` a local one, behind a ridge near ``x = 0``; :func:`double_well_points`
    gives all three. With ``tilt = 0`` the function is symmetric under ``x -> -x`` and
    every start exactly on the ridge ``x = 0`` has a gradient with ``x``-component 0.
    """
    if steep <= 0:
        raise ValueError(f"steep must be a positive curvature, got {steep}")
    points = double_well_points(tilt)

    def fn(xy: Tensor) -> Tensor:
        x, y = xy[..., 0], xy[..., 1]
        return (x**2 - 1) ** 2 + tilt * x + 0.5 * steep * y**2

    name = "double well" if tilt == 0 else f"double well, tilt {tilt:g}"
    return Landscape(
        name, fn, (-2.0, 2.0), (-1.5, 1.5), points["global"], log_contours=False
    )
