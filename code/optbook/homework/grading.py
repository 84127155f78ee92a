"""The homework's data protocol, fast, and its grader (``chapters/homework.ipynb``).

The course's experiment sends frames of 16-QAM symbols over AWGN, each frame at one
Eb/N0 drawn from [-20, 20] dB, and judges a detector by its bit error rate (BER).
:func:`make_frames` draws such frames for training, a whole batch in one vectorised
call; :func:`grade` evaluates a detector on a fixed, seeded grid of Eb/N0 values and
compares it, on the very same received samples, with the nearest-point detector and the
genie MAP detector that knows each frame's N0 (the limit of the task).

**A detector** is any callable that takes received samples, a complex tensor ``[frames,
symbols]``, and returns bit logits ``[frames, symbols, bits_per_symbol]`` (``logit > 0``
means bit 1; see :mod:`optbook.homework.channel`). It never receives N0: if it wants the
noise level, it has to estimate it from the frame.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from optbook.homework.channel import (
    QAM,
    awgn,
    check_bits_per_symbol,
    closed_form_ber,
    ebn0_db_to_n0,
    hard_bits,
    lookup_rows,
    map_bit_logits,
    nearest_point_logits,
)

Detector = Callable[[Tensor], Tensor]
"""Received samples, complex ``[frames, symbols]`` -> bit logits ``[frames, symbols,
k]``."""


# -- the data -------------------------------------------------------------------------


class Frames(NamedTuple):
    """A batch of frames, each sent at one Eb/N0.

    Attributes:
        received: complex64 ``[frames, symbols_per_frame]``, the channel's output. bits:
        float32 ``[frames, symbols_per_frame, bits_per_symbol]`` of 0.0 and 1.0, the
            bits that were sent (float, so that they can be ``BCEWithLogitsLoss``
            targets).
        n0: float32 ``[frames]``, each frame's total noise variance.
    """

    received: Tensor
    bits: Tensor
    n0: Tensor


def sample_ebn0_db(
    num_frames: int,
    low: float = -20.0,
    high: float = 20.0,
    *,
    grid_points: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One Eb/N0 in dB per frame, for training: float32 ``[num_frames]``.

    By default uniform on ``[low, high]``. With ``grid_points`` the values are drawn
    uniformly from ``torch.linspace(low, high, grid_points)`` instead, as the course
    does (its grid has 3200 points).
    """
    _check_positive_int(num_frames, "num_frames")
    if not low <= high:
        raise ValueError(f"low must not exceed high, got low={low}, high={high}")
    device = generator.device if generator is not None else None
    if grid_points is None:
        uniform = torch.rand(num_frames, generator=generator, device=device)
        return low + (high - low) * uniform
    _check_positive_int(grid_points, "grid_points")
    grid = torch.linspace(low, high, grid_points, device=device)
    return grid[
        torch.randint(grid_points, (num_frames,), generator=generator, device=device)
    ]


def make_frames(
    num_frames: int,
    symbols_per_frame: int,
    ebn0_db: float | Tensor,
    qam: QAM | None = None,
    generator: torch.Generator | None = None,
) -> Frames:
    """Draw random bits, map them to QAM symbols and send them through AWGN.

    Args:
        num_frames: frames in the batch (the course: 32).
        symbols_per_frame: symbols per frame (the course: 64 x 1024 bits of 16-QAM, i.e.
            16384 symbols).
        ebn0_db: Eb/N0 in dB, one per frame (``[num_frames]``, e.g. from
            :func:`sample_ebn0_db`) or one for all frames.
        qam: the constellation, 16-QAM if not given.
        generator: the random stream; the frames are made on its device.

    Returns:
        :class:`Frames` ``(received, bits, n0)``.

    Speed: the course's data (32 frames of 16384 symbols) takes a few milliseconds on
    one CPU core (``benchmarks/bench_channel_data.py``). Most of it is drawing the
    Gaussian noise; the symbols come from :func:`random_symbol_indices` (16 symbols per
    random 64-bit word instead of one random number per symbol), and points and bits are
    copied from small tables with :func:`~optbook.homework.channel.lookup_rows`.
    """
    _check_positive_int(num_frames, "num_frames")
    _check_positive_int(symbols_per_frame, "symbols_per_frame")
    qam = qam if qam is not None else QAM(4)
    device = generator.device if generator is not None else torch.device("cpu")
    ebn0_db = torch.as_tensor(ebn0_db, dtype=torch.float64, device=device)
    if ebn0_db.dim() == 0:
        ebn0_db = ebn0_db.expand(num_frames)
    if tuple(ebn0_db.shape) != (num_frames,):
        raise ValueError(
            f"ebn0_db must be one number or one value per frame, shape [{num_frames}]; "
            f"got shape {tuple(ebn0_db.shape)}"
        )
    n0 = ebn0_db_to_n0(ebn0_db, qam.bits_per_symbol).to(torch.float32)
    indices = random_symbol_indices(
        (num_frames, symbols_per_frame), qam.bits_per_symbol, generator, device
    )
    received = awgn(lookup_rows(qam.points, indices), n0, generator)
    return Frames(received=received, bits=lookup_rows(qam.labels, indices), n0=n0)


def random_symbol_indices(
    shape: tuple[int, ...],
    bits_per_symbol: int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Uniform random symbol indices in ``0 .. 2**bits_per_symbol - 1``: long ``shape``.

    The same distribution as ``torch.randint(2**bits_per_symbol, shape)``, at a fraction
    of the cost. ``randint`` asks the random generator for one number per symbol, but
    one random 64-bit integer already holds the bits of ``64 // bits_per_symbol``
    symbols (16 for 16-QAM). So we draw one random 64-bit *word* per 16 symbols and cut
    it into 4-bit pieces: piece ``j`` is ``(word >> 4 j) & 0b1111``, the bits ``4 j .. 4
    j + 3`` of the word. The bits of a uniform random word are independent fair coin
    flips, hence every piece is uniform on ``0 .. 15`` and the pieces are independent.
    """
    check_bits_per_symbol(bits_per_symbol)
    count = math.prod(shape)
    per_word = 64 // bits_per_symbol
    words = torch.empty(math.ceil(count / per_word), dtype=torch.int64, device=device)
    words.random_(
        -(2**63), None, generator=generator
    )  # from -2**63 up: all 64 bits random
    shifts = torch.arange(0, per_word * bits_per_symbol, bits_per_symbol, device=device)
    # [words, per_word]: row w holds the pieces of word w, so symbol i is piece i %
    # per_word
    # of word i // per_word (the mask also drops the sign bits that >> copies in)
    pieces = (words.unsqueeze(-1) >> shifts).bitwise_and_(2**bits_per_symbol - 1)
    return pieces.view(-1)[:count].view(shape)


# -- reference detectors --------------------------------------------------------------


class NearestPointDetector:
    """Minimum-distance decision + Gray demapping, as hard logits ``+-hard_logit``."""

    def __init__(self, qam: QAM | None = None, hard_logit: float = 10.0) -> None:
        self.qam = qam if qam is not None else QAM(4)
        self.hard_logit = hard_logit

    def __call__(self, received: Tensor) -> Tensor:
        return nearest_point_logits(self.qam, received, self.hard_logit)

    def __repr__(self) -> str:
        return f"NearestPointDetector({self.qam!r})"


class GenieMapDetector:
    """The exact bit-wise MAP detector, told each frame's noise variance when it is
    built.

    ``GenieMapDetector(qam, n0=frames.n0)(frames.received)`` gives the log-likelihood
    ratios of :func:`optbook.homework.channel.map_bit_logits`. It is the best any
    detector can do on this channel, so its BER is the limit of the homework.
    :func:`grade` builds one per block of frames for its reference column; a student's
    detector never gets N0.
    """

    def __init__(self, qam: QAM | None, n0: float | Tensor) -> None:
        self.qam = qam if qam is not None else QAM(4)
        self.n0 = n0

    def __call__(self, received: Tensor) -> Tensor:
        return map_bit_logits(self.qam, received, self.n0)

    def __repr__(self) -> str:
        return f"GenieMapDetector({self.qam!r}, n0=...)"


# -- the grader -----------------------------------------------------------------------

ESTIMATORS = ("conditional", "counting")
"""How :func:`grade` scores a decided bit: the probability that it is wrong given the
received sample (``"conditional"``, the default), or whether it is wrong
(``"counting"``)."""

DESIGN_VARIANCE = {"conditional": 0.0025, "counting": 0.25}
"""Per-symbol variance that sizes the first stage of a grade, for each estimator.

``"counting"``: 0.25, the largest variance of a fraction in [0, 1] (a bound that holds
for every detector). ``"conditional"``: 0.0025, about 1.5 times the variance measured
for the nearest-point detector, the genie and the per-symbol limit on the default
protocol (:func:`estimator_variances`); a detector whose measured variance is larger
gets more frames (see :func:`grade`), up to the counting bound, which holds for both
estimators.
"""

FRAMES_PER_ROUND = 16
"""Frames drawn per Eb/N0 point in one round of a grade (a grade uses whole rounds)."""


@dataclass(frozen=True)
class GradeRow:
    """One Eb/N0 point of the grade: the BER of each detector on the same samples."""

    ebn0_db: float
    ber: float
    nearest_point_ber: float
    genie_map_ber: float
    closed_form_ber: float


@dataclass(frozen=True)
class GradeResult:
    """What :func:`grade` measured; ``print`` it, or show it in a notebook, to hand it
    in.

    Averages are over the Eb/N0 points. Standard errors are estimated from the spread of
    the per-frame BERs at each point, so they stay honest for a detector whose errors
    are correlated within a frame. The gaps are paired differences on the same samples,
    so their standard errors are much smaller than those of the averages. ``ber`` and
    every column are estimated with ``estimator``; ``counting_ber`` and
    ``conditional_ber`` give the detector's average BER by each estimator, on the same
    samples.
    """

    ber: float
    standard_error: float
    nearest_point_ber: float
    nearest_point_standard_error: float
    genie_map_ber: float
    genie_map_standard_error: float
    closed_form_ber: float
    gap_to_genie: float
    gap_to_genie_standard_error: float
    gap_to_nearest_point: float
    gap_to_nearest_point_standard_error: float
    rows: tuple[GradeRow, ...] = field(repr=False)
    seed: int
    bits_per_symbol: int
    frames_per_point: int
    symbols_per_frame: int
    seconds: float
    estimator: str = "conditional"
    counting_ber: float = math.nan
    counting_standard_error: float = math.nan
    conditional_ber: float = math.nan
    conditional_standard_error: float = math.nan
    target_standard_error: float = 1e-4
    symbols_evaluated: int = 0

    @property
    def protocol_key(self) -> tuple:
        """What two grades must share to be compared: seed, constellation, Eb/N0 grid,
        frame length and estimator (the number of frames may differ)."""
        rows = self.rows
        return (
            ("seed", self.seed),
            ("bits_per_symbol", self.bits_per_symbol),
            ("Eb/N0 points", len(rows)),
            ("lowest Eb/N0", rows[0].ebn0_db),
            ("highest Eb/N0", rows[-1].ebn0_db),
            ("symbols_per_frame", self.symbols_per_frame),
            ("estimator", self.estimator),
        )

    def summary_lines(self) -> list[tuple[str, str]]:
        """(what, value) pairs of the summary, shared by the text and markdown views."""
        return [
            (
                "your detector, average BER",
                f"{self.ber:.5f} ± {self.standard_error:.5f}",
            ),
            (
                "nearest-point detector",
                f"{self.nearest_point_ber:.5f} ± "
                f"{self.nearest_point_standard_error:.5f}",
            ),
            (
                "genie MAP (knows N0): the limit",
                f"{self.genie_map_ber:.5f} ± {self.genie_map_standard_error:.5f}",
            ),
            ("closed form, nearest point (Cho & Yoon)", f"{self.closed_form_ber:.5f}"),
            (
                "gap to the genie MAP limit",
                f"{self.gap_to_genie:+.5f} ± {self.gap_to_genie_standard_error:.5f}",
            ),
            (
                "gap to the nearest-point detector",
                f"{self.gap_to_nearest_point:+.5f} ± "
                f"{self.gap_to_nearest_point_standard_error:.5f}",
            ),
        ]

    def protocol(self) -> str:
        """One sentence that says what was measured."""
        return (
            f"{2**self.bits_per_symbol}-QAM over AWGN, {len(self.rows)} Eb/N0 points "
            "from "
            f"{self.rows[0].ebn0_db:g} to {self.rows[-1].ebn0_db:g} dB, "
            f"{self.frames_per_point} frames x {self.symbols_per_frame} symbols per "
            "point, "
            f"{self.estimator} estimator, seed {self.seed}, "
            f"graded in {self.seconds:.1f} s"
        )

    def __str__(self) -> str:
        width = max(len(what) for what, _ in self.summary_lines())
        lines = [f"Grade: {self.protocol()}"]
        lines += [f"  {what:<{width}}  {value}" for what, value in self.summary_lines()]
        lines.append("")
        lines.append("  Eb/N0 dB   yours     nearest   genie     closed form")
        lines += [
            f"  {r.ebn0_db:8.1f}   {r.ber:.5f}   {r.nearest_point_ber:.5f}   "
            f"{r.genie_map_ber:.5f}   {r.closed_form_ber:.5f}"
            for r in self.rows
        ]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        lines = [f"**Grade**: {self.protocol()}", "", "| | BER |", "| --- | --- |"]
        lines += [f"| {what} | {value} |" for what, value in self.summary_lines()]
        lines += ["", "<details><summary>BER at each Eb/N0</summary>", ""]
        lines += [
            "| Eb/N0 (dB) | yours | nearest point | genie MAP | closed form |",
            "| ---: | ---: | ---: | ---: | ---: |",
        ]
        lines += [
            f"| {r.ebn0_db:.1f} | {r.ber:.5f} | {r.nearest_point_ber:.5f} | "
            f"{r.genie_map_ber:.5f} | {r.closed_form_ber:.5f} |"
            for r in self.rows
        ]
        lines += ["", "</details>"]
        return "\n".join(lines)


def frames_per_point_needed(
    num_points: int,
    symbols_per_frame: int,
    target_standard_error: float,
    worst_case_ber: float = 0.5,
    *,
    variance_per_symbol: float | None = None,
) -> int:
    """Frames per Eb/N0 point so that the average BER's standard error is at most the
    target.

    The average of ``P`` independent per-point BERs has variance ``sum_j Var(BER_j) /
    P**2``. With ``n`` symbols per point and a per-symbol variance ``v`` at every point,
    the standard error is ``sqrt(v / (P n))``, at most the target when ``n >= v / (P
    target**2)``.

    The bits of one symbol are not independent (a symbol error often flips several), so
    the conservative unit is the symbol: the fraction of wrong bits in one symbol has
    mean ``p`` and variance at most ``p (1 - p)``, and ``v = p (1 - p)`` with ``p =
    worst_case_ber`` is a bound for every detector (the counting estimator's design).
    For the homework (``P = 81``, ``p = 0.5``, target 1e-4): ``n >= 308,642`` symbols,
    i.e. 1206 frames of 256 symbols. ``variance_per_symbol`` replaces ``p (1 - p)`` (the
    conditional estimator's design, :data:`DESIGN_VARIANCE`).
    """
    if variance_per_symbol is None:
        variance_per_symbol = worst_case_ber * (1 - worst_case_ber)
    symbols_needed = variance_per_symbol / (num_points * target_standard_error**2)
    return max(2, math.ceil(symbols_needed / symbols_per_frame))


class _Round(NamedTuple):
    """One round of the protocol: ``FRAMES_PER_ROUND`` frames at every Eb/N0 point."""

    received: Tensor  # complex64 [P * C, S], point-major
    order: Tensor  # int64 [P * C]: the order the detector sees them in (from the seed)
    bits: Tensor  # bool [P * C, S, k]
    map_logits: Tensor  # float32 [P * C, S, k], the genie's exact log-likelihood ratios
    yardsticks: dict[
        str, tuple[Tensor, Tensor]
    ]  # name -> (conditional, counting) [P * C]


class GradingSamples:
    """The frames of a grading protocol, drawn round by round and kept for reuse.

    Round ``r`` holds :data:`FRAMES_PER_ROUND` frames of ``symbols_per_frame`` symbols
    at each of ``num_points`` Eb/N0 values evenly spaced over ``[low_db, high_db]``,
    drawn from a stream seeded by ``(seed, r)``: a grade that uses more rounds sees the
    same first rounds. With each round the sampler keeps the genie's exact bit
    posteriors (:func:`~optbook.homework.channel.map_bit_logits` with each frame's true
    N0) and the per-frame scores of the two yardsticks, the nearest-point and the genie
    MAP detector. Every detector graded with the same ``GradingSamples`` sees the same
    samples, and the yardsticks are computed once (the grading tool grades a whole class
    this way).

    The posteriors never reach a detector: :func:`grade` hands it ``received`` only.
    """

    def __init__(
        self,
        seed: int = 2024,
        qam: QAM | None = None,
        *,
        num_points: int = 81,
        low_db: float = -20.0,
        high_db: float = 20.0,
        symbols_per_frame: int = 256,
    ) -> None:
        _check_seed(seed)
        _check_positive_int(num_points, "num_points")
        _check_positive_int(symbols_per_frame, "symbols_per_frame")
        if not low_db <= high_db:
            raise ValueError(
                f"low_db must not exceed high_db, got {low_db} and {high_db}"
            )
        self.seed = seed
        self.qam = qam if qam is not None else QAM(4)
        self.num_points = num_points
        self.low_db, self.high_db = float(low_db), float(high_db)
        self.symbols_per_frame = symbols_per_frame
        self.ebn0_db = torch.linspace(low_db, high_db, num_points, dtype=torch.float64)
        self._rounds: list[_Round] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"GradingSamples(seed=..., {self.qam!r}, num_points={self.num_points}, "
            f"low_db={self.low_db:g}, high_db={self.high_db:g}, "
            f"symbols_per_frame={self.symbols_per_frame}, rounds "
            f"kept={len(self._rounds)})"
        )

    def round(self, index: int) -> _Round:
        """Round ``index`` (drawn, with its yardsticks, on first use)."""
        with self._lock:  # the grading tool grades several submissions at a time
            while len(self._rounds) <= index:
                self._rounds.append(self._draw(len(self._rounds)))
            return self._rounds[index]

    def _draw(self, index: int) -> _Round:
        qam = self.qam
        generator = torch.Generator().manual_seed(_point_seed(self.seed, index))
        ebn0 = self.ebn0_db.repeat_interleave(FRAMES_PER_ROUND)
        frames = make_frames(len(ebn0), self.symbols_per_frame, ebn0, qam, generator)
        bits = frames.bits.bool()
        map_logits = map_bit_logits(qam, frames.received, frames.n0)
        # the detector sees the frames in an order drawn from the seed, the points
        # mixed: its position in the stream tells a detector nothing about N0
        order = torch.randperm(len(ebn0), generator=generator)
        nearest = nearest_point_logits(qam, frames.received) > 0
        yardsticks = {
            "np": _frame_scores(nearest, bits, map_logits),
            "map": _frame_scores(map_logits > 0, bits, map_logits),
        }
        return _Round(frames.received, order, bits, map_logits, yardsticks)


def grade(
    detector: Detector,
    *,
    seed: int = 2024,
    qam: QAM | None = None,
    num_points: int = 81,
    low_db: float = -20.0,
    high_db: float = 20.0,
    symbols_per_frame: int = 256,
    target_standard_error: float = 1e-4,
    estimator: str = "conditional",
    max_symbols_per_call: int = 65536,
    device: torch.device | str | None = None,
    samples: GradingSamples | None = None,
) -> GradeResult:
    """Grade a detector: its BER averaged over a fixed grid of Eb/N0 values.

    At each of ``num_points`` Eb/N0 values evenly spaced over ``[low_db, high_db]``,
    frames of ``symbols_per_frame`` symbols are drawn from a stream seeded by ``seed``
    (:class:`GradingSamples`). The detector, the nearest-point detector and the genie
    MAP detector all see the same received samples and are scored the same way; the
    closed-form BER is computed, nothing is typed in. An instructor grades with a
    private ``seed``.

    **Scoring** (``estimator``). ``"counting"`` scores each decided bit 1 if it is
    wrong, 0 if right. ``"conditional"`` (the default) scores it with the probability
    that it is wrong given the received sample, ``P(b != b_hat | y, N0)``, computed by
    the grader from the genie's exact posterior with the frame's true N0 (a detector
    never sees it). The two have the same mean, the BER: the conditional score is the
    expectation of the counting score given the samples (the bits of a symbol depend on
    the frame only through its own sample, once N0 is known). Its variance is smaller,
    often by an order of magnitude: the coin flip of each bit is integrated out exactly
    (:func:`estimator_variances`). Both are reported (``counting_ber``,
    ``conditional_ber``); the columns and gaps use ``estimator``.

    **How many frames.** ``"counting"`` uses a bound that holds for every detector
    (:func:`frames_per_point_needed`: 1206 frames per point for the default target
    1e-4). ``"conditional"`` starts with the frames for :data:`DESIGN_VARIANCE` (one
    round of :data:`FRAMES_PER_ROUND` frames per point for the default target), measures
    the standard error, and draws more rounds until it is at most
    ``target_standard_error`` (never more than the counting bound).

    The detector is called under ``torch.no_grad()`` on blocks of at most
    ``max_symbols_per_call`` symbols (whole frames, possibly of several Eb/N0 points),
    on ``device`` (default: the device of an ``nn.Module``'s parameters, else the CPU);
    an ``nn.Module`` is put in eval mode for the grade and back afterwards. ``samples``
    (a :class:`GradingSamples`) reuses frames and yardsticks drawn before; it overrides
    ``seed``, ``qam``, ``num_points``, ``low_db``, ``high_db`` and
    ``symbols_per_frame``.
    """
    start = time.perf_counter()
    if estimator not in ESTIMATORS:
        raise ValueError(
            f"estimator must be 'conditional' (the default: the probability that each "
            "decision is wrong) or 'counting' (count the wrong bits), got "
            f"{estimator!r}"
        )
    if not target_standard_error > 0:
        raise ValueError(
            f"target_standard_error must be positive, got {target_standard_error}"
        )
    _check_positive_int(max_symbols_per_call, "max_symbols_per_call")
    if samples is None:
        samples = GradingSamples(
            seed,
            qam,
            num_points=num_points,
            low_db=low_db,
            high_db=high_db,
            symbols_per_frame=symbols_per_frame,
        )
    qam, num_points = samples.qam, samples.num_points
    symbols_per_frame = samples.symbols_per_frame
    device = torch.device(device) if device is not None else _device_of(detector)
    bound = frames_per_point_needed(
        num_points, symbols_per_frame, target_standard_error
    )
    max_rounds = math.ceil(bound / FRAMES_PER_ROUND)
    first = frames_per_point_needed(
        num_points,
        symbols_per_frame,
        target_standard_error,
        variance_per_symbol=DESIGN_VARIANCE[estimator],
    )
    rounds = min(max_rounds, math.ceil(first / FRAMES_PER_ROUND))
    frames_per_call = max(1, max_symbols_per_call // symbols_per_frame)

    scores: list[dict[str, Tensor]] = []  # per round: name -> [P, C] per-frame values
    was_training = _set_eval(detector)
    try:
        with torch.no_grad():
            while True:
                for index in range(len(scores), rounds):
                    block = _score_round(
                        detector, samples.round(index), frames_per_call, device, qam
                    )
                    scores.append(
                        {
                            k: v.view(num_points, FRAMES_PER_ROUND)
                            for k, v in block.items()
                        }
                    )
                values = {
                    k: torch.cat([s[k] for s in scores], dim=1) for k in scores[0]
                }
                error = _standard_error_of_average(values[f"yours_{estimator}"])
                if error <= target_standard_error or rounds >= max_rounds:
                    break
                frames_now = rounds * FRAMES_PER_ROUND
                wanted = frames_now * (error / target_standard_error) ** 2 * 1.1
                rounds = min(
                    max_rounds, max(rounds + 1, math.ceil(wanted / FRAMES_PER_ROUND))
                )
    finally:
        _restore_mode(detector, was_training)
    return _result(values, samples, estimator, target_standard_error, start)


def _result(
    values: dict[str, Tensor],
    samples: GradingSamples,
    estimator: str,
    target_standard_error: float,
    start: float,
) -> GradeResult:
    """Assemble the :class:`GradeResult` from the per-frame values ``[P, F]``."""
    yours, nearest, genie = (values[f"{n}_{estimator}"] for n in ("yours", "np", "map"))
    closed_form = closed_form_ber(samples.ebn0_db, samples.qam.bits_per_symbol)
    per_point = {
        n: v.mean(dim=1) for n, v in (("y", yours), ("np", nearest), ("m", genie))
    }
    rows = tuple(
        GradeRow(
            ebn0_db=float(samples.ebn0_db[j]),
            ber=float(per_point["y"][j]),
            nearest_point_ber=float(per_point["np"][j]),
            genie_map_ber=float(per_point["m"][j]),
            closed_form_ber=float(closed_form[j]),
        )
        for j in range(samples.num_points)
    )
    frames_per_point = yours.shape[1]
    return GradeResult(
        ber=float(per_point["y"].mean()),
        standard_error=_standard_error_of_average(yours),
        nearest_point_ber=float(per_point["np"].mean()),
        nearest_point_standard_error=_standard_error_of_average(nearest),
        genie_map_ber=float(per_point["m"].mean()),
        genie_map_standard_error=_standard_error_of_average(genie),
        closed_form_ber=float(closed_form.mean()),
        gap_to_genie=float((per_point["y"] - per_point["m"]).mean()),
        gap_to_genie_standard_error=_standard_error_of_average(yours - genie),
        gap_to_nearest_point=float((per_point["y"] - per_point["np"]).mean()),
        gap_to_nearest_point_standard_error=_standard_error_of_average(yours - nearest),
        rows=rows,
        seed=samples.seed,
        bits_per_symbol=samples.qam.bits_per_symbol,
        frames_per_point=frames_per_point,
        symbols_per_frame=samples.symbols_per_frame,
        seconds=time.perf_counter() - start,
        estimator=estimator,
        counting_ber=float(values["yours_counting"].mean(dim=1).mean()),
        counting_standard_error=_standard_error_of_average(values["yours_counting"]),
        conditional_ber=float(values["yours_conditional"].mean(dim=1).mean()),
        conditional_standard_error=_standard_error_of_average(
            values["yours_conditional"]
        ),
        target_standard_error=target_standard_error,
        symbols_evaluated=samples.num_points
        * frames_per_point
        * samples.symbols_per_frame,
    )


def estimator_variances(
    detector: Detector | None = None,
    *,
    ebn0_db: Sequence[float] = (-20.0, -10.0, -5.0, 0.0, 5.0, 10.0, 15.0),
    frames: int = 64,
    symbols_per_frame: int = 256,
    seed: int = 0,
    qam: QAM | None = None,
) -> list[dict[str, float]]:
    """Per-frame variance of the two estimators at several Eb/N0, measured: one row
    each.

    At each ``ebn0_db``, ``frames`` frames are drawn and ``detector`` (default: the
    nearest-point detector) decides their bits; each frame is scored by counting its
    wrong bits and by averaging the conditional error probabilities of its decisions
    (see :func:`grade`). Each row holds the Eb/N0, both BER estimates, the sample
    variance of the per-frame values under each estimator, and their ratio: how many
    times fewer frames the conditional estimator needs there for the same standard
    error. The rows are ready for :func:`optbook.book.table`.
    """
    qam = qam if qam is not None else QAM(4)
    detector = detector if detector is not None else NearestPointDetector(qam)
    _check_seed(seed)
    _check_positive_int(symbols_per_frame, "symbols_per_frame")
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 2:
        raise ValueError(
            f"frames must be a whole number >= 2 (for a spread), got {frames!r}"
        )
    rows = []
    with torch.no_grad():
        for index, value in enumerate(ebn0_db):
            generator = torch.Generator().manual_seed(_point_seed(seed, index))
            batch = make_frames(frames, symbols_per_frame, float(value), qam, generator)
            bits = batch.bits.bool()
            logits = _checked_logits(detector(batch.received), batch.received, qam)
            map_logits = map_bit_logits(qam, batch.received, batch.n0)
            conditional, counting = _frame_scores(
                hard_bits(logits) > 0, bits, map_logits
            )
            var_counting = float(counting.var())
            var_conditional = float(conditional.var())
            rows.append(
                {
                    "Eb/N0 (dB)": float(value),
                    "BER, counting": float(counting.mean()),
                    "BER, conditional": float(conditional.mean()),
                    "variance, counting": var_counting,
                    "variance, conditional": var_conditional,
                    # no error counted: the counting estimator has no spread
                    "ratio": var_counting / var_conditional
                    if var_conditional > 0 and var_counting > 0
                    else math.nan,
                }
            )
    return rows


# -- helpers of the grader ------------------------------------------------------------


def _score_round(
    detector: Detector,
    block: _Round,
    frames_per_call: int,
    device: torch.device,
    qam: QAM,
) -> dict[str, Tensor]:
    """Per-frame values of one round: ``{who}_{estimator}`` -> ``[P * C]`` float64.

    The detector gets the received samples only, a block of whole frames at a time,
    in the round's shuffled ``order``; the values come back in the points' order.
    """
    conditional, counting = [], []
    for first in range(0, len(block.received), frames_per_call):
        part = block.order[first : first + frames_per_call]
        received = block.received[part]
        logits = _run_detector(detector, received, device, qam.bits_per_symbol)
        scored = _frame_scores(
            hard_bits(logits) > 0, block.bits[part], block.map_logits[part]
        )
        conditional.append(scored[0])
        counting.append(scored[1])
    unshuffle = torch.argsort(block.order)
    values = {
        "yours_conditional": torch.cat(conditional)[unshuffle],
        "yours_counting": torch.cat(counting)[unshuffle],
    }
    for name, (cond, count) in block.yardsticks.items():
        values[f"{name}_conditional"] = cond
        values[f"{name}_counting"] = count
    return values


def _frame_scores(
    decisions: Tensor, bits: Tensor, map_logits: Tensor
) -> tuple[Tensor, Tensor]:
    """Each frame's conditional and counting BER: ``[frames, symbols, k]`` -> 2 x
    ``[frames]``.

    ``map_logits`` is ``log P(b=1|y) - log P(b=0|y)``, so a decision ``1`` is wrong with
    probability ``sigmoid(-logit)`` and a decision ``0`` with ``sigmoid(logit)``.
    """
    decisions = decisions.bool()
    wrong_probability = torch.sigmoid(torch.where(decisions, -map_logits, map_logits))
    conditional = wrong_probability.sum(dim=(1, 2), dtype=torch.float64)
    counting = (decisions != bits).sum(dim=(1, 2)).to(torch.float64)
    bits_per_frame = bits.shape[1] * bits.shape[2]
    return conditional / bits_per_frame, counting / bits_per_frame


def _run_detector(
    detector: Detector, received: Tensor, device: torch.device, k: int
) -> Tensor:
    """Call the detector on one block and check that its answer is logits of the right
    shape."""
    logits = detector(received.to(device))
    return _checked_logits(logits, received, k).detach().to("cpu")


def _checked_logits(logits: Any, received: Tensor, k: int | QAM) -> Tensor:
    """Raise unless ``logits`` is a tensor of shape ``[*received.shape, k]`` without
    NaN."""
    k = k.bits_per_symbol if isinstance(k, QAM) else k
    if not isinstance(logits, Tensor):
        raise TypeError(
            f"the detector must return a torch.Tensor of bit logits, "
            f"got {type(logits).__name__}"
        )
    expected = (*received.shape, k)
    if tuple(logits.shape) != expected:
        raise ValueError(
            f"the detector must return bit logits of shape "
            f"[frames, symbols, bits_per_symbol] = {list(expected)} for received "
            "samples "
            f"of shape {list(received.shape)}; it returned shape {list(logits.shape)}"
        )
    if logits.is_floating_point() and bool(torch.isnan(logits).any()):
        raise ValueError("the detector returned NaN logits")
    return logits


def _standard_error_of_average(frame_values: Tensor) -> float:
    """Standard error of the average over points of per-point means, ``[points,
    frames]``.

    Each point's mean has variance ``s_j**2 / F`` (``s_j`` the sample standard deviation
    over its ``F`` frames); the points are independent, so the average over ``P`` points
    has standard error ``sqrt(sum_j s_j**2 / F) / P``.
    """
    values = frame_values.to(torch.float64)
    num_points, num_frames = values.shape
    variance_of_means = values.var(dim=1, correction=1) / num_frames
    return float(variance_of_means.sum().sqrt() / num_points)


def _point_seed(seed: int, point: int) -> int:
    """A well-mixed 63-bit seed for the random stream of one Eb/N0 point."""
    state = np.random.SeedSequence([seed, point]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def _device_of(detector: Detector) -> torch.device:
    """The device of an ``nn.Module``'s first parameter, else the CPU."""
    if isinstance(detector, torch.nn.Module):
        for parameter in detector.parameters():
            return parameter.device
    return torch.device("cpu")


def _set_eval(detector: Detector) -> bool | None:
    """Put an ``nn.Module`` in eval mode; return whether it was training (None: no
    module)."""
    if not isinstance(detector, torch.nn.Module):
        return None
    was_training = detector.training
    detector.eval()
    return was_training


def _restore_mode(detector: Detector, was_training: bool | None) -> None:
    if isinstance(detector, torch.nn.Module) and was_training is not None:
        detector.train(was_training)


def _check_positive_int(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative whole number, got {seed!r}")
