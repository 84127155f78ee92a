"""The command line ``scripts/grade-submissions``: read the seed, grade, write results.

The seed comes from a file of mode 600 or from standard input (``--seed-file -``), never
from the command line (which every process of the machine can read in ``/proc``);
without one a fresh seed is drawn and written only with the results. Grading refuses to
run without the sandbox unless told ``--no-sandbox``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import torch

from optbook.homework.class_grading import (
    FULL,
    SMALL,
    grade_submissions,
    harden_grader,
    write_results,
)
from optbook.homework.sandbox.launcher import Limits, SandboxUnavailable


def read_seed(path: str) -> int:
    """The seed from a file (``-``: standard input); refuse a file others can read."""
    if path == "-":
        text = sys.stdin.read(100)
    else:
        mode = os.stat(path).st_mode
        if mode & 0o077:
            raise SystemExit(
                f"the seed file {path} can be read by other users (mode "
                f"{mode & 0o777:o}): run  chmod 600 {path}  first"
            )
        text = Path(path).read_text()[:100]
    try:
        seed = int(text.strip())
    except ValueError:
        raise SystemExit("the seed file must hold one whole number") from None
    if seed < 0:
        raise SystemExit("the seed must be a non-negative whole number")
    return seed


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="grade-submissions",
        description="Grade homework submission folders (each with detector.py defining "
        "make_detector()) with a private seed, each in its own bubblewrap sandbox.",
    )
    parse.add_argument("folders", nargs="+", type=Path, help="submission folders")
    parse.add_argument(
        "--seed-file",
        help="file holding the private seed (mode 600), or - for standard input; "
        "without it a fresh random seed is drawn and written to the results only "
        "after grading",
    )
    parse.add_argument("--out", type=Path, default=Path("grading-results"))
    parse.add_argument(
        "--small",
        action="store_true",
        help="the student's check: coarser standard error",
    )
    parse.add_argument("--time-limit", type=float, default=Limits.time_limit_s)
    parse.add_argument(
        "--memory-limit",
        type=int,
        default=Limits.memory_limit_mb,
        help="MB per submission, over all its processes",
    )
    parse.add_argument("--jobs", type=int, default=1, help="submissions at a time")
    parse.add_argument("--baseline-steps", type=int, default=1600)
    parse.add_argument(
        "--no-yardsticks",
        action="store_true",
        help="skip the per-symbol limit and the course baseline (no levels)",
    )
    parse.add_argument(
        "--part",
        choices=("warm-up", "A", "B"),
        default="warm-up",
        help="warm-up: detectors on the plain channel (the default); A: training "
        "recipes (recipe.py) for the fixed network; B: detectors on the impaired "
        "channel",
    )
    parse.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run submissions WITHOUT isolation (only for code you trust, on a host "
        "without bubblewrap)",
    )
    return parse


def main(argv: Sequence[str] | None = None) -> int:
    """``scripts/grade-submissions FOLDER... [--seed-file F] [--out DIR] ...``."""
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    harden_grader()
    torch.set_num_threads(1)
    fresh = args.seed_file is None
    seed = secrets.randbelow(2**63) if fresh else read_seed(args.seed_file)
    missing = [str(f) for f in args.folders if not f.is_dir()]
    if missing:
        raise SystemExit(f"not a folder: {', '.join(missing)}")
    if args.no_sandbox:
        print("WARNING: --no-sandbox: submissions run with your rights, unconfined")
    try:
        grading = (
            _grade_part(args, seed) if args.part != "warm-up" else None
        ) or grade_submissions(
            args.folders,
            seed=seed,
            protocol=SMALL if args.small else FULL,
            limits=Limits(
                time_limit_s=args.time_limit, memory_limit_mb=args.memory_limit
            ),
            yardsticks=not args.no_yardsticks,
            baseline_steps=args.baseline_steps,
            jobs=args.jobs,
            isolated=not args.no_sandbox,
        )
    except SandboxUnavailable as problem:
        print(
            f"grade-submissions: no sandbox, nothing graded. {problem}", file=sys.stderr
        )
        print(
            "(--no-sandbox grades without isolation: only for code you trust.)",
            file=sys.stderr,
        )
        return 2
    csv_path, md_path = write_results(grading, args.out)
    print(grading.header())
    print(grading.table())
    print(grading.summary())
    print(
        f"written: {csv_path} and {md_path}"
        + (" (fresh seed recorded there)" if fresh else "")
    )
    return 0


def _grade_part(args: argparse.Namespace, seed: int):
    """Part A or B (:mod:`optbook.homework.part_grading`)."""
    from optbook.homework.part_grading import (
        PART_A,
        PART_A_TIME_LIMIT_S,
        PART_B,
        grade_part_a,
        grade_part_b,
    )

    # a recipe trains several networks: more time, unless --time-limit says otherwise
    default = Limits().time_limit_s == args.time_limit and args.part == "A"
    limits = Limits(
        time_limit_s=PART_A_TIME_LIMIT_S if default else args.time_limit,
        memory_limit_mb=args.memory_limit,
    )
    protocol = PART_A if args.part == "A" else PART_B
    if args.small:
        protocol = replace(protocol, target_standard_error=4e-4)
    grade_part = grade_part_a if args.part == "A" else grade_part_b
    return grade_part(
        args.folders,
        seed=seed,
        limits=limits,
        jobs=args.jobs,
        isolated=not args.no_sandbox,
        protocol=protocol,
    )


if __name__ == "__main__":
    sys.exit(main())
