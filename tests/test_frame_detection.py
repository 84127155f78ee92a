"""Tests of optbook_solution.frame_detection: exact BER curves, the solution's
detectors, the study."""

from __future__ import annotations

import functools
import math

import pytest
import torch
from torch import nn

from optbook.homework.channel import QAM, closed_form_ber, ebn0_db_to_n0, map_bit_logits
from optbook.homework.grading import NearestPointDetector, grade, make_frames
from optbook.homework.limits import (
    ebn0_at_ber,
    exact_ber,
    gap_db_at_ber,
    grade_gap_db,
    random_split_averages,
)
from optbook.homework.symbol_detection import (
    CourseBaselineMLP,
    train_detector,
    training_batches,
)
from optbook.optimizers.adagrad import Adagrad
from optbook.optimizers.adam import Adam
from optbook.optimizers.adamw import AdamW
from optbook.optimizers.rmsprop import RMSprop
from optbook.optimizers.sgd import SGD
from optbook_solution.frame_detection import (
    PowerConditionedDetector,
    StackedMLP,
    StudyRun,
    optimizer_study,
    pooled_power,
    train_one_cycle,
    train_stacked,
    validation_set,
)

GRID_81 = torch.linspace(-20, 20, 81, dtype=torch.float64)


# -- exact BER curves ------------------------------------------------------------------


@pytest.mark.parametrize("bits_per_symbol", [2, 4, 6])
def test_exact_nearest_point_ber_is_the_closed_form(bits_per_symbol):
    """The quadrature reproduces Cho and Yoon's closed form, in both tails (relative
    1e-9)."""
    qam = QAM(bits_per_symbol)
    ours = exact_ber(GRID_81, "nearest_point", qam)
    closed = closed_form_ber(GRID_81, bits_per_symbol)
    assert closed[-1] < 1e-7  # the high-SNR tail is really tested
    torch.testing.assert_close(ours, closed, rtol=1e-9, atol=1e-15)


def test_exact_genie_ber_matches_the_protocol_and_is_below_nearest_point():
    genie = exact_ber(GRID_81)
    nearest = exact_ber(GRID_81, "nearest_point")
    assert bool((genie <= nearest + 1e-15).all())
    gain = nearest - genie
    assert (
        float(gain[GRID_81 <= -5].min()) > 1e-3
    )  # MAP gains where the noise is strong
    assert (
        float(gain[GRID_81 >= 5].max()) < 1e-9
    )  # and decides like nearest point where it is weak
    # the protocol's values of the MAP BER (homework-protocol.md), to their printed
    # digits
    for ebn0_db, value in [(-10.0, 0.361), (0.0, 0.141), (5.0, 0.042), (10.0, 0.0018)]:
        assert float(exact_ber(ebn0_db)) == pytest.approx(value, rel=0.03)
    assert float(genie.mean()) == pytest.approx(0.1832, abs=1e-4)
    assert float(nearest.mean()) == pytest.approx(0.1856, abs=1e-4)


def test_exact_genie_ber_agrees_with_monte_carlo():
    """At a few Eb/N0, the MAP detector told the true N0, simulated, within 4 standard
    errors."""
    qam = QAM(4)
    for ebn0_db in (-8.0, 0.0, 6.0):
        frames = make_frames(
            64, 4096, ebn0_db, qam, torch.Generator().manual_seed(int(ebn0_db) + 50)
        )
        wrong = (
            map_bit_logits(qam, frames.received, frames.n0) > 0
        ) != frames.bits.bool()
        per_frame = wrong.flatten(1).double().mean(1)
        standard_error = float(per_frame.std() / math.sqrt(len(per_frame)))
        assert (
            abs(float(per_frame.mean()) - float(exact_ber(ebn0_db)))
            < 4 * standard_error
        )


def test_exact_ber_converges_with_the_cells():
    coarse = exact_ber(GRID_81)
    fine = exact_ber(GRID_81, cells=4000)
    assert float((coarse - fine).abs().max()) < 1e-8
    assert exact_ber(torch.tensor([[0.0, 5.0]])).shape == (1, 2)


def test_exact_ber_rejects_bad_arguments():
    with pytest.raises(ValueError, match="detector must be 'genie_map'"):
        exact_ber(0.0, "map")
    with pytest.raises(ValueError, match="cells"):
        exact_ber(0.0, cells=1)
    with pytest.raises(ValueError, match="width"):
        exact_ber(0.0, width=0.0)


def test_random_split_averages():
    values = torch.arange(10, dtype=torch.float64)
    everything = random_split_averages(values, fraction=1.0, splits=5)
    torch.testing.assert_close(everything, torch.full((5,), 4.5, dtype=torch.float64))
    # each split is the mean of 2 distinct points of 0..9: a half-integer or integer in
    # [0.5, 8.5]
    pairs = random_split_averages(
        values, fraction=0.2, splits=200, generator=torch.Generator().manual_seed(0)
    )
    assert (
        bool(((pairs * 2).round() == pairs * 2).all())
        and 0.5 <= float(pairs.min()) <= float(pairs.max()) <= 8.5
    )
    # the spread of a mean of n draws without replacement: sqrt((N - n) / (N - 1) * var
    # / n)
    curve = exact_ber(
        torch.linspace(-20, 20, 3200, dtype=torch.float64), "nearest_point", cells=200
    )
    averages = random_split_averages(
        curve, splits=4000, generator=torch.Generator().manual_seed(1)
    )
    population = float(curve.var(correction=0))
    expected = math.sqrt((3200 - 640) / 3199 * population / 640)
    assert float(averages.std()) == pytest.approx(expected, rel=0.05)
    assert float(averages.mean()) == pytest.approx(
        float(curve.mean()), abs=3 * expected / math.sqrt(4000)
    )
    with pytest.raises(ValueError, match="fraction"):
        random_split_averages(values, fraction=0.0)
    with pytest.raises(ValueError, match="splits"):
        random_split_averages(values, splits=0)


# -- the detectors ---------------------------------------------------------------------


def some_frames(frames=3, symbols=256, seed=0):
    return make_frames(
        frames,
        symbols,
        torch.tensor([-5.0, 5.0, 15.0])[:frames],
        generator=torch.Generator().manual_seed(seed),
    )


def test_pooled_power():
    received = some_frames().received
    power = received.abs() ** 2
    torch.testing.assert_close(pooled_power(received, "symbol"), power)
    frame = pooled_power(received, "frame")
    torch.testing.assert_close(frame, power.mean(1, keepdim=True).expand_as(power))
    # the frame's mean power estimates 1 + N0 (Eb/N0 -5 dB: N0 = 0.79)
    frames = make_frames(200, 256, -5.0, generator=torch.Generator().manual_seed(1))
    estimate = pooled_power(frames.received)[:, 0] - 1
    assert float(estimate.mean()) == pytest.approx(
        float(ebn0_db_to_n0(-5.0, 4)), rel=0.01
    )
    with pytest.raises(ValueError, match="pool must be"):
        pooled_power(received, "batch")
    with pytest.raises(ValueError, match=r"\[frames, symbols\]"):
        pooled_power(received[0], "frame")
    with pytest.raises(TypeError, match="complex"):
        pooled_power(received.real, "frame")


@pytest.mark.parametrize("pool", ["symbol", "frame"])
def test_power_conditioned_detector_shape_and_symmetries(pool):
    torch.manual_seed(0)
    detector = PowerConditionedDetector(pool, hidden=16)
    received = some_frames().received
    logits = detector(received)
    assert logits.shape == (3, 256, 4) and logits.dtype == torch.float32
    # mirror the real axis: the real sign bit b0 flips its logit, the real magnitude bit
    # b2 keeps it
    mirrored = detector(torch.complex(-received.real, received.imag))
    torch.testing.assert_close(mirrored[..., 0], -logits[..., 0])
    torch.testing.assert_close(mirrored[..., 1:], logits[..., 1:])
    # swap the axes: one network serves both, so the real and imaginary bits swap
    swapped = detector(torch.complex(received.imag, received.real))
    torch.testing.assert_close(swapped[..., [1, 0, 3, 2]], logits)


def test_symbol_pool_is_per_symbol_and_frame_pool_is_not():
    torch.manual_seed(0)
    received = some_frames().received
    changed = received.clone()
    changed[:, 1:] = changed[:, 1:] * 3  # every symbol but the first
    for pool, depends_on_the_rest in [("symbol", False), ("frame", True)]:
        detector = PowerConditionedDetector(pool, hidden=16)
        first, first_changed = detector(received)[:, 0], detector(changed)[:, 0]
        assert bool((first != first_changed).any()) == depends_on_the_rest


def test_power_conditioned_detector_rejects_bad_arguments():
    with pytest.raises(ValueError, match="pool must be"):
        PowerConditionedDetector("frames")
    with pytest.raises(ValueError, match="hidden"):
        PowerConditionedDetector("frame", hidden=0)


def test_train_one_cycle_learns_and_is_reproducible():
    def trained(seed):
        torch.manual_seed(seed)
        model = PowerConditionedDetector("frame", hidden=32)
        return model, train_one_cycle(model, steps=120, batch_frames=8, seed=seed)

    model, history = trained(0)
    again, _ = trained(0)
    for a, b in zip(model.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b)
    early, late = sum(history.losses[:20]) / 20, sum(history.losses[-20:]) / 20
    assert late < early - 0.05
    assert (
        max(history.lrs) == pytest.approx(2e-2) and history.lrs[-1] < 1e-4
    )  # one cycle
    # even this short run decides better than guessing at 0 dB, and nearly as well as
    # the limit
    frames = make_frames(16, 256, 0.0, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        ber = float(((model(frames.received) > 0) != frames.bits.bool()).float().mean())
    assert ber < float(exact_ber(0.0)) + 0.02


# -- reading BER curves ----------------------------------------------------------------


def test_ebn0_at_ber_is_exact_on_a_log_linear_curve():
    ebn0 = torch.arange(0, 21, dtype=torch.float64)
    ber = 10 ** (-ebn0 / 2)  # one decade per 2 dB: 1e-3 at 6 dB
    assert ebn0_at_ber(ebn0, ber, 1e-3) == pytest.approx(6.0, abs=1e-12)
    assert ebn0_at_ber(ebn0, ber, 3e-4) == pytest.approx(
        -2 * math.log10(3e-4), abs=1e-12
    )
    shifted = 10 ** (-(ebn0 - 0.5) / 2)  # the same curve, 0.5 dB later
    assert gap_db_at_ber(ebn0, shifted, ber) == pytest.approx(0.5, abs=1e-12)


def test_ebn0_at_ber_rejects_curves_without_a_crossing():
    ebn0 = [0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="never falls"):
        ebn0_at_ber(ebn0, [0.5, 0.1, 0.01])
    with pytest.raises(ValueError, match="starts at or below"):
        ebn0_at_ber(ebn0, [1e-4, 1e-5, 1e-6])
    with pytest.raises(ValueError, match="BER is 0"):
        ebn0_at_ber(ebn0, [0.5, 0.1, 0.0])
    with pytest.raises(ValueError, match="increasing"):
        ebn0_at_ber([0.0, 2.0, 1.0], [0.5, 0.1, 1e-4])
    with pytest.raises(ValueError, match="same length"):
        ebn0_at_ber([0.0, 1.0], [0.5])


def test_grade_gap_db_of_nearest_point_is_small():
    """Near BER 1e-3 (about 10.5 dB) the nearest-point detector is the MAP detector."""
    result = grade(NearestPointDetector(), num_points=41, target_standard_error=1e-3)
    assert abs(grade_gap_db(result)) < 0.1
    assert grade_gap_db(result, 1e-2) == pytest.approx(
        gap_db_at_ber(
            [r.ebn0_db for r in result.rows],
            [r.ber for r in result.rows],
            [r.genie_map_ber for r in result.rows],
            1e-2,
        )
    )


# -- the study: several seeds side by side ---------------------------------------------


def test_stacked_mlp_replicas_are_the_course_network():
    stacked = StackedMLP([3, 7])
    for index, seed in enumerate([3, 7]):
        torch.manual_seed(seed)
        course = CourseBaselineMLP().net
        replica = stacked.replica(index)
        for a, b in zip(course.parameters(), replica.parameters(), strict=True):
            assert torch.equal(a, b)
    features = torch.randn(2, 5, 7, 2)
    out = stacked(features)
    assert out.shape == (2, 5, 7, 4)
    for index in range(2):
        torch.testing.assert_close(out[index], stacked.replica(index)(features[index]))
    with pytest.raises(ValueError, match="replicas=2"):
        stacked(torch.randn(3, 5, 2))
    with pytest.raises(ValueError, match="at least one seed"):
        StackedMLP([])
    with pytest.raises(ValueError, match="sizes"):
        StackedMLP([0], sizes=(2,))


STUDY_OPTIMIZERS = {
    "SGD": SGD,
    "SGD+momentum": functools.partial(SGD, momentum=0.9),
    "Adagrad": Adagrad,
    "RMSprop": RMSprop,
    "Adam": Adam,
    "AdamW": AdamW,
}
LRS = {
    "SGD": 0.5,
    "SGD+momentum": 0.05,
    "Adagrad": 0.1,
    "RMSprop": 0.01,
    "Adam": 0.01,
    "AdamW": 0.01,
}


def separate_run(
    make_optimizer, lr, seed, steps, schedule, batch_frames=4, symbols_per_frame=16
):
    """One seed trained alone, the ordinary way: CourseBaselineMLP and train_detector
    (float64)."""
    torch.manual_seed(seed)
    model = CourseBaselineMLP().double()
    optimizer = make_optimizer(model.parameters(), lr=lr)
    scheduler = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
        if schedule == "cosine"
        else None
    )
    batches = training_batches(
        batch_frames=batch_frames,
        symbols_per_frame=symbols_per_frame,
        generator=torch.Generator().manual_seed(seed),
    )
    history = train_detector(
        model,
        optimizer,
        batches,
        steps,
        scheduler=scheduler,
        loss=lambda logits, bits: nn.functional.binary_cross_entropy_with_logits(
            logits, bits.double()
        ),
    )
    return model.net, history


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
@pytest.mark.parametrize("name", list(STUDY_OPTIMIZERS))
def test_a_stacked_run_is_the_separate_runs(name, schedule):
    """Each replica of train_stacked moves exactly as the same seed trained alone
    (float64).

    Exactly up to rounding: a batched matmul may sum in another order than
    ``nn.Linear``, so the two agree to about 1e-14 after 150 steps, not bit for bit.
    """
    steps, seeds = 150, (0, 1)
    run = train_stacked(
        STUDY_OPTIMIZERS[name],
        LRS[name],
        seeds=seeds,
        steps=steps,
        schedule=schedule,
        batch_frames=4,
        symbols_per_frame=16,
        dtype=torch.float64,
    )
    for index, seed in enumerate(seeds):
        net, history = separate_run(
            STUDY_OPTIMIZERS[name], LRS[name], seed, steps, schedule
        )
        torch.testing.assert_close(
            run.losses[:, index],
            torch.tensor(history.losses, dtype=torch.float64),
            rtol=1e-12,
            atol=0,
        )
        moved = 0.0
        torch.manual_seed(seed)
        start = CourseBaselineMLP().double().net
        for ours, theirs, initial in zip(
            run.model.replica(index).parameters(),
            net.parameters(),
            start.parameters(),
            strict=True,
        ):
            torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
            moved = max(moved, float((theirs - initial).detach().abs().max()))
        assert moved > 0.05  # the runs went somewhere: not a trivial agreement


def test_the_equivalence_check_catches_a_different_setting():
    """Negative control: a separate run with another learning rate does not match."""
    run = train_stacked(
        Adam,
        0.01,
        seeds=(0,),
        steps=50,
        batch_frames=4,
        symbols_per_frame=16,
        dtype=torch.float64,
    )
    net, _ = separate_run(Adam, 0.012, 0, 50, "constant")
    difference = max(
        float((a - b).detach().abs().max())
        for a, b in zip(
            run.model.replica(0).parameters(), net.parameters(), strict=True
        )
    )
    assert difference > 1e-4


def test_train_stacked_records_ber_and_marks_divergence():
    validation = validation_set(num_points=5, frames_per_point=2, symbols_per_frame=64)
    run = train_stacked(
        Adam,
        0.01,
        seeds=(0, 1, 2),
        steps=60,
        eval_every=20,
        validation=validation,
        batch_frames=4,
        symbols_per_frame=16,
    )
    assert isinstance(run, StudyRun) and run.eval_steps == [0, 20, 40, 60]
    assert run.ber.shape == (4, 3) and run.losses.shape == (60, 3)
    assert bool(((run.ber > 0) & (run.ber < 0.6)).all()) and not bool(
        run.diverged.any()
    )
    # the BER is the fraction of wrong bits of the replica on the validation frames
    with torch.no_grad():
        logits = run.model.replica(1)(validation.features)
    assert float(run.final_ber[1]) == pytest.approx(
        float(((logits > 0) != validation.bits.bool()).double().mean())
    )
    smooth = run.smoothed_losses(window=10)
    assert float(smooth[-1, 0]) == pytest.approx(float(run.losses[-10:, 0].mean()))
    assert float(smooth[0, 0]) == pytest.approx(float(run.losses[0, 0]))
    # a learning rate far too large: the loss overflows, the run stops and says so
    blown = train_stacked(
        SGD,
        1e38,
        seeds=(0,),
        steps=20,
        validation=validation,
        batch_frames=4,
        symbols_per_frame=16,
    )
    assert bool(blown.diverged.all()) and math.isnan(float(blown.final_ber[0]))


def test_optimizer_study_runs_every_setting():
    runs = optimizer_study(
        {"SGD": (SGD, [0.1, 1.0]), "Adam": (Adam, [0.01])},
        seeds=(0,),
        steps=5,
        batch_frames=2,
        symbols_per_frame=8,
    )
    assert [(r.optimizer, r.schedule, r.lr) for r in runs] == [
        ("SGD", "constant", 0.1),
        ("SGD", "constant", 1.0),
        ("SGD", "cosine", 0.1),
        ("SGD", "cosine", 1.0),
        ("Adam", "constant", 0.01),
        ("Adam", "cosine", 0.01),
    ]
    with pytest.raises(ValueError, match="schedule"):
        train_stacked(SGD, 0.1, schedule="step")
    with pytest.raises(ValueError, match="steps"):
        train_stacked(SGD, 0.1, steps=0)


def test_validation_set_is_fixed():
    a, b = (
        validation_set(num_points=3, frames_per_point=2, symbols_per_frame=8),
        validation_set(num_points=3, frames_per_point=2, symbols_per_frame=8),
    )
    assert torch.equal(a.features, b.features) and torch.equal(a.bits, b.bits)
    assert a.features.shape == (6, 8, 2) and a.bits.shape == (6, 8, 4)
    assert a.ebn0_db.tolist() == [-20.0, -20.0, 0.0, 0.0, 20.0, 20.0]
