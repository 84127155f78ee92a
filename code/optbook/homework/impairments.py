"""Part B of the homework: a radio channel with unknown per-frame impairments.

Real transmitters and receivers are not ideal. This module adds three classic
impairments to the lecture's channel, each drawn anew for every frame and never told to
the detector:

- **IQ imbalance** of the modulator: the in-phase and quadrature branches have gains
  ``1 + g/2`` and ``1 - g/2`` and are not exactly 90 degrees apart (skew ``psi``);
- **amplifier compression**: a Rapp power amplifier (smoothness ``p = 2``) whose output
  amplitude saturates at ``a_sat``, so the outer points of the constellation are pulled
  in;
- **carrier phase offset**: the whole frame is rotated by ``phi``.

The chain is ``s -> IQ imbalance -> amplifier -> rotation -> + noise``: every
impairment acts on the transmitted point, before the noise, so given the frame's
impairments the received sample is one of 16 known (distorted) points plus circular
Gaussian noise. The **genie** (:func:`genie_logits`) knows the impairments and ``N0``
and computes the exact bit posteriors over those 16 points: the limit of the task, and
the posterior that the grader's conditional score uses. The **classical yardstick**
(:class:`BlindMapDetector`) estimates the phase and the IQ imbalance blindly from the
frame's moments and then applies the plain channel's exact MAP rule; it ignores the
compression. :class:`ImpairedGradingSamples` plugs this channel into
:func:`optbook.homework.grading.grade`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from optbook.homework.channel import (
    QAM,
    awgn,
    check_complex,
    ebn0_db_to_n0,
    lookup_rows,
    map_bit_logits,
    nearest_point_logits,
)
from optbook.homework.grading import (
    FRAMES_PER_ROUND,
    GradingSamples,
    _frame_scores,
    _point_seed,
    _Round,
    random_symbol_indices,
    sample_ebn0_db,
)

__all__ = [
    "RANGES",
    "BlindMapDetector",
    "ImpairedBatches",
    "ImpairedFrames",
    "ImpairedGradingSamples",
    "Impairments",
    "blind_correction",
    "distorted_points",
    "draw_impairments",
    "genie_logits",
    "points_map_logits",
    "impaired_batches",
    "impaired_frames",
]

RANGES = {
    "phase_deg": (-30.0, 30.0),
    "iq_gain": (-0.2, 0.2),
    "iq_skew_deg": (-10.0, 10.0),
    "saturation": (0.9, 1.8),
}
"""Each impairment is drawn uniformly from its range, independently for every frame:
the phase offset and the IQ skew in degrees, the IQ gain imbalance ``g`` (branch gains
``1 +- g/2``), the amplifier's saturation amplitude (unit average symbol energy: the
outer points of 16-QAM have amplitude 1.34). The phase stays inside +-45 degrees, the
quarter turn under which 16-QAM looks the same: beyond it no blind receiver could tell
the rotation."""

BLIND_N0_GATE = 0.3
""":func:`blind_correction` corrects only frames whose estimated N0 is at most this
(Eb/N0 above about -1 dB)."""

RAPP_SMOOTHNESS = 2.0
"""The Rapp amplifier's smoothness ``p``: the amplitude ``|x|`` becomes
``|x| / (1 + (|x| / a_sat)^(2p))^(1/(2p))``."""


@dataclass(frozen=True)
class Impairments:
    """One value per frame of each impairment: float32 tensors ``[frames]``."""

    phase: Tensor  # radians
    iq_gain: Tensor
    iq_skew: Tensor  # radians
    saturation: Tensor

    def __len__(self) -> int:
        return len(self.phase)

    def __getitem__(self, index: slice | Tensor) -> Impairments:
        return Impairments(*(t[index] for t in self.as_tuple()))

    def as_tuple(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        return (self.phase, self.iq_gain, self.iq_skew, self.saturation)


def draw_impairments(
    num_frames: int, generator: torch.Generator | None = None
) -> Impairments:
    """Draw every frame's impairments uniformly from :data:`RANGES`."""
    device = generator.device if generator is not None else None

    def uniform(low: float, high: float) -> Tensor:
        u = torch.rand(num_frames, generator=generator, device=device)
        return low + (high - low) * u

    return Impairments(
        phase=torch.deg2rad(uniform(*RANGES["phase_deg"])),
        iq_gain=uniform(*RANGES["iq_gain"]),
        iq_skew=torch.deg2rad(uniform(*RANGES["iq_skew_deg"])),
        saturation=uniform(*RANGES["saturation"]),
    )


def impair(symbols: Tensor, impairments: Impairments) -> Tensor:
    """The transmitted points after the impairments: complex ``[frames, symbols]``.

    IQ imbalance: ``I' = (1 + g/2) (I cos(psi/2) - Q sin(psi/2))``, ``Q' = (1 - g/2) (Q
    cos(psi/2) - I sin(psi/2))``; then the Rapp amplifier scales the amplitude and keeps
    the phase; then the rotation by ``phi``.
    """
    symbols = check_complex(symbols, "symbols")
    column = [t.to(symbols.real.dtype).unsqueeze(-1) for t in impairments.as_tuple()]
    phase, gain, skew, saturation = column
    i, q = symbols.real, symbols.imag
    c, s = torch.cos(skew / 2), torch.sin(skew / 2)
    x = torch.complex(
        (1 + gain / 2) * (i * c - q * s), (1 - gain / 2) * (q * c - i * s)
    )
    amplitude = x.abs()
    p = RAPP_SMOOTHNESS
    scale = (1 + (amplitude / saturation) ** (2 * p)) ** (-1 / (2 * p))
    return x * scale * torch.polar(torch.ones_like(phase), phase)


def distorted_points(qam: QAM, impairments: Impairments) -> Tensor:
    """Where each of the ``M`` points lands in each frame: complex ``[frames, M]``."""
    points = qam.points.unsqueeze(0).expand(len(impairments), -1)
    return impair(points, impairments)


@dataclass(frozen=True)
class ImpairedFrames:
    """A batch of frames through the impaired channel; like
    :class:`optbook.homework.grading.Frames`, plus each frame's impairments."""

    received: Tensor
    bits: Tensor
    n0: Tensor
    impairments: Impairments


def impaired_frames(
    num_frames: int,
    symbols_per_frame: int,
    ebn0_db: float | Tensor,
    qam: QAM | None = None,
    generator: torch.Generator | None = None,
) -> ImpairedFrames:
    """Draw bits, map them to QAM, impair every frame with its own draw, add AWGN.

    ``ebn0_db`` is one value or one per frame; ``N0`` is set from the *nominal* symbol
    energy 1, as on the plain channel.
    """
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
    impairments = draw_impairments(num_frames, generator)
    sent = impair(lookup_rows(qam.points.to(device), indices), impairments)
    received = awgn(sent, n0, generator)
    bits = lookup_rows(qam.labels, indices)
    return ImpairedFrames(received, bits, n0, impairments)


class ImpairedBatches:
    """An endless stream of ``(received, bits)`` batches from the impaired channel; see
    :func:`impaired_batches`."""

    def __init__(
        self,
        qam: QAM,
        batch_frames: int,
        symbols_per_frame: int,
        generator: torch.Generator | None,
        ebn0_range: tuple[float, float],
    ) -> None:
        self.qam = qam
        self.batch_frames = batch_frames
        self.symbols_per_frame = symbols_per_frame
        self.generator = generator
        self.ebn0_range = ebn0_range

    def __iter__(self):
        while True:
            yield self.draw()

    def draw(self) -> tuple[Tensor, Tensor]:
        low, high = self.ebn0_range
        ebn0 = sample_ebn0_db(self.batch_frames, low, high, generator=self.generator)
        frames = impaired_frames(
            self.batch_frames, self.symbols_per_frame, ebn0, self.qam, self.generator
        )
        return frames.received, frames.bits


def impaired_batches(
    batch_frames: int = 16,
    symbols_per_frame: int = 256,
    generator: torch.Generator | None = None,
    ebn0_range: tuple[float, float] = (-20.0, 20.0),
    qam: QAM | None = None,
) -> ImpairedBatches:
    """Training data for Part B: ``(received, bits)`` from the impaired channel.

    Like :func:`optbook.homework.symbol_detection.training_batches`: every frame at its
    own Eb/N0 (uniform on ``ebn0_range``) and with its own impairments, fresh at every
    step. Neither N0 nor the impairments are handed out.
    """
    qam = qam if qam is not None else QAM(4)
    return ImpairedBatches(qam, batch_frames, symbols_per_frame, generator, ebn0_range)


# -- the genie and the classical yardstick --------------------------------------------


def genie_logits(
    qam: QAM, received: Tensor, n0: Tensor, impairments: Impairments
) -> Tensor:
    """Exact bit log-likelihood ratios given each frame's impairments and ``N0``.

    ``logit_j(y) = log sum_{s: b_j(s)=1} exp(-|y - g(s)|^2 / N0) - log sum_{s:
    b_j(s)=0} exp(-|y - g(s)|^2 / N0)``, with ``g`` the frame's impairment chain
    (:func:`distorted_points`). Returns float32 ``[frames, symbols, k]``.
    """
    return points_map_logits(qam, received, distorted_points(qam, impairments), n0)


def points_map_logits(qam: QAM, received: Tensor, points: Tensor, n0: Tensor) -> Tensor:
    """Exact bit log-likelihood ratios for per-frame constellation points.

    ``points`` is complex ``[frames, M]``: where point ``m`` (bits ``qam.labels[m]``)
    lands in each frame; ``n0`` ``[frames]``. Computed in float64, the terms of each
    sum normalised by the largest (no max-log approximation); float32 ``[frames,
    symbols, k]``.
    """
    received = check_complex(received)
    points = points.to(torch.complex128)
    n0 = torch.as_tensor(n0, dtype=torch.float64, device=received.device)
    difference = received.to(torch.complex128).unsqueeze(-1) - points.unsqueeze(1)
    log_likelihood = -torch.view_as_real(difference).square().sum(-1) / n0.view(
        -1, 1, 1
    )  # [F, S, M]
    # normalise by the largest term, then sum the points of each label with one matmul
    weights = (log_likelihood - log_likelihood.amax(-1, keepdim=True)).exp_()
    labels = qam.labels.to(torch.float64)  # [M, k]
    ones = weights @ labels
    zeros = weights @ (1 - labels)
    tiny = torch.finfo(torch.float64).tiny
    return (ones.clamp_min(tiny).log() - zeros.clamp_min(tiny).log()).to(torch.float32)


def blind_correction(
    received: Tensor, qam: QAM | None = None, n0_gate: float = BLIND_N0_GATE
) -> tuple[Tensor, Tensor]:
    """Classical blind compensation of one frame at a time: ``(corrected, n0_hat)``.

    1. **Whitening** (undoes the IQ imbalance, up to a rotation): the 2 x 2 covariance
       ``C`` of ``(Re y, Im y)`` over the frame is that of a circular signal, ``E|y|^2 /
       2 * I``, only when the branches are balanced; multiplying by ``C^(-1/2)`` (scaled
       to keep the power) makes it so.
    2. **Fourth-power phase estimate**: ``E[s^4]`` of 16-QAM is a negative real number,
       so ``angle(mean(y^4) / E[s^4]) / 4`` estimates the rotation (within +-45
       degrees), which is then undone.
    3. **Noise level**: ``N0_hat = mean|y|^2 - 1`` (at least 1e-3), as on the plain
       channel.

    Where the noise is strong (``N0_hat > n0_gate``) the two estimates are mostly noise
    and the impairments matter little: such frames are left as they are.
    ``received`` is complex ``[frames, symbols]``.
    """
    qam = qam if qam is not None else QAM(4)
    received = check_complex(received)
    xy = torch.view_as_real(received).to(torch.float64)  # [F, S, 2]
    covariance = xy.transpose(1, 2) @ xy / xy.shape[1]  # [F, 2, 2]
    values, vectors = torch.linalg.eigh(covariance)
    power = values.sum(-1, keepdim=True)  # E|y|^2
    inverse_root = vectors @ torch.diag_embed((power / 2 / values).sqrt()) @ vectors.mT
    white = torch.view_as_complex((xy @ inverse_root.mT).contiguous())
    fourth = (qam.points.to(torch.complex128) ** 4).mean()
    phase = torch.angle((white**4).mean(dim=1) / fourth) / 4
    corrected = white * torch.polar(torch.ones_like(phase), -phase).unsqueeze(-1)
    n0_hat = (power.squeeze(-1) - 1).clamp(min=1e-3)
    keep = (n0_hat > n0_gate).unsqueeze(-1)
    corrected = torch.where(keep, received.to(corrected.dtype), corrected)
    return corrected.to(received.dtype), n0_hat.to(torch.float32)


class BlindMapDetector:
    """The classical yardstick of Part B: :func:`blind_correction`, then the plain
    channel's exact MAP rule (:func:`optbook.homework.channel.map_bit_logits`) with the
    estimated ``N0``. It knows nothing of the amplifier's compression."""

    def __init__(self, qam: QAM | None = None) -> None:
        self.qam = qam if qam is not None else QAM(4)

    def __call__(self, received: Tensor) -> Tensor:
        corrected, n0_hat = blind_correction(received, self.qam)
        return map_bit_logits(self.qam, corrected, n0_hat)

    def __repr__(self) -> str:
        return f"BlindMapDetector({self.qam!r})"


class ImpairedGradingSamples(GradingSamples):
    """:class:`~optbook.homework.grading.GradingSamples` for the impaired channel.

    The same protocol (a fixed Eb/N0 grid, rounds of frames seeded by ``(seed,
    round)``), but every frame goes through :func:`impaired_frames`; the posteriors kept
    for the conditional score are the genie's (:func:`genie_logits`), and each round
    keeps the scores of two yardsticks: ``"np"`` (nearest point, no compensation) and
    ``"map"`` (the genie, the limit). ``grade(detector,
    samples=ImpairedGradingSamples(seed))`` grades on this channel (the classical
    yardstick :class:`BlindMapDetector` is graded like any detector).
    """

    def _draw(self, index: int) -> _Round:
        qam = self.qam
        generator = torch.Generator().manual_seed(
            _point_seed(self.seed, index) ^ 0x5EED_B
        )
        ebn0 = self.ebn0_db.repeat_interleave(FRAMES_PER_ROUND)
        frames = impaired_frames(
            len(ebn0), self.symbols_per_frame, ebn0, qam, generator
        )
        bits = frames.bits.bool()
        posterior = genie_logits(qam, frames.received, frames.n0, frames.impairments)
        # the detector sees the frames in an order drawn from the seed (as on the
        # plain channel): its position in the stream tells nothing about the frame
        order = torch.randperm(len(ebn0), generator=generator)
        nearest = nearest_point_logits(qam, frames.received) > 0
        yardsticks = {
            "np": _frame_scores(nearest, bits, posterior),
            "map": _frame_scores(posterior > 0, bits, posterior),
        }
        return _Round(frames.received, order, bits, posterior, yardsticks)
