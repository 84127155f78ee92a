"""The book's figures: optimizer paths over contours, and curves over steps.

Every function draws into a matplotlib ``Axes`` (a new figure if none is given) and
returns it, so that a notebook can place several panels side by side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm

from optbook.landscapes import Landscape
from optbook.paths import Path


def _axes(ax: Axes | None, size: tuple[float, float] = (6.0, 4.5)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def finish_axes(
    ax: Axes, *, logy: bool, xlabel: str, ylabel: str, title: str | None
) -> Axes:
    """The finishing touches of every curve plot: scale, labels, title, grid, legend."""
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_landscape(
    landscape: Landscape, ax: Axes | None = None, levels: int = 30
) -> Axes:
    """Filled contours of ``landscape`` (log-spaced where it spans decades)."""
    ax = _axes(ax)
    grid_x, grid_y, values = (t.numpy() for t in landscape.grid())
    if landscape.log_contours:
        low = max(values.min(), values.max() * 1e-6, 1e-12)
        shifted = np.maximum(values, low)
        contour_levels = np.geomspace(low, values.max(), levels)
        ax.contourf(
            grid_x,
            grid_y,
            shifted,
            levels=contour_levels,
            norm=LogNorm(),
            cmap="Blues_r",
            alpha=0.85,
        )
        ax.contour(
            grid_x,
            grid_y,
            shifted,
            levels=contour_levels,
            norm=LogNorm(),
            colors="white",
            linewidths=0.3,
        )
    else:
        ax.contourf(grid_x, grid_y, values, levels=levels, cmap="Blues_r", alpha=0.85)
        ax.contour(
            grid_x, grid_y, values, levels=levels, colors="white", linewidths=0.3
        )
    if landscape.minimum is not None:
        ax.plot(
            *landscape.minimum,
            marker="*",
            color="gold",
            markersize=14,
            markeredgecolor="black",
            zorder=5,
        )
    ax.set_xlim(landscape.xlim)
    ax.set_ylim(landscape.ylim)
    ax.set_xlabel("$x$")
    ax.set_ylabel("$y$")
    ax.set_title(landscape.name)
    return ax


def _color(label: str, index: int, colors: Mapping[str, str] | None) -> str:
    """``colors[label]`` if given, else the ``index``-th color of matplotlib's cycle."""
    if colors is not None and label in colors:
        return colors[label]
    return f"C{index % 10}"


def plot_paths(
    landscape: Landscape,
    paths: Mapping[str, Path],
    ax: Axes | None = None,
    title: str | None = None,
    *,
    colors: Mapping[str, str] | None = None,
) -> Axes:
    """The landscape's contours with each optimizer's path drawn over them.

    ``colors`` (label -> matplotlib color) keeps a method's color the same across
    panels.
    """
    ax = plot_landscape(landscape, ax)
    for index, (label, path) in enumerate(paths.items()):
        points = path.points.numpy()
        finite = np.isfinite(points).all(axis=1)
        points = points[finite]
        color = _color(label, index, colors)
        ax.plot(
            points[:, 0],
            points[:, 1],
            "-o",
            color=color,
            markersize=2.5,
            linewidth=1.3,
            label=label,
        )
        ax.plot(points[0, 0], points[0, 1], "o", color="black", markersize=5)
    if title is not None:
        ax.set_title(title)
    ax.legend(loc="best", fontsize="small", framealpha=0.9)
    return ax


def plot_curves(
    curves: Mapping[str, Sequence[float] | torch.Tensor],
    ax: Axes | None = None,
    *,
    logy: bool = True,
    xlabel: str = "step",
    ylabel: str = "loss",
    title: str | None = None,
    colors: Mapping[str, str] | None = None,
) -> Axes:
    """One line per entry of ``curves`` (a loss, a step size, ...) against the step
    number.

    ``colors`` (label -> matplotlib color) keeps a method's color the same across
    panels.
    """
    ax = _axes(ax)
    for index, (label, values) in enumerate(curves.items()):
        values = torch.as_tensor(values, dtype=torch.float64).numpy()
        ax.plot(
            np.arange(len(values)),
            values,
            color=_color(label, index, colors),
            label=label,
            linewidth=1.5,
        )
    return finish_axes(ax, logy=logy, xlabel=xlabel, ylabel=ylabel, title=title)


def plot_band(
    curves: Mapping[str, torch.Tensor],
    ax: Axes | None = None,
    *,
    logy: bool = True,
    xlabel: str = "step",
    ylabel: str = "loss",
    title: str | None = None,
) -> Axes:
    """Mean and min-max band over seeds: each entry is a tensor ``[seeds, steps]``."""
    ax = _axes(ax)
    for index, (label, runs) in enumerate(curves.items()):
        runs = torch.as_tensor(runs, dtype=torch.float64)
        if runs.dim() != 2:
            raise ValueError(
                f"{label}: expected a tensor [seeds, steps], "
                f"got shape {tuple(runs.shape)}"
            )
        steps = np.arange(runs.shape[1])
        color = f"C{index % 10}"
        ax.plot(
            steps,
            runs.mean(0).numpy(),
            color=color,
            label=f"{label} (mean of {runs.shape[0]})",
        )
        ax.fill_between(
            steps,
            runs.min(0).values.numpy(),
            runs.max(0).values.numpy(),
            color=color,
            alpha=0.2,
        )
    return finish_axes(ax, logy=logy, xlabel=xlabel, ylabel=ylabel, title=title)
