"""Seeding and device selection, shared by every notebook.

Every notebook calls :func:`seed_everything` once and :func:`pick_device` once, so that a
run prints the same numbers every time and uses a GPU when one is present.
"""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's, NumPy's and torch's random number generators.

    Returns a fresh ``torch.Generator`` seeded with ``seed`` as well, for code that
    wants its own stream of random numbers.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**64:
        raise ValueError(f"seed must be an integer in [0, 2**64), got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def pick_device(prefer: str | None = None) -> torch.device:
    """CUDA when it is available, the CPU otherwise.

    ``prefer="cpu"`` forces the CPU (for float64 checks, say).
    """
    if prefer is not None:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
