"""The ``"recipe"`` task kind (Part A): train the fixed network with a student's recipe.

**Inside the sandbox** (:func:`serve`): import ``recipe.py`` from the submission, find
``make_recipe``, say ``READY``; then answer every ``TRAIN`` (``<QQQ`` init seed, data
seed, budget) with ``WEIGHTS``: ``<BI`` (diverged, updates) and the trained
:class:`~optbook.homework.recipes.FixedNetwork`'s parameters as float32, in the order of
``parameters()``. The training loop is the package's
(:func:`~optbook.homework.recipes.train_with_recipe`); the student's code runs in
``make_recipe`` and in the optimizer and scheduler it builds.

**The grader's side** (:class:`IsolatedRecipe`): one sandbox per submission, its
:meth:`~IsolatedRecipe.train` a drop-in ``trainer`` for
:func:`~optbook.homework.recipes.grade_recipe`. Only numbers of a known count come
back; the grader builds the network itself, loads them and grades it: the private
grading samples never enter the sandbox (the seeds it gets are the training runs',
derived from the private seed by a one-way hash).
"""

from __future__ import annotations

import shutil
import socket
import struct
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

RECIPE_FILE = "recipe.py"
TRAIN, WEIGHTS = b"T", b"W"
_HEADER = struct.Struct("<BI")


def parameter_count() -> int:
    from optbook.homework.recipes import FixedNetwork

    return sum(p.numel() for p in FixedNetwork().parameters())


# -- inside the sandbox ----------------------------------------------------------------


def serve(channel: socket.socket, folder: Path) -> None:
    """The ``"recipe"`` task (see the module's text)."""
    import importlib
    import sys

    import torch

    from optbook.homework.recipes import train_with_recipe
    from optbook.homework.sandbox import wire
    from optbook.homework.sandbox.inside import report

    sys.path.insert(0, str(folder))
    sys.argv = [str(folder / RECIPE_FILE)]
    try:
        module = importlib.import_module(Path(RECIPE_FILE).stem)
    except BaseException:  # noqa: BLE001 - any failure is the submission's
        report(channel, b"i", traceback.format_exc())
        return
    make_recipe = getattr(module, "make_recipe", None)
    if not callable(make_recipe):
        report(channel, b"c", f"{RECIPE_FILE} defines no function make_recipe()")
        return
    wire.send(channel, wire.READY)
    while True:
        kind, payload = wire.receive(channel)
        if kind != TRAIN:
            return
        init_seed, data_seed, budget = struct.unpack("<QQQ", payload)
        try:
            run = train_with_recipe(
                make_recipe, init_seed=init_seed, data_seed=data_seed, budget=budget
            )
        except ValueError as error:  # the recipe broke the contract
            report(channel, b"c", str(error))
            return
        except BaseException:  # noqa: BLE001
            report(channel, b"x", traceback.format_exc())
            return
        values = torch.cat(
            [p.detach().to(torch.float32).flatten() for p in run.model.parameters()]
        )
        header = _HEADER.pack(int(run.diverged), run.updates)
        wire.send(channel, WEIGHTS, header + values.numpy().tobytes())


# -- the grader's side -----------------------------------------------------------------


class IsolatedRecipe:
    """A submission's recipe in its sandbox; :meth:`train` trains one run there.

    Reuses the verdicts of :class:`~optbook.homework.sandbox.client.IsolatedDetector`
    (time, memory, crash, the submission's own reports). ``limits.time_limit_s`` covers
    every run together.
    """

    def __init__(
        self,
        folder: str | Path,
        limits: Any = None,
        *,
        isolated: bool = True,
        cpu: int | None = None,
        max_copy_mb: int = 200,
    ) -> None:
        from optbook.homework.sandbox import client, wire
        from optbook.homework.sandbox.folder import Refused, copy_submission
        from optbook.homework.sandbox.launcher import Limits, Sandbox

        self.folder = Path(folder)
        self.limits = limits if limits is not None else Limits()
        self.training_seconds = 0.0
        self._sandbox = None
        self._base = tempfile.mkdtemp(prefix="optbook-recipe-")
        self._size = parameter_count()
        try:
            if not (self.folder / RECIPE_FILE).is_file():
                raise client.SubmissionFailed(
                    "no recipe.py", f"{self.folder.name} holds no file {RECIPE_FILE}"
                )
            copy = Path(self._base) / "submission"
            try:
                copy_submission(self.folder, copy, max_copy_mb << 20)
            except Refused as refusal:
                raise client.SubmissionFailed("refused", str(refusal)) from None
            self._sandbox = Sandbox(
                "recipe", copy, self.limits, isolated=isolated, cpu=cpu
            )
            self._deadline = time.monotonic() + client.BOOT_TIMEOUT_S
            self._read({wire.BOOTED: 0}, "starting Python and torch")
            self._deadline = time.monotonic() + self.limits.time_limit_s
            self._read({wire.READY: 0}, "importing the recipe")
        except BaseException:
            self.close()
            raise

    # the verdict machinery is the detector task's
    def _read(self, expected: dict[bytes, int], doing: str) -> bytearray:
        from optbook.homework.sandbox.client import IsolatedDetector

        return IsolatedDetector._read(self, expected, doing)  # type: ignore[arg-type]

    def _reported(self, payload: bytes):
        from optbook.homework.sandbox.client import IsolatedDetector

        return IsolatedDetector._reported(self, payload)  # type: ignore[arg-type]

    def _failure(self, why, detail, *, verdict=None):
        from optbook.homework.sandbox.client import IsolatedDetector

        return IsolatedDetector._failure(self, why, detail, verdict=verdict)  # type: ignore[arg-type]

    def log_tail(self, limit: int = 4000) -> str:
        from optbook.homework.sandbox.client import clean_text

        return (
            "" if self._sandbox is None else clean_text(self._sandbox.output(), limit)
        )

    def train(self, make_recipe: Any = None, *, init_seed: int, data_seed: int,
              budget: int):  # fmt: skip
        """One training run in the sandbox; a
        :class:`~optbook.homework.recipes.RecipeRun` (``make_recipe`` is ignored: the
        sandbox has the submission's own)."""
        import torch

        from optbook.homework.recipes import FixedNetwork, RecipeRun
        from optbook.homework.sandbox import wire

        start = time.perf_counter()
        request = struct.pack("<QQQ", init_seed, data_seed, budget)
        try:
            wire.write(self._sandbox.channel, TRAIN, request, self._deadline)
        except wire.Timeout:
            raise self._failure("time", "sending the seeds") from None
        except wire.Closed:
            raise self._failure("ended", "receiving the seeds") from None
        expected = _HEADER.size + 4 * self._size
        data = self._read({WEIGHTS: expected}, "training")
        if len(data) != expected:
            from optbook.homework.sandbox.client import SubmissionFailed

            raise SubmissionFailed("protocol error", "weights of another size")
        diverged, updates = _HEADER.unpack_from(data)
        values = torch.frombuffer(data, dtype=torch.float32, offset=_HEADER.size)
        model = FixedNetwork()
        with torch.no_grad():
            torch.nn.utils.vector_to_parameters(values.clone(), model.parameters())
        diverged = bool(diverged) or not bool(torch.isfinite(values).all())
        seconds = time.perf_counter() - start
        self.training_seconds += seconds
        return RecipeRun(model.eval(), [], updates, 0, diverged, seconds)

    def __enter__(self) -> IsolatedRecipe:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        from optbook.homework.sandbox import wire

        if self._sandbox is not None and not self._sandbox.closed:
            try:
                wire.write(self._sandbox.channel, wire.STOP, b"", time.monotonic() + 1)
            except (wire.Timeout, wire.Closed, OSError):
                pass
            self._sandbox.close()
        if self._base:
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = ""
