"""The homework's reference solution (``chapters/homework_solution.ipynb``): instructors
only.

Not part of the students' package ``optbook``: it lives in the instructor-side package
``optbook_solution`` (``instructor/``), which the students' release leaves out.

The homework (``chapters/homework.ipynb``) asks for a detector of 16-QAM symbols sent
over AWGN in frames, each frame at one Eb/N0, with the lowest bit error rate (BER) on
:func:`optbook.homework.grading.grade`'s fixed grid. This module holds what the solution
needs on top of :mod:`optbook.homework` (the channel, the grader, the baseline and the
exact limits):

- **The detectors** -- :class:`PowerConditionedDetector`: a small network that sees one
  axis value of a received symbol and the received power (:func:`pooled_power`), of the
  symbol alone (a per-symbol detector) or averaged over the frame (``mean |y|^2 = 1 +
  N0``: a frame-aware detector that can approach the genie MAP detector);
  :func:`train_one_cycle` trains either in seconds.
- **A study of optimizers** -- :class:`StackedMLP` trains several seeds of the course's
  per-symbol network side by side as one batched network, :func:`train_stacked` runs one
  (optimizer, learning rate, schedule) setting over several seeds,
  :func:`optimizer_study` a grid of them. For element-wise optimizers (all of the
  study's) a stacked run is exactly the separate runs, batched
  (``tests/test_frame_detection.py`` proves it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from optbook.homework.channel import (
    QAM,
    check_complex,
)
from optbook.homework.grading import make_frames
from optbook.homework.symbol_detection import train_detector, training_batches
from optbook.optimizers.adam import Adam
from optbook.training import History

__all__ = [
    "POOLS",
    "PowerConditionedDetector",
    "StackedMLP",
    "StudyRun",
    "ValidationSet",
    "optimizer_study",
    "pooled_power",
    "train_one_cycle",
    "train_stacked",
    "validation_set",
]

# -- the detectors of the solution -----------------------------------------------------


POOLS = ("symbol", "frame")


def pooled_power(received: Tensor, pool: str = "frame") -> Tensor:
    """The received power ``|y|^2``, averaged over each frame (``"frame"``) or not
    (``"symbol"``).

    With unit average symbol energy and independent noise, ``E|y|^2 = 1 + N0``: a
    frame's mean power minus one estimates its noise variance. For 16-QAM, ``Var|y|^2 =
    0.32 + 2 N0 + N0^2`` (the points' energies vary, the noise adds its own), so over
    256 symbols the estimate has a standard deviation of ``sqrt(0.32 + 2 N0 + N0^2) /
    16``: within about a tenth of N0 at low Eb/N0, where the MAP rule depends on N0, and
    swamped at high Eb/N0, where the MAP rule is the nearest-point rule whatever N0 is.
    A single symbol's power is a much noisier hint, but still one. ``received`` is
    complex ``[frames, symbols]``; returns ``[frames, symbols]`` (real).
    """
    received = check_complex(received)
    if pool not in POOLS:
        raise ValueError(
            "pool must be 'symbol' (each symbol alone) or 'frame' (the whole frame), "
            f"got {pool!r}"
        )
    if received.dim() != 2:
        raise ValueError(
            "received must be frames of symbols, complex [frames, symbols], got shape "
            f"{tuple(received.shape)}"
        )
    power = received.real.square() + received.imag.square()
    if pool == "frame":
        power = power.mean(dim=1, keepdim=True).expand_as(power)
    return power


class PowerConditionedDetector(nn.Module):
    """One small network per axis value, told the received power of a symbol or frame.

    The MAP rule has a simple shape, and this detector copies it:

    - every bit is carried by one axis (``b0, b2`` by ``x = Re y``, ``b1, b3`` by ``Im
      y``), the two axes are alike, and a bit's log-likelihood ratio depends on its
      axis's value and on N0 only: so one network ``net`` serves both axes and sees two
      numbers per axis, the value and ``z = log(P) / 2``, with ``P`` the power of
      :func:`pooled_power`;
    - the levels of an axis are symmetric about 0 and Gray-labelled: flipping the sign
      of ``x`` flips the axis's first bit and keeps the others. So ``net`` sees ``|x|``
      and returns ``h(|x|, z)``; the first bit's logit is ``sign(x) * h_0`` (odd in
      ``x``), the others are ``h_1, ...`` (even in ``x``).

    ``pool="frame"`` gives ``net`` the frame's mean power, from which it can infer N0: a
    DeepSets network with a fixed pooling and a learned per-symbol part, able to
    approach the genie MAP detector. ``pool="symbol"`` gives it the symbol's own power:
    a per-symbol detector, a function of ``y`` alone, that can at best reach the
    per-symbol limit.

    ``net`` defaults to ``Linear(2, hidden) -> ReLU -> Linear(hidden, hidden) -> ReLU ->
    Linear(hidden, k/2)``. Takes received samples, complex ``[frames, symbols]``;
    returns bit logits ``[frames, symbols, k]`` in the order of
    :class:`optbook.homework.channel.QAM`.
    """

    def __init__(
        self,
        pool: str = "frame",
        hidden: int = 64,
        qam: QAM | None = None,
        *,
        net: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if pool not in POOLS:
            raise ValueError(
                "pool must be 'symbol' (each symbol alone) or 'frame' (the whole "
                f"frame), got {pool!r}"
            )
        if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
            raise ValueError(
                "hidden (the width of the hidden layers) must be a positive whole "
                f"number, got {hidden!r}"
            )
        self.pool = pool
        self.qam = qam if qam is not None else QAM(4)
        bits_per_axis = self.qam.bits_per_symbol // 2
        self.net = net if net is not None else nn.Sequential(
            nn.Linear(2, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, bits_per_axis),
        )  # fmt: skip

    def extra_repr(self) -> str:
        return f"pool={self.pool!r}"

    def forward(self, received: Tensor) -> Tensor:
        power = pooled_power(received, self.pool)  # [F, S]
        dtype = next(self.net.parameters()).dtype
        x = torch.view_as_real(received).to(dtype)  # [F, S, 2 axes]
        z = (0.5 * torch.log(power + 1e-12)).to(dtype)  # [F, S]
        inputs = torch.stack(
            (x.abs(), z.unsqueeze(-1).expand_as(x)), dim=-1
        )  # [F, S, 2, 2]
        h = self.net(inputs)  # [F, S, 2 axes, k/2 bits per axis]
        first = torch.sign(x) * h[..., 0]  # odd in x: the sign bit
        logits = torch.cat((first.unsqueeze(-1), h[..., 1:]), dim=-1)
        # interleave: b0 = real bit 0, b1 = imaginary bit 0, b2 = real bit 1, ...
        return logits.transpose(-1, -2).flatten(-2)


def train_one_cycle(
    model: nn.Module,
    *,
    steps: int = 300,
    batch_frames: int = 16,
    symbols_per_frame: int = 256,
    lr: float = 2e-2,
    seed: int = 0,
    ebn0_range: tuple[float, float] = (-20.0, 20.0),
    grid_points: int | None = None,
    progress: bool = False,
    desc: str = "train",
) -> History:
    """Train a detector with Adam and a one-cycle learning-rate schedule; return its
    history.

    Batches of ``batch_frames`` frames of ``symbols_per_frame`` symbols, every frame at
    its own Eb/N0 drawn uniformly from ``ebn0_range`` (continuous, or from
    ``grid_points`` evenly spaced values), fresh at every step
    (:func:`optbook.homework.symbol_detection.training_batches`); the loss is the binary
    cross-entropy on the logits
    (:func:`optbook.homework.symbol_detection.train_detector`). The optimizer is the
    book's :class:`optbook.optimizers.adam.Adam` (equal to ``torch.optim.Adam``);
    ``OneCycleLR`` warms the learning rate up to ``lr`` over the first 30 % of the steps
    and anneals it to almost zero by the last. The data stream is seeded with ``seed``;
    the model's initialisation is the caller's (seed torch before building it). The
    batches are made on the device of the model's parameters.

    Frames of 256 symbols, as in the grade, matter for a detector that pools over the
    frame: the power of a training frame must be as noisy a hint of N0 as that of a
    graded frame, so that the network learns how far to trust it.
    """
    device = next(model.parameters()).device
    batches = training_batches(
        batch_frames=batch_frames,
        symbols_per_frame=symbols_per_frame,
        generator=torch.Generator(device=device).manual_seed(seed),
        ebn0_range=ebn0_range,
        grid_points=grid_points,
    )
    optimizer = Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=steps
    )
    return train_detector(
        model,
        optimizer,
        batches,
        steps,
        scheduler=scheduler,
        progress=progress,
        desc=desc,
    )


# -- the study of optimizers: several seeds side by side -------------------------------


class StackedMLP(nn.Module):
    """``replicas`` independent per-symbol MLPs, evaluated side by side with batched
    matmuls.

    Replica ``r`` starts with exactly the weights that ``torch.manual_seed(seeds[r])``
    followed by ``nn.Sequential(nn.Linear(sizes[0], sizes[1]), nn.ReLU(), ...,
    nn.Linear(sizes[-2], sizes[-1]))`` would get (with ``sizes=(2, 32, 4)``: the
    course's baseline, :class:`optbook.homework.symbol_detection.CourseBaselineMLP`).
    Parameters are ``weights[i]``, ``[R, in, out]``, and ``biases[i]``, ``[R, 1, out]``;
    the replicas share no number, so the gradient of a sum of per-replica losses gives
    each replica its own gradient, and an element-wise optimizer (SGD with or without
    momentum, Adagrad, RMSProp, Adam, AdamW) moves each replica exactly as it would move
    it alone.

    ``forward`` takes features ``[R, ..., sizes[0]]`` (each replica its own inputs) and
    returns ``[R, ..., sizes[-1]]``; :meth:`replica` returns one replica as an ordinary
    ``nn.Sequential``.
    """

    def __init__(
        self,
        seeds: Sequence[int],
        sizes: Sequence[int] = (2, 32, 4),
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if len(seeds) == 0:
            raise ValueError("seeds must hold at least one seed (one replica per seed)")
        if len(sizes) < 2 or any(
            isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes
        ):
            raise ValueError(
                "sizes must be at least two positive layer widths, e.g. (2, 32, 4), "
                f"got {sizes!r}"
            )
        self.sizes = tuple(sizes)
        self.seeds = list(seeds)
        nets = []
        for seed in seeds:
            torch.manual_seed(seed)
            nets.append(_mlp(self.sizes).to(dtype))
        linears = [[m for m in net if isinstance(m, nn.Linear)] for net in nets]
        self.weights = nn.ParameterList(
            nn.Parameter(
                torch.stack(
                    [layers[i].weight.detach().T for layers in linears]
                ).contiguous()
            )
            for i in range(len(self.sizes) - 1)
        )
        self.biases = nn.ParameterList(
            nn.Parameter(
                torch.stack([layers[i].bias.detach()[None, :] for layers in linears])
            )
            for i in range(len(self.sizes) - 1)
        )

    @property
    def replicas(self) -> int:
        return len(self.seeds)

    def forward(self, features: Tensor) -> Tensor:
        r = self.replicas
        if (
            features.dim() < 2
            or features.shape[0] != r
            or features.shape[-1] != self.sizes[0]
        ):
            raise ValueError(
                f"StackedMLP wants features [replicas={r}, ..., {self.sizes[0]}], got "
                f"{tuple(features.shape)}"
            )
        shape = features.shape
        h = features.reshape(r, -1, shape[-1]).to(self.weights[0].dtype)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = torch.relu(h)
        return h.reshape(*shape[:-1], self.sizes[-1])

    def replica(self, index: int) -> nn.Sequential:
        """Replica ``index`` as an ordinary ``nn.Sequential`` (a copy of its current
        weights)."""
        net = _mlp(self.sizes).to(self.weights[0].dtype)
        layers = [m for m in net if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for layer, w, b in zip(layers, self.weights, self.biases, strict=True):
                layer.weight.copy_(w[index].T)
                layer.bias.copy_(b[index, 0])
        return net


def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


@dataclass(frozen=True)
class ValidationSet:
    """Fixed validation frames on a grid of Eb/N0 values (the same for every run of a
    study).

    ``features`` float32 ``[frames, symbols, 2]`` (Re y, Im y), ``bits`` ``[frames,
    symbols, k]``, ``ebn0_db`` ``[frames]``; the BER of a run is the fraction of wrong
    bits over all frames, i.e. the BER averaged over the grid (equal frames per point).
    """

    features: Tensor
    bits: Tensor
    ebn0_db: Tensor


def validation_set(
    num_points: int = 41,
    frames_per_point: int = 4,
    symbols_per_frame: int = 256,
    *,
    seed: int = 12345,
    low_db: float = -20.0,
    high_db: float = 20.0,
    device: torch.device | str | None = None,
) -> ValidationSet:
    """Frames on ``num_points`` evenly spaced Eb/N0 values, ``frames_per_point`` at
    each, seeded."""
    generator = torch.Generator().manual_seed(seed)
    ebn0_db = torch.linspace(low_db, high_db, num_points).repeat_interleave(
        frames_per_point
    )
    frames = make_frames(len(ebn0_db), symbols_per_frame, ebn0_db, generator=generator)
    features = torch.view_as_real(frames.received).contiguous()
    return ValidationSet(features.to(device), frames.bits.to(device), ebn0_db)


@dataclass
class StudyRun:
    """One (optimizer, learning rate, schedule) setting, trained over several seeds at
    once.

    ``losses[t, r]`` is replica ``r``'s mini-batch loss at step ``t + 1`` (before that
    step's update), ``ber[i, r]`` its validation BER after ``eval_steps[i]`` steps. A
    replica whose loss stops being finite is marked in ``diverged``; its later values
    are ``nan``. ``model`` is the trained :class:`StackedMLP`.
    """

    optimizer: str
    lr: float
    schedule: str
    seeds: list[int]
    losses: Tensor
    eval_steps: list[int]
    ber: Tensor
    seconds: float
    diverged: Tensor = field(repr=False)
    model: StackedMLP | None = field(default=None, repr=False)

    @property
    def final_ber(self) -> Tensor:
        """Each seed's final validation BER, ``[seeds]`` (``nan`` if it diverged)."""
        return self.ber[-1]

    def smoothed_losses(self, window: int = 25) -> Tensor:
        """The losses averaged over a trailing window of ``window`` steps, ``[steps,
        seeds]``."""
        kernel = torch.ones(1, 1, window, dtype=torch.float64) / window
        padded = torch.nn.functional.pad(
            self.losses.T[:, None, :], (window - 1, 0), mode="replicate"
        )
        return torch.nn.functional.conv1d(padded, kernel)[:, 0, :].T


OptimizerFactory = Callable[..., torch.optim.Optimizer]


def train_stacked(
    make_optimizer: OptimizerFactory,
    lr: float,
    *,
    seeds: Sequence[int] = (0, 1, 2),
    steps: int = 300,
    schedule: str = "constant",
    sizes: Sequence[int] = (2, 32, 4),
    batch_frames: int = 32,
    symbols_per_frame: int = 32,
    validation: ValidationSet | None = None,
    eval_every: int = 50,
    name: str = "",
    dtype: torch.dtype = torch.float32,
) -> StudyRun:
    """Train one replica of the per-symbol MLP per seed, side by side; return a
    :class:`StudyRun`.

    Replica ``r`` starts from ``torch.manual_seed(seeds[r])``'s initialisation and draws
    its batches from its own stream, ``training_batches(batch_frames=...,
    symbols_per_frame=..., generator=torch.Generator().manual_seed(seeds[r]))`` (the
    course's Eb/N0 grid): the very data that
    :func:`optbook.homework.symbol_detection.train_detector` would see with that
    generator. The loss is the sum over replicas of each replica's mean binary
    cross-entropy, so each replica gets its own gradient. ``make_optimizer(params,
    lr=lr)`` builds the optimizer (e.g. ``optbook.optimizers.adam.Adam`` or a
    ``functools.partial`` of it); ``schedule="cosine"`` anneals the learning rate to 0
    over ``steps`` steps (``CosineAnnealingLR``), ``"constant"`` keeps it. The
    validation BER is measured every ``eval_every`` steps and at the start and end.
    """
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"schedule must be 'constant' or 'cosine', got {schedule!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive whole number, got {steps!r}")
    if (
        isinstance(eval_every, bool)
        or not isinstance(eval_every, int)
        or eval_every < 1
    ):
        raise ValueError(
            f"eval_every must be a positive whole number, got {eval_every!r}"
        )
    start = time.perf_counter()
    model = StackedMLP(seeds, sizes, dtype)
    optimizer = make_optimizer(model.parameters(), lr=lr)
    scheduler = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
        if schedule == "cosine"
        else None
    )
    streams = [
        training_batches(
            batch_frames=batch_frames,
            symbols_per_frame=symbols_per_frame,
            generator=torch.Generator().manual_seed(seed),
        )
        for seed in seeds
    ]
    replicas = len(seeds)
    losses = torch.full((steps, replicas), math.nan, dtype=torch.float64)
    diverged = torch.zeros(replicas, dtype=torch.bool)
    eval_steps: list[int] = []
    bers: list[Tensor] = []

    def measure(step: int) -> None:
        eval_steps.append(step)
        if validation is None:
            bers.append(torch.full((replicas,), math.nan, dtype=torch.float64))
            return
        with torch.no_grad():
            features = validation.features.unsqueeze(0).expand(
                replicas, *validation.features.shape
            )
            logits = model(features)
            wrong = (logits > 0) != validation.bits.bool()
            ber = wrong.flatten(1).to(torch.float64).mean(1)
        bers.append(torch.where(diverged, math.nan, ber))

    measure(0)
    for step in range(1, steps + 1):
        received, bits = zip(*(stream.draw() for stream in streams), strict=True)
        features = torch.view_as_real(torch.stack(received))  # [R, F, S, 2]
        targets = torch.stack(bits).to(dtype)  # [R, F, S, k]
        logits = model(features)
        per_replica = (
            nn.functional.binary_cross_entropy_with_logits(
                logits, targets, reduction="none"
            )
            .flatten(1)
            .mean(1)
        )  # [R]
        values = per_replica.detach().to(torch.float64)
        losses[step - 1] = torch.where(diverged, math.nan, values)
        diverged |= ~torch.isfinite(values)
        if bool(diverged.all()):
            break
        # a diverged replica's loss is left out, so that it cannot poison the others
        total = torch.where(diverged, 0.0, per_replica).sum()
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if step % eval_every == 0 or step == steps:
            measure(step)
    if eval_steps[-1] != steps:  # stopped early: every replica diverged
        measure(steps)
    return StudyRun(
        optimizer=name or getattr(make_optimizer, "__name__", type(optimizer).__name__),
        lr=float(lr),
        schedule=schedule,
        seeds=list(seeds),
        losses=losses,
        eval_steps=eval_steps,
        ber=torch.stack(bers),
        seconds=time.perf_counter() - start,
        diverged=diverged,
        model=model,
    )


def optimizer_study(
    optimizers: Mapping[str, tuple[OptimizerFactory, Sequence[float]]],
    *,
    schedules: Sequence[str] = ("constant", "cosine"),
    **settings: Any,
) -> list[StudyRun]:
    """Every optimizer at each of its learning rates, under each schedule: a list of
    runs.

    ``optimizers`` maps a name to ``(make_optimizer, learning_rates)``; ``settings`` are
    passed to :func:`train_stacked` (``seeds``, ``steps``, ``validation``, ...).
    """
    runs = []
    for name, (make_optimizer, lrs) in optimizers.items():
        for schedule in schedules:
            for lr in lrs:
                runs.append(
                    train_stacked(
                        make_optimizer, lr, schedule=schedule, name=name, **settings
                    )
                )
    return runs
