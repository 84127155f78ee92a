"""optbook.optimizers.memory: state sizes read off the real state tensors."""

import pytest
import torch

from optbook.optimizers import SGD, Adafactor, Adam, Lion, Muon, SparseAdam
from optbook.optimizers.memory import state_numbers, state_per_parameter


def test_known_state_sizes():
    shape = (64, 32)
    n = 64 * 32
    assert state_numbers(SGD, shape) == 0  # no momentum, no state
    assert state_numbers(SGD, shape, momentum=0.9) == n
    assert state_numbers(Adam, shape) == 2 * n + 1  # m, v and the step
    assert state_numbers(Adam, shape, amsgrad=True) == 3 * n + 1
    assert state_numbers(Lion, shape) == n
    assert state_numbers(Muon, shape) == n
    assert state_numbers(SparseAdam, shape) == 2 * n  # its step is a Python int
    assert state_numbers(Adafactor, shape) == 64 + 32 + 1  # row, column and step
    assert state_numbers(Adafactor, (10,)) == 10 + 1  # a vector keeps its full average


def test_factored_memory_per_parameter_falls_with_the_matrix():
    small, large = (state_per_parameter(Adafactor, (n, n)) for n in (8, 256))
    assert large < small < 0.5
    assert state_per_parameter(Adam, (256, 256)) == pytest.approx(2.0, abs=1e-4)


def test_the_same_for_torchs_classes():
    assert state_numbers(torch.optim.Adam, (5, 4)) == state_numbers(Adam, (5, 4))
    assert state_numbers(torch.optim.SparseAdam, (5, 4)) == 40


def test_bad_shape_is_refused():
    with pytest.raises(ValueError, match="positive sizes"):
        state_numbers(Adam, (0, 3))
