"""The homework's yardsticks, exact: BER curves by quadrature and reading them.

- :func:`exact_ber`: the BER of the nearest-point detector and of the genie MAP detector
  at any Eb/N0, by quadrature (no Monte Carlo);
  :func:`random_split_averages`: the course's validation average over random 20 % splits
  of its Eb/N0 grid, which shows why its validation figure cannot be compared with
  the grade.
- :func:`ebn0_at_ber` (where a curve crosses a BER, interpolating ``log BER``
  linearly in Eb/N0), :func:`gap_db_at_ber` (the distance in dB between two curves
  there) and :func:`grade_gap_db` (a grade's gap to the genie at BER 1e-3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from optbook.homework.channel import (
    QAM,
    ebn0_db_to_n0,
    gray_pam_levels,
    map_bit_logits,
)
from optbook.homework.grading import GradeResult

__all__ = [
    "ebn0_at_ber",
    "exact_ber",
    "gap_db_at_ber",
    "grade_gap_db",
    "random_split_averages",
]

# -- exact BER curves ------------------------------------------------------------------


def exact_ber(
    ebn0_db: float | Tensor,
    detector: str = "genie_map",
    qam: QAM | None = None,
    *,
    cells: int = 500,
    width: float = 12.0,
) -> Tensor:
    """The BER of a detector on one axis of square QAM over AWGN, by quadrature:
    float64.

    Every bit of a square QAM symbol is carried by one axis, both axes are alike, and
    the noise of the two axes is independent, so the BER of a symbol is the average BER
    of one axis's bits. On one axis the received value is ``x = a + n``, ``a`` one of
    the equally likely levels, ``n ~ N(0, N0/2)``. A detector decides each bit from
    ``x`` alone: ``"nearest_point"`` by the nearest level, ``"genie_map"`` by the sign
    of the exact MAP logit for the true ``N0``
    (:func:`optbook.homework.channel.map_bit_logits`). The BER is ``mean over bits and
    levels of P(decision(x) != bit(a) | a)``.

    The line is cut into ``cells`` equal cells over ``[min level - width*sigma, max
    level + width*sigma]`` plus the two infinite tails. The logits are computed at the
    cell edges; a cell whose two edges agree is decided as they are, a cell where the
    logit changes sign is split at the root of the linear interpolation of the logit.
    The Gaussian mass of every piece is exact (from ``erfc``, never subtracting two
    numbers close to 1), so the only error is that of the root, second order in the cell
    width: about 1e-9 (absolute) with the default 500 cells for the MAP detector. The
    nearest-point decision is made from squared distances, linear in ``x`` near each
    threshold, so its roots are exact and its BER agrees with
    :func:`optbook.homework.channel.closed_form_ber` to rounding error, in both tails.
    (The MAP logits use :class:`~optbook.homework.channel.QAM`'s float32 levels, like
    every simulation.)

    Returns the BER at every ``ebn0_db`` (same shape).
    """
    if detector not in ("genie_map", "nearest_point"):
        raise ValueError(
            f"detector must be 'genie_map' (the MAP detector that knows N0) or "
            f"'nearest_point' (minimum distance), got {detector!r}"
        )
    if isinstance(cells, bool) or not isinstance(cells, int) or cells < 2:
        raise ValueError(
            "cells (the number of quadrature cells) must be an integer >= 2, got "
            f"{cells!r}"
        )
    if not width > 0:
        raise ValueError(
            "width (how many noise standard deviations the grid covers) must be > 0, "
            f"got {width!r}"
        )
    qam = qam if qam is not None else QAM(4)
    ebn0_db = torch.as_tensor(ebn0_db, dtype=torch.float64)
    n0 = ebn0_db_to_n0(ebn0_db.flatten(), qam.bits_per_symbol)  # [P]
    chunks = [_axis_ber(qam, part, detector, cells, width) for part in n0.split(256)]
    return torch.cat(chunks).reshape(ebn0_db.shape)


def _axis_ber(qam: QAM, n0: Tensor, detector: str, cells: int, width: float) -> Tensor:
    """:func:`exact_ber` for a chunk of noise variances ``[P]``."""
    # the levels in float64 (QAM keeps float32 copies), in the order of qam.axis_labels
    odd_levels, _ = gray_pam_levels(qam.bits_per_symbol // 2)
    levels = odd_levels / math.sqrt(2 * (qam.order - 1) / 3)  # [L], unit symbol energy
    labels = qam.axis_labels.bool()  # [L, m]
    sigma = torch.sqrt(n0 / 2)[:, None]  # [P, 1]
    fraction = torch.linspace(0, 1, cells + 1, dtype=torch.float64)
    low = levels.min() - width * sigma
    high = levels.max() + width * sigma
    edges = low + (high - low) * fraction  # [P, E]
    if detector == "genie_map":
        # the real part of a complex sample carries the even-index bits b0, b2, ...
        samples = torch.complex(edges, torch.zeros_like(edges))
        logits = map_bit_logits(qam, samples, n0)[..., 0::2]  # [P, E, m]
    else:
        # nearest level with the bit = 1 against nearest level with the bit = 0, in
        # squared
        # distance: linear in x near every decision threshold, so its root is exact
        distance2 = (edges[..., None] - levels) ** 2  # [P, E, L]
        logits = torch.stack(
            [
                distance2[..., ~labels[:, j]].amin(-1)
                - distance2[..., labels[:, j]].amin(-1)
                for j in range(labels.shape[1])
            ],
            dim=-1,
        )
    decide_one = logits > 0  # [P, E, m]
    left, right = logits[:, :-1], logits[:, 1:]  # [P, C, m]
    # where the decision changes inside a cell: the root of the linear interpolation
    change = decide_one[:, :-1] != decide_one[:, 1:]
    t = torch.where(change, left / torch.where(change, left - right, 1.0), 0.0).clamp(
        0, 1
    )
    a, b = edges[:, :-1, None], edges[:, 1:, None]  # [P, C, 1]
    root = a + t * (b - a)  # [P, C, m]
    errors = torch.zeros_like(n0)
    for level, level_bits in zip(levels.tolist(), labels, strict=True):
        bit = level_bits[None, None, :]  # [1, 1, m]
        s = sigma[..., None]
        wrong = _mass(a, root, level, s) * (
            decide_one[:, :-1] != bit
        )  # decided as the left edge
        wrong = wrong + _mass(root, b, level, s) * (
            decide_one[:, 1:] != bit
        )  # as the right edge
        wrong = wrong.sum(1)  # [P, m]
        tail_low = _normal_cdf((edges[:, :1] - level) / sigma)  # [P, 1]
        tail_high = _normal_cdf((level - edges[:, -1:]) / sigma)
        wrong = (
            wrong
            + tail_low * (decide_one[:, 0] != bit[0])
            + tail_high * (decide_one[:, -1] != bit[0])
        )
        errors = errors + wrong.mean(-1)  # mean over the axis's bits
    return errors / len(levels)


def _mass(low: Tensor, high: Tensor, mean: float, sigma: Tensor) -> Tensor:
    """``P(low < X < high)`` for ``X ~ N(mean, sigma^2)``, accurate in both tails.

    Above the mean the difference is taken between upper-tail probabilities, so that two
    numbers close to 1 are never subtracted.
    """
    u, v = (low - mean) / sigma, (high - mean) / sigma
    upper = u + v > 0
    return torch.where(
        upper, _normal_cdf(-u) - _normal_cdf(-v), _normal_cdf(v) - _normal_cdf(u)
    )


def _normal_cdf(x: Tensor) -> Tensor:
    """The standard normal CDF via ``erfc``, accurate far into the lower tail.

    (``torch.special.ndtr`` returns 0 below about -8.3 in float64, where the CDF is
    still about 1e-17; ``erfc`` keeps its relative accuracy down to about 1e-300.)
    """
    return 0.5 * torch.special.erfc(-x / math.sqrt(2))


def random_split_averages(
    ber_on_grid: Tensor,
    fraction: float = 0.2,
    splits: int = 2000,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The course's validation average over many random splits of its Eb/N0 grid:
    float64 ``[splits]``.

    ``ber_on_grid`` is a detector's BER at every point of the course's grid
    (``linspace(-20, 20, 3200)``). The course keeps a random ``fraction`` of the points
    for validation and reports the BER averaged over them. Even with infinitely many
    bits per frame (exact per-point BERs, as here), that average depends on which points
    were drawn; this returns it for ``splits`` independent random splits.
    """
    ber_on_grid = torch.as_tensor(ber_on_grid, dtype=torch.float64).flatten()
    points = ber_on_grid.numel()
    if not 0 < fraction <= 1:
        raise ValueError(
            "fraction (the share of grid points used for validation) must lie in (0, "
            f"1], got {fraction}"
        )
    if isinstance(splits, bool) or not isinstance(splits, int) or splits < 1:
        raise ValueError(f"splits must be a positive whole number, got {splits!r}")
    chosen = max(1, round(fraction * points))
    keys = torch.rand(splits, points, generator=generator, dtype=torch.float64)
    subsets = keys.argsort(dim=1)[
        :, :chosen
    ]  # a random subset of `chosen` points per split
    return ber_on_grid[subsets].mean(dim=1)


# -- reading BER curves ----------------------------------------------------------------


def ebn0_at_ber(
    ebn0_db: Sequence[float] | Tensor,
    ber: Sequence[float] | Tensor,
    target: float = 1e-3,
) -> float:
    """The Eb/N0 (dB) at which a BER curve first falls to ``target``.

    ``log10(BER)`` is interpolated linearly in Eb/N0 between the last point above
    ``target`` and the first point at or below it (``ebn0_db`` increasing). Raises if
    the curve never reaches ``target``, starts below it, or has a zero BER right at the
    crossing (no logarithm): measure with more bits there.
    """
    x = torch.as_tensor(ebn0_db, dtype=torch.float64).flatten()
    y = torch.as_tensor(ber, dtype=torch.float64).flatten()
    if x.numel() != y.numel() or x.numel() < 2:
        raise ValueError(
            f"ebn0_db and ber must have the same length (at least 2), got {x.numel()} "
            f"and {y.numel()}"
        )
    if not bool((x[1:] > x[:-1]).all()):
        raise ValueError("ebn0_db must be increasing")
    if not 0 < target < 1:
        raise ValueError(f"target must be a BER between 0 and 1, got {target}")
    below = torch.nonzero(y <= target).flatten()
    if below.numel() == 0:
        raise ValueError(
            f"the BER curve never falls to {target:g} (its lowest value is "
            f"{float(y.min()):.3g})"
        )
    j = int(below[0])
    if j == 0:
        raise ValueError(
            f"the BER curve starts at or below {target:g}: no crossing to interpolate"
        )
    if y[j] <= 0:
        raise ValueError(
            f"the BER is 0 at {float(x[j]):g} dB, right where it crosses {target:g}: "
            f"measure with more bits there so that log BER is defined"
        )
    y0, y1 = math.log10(float(y[j - 1])), math.log10(float(y[j]))
    x0, x1 = float(x[j - 1]), float(x[j])
    return x0 + (math.log10(target) - y0) * (x1 - x0) / (y1 - y0)


def gap_db_at_ber(
    ebn0_db: Sequence[float] | Tensor,
    ber: Sequence[float] | Tensor,
    reference_ber: Sequence[float] | Tensor,
    target: float = 1e-3,
) -> float:
    """How many dB more a detector needs than a reference to reach ``target`` BER.

    ``ebn0_at_ber(ebn0_db, ber, target) - ebn0_at_ber(ebn0_db, reference_ber, target)``:
    positive when the detector is worse than the reference.
    """
    return ebn0_at_ber(ebn0_db, ber, target) - ebn0_at_ber(
        ebn0_db, reference_ber, target
    )


def grade_gap_db(result: GradeResult, target: float = 1e-3) -> float:
    """The gap in dB to the genie MAP at ``target`` BER, from a
    :class:`~optbook.homework.grading.GradeResult`.

    Both curves are the grade's per-point BERs, measured on the same samples.
    """
    ebn0 = [row.ebn0_db for row in result.rows]
    return gap_db_at_ber(
        ebn0,
        [row.ber for row in result.rows],
        [row.genie_map_ber for row in result.rows],
        target,
    )
