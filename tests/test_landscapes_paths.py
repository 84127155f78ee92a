"""Unit tests of the 2-D toolkit (landscapes, paths, plots), source.py, runtime.py."""

from __future__ import annotations

import inspect
import math
import random
import textwrap

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from optbook import landscapes, paths, plots, runtime, source  # noqa: E402
from optbook.landscapes import Landscape, beale, elongated_quadratic, rosenbrock, saddle  # noqa: E402
from optbook.optimizers.base import PerParameterOptimizer  # noqa: E402
from optbook.optimizers.sgd import SGD  # noqa: E402
from optbook.paths import Path, run_path  # noqa: E402

ALL = [elongated_quadratic(), rosenbrock(), saddle(), beale()]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _gradient(landscape: Landscape, point) -> torch.Tensor:
    xy = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    landscape(xy).backward()
    return xy.grad


# -- landscapes ------------------------------------------------------------------------
def test_elongated_quadratic_values_and_curvatures():
    q = elongated_quadratic(steep=20.0, flat=2.0)
    assert q(torch.tensor([1.0, 0.0])).item() == pytest.approx(1.0)  # flat / 2
    assert q(torch.tensor([0.0, 1.0])).item() == pytest.approx(10.0)  # steep / 2
    hessian = torch.autograd.functional.hessian(
        q, torch.tensor([0.3, -0.7], dtype=torch.float64)
    )
    torch.testing.assert_close(
        hessian, torch.diag(torch.tensor([2.0, 20.0], dtype=torch.float64))
    )


@pytest.mark.parametrize("steep, flat", [(0.0, 1.0), (1.0, -1.0)])
def test_elongated_quadratic_refuses_nonpositive_curvature(steep, flat):
    with pytest.raises(ValueError, match="curvatures must be positive"):
        elongated_quadratic(steep=steep, flat=flat)


@pytest.mark.parametrize("landscape", ALL, ids=lambda f: f.name)
def test_minimum_is_a_stationary_point_inside_the_window(landscape):
    assert landscape.minimum is not None
    x, y = landscape.minimum
    assert (
        landscape.xlim[0] < x < landscape.xlim[1]
        and landscape.ylim[0] < y < landscape.ylim[1]
    )
    assert _gradient(landscape, landscape.minimum).abs().max().item() < 1e-12


def test_minimum_values():
    assert rosenbrock()(torch.tensor([1.0, 1.0])).item() == 0.0
    assert rosenbrock(a=2.0, b=10.0)(torch.tensor([2.0, 4.0])).item() == 0.0
    assert beale()(torch.tensor([3.0, 0.5])).item() == pytest.approx(0.0, abs=1e-12)
    assert saddle()(
        torch.tensor([0.0, math.sqrt(2)], dtype=torch.float64)
    ).item() == pytest.approx(-1.0)
    # and the saddle point of saddle(): zero gradient, but not a minimum
    assert _gradient(saddle(), (0.0, 0.0)).abs().max().item() == 0.0
    assert saddle()(torch.tensor([0.0, 0.5])).item() < 0.0


def test_landscape_evaluates_batches_and_refuses_wrong_shapes():
    q = elongated_quadratic()
    batch = torch.randn(4, 3, 2, dtype=torch.float64)
    values = q(batch)
    assert values.shape == (4, 3)
    torch.testing.assert_close(values[1, 2], q(batch[1, 2]))
    with pytest.raises(ValueError, match="2 coordinates"):
        q(torch.zeros(3))


def test_grid_covers_the_window():
    r = rosenbrock()
    grid_x, grid_y, values = r.grid(resolution=50)
    assert grid_x.shape == grid_y.shape == values.shape == (50, 50)
    assert values.dtype == torch.float64
    assert grid_x.min().item() == r.xlim[0] and grid_x.max().item() == r.xlim[1]
    assert grid_y.min().item() == r.ylim[0] and grid_y.max().item() == r.ylim[1]
    torch.testing.assert_close(
        values[7, 11], r(torch.stack([grid_x[7, 11], grid_y[7, 11]]))
    )


# -- paths -----------------------------------------------------------------------------
def test_run_path_records_start_every_step_and_losses():
    q = elongated_quadratic(steep=20.0, flat=1.0)
    path = run_path(q, lambda p: SGD(p, lr=0.05), (-4.0, 1.5), steps=30)
    assert path.points.shape == (31, 2) and path.losses.shape == (31,)
    assert path.points.dtype == torch.float64
    assert path.points[0].tolist() == [-4.0, 1.5]
    torch.testing.assert_close(path.losses, q(path.points))
    assert path.final_loss == path.losses[-1].item()
    torch.testing.assert_close(path.final_point, path.points[-1])


def test_run_path_gradient_descent_follows_the_closed_form():
    # On (a x^2 + b y^2)/2 a step multiplies x by (1 - lr a) and y by (1 - lr b).
    a, b, lr, steps = 1.0, 20.0, 0.07, 25
    path = run_path(
        elongated_quadratic(steep=b, flat=a),
        lambda p: SGD(p, lr=lr),
        (-4.0, 1.5),
        steps,
    )
    t = torch.arange(steps + 1, dtype=torch.float64)
    expected = torch.stack([-4.0 * (1 - lr * a) ** t, 1.5 * (1 - lr * b) ** t], dim=1)
    torch.testing.assert_close(path.points, expected, rtol=1e-12, atol=1e-15)


def test_steps_to_reach():
    path = Path(torch.zeros(5, 2), torch.tensor([4.0, 3.0, 0.5, 0.2, 0.1]))
    assert path.steps_to_reach(1.0) == 2
    assert path.steps_to_reach(0.15) == 4
    assert path.steps_to_reach(0.1) is None  # strictly below
    assert path.steps_to_reach(10.0) == 0


def test_a_diverging_path_is_kept():
    q = elongated_quadratic(steep=20.0, flat=1.0)
    path = run_path(q, lambda p: SGD(p, lr=0.5), (-4.0, 1.5), steps=400)  # lr > 2 / 20
    assert path.points.shape == (401, 2)
    assert not math.isfinite(path.final_loss)
    assert path.steps_to_reach(1e-3) is None


def test_run_path_refuses_bad_arguments():
    q = elongated_quadratic()
    with pytest.raises(ValueError, match="start must be a point"):
        run_path(q, lambda p: SGD(p, lr=0.1), (1.0, 2.0, 3.0), 5)
    with pytest.raises(ValueError, match="steps must be at least 1"):
        run_path(q, lambda p: SGD(p, lr=0.1), (1.0, 2.0), 0)


# -- plots (smoke tests: they draw what they should, where they should) ----------------
def test_plot_paths_draws_one_line_per_path_over_the_contours():
    q = elongated_quadratic()
    runs = {
        "slow": run_path(q, lambda p: SGD(p, lr=0.01), (-5.0, 2.0), 20),
        "diverging": run_path(q, lambda p: SGD(p, lr=0.3), (-5.0, 2.0), 200),
    }
    ax = plots.plot_paths(q, runs, title="two paths")
    assert isinstance(ax, Axes)
    labels = [line.get_label() for line in ax.get_lines()]
    assert "slow" in labels and "diverging" in labels
    slow = next(line for line in ax.get_lines() if line.get_label() == "slow")
    np.testing.assert_allclose(slow.get_xydata(), runs["slow"].points.numpy())
    diverging = next(line for line in ax.get_lines() if line.get_label() == "diverging")
    assert np.isfinite(diverging.get_xydata()).all()  # the non-finite tail is dropped
    assert ax.get_title() == "two paths"
    assert (
        ax.get_xlim() == q.xlim and ax.get_ylim() == q.ylim
    )  # a wild path does not rescale
    assert len(ax.collections) > 0  # the contours
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["slow", "diverging"]


def test_plot_landscape_without_log_contours():
    ax = plots.plot_landscape(saddle())
    assert isinstance(ax, Axes) and len(ax.collections) > 0
    assert ax.get_xlabel() == "$x$" and ax.get_ylabel() == "$y$"


def test_plot_curves_draws_each_curve():
    fig, ax = plt.subplots()
    returned = plots.plot_curves(
        {"a": [1.0, 0.5, 0.25], "b": torch.tensor([2.0, 1.0])},
        ax=ax,
        title="curves",
        ylabel="loss",
    )
    assert returned is ax
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["a", "b"]
    np.testing.assert_allclose(lines[0].get_ydata(), [1.0, 0.5, 0.25])
    np.testing.assert_allclose(lines[1].get_xdata(), [0, 1])
    assert ax.get_yscale() == "log" and ax.get_title() == "curves"
    linear = plots.plot_curves({"a": [1.0, -1.0]}, logy=False)
    assert linear.get_yscale() == "linear"


def test_plot_band_draws_mean_and_band_and_checks_shapes():
    runs = torch.tensor([[1.0, 0.5, 0.2], [3.0, 1.5, 0.4]])
    ax = plots.plot_band({"sgd": runs})
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_ydata(), [2.0, 1.0, 0.3])
    assert "mean of 2" in line.get_label()
    assert len(ax.collections) == 1  # the min-max band
    with pytest.raises(ValueError, match=r"expected a tensor \[seeds, steps\]"):
        plots.plot_band({"bad": torch.ones(3)})


# -- source ----------------------------------------------------------------------------
def test_show_source_returns_the_real_source():
    shown = source.show_source(SGD.update)
    real = textwrap.dedent(inspect.getsource(SGD.update)).rstrip()
    assert shown.code == source.plain_docstrings(real)
    # only docstring lines may differ, and the code lines are all there
    assert len(shown.code.splitlines()) == len(real.splitlines())
    assert shown.code.startswith("def update(")
    assert "# (gd.4)" in shown.code
    assert shown.origin == "optbook.optimizers.sgd.SGD.update"


def test_show_source_markdown_is_a_fenced_python_block():
    shown = source.show_source(SGD.update)
    markdown = shown._repr_markdown_()
    assert markdown.startswith("`optbook.optimizers.sgd.SGD.update`\n\n```python\n")
    assert markdown.endswith("\n```\n")
    assert shown.code in markdown
    assert repr(shown).startswith("# optbook.optimizers.sgd.SGD.update\n")


def test_show_source_of_a_decorated_method_class_and_module():
    step = source.show_source(PerParameterOptimizer.step)
    assert step.code.startswith("@torch.no_grad()\ndef step(")
    assert source.show_source(SGD).code.startswith("class SGD(PerParameterOptimizer):")
    module = source.show_source(landscapes)
    assert module.origin == "optbook.landscapes"
    assert module.code == source.plain_docstrings(
        inspect.getsource(landscapes).rstrip()
    )


def test_strip_docstring_drops_exactly_the_docstring():
    stripped = source.show_source(PerParameterOptimizer.step, strip_docstring=True).code
    assert "Perform one optimization step" not in stripped
    assert stripped.startswith("@torch.no_grad()\ndef step(")
    assert stripped.splitlines()[2] == "    loss = None"
    # a class: its docstring goes, its methods stay
    cls = source.show_source(SGD, strip_docstring=True).code
    assert '"""SGD with' not in cls and "def update(" in cls
    # a module: the code starts at the first statement after the docstring
    assert source.show_source(paths, strip_docstring=True).code.startswith(
        "from __future__"
    )


def test_strip_docstring_keeps_code_without_a_docstring():
    # SGD.update has no docstring of its own (inspect.getdoc would inherit the base
    # class's): nothing may be removed.
    assert inspect.getdoc(SGD.update)  # the inherited one
    shown = source.show_source(SGD.update, strip_docstring=True)
    assert shown.code == source.show_source(SGD.update).code


def test_docstrings_are_shown_without_sphinx_markup():
    code = (
        "def f(x):\n"
        '    """A :class:`~optbook.paths.Path` from :func:`run_path`, see\n'
        "    :attr:`Path.final_loss <optbook.paths.Path.final_loss>`; ``x`` is kept.\n"
        '    """\n'
        '    return "``not a docstring``"  # :func:`nor a comment`\n'
    )
    assert source.plain_docstrings(code) == (
        "def f(x):\n"
        '    """A Path from run_path, see\n'
        "    Path.final_loss; x is kept.\n"
        '    """\n'
        '    return "``not a docstring``"  # :func:`nor a comment`\n'
    )
    assert source.plain_docstrings("def broken(:") == "def broken(:"
    shown = source.show_source(paths).code
    assert ":class:" not in shown and "``" not in shown


def test_show_source_refuses_what_has_no_source():
    with pytest.raises(TypeError, match="show_source needs a function"):
        source.show_source(len)
    with pytest.raises(TypeError, match="show_source needs a function"):
        source.show_source(3)


# -- runtime ---------------------------------------------------------------------------
def _draws():
    return (random.random(), np.random.rand(), torch.rand(1).item())


def test_seed_everything_makes_python_numpy_and_torch_reproducible():
    runtime.seed_everything(123)
    first = _draws()
    generator = runtime.seed_everything(123)
    assert _draws() == first
    runtime.seed_everything(124)
    assert all(a != b for a, b in zip(_draws(), first, strict=True))
    assert isinstance(generator, torch.Generator)
    again = runtime.seed_everything(123)
    assert torch.equal(
        torch.rand(3, generator=generator), torch.rand(3, generator=again)
    )


def test_seed_everything_accepts_large_seeds():
    runtime.seed_everything(2**40 + 7)
    first = _draws()
    runtime.seed_everything(2**40 + 7)
    assert _draws() == first


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0", None, 2**64])
def test_bad_seeds_raise(seed):
    with pytest.raises(ValueError, match="seed must be an integer"):
        runtime.seed_everything(seed)


def test_pick_device():
    assert runtime.pick_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert runtime.pick_device().type == expected


def test_colors_keep_a_method_s_color_across_panels():
    q = elongated_quadratic()
    runs = {
        "gd": run_path(q, lambda p: SGD(p, lr=0.05), (-5.0, 2.0), 5),
        "momentum": run_path(
            q, lambda p: SGD(p, lr=0.05, momentum=0.9), (-5.0, 2.0), 5
        ),
    }
    colors = {"momentum": "C3"}
    ax = plots.plot_paths(q, {"momentum": runs["momentum"]}, colors=colors)
    (line,) = [line for line in ax.get_lines() if line.get_label() == "momentum"]
    assert matplotlib.colors.same_color(line.get_color(), "C3")
    ax = plots.plot_curves(
        {"gd": runs["gd"].losses, "momentum": runs["momentum"].losses}, colors=colors
    )
    gd, momentum = ax.get_lines()
    assert matplotlib.colors.same_color(
        gd.get_color(), "C0"
    )  # not in colors: the cycle
    assert matplotlib.colors.same_color(momentum.get_color(), "C3")


# -- rotated, double_well (the chapter "Visualizing optimizers") ---------------------
def test_rotated_turns_the_function_and_its_minimum():
    from optbook.landscapes import rotated

    f = saddle()
    turned = rotated(f, 90.0)
    point = torch.tensor([0.3, -0.8], dtype=torch.float64)
    # turning by 90 degrees maps (x, y) to (-y, x)
    assert turned(torch.stack([-point[1], point[0]])).item() == pytest.approx(
        f(point).item()
    )
    assert turned.minimum == pytest.approx((-(2**0.5), 0.0), abs=1e-12)
    assert rotated(f, 0.0)(point).item() == f(point).item()
    grad = _gradient(turned, turned.minimum)
    assert grad.abs().max() < 1e-12
    with pytest.raises(ValueError, match="finite"):
        rotated(f, math.inf)


def test_double_well_points_are_its_critical_points_and_ordered():
    from optbook.landscapes import double_well, double_well_points

    for tilt in (0.5, -0.5, 0.0):
        f = double_well(tilt)
        points = double_well_points(tilt)
        for point in points.values():
            assert _gradient(f, point).abs().max() < 1e-9
        value = {k: f(torch.tensor(v, dtype=torch.float64)).item()
                 for k, v in points.items()}
        assert value["global"] <= value["local"] < value["ridge"]
        if tilt:
            assert value["global"] < value["local"]
        assert f.minimum == points["global"]
    hessian = torch.autograd.functional.hessian(
        double_well(0.5), torch.tensor(double_well_points(0.5)["ridge"],
                                       dtype=torch.float64)
    )
    eigenvalues = torch.linalg.eigvalsh(hessian)
    assert eigenvalues[0] < 0 < eigenvalues[1]  # the ridge point is a saddle


def test_double_well_refuses_what_is_not_two_wells():
    from optbook.landscapes import double_well, double_well_points

    with pytest.raises(ValueError, match="single well"):
        double_well_points(2.0)
    with pytest.raises(ValueError, match="positive curvature"):
        double_well(0.5, steep=0.0)
