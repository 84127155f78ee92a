"""The book's small training helper: one loop, written once, reused by every chapter.

The loop is the one from the ``torch.optim`` documentation::

    for inputs, targets in batches:
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        scheduler.step()          # if there is one: after the optimizer's step

:func:`train` runs it for a number of steps or epochs and returns a :class:`History`: the
loss of every step, the learning rate of every step, and whatever ``evaluate`` measured at
regular intervals. A run whose loss stops being a finite number (a learning rate too large)
ends there and says so (``History.diverged``), instead of filling the rest with ``nan``.

Around it:

- :class:`MiniBatches` -- shuffled mini-batches of tensors that are already in memory (or on
  the GPU), reshuffled on every pass, reproducible from a seed; much faster than a
  ``DataLoader`` for small data sets.
- :func:`evaluate` and :func:`accuracy` -- metrics over a whole data set, without gradients.
- :func:`lr_sweep` and :class:`Sweep` -- a learning-rate grid times a few seeds, and the
  choice of the best learning rate.

Nothing here is global: a run depends only on its arguments (and, for a model's random
initialisation, on the seed the caller sets). ``progress=True`` prints a plain-text progress
bar to ``stdout`` (ASCII, few refreshes), which reads cleanly in a terminal, on Colab and in
the built book alike. Used in the chapter "Comparing optimizers honestly" and the homework.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn
from tqdm.std import tqdm

Batch = Sequence[Tensor]
"""A pair ``(inputs, targets)``."""

Metric = Callable[[Tensor, Tensor], Tensor]
"""``metric(outputs, targets)``: the mean of some quantity over a batch, a 0-d tensor."""


# -- data ----------------------------------------------------------------------------------


class MiniBatches:
    """Mini-batches ``(x[i], y[i])`` of in-memory tensors, reshuffled on every pass.

    Iterating over it twice gives two epochs with two different orders; the sequence of all
    epochs is fixed by ``seed``. ``drop_last=True`` drops a last, smaller batch.
    ``batch_size >= len(x)`` gives full-batch training (one batch per epoch).
    """

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if len(x) != len(y):
            raise ValueError(
                f"x and y must hold the same number of examples, got {len(x)} and {len(y)}"
            )
        if len(x) == 0:
            raise ValueError("x and y hold no examples")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                f"batch_size is the number of examples per step: a positive integer, got {batch_size!r}"
            )
        self.x, self.y = x, y
        self.batch_size = min(batch_size, len(x))
        self.shuffle = shuffle
        self.drop_last = drop_last
        self._generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.x) // self.batch_size
        return math.ceil(len(self.x) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        n = len(self.x)
        if self.shuffle:
            order = torch.randperm(n, generator=self._generator).to(self.x.device)
        else:
            order = torch.arange(n, device=self.x.device)
        for index in range(len(self)):
            rows = order[index * self.batch_size : (index + 1) * self.batch_size]
            yield self.x[rows], self.y[rows]


# -- metrics -------------------------------------------------------------------------------


def accuracy(outputs: Tensor, targets: Tensor) -> Tensor:
    """The fraction of rows of ``outputs`` (class scores) whose largest entry is the target."""
    return (outputs.argmax(dim=-1) == targets).to(torch.float64).mean()


@torch.no_grad()
def evaluate(
    model: nn.Module, data: Batch | Iterable[Batch], metrics: Mapping[str, Metric]
) -> dict[str, float]:
    """Each metric's mean over all examples of ``data``, in eval mode and without gradients.

    ``data`` is one pair ``(inputs, targets)`` (the whole set at once) or an iterable of such
    pairs (a :class:`MiniBatches`, a ``DataLoader``); batch means are weighted by batch size.
    The model's train/eval mode is restored afterwards.
    """
    if not metrics:
        raise ValueError("metrics is empty: give at least one, e.g. {'accuracy': accuracy}")
    is_pair = (
        isinstance(data, Sequence) and len(data) == 2 and all(isinstance(t, Tensor) for t in data)
    )
    batches = [data] if is_pair else data
    was_training = model.training
    model.eval()
    try:
        totals = dict.fromkeys(metrics, 0.0)
        count = 0
        for inputs, targets in batches:
            outputs = model(inputs)
            size = len(targets)
            for name, metric in metrics.items():
                totals[name] += float(metric(outputs, targets)) * size
            count += size
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("data holds no examples")
    return {name: total / count for name, total in totals.items()}


# -- the training loop ---------------------------------------------------------------------


@dataclass
class History:
    """What :func:`train` recorded.

    ``losses[k]`` and ``lrs[k]`` are the mini-batch loss and the (first group's) learning
    rate of step ``k + 1``, the loss measured before that step's update. ``eval_steps`` are
    the steps after which ``evaluate`` ran (0 is the start), and ``metrics[name][i]`` is its
    value at ``eval_steps[i]``.
    """

    losses: list[float] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    steps: int = 0  # optimizer steps taken
    diverged: bool = False
    stopped_early: bool = False
    seconds: float = 0.0

    def curve(self, name: str) -> Tensor:
        """A metric's values at ``eval_steps``, as a float64 tensor (``"loss"``: every step's loss)."""
        if name == "loss":
            return torch.tensor(self.losses, dtype=torch.float64)
        if name not in self.metrics:
            raise KeyError(f"no metric {name!r} was evaluated; there are {sorted(self.metrics)}")
        return torch.tensor(self.metrics[name], dtype=torch.float64)

    def final(self, name: str) -> float:
        """A metric's last value (``"loss"``: the last step's loss)."""
        return float(self.curve(name)[-1])

    def __str__(self) -> str:
        parts = [f"{self.steps} steps in {self.seconds:.2f} s"]
        if self.losses:
            parts.append(f"last loss {self.losses[-1]:.4g}")
        parts += [f"{name} {values[-1]:.4g}" for name, values in self.metrics.items()]
        if self.diverged:
            parts.append("DIVERGED (non-finite loss)")
        if self.stopped_early:
            parts.append("stopped early by on_step")
        return ", ".join(parts)


def _learning_rate(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


def train(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterable[Batch],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    *,
    steps: int | None = None,
    epochs: int | None = None,
    scheduler: Any = None,
    scheduler_every: Literal["step", "epoch"] = "step",
    evaluate: Callable[[nn.Module], Mapping[str, float]] | None = None,
    eval_every: int | None = None,
    on_step: Callable[[int, float], bool | None] | None = None,
    stop_if_nonfinite: bool = True,
    progress: bool = False,
    desc: str = "train",
) -> History:
    """Train ``model`` with ``optimizer`` on ``batches``; return the :class:`History`.

    Arguments:
        batches: pairs ``(inputs, targets)`` already on the model's device; it is iterated
            once per epoch, so it must be re-iterable (a :class:`MiniBatches`, a list, a
            ``DataLoader``), not a generator.
        loss_fn: ``loss_fn(model(inputs), targets)`` is the 0-d loss, e.g. ``nn.CrossEntropyLoss()``.
        steps, epochs: the budget, exactly one of the two. With ``steps``, the passes over
            ``batches`` repeat until that many optimizer steps are done.
        scheduler: a learning-rate scheduler of ``optimizer`` (``scheduler.step()`` with no
            argument), stepped after the optimizer, every step or every epoch
            (``scheduler_every``).
        evaluate: ``evaluate(model) -> {name: value}``, run at the start, every ``eval_every``
            steps and at the end. With ``epochs`` and no ``eval_every``, after every epoch;
            with ``steps`` and no ``eval_every``, at the start and the end only.
        on_step: ``on_step(step, loss)`` after every step (step counts from 1); returning
            ``True`` stops the run (early stopping).
        stop_if_nonfinite: end the run, marked ``diverged``, at the first loss that is
            ``inf`` or ``nan`` (that loss is recorded; no step is taken from it).
        progress: print a plain-text progress bar (ASCII, on ``stdout``, at most a few
            refreshes a second) that ends in a summary line; off by default.
        desc: the progress bar's label.
    """
    if (steps is None) == (epochs is None):
        raise ValueError(
            "give the budget as exactly one of steps=... or epochs=..., "
            f"got steps={steps!r}, epochs={epochs!r}"
        )
    budget_name, budget = ("steps", steps) if steps is not None else ("epochs", epochs)
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
        raise ValueError(f"{budget_name} must be a positive integer, got {budget!r}")
    if eval_every is not None and (not isinstance(eval_every, int) or eval_every < 1):
        raise ValueError(
            f"eval_every is a number of steps between evaluations: a positive integer, got {eval_every!r}"
        )
    if scheduler_every not in ("step", "epoch"):
        raise ValueError(f"scheduler_every must be 'step' or 'epoch', got {scheduler_every!r}")
    if iter(batches) is batches:
        raise ValueError(
            "batches must be re-iterable (a list, a MiniBatches, a DataLoader): "
            "a generator or iterator would be used up after one epoch"
        )
    total = (
        steps
        if steps is not None
        else (epochs * len(batches) if hasattr(batches, "__len__") else None)
    )

    history = History()
    start = time.perf_counter()
    every_epoch = eval_every is None and epochs is not None

    def record_evaluation(step: int) -> None:
        if evaluate is None or (history.eval_steps and history.eval_steps[-1] == step):
            return
        values = evaluate(model)
        if not history.metrics:
            history.metrics = {name: [] for name in values}
        if set(values) != set(history.metrics):
            raise ValueError(
                f"evaluate returned metrics {sorted(values)}, earlier {sorted(history.metrics)}"
            )
        for name, value in values.items():
            history.metrics[name].append(float(value))
        history.eval_steps.append(step)

    bar = tqdm(
        total=total,
        desc=desc,
        unit="step",
        file=sys.stdout,
        ascii=True,
        mininterval=0.5,
        ncols=100,
        disable=not progress,
        leave=True,
    )
    model.train()
    record_evaluation(0)
    step = 0
    epoch = 0
    done = False
    try:
        while not done:
            seen_batch = False
            for inputs, targets in batches:
                seen_batch = True
                optimizer.zero_grad()
                loss = loss_fn(model(inputs), targets)
                value = float(loss.detach())
                history.losses.append(value)
                history.lrs.append(_learning_rate(optimizer))
                if not math.isfinite(value) and stop_if_nonfinite:
                    history.diverged = True
                    done = True
                    break
                loss.backward()
                optimizer.step()
                if scheduler is not None and scheduler_every == "step":
                    scheduler.step()
                step += 1
                bar.update(1)
                if progress:
                    bar.set_postfix(loss=f"{value:.4g}", refresh=False)
                if eval_every is not None and step % eval_every == 0:
                    record_evaluation(step)
                if on_step is not None and on_step(step, value) is True:
                    history.stopped_early = True
                    done = True
                    break
                if steps is not None and step >= steps:
                    done = True
                    break
            if not seen_batch:
                raise ValueError("batches yielded no batch")
            if history.diverged or history.stopped_early:
                break
            epoch += 1  # a pass over the batches is complete (or the step budget ended it)
            if scheduler is not None and scheduler_every == "epoch":
                scheduler.step()
            if every_epoch:
                record_evaluation(step)
            if epochs is not None and epoch >= epochs:
                done = True
        record_evaluation(step)
    finally:
        history.seconds = time.perf_counter() - start
        history.steps = step
        if progress:
            summary = {"loss": f"{history.losses[-1]:.4g}"} if history.losses else {}
            summary.update({name: f"{values[-1]:.4g}" for name, values in history.metrics.items()})
            if history.diverged:
                summary["diverged"] = "yes"
            bar.set_postfix(summary, refresh=False)
            bar.refresh()
        bar.close()
    return history


# -- learning-rate sweeps ------------------------------------------------------------------


@dataclass
class Sweep:
    """The metrics of a grid of runs: ``metrics[name][i, j]`` for ``lrs[i]`` and ``seeds[j]``."""

    lrs: list[float]
    seeds: list[int]
    metrics: dict[str, Tensor]

    def mean(self, name: str) -> Tensor:
        """The metric averaged over seeds, one value per learning rate."""
        return self.metrics[name].mean(dim=1)

    def failed(self) -> Tensor:
        """Per learning rate: did any seed's run return a metric that is not finite?"""
        return torch.stack(
            [~torch.isfinite(values).all(dim=1) for values in self.metrics.values()]
        ).any(dim=0)

    def best_lr(self, key: Callable[[dict[str, float]], Any]) -> float:
        """The learning rate whose seed-averaged metrics maximise ``key``.

        ``key`` gets ``{name: mean over seeds}`` and returns something comparable, e.g.
        ``lambda m: (m["val_accuracy"], -m["val_loss"])`` -- the best validation accuracy, ties
        broken by the lower validation loss. A learning rate where any run failed (a
        non-finite metric) is never chosen; among equal keys, the first in ``lrs`` wins.
        """
        failed = self.failed()
        candidates = [i for i in range(len(self.lrs)) if not failed[i]]
        if not candidates:
            raise ValueError("every learning rate of the sweep failed (non-finite metrics)")
        means = {name: self.mean(name) for name in self.metrics}
        best = max(candidates, key=lambda i: key({name: float(m[i]) for name, m in means.items()}))
        return self.lrs[best]


def lr_sweep(
    run: Callable[[float, int], Mapping[str, float]],
    lrs: Sequence[float],
    seeds: Sequence[int] = (0,),
) -> Sweep:
    """Call ``run(lr, seed)`` for every learning rate and seed; collect the metrics it returns.

    ``run`` trains from scratch and returns ``{name: value}`` (the same names every time),
    e.g. the validation accuracy and loss at the end of training. A diverged run should
    return non-finite values (``nan``), which :meth:`Sweep.best_lr` then avoids.
    """
    if len(lrs) == 0 or len(seeds) == 0:
        raise ValueError("lr_sweep needs at least one learning rate and one seed")
    if any(not (lr > 0 and math.isfinite(lr)) for lr in lrs):
        raise ValueError(f"learning rates must be positive and finite, got {list(lrs)}")
    results: dict[str, list[list[float]]] = {}
    for i, lr in enumerate(lrs):
        for j, seed in enumerate(seeds):
            values = run(lr, seed)
            if not results:
                results = {name: [[math.nan] * len(seeds) for _ in lrs] for name in values}
            if set(values) != set(results):
                raise ValueError(
                    f"run returned metrics {sorted(values)} for lr={lr}, seed={seed}; "
                    f"earlier {sorted(results)}"
                )
            for name, value in values.items():
                results[name][i][j] = float(value)
    metrics = {name: torch.tensor(table, dtype=torch.float64) for name, table in results.items()}
    return Sweep(list(map(float, lrs)), list(seeds), metrics)
