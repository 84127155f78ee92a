"""How much faster is optbook's vectorised data generation than the original approach?

Times one training batch of the homework's data (32 frames of 64 x 1024 bits of 16-QAM
over AWGN, each frame at its own Eb/N0) two ways, in the same run:

- *original*: a small re-implementation of the approach of the course's sample code:
  one frame at a time, a Python list comprehension over the symbols that maps each
  group of 4 bits to a complex point through a dict, NumPy noise;
- *optbook*: :func:`optbook.grading.make_frames`, the whole batch in a few torch calls.

Run ``python benchmarks/bench_channel_data.py`` (or ``--quick`` for a fast check).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from optbook.channel import QAM
from optbook.grading import make_frames, sample_ebn0_db

BITS_PER_SYMBOL = 4
BITS_PER_FRAME = 64 * 1024
FRAMES_PER_BATCH = 32


def course_16qam_dict() -> dict[tuple[int, int, int, int], complex]:
    """The course's 16-QAM as a dict from 4 bits to a point, built with plain Python."""
    pam = {(0, 0): 1, (0, 1): 3, (1, 0): -1, (1, 1): -3}
    table = {}
    for b0 in (0, 1):
        for b1 in (0, 1):
            for b2 in (0, 1):
                for b3 in (0, 1):
                    point = complex(pam[(b0, b2)], pam[(b1, b3)]) / math.sqrt(10)
                    table[(b0, b1, b2, b3)] = point
    return table


def original_style_batch(
    ebn0_db: list[float], rng: np.random.Generator, table: dict
) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch the slow way: frame by frame, symbol by symbol, in Python."""
    received_frames, bit_frames = [], []
    for frame_ebn0_db in ebn0_db:
        bits = rng.integers(0, 2, BITS_PER_FRAME)
        bit_list = bits.tolist()
        symbols = np.array(
            [
                table[tuple(bit_list[i : i + BITS_PER_SYMBOL])]
                for i in range(0, BITS_PER_FRAME, BITS_PER_SYMBOL)
            ]
        )
        n0 = 1 / (10 ** (frame_ebn0_db / 10) * BITS_PER_SYMBOL)
        noise = math.sqrt(n0 / 2) * (
            rng.standard_normal(symbols.size) + 1j * rng.standard_normal(symbols.size)
        )
        received_frames.append(torch.from_numpy(symbols + noise))
        bit_frames.append(torch.from_numpy(bits.reshape(-1, BITS_PER_SYMBOL)))
    return torch.stack(received_frames), torch.stack(bit_frames).float()


def optbook_batch(qam: QAM, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch with optbook: Eb/N0 from the course's 3200-point grid, all frames at once."""
    ebn0_db = sample_ebn0_db(FRAMES_PER_BATCH, grid_points=3200, generator=generator)
    frames = make_frames(
        FRAMES_PER_BATCH, BITS_PER_FRAME // BITS_PER_SYMBOL, ebn0_db, qam, generator
    )
    return frames.received, frames.bits


def median_seconds(make_batch: Callable[[], object], repeats: int) -> float:
    """Median wall-clock seconds of ``repeats`` calls (after one warm-up call)."""
    make_batch()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        make_batch()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, for a fast check")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    original_repeats, optbook_repeats = (1, 5) if args.quick else (3, 30)

    rng = np.random.default_rng(0)
    table = course_16qam_dict()
    generator = torch.Generator().manual_seed(0)
    qam = QAM(BITS_PER_SYMBOL)
    grid = np.linspace(-20, 20, 3200)

    def original() -> object:
        return original_style_batch(rng.choice(grid, FRAMES_PER_BATCH).tolist(), rng, table)

    received, bits = optbook_batch(qam, generator)
    reference_received, reference_bits = original()
    assert received.shape == reference_received.shape and bits.shape == reference_bits.shape

    original_seconds = median_seconds(original, original_repeats)
    optbook_seconds = median_seconds(lambda: optbook_batch(qam, generator), optbook_repeats)
    print(
        f"batch: {FRAMES_PER_BATCH} frames x {BITS_PER_FRAME} bits "
        f"({BITS_PER_FRAME // BITS_PER_SYMBOL} symbols of 16-QAM), "
        f"torch threads: {torch.get_num_threads()}"
    )
    print(
        f"original: {original_seconds:.3f} s/batch, optbook: {optbook_seconds:.4f} s/batch, "
        f"speed-up: {original_seconds / optbook_seconds:.0f}x"
    )


if __name__ == "__main__":
    main()
