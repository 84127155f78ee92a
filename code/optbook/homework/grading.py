"""The homework's data protocol, fast, and its grader (``chapters/homework.ipynb``).

The course's experiment sends frames of 16-QAM symbols over AWGN, each frame at one
Eb/N0 drawn from [-20, 20] dB, and judges a detector by its bit error rate (BER).
:func:`make_frames` draws such frames for training, a whole batch in one vectorised
call; :func:`grade` evaluates a detector on a fixed, seeded grid of Eb/N0 values and
compares it, on the very same received samples, with the nearest-point detector and the
genie MAP detector that knows each frame's N0 (the limit of the task).

**A detector** is any callable that takes received samples, a complex tensor
``[frames, symbols]``, and returns bit logits ``[frames, symbols, bits_per_symbol]``
(``logit > 0`` means bit 1; see :mod:`optbook.homework.channel`). It never receives N0: if it
wants the noise level, it has to estimate it from the frame.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

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
"""Received samples, complex ``[frames, symbols]`` -> bit logits ``[frames, symbols, k]``."""


# -- the data -------------------------------------------------------------------------


class Frames(NamedTuple):
    """A batch of frames, each sent at one Eb/N0.

    Attributes:
        received: complex64 ``[frames, symbols_per_frame]``, the channel's output.
        bits: float32 ``[frames, symbols_per_frame, bits_per_symbol]`` of 0.0 and 1.0, the
            bits that were sent (float, so that they can be ``BCEWithLogitsLoss`` targets).
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
    uniformly from ``torch.linspace(low, high, grid_points)`` instead, as the course does
    (its grid has 3200 points).
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
    return grid[torch.randint(grid_points, (num_frames,), generator=generator, device=device)]


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

    Speed: the course's data (32 frames of 16384 symbols) takes a few milliseconds on one
    CPU core (``benchmarks/bench_channel_data.py``). Most of it is drawing the Gaussian
    noise; the symbols come from :func:`random_symbol_indices` (16 symbols per random
    64-bit word instead of one random number per symbol), and points and bits are copied
    from small tables with :func:`~optbook.homework.channel.lookup_rows`.
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

    The same distribution as ``torch.randint(2**bits_per_symbol, shape)``, at a fraction of
    the cost. ``randint`` asks the random generator for one number per symbol, but one
    random 64-bit integer already holds the bits of ``64 // bits_per_symbol`` symbols (16
    for 16-QAM). So we draw one random 64-bit *word* per 16 symbols and cut it into 4-bit
    pieces: piece ``j`` is ``(word >> 4 j) & 0b1111``, the bits ``4 j .. 4 j + 3`` of the
    word. The bits of a uniform random word are independent fair coin flips, hence every
    piece is uniform on ``0 .. 15`` and the pieces are independent.
    """
    check_bits_per_symbol(bits_per_symbol)
    count = math.prod(shape)
    per_word = 64 // bits_per_symbol
    words = torch.empty(math.ceil(count / per_word), dtype=torch.int64, device=device)
    words.random_(-(2**63), None, generator=generator)  # from -2**63 up: all 64 bits random
    shifts = torch.arange(0, per_word * bits_per_symbol, bits_per_symbol, device=device)
    # [words, per_word]: row w holds the pieces of word w, so symbol i is piece i % per_word
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
    """The exact bit-wise MAP detector, told each frame's noise variance when it is built.

    ``GenieMapDetector(qam, n0=frames.n0)(frames.received)`` gives the log-likelihood
    ratios of :func:`optbook.homework.channel.map_bit_logits`. It is the best any detector can do
    on this channel, so its BER is the limit of the homework. :func:`grade` builds one per
    block of frames for its reference column; a student's detector never gets N0.
    """

    def __init__(self, qam: QAM | None, n0: float | Tensor) -> None:
        self.qam = qam if qam is not None else QAM(4)
        self.n0 = n0

    def __call__(self, received: Tensor) -> Tensor:
        return map_bit_logits(self.qam, received, self.n0)

    def __repr__(self) -> str:
        return f"GenieMapDetector({self.qam!r}, n0=...)"


# -- the grader -----------------------------------------------------------------------


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
    """What :func:`grade` measured; ``print`` it, or show it in a notebook, to hand it in.

    Averages are over the Eb/N0 points. Standard errors are estimated from the spread of
    the per-frame BERs at each point, so they stay honest for a detector whose errors are
    correlated within a frame. The gaps are paired differences on the same samples, so
    their standard errors are much smaller than those of the averages.
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

    def summary_lines(self) -> list[tuple[str, str]]:
        """(what, value) pairs of the summary, shared by the text and markdown views."""
        return [
            ("your detector, average BER", f"{self.ber:.5f} ± {self.standard_error:.5f}"),
            (
                "nearest-point detector",
                f"{self.nearest_point_ber:.5f} ± {self.nearest_point_standard_error:.5f}",
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
            f"{2**self.bits_per_symbol}-QAM over AWGN, {len(self.rows)} Eb/N0 points from "
            f"{self.rows[0].ebn0_db:g} to {self.rows[-1].ebn0_db:g} dB, "
            f"{self.frames_per_point} frames x {self.symbols_per_frame} symbols per point, "
            f"seed {self.seed}, graded in {self.seconds:.1f} s"
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
) -> int:
    """Frames per Eb/N0 point so that the average BER's standard error is at most the target.

    The average of ``P`` independent per-point BERs has variance ``sum_j Var(BER_j) / P**2``.
    The bits of one symbol are not independent (a symbol error often flips several), so
    the conservative unit is the symbol: the fraction of wrong bits in one symbol has mean
    ``p`` and variance at most ``p (1 - p)``. With ``n`` symbols per point and every BER at
    the worst case ``p``, the standard error is ``sqrt(p (1 - p) / (P n))``, which is at
    most the target when ``n >= p (1 - p) / (P target**2)``. For the homework (``P = 81``,
    ``p = 0.5``, target 1e-4): ``n >= 308,642`` symbols, i.e. 1206 frames of 256 symbols.
    """
    variance_per_symbol = worst_case_ber * (1 - worst_case_ber)
    symbols_needed = variance_per_symbol / (num_points * target_standard_error**2)
    return max(2, math.ceil(symbols_needed / symbols_per_frame))


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
    max_symbols_per_call: int = 65536,
    device: torch.device | str | None = None,
) -> GradeResult:
    """Grade a detector: its BER averaged over a fixed grid of Eb/N0 values.

    At each of ``num_points`` Eb/N0 values evenly spaced over ``[low_db, high_db]``, frames
    of ``symbols_per_frame`` symbols are drawn from a stream seeded by ``(seed, point)``;
    there are enough of them (:func:`frames_per_point_needed`) for the average BER's
    standard error to be below ``target_standard_error``. The detector, the nearest-point
    detector and the genie MAP detector all see the same received samples; the closed-form
    BER is computed, nothing is typed in. An instructor grades with a private ``seed``.

    The detector is called under ``torch.no_grad()`` on blocks of at most
    ``max_symbols_per_call`` symbols (whole frames), on ``device`` (default: the device of
    an ``nn.Module``'s parameters, else the CPU); an ``nn.Module`` is put in eval mode for
    the grade and back afterwards.
    """
    start = time.perf_counter()
    qam = qam if qam is not None else QAM(4)
    _check_seed(seed)
    _check_positive_int(num_points, "num_points")
    _check_positive_int(symbols_per_frame, "symbols_per_frame")
    if not target_standard_error > 0:
        raise ValueError(f"target_standard_error must be positive, got {target_standard_error}")
    device = torch.device(device) if device is not None else _device_of(detector)
    frames_per_point = frames_per_point_needed(num_points, symbols_per_frame, target_standard_error)
    frames_per_call = max(1, max_symbols_per_call // symbols_per_frame)
    ebn0_points = torch.linspace(low_db, high_db, num_points, dtype=torch.float64)

    was_training = _set_eval(detector)
    try:
        with torch.no_grad():
            errors = _per_frame_error_rates(
                detector,
                qam,
                seed,
                ebn0_points,
                frames_per_point,
                symbols_per_frame,
                frames_per_call,
                device,
            )
    finally:
        _restore_mode(detector, was_training)

    closed_form = closed_form_ber(ebn0_points, qam.bits_per_symbol)
    per_point = {name: e.mean(dim=1) for name, e in errors.items()}
    rows = tuple(
        GradeRow(
            ebn0_db=float(ebn0_points[j]),
            ber=float(per_point["yours"][j]),
            nearest_point_ber=float(per_point["np"][j]),
            genie_map_ber=float(per_point["map"][j]),
            closed_form_ber=float(closed_form[j]),
        )
        for j in range(num_points)
    )
    return GradeResult(
        ber=float(per_point["yours"].mean()),
        standard_error=_standard_error_of_average(errors["yours"]),
        nearest_point_ber=float(per_point["np"].mean()),
        nearest_point_standard_error=_standard_error_of_average(errors["np"]),
        genie_map_ber=float(per_point["map"].mean()),
        genie_map_standard_error=_standard_error_of_average(errors["map"]),
        closed_form_ber=float(closed_form.mean()),
        gap_to_genie=float((per_point["yours"] - per_point["map"]).mean()),
        gap_to_genie_standard_error=_standard_error_of_average(errors["yours"] - errors["map"]),
        gap_to_nearest_point=float((per_point["yours"] - per_point["np"]).mean()),
        gap_to_nearest_point_standard_error=_standard_error_of_average(
            errors["yours"] - errors["np"]
        ),
        rows=rows,
        seed=seed,
        bits_per_symbol=qam.bits_per_symbol,
        frames_per_point=frames_per_point,
        symbols_per_frame=symbols_per_frame,
        seconds=time.perf_counter() - start,
    )


# -- helpers of the grader ------------------------------------------------------------


def _per_frame_error_rates(
    detector: Detector,
    qam: QAM,
    seed: int,
    ebn0_points: Tensor,
    frames_per_point: int,
    symbols_per_frame: int,
    frames_per_call: int,
    device: torch.device,
) -> dict[str, Tensor]:
    """BER of every frame, ``[points, frames]``, for "yours", "np" (nearest point), "map".

    The frames of each Eb/N0 point come from their own seeded stream, and all three
    detectors are run on the same blocks of received samples.
    """
    num_points = ebn0_points.numel()
    errors = {
        name: torch.empty(num_points, frames_per_point, dtype=torch.float64)
        for name in ("yours", "np", "map")
    }
    for point, ebn0_db in enumerate(ebn0_points.tolist()):
        generator = torch.Generator().manual_seed(_point_seed(seed, point))
        frames = make_frames(frames_per_point, symbols_per_frame, ebn0_db, qam, generator)
        for first in range(0, frames_per_point, frames_per_call):
            block = slice(first, first + frames_per_call)
            received, bits = frames.received[block], frames.bits[block].bool()
            logits = _run_detector(detector, received, device, qam.bits_per_symbol)
            genie = GenieMapDetector(qam, frames.n0[block])
            errors["yours"][point, block] = _frame_error_rates(hard_bits(logits), bits)
            errors["np"][point, block] = _frame_error_rates(
                nearest_point_logits(qam, received) > 0, bits
            )
            errors["map"][point, block] = _frame_error_rates(genie(received) > 0, bits)
    return errors


def _run_detector(detector: Detector, received: Tensor, device: torch.device, k: int) -> Tensor:
    """Call the detector on one block and check that its answer is logits of the right shape."""
    logits = detector(received.to(device))
    if not isinstance(logits, Tensor):
        raise TypeError(
            f"the detector must return a torch.Tensor of bit logits, got {type(logits).__name__}"
        )
    expected = (*received.shape, k)
    if tuple(logits.shape) != expected:
        raise ValueError(
            f"the detector must return bit logits of shape [frames, symbols, bits_per_symbol]"
            f" = {list(expected)} for received samples of shape {list(received.shape)}; "
            f"it returned shape {list(logits.shape)}"
        )
    if logits.is_floating_point() and bool(torch.isnan(logits).any()):
        raise ValueError("the detector returned NaN logits")
    return logits.detach().to("cpu")


def _frame_error_rates(decisions: Tensor, bits: Tensor) -> Tensor:
    """Fraction of wrong bits in each frame: ``[frames, symbols, k]`` -> ``[frames]``."""
    wrong = decisions.bool() != bits
    return wrong.sum(dim=(1, 2)) / (bits.shape[1] * bits.shape[2])


def _standard_error_of_average(frame_values: Tensor) -> float:
    """Standard error of the average over points of per-point means, ``[points, frames]``.

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
    """Put an ``nn.Module`` in eval mode; return whether it was training (None: no module)."""
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
