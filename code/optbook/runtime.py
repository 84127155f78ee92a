"""Seeding and device selection, shared by every notebook.

Progress bars (:func:`progress_bar`) live here too.

Every notebook calls :func:`seed_everything` once and :func:`pick_device` once, so that
a run prints the same numbers every time and uses a GPU when one is present.
"""

from __future__ import annotations

import io
import os
import random
import sys

import numpy as np
import torch
from tqdm.std import tqdm


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


FINAL_PROGRESS_VARIABLE = "OPTBOOK_FINAL_PROGRESS"


def progress_bar(
    total: int, desc: str = "", *, enabled: bool = True, unit: str = "step"
) -> tqdm:
    """A text progress bar: live in Jupyter and Colab; once, finished, in the book.

    Where the environment variable ``OPTBOOK_FINAL_PROGRESS=1`` is set (the book build,
    nbval and CI set it: ``scripts/build-book``, ``scripts/test``), every redraw would
    become a line of the cell's stored output; there the bar draws nothing while it runs
    and prints its final state once, when it is closed. ``enabled=False`` shows nothing.
    """
    final_only = os.environ.get(FINAL_PROGRESS_VARIABLE) == "1"
    bar_class = _FinalOnlyBar if final_only else tqdm
    return bar_class(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stdout,
        ascii=True,
        ncols=80,
        mininterval=0.5,
        disable=not enabled,
        leave=True,
    )


class _FinalOnlyBar(tqdm):
    """A tqdm bar that draws nothing until it is closed, then prints its final line."""

    def __init__(self, *args, **kwargs) -> None:
        self._real_file = kwargs.pop("file", sys.stdout)
        super().__init__(*args, file=io.StringIO(), **kwargs)

    def close(self) -> None:
        if self.disable:
            return
        line = self.__str__()
        super().close()
        print(line, file=self._real_file, flush=True)
