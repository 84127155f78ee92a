"""How much faster is optbook's data generation than the course's original data path?

Not a test: a benchmark, run side by side in one process. It times one training batch of
the homework's data (32 frames of 64 x 1024 bits of 16-QAM over AWGN, each frame at its
own Eb/N0) three ways:

(a) **original**: a small re-implementation of the data path of the course's sample
    notebook (``symboldetection.ipynb`` of lkk688/DeepDataMiningLearning), written from
    its description: a torch ``Dataset`` whose ``__getitem__`` draws one frame of bits
    with ``np.random.randint(2, size=(64, 1024))`` as float32, maps them to points row
    by row (a Python list comprehension over the frame's 64 rows, NumPy fancy indexing
    within a row), draws the noise with two float64 ``np.random.normal`` calls cast to
    complex64, and returns torch tensors; a ``DataLoader(batch_size=32, shuffle=True)``
    with torch's default collate stacks 32 frames (``pin_memory`` only when CUDA is
    present);
(b) **per-symbol Python**: the mapping the issue names, one Python list lookup per
    symbol (the fastest of the per-symbol variants we tried: zip the bits in fours,
    index a list of points by the binary number), with vectorised NumPy noise;
(c) **optbook**: :func:`optbook.homework.grading.sample_ebn0_db` (the course's
    3200-point grid) and :func:`optbook.homework.grading.make_frames`, the whole batch
    in a few torch calls.

The three alternate in every round; all rounds run at torch's default number of threads,
then all again at one thread (on a shared, loaded machine torch's thread pool can be
much slower than one thread, for the original's collate as for optbook); medians over
the rounds are printed (the fastest run in brackets), with the load average before and
after, and the ratios (a)/(c) and (b)/(c) against the issue's goal of 100x.

    .venv/bin/python benchmarks/bench_channel_data.py [--rounds 15] \\
        [--threads 2 1] [--quick]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from optbook.homework.channel import QAM
from optbook.homework.grading import make_frames, sample_ebn0_db

ROWS, BITS_PER_ROW = 64, 1024  # one frame of the course: 64 x 1024 bits
BITS_PER_SYMBOL = 4
SYMBOLS_PER_FRAME = ROWS * BITS_PER_ROW // BITS_PER_SYMBOL
FRAMES_PER_BATCH = 32
FRAMES_PER_EPOCH = (
    80 * 32 + 640
)  # 80 training batches of 32 frames + 640 validation frames
GOAL = 100  # the goal for the speed-up


def n0_of(ebn0_db: float) -> float:
    """The course's noise variance for 16-QAM, code rate 1, as a Python float."""
    return 1.0 / (10 ** (ebn0_db / 10) * BITS_PER_SYMBOL)


def course_points() -> np.ndarray:
    """The course's 16-QAM as complex64 ``[16]``: index b0 b1 b2 b3, (b0, b2) on the
    real axis."""

    def gray_pam(bits: list[int]) -> int:
        if len(bits) == 1:
            return 1 - 2 * bits[0]
        return (1 - 2 * bits[0]) * (2 ** (len(bits) - 1) - gray_pam(bits[1:]))

    points = np.zeros(16, dtype=np.complex64)
    for index in range(16):
        bits = [(index >> (3 - j)) & 1 for j in range(4)]
        points[index] = gray_pam(bits[0::2]) + 1j * gray_pam(bits[1::2])
    return points / np.float32(math.sqrt(10))


# -- (a) the original's data path ------------------------------------------------------


class OriginalFrames(Dataset):
    """One frame per Eb/N0 value, drawn anew at every access, as the course's Dataset
    does."""

    def __init__(self, ebn0_db: np.ndarray, points: np.ndarray) -> None:
        self.ebn0_db = ebn0_db
        self.points = points
        self.binary_base = np.array([8, 4, 2, 1])

    def __len__(self) -> int:
        return len(self.ebn0_db)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        bits = np.random.randint(2, size=(ROWS, BITS_PER_ROW)).astype(np.float32)
        # the mapper: groups of 4 bits -> integers -> points, one frame row at a time
        groups = bits.reshape(ROWS, BITS_PER_ROW // BITS_PER_SYMBOL, BITS_PER_SYMBOL)
        integers = (groups * self.binary_base).sum(axis=-1).astype(np.int64)
        symbols = np.array([self.points[row] for row in integers])
        # the channel: float64 normals per real dimension, cast to complex64, scaled
        shape = symbols.shape
        noise = np.random.normal(
            scale=math.sqrt(1 / 2), size=shape
        ) + 1j * np.random.normal(scale=math.sqrt(1 / 2), size=shape)
        noise = noise.astype(np.complex64) * math.sqrt(
            n0_of(float(self.ebn0_db[index]))
        )
        return torch.from_numpy(symbols + noise), torch.from_numpy(bits)


class EndlessBatches:
    """``next()`` gives the next batch of a DataLoader, starting a new epoch when one
    ends."""

    def __init__(self, loader: DataLoader) -> None:
        self.loader = loader
        self.batches = iter(loader)

    def __call__(self) -> object:
        try:
            return next(self.batches)
        except StopIteration:
            self.batches = iter(self.loader)
            return next(self.batches)


# -- (b) per-symbol Python mapping -----------------------------------------------------


def per_symbol_batch(
    ebn0_db: list[float], rng: np.random.Generator, points: list[complex]
) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch, one Python list lookup per symbol (noise vectorised with NumPy)."""
    received, sent_bits = [], []
    for frame_ebn0_db in ebn0_db:
        bits = rng.integers(0, 2, ROWS * BITS_PER_ROW, dtype=np.int8)
        stream = iter(
            bits.tolist()
        )  # zip(stream, stream, ...) takes the bits four at a time
        groups = zip(stream, stream, stream, stream, strict=True)
        symbols = np.array(
            [points[8 * b0 + 4 * b1 + 2 * b2 + b3] for b0, b1, b2, b3 in groups],
            dtype=np.complex64,
        )
        noise = rng.standard_normal((SYMBOLS_PER_FRAME, 2), dtype=np.float32)
        noise *= np.float32(math.sqrt(n0_of(frame_ebn0_db) / 2))
        received.append(torch.from_numpy(symbols + noise.view(np.complex64)[:, 0]))
        sent_bits.append(torch.from_numpy(bits.reshape(-1, BITS_PER_SYMBOL)))
    return torch.stack(received), torch.stack(sent_bits).float()


# -- (c) optbook --------------------------------------------------------------------


def optbook_batch(
    qam: QAM, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch with optbook: Eb/N0 from the course's 3200-point grid, all frames at
    once."""
    ebn0_db = sample_ebn0_db(FRAMES_PER_BATCH, grid_points=3200, generator=generator)
    frames = make_frames(FRAMES_PER_BATCH, SYMBOLS_PER_FRAME, ebn0_db, qam, generator)
    return frames.received, frames.bits


# -- timing -------------------------------------------------------------------------


def seconds(make_batch: Callable[[], object], batches: int) -> float:
    """Wall-clock seconds per batch of ``batches`` consecutive calls."""
    start = time.perf_counter()
    for _ in range(batches):
        make_batch()
    return (time.perf_counter() - start) / batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds", type=int, default=15, help="rounds (each times all three)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=None,
        help="torch thread counts to measure (default: torch's default, then 1)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="3 rounds, for a fast check"
    )
    args = parser.parse_args()
    rounds = 3 if args.quick else args.rounds
    thread_counts = args.threads or sorted({torch.get_num_threads(), 1}, reverse=True)

    # (a): the course's split of its 3200-point grid, 80 % for training
    np.random.seed(0)
    grid = np.linspace(-20, 20, 3200)
    training_ebn0_db = grid[np.random.permutation(3200)[:2560]]
    points = course_points()
    loader = DataLoader(
        OriginalFrames(training_ebn0_db, points),
        batch_size=FRAMES_PER_BATCH,
        shuffle=True,
        pin_memory=torch.cuda.is_available(),
    )
    original = EndlessBatches(loader)
    # (b)
    rng = np.random.default_rng(0)
    point_list = points.tolist()

    def per_symbol() -> object:
        return per_symbol_batch(
            rng.choice(grid, FRAMES_PER_BATCH).tolist(), rng, point_list
        )

    # (c)
    qam = QAM(BITS_PER_SYMBOL)
    generator = torch.Generator().manual_seed(0)

    def optbook() -> object:
        return optbook_batch(qam, generator)

    # all three make the same constellation and the same amount of data
    assert np.allclose(points, qam.points.numpy(), atol=1e-7)
    received_a, bits_a = original()
    received_b, bits_b = per_symbol()
    received_c, bits_c = optbook()
    for received, bits in ((received_a, bits_a), (received_b, bits_b)):
        assert received.dtype == received_c.dtype and bits.dtype == bits_c.dtype
        assert received.numel() == received_c.numel() and bits.numel() == bits_c.numel()

    methods = {
        "(a) original": original,
        "(b) per-symbol": per_symbol,
        "(c) optbook": optbook,
    }
    # batches per timed run: a run of (c) as long as one of (a), so that both are
    # exposed
    # alike to other jobs on a loaded machine (a short run is either untouched or loses
    # a
    # whole time slice to another process)
    batches_per_run = {"(a) original": 1, "(b) per-symbol": 1, "(c) optbook": 8}
    times = {(t, name): [] for t in thread_counts for name in methods}
    load_before = os.getloadavg()
    for (
        threads
    ) in thread_counts:  # one phase per thread count: switching costs time too
        torch.set_num_threads(threads)
        for make_batch in methods.values():
            make_batch()  # warm-up
        for _ in range(rounds):
            for name, make_batch in methods.items():
                times[threads, name].append(seconds(make_batch, batches_per_run[name]))
    load_after = os.getloadavg()

    print(
        f"one batch: {FRAMES_PER_BATCH} frames x {ROWS} x {BITS_PER_ROW} bits "
        f"({SYMBOLS_PER_FRAME} symbols of 16-QAM per frame), {rounds} rounds, "
        f"medians (min in brackets)"
    )
    print(
        "load average (1, 5, 15 min) before "
        f"{', '.join(f'{x:.2f}' for x in load_before)}; "
        f"after {', '.join(f'{x:.2f}' for x in load_after)}; CPU cores: "
        f"{os.cpu_count()}"
    )
    for threads in thread_counts:
        median = {name: statistics.median(times[threads, name]) for name in methods}
        fastest = {name: min(times[threads, name]) for name in methods}
        print(f"\ntorch threads: {threads}")
        for name in methods:
            print(
                f"  {name:15s} {1e3 * median[name]:9.2f} ms per batch "
                f"({1e3 * fastest[name]:.2f})"
            )
        for slow, label in (("(a) original", "(a)/(c)"), ("(b) per-symbol", "(b)/(c)")):
            ratio = median[slow] / median["(c) optbook"]
            ratio_of_minima = fastest[slow] / fastest["(c) optbook"]
            verdict = "met" if ratio >= GOAL else "NOT met"
            print(
                f"  {label} {slow[4:]} / optbook: {ratio:5.1f}x "
                f"({ratio_of_minima:.1f}x); "
                f"goal {GOAL}x {verdict}"
            )
        epoch = median["(a) original"] / FRAMES_PER_BATCH * FRAMES_PER_EPOCH
        print(
            f"  original's data time per epoch, estimated as (a) per frame x "
            f"{FRAMES_PER_EPOCH} frames: {epoch:.1f} s (the protocol's whole epoch: "
            "about 19 s)"
        )


if __name__ == "__main__":
    main()
