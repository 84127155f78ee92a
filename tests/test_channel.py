"""Tests of optbook.homework.channel: the QAM constellation, AWGN, the closed form, the
detectors."""

from __future__ import annotations

import math

import pytest
import torch

from optbook.homework.channel import (
    QAM,
    awgn,
    bit_error_rate,
    closed_form_ber,
    ebn0_db_to_n0,
    map_bit_logits,
    nearest_point_logits,
)

# The course's 16-QAM, written out from its map: bits b0 b1 b2 b3; (b0, b2) -> real
# level, (b1, b3) -> imaginary level, per axis 00 -> +1, 01 -> +3, 10 -> -1, 11 -> -3,
# all divided by sqrt(10).
COURSE_16QAM = {
    "0000": (+1, +1),
    "0001": (+1, +3),
    "0010": (+3, +1),
    "0011": (+3, +3),
    "0100": (+1, -1),
    "0101": (+1, -3),
    "0110": (+3, -1),
    "0111": (+3, -3),
    "1000": (-1, +1),
    "1001": (-1, +3),
    "1010": (-3, +1),
    "1011": (-3, +3),
    "1100": (-1, -1),
    "1101": (-1, -3),
    "1110": (-3, -1),
    "1111": (-3, -3),
}


def simulate_ber(
    detect, qam: QAM, ebn0_db: float, num_blocks: int, symbols_per_block: int, seed: int
) -> tuple[float, float]:
    """BER of ``detect(received, n0)`` and its standard error, from separate blocks."""
    generator = torch.Generator().manual_seed(seed)
    n0 = float(ebn0_db_to_n0(ebn0_db, qam.bits_per_symbol))
    indices = torch.randint(
        qam.order, (num_blocks, symbols_per_block), generator=generator
    )
    received = awgn(qam.points[indices], n0, generator)
    wrong = ((detect(received, n0) > 0).float() != qam.labels[indices]).float()
    block_ber = wrong.mean(dim=(1, 2))
    return float(block_ber.mean()), float(block_ber.std() / math.sqrt(num_blocks))


def brute_force_map_logits(qam: QAM, received: torch.Tensor, n0: float) -> torch.Tensor:
    """Bit LLRs by log-sum-exp over all M points, in float64 (the definition)."""
    points = qam.points.to(torch.complex128)
    metric = -((received.to(torch.complex128)[..., None] - points).abs() ** 2) / n0
    logits = []
    for j in range(qam.bits_per_symbol):
        ones = qam.labels[:, j] == 1
        logits.append(
            torch.logsumexp(metric[..., ones], -1)
            - torch.logsumexp(metric[..., ~ones], -1)
        )
    return torch.stack(logits, -1)


# -- the constellation ----------------------------------------------------------------


@pytest.mark.parametrize("bits_per_symbol", [2, 4, 6, 8])
def test_unit_average_energy(bits_per_symbol):
    qam = QAM(bits_per_symbol)
    assert qam.points.shape == (2**bits_per_symbol,)
    assert torch.view_as_real(qam.points).unique(dim=0).shape[0] == 2**bits_per_symbol
    energy = (qam.points.abs() ** 2).mean()
    assert energy.item() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("bits_per_symbol", [2, 4, 6, 8])
def test_grid_neighbours_differ_in_exactly_one_bit(bits_per_symbol):
    qam = QAM(bits_per_symbol)
    distance = (qam.points[:, None] - qam.points[None, :]).abs()
    spacing = distance[distance > 1e-6].min()
    neighbours = (distance - spacing).abs() < 1e-4
    assert neighbours.sum() > 0
    differing_bits = (qam.labels[:, None, :] != qam.labels[None, :, :]).sum(-1)
    assert (differing_bits[neighbours] == 1).all()
    # every point of a square grid has 2 to 4 neighbours
    assert neighbours.sum(1).min() >= 2 and neighbours.sum(1).max() <= 4


def test_16qam_labelling_is_the_course_one():
    qam = QAM(4)
    for bit_string, (real, imag) in COURSE_16QAM.items():
        bits = torch.tensor([float(c) for c in bit_string])
        symbol = qam.bits_to_symbols(bits)
        expected = complex(real, imag) / math.sqrt(10)
        assert symbol.shape == (1,)
        assert abs(complex(symbol[0]) - expected) < 1e-6, bit_string
        # and the point at index int(bit_string, 2) carries these bits
        index = int(bit_string, 2)
        assert abs(complex(qam.points[index]) - expected) < 1e-6
        assert qam.labels[index].tolist() == bits.tolist()


def test_4qam_is_the_sign_map():
    qam = QAM(2)
    expected = {(0, 0): 1 + 1j, (0, 1): 1 - 1j, (1, 0): -1 + 1j, (1, 1): -1 - 1j}
    for (b0, b1), point in expected.items():
        symbol = qam.bits_to_symbols(torch.tensor([b0, b1]))
        assert abs(complex(symbol[0]) - point / math.sqrt(2)) < 1e-6


def test_64qam_axis_is_reflected_gray():
    qam = QAM(6)
    real_levels = (qam.points.real * math.sqrt(42)).round()
    # real axis bits b0 b2 b4; reading the levels from -7 to +7 gives a Gray sequence
    order = torch.argsort(real_levels[qam.labels[:, 1::2].sum(1) == 0])
    real_bits = qam.labels[qam.labels[:, 1::2].sum(1) == 0][:, 0::2][order]
    assert (real_bits[1:] != real_bits[:-1]).sum(1).tolist() == [1] * 7
    # b0 is the sign, and (b0, b2, b4) = 000 is the level +3 (c0 c1 c2 ->
    # (1-2c0)(4-(1-2c1)(2-(1-2c2))))
    assert real_levels[0].item() == 3.0


@pytest.mark.parametrize("bits_per_symbol", [2, 4, 6, 8])
def test_bits_symbols_bits_round_trip(bits_per_symbol):
    qam = QAM(bits_per_symbol)
    generator = torch.Generator().manual_seed(1)
    bits = torch.randint(2, (3, 5, 12 * bits_per_symbol), generator=generator)
    symbols = qam.bits_to_symbols(bits)
    assert symbols.shape == (3, 5, 12) and symbols.dtype == torch.complex64
    assert torch.equal(qam.symbols_to_bits(symbols).flatten(-2), bits.float())
    indices = qam.bits_to_indices(bits.reshape(3, 5, 12, bits_per_symbol))
    assert torch.equal(qam.points[indices], symbols)
    assert torch.equal(qam.symbols_to_bits(indices).flatten(-2), bits.float())


def test_symbols_to_bits_of_noisy_points_takes_the_nearest():
    qam = QAM(4)
    slightly_off = qam.points + 0.1 * (1 + 1j) / math.sqrt(10)
    assert torch.equal(qam.symbols_to_bits(slightly_off), qam.labels)
    far_outside = torch.tensor([10 + 10j, -10 - 0.01j])  # -> (+3, +3) and (-3, -1)
    assert qam.symbols_to_bits(far_outside).tolist() == [[0, 0, 1, 1], [1, 1, 1, 0]]


# -- the channel ----------------------------------------------------------------------


def test_ebn0_to_n0_formula():
    assert float(ebn0_db_to_n0(10.0, 4)) == pytest.approx(1 / 40)
    assert float(ebn0_db_to_n0(0.0, 2)) == pytest.approx(1 / 2)
    assert float(ebn0_db_to_n0(3.0, 4, coderate=0.5)) == pytest.approx(
        1 / (10**0.3 * 2)
    )
    per_frame = ebn0_db_to_n0(torch.tensor([-20.0, 20.0]), 4)
    assert per_frame.tolist() == pytest.approx([100 / 4, 1 / 400])


def test_awgn_variance_per_frame_and_seeding():
    n0 = torch.tensor([0.01, 1.0, 4.0])
    symbols = torch.zeros(3, 200_000, dtype=torch.complex64)
    noise = awgn(symbols, n0, torch.Generator().manual_seed(3))
    total = (noise.abs() ** 2).mean(1)
    assert total.tolist() == pytest.approx(n0.tolist(), rel=0.02)
    assert (noise.real**2).mean(1).tolist() == pytest.approx(
        (n0 / 2).tolist(), rel=0.02
    )
    assert abs(float((noise.real * noise.imag).mean(1)[2])) < 0.03
    again = awgn(symbols, n0, torch.Generator().manual_seed(3))
    assert torch.equal(noise, again)
    other = awgn(symbols, n0, torch.Generator().manual_seed(4))
    assert not torch.equal(noise, other)


# -- the closed form ------------------------------------------------------------------


def test_closed_form_is_the_4qam_formula():
    ebn0_db = torch.linspace(-10, 12, 23, dtype=torch.float64)
    ebn0 = 10 ** (ebn0_db / 10)
    expected = [0.5 * math.erfc(math.sqrt(2 * g) / math.sqrt(2)) for g in ebn0.tolist()]
    assert closed_form_ber(ebn0_db, 2).tolist() == pytest.approx(expected, rel=1e-12)


def test_closed_form_high_snr_approximation_of_16qam():
    # at high SNR only the nearest neighbours count: BER ~ (3/4) Q(sqrt(4/5 Eb/N0)) for
    # 16-QAM
    ebn0 = 10 ** (14 / 10)
    approximation = 0.75 * 0.5 * math.erfc(math.sqrt(0.8 * ebn0) / math.sqrt(2))
    assert float(closed_form_ber(14.0, 4)) == pytest.approx(approximation, rel=1e-3)


@pytest.mark.parametrize(
    "bits_per_symbol, ebn0_db",
    [(2, 0.0), (2, 6.0), (4, -5.0), (4, 4.0), (4, 9.0), (6, 0.0), (6, 8.0), (6, 13.0)],
)
def test_nearest_point_simulation_matches_closed_form(bits_per_symbol, ebn0_db):
    qam = QAM(bits_per_symbol)
    ber, standard_error = simulate_ber(
        lambda y, n0: nearest_point_logits(qam, y),
        qam,
        ebn0_db,
        num_blocks=100,
        symbols_per_block=4000,
        seed=int(ebn0_db * 10) + bits_per_symbol,
    )
    expected = float(closed_form_ber(ebn0_db, bits_per_symbol))
    assert standard_error > 0
    assert abs(ber - expected) < 4 * standard_error, (ber, expected, standard_error)


# -- the detectors --------------------------------------------------------------------


def test_nearest_point_logits_are_hard_and_signed():
    qam = QAM(4)
    logits = nearest_point_logits(qam, qam.points)
    assert logits.shape == (16, 4)
    assert torch.equal(logits, 10.0 * (2 * qam.labels - 1))
    assert torch.equal(
        nearest_point_logits(qam, qam.points, hard_logit=1.0), 2 * qam.labels - 1
    )


@pytest.mark.parametrize("bits_per_symbol", [2, 4, 6])
def test_map_logits_equal_the_sum_over_all_points(bits_per_symbol):
    qam = QAM(bits_per_symbol)
    generator = torch.Generator().manual_seed(5)
    for ebn0_db in (-10.0, 3.0, 15.0):
        n0 = float(ebn0_db_to_n0(ebn0_db, bits_per_symbol))
        indices = torch.randint(qam.order, (4, 500), generator=generator)
        received = awgn(qam.points[indices], n0, generator)
        fast = map_bit_logits(qam, received, n0)
        exact = brute_force_map_logits(qam, received, n0)
        assert fast.shape == (4, 500, bits_per_symbol)
        assert torch.allclose(fast.double(), exact, rtol=1e-4, atol=1e-3)


def test_map_per_frame_n0_equals_one_frame_at_a_time():
    qam = QAM(4)
    received = awgn(qam.points.repeat(3, 10), 0.3, torch.Generator().manual_seed(6))
    n0 = torch.tensor([0.05, 0.3, 2.0])
    together = map_bit_logits(qam, received, n0)
    for frame in range(3):
        alone = map_bit_logits(qam, received[frame], float(n0[frame]))
        assert torch.allclose(together[frame], alone)


@pytest.mark.parametrize("ebn0_db", [-10.0, 0.0, 5.0, 10.0])
def test_map_is_no_worse_than_nearest_point_on_the_same_samples(ebn0_db):
    qam = QAM(4)
    generator = torch.Generator().manual_seed(7)
    n0 = float(ebn0_db_to_n0(ebn0_db, 4))
    indices = torch.randint(16, (100, 5000), generator=generator)
    received = awgn(qam.points[indices], n0, generator)
    bits = qam.labels[indices]

    def block_errors(logits):
        return ((logits > 0).float() != bits).float().mean(dim=(1, 2))

    difference = block_errors(map_bit_logits(qam, received, n0)) - block_errors(
        nearest_point_logits(qam, received)
    )
    standard_error = float(difference.std() / math.sqrt(100))
    assert float(difference.mean()) <= 4 * standard_error


def exact_map_ber_16qam(ebn0_db: float) -> float:
    """The MAP BER of the course's 16-QAM by numerical integration, one axis at a time.

    Written from the course's map, independently of optbook: per axis the 2-bit labels
    00, 01, 10, 11 sit at +1, +3, -1, -3 (over sqrt(10)); a bit's MAP error probability
    is the integral over y of min(p(y, bit = 0), p(y, bit = 1)).
    """
    levels = torch.tensor([1.0, 3.0, -1.0, -3.0], dtype=torch.float64) / math.sqrt(10)
    labels = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]])
    variance = 1 / (10 ** (ebn0_db / 10) * 4) / 2  # N0 / 2 per real dimension
    y = torch.linspace(-10, 10, 400_001, dtype=torch.float64)
    density = torch.exp(-((y[:, None] - levels) ** 2) / (2 * variance))
    density = density / math.sqrt(2 * math.pi * variance) / 4
    ber = 0.0
    for bit in range(2):
        p_one = density[:, labels[:, bit] == 1].sum(1)
        p_zero = density[:, labels[:, bit] == 0].sum(1)
        ber += float(torch.minimum(p_one, p_zero).sum() * (y[1] - y[0])) / 2
    return ber


@pytest.mark.parametrize("ebn0_db", [-10.0, 0.0, 5.0, 10.0])
def test_map_ber_matches_the_exact_map_ber(ebn0_db):
    qam = QAM(4)
    ber, standard_error = simulate_ber(
        lambda y, n0: map_bit_logits(qam, y, n0),
        qam,
        ebn0_db,
        num_blocks=100,
        symbols_per_block=10_000,
        seed=11 + int(ebn0_db),
    )
    exact = exact_map_ber_16qam(ebn0_db)
    assert abs(ber - exact) < 4 * standard_error, (ber, exact, standard_error)


@pytest.mark.parametrize(
    "ebn0_db, published, tolerance",
    # the protocol's "about 0.361" at -10 dB is 0.3626 exactly; the others agree to
    # their digits
    [
        (-10.0, 0.361, 2e-3),
        (0.0, 0.141, 5e-4),
        (5.0, 0.042, 5e-4),
        (10.0, 0.0018, 5e-5),
    ],
)
def test_exact_map_ber_matches_the_protocol_values(ebn0_db, published, tolerance):
    assert abs(exact_map_ber_16qam(ebn0_db) - published) < tolerance
    # and the MAP detector beats the nearest-point closed form, or ties with it
    assert exact_map_ber_16qam(ebn0_db) <= float(closed_form_ber(ebn0_db, 4)) + 1e-9


def test_bit_error_rate_counts_wrong_bits():
    bits = torch.tensor([[0.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 1.0]])
    logits = torch.tensor([[-1.0, 2.0, 0.5, -3.0], [4.0, -0.1, -2.0, 7.0]])
    assert bit_error_rate(logits, bits) == pytest.approx(2 / 8)
    assert bit_error_rate(bits, bits) == 0.0
    assert bit_error_rate(1 - bits, bits) == 1.0
    assert bit_error_rate(logits > 0, bits.int()) == pytest.approx(2 / 8)


# -- errors in words a student understands --------------------------------------------


@pytest.mark.parametrize("bad", [3, 0, -2, 5])
def test_odd_zero_or_negative_bits_per_symbol_are_refused(bad):
    with pytest.raises(ValueError, match=f"even number of bits per symbol, got {bad}"):
        QAM(bad)
    with pytest.raises(ValueError, match="even number of bits per symbol"):
        closed_form_ber(0.0, bad)


def test_non_integer_bits_per_symbol_is_refused():
    with pytest.raises(TypeError, match="whole number"):
        QAM(4.0)


def test_bit_count_not_a_multiple_of_bits_per_symbol():
    with pytest.raises(
        ValueError, match="must be a positive multiple of 4; got 10 bits"
    ):
        QAM(4).bits_to_symbols(torch.zeros(10))


def test_non_bit_values_are_refused():
    with pytest.raises(
        ValueError, match="only 0 and 1, found values such as \\[0.5\\]"
    ):
        QAM(4).bits_to_symbols(torch.tensor([0.0, 1.0, 0.5, 1.0]))
    with pytest.raises(ValueError, match="only 0 and 1"):
        bit_error_rate(torch.zeros(4), torch.tensor([0, 1, 2, 1]))


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="same shape, got \\(2, 4\\) and \\(8,\\)"):
        bit_error_rate(torch.zeros(2, 4), torch.zeros(8))
    with pytest.raises(ValueError, match="shape \\[..., 4\\]"):
        QAM(4).bits_to_indices(torch.zeros(3, 6))


def test_real_samples_are_refused_where_complex_is_needed():
    real = torch.zeros(10)
    with pytest.raises(
        TypeError, match="must be a complex tensor .*torch.complex\\(real, imag\\)"
    ):
        nearest_point_logits(QAM(4), real)
    with pytest.raises(TypeError, match="must be a complex tensor"):
        map_bit_logits(QAM(4), real, 0.1)
    with pytest.raises(TypeError, match="must be a complex tensor"):
        awgn(real, 0.1)


def test_negative_or_misshapen_n0_is_refused():
    symbols = torch.zeros(3, 8, dtype=torch.complex64)
    with pytest.raises(ValueError, match="zero or positive"):
        awgn(symbols, -0.1)
    with pytest.raises(ValueError, match="zero or positive"):
        map_bit_logits(QAM(4), symbols, torch.tensor([0.1, -1.0, 0.2]))
    with pytest.raises(ValueError, match="one value per frame"):
        awgn(symbols, torch.ones(8))
    with pytest.raises(ValueError, match="positive noise variance"):
        map_bit_logits(QAM(4), symbols, 0.0)


def test_probabilities_are_refused_as_logits():
    probabilities = torch.tensor([0.2, 0.9, 0.6, 0.1])
    with pytest.raises(ValueError, match="look like probabilities"):
        bit_error_rate(probabilities, torch.tensor([0, 1, 1, 0]))


def test_out_of_range_indices_are_refused():
    with pytest.raises(ValueError, match="lie in 0..15"):
        QAM(4).symbols_to_bits(torch.tensor([0, 16]))
