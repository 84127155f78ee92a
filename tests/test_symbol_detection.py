"""Tests of optbook.homework.symbol_detection: the homework's data stream, models, loop
and limits."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from optbook.homework.channel import (
    QAM,
    bit_error_rate,
    closed_form_ber,
    ebn0_db_to_n0,
    map_bit_logits,
    nearest_point_logits,
)
from optbook.homework.grading import NearestPointDetector, grade, make_frames
from optbook.homework.symbol_detection import (
    COURSE_GRID_POINTS,
    CourseBaselineMLP,
    PerSymbolBayesDetector,
    SymbolwiseDetector,
    as_detector,
    course_validation_ber,
    judge,
    per_symbol_bayes_logits,
    train_detector,
    training_batches,
)
from optbook.optimizers.adam import Adam

QAM16 = QAM(4)


def frames_at(ebn0_db: float, num_frames: int = 4, symbols: int = 2000, seed: int = 0):
    return make_frames(
        num_frames, symbols, ebn0_db, QAM16, torch.Generator().manual_seed(seed)
    )


# -- training_batches ------------------------------------------------------------------


def test_training_batches_shapes_and_types():
    received, bits = next(
        iter(training_batches(QAM16, 5, 64, torch.Generator().manual_seed(0)))
    )
    assert received.shape == (5, 64) and received.dtype == torch.complex64
    assert bits.shape == (5, 64, 4) and bits.dtype == torch.float32
    assert set(bits.unique().tolist()) == {0.0, 1.0}


def test_training_batches_default_is_the_course_setting():
    batches = training_batches()
    assert batches.qam.bits_per_symbol == 4 and batches.batch_frames == 32
    assert (
        batches.ebn0_range == (-20.0, 20.0)
        and batches.grid_points == COURSE_GRID_POINTS == 3200
    )


def test_training_batches_bits_are_what_was_sent():
    batches = training_batches(
        QAM16, 3, 500, torch.Generator().manual_seed(1), ebn0_range=(60, 60)
    )
    received, bits = next(iter(batches))
    assert torch.equal(QAM16.symbols_to_bits(received), bits)


def test_training_batches_noise_follows_each_frames_ebn0():
    # a fixed Eb/N0: every frame's noise power is N0 of that Eb/N0
    received, bits = next(
        iter(
            training_batches(
                QAM16, 4, 20_000, torch.Generator().manual_seed(2), (3.0, 3.0)
            )
        )
    )
    sent = QAM16.points[QAM16.bits_to_indices(bits)]
    power = ((received - sent).abs() ** 2).mean(1)
    assert power.tolist() == pytest.approx([float(ebn0_db_to_n0(3.0, 4))] * 4, rel=0.03)
    # the course's range: one Eb/N0 per frame, spread over 40 dB (4 decades of noise
    # power)
    received, bits = next(
        iter(training_batches(QAM16, 64, 2_000, torch.Generator().manual_seed(3)))
    )
    sent = QAM16.points[QAM16.bits_to_indices(bits)]
    power_db = 10 * torch.log10(((received - sent).abs() ** 2).mean(1))
    assert float(power_db.max() - power_db.min()) > 30
    assert float(power_db.std()) > 5  # frames differ, not one noise level per batch


def test_training_batches_draw_each_frames_ebn0_from_the_grid():
    # a grid of 3 points over [-1, 1] dB: every frame's noise power is N0 of -1, 0 or 1
    # dB
    batches = training_batches(
        QAM16, 30, 20_000, torch.Generator().manual_seed(4), (-1.0, 1.0), grid_points=3
    )
    received, bits = batches.draw()
    sent = QAM16.points[QAM16.bits_to_indices(bits)]
    power = ((received - sent).abs() ** 2).mean(1)
    levels = ebn0_db_to_n0(torch.tensor([-1.0, 0.0, 1.0]), 4).float()
    nearest = (power[:, None] / levels[None, :] - 1).abs().min(1)
    assert float(nearest.values.max()) < 0.04  # every frame sits on a grid point
    assert set(nearest.indices.tolist()) == {0, 1, 2}  # and all of them occur


def test_training_batches_are_endless_fresh_and_seeded():
    def first_three(seed):
        stream = iter(
            training_batches(QAM16, 2, 8, torch.Generator().manual_seed(seed))
        )
        return [next(stream) for _ in range(3)]

    a, b = first_three(7), first_three(7)
    for (ra, ba), (rb, bb) in zip(a, b, strict=True):
        assert torch.equal(ra, rb) and torch.equal(ba, bb)  # reproducible from the seed
    assert not torch.equal(a[0][0], a[1][0]) and not torch.equal(
        a[0][1], a[1][1]
    )  # fresh
    batches = training_batches(QAM16, 2, 8, torch.Generator().manual_seed(7))
    first = next(iter(batches))
    again = next(
        iter(batches)
    )  # a second pass continues the stream, it does not restart
    assert torch.equal(first[0], a[0][0]) and torch.equal(again[0], a[1][0])
    stream = iter(batches)
    assert len([next(stream) for _ in range(50)]) == 50  # no end


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_frames": 0}, "batch_frames"),
        ({"symbols_per_frame": 2.5}, "symbols_per_frame"),
        ({"ebn0_range": (5.0, -5.0)}, "must not exceed"),
        ({"grid_points": 0}, "grid_points"),
    ],
)
def test_training_batches_reject_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        training_batches(**kwargs)


# -- models ----------------------------------------------------------------------------


def test_course_baseline_is_the_courses_network():
    model = CourseBaselineMLP()
    layers = list(model.net)
    assert [type(layer) for layer in layers] == [nn.Linear, nn.ReLU, nn.Linear]
    assert (layers[0].in_features, layers[0].out_features) == (2, 32)
    assert (layers[2].in_features, layers[2].out_features) == (32, 4)
    assert sum(p.numel() for p in model.parameters()) == 2 * 32 + 32 + 32 * 4 + 4


def test_course_baseline_returns_logits_and_probabilities():
    torch.manual_seed(0)
    model = CourseBaselineMLP()
    received = frames_at(5.0, 3, 10).received
    logits = model(received)
    assert logits.shape == (3, 10, 4)
    features = torch.stack((received.real, received.imag), dim=-1)
    torch.testing.assert_close(logits, model.net(features))  # (Re y, Im y) per symbol
    torch.testing.assert_close(model.probabilities(received), torch.sigmoid(logits))


def test_bce_with_logits_is_the_courses_bce_on_probabilities():
    """The course's BCELoss(Sigmoid(z)) and BCEWithLogitsLoss(z): same value, same
    gradients."""
    torch.manual_seed(1)
    received, bits = next(
        iter(training_batches(QAM16, 8, 256, torch.Generator().manual_seed(0)))
    )
    model = CourseBaselineMLP().double()
    course = nn.BCELoss()(model.probabilities(received), bits.double())
    course_grads = torch.autograd.grad(course, list(model.parameters()))
    ours = nn.BCEWithLogitsLoss()(model(received), bits.double())
    our_grads = torch.autograd.grad(ours, list(model.parameters()))
    assert float(ours.detach()) == pytest.approx(float(course.detach()), rel=1e-12)
    for g_course, g_ours in zip(course_grads, our_grads, strict=True):
        torch.testing.assert_close(g_ours, g_course, rtol=1e-10, atol=1e-14)


def test_as_detector_adapts_a_per_symbol_network():
    torch.manual_seed(2)
    net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 4))
    detector = as_detector(net)
    assert isinstance(detector, SymbolwiseDetector) and isinstance(detector, nn.Module)
    assert list(detector.parameters()) == list(net.parameters())  # the same tensors
    received = frames_at(0.0, 2, 5).received
    expected = net(torch.view_as_real(received))
    torch.testing.assert_close(detector(received), expected)
    # a float64 network gets float64 features
    double = as_detector(nn.Linear(2, 4).double())
    assert double(received).dtype == torch.float64


def test_as_detector_rejects_what_it_cannot_adapt():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        as_detector(lambda x: x)
    with pytest.raises(TypeError, match="complex"):
        as_detector(nn.Linear(2, 4))(torch.zeros(3, 2))


def test_a_detector_is_graded_as_it_is():
    # the grader calls the module on complex frames and gets [frames, symbols, 4]
    detector = as_detector(nn.Linear(2, 4))
    result = grade(detector, num_points=5, target_standard_error=5e-3)
    assert 0 < result.ber < 1 and result.bits_per_symbol == 4


def test_an_exact_copy_of_nearest_point_decisions_grades_as_nearest_point():
    # a per-symbol net that computes the nearest-point logits grades exactly like it
    class NearestPointNet(nn.Module):
        def forward(self, features):
            return nearest_point_logits(
                QAM16, torch.complex(features[..., 0], features[..., 1])
            )

    result = grade(
        as_detector(NearestPointNet()), num_points=5, target_standard_error=5e-3
    )
    assert result.ber == result.nearest_point_ber and result.gap_to_nearest_point == 0


# -- train_detector --------------------------------------------------------------------


def test_train_detector_learns_to_detect():
    torch.manual_seed(3)
    model = CourseBaselineMLP()
    test = frames_at(8.0, 4, 4000, seed=9)
    before = bit_error_rate(model(test.received).detach(), test.bits)
    batches = training_batches(
        QAM16, 8, 128, torch.Generator().manual_seed(4), (0.0, 15.0)
    )
    history = train_detector(model, Adam(model.parameters(), lr=1e-2), batches, 300)
    after = bit_error_rate(model(test.received).detach(), test.bits)
    assert history.steps == 300 and len(history.losses) == 300
    assert sum(history.losses[-30:]) < 0.6 * sum(history.losses[:30])
    nearest = bit_error_rate(nearest_point_logits(QAM16, test.received), test.bits)
    assert (
        before > 0.3 and after < 2 * nearest + 0.01
    )  # from guessing to near the optimum


def test_train_detector_reproduces_the_course_sgd_steps():
    """Our loop with the default loss takes the course's SGD steps (BCELoss on
    sigmoids)."""

    def run(loss):
        torch.manual_seed(5)
        model = CourseBaselineMLP().double()
        batches = [
            (r, b.double())
            for r, b in _take(
                training_batches(QAM16, 4, 64, torch.Generator().manual_seed(6)), 20
            )
        ]
        train_detector(
            model, torch.optim.SGD(model.parameters(), lr=0.1), batches, 20, loss=loss
        )
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    course = run(lambda logits, bits: nn.BCELoss()(torch.sigmoid(logits), bits))
    torch.testing.assert_close(run(None), course, rtol=1e-10, atol=1e-12)


def test_train_detector_steps_the_scheduler_and_accepts_generators():
    model = CourseBaselineMLP()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.5)
    stream = iter(training_batches(QAM16, 2, 16, torch.Generator().manual_seed(0)))
    history = train_detector(model, optimizer, stream, 12, scheduler=scheduler)
    assert history.lrs == pytest.approx([0.1] * 5 + [0.05] * 5 + [0.025] * 2)


def test_train_detector_progress_bar_is_plain_text_on_stdout(capsys):
    batches = training_batches(QAM16, 2, 16, torch.Generator().manual_seed(0))
    model = CourseBaselineMLP()
    train_detector(model, torch.optim.SGD(model.parameters(), lr=0.1), batches, 7)
    assert capsys.readouterr().out == ""  # off by default
    train_detector(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        batches,
        7,
        progress=True,
        desc="baseline",
    )
    out = capsys.readouterr().out
    assert "baseline" in out and "7/7" in out and "100%" in out and "loss=" in out
    assert out.isascii() and out.count("100%") == 1  # the final state, drawn once
    # a longer run redraws at most ten times (+ the start and the end): few lines in the
    # book
    train_detector(
        model, torch.optim.SGD(model.parameters(), lr=0.1), batches, 400, progress=True
    )
    assert capsys.readouterr().out.count("\r") <= 12


def test_train_detector_rejects_bad_budgets():
    model = CourseBaselineMLP()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = list(
        _take(training_batches(QAM16, 2, 8, torch.Generator().manual_seed(0)), 3)
    )
    with pytest.raises(ValueError, match="steps"):
        train_detector(model, optimizer, batches, 0)
    with pytest.raises(ValueError, match="ran out after 3 of 5"):
        train_detector(model, optimizer, iter(batches), 5)
    assert train_detector(model, optimizer, batches, 5).steps == 5  # a list: epochs


def _take(iterable, n):
    iterator = iter(iterable)
    return [next(iterator) for _ in range(n)]


# -- the course's metric ---------------------------------------------------------------


def test_course_validation_ber_of_nearest_point_follows_the_closed_form():
    seed = 11
    ber = course_validation_ber(
        NearestPointDetector(QAM16),
        generator=torch.Generator().manual_seed(seed),
        symbols_per_frame=1024,
    )
    # the same 640 grid points the function drew first from the same seeded stream
    chosen = torch.randperm(3200, generator=torch.Generator().manual_seed(seed))[:640]
    grid = torch.linspace(-20, 20, 3200, dtype=torch.float64)
    expected = float(closed_form_ber(grid[chosen], 4).mean())
    standard_error = math.sqrt(
        0.25 / (640 * 1024)
    )  # per-symbol bound, as in the grader
    assert abs(ber - expected) < 4 * standard_error


def test_course_validation_ber_depends_on_the_split():
    # the validation Eb/N0 points are random: different splits, clearly different
    # numbers
    values = [
        course_validation_ber(
            NearestPointDetector(QAM16),
            generator=torch.Generator().manual_seed(seed),
            symbols_per_frame=256,
        )
        for seed in range(5)
    ]
    assert max(values) - min(values) > 0.005


def test_course_validation_ber_restores_the_mode_and_checks_arguments():
    model = CourseBaselineMLP()
    model.train()
    value = course_validation_ber(model, num_frames=8, symbols_per_frame=64)
    assert 0 < value < 1 and model.training
    with pytest.raises(ValueError, match="cannot exceed"):
        course_validation_ber(model, num_frames=10, grid_points=5)


# -- the per-symbol limit --------------------------------------------------------------


def test_per_symbol_bayes_with_a_known_ebn0_is_the_genie_map():
    # a prior on one Eb/N0: nothing to be unsure about, the logits are the MAP logits
    for ebn0_db in (-5.0, 4.0, 12.0):
        frames = frames_at(ebn0_db, 2, 500)
        bayes = per_symbol_bayes_logits(QAM16, frames.received, torch.tensor([ebn0_db]))
        genie = map_bit_logits(QAM16, frames.received, frames.n0)
        torch.testing.assert_close(bayes, genie, rtol=1e-4, atol=1e-4)


def test_per_symbol_bayes_table_matches_the_exact_logits():
    detector = PerSymbolBayesDetector(QAM16)
    for ebn0_db in (-20.0, -8.0, 0.0, 6.0, 12.0, 20.0):
        received = frames_at(ebn0_db, 2, 1000).received
        exact = per_symbol_bayes_logits(QAM16, received)
        table = detector(received)
        assert table.shape == (2, 1000, 4)
        assert float((exact - table).abs().max()) < 0.02
        assert float(((exact > 0) == (table > 0)).float().mean()) > 0.9999
    # far beyond the table, the edge's logits still decide like the exact detector
    far = torch.tensor([[45 + 0.3j, -60 - 2j, 0.5 + 80j, -0.7 - 35j, 50 + 50j]])
    assert torch.equal(detector(far) > 0, per_symbol_bayes_logits(QAM16, far) > 0)


def test_per_symbol_bayes_beats_nearest_point_but_not_the_genie():
    # at -10 dB the three differ most: compare them on the same samples (paired)
    frames = frames_at(-10.0, 64, 4096, seed=12)
    bits = frames.bits.bool()

    def frame_errors(logits):
        return ((logits > 0) != bits).float().mean(dim=(1, 2))  # [frames]

    per_symbol = frame_errors(PerSymbolBayesDetector(QAM16)(frames.received))
    nearest = frame_errors(nearest_point_logits(QAM16, frames.received))
    genie = frame_errors(map_bit_logits(QAM16, frames.received, frames.n0))

    def gap_in_standard_errors(a, b):
        difference = a - b
        return float(
            difference.mean() / (difference.std() / math.sqrt(len(difference)))
        )

    assert gap_in_standard_errors(per_symbol, nearest) < -4  # better than nearest point
    assert gap_in_standard_errors(per_symbol, genie) > 4  # worse than the genie


def test_per_symbol_bayes_checks_its_prior():
    with pytest.raises(ValueError, match="at least one"):
        PerSymbolBayesDetector(QAM16, torch.tensor([]))
    with pytest.raises(ValueError, match="finite"):
        per_symbol_bayes_logits(
            QAM16, torch.zeros(3, dtype=torch.complex64), torch.tensor([math.nan])
        )
    with pytest.raises(ValueError, match="positive"):
        PerSymbolBayesDetector(QAM16, limit=-1.0)


# -- judge -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick_nearest_point_grade():
    return grade(NearestPointDetector(QAM16), num_points=9, target_standard_error=2e-3)


def _graded(base, ber):
    return dataclasses.replace(base, ber=ber)


def test_judge_climbs_the_ladder(quick_nearest_point_grade):
    base = quick_nearest_point_grade
    genie, nearest = base.genie_map_ber, base.nearest_point_ber
    assert nearest - genie > 0.001
    baseline = _graded(base, nearest + 0.02)
    per_symbol = _graded(base, nearest - 0.3 * (nearest - genie))
    halfway = 0.5 * (per_symbol.ber + genie)

    def level(ber):
        return judge(
            _graded(base, ber),
            course_baseline=baseline,
            per_symbol_limit=per_symbol,
            tolerance=1e-5,
        ).level

    assert level(baseline.ber + 0.01) == 0  # worse than the baseline
    assert level(baseline.ber) == 0  # equal is not below
    assert (
        level(nearest + 0.01) == 1
    )  # better than the baseline, worse than nearest point
    assert level(nearest + 5e-6) == 2  # as good as nearest point, within the tolerance
    assert level(per_symbol.ber) == 3
    assert level(halfway + 1e-6) == 3
    assert level(halfway - 1e-6) == 4
    assert level(genie) == 4


def test_judge_levels_do_not_skip_and_print_a_table(quick_nearest_point_grade):
    base = quick_nearest_point_grade
    # below every reference, but the baseline rung reached: level counts from the bottom
    judgement = judge(
        _graded(base, 0.1),
        course_baseline=_graded(base, 0.05),
        per_symbol_limit=_graded(base, 0.2),
    )
    assert [r.reached for r in judgement.rungs] == [False, True, True, True]
    assert judgement.level == 0
    text = str(judgement)
    assert "level 0 of 4" in text and "[x] the per-symbol limit" in text


def test_judge_tolerance(quick_nearest_point_grade):
    result = quick_nearest_point_grade
    judgement = judge(
        result,
        course_baseline=_graded(result, 0.3),
        per_symbol_limit=_graded(result, result.nearest_point_ber),
    )
    assert judgement.tolerance == 3 * result.gap_to_nearest_point_standard_error
    assert judgement.level == 3  # the nearest-point detector itself: rungs 1-3
    with pytest.raises(ValueError, match="tolerance"):
        judge(
            result,
            course_baseline=_graded(result, 0.3),
            per_symbol_limit=_graded(result, 0.2),
            tolerance=-1.0,
        )


def test_judge_takes_grade_results_not_numbers(quick_nearest_point_grade):
    result = quick_nearest_point_grade
    with pytest.raises(TypeError, match="judge takes grade results, not numbers"):
        judge(result, course_baseline=0.3, per_symbol_limit=result)


def test_judge_refuses_yardsticks_of_another_seed_or_protocol(
    quick_nearest_point_grade,
):
    result = quick_nearest_point_grade
    other_seed = grade(
        NearestPointDetector(QAM16), seed=1, num_points=9, target_standard_error=2e-3
    )
    with pytest.raises(
        ValueError,
        match="course_baseline was graded with another "
        "protocol.*seed 1 instead of 2024",
    ):
        judge(result, course_baseline=other_seed, per_symbol_limit=result)
    other_estimator = dataclasses.replace(result, estimator="counting")
    with pytest.raises(ValueError, match="per_symbol_limit.*estimator 'counting'"):
        judge(result, course_baseline=result, per_symbol_limit=other_estimator)
