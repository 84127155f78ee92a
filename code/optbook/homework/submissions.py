"""Homework submissions: the contract, writing one, checking it as the grader will.

**The contract.** A submission is a folder holding ``detector.py``, which defines
``make_detector()``. It returns the detector: a callable (usually an ``nn.Module``) that
takes received samples, complex64 ``[frames, symbols]``, and returns bit logits
``[frames, symbols, 4]`` (``logit > 0`` means bit 1). It loads any weight files from its
own folder (``Path(__file__).with_name("weights.pt")``), on the CPU. Nothing else is
given to it: never the bits, never N0, never the grading seed. :data:`DETECTOR_TEMPLATE`
shows the pattern; :func:`write_submission` writes such a folder from a notebook and
:func:`check_submission` grades it the way the instructor will, with the student's own
seed.

**Where the rest lives.** Grading a class: :mod:`optbook.homework.class_grading`
(:func:`grade_submissions`, the command ``scripts/grade-submissions``:
:mod:`optbook.homework.grade_cli`). The sandbox each submission runs in:
:mod:`optbook.homework.sandbox`. This module re-exports their public names.
"""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path

import torch
from torch import Tensor

from optbook.homework.class_grading import (
    FULL,
    SMALL,
    ClassGrading,
    Protocol,
    SubmissionResult,
    course_baseline,
    grade_one,
    grade_submissions,
    harden_grader,
    results_table,
    write_results,
    yardstick_grades,
)
from optbook.homework.grade_cli import main, read_seed
from optbook.homework.sandbox.client import IsolatedDetector, SubmissionFailed
from optbook.homework.sandbox.inside import DETECTOR_FILE
from optbook.homework.sandbox.launcher import (
    FRESH_UID_BASE,
    Limits,
    SandboxUnavailable,
    sandbox_problem,
)

__all__ = [
    "DETECTOR_FILE",
    "DETECTOR_TEMPLATE",
    "FRESH_UID_BASE",
    "FULL",
    "SMALL",
    "ClassGrading",
    "IsolatedDetector",
    "Limits",
    "Protocol",
    "SandboxUnavailable",
    "SubmissionFailed",
    "SubmissionResult",
    "check_submission",
    "course_baseline",
    "grade_submissions",
    "harden_grader",
    "main",
    "read_seed",
    "results_table",
    "sandbox_problem",
    "write_results",
    "write_submission",
]

_read_seed = read_seed  # the name the tests of main used

DETECTOR_TEMPLATE = '''\
"""My homework submission: make_detector() returns my detector."""

from pathlib import Path

import torch
from torch import nn


class MyDetector(nn.Module):
    """Received samples, complex [frames, symbols] -> logits [frames, symbols, 4]."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 4))

    def forward(self, received):
        return self.net(torch.view_as_real(received))


def make_detector():
    model = MyDetector()
    weights = Path(__file__).with_name("weights.pt")
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model
'''
"""The pattern of a submission's ``detector.py``: the model's code, ``make_detector()``
that builds it and loads its weights from the submission's own folder."""


def write_submission(
    folder: str | Path,
    detector_source: str,
    state_dict: dict[str, Tensor] | None = None,
    *,
    weights_name: str = "weights.pt",
) -> Path:
    """Write a submission folder: ``detector.py`` (and ``weights.pt``); return the
    folder.

    ``detector_source`` is the text of ``detector.py``: the model's code and a function
    ``make_detector()`` that builds it and loads its weights from its own folder, as in
    :data:`DETECTOR_TEMPLATE`. ``state_dict`` (e.g. ``model.state_dict()``) is saved, on
    the CPU, as ``weights_name`` beside it. The source is compiled here, so a syntax
    error shows at once; :func:`check_submission` then runs it as the grader will.
    """
    source = textwrap.dedent(detector_source).strip() + "\n"
    compile(source, DETECTOR_FILE, "exec")
    if "def make_detector(" not in source:
        raise ValueError(
            "detector_source must define make_detector(), the function that returns "
            "your "
            "detector (see optbook.homework.submissions.DETECTOR_TEMPLATE)"
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / DETECTOR_FILE).write_text(source)
    if state_dict is not None:
        weights = {k: v.detach().to("cpu") for k, v in state_dict.items()}
        torch.save(weights, folder / weights_name)
    return folder


def check_submission(
    folder: str | Path,
    *,
    seed: int,
    small: bool = True,
    limits: Limits | None = None,
    level: bool = True,
) -> SubmissionResult:
    """Grade one submission folder as the grading tool does, with your own seed.

    The instructor's run in small: the folder is copied to a temporary folder and its
    ``detector.py`` runs there, in the same sandbox as the instructor's (so weights
    loaded from a path outside the folder fail here as they would fail the grade),
    started with :mod:`subprocess` (safe from scripts and notebooks: no ``if __name__
    == "__main__":`` needed). The grid is the homework's 81 Eb/N0 points;
    ``small=True`` grades to the coarser standard error of :data:`SMALL`,
    ``small=False`` to the homework's :data:`FULL` one. ``level=True`` grades the
    per-symbol limit and the course baseline with the same seed and fills in the
    rubric's level.

    Where bubblewrap cannot run (macOS, Colab, a host without user namespaces) the
    check runs without the sandbox and its ``detail`` says so: then files outside the
    folder were not hidden from it.
    """
    protocol = SMALL if small else FULL
    samples = protocol.samples(seed)
    problem = sandbox_problem()
    references = (
        yardstick_grades(samples, protocol.target_standard_error) if level else {}
    )
    result = grade_one(
        Path(folder),
        samples,
        protocol,
        limits or Limits(),
        references,
        isolated=problem is None,
    )
    if problem is not None:
        note = "checked without the sandbox (files outside the folder were not hidden)"
        result = replace(result, detail=f"{result.detail}; {note}".lstrip("; "))
    return result
