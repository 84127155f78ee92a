"""Part B's reference solution (instructors only): learn each frame's constellation.

On the impaired channel (:mod:`optbook.homework.impairments`) every frame has its own
16 distorted points. :class:`ClusterMapDetector` learns them from the frame itself,
without labels: it starts from the classical blind correction (whitening and the
fourth-power phase estimate), then runs a few rounds of k-means, each point's cluster
seeded at its nominal position, and finally applies the exact MAP rule over the learned
points (:func:`optbook.homework.impairments.points_map_logits`), with the noise level
measured around them. Where the noise is strong the clusters cannot be told apart, the
impairments hardly matter, and it keeps the blind yardstick's answer.
"""

from __future__ import annotations

import torch
from torch import Tensor

from optbook.homework.channel import QAM, map_bit_logits
from optbook.homework.impairments import blind_correction, points_map_logits

__all__ = ["ClusterMapDetector", "learn_points"]


def learn_points(
    corrected: Tensor, qam: QAM, rounds: int = 4, min_count: int = 2
) -> tuple[Tensor, Tensor]:
    """k-means on each frame, one cluster per constellation point: ``(points, n0)``.

    ``corrected`` is complex ``[frames, symbols]``; clusters start at the nominal
    points; a cluster with fewer than ``min_count`` members keeps its previous centre.
    ``n0`` is the mean squared distance to the nearest centre after the last round.
    """
    frames = corrected.shape[0]
    centres = qam.points.to(corrected.dtype).unsqueeze(0).expand(frames, -1).clone()
    for _ in range(rounds):
        distance = (corrected.unsqueeze(-1) - centres.unsqueeze(1)).abs()  # [F, S, M]
        nearest = distance.argmin(-1)  # [F, S]
        member = torch.nn.functional.one_hot(nearest, qam.order).to(
            corrected.real.dtype
        )  # [F, S, M]
        count = member.sum(1)  # [F, M]
        total = torch.complex(
            torch.einsum("fs,fsm->fm", corrected.real, member),
            torch.einsum("fs,fsm->fm", corrected.imag, member),
        )
        mean = total / count.clamp_min(1)
        centres = torch.where(count >= min_count, mean, centres)
    distance = (corrected.unsqueeze(-1) - centres.unsqueeze(1)).abs().square()
    n0 = distance.amin(-1).mean(1)
    return centres, n0


class ClusterMapDetector:
    """Blind correction, k-means on the frame's constellation, exact MAP over it.

    Frames whose estimated ``N0`` (``mean |y|^2 - 1``) exceeds ``n0_switch`` keep the
    blind yardstick's logits (:class:`optbook.homework.impairments.BlindMapDetector`).
    """

    def __init__(
        self, qam: QAM | None = None, rounds: int = 4, n0_switch: float = 0.1
    ) -> None:
        self.qam = qam if qam is not None else QAM(4)
        self.rounds = rounds
        self.n0_switch = n0_switch

    def __call__(self, received: Tensor) -> Tensor:
        corrected, n0_hat = blind_correction(received, self.qam)
        logits = map_bit_logits(self.qam, corrected, n0_hat)
        clear = n0_hat < self.n0_switch
        if bool(clear.any()):
            points, n0 = learn_points(corrected[clear], self.qam, self.rounds)
            logits[clear] = points_map_logits(
                self.qam, corrected[clear], points, n0.clamp_min(1e-4)
            )
        return logits

    def __repr__(self) -> str:
        return f"ClusterMapDetector(rounds={self.rounds}, n0_switch={self.n0_switch})"
