"""Tests of optbook.homework.grading: the data protocol and the grader."""

from __future__ import annotations

import math

import pytest
import torch

from optbook.homework.channel import (
    QAM,
    closed_form_ber,
    ebn0_db_to_n0,
    nearest_point_logits,
)
from optbook.homework.grading import (
    FRAMES_PER_ROUND,
    GenieMapDetector,
    GradeResult,
    GradingSamples,
    NearestPointDetector,
    estimator_variances,
    frames_per_point_needed,
    grade,
    make_frames,
    sample_ebn0_db,
)
from optbook.homework.symbol_detection import PerSymbolBayesDetector

# a cheap protocol for the tests that check mechanics, not numbers
QUICK = {"num_points": 9, "target_standard_error": 2e-3}


@pytest.fixture(scope="module")
def full_grade_of_nearest_point() -> GradeResult:
    """The real protocol (81 points, SE < 1e-4), graded once for the whole module."""
    return grade(NearestPointDetector(QAM(4)))


# -- the data -------------------------------------------------------------------------


def test_make_frames_shapes_dtypes_and_n0():
    ebn0_db = torch.tensor([-20.0, 0.0, 20.0])
    frames = make_frames(3, 1000, ebn0_db, QAM(4), torch.Generator().manual_seed(0))
    received, bits, n0 = frames
    assert received.shape == (3, 1000) and received.dtype == torch.complex64
    assert bits.shape == (3, 1000, 4) and bits.dtype == torch.float32
    assert set(bits.unique().tolist()) == {0.0, 1.0}
    assert n0.tolist() == pytest.approx(ebn0_db_to_n0(ebn0_db, 4).tolist(), rel=1e-6)
    assert n0.tolist() == pytest.approx([25.0, 0.25, 0.0025], rel=1e-6)


def test_make_frames_noise_matches_each_frame_n0():
    qam = QAM(4)
    frames = make_frames(
        2, 100_000, torch.tensor([-3.0, 12.0]), qam, torch.Generator().manual_seed(1)
    )
    sent = qam.points[qam.bits_to_indices(frames.bits)]
    noise_power = ((frames.received - sent).abs() ** 2).mean(1)
    assert noise_power.tolist() == pytest.approx(frames.n0.tolist(), rel=0.02)


def test_make_frames_bits_are_what_was_sent():
    qam = QAM(6)
    frames = make_frames(4, 500, 40.0, qam, torch.Generator().manual_seed(2))
    assert torch.equal(qam.symbols_to_bits(frames.received), frames.bits)


def test_make_frames_is_seeded():
    first = make_frames(2, 64, 0.0, QAM(4), torch.Generator().manual_seed(3))
    again = make_frames(2, 64, 0.0, QAM(4), torch.Generator().manual_seed(3))
    other = make_frames(2, 64, 0.0, QAM(4), torch.Generator().manual_seed(4))
    assert torch.equal(first.received, again.received) and torch.equal(
        first.bits, again.bits
    )
    assert not torch.equal(first.received, other.received)


def test_make_frames_bad_ebn0_shape():
    with pytest.raises(
        ValueError, match="one value per frame, shape \\[3\\]; got shape \\(2,\\)"
    ):
        make_frames(3, 10, torch.zeros(2))


def test_sample_ebn0_db_uniform_and_grid():
    generator = torch.Generator().manual_seed(5)
    uniform = sample_ebn0_db(20_000, generator=generator)
    assert uniform.shape == (20_000,)
    assert uniform.min() >= -20 and uniform.max() <= 20
    assert abs(float(uniform.mean())) < 0.5  # standard error about 0.08
    assert float(uniform.std()) == pytest.approx(40 / math.sqrt(12), rel=0.03)
    on_grid = sample_ebn0_db(5000, grid_points=3200, generator=generator)
    grid = torch.linspace(-20, 20, 3200)
    assert torch.isin(on_grid, grid).all()
    assert on_grid.unique().numel() > 1000


# -- the grader -----------------------------------------------------------------------


def test_required_frames_per_point():
    # 0.25 / (81 * 1e-8) = 308,642 symbols per point, 1205.6 frames of 256 symbols
    assert frames_per_point_needed(81, 256, 1e-4) == 1206
    assert frames_per_point_needed(81, 16384, 1e-4) == 19
    assert frames_per_point_needed(1, 256, 1.0) == 2  # at least two, for a spread
    # the conditional estimator's first stage: 0.0025 / (81 * 1e-8) = 3087 symbols
    assert frames_per_point_needed(81, 256, 1e-4, variance_per_symbol=0.0025) == 13


def test_grade_reproduces_the_closed_form(full_grade_of_nearest_point):
    result = full_grade_of_nearest_point
    # one round of 16 frames reaches the target with the conditional estimator
    assert result.estimator == "conditional"
    assert (
        result.frames_per_point == FRAMES_PER_ROUND and result.symbols_per_frame == 256
    )
    assert len(result.rows) == 81
    assert result.rows[0].ebn0_db == -20.0 and result.rows[-1].ebn0_db == 20.0
    assert 0 < result.standard_error < 1e-4
    assert result.closed_form_ber == pytest.approx(0.1856, abs=5e-5)
    assert abs(result.ber - result.closed_form_ber) < 4 * result.standard_error
    closed_form = closed_form_ber(torch.linspace(-20, 20, 81), 4)
    assert [row.closed_form_ber for row in result.rows] == pytest.approx(
        closed_form.tolist()
    )


def test_grade_reference_columns_are_measured_on_the_same_samples(
    full_grade_of_nearest_point,
):
    result = full_grade_of_nearest_point
    # the graded detector is the nearest-point detector, so its column is identical
    assert result.ber == result.nearest_point_ber
    assert (
        result.gap_to_nearest_point == 0.0
        and result.gap_to_nearest_point_standard_error == 0
    )
    # the genie MAP limit, with the protocol file's value
    assert (
        abs(result.genie_map_ber - 0.1832) < 4 * result.genie_map_standard_error + 5e-5
    )
    assert result.gap_to_genie == pytest.approx(
        result.ber - result.genie_map_ber, abs=1e-12
    )
    assert result.gap_to_genie > 4 * result.gap_to_genie_standard_error > 0
    # per point, the genie is never worse than nearest point beyond noise
    for row in result.rows:
        assert row.genie_map_ber <= row.nearest_point_ber + 0.002


def test_grade_is_seeded():
    detector = NearestPointDetector()
    first, again = grade(detector, seed=1, **QUICK), grade(detector, seed=1, **QUICK)
    other = grade(detector, seed=2, **QUICK)
    assert first.rows == again.rows
    assert first.rows != other.rows


def test_detector_gets_blocks_of_complex_samples_and_nothing_else():
    calls = []

    def spy(received):
        calls.append((tuple(received.shape), received.dtype, torch.is_grad_enabled()))
        return nearest_point_logits(QAM(4), received)

    result = grade(spy, max_symbols_per_call=4096, **QUICK)
    frames = result.frames_per_point
    assert len(calls) == math.ceil(9 * frames / 16)
    assert all(shape[1] == 256 and shape[0] * shape[1] <= 4096 for shape, _, _ in calls)
    assert sum(shape[0] for shape, _, _ in calls) == 9 * frames
    assert {dtype for _, dtype, _ in calls} == {torch.complex64}
    assert not any(grad for _, _, grad in calls)


def test_module_detector_is_graded_in_eval_mode_and_restored():
    class Mlp(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(2, 16), torch.nn.Dropout(0.5), torch.nn.Linear(16, 4)
            )
            self.modes = set()

        def forward(self, received):
            self.modes.add(self.training)
            return self.net(torch.view_as_real(received))

    model = Mlp().train()
    result = grade(model, **QUICK)
    assert model.modes == {False} and model.training
    assert 0 <= result.ber <= 1


def test_genie_detector_beats_nearest_point_on_frames():
    qam = QAM(4)
    frames = make_frames(
        64, 256, torch.full((64,), 2.0), qam, torch.Generator().manual_seed(9)
    )
    genie = GenieMapDetector(qam, frames.n0)(frames.received)
    nearest = NearestPointDetector(qam)(frames.received)
    assert genie.shape == nearest.shape == frames.bits.shape
    genie_errors = ((genie > 0).float() != frames.bits).float().mean()
    nearest_errors = ((nearest > 0).float() != frames.bits).float().mean()
    assert genie_errors <= nearest_errors


def test_result_prints_for_handing_in():
    result = grade(NearestPointDetector(), seed=7, **QUICK)
    text, markdown = str(result), result._repr_markdown_()
    assert f"{result.ber:.5f} ± {result.standard_error:.5f}" in text
    assert f"{result.genie_map_ber:.5f}" in text and "seed 7" in text
    assert f"| your detector, average BER | {result.ber:.5f}" in markdown
    assert markdown.count("\n| ") >= 9 + 6


# -- errors in words a student understands --------------------------------------------


def test_probability_outputs_are_refused():
    sigmoid_model = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Sigmoid())

    def detector(received):
        return sigmoid_model(torch.view_as_real(received))

    with pytest.raises(ValueError, match="look like probabilities"):
        grade(detector, **QUICK)


def test_wrong_output_shape_is_refused():
    def flat(received):
        return torch.zeros(received.shape[0], received.shape[1] * 4)

    with pytest.raises(
        ValueError, match="shape \\[frames, symbols, bits_per_symbol\\]"
    ):
        grade(flat, **QUICK)


def test_non_tensor_or_nan_output_is_refused():
    with pytest.raises(TypeError, match="must return a torch.Tensor"):
        grade(lambda received: received.real.tolist(), **QUICK)
    with pytest.raises(ValueError, match="NaN"):
        grade(lambda received: torch.full((*received.shape, 4), math.nan), **QUICK)


@pytest.mark.parametrize("bad_seed", [-1, 1.5, "42"])
def test_bad_seed_is_refused(bad_seed):
    with pytest.raises(ValueError, match="seed must be a non-negative whole number"):
        grade(NearestPointDetector(), seed=bad_seed)


# -- the conditional (variance-reduced) estimator --------------------------------------


@pytest.fixture(scope="module")
def shared_samples() -> GradingSamples:
    return GradingSamples(seed=11, num_points=21)


@pytest.mark.parametrize("which", ["nearest point", "per-symbol limit"])
def test_the_two_estimators_agree_within_their_standard_errors(which, shared_samples):
    detector = (
        NearestPointDetector() if which == "nearest point" else PerSymbolBayesDetector()
    )
    conditional = grade(detector, samples=shared_samples, target_standard_error=2e-4)
    counting = grade(
        detector,
        samples=shared_samples,
        estimator="counting",
        target_standard_error=1e-3,
    )
    assert conditional.estimator == "conditional" and counting.estimator == "counting"
    assert counting.frames_per_point > conditional.frames_per_point
    for column in ("ber", "nearest_point_ber", "genie_map_ber"):
        error = "standard_error" if column == "ber" else column[:-3] + "standard_error"
        combined = math.hypot(getattr(conditional, error), getattr(counting, error))
        difference = getattr(conditional, column) - getattr(counting, column)
        assert abs(difference) < 4 * combined, column
    # the same samples, scored both ways inside one grade
    within = math.hypot(
        conditional.conditional_standard_error, conditional.counting_standard_error
    )
    assert abs(conditional.conditional_ber - conditional.counting_ber) < 4 * within
    assert conditional.ber == conditional.conditional_ber
    assert counting.ber == counting.counting_ber
    # and the conditional estimate is the more precise on those samples
    assert (
        conditional.conditional_standard_error < conditional.counting_standard_error / 3
    )


def test_conditional_nearest_point_reproduces_the_closed_form_per_point():
    result = grade(
        NearestPointDetector(), seed=5, num_points=9, target_standard_error=2e-4
    )
    assert abs(result.ber - result.closed_form_ber) < 4 * result.standard_error
    # the conditional score has no zeros: every point, even at 20 dB, is estimated
    assert all(row.nearest_point_ber > 0 for row in result.rows)
    assert result.rows[-1].nearest_point_ber == pytest.approx(
        result.rows[-1].closed_form_ber, rel=0.5
    )


def test_a_noisy_detector_gets_more_frames_until_the_target_is_met():
    def always_zero(received):
        return torch.full((*received.shape, 4), -1.0)

    result = grade(always_zero, num_points=9, target_standard_error=3e-4)
    assert result.frames_per_point > FRAMES_PER_ROUND
    assert result.standard_error <= 3e-4
    assert result.ber == pytest.approx(0.5, abs=4 * result.standard_error)
    assert result.symbols_evaluated == 9 * result.frames_per_point * 256


def test_samples_are_reused_and_nested(shared_samples):
    first = grade(NearestPointDetector(), samples=shared_samples)
    again = grade(NearestPointDetector(), samples=shared_samples)
    assert first.rows == again.rows
    fresh = grade(NearestPointDetector(), seed=11, num_points=21)
    assert fresh.rows == first.rows  # the same seed draws the same rounds


def test_estimator_variances_shows_the_reduction():
    rows = estimator_variances(ebn0_db=(-10.0, 0.0, 8.0), frames=32)
    assert [row["Eb/N0 (dB)"] for row in rows] == [-10.0, 0.0, 8.0]
    for row in rows:
        assert row["variance, conditional"] < row["variance, counting"]
        assert row["ratio"] > 2
        spread = math.sqrt(row["variance, counting"] / 32)
        assert abs(row["BER, counting"] - row["BER, conditional"]) < 4 * spread
    assert rows[0]["ratio"] > 10  # at low Eb/N0 the coin flips dominate


def test_unknown_estimator_is_refused():
    with pytest.raises(ValueError, match="estimator must be 'conditional'"):
        grade(NearestPointDetector(), estimator="soft", **QUICK)


def test_no_detector_scores_below_the_genie_under_the_conditional_estimator():
    # q >= min(pi, 1 - pi) for every decision: on the same samples, every point of any
    # detector (here a random one) is at least the genie's, exactly, not just on average
    generator = torch.Generator().manual_seed(0)

    def coin_flips(received):
        return torch.randn(*received.shape, 4, generator=generator)

    result = grade(coin_flips, **QUICK)
    assert all(row.ber >= row.genie_map_ber - 1e-12 for row in result.rows)
    assert result.gap_to_genie > 0
