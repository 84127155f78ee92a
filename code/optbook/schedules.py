"""Learning-rate schedules: which learning rate a scheduler hands the optimizer at every
step.

A ``torch.optim.lr_scheduler`` scheduler does one thing: every call of its ``step()``
writes a new value into ``group["lr"]`` of each of the optimizer's parameter groups
(some, like ``OneCycleLR``, write ``group["momentum"]`` too). :func:`lr_trace` records
that value, step by step, on a throw-away optimizer, so that a schedule can be plotted
or checked against its formula without training anything; :func:`plot_lr_traces` draws
several traces in one figure. See the chapter "torch.optim in practice".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes

from optbook.plots import finish_axes

SchedulerFactory = Callable[[torch.optim.Optimizer], Any]


def lr_trace(
    make_scheduler: SchedulerFactory,
    steps: int,
    base_lr: float = 0.1,
    *,
    momentum: float = 0.9,
    metrics: Sequence[float] | None = None,
    key: str = "lr",
) -> list[float]:
    """The learning rate that each of ``steps`` optimizer steps uses under a scheduler.

    Builds ``torch.optim.SGD([p], lr=base_lr, momentum=momentum)`` on a dummy parameter,
    calls ``make_scheduler(optimizer)``, then ``steps`` times: records ``group[key]``,
    calls ``optimizer.step()`` and then ``scheduler.step()`` (in this order, as torch
    asks). Entry ``t`` of the result is the value that optimizer step ``t + 1`` used;
    entry 0 is the value the scheduler's constructor set.

    ``metrics`` feeds ``ReduceLROnPlateau``: ``scheduler.step(metrics[t])`` after step
    ``t``. ``key="momentum"`` records the momentum instead (``OneCycleLR`` cycles it).
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(
            "steps (how many optimizer steps to record) must be a positive integer, "
            f"got {steps!r}"
        )
    if not base_lr > 0:
        raise ValueError(
            "base_lr (the learning rate the optimizer is built with) must be > 0, "
            f"got {base_lr!r}"
        )
    if metrics is not None and len(metrics) < steps:
        raise ValueError(
            f"metrics holds {len(metrics)} values, one per step is needed "
            f"({steps} steps)"
        )
    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=base_lr, momentum=momentum)
    scheduler = make_scheduler(optimizer)
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    if plateau and metrics is None:
        raise ValueError(
            "ReduceLROnPlateau lowers the learning rate when a measured metric stops "
            "improving: pass metrics=[...] (one value per step)"
        )
    if metrics is not None and not plateau:
        raise ValueError(
            "metrics are only used by ReduceLROnPlateau, "
            f"not by {type(scheduler).__name__}"
        )
    if key not in optimizer.param_groups[0]:
        raise ValueError(
            "key must name an entry of the parameter group "
            f"({sorted(optimizer.param_groups[0])}), "
            f"got {key!r}"
        )
    values = []
    for step in range(steps):
        values.append(float(optimizer.param_groups[0][key]))
        # No gradient: nothing moves, but the scheduler sees that a step was taken.
        optimizer.step()
        if plateau:
            scheduler.step(metrics[step])
        else:
            scheduler.step()
    return values


def plot_lr_traces(
    traces: Mapping[str, Sequence[float]],
    ax: Axes | None = None,
    *,
    logy: bool = False,
    xlabel: str = "optimizer step",
    ylabel: str = "learning rate",
    title: str | None = None,
) -> Axes:
    """One staircase line per trace (a learning rate is constant over each step)."""
    if not traces:
        raise ValueError(
            "traces is empty: pass a mapping label -> list of learning rates"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 4.0), layout="constrained")
    for index, (label, values) in enumerate(traces.items()):
        values = np.asarray(values, dtype=float)
        ax.plot(
            np.arange(len(values)),
            values,
            drawstyle="steps-post",
            color=f"C{index % 10}",
            label=label,
            linewidth=1.6,
        )
    return finish_axes(ax, logy=logy, xlabel=xlabel, ylabel=ylabel, title=title)
