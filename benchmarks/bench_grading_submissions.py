"""Grading a class: submissions of the reference solution's size through the tool.

Not a test: a benchmark. It trains the reference solution's frame-aware detector
(:class:`optbook_solution.frame_detection.PowerConditionedDetector`, ``pool="frame"``,
64 hidden units, 300 steps of :func:`optbook_solution.frame_detection.train_one_cycle`)
once, writes ``--submissions`` folders that each hold its code in ``detector.py`` and
its weights in ``weights.pt`` (the submission contract), and grades them all with
:func:`optbook.homework.submissions.grade_submissions`: the full protocol (81 Eb/N0
points, standard error 1e-4, the conditional estimator), a fresh private seed, every
submission in its own bubblewrap sandbox (a fresh Python and torch each, started
outside its clock), ``--jobs`` at a time, and the yardsticks (the
per-symbol limit and the course baseline, trained once with 1600 SGD steps) once.

It prints the yardsticks' time (paid once per seed), each submission's time, and the
time for 40 submissions: measured when ``--submissions 40``, else extrapolated from the
measured per-submission time (said so). The issue's target: 40 submissions in at most
10 minutes on 2 CPU cores.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_grading_submissions.py \\
        --submissions 8 --jobs 2
"""

from __future__ import annotations

import argparse
import inspect
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from optbook.homework.submissions import FULL, grade_submissions, write_submission
from optbook_solution import frame_detection
from optbook_solution.frame_detection import PowerConditionedDetector, train_one_cycle

TARGET_SECONDS = 600.0
CLASS_SIZE = 40

HEADER = '''"""A submission of the reference solution's size: frame-aware."""

from pathlib import Path

import torch
from torch import Tensor, nn

from optbook.homework.channel import QAM, check_complex

POOLS = ("symbol", "frame")

'''

FOOTER = """

def make_detector():
    model = PowerConditionedDetector("frame")
    weights = Path(__file__).with_name("weights.pt")
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model
"""


def detector_source() -> str:
    parts = [
        inspect.getsource(frame_detection.pooled_power),
        inspect.getsource(frame_detection.PowerConditionedDetector),
    ]
    return HEADER + "\n\n".join(parts) + FOOTER


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
        f"{args.submissions} submissions, {args.jobs} at a time"
    )
    torch.manual_seed(0)
    model = PowerConditionedDetector("frame")
    history = train_one_cycle(model, steps=args.steps, seed=0)
    print(f"reference-size detector trained in {history.seconds:.1f} s "
          f"({sum(p.numel() for p in model.parameters())} parameters)")  # fmt: skip
    base = Path(tempfile.mkdtemp(prefix="bench-class-"))
    try:
        source = detector_source()
        folders = [
            write_submission(base / f"student{i:02d}", source, model.state_dict())
            for i in range(args.submissions)
        ]
        start = time.perf_counter()
        grading = grade_submissions(
            folders, seed=secrets.randbelow(2**63), protocol=FULL, jobs=args.jobs
        )
        total = time.perf_counter() - start
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(grading.table())
    verdicts = {r.verdict for r in grading.results}
    per_submission = [r.seconds for r in grading.results]
    submissions_seconds = total - grading.yardstick_seconds
    print(
        f"\nyardsticks (once per seed): {grading.yardstick_seconds:.1f} s; "
        f"{args.submissions} submissions: {submissions_seconds:.1f} s wall "
        f"({args.jobs} at a time; each {statistics.median(per_submission):.1f} s "
        "median,"
        f" {min(per_submission):.1f}-{max(per_submission):.1f} s); verdicts {verdicts}"
    )
    if args.submissions == CLASS_SIZE:
        class_seconds, how = total, "measured"
    else:
        class_seconds = grading.yardstick_seconds + submissions_seconds * (
            CLASS_SIZE / args.submissions
        )
        how = f"extrapolated from {args.submissions} measured submissions"
    verdict = "meets" if class_seconds <= TARGET_SECONDS else "misses"
    print(
        f"{CLASS_SIZE} submissions of the reference solution's size: "
        f"{class_seconds / 60:.1f} min ({how}); {verdict} the "
        f"{TARGET_SECONDS / 60:g}-minute target"
    )
    return 0 if verdicts == {"ok"} else 1


if __name__ == "__main__":
    sys.exit(main())
