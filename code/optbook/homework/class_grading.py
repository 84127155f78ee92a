"""Grading a class: every submission in its sandbox, one private seed, one table.

:func:`grade_submissions` draws the frames, bits and posteriors once for the seed
(:class:`~optbook.homework.grading.GradingSamples`), grades the yardsticks once, then
each folder in its own sandbox
(:class:`~optbook.homework.sandbox.client.IsolatedDetector`),
``jobs`` at a time, each pinned to its own CPU. Whatever happens while grading one
folder becomes that folder's verdict, and grading goes on: every folder given gets a
row. :func:`write_results` writes them as CSV and Markdown, as data: control characters
removed, Markdown and HTML escaped, spreadsheet formulas neutralised.
"""

from __future__ import annotations

import csv
import html
import math
import os
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from optbook.book import Table, table
from optbook.homework.channel import QAM
from optbook.homework.grading import GradeResult, GradingSamples, grade
from optbook.homework.limits import gap_db_at_ber, grade_gap_db
from optbook.homework.sandbox.client import (
    IsolatedDetector,
    SubmissionFailed,
    clean_text,
)
from optbook.homework.sandbox.launcher import (
    Limits,
    SandboxUnavailable,
    sandbox_problem,
)
from optbook.homework.symbol_detection import (
    CourseBaselineMLP,
    PerSymbolBayesDetector,
    judge,
    train_detector,
    training_batches,
)


@dataclass(frozen=True)
class Protocol:
    """What :func:`~optbook.homework.grading.grade` is asked for (not the seed)."""

    num_points: int = 81
    low_db: float = -20.0
    high_db: float = 20.0
    symbols_per_frame: int = 256
    target_standard_error: float = 1e-4

    def samples(self, seed: int) -> GradingSamples:
        return GradingSamples(
            seed,
            QAM(4),
            num_points=self.num_points,
            low_db=self.low_db,
            high_db=self.high_db,
            symbols_per_frame=self.symbols_per_frame,
        )


FULL = Protocol()
"""The homework's protocol: 81 Eb/N0 points over [-20, 20] dB, standard error 1e-4."""

SMALL = Protocol(target_standard_error=4e-4)
"""The student's check: the same 81 points, a coarser standard error (4e-4)."""


# -- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmissionResult:
    """One submission's grade and verdict (``"ok"``, or what went wrong)."""

    submission: str
    verdict: str
    ber: float = math.nan
    standard_error: float = math.nan
    gap_to_genie: float = math.nan
    gap_to_genie_standard_error: float = math.nan
    gap_to_genie_db: float = math.nan
    level: int | None = None
    inference_seconds: float = math.nan
    seconds: float = math.nan
    detail: str = ""
    log: str = field(default="", repr=False)
    grade: GradeResult | None = field(default=None, repr=False)

    def row(self) -> dict[str, Any]:
        verdict = f"{self.verdict}: {self.detail}" if self.detail else self.verdict
        return {
            "submission": clean_text(self.submission),
            "average BER": self.ber,
            "standard error": self.standard_error,
            "gap to genie (BER)": self.gap_to_genie,
            "gap to genie (dB at 1e-3)": self.gap_to_genie_db,
            "level": "" if self.level is None else self.level,
            "inference time (s)": self.inference_seconds,
            "verdict": clean_text(verdict).replace("\n", " "),
        }

    def _repr_markdown_(self) -> str:
        return markdown_table([self])

    def __str__(self) -> str:
        return str(results_table([self]))


_FORMATS = {
    "average BER": ".5f",
    "standard error": ".5f",
    "gap to genie (BER)": "+.5f",
    "gap to genie (dB at 1e-3)": "+.3f",
    "inference time (s)": ".2f",
}


def results_table(results: Iterable[SubmissionResult]) -> Table:
    """The results as a table (:func:`optbook.book.table`), control characters
    removed."""
    return table([r.row() for r in results], formats=_FORMATS)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]~])")


def markdown_text(text: str) -> str:
    """Text that Markdown and HTML show as itself (``|`` is left to the table)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def markdown_table(results: Iterable[SubmissionResult]) -> str:
    """The results as Markdown, every text cell escaped."""
    rows = [
        {k: markdown_text(v) if isinstance(v, str) else v for k, v in r.row().items()}
        for r in results
    ]
    return table(rows, formats=_FORMATS)._repr_markdown_()


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text: a string that starts like a formula (``=``,
    ``+``, ``-``, ``@``, tab, carriage return) and is not a number gets a ``'`` first
    (OWASP's advice against CSV injection)."""
    if not isinstance(value, str) or not value or value[0] not in "=+-@\t\r":
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value


@dataclass
class ClassGrading:
    """Everything :func:`grade_submissions` measured: yardsticks, results, the seed."""

    seed: int
    protocol: Protocol
    yardsticks: list[SubmissionResult]
    results: list[SubmissionResult]
    baseline_training: str
    seconds: float
    yardstick_seconds: float = 0.0

    def table(self) -> Table:
        return results_table(self.yardsticks + self.results)

    def _repr_markdown_(self) -> str:
        return (
            markdown_text(self.header())
            + "\n\n"
            + markdown_table(self.yardsticks + self.results)
        )

    def summary(self) -> str:
        """``N submissions: k graded (verdict ok), m failed``."""
        ok = sum(r.verdict == "ok" for r in self.results)
        failed = len(self.results) - ok
        return f"{len(self.results)} submissions: {ok} graded, {failed} failed"

    def header(self) -> str:
        p = self.protocol
        return (
            f"Graded {len(self.results)} submissions with seed {self.seed}: 16-QAM, "
            f"{p.num_points} Eb/N0 points over [{p.low_db:g}, {p.high_db:g}] dB, "
            f"frames of {p.symbols_per_frame} symbols, target standard error "
            f"{p.target_standard_error:g}, conditional estimator; "
            f"{self.baseline_training}; {self.seconds:.0f} s in all. {self.summary()}."
        )


def write_results(grading: ClassGrading, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``results.csv`` and ``results.md`` into ``out_dir``; return their paths.

    Both name the seed: they are written after grading, never before.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = [r.row() for r in grading.yardsticks + grading.results]
    csv_path, md_path = out / "results.csv", out / "results.md"
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
    md_path.write_text(grading._repr_markdown_() + "\n")
    return csv_path, md_path


# -- grading ---------------------------------------------------------------------------


def _result_of(name: str, result: GradeResult, **extra: Any) -> SubmissionResult:
    try:
        gap_db = grade_gap_db(result)
    except ValueError:
        gap_db = math.nan
    return SubmissionResult(
        submission=name,
        verdict=extra.pop("verdict", "ok"),
        ber=result.ber,
        standard_error=result.standard_error,
        gap_to_genie=result.gap_to_genie,
        gap_to_genie_standard_error=result.gap_to_genie_standard_error,
        gap_to_genie_db=gap_db,
        seconds=result.seconds,
        grade=result,
        **extra,
    )


def course_baseline(steps: int = 1600, seed: int = 0) -> CourseBaselineMLP:
    """The course's baseline, trained as the homework trains it, from a fixed seed.

    ``CourseBaselineMLP`` (2-32-4) initialised after ``torch.manual_seed(seed)``, SGD
    with learning rate 0.1, ``steps`` steps of 32 frames of 256 symbols from
    ``training_batches`` seeded with ``seed + 1``. It does not depend on the grading
    seed: the same network is graded with every seed.
    """
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = CourseBaselineMLP()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    train_detector(
        model, optimizer, training_batches(QAM(4), 32, 256, generator), steps
    )
    return model.eval()


def yardstick_grades(
    samples: GradingSamples, target: float, baseline_steps: int = 1600
) -> dict[str, GradeResult]:
    """The per-symbol limit and the course baseline, graded on ``samples``: what
    :func:`~optbook.homework.symbol_detection.judge` needs for a level."""
    return {
        "per-symbol limit": grade(
            PerSymbolBayesDetector(), samples=samples, target_standard_error=target
        ),
        "course baseline": grade(
            course_baseline(baseline_steps),
            samples=samples,
            target_standard_error=target,
        ),
    }


def grade_one(
    folder: Path,
    samples: GradingSamples,
    protocol: Protocol,
    limits: Limits,
    yardsticks: dict[str, GradeResult],
    *,
    isolated: bool = True,
    cpu: int | None = None,
) -> SubmissionResult:
    """One folder's row; never raises (a failure of the grader itself is a verdict
    too, ``"grader error"``)."""
    start = time.perf_counter()
    try:
        return _grade(folder, samples, protocol, limits, yardsticks, isolated, cpu)
    except SubmissionFailed as failure:
        verdict, detail, log = failure.verdict, failure.detail, failure.log
    except (ValueError, TypeError) as error:  # the grader refused the output
        text = str(error)
        verdict = "NaN logits" if "NaN" in text else "wrong output"
        detail, log = text, ""
    except SandboxUnavailable:
        raise
    except Exception as error:  # noqa: BLE001 - recorded, and the class goes on
        verdict, detail, log = "grader error", f"{type(error).__name__}: {error}", ""
    return SubmissionResult(
        submission=folder.name,
        verdict=verdict,
        detail=clean_text(detail, 300),
        seconds=time.perf_counter() - start,
        log=log,
    )


def _grade(folder, samples, protocol, limits, yardsticks, isolated, cpu):
    with IsolatedDetector(folder, limits, isolated=isolated, cpu=cpu) as detector:
        try:
            result = grade(
                detector,
                samples=samples,
                target_standard_error=protocol.target_standard_error,
            )
        except (ValueError, TypeError) as error:
            text = str(error)
            raise SubmissionFailed(
                "NaN logits" if "NaN" in text else "wrong output",
                text,
                detector.log_tail(),
            ) from None
        level = None
        if {"course baseline", "per-symbol limit"} <= set(yardsticks):
            level = judge(
                result,
                course_baseline=yardsticks["course baseline"],
                per_symbol_limit=yardsticks["per-symbol limit"],
            ).level
        return _result_of(
            folder.name,
            result,
            level=level,
            inference_seconds=detector.inference_seconds,
            log=detector.log_tail(),
        )


def grade_submissions(
    folders: Sequence[str | Path],
    *,
    seed: int,
    protocol: Protocol = FULL,
    limits: Limits | None = None,
    yardsticks: bool = True,
    baseline_steps: int = 1600,
    jobs: int = 1,
    isolated: bool = True,
) -> ClassGrading:
    """Grade submission folders with one seed; return a :class:`ClassGrading`.

    The frames, the bits, the genie's posteriors and the scores of the nearest-point and
    genie MAP detectors are drawn once for ``seed`` (:class:`GradingSamples`) and shared
    by every submission; so are the per-symbol limit and the course baseline (trained
    once from a fixed seed, :func:`course_baseline`, then graded with ``seed``), when
    ``yardsticks`` is true. Each submission runs in its own sandbox
    (:class:`IsolatedDetector`; ``isolated=False``: a plain process, no isolation);
    whatever goes wrong becomes its verdict and the others go on: every folder gets a
    row, in the order given. ``jobs`` submissions run at a time, each on its own CPU.
    Raises :class:`SandboxUnavailable` (with what to do) when ``isolated`` and this
    host cannot sandbox.
    """
    start = time.perf_counter()
    if isolated and folders:
        problem = sandbox_problem()
        if problem:
            raise SandboxUnavailable(problem)
    harden_grader()  # this process holds the seed and the bits from here on
    limits = limits if limits is not None else Limits()
    samples = protocol.samples(seed)
    target = protocol.target_standard_error
    references = yardstick_grades(samples, target, baseline_steps) if yardsticks else {}
    training = (
        f"course baseline trained once from the fixed seed 0 ({baseline_steps} SGD "
        f"steps), graded with this seed"
        if yardsticks
        else "no course baseline"
    )
    rows = _reference_rows(samples, references) if (references or folders) else []
    yardstick_seconds = time.perf_counter() - start
    folders = [Path(f) for f in folders]
    results = _grade_all(folders, samples, protocol, limits, references, jobs, isolated)
    return ClassGrading(
        seed=seed,
        protocol=protocol,
        yardsticks=rows,
        results=results,
        baseline_training=training,
        seconds=time.perf_counter() - start,
        yardstick_seconds=yardstick_seconds,
    )


def _grade_all(folders, samples, protocol, limits, references, jobs, isolated):
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
            results[index] = grade_one(
                folder,
                samples,
                protocol,
                limits,
                references,
                isolated=isolated,
                cpu=cpu,
            )

    threads = [
        threading.Thread(target=worker, args=(slot,), daemon=True)
        for slot in range(max(1, int(jobs)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [
        r
        if r is not None
        else SubmissionResult(f.name, "grader error", detail="not graded")
        for r, f in zip(results, folders, strict=True)
    ]


def _reference_rows(
    samples: GradingSamples, references: dict[str, GradeResult]
) -> list[SubmissionResult]:
    """The nearest-point and genie MAP rows (read off any grade), then the others."""
    any_grade = references.get("per-symbol limit")
    if any_grade is None:
        any_grade = grade(
            lambda received: torch.zeros(*received.shape, 4),
            samples=samples,
            target_standard_error=1.0,
        )
    rows = [
        replace(
            _result_of("(nearest point)", any_grade),
            ber=any_grade.nearest_point_ber,
            standard_error=any_grade.nearest_point_standard_error,
            gap_to_genie=any_grade.nearest_point_ber - any_grade.genie_map_ber,
            gap_to_genie_db=_nearest_gap_db(any_grade),
            grade=None,
        ),
        replace(
            _result_of("(genie MAP)", any_grade),
            ber=any_grade.genie_map_ber,
            standard_error=any_grade.genie_map_standard_error,
            gap_to_genie=0.0,
            gap_to_genie_db=0.0,
            grade=None,
        ),
    ]
    return rows + [_result_of(f"({name})", r) for name, r in references.items()]


def _nearest_gap_db(result: GradeResult) -> float:
    ebn0 = [r.ebn0_db for r in result.rows]
    try:
        return gap_db_at_ber(
            ebn0,
            [r.nearest_point_ber for r in result.rows],
            [r.genie_map_ber for r in result.rows],
        )
    except ValueError:
        return math.nan


def harden_grader() -> None:
    """Make this process non-dumpable: same-user processes cannot read its memory.

    With ``PR_SET_DUMPABLE = 0``, ``/proc/<pid>/mem``, ``environ`` and ``ptrace`` of the
    grader are closed to every process of the same user that lacks ``CAP_SYS_PTRACE``.
    (The sandboxes cannot even see it: they live in pid namespaces of their own.)
    """
    import ctypes

    if os.uname().sysname == "Linux":
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
