"""The book's small training helper: one loop, written once, reused by every chapter.

The loop is the one from the ``torch.optim`` documentation::

    for inputs, targets in batches:
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        scheduler.step()          # if there is one: after the optimizer's step

:func:`train` runs it for a number of steps or epochs and returns a :class:`History`:
the loss of every step, the learning rate of every step, and whatever ``evaluate``
measured at regular intervals. A run whose loss stops being a finite number (a learning
rate too large) ends there and says so (``History.diverged``), instead of filling the
rest with ``nan``.

Around it:

- :class:`MiniBatches` -- shuffled mini-batches of tensors that are already in memory
  (or on the GPU), reshuffled on every pass, reproducible from a seed; much faster than
  a ``DataLoader`` for small data sets.
- :func:`evaluate` and :func:`accuracy` -- metrics over a whole data set, without
  gradients.
- :func:`lr_sweep` and :class:`Sweep` -- a learning-rate grid times a few seeds, and the
  choice of the best learning rate, strictly inside the grid; :class:`Spread` -- a
  metric's mean, deviation and range over seeds.
- :func:`stack_models`, :class:`SeedBatches`, :func:`seedwise`, :func:`evaluate_seeds`
  -- several seeds' copies of a small network trained at once, as one model, with one
  optimizer: exactly the separate runs, for about the price of one.

Nothing here is global: a run depends only on its arguments (and, for a model's random
initialisation, on the seed the caller sets). ``progress=True`` shows a plain-text
progress bar (:func:`optbook.runtime.progress_bar`): live in a terminal, Jupyter and
Colab, printed once, finished, in the built book. Used in the chapter "Comparing
optimizers honestly" and the homework.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from optbook.runtime import progress_bar

Batch = Sequence[Tensor]
"""A pair ``(inputs, targets)``."""

Metric = Callable[[Tensor, Tensor], Tensor]
"""``metric(outputs, targets)``: the mean of a quantity over a batch, a 0-d tensor."""


# -- data ------------------------------------------------------------------------------


class MiniBatches:
    """Mini-batches ``(x[i], y[i])`` of in-memory tensors, reshuffled on every pass.

    Iterating over it twice gives two epochs with two different orders; the sequence of
    all epochs is fixed by ``seed``. ``drop_last=True`` drops a last, smaller batch.
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
                "x and y must hold the same number of examples, "
                f"got {len(x)} and {len(y)}"
            )
        if len(x) == 0:
            raise ValueError("x and y hold no examples")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                "batch_size is the number of examples per step: a positive integer, "
                f"got {batch_size!r}"
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


# -- metrics ---------------------------------------------------------------------------


def accuracy(outputs: Tensor, targets: Tensor) -> Tensor:
    """The fraction of rows of ``outputs`` (class scores) whose largest entry is the
    target."""
    return (outputs.argmax(dim=-1) == targets).to(torch.float64).mean()


@torch.no_grad()
def evaluate(
    model: nn.Module, data: Batch | Iterable[Batch], metrics: Mapping[str, Metric]
) -> dict[str, float]:
    """Each metric's mean over all examples of ``data`` (eval mode, no gradients).

    ``data`` is one pair ``(inputs, targets)`` (the whole set at once) or an iterable of
    such pairs (a :class:`MiniBatches`, a ``DataLoader``); batch means are weighted by
    batch size. The model's train/eval mode is restored afterwards.
    """
    if not metrics:
        raise ValueError(
            "metrics is empty: give at least one, e.g. {'accuracy': accuracy}"
        )
    is_pair = (
        isinstance(data, Sequence)
        and len(data) == 2
        and all(isinstance(t, Tensor) for t in data)
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


# -- the training loop -----------------------------------------------------------------


@dataclass
class History:
    """What :func:`train` recorded.

    ``losses[k]`` and ``lrs[k]`` are the mini-batch loss and the (first group's)
    learning rate of step ``k + 1``, the loss measured before that step's update.
    ``eval_steps`` are the steps after which ``evaluate`` ran (0 is the start), and
    ``metrics[name][i]`` is its value at ``eval_steps[i]``.
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
        """A metric's values at ``eval_steps``, a float64 tensor (``"loss"``: every
        step's loss)."""
        if name == "loss":
            return torch.tensor(self.losses, dtype=torch.float64)
        if name not in self.metrics:
            raise KeyError(
                f"no metric {name!r} was evaluated; there are {sorted(self.metrics)}"
            )
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
        batches: pairs ``(inputs, targets)`` already on the model's device; it is
            iterated once per epoch, so it must be re-iterable (a :class:`MiniBatches`,
            a list, a
            ``DataLoader``), not a generator.
        loss_fn: ``loss_fn(model(inputs), targets)`` is the 0-d loss, e.g.
        ``nn.CrossEntropyLoss()``. steps, epochs: the budget, exactly one of the two.
        With ``steps``, the passes over
            ``batches`` repeat until that many optimizer steps are done.
        scheduler: a learning-rate scheduler of ``optimizer`` (``scheduler.step()`` with
            no argument), stepped after the optimizer, every step or every epoch
            (``scheduler_every``).
        evaluate: ``evaluate(model) -> {name: value}``, run at the start, every
            ``eval_every`` steps and at the end. With ``epochs`` and no ``eval_every``,
            after every epoch; with ``steps`` and no ``eval_every``, at the start and
            the end only.
        on_step: ``on_step(step, loss)`` after every step (step counts from 1);
        returning
            ``True`` stops the run (early stopping).
        stop_if_nonfinite: end the run, marked ``diverged``, at the first loss that is
            ``inf`` or ``nan`` (that loss is recorded; no step is taken from it).
        progress: show a plain-text progress bar (:func:`optbook.runtime.progress_bar`:
            ASCII, on ``stdout``, live in Jupyter, printed once where
            ``OPTBOOK_FINAL_PROGRESS=1``) that ends in a summary line; off by default.
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
            "eval_every is a number of steps between evaluations: a positive integer, "
            f"got {eval_every!r}"
        )
    if scheduler_every not in ("step", "epoch"):
        raise ValueError(
            f"scheduler_every must be 'step' or 'epoch', got {scheduler_every!r}"
        )
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
                f"evaluate returned metrics {sorted(values)}, "
                f"earlier {sorted(history.metrics)}"
            )
        for name, value in values.items():
            history.metrics[name].append(float(value))
        history.eval_steps.append(step)

    bar = progress_bar(total, desc, enabled=progress)
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
            # a pass over the batches is complete (or the step budget ended it)
            epoch += 1
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
            summary.update(
                {name: f"{values[-1]:.4g}" for name, values in history.metrics.items()}
            )
            if history.diverged:
                summary["diverged"] = "yes"
            bar.set_postfix(summary, refresh=False)
            bar.refresh()
        bar.close()
    return history


# -- learning-rate sweeps --------------------------------------------------------------


@dataclass
class Sweep:
    """A grid of runs: ``metrics[name][i, j]`` for ``lrs[i]`` and ``seeds[j]``."""

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

    def best_lr(
        self, key: Callable[[dict[str, float]], Any], *, inside: bool = False
    ) -> float:
        """The learning rate whose seed-averaged metrics maximise ``key``.

        ``key`` gets ``{name: mean over seeds}`` and returns something comparable, e.g.
        ``lambda m: (m["val_accuracy"], -m["val_loss"])`` -- the best validation
        accuracy, ties broken by the lower validation loss. A learning rate where any
        run failed (a non-finite metric) is never chosen; among equal keys, the first in
        ``lrs`` wins.

        ``inside=True`` is the protocol's check: the best value must lie strictly inside
        the grid. At its first or last point a better value may lie beyond the grid, so
        that is an error that asks for a wider grid.
        """
        failed = self.failed()
        candidates = [i for i in range(len(self.lrs)) if not failed[i]]
        if not candidates:
            raise ValueError(
                "every learning rate of the sweep failed (non-finite metrics)"
            )
        means = {name: self.mean(name) for name in self.metrics}
        best = max(
            candidates,
            key=lambda i: key({name: float(m[i]) for name, m in means.items()}),
        )
        if inside and best in (0, len(self.lrs) - 1):
            edge = "smallest" if best == 0 else "largest"
            raise ValueError(
                f"the best learning rate {self.lrs[best]:g} is the {edge} of the grid "
                f"[{min(self.lrs):g}, {max(self.lrs):g}]: a better one may lie "
                "beyond it; widen the grid"
            )
        return self.lrs[best]

    def spread(self, name: str, lr: float) -> Spread:
        """The spread over seeds of metric ``name`` at the grid point ``lr``."""
        if lr not in self.lrs:
            raise ValueError(f"lr={lr!r} is not a point of the grid {self.lrs}")
        return Spread.of(self.metrics[name][self.lrs.index(lr)])


def lr_sweep(
    run: Callable[..., Mapping[str, Any]],
    lrs: Sequence[float],
    seeds: Sequence[int] = (0,),
    *,
    together: bool = False,
) -> Sweep:
    """Call ``run(lr, seed)`` for every learning rate and seed; collect its metrics.

    ``run`` trains from scratch and returns ``{name: value}`` (the same names every
    time), e.g. the validation accuracy and loss at the end of training. A diverged run
    should return non-finite values (``nan``), which :meth:`Sweep.best_lr` then avoids.

    ``together=True``: ``run(lr, seeds)`` trains all seeds at once (e.g. a
    :func:`stack_models` model on :class:`SeedBatches`) and returns
    ``{name: one value per seed}``.
    """
    if len(lrs) == 0 or len(seeds) == 0:
        raise ValueError("lr_sweep needs at least one learning rate and one seed")
    if any(not (lr > 0 and math.isfinite(lr)) for lr in lrs):
        raise ValueError(f"learning rates must be positive and finite, got {list(lrs)}")
    results: dict[str, list[list[float]]] = {}

    def store(i: int, lr: float, j: int, values: Mapping[str, Any], who: str) -> None:
        nonlocal results
        if not results:
            results = {name: [[math.nan] * len(seeds) for _ in lrs] for name in values}
        if set(values) != set(results):
            raise ValueError(
                f"run returned metrics {sorted(values)} for lr={lr}, {who}; "
                f"earlier {sorted(results)}"
            )
        for name, value in values.items():
            results[name][i][j] = float(value)

    for i, lr in enumerate(lrs):
        if not together:
            for j, seed in enumerate(seeds):
                store(i, lr, j, run(lr, seed), f"seed={seed}")
            continue
        values = run(lr, list(seeds))
        for name, per_seed in values.items():
            if len(per_seed) != len(seeds):
                raise ValueError(
                    f"with together=True, run must return one value per seed: metric "
                    f"{name!r} has {len(per_seed)} values for {len(seeds)} seeds"
                )
        for j, seed in enumerate(seeds):
            one = {name: per_seed[j] for name, per_seed in values.items()}
            store(i, lr, j, one, f"seed={seed}")
    metrics = {
        name: torch.tensor(table, dtype=torch.float64)
        for name, table in results.items()
    }
    return Sweep(list(map(float, lrs)), list(seeds), metrics)


# -- the spread over seeds -------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """A metric over several seeds: its mean, standard deviation, minimum and maximum.

    ``format(spread, ".3f")`` gives ``"0.967 ± 0.004"`` (mean ± standard deviation).
    """

    mean: float
    std: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Tensor | Sequence[float]) -> Spread:
        """The spread of ``values`` (one per seed); the deviation is 0 for one value."""
        values = torch.as_tensor(values, dtype=torch.float64).flatten()
        if len(values) == 0:
            raise ValueError("a spread needs at least one value")
        std = float(values.std()) if len(values) > 1 else 0.0
        return cls(
            float(values.mean()),
            std,
            float(values.min()),
            float(values.max()),
            len(values),
        )

    def __format__(self, spec: str) -> str:
        return f"{format(self.mean, spec)} ± {format(self.std, spec)}"

    def overlaps(self, other: Spread) -> bool:
        """Do the two ranges [low, high] overlap? (If so, no seed-proof ordering.)"""
        return self.low <= other.high and other.low <= self.high


# -- several seeds trained at once -----------------------------------------------------


class SeedBatches:
    """The mini-batches of several seeds, side by side: batch ``[s]`` is seed ``s``'s.

    Each seed's sequence of batches is exactly ``MiniBatches(x, y, batch_size,
    seed=seed)``; the pairs are stacked along a new first dimension, ``(x[S, B, ...],
    y[S, B])``, for a :func:`stack_models` model.
    """

    def __init__(
        self, x: Tensor, y: Tensor, batch_size: int, seeds: Sequence[int]
    ) -> None:
        if len(seeds) == 0:
            raise ValueError("SeedBatches needs at least one seed")
        self.seeds = list(seeds)
        self.parts = [MiniBatches(x, y, batch_size, seed=seed) for seed in self.seeds]

    def __len__(self) -> int:
        return len(self.parts[0])

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        for pairs in zip(*self.parts, strict=True):
            yield (
                torch.stack([inputs for inputs, _ in pairs]),
                torch.stack([targets for _, targets in pairs]),
            )


class StackedLinear(nn.Module):
    """``S`` linear layers side by side: ``out[s] = inputs[s] @ weight[s].T + bias[s]``.

    ``weight`` has shape ``[S, out, in]`` and ``bias`` ``[S, out]``: slice ``s`` is the
    ``weight`` and ``bias`` of the ``s``-th ``nn.Linear``.
    """

    def __init__(self, layers: Sequence[nn.Linear]) -> None:
        super().__init__()
        if any(layer.bias is None for layer in layers):
            raise ValueError("stack_models supports nn.Linear layers with a bias only")
        self.weight = nn.Parameter(torch.stack([la.weight.detach() for la in layers]))
        self.bias = nn.Parameter(torch.stack([la.bias.detach() for la in layers]))

    def forward(self, inputs: Tensor) -> Tensor:
        return torch.baddbmm(
            self.bias.unsqueeze(1), inputs, self.weight.transpose(1, 2)
        )


ELEMENTWISE = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.LeakyReLU, nn.ELU, nn.SiLU)


def stack_models(models: Sequence[nn.Sequential]) -> nn.Sequential:
    """One model that holds ``len(models)`` copies of an MLP and runs them side by side.

    The models are ``nn.Sequential`` stacks of ``nn.Linear`` layers and elementwise
    activations, with the same shapes (e.g. one architecture initialised with several
    seeds). The result takes inputs ``[S, B, features]`` and returns ``[S, B,
    outputs]``; each of its parameters stacks the corresponding parameters of the ``S``
    models along a first dimension.

    Why: every optimizer of this book updates each coordinate from that coordinate's own
    gradients (and a step counter), so one optimizer on the stacked parameters, with
    the loss :func:`seedwise` (the sum of the models' losses, whose gradient with
    respect to model ``s``'s weights is that of model ``s``'s own loss), takes exactly
    the steps that ``S`` separate optimizers would take, up to floating-point rounding,
    for the price of about one run. An optimizer that couples coordinates (gradient
    clipping by the global norm, L-BFGS) would not. If one model's loss is not finite,
    the sum is not, and the whole stacked run stops.
    """
    if len(models) == 0:
        raise ValueError("stack_models needs at least one model")
    layers = []
    for position, layer in enumerate(models[0]):
        group = [model[position] for model in models]
        if isinstance(layer, nn.Linear):
            if any(la.weight.shape != layer.weight.shape for la in group):
                raise ValueError(f"layer {position}: the models' shapes differ")
            layers.append(StackedLinear(group))
        elif isinstance(layer, ELEMENTWISE):
            layers.append(layer)
        else:
            raise ValueError(
                f"layer {position} is a {type(layer).__name__}: stack_models supports "
                "nn.Linear and elementwise activations only"
            )
    if any(len(model) != len(models[0]) for model in models):
        raise ValueError("the models have different numbers of layers")
    reference = next(models[0].parameters())
    return nn.Sequential(*layers).to(device=reference.device, dtype=reference.dtype)


def seedwise(
    loss_fn: Callable[[Tensor, Tensor], Tensor],
) -> Callable[[Tensor, Tensor], Tensor]:
    """The loss of a stacked model: ``sum over s of loss_fn(outputs[s], targets[s])``.

    Every copy's batch has the same size, so each copy's gradient is its own loss's.
    """

    def loss(outputs: Tensor, targets: Tensor) -> Tensor:
        return sum(loss_fn(out, tgt) for out, tgt in zip(outputs, targets, strict=True))

    return loss


@torch.no_grad()
def evaluate_seeds(
    model: nn.Module, data: Batch, metrics: Mapping[str, Metric]
) -> dict[str, Tensor]:
    """Each metric of each stacked copy on the whole set ``data = (inputs, targets)``.

    Returns ``{name: tensor of S values}`` (float64), in the order of the stacked
    models.
    """
    if not metrics:
        raise ValueError(
            "metrics is empty: give at least one, e.g. {'accuracy': accuracy}"
        )
    inputs, targets = data
    copies = next(model.parameters()).shape[0]
    was_training = model.training
    model.eval()
    try:
        outputs = model(inputs.expand(copies, *inputs.shape))
    finally:
        model.train(was_training)
    return {
        name: torch.tensor(
            [float(metric(out, targets)) for out in outputs], dtype=torch.float64
        )
        for name, metric in metrics.items()
    }
