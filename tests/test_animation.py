"""Tests of optbook.animation: the frames, the HTML and its size budget."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from optbook.animation import (  # noqa: E402
    animation_size_mb,
    frame_steps,
    race_animation,
    to_html,
)
from optbook.landscapes import beale  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("steps, frames", [(300, 24), (5, 10), (1, 2), (50, 50)])
def test_frame_steps_increase_from_0_to_the_last_step(steps, frames):
    shown = frame_steps(steps, frames)
    assert shown[0] == 0 and shown[-1] == steps
    assert all(a < b for a, b in zip(shown, shown[1:], strict=False))
    assert len(shown) == min(frames, steps + 1)


def test_frame_steps_refuse_nonsense():
    with pytest.raises(ValueError):
        frame_steps(0, 5)


def _runs(count=1, steps=20):
    t = torch.linspace(0, 1, steps + 1, dtype=torch.float64)
    path = torch.stack([1 + 2 * t, 1.5 - t], dim=-1)
    return path if count == 1 else path[:, None, :].repeat(1, count, 1)


def test_html_plays_offline_and_has_one_frame_per_step_shown():
    animation = race_animation(beale(), {"a": _runs(), "b": _runs()}, frames=6)
    html = to_html(animation)
    assert "<script" in html and "animation" in html.lower()
    assert html.count("data:image/jpeg;base64") == 6
    assert "http://" not in html and "https://" not in html  # nothing to download
    assert animation_size_mb(html) < 2.0
    assert not plt.get_fignums()  # the figure is closed: no second, still copy


def test_panels_draw_one_axes_per_method():
    animation = race_animation(
        beale(), {"a": _runs(5), "b": _runs(5), "c": _runs(5)}, panels=True, frames=3
    )
    visible = [ax for ax in animation._fig.axes if ax.get_visible()]
    assert len(visible) == 3
    to_html(animation)


def test_an_animation_over_budget_is_refused():
    animation = race_animation(beale(), {"a": _runs()}, frames=4)
    with pytest.raises(ValueError, match="budget"):
        to_html(animation, max_mb=0.001)


@pytest.mark.parametrize(
    "runs, message",
    [({}, "empty"), ({"a": torch.zeros(5, 3)}, "shape"),
     ({"a": _runs(steps=5), "b": _runs(steps=6)}, "same number of steps")],
)
def test_bad_runs_are_refused(runs, message):
    with pytest.raises(ValueError, match=message):
        race_animation(beale(), runs)


def test_too_wide_a_figure_is_refused():
    with pytest.raises(ValueError, match="7 inches"):
        race_animation(beale(), {"a": _runs()}, figsize=(9, 4))


def test_the_player_fetches_nothing_and_every_button_has_a_glyph():
    html = to_html(race_animation(beale(), {"a": _runs()}, frames=3))
    assert "fa fa-" not in html and "font-awesome" not in html
    buttons = html.split("<button")[1:]
    assert len(buttons) == 9
    for button in buttons:
        label = button.split(">", 1)[1].split("</button>")[0].strip()
        assert label, f"a button without a label: {button[:80]}"


def test_each_frame_shows_its_step_and_the_window_zooms():
    animation = race_animation(
        beale(), {"a": _runs()}, frames=4, window=((0.0, 4.0), (-1.0, 2.0))
    )
    shown = frame_steps(20, 4)
    for k, step in enumerate(shown):
        animation._func(k)
        assert animation._fig.texts[0].get_text() == f"step {step}"
    ax = animation._fig.axes[0]
    assert ax.get_xlim() == (0.0, 4.0) and ax.get_ylim() == (-1.0, 2.0)
    line = ax.get_lines()[-1]
    assert len(line.get_xdata()) == shown[-1] + 1  # the whole trail at the last frame


def test_player_shows_the_animation_in_html_and_its_last_frame_as_png():
    from optbook.animation import player

    shown = player(race_animation(beale(), {"a": _runs(), "b": _runs()}, frames=3))
    assert "<script" in shown._repr_html_()
    assert shown._repr_png_().startswith(b"\x89PNG")
