"""Proposed tests for the fast data path (random_symbol_indices, lookup_rows' wide
gather)."""

from __future__ import annotations

import pytest
import torch

from optbook.homework.channel import QAM, lookup_rows
from optbook.homework.grading import make_frames, random_symbol_indices


@pytest.mark.parametrize(
    "table",
    [
        QAM(4).labels,  # 16-byte rows: moved as complex128
        QAM(2).labels,  # 8 bytes: int64
        QAM(6).labels,  # 24 bytes: row by row
        torch.view_as_real(QAM(4).points),  # 8 bytes
        QAM(4).labels.bool(),  # 4 bytes of bool: int32
        torch.arange(48, dtype=torch.uint8).view(16, 3),  # 3 bytes: row by row
        QAM(4).labels[:, :2],  # not contiguous
        QAM(4).labels.reshape(-1)[1:61].view(15, 4),  # rows not aligned in memory
        QAM(4).points,  # a 1-D table
    ],
)
def test_lookup_rows_equals_advanced_indexing(table):
    indices = torch.randint(
        len(table), (3, 50, 7), generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(lookup_rows(table, indices), table[indices])


def test_lookup_rows_keeps_gradients():
    table = torch.randn(16, 4, requires_grad=True)
    lookup_rows(table, torch.tensor([[1, 2], [3, 1]])).sum().backward()
    assert table.grad[1].tolist() == [2.0] * 4 and table.grad[0].tolist() == [0.0] * 4


@pytest.mark.parametrize("bits_per_symbol", [2, 4, 6, 8])
def test_random_symbol_indices_uniform_and_independent(bits_per_symbol):
    order = 2**bits_per_symbol
    generator = torch.Generator().manual_seed(bits_per_symbol)
    indices = random_symbol_indices((40, 10_000), bits_per_symbol, generator)
    assert indices.shape == (40, 10_000) and indices.dtype == torch.long
    assert int(indices.min()) == 0 and int(indices.max()) == order - 1
    flat = indices.flatten()
    # chi-square / degrees of freedom is about 1 +- sqrt(2 / dof) for a uniform sample
    counts = torch.bincount(flat, minlength=order).double()
    expected = flat.numel() / order
    assert float(((counts - expected) ** 2 / expected).sum()) / (order - 1) < 2.5
    # neighbours, inside a word and across words, are independent: pairs are uniform too
    pairs = torch.bincount(flat[:-1] * order + flat[1:], minlength=order**2).double()
    expected = (flat.numel() - 1) / order**2
    assert float(((pairs - expected) ** 2 / expected).sum()) / (order**2 - 1) < 1.5


def test_random_symbol_indices_seeded_and_any_shape():
    first = random_symbol_indices((3, 5, 7), 4, torch.Generator().manual_seed(1))
    again = random_symbol_indices((3, 5, 7), 4, torch.Generator().manual_seed(1))
    assert first.shape == (3, 5, 7) and torch.equal(first, again)
    assert random_symbol_indices((0, 4), 4).shape == (0, 4)
    with pytest.raises(ValueError, match="even number of bits"):
        random_symbol_indices((4,), 3)


def test_make_frames_sends_every_point_equally_often():
    qam = QAM(4)
    frames = make_frames(32, 16384, 0.0, qam, torch.Generator().manual_seed(2))
    counts = torch.bincount(
        qam.bits_to_indices(frames.bits).flatten(), minlength=16
    ).double()
    expected = 32 * 16384 / 16
    assert float(((counts - expected) ** 2 / expected).sum()) / 15 < 2.5
