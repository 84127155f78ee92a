"""How long does the grading tool take for a class, on Part A and on Part B?

Not a test: a benchmark. It writes ``--submissions`` folders (Part A: recipes, the
instructor's reference and variants of it; Part B: detectors, the instructor's
reference, the classical yardstick and the nearest-point detector, in turn), grades them
with :func:`optbook.homework.part_grading.grade_part_a` or ``grade_part_b`` exactly as
``scripts/grade-submissions --part A|B --jobs J`` does (each submission in its sandbox,
``--no-sandbox`` where bubblewrap is missing), and prints:

- the wall-clock time in all, of the yardsticks, and per submission;
- a model of an idle machine with ``--jobs`` cores, from CPU seconds (which a busy,
  shared machine inflates much less than the wall clock): the yardsticks' CPU, plus
  40 times (the CPU of grading one submission in-process, the same work the sandbox
  and the grader share, plus the CPU of starting one sandbox's Python and torch)
  divided by ``jobs``;
- the extrapolation to 40 submissions from both;
- the rows of the yardsticks and of the first submissions (BER, level, points).

    .venv/bin/python benchmarks/bench_homework_parts.py --part A [--submissions 40]
        [--jobs 2] [--seed 4242] [--no-sandbox]
"""

from __future__ import annotations

import argparse
import inspect
import os
import resource
import tempfile
import time
from pathlib import Path

import torch

from optbook.homework.part_grading import grade_part_a, grade_part_b
from optbook.homework.sandbox.launcher import sandbox_problem

RECIPE_VARIANTS = [
    ("reference", None),
    ("adam-cosine", "torch.optim.Adam(model.parameters(), lr=1e-2)", 16, "cosine"),
    (
        "sgd-momentum",
        "torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)",
        16,
        "cosine",
    ),  # fmt: skip
    ("rmsprop", "torch.optim.RMSprop(model.parameters(), lr=3e-3)", 32, "cosine"),
]


def recipe_source(variant) -> str:
    if variant[1] is None:
        import optbook_solution.recipe_solution as reference

        return inspect.getsource(reference)
    _, optimizer, frames, _ = variant
    return f"""
import torch
from optbook.homework.recipes import Recipe, updates_for


def make_recipe(model, budget):
    optimizer = {optimizer}
    steps = updates_for({frames}, budget)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    return Recipe(optimizer, batch_frames={frames}, scheduler=scheduler)
"""


def detector_sources() -> list[tuple[str, str]]:
    import optbook_solution.impaired_detection as reference

    cluster = inspect.getsource(reference) + (
        "\n\ndef make_detector():\n    return ClusterMapDetector()\n"
    )
    classical = (
        "from optbook.homework.impairments import BlindMapDetector\n\n\n"
        "def make_detector():\n    return BlindMapDetector()\n"
    )
    nearest = (
        "from optbook.homework.grading import NearestPointDetector\n\n\n"
        "def make_detector():\n    return NearestPointDetector()\n"
    )
    return [("reference", cluster), ("classical", classical), ("nearest", nearest)]


def boot_cpu_seconds() -> float:
    """CPU seconds of starting Python and importing what a sandbox imports."""
    import subprocess
    import sys

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import torch, optbook.homework.recipes, optbook.homework.impairments",
        ],  # fmt: skip
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def idle_model(part: str, seed: int) -> tuple[float, float]:
    """(CPU of the yardsticks, CPU of one reference submission graded in-process)."""
    from optbook.homework.grading import grade
    from optbook.homework.part_grading import PART_A, PART_B, _ImpairedProtocol

    start = time.process_time()
    if part == "A":
        samples = PART_A.samples(seed)
        grade_part_a([], seed=seed, isolated=False)
    else:
        protocol = _ImpairedProtocol(*(getattr(PART_B, f) for f in (
            "num_points", "low_db", "high_db", "symbols_per_frame",
            "target_standard_error")))  # fmt: skip
        samples = protocol.samples(seed)
        from optbook.homework.impairments import BlindMapDetector

        grade(BlindMapDetector(), samples=samples, target_standard_error=2e-4)
    yardsticks = time.process_time() - start
    start = time.process_time()
    if part == "A":
        from optbook.homework.recipes import grade_recipe
        from optbook_solution.recipe_solution import make_recipe

        grade_recipe(make_recipe, seed=seed, samples=samples)
    else:
        from optbook_solution.impaired_detection import ClusterMapDetector

        grade(ClusterMapDetector(), samples=samples, target_standard_error=2e-4)
    return yardsticks, time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=("A", "B"), required=True)
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--no-sandbox", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    isolated = not args.no_sandbox and sandbox_problem() is None
    base = Path(tempfile.mkdtemp(prefix="bench-parts-"))
    folders = []
    for index in range(args.submissions):
        if args.part == "A":
            variant = RECIPE_VARIANTS[index % len(RECIPE_VARIANTS)]
            name, text, file = variant[0], recipe_source(variant), "recipe.py"
        else:
            name, text = detector_sources()[index % 3]
            file = "detector.py"
        folder = base / f"{index:02d}-{name}"
        folder.mkdir()
        (folder / file).write_text(text)
        folders.append(folder)
    load_before = os.getloadavg()
    start = time.perf_counter()
    grade = grade_part_a if args.part == "A" else grade_part_b
    grading = grade(folders, seed=args.seed, jobs=args.jobs, isolated=isolated)
    wall = time.perf_counter() - start
    load_after = os.getloadavg()
    per_submission_wall = (wall - grading.yardstick_seconds) / max(1, len(folders))
    yardstick_cpu, one_cpu = idle_model(args.part, args.seed)
    boot = boot_cpu_seconds()
    per_submission_cpu = one_cpu + boot
    print(f"Part {args.part}: {len(folders)} submissions, jobs {args.jobs}, "
          f"sandbox {'on' if isolated else 'OFF'}, load average {load_before[0]:.1f} "
          f"before, {load_after[0]:.1f} after")  # fmt: skip
    print(f"wall clock: {wall:.0f} s in all, yardsticks {grading.yardstick_seconds:.0f}"
          f" s, {per_submission_wall:.1f} s per submission")  # fmt: skip
    print(
        f"CPU: yardsticks {yardstick_cpu:.1f} s; one reference submission "
        f"{one_cpu:.1f} s in-process + {boot:.1f} s to start a sandbox's Python"
    )
    for count in (len(folders), 40):
        by_wall = grading.yardstick_seconds + count * per_submission_wall
        idle = yardstick_cpu + count * per_submission_cpu / args.jobs
        print(
            f"{count} submissions: {by_wall / 60:.1f} min at this load, "
            f"{idle / 60:.1f} min on an idle machine with {args.jobs} cores"
        )
    rows = grading.yardsticks + grading.results[: min(6, len(grading.results))]
    for row in rows:
        print(f"  {row.submission:42s} {row.ber:.5f} ± {row.standard_error:.5f} "
              f"level {row.level} {row.verdict}: {row.detail}")  # fmt: skip
    verdicts = {r.verdict for r in grading.results}
    print(f"verdicts: {sorted(verdicts)}")


if __name__ == "__main__":
    main()
