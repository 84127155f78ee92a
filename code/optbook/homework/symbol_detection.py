"""Training detectors for the homework (``chapters/homework.ipynb``): data, model,
loop, limits.

The homework sends 16-QAM symbols over AWGN in frames, each frame at one Eb/N0, and asks
for a detector with a low bit error rate (BER). This module holds what a student's
notebook needs around :mod:`optbook.homework.channel` and
:mod:`optbook.homework.grading`:

- :func:`training_batches` -- an endless stream of ``(received, bits)`` batches drawn
  as the course draws them (every frame at its own Eb/N0, fresh bits and noise at
  every step);
- :class:`CourseBaselineMLP` -- the course's per-symbol network, 2-32-4, and
  :func:`as_detector`, which turns any per-symbol network into a detector;
- :func:`train_detector` -- the training loop (:func:`optbook.training.train`) with the
  bit-wise binary cross-entropy as its loss;
- :func:`course_validation_ber` -- the course's own metric, for comparison with its log;
- :class:`PerSymbolBayesDetector` -- the best detector that looks at one symbol at a
  time and does not know Eb/N0: the per-symbol limit, to be graded next to the
  others;
- :func:`judge` -- the rubric: where a graded detector stands among the references.

**The detector interface** (the one :func:`optbook.homework.grading.grade` calls):
received samples, complex ``[frames, symbols]``, in; bit logits ``[frames, symbols,
bits_per_symbol]`` out, ``logit > 0`` meaning bit 1. A model that follows it is trained
and graded as it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from optbook.homework.channel import QAM, check_complex, ebn0_db_to_n0
from optbook.homework.grading import GradeResult, make_frames, sample_ebn0_db
from optbook.runtime import progress_bar
from optbook.training import History, train

__all__ = [
    "COURSE_GRID_POINTS",
    "CourseBaselineMLP",
    "Judgement",
    "PerSymbolBayesDetector",
    "Rung",
    "SymbolwiseDetector",
    "TrainingBatches",
    "as_detector",
    "course_validation_ber",
    "judge",
    "per_symbol_bayes_logits",
    "train_detector",
    "training_batches",
]

COURSE_GRID_POINTS = 3200
"""The course draws each frame's Eb/N0 from ``linspace(-20, 20, 3200)``."""


# -- data ------------------------------------------------------------------------------


class TrainingBatches:
    """An endless, re-iterable stream of ``(received, bits)`` batches; see
    :func:`training_batches`.

    Every ``next`` draws a new batch from the one shared ``generator``: iterating twice
    does not repeat batches, it continues the stream (so :func:`optbook.training.train`
    can use it).
    """

    def __init__(
        self,
        qam: QAM,
        batch_frames: int,
        symbols_per_frame: int,
        generator: torch.Generator | None,
        ebn0_range: tuple[float, float],
        grid_points: int | None,
    ) -> None:
        _check_positive_int(batch_frames, "batch_frames (frames per batch)")
        _check_positive_int(symbols_per_frame, "symbols_per_frame")
        low, high = (float(v) for v in ebn0_range)
        if not low <= high:
            raise ValueError(
                "ebn0_range is (lowest, highest) Eb/N0 in dB, so its first value must "
                "not "
                f"exceed its second, got {ebn0_range}"
            )
        if grid_points is not None:
            _check_positive_int(grid_points, "grid_points")
        self.qam = qam
        self.batch_frames = batch_frames
        self.symbols_per_frame = symbols_per_frame
        self.generator = generator
        self.ebn0_range = (low, high)
        self.grid_points = grid_points

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        while True:
            yield self.draw()

    def draw(self) -> tuple[Tensor, Tensor]:
        """One batch: received complex64 ``[frames, symbols]``, bits float32 ``[frames,
        symbols, k]``."""
        low, high = self.ebn0_range
        ebn0_db = sample_ebn0_db(
            self.batch_frames,
            low,
            high,
            grid_points=self.grid_points,
            generator=self.generator,
        )
        frames = make_frames(
            self.batch_frames, self.symbols_per_frame, ebn0_db, self.qam, self.generator
        )
        return frames.received, frames.bits

    def __repr__(self) -> str:
        return (
            f"training_batches({self.qam!r}, batch_frames={self.batch_frames}, "
            f"symbols_per_frame={self.symbols_per_frame}, "
            f"ebn0_range={self.ebn0_range}, "
            f"grid_points={self.grid_points})"
        )


def training_batches(
    qam: QAM | None = None,
    batch_frames: int = 32,
    symbols_per_frame: int = 256,
    generator: torch.Generator | None = None,
    ebn0_range: tuple[float, float] = (-20.0, 20.0),
    *,
    grid_points: int | None = COURSE_GRID_POINTS,
) -> TrainingBatches:
    """Training data as the course draws it: an endless stream of ``(received, bits)``.

    Each batch holds ``batch_frames`` frames of ``symbols_per_frame`` symbols of ``qam``
    (16-QAM if not given). Each frame is sent at its own Eb/N0, drawn uniformly from
    ``grid_points`` evenly spaced values over ``ebn0_range`` (the course's 3200-point
    grid; ``grid_points=None`` draws from the continuous interval). Bits and noise are
    new at every step, so there are no epochs and nothing to overfit. The course's
    batches are 32 frames of 16384 symbols; fewer symbols per frame make a step much
    cheaper.

    The batches are made on the device of ``generator`` (the CPU if it is ``None``), so
    that ``torch.Generator(device=device).manual_seed(...)`` gives batches on the GPU.
    ``received`` is complex64 ``[batch_frames, symbols_per_frame]``, ``bits`` float32
    ``[batch_frames, symbols_per_frame, k]`` (the targets of the loss). Each frame's
    noise variance is not handed out: a detector never gets it.
    """
    qam = qam if qam is not None else QAM(4)
    return TrainingBatches(
        qam, batch_frames, symbols_per_frame, generator, ebn0_range, grid_points
    )


# -- models ----------------------------------------------------------------------------


class SymbolwiseDetector(nn.Module):
    """A per-symbol network applied to every received symbol: a detector for the grader.

    ``net`` maps the features of one symbol, ``(Re y, Im y)`` in the last dimension
    (``[..., 2]``), to its bit logits ``[..., k]``. This module takes received samples,
    complex ``[frames, symbols]``, and returns ``net``'s logits ``[frames, symbols,
    k]``. It holds ``net`` itself (the same parameters), so an optimizer of either
    trains both.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        if not isinstance(net, nn.Module):
            raise TypeError(
                "as_detector wants a torch.nn.Module that maps (Re y, Im y) of shape "
                "[..., 2] "
                f"to bit logits [..., k], got {type(net).__name__}"
            )
        self.net = net

    def forward(self, received: Tensor) -> Tensor:
        received = check_complex(received)
        features = torch.view_as_real(received)  # [frames, symbols, 2]: (Re y, Im y)
        dtype = _floating_dtype(self.net)
        if dtype is not None and features.dtype != dtype:
            features = features.to(dtype)
        return self.net(features)


def as_detector(net: nn.Module) -> SymbolwiseDetector:
    """Turn a per-symbol network into a detector that
    :func:`optbook.homework.grading.grade` accepts.

    ``net`` maps ``(Re y, Im y)``, shape ``[..., 2]``, to bit logits ``[..., k]`` (no
    final ``Sigmoid``: ``logit > 0`` means bit 1). The result is an ``nn.Module`` that
    takes received samples, complex ``[frames, symbols]``, and returns logits ``[frames,
    symbols, k]``; it shares ``net``'s parameters. A model that already takes complex
    frames needs no adapter.
    """
    return SymbolwiseDetector(net)


class CourseBaselineMLP(SymbolwiseDetector):
    """The course's baseline: ``Linear(2, 32) -> ReLU -> Linear(32, 4) -> Sigmoid``, per
    symbol.

    The course's network ends in a ``Sigmoid`` and is trained with ``nn.BCELoss`` on its
    probabilities. Here ``forward`` returns the value *before* the sigmoid, the bit
    logits that the grader wants, and :meth:`probabilities` applies the sigmoid.
    Training with ``nn.BCEWithLogitsLoss`` on the logits (:func:`train_detector`'s
    default) is the same loss and the same gradients as ``BCELoss`` on the
    probabilities, computed without the rounding of ``log(sigmoid(z))``
    (``tests/test_symbol_detection.py`` checks that they agree).
    """

    def __init__(self, hidden: int = 32, bits_per_symbol: int = 4) -> None:
        _check_positive_int(hidden, "hidden (the width of the hidden layer)")
        _check_positive_int(bits_per_symbol, "bits_per_symbol")
        super().__init__(
            nn.Sequential(
                nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, bits_per_symbol)
            )
        )

    def probabilities(self, received: Tensor) -> Tensor:
        """The course network's output: ``P(bit = 1)``, ``sigmoid(logits)``."""
        return torch.sigmoid(self(received))


# -- training --------------------------------------------------------------------------


def train_detector(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterable[tuple[Tensor, Tensor]],
    steps: int,
    *,
    loss: Callable[[Tensor, Tensor], Tensor] | None = None,
    scheduler: Any = None,
    progress: bool = False,
    desc: str = "train",
) -> History:
    """Train a detector for ``steps`` optimizer steps on ``(received, bits)`` batches.

    This is :func:`optbook.training.train` with ``loss(model(received), bits)`` as the
    loss, by default ``nn.BCEWithLogitsLoss()``: the mean binary cross-entropy over all
    bits, on logits. ``batches`` is usually :func:`training_batches` (endless); a list
    of batches is gone through again and again (epochs); an iterator or a generator is
    used once, and must yield at least ``steps`` batches. ``scheduler`` is stepped after
    every optimizer step. Returns the :class:`optbook.training.History` (the loss and
    the learning rate of every step, the time).

    ``progress=True`` shows :func:`optbook.runtime.progress_bar` labelled ``desc``: live
    in a notebook (at most about ten redraws), printed once, finished, with the final
    loss, in the built book.
    """
    _check_positive_int(steps, "steps (the number of optimizer steps)")
    loss_fn = loss if loss is not None else nn.BCEWithLogitsLoss()
    one_pass = iter(batches) is batches  # a generator or an iterator: usable once
    if one_pass:
        batches = _UsedOnce(batches)
    bar = progress_bar(steps, desc, enabled=progress, unit="step")
    bar.miniters = max(1, steps // 10)

    def on_step(step: int, value: float) -> None:
        bar.update(1)
        if progress:
            bar.set_postfix(loss=f"{value:.4f}", refresh=False)

    try:
        return train(
            model,
            optimizer,
            batches,
            loss_fn,
            steps=steps,
            scheduler=scheduler,
            on_step=on_step,
        )
    except ValueError as error:
        if one_pass and "yielded no batch" in str(error):
            raise ValueError(
                f"batches ran out after {batches.taken} of {steps} steps: give an "
                "endless "
                f"stream such as training_batches(...), or a list of batches"
            ) from None
        raise
    finally:
        bar.close()  # draws the final state once


class _UsedOnce:
    """An iterator made re-iterable: every pass continues where the last one stopped."""

    def __init__(self, iterator: Iterator) -> None:
        self.iterator = iterator
        self.taken = 0

    def __iter__(self) -> Iterator:
        for item in self.iterator:
            self.taken += 1
            yield item


# -- the course's metric ---------------------------------------------------------------


@torch.no_grad()
def course_validation_ber(
    detector: Callable[[Tensor], Tensor],
    *,
    qam: QAM | None = None,
    generator: torch.Generator | None = None,
    num_frames: int = 640,
    symbols_per_frame: int = 16384,
    ebn0_range: tuple[float, float] = (-20.0, 20.0),
    grid_points: int = COURSE_GRID_POINTS,
    max_symbols_per_call: int = 65536,
) -> float:
    """The course's validation BER: one frame at each of ``num_frames`` random grid
    Eb/N0 values.

    The course splits its ``grid_points`` Eb/N0 values (3200 over [-20, 20] dB) at
    random into 80 % for training and 20 % (640 values) for validation, sends one frame
    of 16384 symbols at each validation value, and reports the fraction of wrong bits
    over all these frames. Which 640 values land in the validation set is random, and
    the BER depends strongly on Eb/N0, so this number moves from one split to the next
    by far more than its bit count suggests: :func:`optbook.homework.grading.grade`'s
    fixed grid is the fair comparison. An ``nn.Module`` runs in eval mode (restored
    afterwards) on the device of its parameters; the frames are drawn on the device of
    ``generator``.
    """
    qam = qam if qam is not None else QAM(4)
    _check_positive_int(num_frames, "num_frames")
    _check_positive_int(grid_points, "grid_points")
    if num_frames > grid_points:
        raise ValueError(
            "the validation Eb/N0 values are distinct points of the grid, so "
            "num_frames "
            f"({num_frames}) cannot exceed grid_points ({grid_points})"
        )
    device = generator.device if generator is not None else torch.device("cpu")
    low, high = ebn0_range
    grid = torch.linspace(low, high, grid_points, dtype=torch.float64, device=device)
    chosen = torch.randperm(grid_points, generator=generator, device=device)[
        :num_frames
    ]
    frames_per_call = max(1, max_symbols_per_call // symbols_per_frame)
    model_device = _parameter_device(detector)
    was_training = detector.training if isinstance(detector, nn.Module) else None
    if isinstance(detector, nn.Module):
        detector.eval()
    wrong = 0.0
    try:
        for first in range(0, num_frames, frames_per_call):
            ebn0_db = grid[chosen[first : first + frames_per_call]]
            frames = make_frames(
                len(ebn0_db), symbols_per_frame, ebn0_db, qam, generator
            )
            logits = detector(
                frames.received.to(model_device or frames.received.device)
            )
            wrong += float(
                ((logits.to(frames.bits.device) > 0) != frames.bits.bool()).sum()
            )
    finally:
        if was_training is not None:
            detector.train(was_training)
    return wrong / (num_frames * symbols_per_frame * qam.bits_per_symbol)


# -- the per-symbol limit --------------------------------------------------------------


def _prior(ebn0_db: Tensor | None, bits_per_symbol: int) -> Tensor:
    """The noise variances of the Eb/N0 prior, float64 ``[S]`` (default: the grade's
    grid)."""
    if ebn0_db is None:
        ebn0_db = torch.linspace(-20.0, 20.0, 81, dtype=torch.float64)
    ebn0_db = torch.as_tensor(ebn0_db, dtype=torch.float64).flatten()
    if ebn0_db.numel() == 0 or not bool(torch.isfinite(ebn0_db).all()):
        raise ValueError(
            "ebn0_db, the Eb/N0 values (dB) a detector must expect, must be finite, "
            "and there must be at least one"
        )
    return ebn0_db_to_n0(ebn0_db, bits_per_symbol)


def per_symbol_bayes_logits(
    qam: QAM, received: Tensor, ebn0_db: Tensor | None = None
) -> Tensor:
    """Exact bit logits of the best per-symbol detector that does not know Eb/N0.

    The Eb/N0 of a frame is unknown, equally likely to be any of ``ebn0_db`` (default:
    the 81 points of the grade, ``linspace(-20, 20, 81)``). For one received sample
    ``y``, ``P(b_j = 1 | y)`` is proportional to ``sum_snr sum_{s: b_j(s) = 1} p(y | s,
    snr)`` with the complex Gaussian ``p(y | s, N0) = exp(-|y - s|^2 / N0) / (pi N0)``;
    its logit is returned. Deciding each bit by its sign minimises the BER averaged over
    the prior among all detectors that see one symbol at a time. Direct sum over all
    points and Eb/N0 values (``[..., S, M]`` terms): exact but slow, the reference of
    :class:`PerSymbolBayesDetector`.
    """
    received = check_complex(received)
    n0 = _prior(ebn0_db, qam.bits_per_symbol).to(received.device)  # [S]
    y = received.to(torch.complex128).unsqueeze(-1).unsqueeze(-1)  # [..., 1, 1]
    points = qam.points.to(received.device, torch.complex128)  # [M]
    distance2 = (y - points).abs() ** 2  # [..., 1, M]
    log_p = -distance2 / n0[:, None] - torch.log(math.pi * n0)[:, None]  # [..., S, M]
    log_p = log_p.flatten(-2)  # [..., S*M]
    labels = qam.labels.to(received.device).bool().repeat(n0.numel(), 1)  # [S*M, k]
    ones = torch.where(labels.T, log_p.unsqueeze(-2), -math.inf).logsumexp(-1)
    zeros = torch.where(~labels.T, log_p.unsqueeze(-2), -math.inf).logsumexp(-1)
    return (ones - zeros).to(torch.float32)


class PerSymbolBayesDetector:
    """The per-symbol limit: :func:`per_symbol_bayes_logits`, tabulated for speed.

    A detector that looks at one received symbol at a time and is not told the frame's
    Eb/N0 cannot have a lower BER, averaged over the Eb/N0 values of ``ebn0_db``
    (default: the grade's 81 points), than this one. Its logits depend on ``(Re y, Im
    y)`` only, so they are computed once on a grid and interpolated bilinearly
    (``torch.nn.functional.grid_sample``) at the received samples. The grid is uniform
    in ``asinh(x / scale)``: fine near the constellation, where the decision boundaries
    lie close together, coarse far out, where noise at -20 dB still throws samples and
    the boundaries are smooth. Samples beyond ``limit`` get the logits of the table's
    edge.

    Building the table uses the factorisation over the two axes: every bit is carried by
    one axis, so the sums over points are products of sums over one axis's levels, and
    the sum over Eb/N0 values is a matrix product. Called on ``[frames, symbols]``,
    returns ``[frames, symbols, k]``, like every detector of the homework.
    """

    def __init__(
        self,
        qam: QAM | None = None,
        ebn0_db: Tensor | None = None,
        *,
        limit: float = 30.0,
        scale: float = 1.0,
        cells: int = 1600,
    ) -> None:
        self.qam = qam if qam is not None else QAM(4)
        if not (limit > 0 and scale > 0):
            raise ValueError(
                f"limit and scale must be positive, got {limit} and {scale}"
            )
        _check_positive_int(cells, "cells (table cells per axis)")
        self.n0 = _prior(ebn0_db, self.qam.bits_per_symbol)
        self.scale = float(scale)
        self.u_max = math.asinh(limit / scale)
        self.cells = cells
        u = torch.linspace(-self.u_max, self.u_max, cells + 1, dtype=torch.float64)
        self.axis = self.scale * torch.sinh(u)  # [G] sample positions on one axis
        self.table = self._tabulate(self.axis).to(torch.float32)  # [G, G, k]
        self._image: Tensor | None = None

    def _tabulate(self, x: Tensor) -> Tensor:
        """Exact logits at every ``(x[i], x[j])`` (real, imaginary), float64 ``[G, G,
        k]``."""
        qam, n0 = self.qam, self.n0
        levels = qam.axis_levels.to(torch.float64)  # [L]
        # log p(x | level, N0) per real dimension (variance N0/2): [S, L, G]
        log_p = -((x[None, None, :] - levels[None, :, None]) ** 2) / n0[:, None, None]
        log_p = log_p - 0.5 * torch.log(math.pi * n0)[:, None, None]
        peak = log_p.amax(dim=(0, 1))  # [G]; cancels between numerator and denominator
        p = torch.exp(log_p - peak)  # [S, L, G], every entry <= 1
        all_levels = p.sum(1)  # [S, G]: sum over the other axis's levels
        weight = 1.0 / n0.numel()  # the prior is uniform over its Eb/N0 values
        logits = []
        for j in range(qam.bits_per_symbol):
            axis_bit = j // 2
            ones_level = qam.axis_labels[:, axis_bit].bool()
            ones = p[:, ones_level].sum(1)  # [S, G]
            zeros = p[:, ~ones_level].sum(1)
            if j % 2 == 0:  # a real-axis bit: rows are the real part
                numerator = weight * ones.T @ all_levels
                denominator = weight * zeros.T @ all_levels
            else:  # an imaginary-axis bit: columns are the imaginary part
                numerator = weight * all_levels.T @ ones
                denominator = weight * all_levels.T @ zeros
            if not bool(((numerator > 0) & (denominator > 0)).all()):
                raise ValueError(
                    "the Eb/N0 prior is too narrow for the table (probabilities "
                    "underflow); "
                    "use per_symbol_bayes_logits directly"
                )
            logits.append(torch.log(numerator) - torch.log(denominator))
        return torch.stack(logits, dim=-1)

    def __call__(self, received: Tensor) -> Tensor:
        received = check_complex(received)
        if self._image is None or self._image.device != received.device:
            # [1, k, imaginary, real]: an image whose x axis is the real part
            self._image = (
                self.table.permute(2, 1, 0)
                .unsqueeze(0)
                .contiguous()
                .to(received.device)
            )
        # table coordinates in [-1, 1], (real, imaginary) = (x, y) of grid_sample
        where = (
            torch.asinh(torch.view_as_real(received).float() / self.scale) / self.u_max
        )
        logits = torch.nn.functional.grid_sample(
            self._image,
            where.reshape(1, -1, 1, 2),
            mode="bilinear",
            padding_mode="border",  # beyond the table: the logits of its edge
            align_corners=True,  # -1 and 1 are the first and last grid points
        )
        return logits.reshape(self.qam.bits_per_symbol, -1).T.reshape(
            *received.shape, -1
        )

    def __repr__(self) -> str:
        return f"PerSymbolBayesDetector({self.qam!r}, {self.n0.numel()} Eb/N0 values)"


# -- judging a hand-in -----------------------------------------------------------------


@dataclass(frozen=True)
class Rung:
    """One level of the homework's rubric: a reference BER and whether a detector
    reached it."""

    name: str
    target_ber: float
    reached: bool


@dataclass(frozen=True)
class Judgement:
    """Which rungs of the rubric a graded detector reached; ``print`` it to see the
    table."""

    ber: float
    tolerance: float
    rungs: tuple[Rung, ...]

    @property
    def level(self) -> int:
        """The number of rungs reached, counted from the bottom, without skipping one
        (0-4)."""
        level = 0
        for rung in self.rungs:
            if not rung.reached:
                break
            level += 1
        return level

    def __str__(self) -> str:
        width = max(len(rung.name) for rung in self.rungs)
        lines = [
            f"Your average BER {self.ber:.5f} (a rung counts as reached within "
            f"{self.tolerance:.5f}): level {self.level} of {len(self.rungs)}"
        ]
        lines += [
            f"  {'[x]' if rung.reached else '[ ]'} {rung.name:<{width}}  BER "
            f"{rung.target_ber:.5f}"
            for rung in self.rungs
        ]
        return "\n".join(lines)


def judge(
    result: GradeResult,
    *,
    course_baseline: GradeResult,
    per_symbol_limit: GradeResult,
    tolerance: float | None = None,
) -> Judgement:
    """Place a graded detector on the homework's rubric, a ladder of four rungs.

    1. *below the course baseline*: ``ber < course_baseline.ber - tolerance`` (the
       course's SGD-trained 2-32-4 network, graded with the same seed);
    2. *the nearest-point detector*: ``ber <= nearest_point_ber + tolerance``;
    3. *the per-symbol limit*: ``ber <= per_symbol_limit.ber + tolerance``, the grade of
       :class:`PerSymbolBayesDetector` with the same seed;
    4. *towards the genie*: ``ber`` at most halfway from the per-symbol limit to the
       genie MAP detector's BER: only a detector that uses more than one symbol at a
       time gets there.

    All three arguments are results of :func:`optbook.homework.grading.grade`, and they
    must share their protocol (:attr:`GradeResult.protocol_key`: seed, constellation,
    Eb/N0 grid, frame length, estimator): a yardstick graded with another seed is
    refused. ``tolerance`` defaults to three standard errors of the paired difference
    between the detector and the nearest-point detector (``3 *
    result.gap_to_nearest_point_standard_error``), the resolution of the grade.
    """
    for name, value in (
        ("result", result),
        ("course_baseline", course_baseline),
        ("per_symbol_limit", per_symbol_limit),
    ):
        if not isinstance(value, GradeResult):
            raise TypeError(
                f"judge takes grade results, not numbers: {name} must be what "
                "grade(...) "
                f"returned (a GradeResult), got {type(value).__name__}. Write "
                f"judge(my_grade, course_baseline=baseline_grade, "
                f"per_symbol_limit=per_symbol_grade), all graded with the same seed"
            )
    for name, other in (
        ("course_baseline", course_baseline),
        ("per_symbol_limit", per_symbol_limit),
    ):
        differences = [
            f"{what} {theirs!r} instead of {ours!r}"
            for (what, ours), (_, theirs) in zip(
                result.protocol_key, other.protocol_key, strict=True
            )
            if ours != theirs
        ]
        if differences:
            raise ValueError(
                f"{name} was graded with another protocol than the detector: "
                f"{'; '.join(differences)}. Grade every yardstick with the same seed "
                "and "
                f"settings as your detector, e.g. grade(detector, seed=MY_SEED) for all"
            )
    if tolerance is None:
        tolerance = 3 * result.gap_to_nearest_point_standard_error
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be zero or positive, got {tolerance}")
    baseline_ber, limit_ber = course_baseline.ber, per_symbol_limit.ber
    halfway = 0.5 * (limit_ber + result.genie_map_ber)
    ber = result.ber
    rungs = (
        Rung("below the course baseline", baseline_ber, ber < baseline_ber - tolerance),
        Rung(
            "the nearest-point detector",
            result.nearest_point_ber,
            ber <= result.nearest_point_ber + tolerance,
        ),
        Rung("the per-symbol limit", limit_ber, ber <= limit_ber + tolerance),
        Rung("halfway from there to the genie MAP", halfway, ber <= halfway),
    )
    return Judgement(ber=ber, tolerance=tolerance, rungs=rungs)


# -- helpers ---------------------------------------------------------------------------


def _check_positive_int(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")


def _parameter_device(detector: Any) -> torch.device | None:
    """The device of an ``nn.Module``'s first parameter (None: not a module, or no
    parameters)."""
    if isinstance(detector, nn.Module):
        for parameter in detector.parameters():
            return parameter.device
    return None


def _floating_dtype(module: nn.Module) -> torch.dtype | None:
    """The dtype of a module's first floating-point parameter (None: it has none)."""
    for parameter in module.parameters():
        if parameter.is_floating_point():
            return parameter.dtype
    return None
