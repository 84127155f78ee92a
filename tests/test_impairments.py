"""Part B's channel: the impairments, the genie's posterior, the classical yardstick."""

import math

import pytest
import torch

from optbook.homework.channel import QAM, map_bit_logits, nearest_point_logits
from optbook.homework.grading import _frame_scores, grade
from optbook.homework.impairments import (
    RANGES,
    BlindMapDetector,
    ImpairedGradingSamples,
    Impairments,
    blind_correction,
    distorted_points,
    draw_impairments,
    genie_logits,
    impair,
    impaired_batches,
    impaired_frames,
)

QAM16 = QAM(4)


def none(frames: int) -> Impairments:
    zeros = torch.zeros(frames)
    return Impairments(zeros, zeros, zeros, torch.full((frames,), 1e6))


def test_draws_lie_in_their_ranges():
    drawn = draw_impairments(4000, torch.Generator().manual_seed(0))
    for value, key in zip(
        (torch.rad2deg(drawn.phase), drawn.iq_gain, torch.rad2deg(drawn.iq_skew)),
        ("phase_deg", "iq_gain", "iq_skew_deg"),
        strict=True,
    ):
        low, high = RANGES[key]
        assert low <= float(value.min()) and float(value.max()) <= high
        assert float(value.max() - value.min()) > 0.9 * (high - low)
    assert RANGES["saturation"][0] <= float(drawn.saturation.min())
    assert abs(RANGES["phase_deg"][1]) < 45  # inside the quarter turn of 16-QAM


def test_no_impairment_is_the_identity_and_each_one_acts():
    points = QAM16.points.unsqueeze(0)
    assert torch.allclose(impair(points, none(1)), points, atol=1e-6)
    rotated = Impairments(
        torch.tensor([0.3]), torch.zeros(1), torch.zeros(1), torch.tensor([1e6])
    )
    assert torch.allclose(impair(points, rotated), points * complex(math.cos(0.3),
                          math.sin(0.3)), atol=1e-6)  # fmt: skip
    compressed = Impairments(
        torch.zeros(1), torch.zeros(1), torch.zeros(1), torch.tensor([1.0])
    )
    out = impair(points, compressed)
    assert torch.allclose(torch.angle(out), torch.angle(points), atol=1e-6)
    assert bool((out.abs() < points.abs()).all())  # the amplifier pulls points in
    outer = points.abs().argmax()
    assert float(out.abs().flatten()[outer]) < 0.8 * float(points.abs().max())


def test_genie_equals_the_brute_force_posterior_and_the_plain_map():
    generator = torch.Generator().manual_seed(1)
    frames = impaired_frames(6, 50, torch.linspace(-10, 15, 6), QAM16, generator)
    logits = genie_logits(QAM16, frames.received, frames.n0, frames.impairments)
    points = distorted_points(QAM16, frames.impairments).to(torch.complex128)
    y = frames.received.to(torch.complex128)
    log_likelihood = -((y[..., None] - points[:, None, :]).abs() ** 2) / frames.n0.to(
        torch.float64
    ).view(-1, 1, 1)
    labels = QAM16.labels.bool()
    brute = torch.stack(
        [
            torch.logsumexp(log_likelihood[..., labels[:, j]], -1)
            - torch.logsumexp(log_likelihood[..., ~labels[:, j]], -1)
            for j in range(4)
        ],
        -1,
    )
    assert torch.allclose(logits.double(), brute, atol=1e-4, rtol=1e-5)
    plain = genie_logits(QAM16, frames.received, frames.n0, none(6))
    assert torch.allclose(
        plain, map_bit_logits(QAM16, frames.received, frames.n0), atol=1e-3, rtol=1e-4
    )


def test_conditional_score_is_unbiased_on_the_impaired_channel():
    generator = torch.Generator().manual_seed(2)
    frames = impaired_frames(400, 64, 4.0, QAM16, generator)
    posterior = genie_logits(QAM16, frames.received, frames.n0, frames.impairments)
    decisions = nearest_point_logits(QAM16, frames.received) > 0
    conditional, counting = _frame_scores(decisions, frames.bits.bool(), posterior)
    error = math.sqrt((counting.var() / len(counting)).item())
    assert abs(float(conditional.mean() - counting.mean())) < 4 * error
    # and the genie's own decisions are the best on these samples
    genie, _ = _frame_scores(posterior > 0, frames.bits.bool(), posterior)
    assert float(genie.mean()) < float(conditional.mean())


def test_blind_correction_undoes_rotation_and_iq_imbalance_at_high_snr():
    generator = torch.Generator().manual_seed(3)
    indices = torch.randint(16, (4, 4096), generator=generator)
    sent = QAM16.points[indices]
    impairments = Impairments(
        torch.tensor([0.4, -0.3, 0.1, 0.0]),
        torch.tensor([0.0, 0.0, 0.15, -0.15]),
        torch.tensor([0.0, 0.0, 0.1, -0.1]),
        torch.full((4,), 1e6),
    )
    received = impair(sent, impairments)
    corrected, n0_hat = blind_correction(received, QAM16)
    wrong = nearest_point_logits(QAM16, corrected) > 0
    errors = (wrong != QAM16.labels[indices].bool()).float().mean()
    assert float(errors) < 1e-3
    before = (nearest_point_logits(QAM16, received) > 0) != QAM16.labels[indices].bool()
    assert float(before.float().mean()) > 0.05  # the impairments did hurt
    assert float(n0_hat.max()) < 0.05


def test_strong_noise_frames_are_left_alone():
    generator = torch.Generator().manual_seed(4)
    frames = impaired_frames(3, 256, -15.0, QAM16, generator)
    corrected, _ = blind_correction(frames.received, QAM16)
    assert torch.equal(corrected, frames.received)


def test_the_ladder_on_the_impaired_channel():
    samples = ImpairedGradingSamples(5, num_points=9, low_db=-10, high_db=20)
    result = grade(BlindMapDetector(), samples=samples, target_standard_error=1e-3)
    assert result.genie_map_ber < result.ber < result.nearest_point_ber
    assert (
        result.nearest_point_ber - result.ber
        > 10 * result.gap_to_nearest_point_standard_error
    )


def test_training_batches_of_the_impaired_channel():
    batches = impaired_batches(3, 32, torch.Generator().manual_seed(6))
    received, bits = next(iter(batches))
    assert received.shape == (3, 32) and received.is_complex()
    assert bits.shape == (3, 32, 4)
    again, _ = next(iter(impaired_batches(3, 32, torch.Generator().manual_seed(6))))
    assert torch.equal(received, again)


def test_bad_ebn0_shape_is_refused():
    with pytest.raises(ValueError, match="one value per frame"):
        impaired_frames(3, 8, torch.zeros(2))
