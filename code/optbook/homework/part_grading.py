"""Grading a class on Part A (training recipes) and Part B (the impaired channel).

The warm-up (the plain channel's detectors) is graded by
:func:`optbook.homework.class_grading.grade_submissions`; this module grades the two
marked parts the same way, one sandbox per submission, one private seed for all, and
returns the same :class:`~optbook.homework.class_grading.ClassGrading` (its table's
``level`` column is the rung reached, the verdict column says the points):

- :func:`grade_part_a`: each folder holds ``recipe.py``; the fixed network is trained
  with it inside the sandbox (:class:`~optbook.homework.sandbox.recipe_task.
  IsolatedRecipe`) from :data:`~optbook.homework.recipes.SEEDS` private seeds, and
  every trained network is graded here, on the plain channel's samples. Yardsticks:
  the course recipe, the tuned Adam (both trained from the same seeds) and the genie.
- :func:`grade_part_b`: each folder holds ``detector.py`` (the warm-up's contract);
  it is graded on :class:`~optbook.homework.impairments.ImpairedGradingSamples`.
  Yardsticks: the nearest-point detector, the classical blind estimator + MAP, the
  genie that knows the impairments.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from optbook.homework.class_grading import (
    ClassGrading,
    Protocol,
    SubmissionResult,
    _result_of,
    grade_one,
    harden_grader,
)
from optbook.homework.grading import GradingSamples, grade
from optbook.homework.impairments import BlindMapDetector, ImpairedGradingSamples
from optbook.homework.marking import mark_part_a, mark_part_b
from optbook.homework.recipes import (
    BUDGET,
    COURSE_RECIPE,
    SEEDS,
    TUNED_ADAM,
    RecipeGrade,
    grade_recipe,
)
from optbook.homework.sandbox.client import SubmissionFailed, clean_text
from optbook.homework.sandbox.launcher import (
    Limits,
    SandboxUnavailable,
    sandbox_problem,
)

__all__ = ["PART_A", "PART_B", "grade_part_a", "grade_part_b"]

PART_A = Protocol(target_standard_error=2e-4)
"""Part A grades every trained network on the plain channel's 81 points at standard
error 2e-4 (the spread over seeds is larger)."""
PART_B = Protocol(target_standard_error=2e-4)
"""Part B: the impaired channel's 81 points, standard error 2e-4."""
PART_A_TIME_LIMIT_S = 300.0
"""A recipe's sandbox may train for this long in all (every run together)."""


def _pool(folders: Sequence[Path], grade_folder: Callable, jobs: int) -> list:
    """Every folder's row, in order, ``jobs`` at a time, each job on its own CPU."""
    results: list[SubmissionResult | None] = [None] * len(folders)
    queue = list(enumerate(folders))
    lock = threading.Lock()
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []

    def worker(slot: int) -> None:
        cpu = cpus[slot % len(cpus)] if cpus else None
        while True:
            with lock:
                if not queue:
                    return
                index, folder = queue.pop(0)
            results[index] = grade_folder(folder, cpu)

    threads = [
        threading.Thread(target=worker, args=(slot,), daemon=True)
        for slot in range(max(1, int(jobs)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [
        r if r is not None else SubmissionResult(f.name, "grader error", detail="lost")
        for r, f in zip(results, folders, strict=True)
    ]


def _recipe_row(name: str, result: RecipeGrade, **extra) -> SubmissionResult:
    runs = ", ".join(f"{b:.5f}" for b in result.bers)
    detail = f"spread {result.spread:.5f} over {len(result.bers)} runs ({runs})"
    if any(result.diverged):
        detail += f"; {sum(result.diverged)} diverged (scored 0.5)"
    extra_detail = extra.pop("detail", "")
    return SubmissionResult(
        submission=name,
        verdict=extra.pop("verdict", "ok"),
        ber=result.ber,
        standard_error=result.standard_error,
        gap_to_genie=result.ber - result.genie_map_ber,
        seconds=result.seconds,
        detail=f"{extra_detail}; {detail}" if extra_detail else detail,
        **extra,
    )


def grade_part_a(
    folders: Sequence[str | Path],
    *,
    seed: int,
    limits: Limits | None = None,
    runs: int = SEEDS,
    jobs: int = 1,
    isolated: bool = True,
    protocol: Protocol = PART_A,
    budget: int = BUDGET,
) -> ClassGrading:
    """Grade recipe folders (``recipe.py`` with ``make_recipe``) with one seed.

    ``budget`` (training symbols per run) is :data:`~optbook.homework.recipes.BUDGET`
    but in tests."""
    from optbook.homework.sandbox.recipe_task import IsolatedRecipe

    start = time.perf_counter()
    if isolated and folders:
        problem = sandbox_problem()
        if problem:
            raise SandboxUnavailable(problem)
    harden_grader()
    limits = limits if limits is not None else Limits(time_limit_s=PART_A_TIME_LIMIT_S)
    samples = protocol.samples(seed)
    target = protocol.target_standard_error

    def recipe_grade(make, trainer=None) -> RecipeGrade:
        return grade_recipe(
            make,
            seed=seed,
            runs=runs,
            samples=samples,
            budget=budget,
            target_standard_error=target,
            trainer=trainer,
        )

    course = recipe_grade(COURSE_RECIPE)
    adam = recipe_grade(TUNED_ADAM)
    genie = adam.genie_map_ber

    def mark(result: RecipeGrade):
        return mark_part_a(
            result.ber,
            result.standard_error,
            course=course.ber,
            tuned_adam=adam.ber,
            tuned_adam_standard_error=adam.standard_error,
            genie=genie,
        )

    rows = [
        _recipe_row("(course recipe: SGD 0.1)", course),
        _recipe_row("(tuned Adam)", adam, level=mark(adam).rung),
        SubmissionResult("(genie MAP: the limit)", "ok", ber=genie, gap_to_genie=0.0),
    ]
    yardstick_seconds = time.perf_counter() - start

    def grade_folder(folder: Path, cpu: int | None) -> SubmissionResult:
        begin = time.perf_counter()
        try:
            with IsolatedRecipe(folder, limits, isolated=isolated, cpu=cpu) as recipe:
                result = recipe_grade(None, trainer=recipe.train)
                marked = mark(result)
                return replace(
                    _recipe_row(folder.name, result, detail=f"{marked.points} points"),
                    level=marked.rung,
                    inference_seconds=recipe.training_seconds,
                    log=recipe.log_tail(),
                )
        except SubmissionFailed as failure:
            verdict, detail, log = failure.verdict, failure.detail, failure.log
        except SandboxUnavailable:
            raise
        except Exception as error:  # noqa: BLE001 - recorded, the class goes on
            verdict, detail, log = (
                "grader error",
                f"{type(error).__name__}: {error}",
                "",
            )
        return SubmissionResult(
            folder.name,
            verdict,
            detail=clean_text(detail, 300),
            seconds=time.perf_counter() - begin,
            log=log,
        )

    results = _pool([Path(f) for f in folders], grade_folder, jobs)
    return ClassGrading(
        seed=seed,
        protocol=protocol,
        yardsticks=rows,
        results=results,
        baseline_training=(
            f"Part A: the fixed network trained with each recipe from {runs} private "
            "seeds, mean BER and spread ('inference time' column: training seconds; "
            "level: rung of the marking)"
        ),
        seconds=time.perf_counter() - start,
        yardstick_seconds=yardstick_seconds,
    )


class _ImpairedProtocol(Protocol):
    def samples(self, seed: int) -> GradingSamples:  # type: ignore[override]
        return ImpairedGradingSamples(
            seed,
            num_points=self.num_points,
            low_db=self.low_db,
            high_db=self.high_db,
            symbols_per_frame=self.symbols_per_frame,
        )


def grade_part_b(
    folders: Sequence[str | Path],
    *,
    seed: int,
    limits: Limits | None = None,
    jobs: int = 1,
    isolated: bool = True,
    protocol: Protocol = PART_B,
) -> ClassGrading:
    """Grade detector folders on the impaired channel with one seed."""
    start = time.perf_counter()
    if isolated and folders:
        problem = sandbox_problem()
        if problem:
            raise SandboxUnavailable(problem)
    harden_grader()
    limits = limits if limits is not None else Limits()
    impaired = _ImpairedProtocol(
        protocol.num_points,
        protocol.low_db,
        protocol.high_db,
        protocol.symbols_per_frame,
        protocol.target_standard_error,
    )
    samples = impaired.samples(seed)
    target = protocol.target_standard_error
    classical = grade(BlindMapDetector(), samples=samples, target_standard_error=target)
    nearest, genie = classical.nearest_point_ber, classical.genie_map_ber

    def mark(ber: float, gap_error: float):
        return mark_part_b(
            ber, gap_error, nearest_point=nearest, classical=classical.ber, genie=genie
        )

    rows = [
        replace(
            _result_of("(nearest point)", classical),
            ber=nearest,
            standard_error=classical.nearest_point_standard_error,
            gap_to_genie=nearest - genie,
            gap_to_genie_db=math.nan,
            grade=None,
        ),
        _result_of(
            "(classical: blind correction + MAP)",
            classical,
            level=mark(classical.ber, classical.gap_to_genie_standard_error).rung,
        ),  # fmt: skip
        replace(
            _result_of("(genie MAP: knows the impairments)", classical),
            ber=genie,
            standard_error=classical.genie_map_standard_error,
            gap_to_genie=0.0,
            gap_to_genie_db=0.0,
            grade=None,
        ),
    ]
    yardstick_seconds = time.perf_counter() - start

    def grade_folder(folder: Path, cpu: int | None) -> SubmissionResult:
        row = grade_one(
            folder, samples, impaired, limits, {}, isolated=isolated, cpu=cpu
        )
        if row.verdict != "ok" or row.grade is None:
            return row
        marked = mark(row.ber, row.grade.gap_to_genie_standard_error)
        return replace(row, level=marked.rung, detail=f"{marked.points} points")

    results = _pool([Path(f) for f in folders], grade_folder, jobs)
    return ClassGrading(
        seed=seed,
        protocol=protocol,
        yardsticks=rows,
        results=results,
        baseline_training=(
            "Part B: the impaired channel (per-frame IQ imbalance, amplifier "
            "compression, phase offset); level: rung of the marking"
        ),
        seconds=time.perf_counter() - start,
        yardstick_seconds=yardstick_seconds,
    )
