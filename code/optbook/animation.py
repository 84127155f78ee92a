"""Animations of optimizer races that play in a web page with no kernel and no network.

:func:`race_animation` draws runs (``[steps + 1, N, 2]`` points, e.g.
:attr:`optbook.races.Runs.points`) moving over a landscape's contours, either all
methods in one panel (``panels=False``: one line per method, for a race from one start)
or one panel per method (``panels=True``: a cloud of ``N`` points per method).
:func:`to_html` renders it with matplotlib's ``to_jshtml``: the frames are embedded in
the page as JPEG images with a play / pause / step / scrub control in plain JavaScript,
so it plays in Jupyter, on Colab and in the built book alike. It refuses an animation
larger than its budget (2 MB by default) instead of letting a page grow silently.
"""

from __future__ import annotations

import dataclasses
import io
import math
import re
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.animation import FuncAnimation
from torch import Tensor

from optbook.landscapes import Landscape


def frame_steps(steps: int, frames: int) -> list[int]:
    """``frames`` step numbers from 0 to ``steps``, denser at the start (where the
    paths move most), strictly increasing, the last one ``steps``."""
    if steps < 1 or frames < 2:
        raise ValueError(f"need steps >= 1 and frames >= 2, got {steps}, {frames}")
    frames = min(frames, steps + 1)
    chosen: list[int] = []
    for k in range(frames):
        t = int(round((steps + 1) ** (k / (frames - 1)) - 1))
        chosen.append(max(t, chosen[-1] + 1) if chosen else 0)
    # the forced increments may overrun: pull the tail back below steps
    for k in range(frames - 1, -1, -1):
        limit = steps - (frames - 1 - k)
        chosen[k] = min(chosen[k], limit)
    return chosen


def draw_background(
    landscape: Landscape,
    ax,
    resolution: int = 150,
    window: tuple[tuple[float, float], tuple[float, float]] | None = None,
) -> None:
    """The landscape as a shaded image with a few contour lines: it looks like
    :func:`optbook.plots.plot_landscape` and redraws far faster, once per frame.
    ``window = ((x0, x1), (y0, y1))`` zooms in (default: the landscape's window)."""
    if window is not None:
        landscape = dataclasses.replace(landscape, xlim=window[0], ylim=window[1])
    grid_x, grid_y, values = (t.numpy() for t in landscape.grid(resolution))
    if landscape.log_contours:
        low = max(values.min(), values.max() * 1e-6, 1e-12)
        shade = np.log10(np.maximum(values, low))
        levels = np.linspace(shade.min(), shade.max(), 12)
    else:
        shade = values
        levels = np.linspace(values.min(), values.max(), 16)
    extent = (*landscape.xlim, *landscape.ylim)
    ax.imshow(
        shade, origin="lower", extent=extent, cmap="Blues_r", alpha=0.85,
        aspect="auto", interpolation="bilinear",
    )
    ax.contour(grid_x, grid_y, shade, levels=levels, colors="white", linewidths=0.4)
    if landscape.minimum is not None:
        ax.plot(
            *landscape.minimum, marker="*", color="gold", markersize=11,
            markeredgecolor="black", zorder=5,
        )
    ax.set_xlim(landscape.xlim)
    ax.set_ylim(landscape.ylim)
    ax.set_xlabel("$x$")
    ax.set_ylabel("$y$")


def _as_points(runs: Tensor) -> np.ndarray:
    points = torch.as_tensor(runs, dtype=torch.float64)
    if points.dim() == 2:
        points = points[:, None, :]
    if points.dim() != 3 or points.shape[-1] != 2:
        raise ValueError(
            "each entry must be points [steps + 1, 2] or [steps + 1, N, 2], "
            f"got shape {tuple(points.shape)}"
        )
    return points.numpy()


def race_animation(
    landscape: Landscape,
    runs: Mapping[str, Tensor],
    *,
    panels: bool = False,
    frames: int = 30,
    figsize: tuple[float, float] = (7.0, 4.2),
    dpi: int = 72,
    colors: Mapping[str, str] | None = None,
    interval: int = 150,
    window: tuple[tuple[float, float], tuple[float, float]] | None = None,
) -> FuncAnimation:
    """Runs moving over ``landscape``: ``runs[name]`` is ``[steps + 1, 2]`` (one
    path) or ``[steps + 1, N, 2]`` (``N`` runs). All entries have the same number of
    steps. ``panels=False``: one panel, one trail per method, legend on the right;
    ``panels=True``: one panel per method (two columns), the ``N`` current points.
    ``window = ((x0, x1), (y0, y1))`` zooms in on part of the landscape.
    """
    if not runs:
        raise ValueError("runs is empty: give at least one method's points")
    if figsize[0] > 7.0:
        raise ValueError(f"the book's figures are at most 7 inches wide, got {figsize}")
    data = {name: _as_points(r) for name, r in runs.items()}
    lengths = {d.shape[0] for d in data.values()}
    if len(lengths) != 1:
        raise ValueError(f"all runs need the same number of steps, got {lengths}")
    steps = lengths.pop() - 1
    shown = frame_steps(steps, frames)
    names = list(data)

    def color(index: int, name: str) -> str:
        return (colors or {}).get(name, f"C{index % 10}")

    if panels:
        rows = math.ceil(len(names) / 2)
        fig, axes = plt.subplots(
            rows, 2 if len(names) > 1 else 1, figsize=figsize, dpi=dpi,
            layout="constrained", squeeze=False,
        )
        axes = list(axes.flat)
        for ax in axes[len(names):]:
            ax.set_visible(False)
    else:
        fig, ax = plt.subplots(figsize=figsize, dpi=dpi, layout="constrained")
        axes = [ax] * len(names)
    artists = []
    drawn = set()
    for index, name in enumerate(names):
        ax = axes[index]
        if id(ax) not in drawn:
            draw_background(landscape, ax, window=window)
            drawn.add(id(ax))
        if panels:
            ax.set_title(name, fontsize="medium")
            (artist,) = ax.plot([], [], "o", color=color(index, name), markersize=2.5)
        else:
            (artist,) = ax.plot(
                [], [], "-", color=color(index, name), linewidth=1.6, label=name
            )
        artists.append(artist)
    if not panels:
        axes[0].legend(
            loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small",
            framealpha=0.9,
        )
    label = fig.suptitle(f"step {shown[-1]}", fontsize="medium")
    fig.canvas.draw()  # lay the figure out once, for its widest title...
    fig.set_layout_engine("none")  # ...then keep it: no layout per frame

    def draw(frame: int):
        t = shown[frame]
        for artist, name in zip(artists, names, strict=True):
            points = data[name]
            if panels:
                now = points[t]
                now = now[np.isfinite(now).all(axis=1)]
                artist.set_data(now[:, 0], now[:, 1])
            else:
                trail = points[: t + 1, 0]
                trail = trail[np.isfinite(trail).all(axis=1)]
                artist.set_data(trail[:, 0], trail[:, 1])
        label.set_text(f"step {t}")
        return artists  # the step label is not blitted: it stays in the layout

    return FuncAnimation(fig, draw, frames=len(shown), interval=interval, blit=True)


# matplotlib's player draws its buttons with Font Awesome icons loaded from a CDN: with
# no network they would be blank. Plain Unicode glyphs need no download.
_CDN_LINK = re.compile(r"<link rel=\"stylesheet\"\s+href=\"https://[^\"]+\">\s*")
_ICONS = {
    "fa fa-minus": "\u2212",
    "fa fa-fast-backward": "\u21e4",
    "fa fa-step-backward": "\u25c1",
    "fa fa-play fa-flip-horizontal": "\u25c0",
    "fa fa-pause": "||",
    "fa fa-play": "\u25b6",
    "fa fa-step-forward": "\u25b7",
    "fa fa-fast-forward": "\u21e5",
    "fa fa-plus": "+",
}


def offline_player(html: str) -> str:
    """matplotlib's jshtml with the Font Awesome download removed and each button's
    icon replaced by a Unicode glyph, so that nothing is fetched from the network."""
    html = _CDN_LINK.sub("", html)
    for css_class, glyph in _ICONS.items():
        html = html.replace(f'<i class="{css_class}"></i>', glyph)
    return html


def to_html(animation: FuncAnimation, max_mb: float = 2.0) -> str:
    """The animation as HTML with its frames embedded (JPEG), playable offline.

    Closes the animation's figure (so that Jupyter does not show it a second time as
    a still image) and raises ``ValueError`` if the HTML is larger than ``max_mb``.
    """
    if max_mb <= 0:
        raise ValueError(f"max_mb must be positive, got {max_mb}")
    with plt.rc_context(
        {"animation.frame_format": "jpeg", "animation.embed_limit": max_mb * 2}
    ):
        html = offline_player(animation.to_jshtml(default_mode="once"))
    plt.close(animation._fig)
    size_mb = len(html.encode()) / 2**20
    if size_mb > max_mb:
        raise ValueError(
            f"the animation takes {size_mb:.2f} MB, over its budget of {max_mb} MB: "
            "use fewer frames, a smaller figure or a lower dpi"
        )
    return html


@dataclasses.dataclass(frozen=True)
class Player:
    """An animation as a notebook output: the player (HTML) wherever a browser shows it
    (Jupyter, Colab, the book's pages), its last frame (PNG) where only a still picture
    can be shown (the book's PDF, which links the web page instead)."""

    html: str
    png: bytes

    def _repr_html_(self) -> str:
        return self.html

    def _repr_png_(self) -> bytes:
        return self.png


def player(animation: FuncAnimation, max_mb: float = 2.0) -> Player:
    """:func:`to_html`'s player together with the animation's last frame as a PNG."""
    html = to_html(animation, max_mb)  # draws every frame: the figure ends on the last
    buffer = io.BytesIO()
    animation._fig.savefig(buffer, format="png")
    return Player(html, buffer.getvalue())


def animation_size_mb(html: str) -> float:
    """The size of an animation's HTML in MB (2**20 bytes), as a page would carry it."""
    return len(html.encode()) / 2**20


__all__: Sequence[str] = [
    "animation_size_mb",
    "draw_background",
    "frame_steps",
    "offline_player",
    "player",
    "Player",
    "race_animation",
    "to_html",
]
