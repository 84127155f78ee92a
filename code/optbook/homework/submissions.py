"""Homework submissions: the contract, an isolated runner, and grading a whole class.

**The contract.** A submission is a folder holding ``detector.py``, which defines
``make_detector()``. It returns the detector: a callable (usually an ``nn.Module``) that
takes received samples, complex64 ``[frames, symbols]``, and returns bit logits
``[frames, symbols, 4]`` (``logit > 0`` means bit 1). It loads any weight files from its
own folder (``Path(__file__).with_name("weights.pt")``), on the CPU. Nothing else is
given to it: never the bits, never N0, never the grading seed. :data:`DETECTOR_TEMPLATE`
shows the pattern; :func:`write_submission` writes such a folder from a notebook and
:func:`check_submission` grades it the way the instructor will, on a small protocol with
the student's own seed.

**Isolation.** Each submission runs in its own process, forked from a fresh server
process that holds no secret (``multiprocessing``'s forkserver, with a scrubbed
environment), in its own temporary working directory holding a copy of the submission,
with a time limit, an address-space (memory) limit, one thread, and, when the grader
runs as root, under a fresh unprivileged user id of its own in a network namespace of
its own (no network). It talks to the grader through a pipe that carries raw bytes
only (no pickle): received samples in, logits out. The grader draws the frames, keeps
the bits and the posteriors, and scores. See ``instructor/README.md`` for what this
does and does not protect against.

**Grading a class**: :func:`grade_submissions` (the command
``scripts/grade-submissions`` wraps it) grades any number of folders with one private
seed; the yardsticks (nearest point, genie MAP, per-symbol limit, the course baseline)
are computed once per seed.
"""

from __future__ import annotations

import csv
import ctypes
import json
import math
import multiprocessing
import os
import resource
import secrets
import shutil
import signal
import struct
import sys
import tempfile
import textwrap
import threading
import time
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from optbook.book import Table, table
from optbook.homework.channel import QAM
from optbook.homework.grading import GradeResult, GradingSamples, grade
from optbook.homework.limits import grade_gap_db
from optbook.homework.symbol_detection import (
    CourseBaselineMLP,
    PerSymbolBayesDetector,
    judge,
    train_detector,
    training_batches,
)

__all__ = [
    "DETECTOR_FILE",
    "DETECTOR_TEMPLATE",
    "FULL",
    "SMALL",
    "ClassGrading",
    "IsolatedDetector",
    "Limits",
    "Protocol",
    "SubmissionFailed",
    "SubmissionResult",
    "check_submission",
    "course_baseline",
    "grade_submissions",
    "results_table",
    "write_results",
    "write_submission",
]

DETECTOR_FILE = "detector.py"

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


# -- the protocol and the limits -------------------------------------------------------


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

SMALL = Protocol(num_points=21, target_standard_error=5e-4)
"""A quick protocol for checking a submission: 21 points, standard error 5e-4."""


@dataclass(frozen=True)
class Limits:
    """Resources of one submission's process.

    ``time_limit_s``: wall-clock seconds for everything (start, ``make_detector()``,
    every call). ``memory_limit_mb``: the process's address space (``RLIMIT_AS``;
    importing torch alone takes about 0.7 GB of it). ``threads``: torch's CPU threads.
    ``user``: the account a child runs as when the grader runs as root; ``None`` (the
    default) gives every child a fresh user id of its own, which no account and no
    other child has (from :data:`FRESH_UID_BASE` up), so that children cannot signal,
    trace or read one another, and whatever a child leaves running is killed.
    """

    time_limit_s: float = 120.0
    memory_limit_mb: int = 4096
    threads: int = 1
    user: str | None = None


FRESH_UID_BASE = 2_000_000_000
"""The first of the fresh user (and group) ids given to submissions as root."""


class SubmissionFailed(Exception):
    """A submission broke the contract or a limit; ``verdict`` says which, in words."""

    def __init__(self, verdict: str, detail: str = "") -> None:
        super().__init__(f"{verdict}: {detail}" if detail else verdict)
        self.verdict = verdict
        self.detail = detail
        self.log = ""  # what the submission printed before it failed


# -- the child's side ------------------------------------------------------------------

_CHILD_ENVIRONMENT = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
}
_CLONE_NEWNET = 0x40000000
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_DUMPABLE = 4


def _child_main(
    connection: Any, workdir: str, limits: Limits, drop_to: tuple[int, int] | None
) -> None:
    """Run one submission: isolate, import it, answer detector calls until told to stop.

    Messages are raw bytes. From the grader: ``struct("<II") frames, symbols`` followed
    by the complex64 samples (``frames == 0``: stop). To the grader: ``b"R"`` (ready),
    ``b"L" + struct("<III") shape + float32 logits``, or ``b"E" + JSON {kind,
    message}``.
    """
    log = os.open(os.path.join(workdir, "output.log"), os.O_WRONLY | os.O_CREAT, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    os.environ.clear()
    os.environ.update(_CHILD_ENVIRONMENT, HOME=workdir, TMPDIR=workdir)
    _isolate(workdir, limits, drop_to)
    torch.set_num_threads(limits.threads)

    def fail(kind: str, message: str) -> None:
        payload = json.dumps({"kind": kind, "message": message[-4000:]})
        connection.send_bytes(b"E" + payload.encode())

    try:
        sys.path.insert(0, workdir)
        sys.argv = [os.path.join(workdir, DETECTOR_FILE)]
        import importlib

        module = importlib.import_module("detector")
    except BaseException as error:  # noqa: BLE001 - any failure is the submission's
        fail(_kind_of(error, "import"), traceback.format_exc())
        return
    make = getattr(module, "make_detector", None)
    if not callable(make):
        fail("contract", f"{DETECTOR_FILE} defines no function make_detector()")
        return
    try:
        detector = make()
        if isinstance(detector, torch.nn.Module):
            detector.eval()
        if not callable(detector):
            fail(
                "contract",
                f"make_detector() returned {type(detector).__name__}, "
                f"which cannot be called on received samples",
            )
            return
    except BaseException as error:  # noqa: BLE001
        fail(_kind_of(error, "make_detector"), traceback.format_exc())
        return
    connection.send_bytes(b"R")
    while True:
        request = connection.recv_bytes()
        frames, symbols = struct.unpack("<II", request[:8])
        if frames == 0:
            return
        received = torch.frombuffer(bytearray(request[8:]), dtype=torch.complex64)
        received = received.view(frames, symbols)
        try:
            with torch.no_grad():
                logits = detector(received)
            if not isinstance(logits, Tensor):
                fail(
                    "output",
                    f"the detector returned {type(logits).__name__}, "
                    f"not a torch.Tensor of bit logits",
                )
                return
            shape = tuple(logits.shape)
            if len(shape) != 3:
                fail(
                    "shape",
                    f"the detector returned logits of shape {list(shape)} "
                    f"for samples of shape {[frames, symbols]}",
                )
                return
            values = logits.detach().to("cpu", torch.float32).contiguous()
        except BaseException as error:  # noqa: BLE001
            fail(_kind_of(error, "crash"), traceback.format_exc())
            return
        header = b"L" + struct.pack("<III", *shape)
        connection.send_bytes(header + values.numpy().tobytes())


def _kind_of(error: BaseException, default: str) -> str:
    """``"memory"`` for an allocation failure, else ``default``."""
    text = str(error)
    if isinstance(error, MemoryError) or "can't allocate memory" in text:
        return "memory"
    return default


def _isolate(workdir: str, limits: Limits, drop_to: tuple[int, int] | None) -> None:
    """Limits, and (as root) no network and an unprivileged user, in the child."""
    memory = int(limits.memory_limit_mb) << 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(math.ceil(limits.time_limit_s)) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 20, 256 << 20))
    os.chdir(workdir)
    libc = ctypes.CDLL(None, use_errno=True)
    if drop_to is not None:
        libc.unshare(
            _CLONE_NEWNET
        )  # best effort: a network namespace with no interface
        uid, gid = drop_to
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if drop_to is None:
        # same user as the grader: the forkserver is non-dumpable, this process holds
        # no secret and may read its own /proc files. (After setuid the process stays
        # non-dumpable: no other process of its user may trace it.)
        libc.prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)


# -- the grader's side -----------------------------------------------------------------

_CONTEXT_LOCK = threading.Lock()
_CONTEXT: Any = None


def _forkserver() -> Any:
    """The forkserver context, started once with a scrubbed environment and torch
    loaded.

    The server is a fresh process (not a fork of the grader): it never holds the seed,
    the bits or anything else the grader computed. Every submission is forked from it.
    """
    global _CONTEXT
    with _CONTEXT_LOCK:
        if _CONTEXT is None:
            context = multiprocessing.get_context("forkserver")
            preload = [
                "optbook.homework._nondumpable",
                "torch",
                "numpy",
                "optbook.homework.submissions",
            ]
            if os.geteuid() == 0:  # children run as nobody: give them the stdlib
                preload.append("optbook.homework._stdlib_preload")
            context.set_forkserver_preload(preload)
            saved = dict(os.environ)
            try:
                os.environ.clear()
                os.environ.update(_CHILD_ENVIRONMENT, HOME="/nonexistent")
                # Python 3.11's forkserver ignores the sys.path it is given: pass ours
                os.environ["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
                from multiprocessing import forkserver

                forkserver.ensure_running()
            finally:
                os.environ.clear()
                os.environ.update(saved)
            # the server imports its preloads before it forks anything: wait for that
            # here, so that no submission's clock pays for it
            warm_up = context.Process(target=_nothing)
            warm_up.start()
            warm_up.join()
            _CONTEXT = context
        return _CONTEXT


def _nothing() -> None:
    """The forkserver's warm-up child."""


_FRESH_LOCK = threading.Lock()
_FRESH_COUNT = [0]


def _unprivileged_ids(user: str | None) -> tuple[int, int] | None:
    """``(uid, gid)`` for a child when the grader runs as root, else ``None``.

    ``user=None``: a fresh id (from :data:`FRESH_UID_BASE`, one per child of this
    process); else the ids of that account.
    """
    if os.geteuid() != 0:
        return None
    if user is None:
        with _FRESH_LOCK:
            _FRESH_COUNT[0] += 1
            fresh = FRESH_UID_BASE + (os.getpid() % 10_000) * 10_000 + _FRESH_COUNT[0]
        return fresh, fresh
    import pwd

    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def _kill_everything_of(ids: tuple[int, int]) -> None:
    """In a helper child: become ``ids`` and kill every process of that user."""
    os.setgroups([])
    os.setgid(ids[1])
    os.setuid(ids[0])
    try:
        os.kill(-1, signal.SIGKILL)  # every process this user may signal, not itself
    except ProcessLookupError:
        pass


class IsolatedDetector:
    """A submission's detector, run in an isolated process; call it like a detector.

    ``IsolatedDetector(folder, limits)`` copies the folder into a fresh temporary
    working directory (symbolic links are copied as links, never followed by the
    grader), forks the child (:func:`_child_main`), waits for ``make_detector()``, and
    then forwards every call: received samples out, logits back. Any failure raises
    :class:`SubmissionFailed` with a verdict. Use it as a context manager, or call
    :meth:`close`.
    """

    def __init__(
        self,
        folder: str | Path,
        limits: Limits | None = None,
        *,
        max_copy_mb: int = 200,
    ) -> None:
        self.folder = Path(folder)
        self.limits = limits if limits is not None else Limits()
        self.inference_seconds = 0.0
        if not (self.folder / DETECTOR_FILE).is_file():
            raise SubmissionFailed(
                "no detector.py", f"{self.folder} holds no file {DETECTOR_FILE}"
            )
        size = sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())
        if size > max_copy_mb << 20:
            raise SubmissionFailed(
                "too large", f"{size >> 20} MB, more than the {max_copy_mb} MB allowed"
            )
        drop_to = _unprivileged_ids(self.limits.user)
        self._ids = drop_to
        self._process: Any = None
        self.workdir = ""
        self._base = tempfile.mkdtemp(prefix="optbook-submission-")
        try:
            self._start(drop_to)
        except SubmissionFailed as failure:
            failure.log = self.log_tail()
            self.close()
            raise
        except BaseException:
            self.close()  # never leave a working directory or a child behind
            raise

    def _start(self, drop_to: tuple[int, int] | None) -> None:
        """Copy the folder, fork the child, wait until ``make_detector()`` returned."""
        os.chmod(self._base, 0o711)  # others may enter it, not list it
        # a name no other process can guess: the parent cannot be listed
        self.workdir = os.path.join(self._base, secrets.token_hex(16))
        shutil.copytree(self.folder, self.workdir, symlinks=True)
        if drop_to is not None:
            for root, dirs, files in os.walk(self.workdir):
                for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                    os.lchown(name, *drop_to)
        os.chmod(self.workdir, 0o700)
        context = _forkserver()
        # the clock starts now: the shared server's start-up is not the submission's
        self._deadline = time.monotonic() + self.limits.time_limit_s
        self._connection, child_end = context.Pipe(duplex=True)
        self._process = context.Process(
            target=_child_main,
            args=(child_end, self.workdir, self.limits, drop_to),
            daemon=True,
        )
        self._process.start()
        child_end.close()
        reply = self._receive("starting the detector")
        if reply[:1] != b"R":
            raise SubmissionFailed("protocol", "the child did not report ready")

    def __enter__(self) -> IsolatedDetector:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __call__(self, received: Tensor) -> Tensor:
        received = received.detach().to("cpu", torch.complex64).contiguous()
        frames, symbols = received.shape
        request = struct.pack("<II", frames, symbols) + received.numpy().tobytes()
        start = time.perf_counter()
        self._send(request)
        reply = self._receive("running the detector")
        self.inference_seconds += time.perf_counter() - start
        if reply[:1] != b"L":
            raise SubmissionFailed("protocol", "unexpected message from the child")
        shape = struct.unpack("<III", reply[1:13])
        data = reply[13:]
        if len(data) != 4 * math.prod(shape):
            raise SubmissionFailed(
                "protocol", "the logits' size does not match their shape"
            )
        if shape != (frames, symbols, 4):
            raise SubmissionFailed(
                "wrong shape",
                f"the detector returned logits of shape {list(shape)} for samples of "
                f"shape {[frames, symbols]}; expected {[frames, symbols, 4]}",
            )
        return torch.frombuffer(bytearray(data), dtype=torch.float32).view(shape)

    def _remaining(self) -> float:
        return self._deadline - time.monotonic()

    def _time_out(self) -> SubmissionFailed:
        self._kill()
        return SubmissionFailed(
            "time limit exceeded",
            f"more than {self.limits.time_limit_s:g} s in all (start and every call)",
        )

    def _send(self, payload: bytes) -> None:
        """Send from a helper thread: a child that stops reading cannot hang us."""
        errors: list[BaseException] = []

        def send() -> None:
            try:
                self._connection.send_bytes(payload)
            except BaseException as error:  # noqa: BLE001
                errors.append(error)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        sender.join(max(0.0, self._remaining()))
        if sender.is_alive():
            raise self._time_out()
        if errors:
            raise self._failure_after_exit("while receiving samples")

    def _receive(self, doing: str) -> bytes:
        while True:
            remaining = self._remaining()
            if remaining <= 0:
                raise self._time_out()
            if self._connection.poll(min(remaining, 0.5)):
                try:
                    reply = self._connection.recv_bytes()
                except (EOFError, OSError):
                    raise self._failure_after_exit(doing) from None
                if reply[:1] == b"E":
                    self._process.join(5)
                    raise self._reported_failure(reply[1:])
                return reply
            if not self._process.is_alive():
                raise self._failure_after_exit(doing)

    def _reported_failure(self, payload: bytes) -> SubmissionFailed:
        try:
            report = json.loads(payload[:20000].decode("utf-8", "replace"))
            kind, message = str(report["kind"]), str(report["message"])
        except (ValueError, KeyError, TypeError):
            return SubmissionFailed("protocol", "unreadable error report")
        verdicts = {
            "import": "import error",
            "contract": "breaks the contract",
            "make_detector": "make_detector() failed",
            "memory": "memory limit exceeded",
            "output": "wrong output",
            "shape": "wrong shape",
            "crash": "crashed",
        }
        detail = _last_line(message)
        if kind == "memory":
            detail = f"more than {self.limits.memory_limit_mb} MB ({detail})"
        return SubmissionFailed(verdicts.get(kind, "crashed"), detail)

    def _failure_after_exit(self, doing: str) -> SubmissionFailed:
        self._process.join(2)
        code = self._process.exitcode
        log = self.log_tail()
        if "MemoryError" in log or "can't allocate memory" in log:
            return SubmissionFailed(
                "memory limit exceeded", f"more than {self.limits.memory_limit_mb} MB"
            )
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            if -code == signal.SIGXCPU:
                return SubmissionFailed("time limit exceeded", "CPU time limit")
            return SubmissionFailed("crashed", f"killed by {name} {doing}")
        return SubmissionFailed("crashed", f"exited with code {code} {doing}")

    def log_tail(self, limit: int = 4000) -> str:
        """The last ``limit`` characters the child printed (stdout and stderr)."""
        if not self.workdir:
            return ""
        path = os.path.join(self.workdir, "output.log")
        try:
            with open(path, "rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - limit))
                return log.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _kill(self) -> None:
        if self._process.is_alive():
            self._process.kill()
        self._process.join(5)

    def close(self) -> None:
        """Stop the child (politely, then by force) and remove its working directory."""
        if getattr(self, "_process", None) is not None:
            if self._process.is_alive():
                try:
                    self._connection.send_bytes(struct.pack("<II", 0, 0))
                except OSError:
                    pass
                self._process.join(2)
            self._kill()
            self._connection.close()
            if self._ids is not None and self.limits.user is None:
                # whatever the submission left running (a daemon that escaped its
                # parent) dies with its user id
                reaper = _forkserver().Process(
                    target=_kill_everything_of, args=(self._ids,)
                )
                reaper.start()
                reaper.join(10)
                self._ids = None
        if getattr(self, "_base", None):
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = ""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


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
        return {
            "submission": self.submission,
            "average BER": self.ber,
            "standard error": self.standard_error,
            "gap to genie (BER)": self.gap_to_genie,
            "gap to genie (dB at 1e-3)": self.gap_to_genie_db,
            "level": "" if self.level is None else self.level,
            "inference time (s)": self.inference_seconds,
            "verdict": self.verdict
            if not self.detail
            else f"{self.verdict}: {self.detail}",
        }

    def _repr_markdown_(self) -> str:
        return results_table([self])._repr_markdown_()

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
    """The results as a Markdown table (:func:`optbook.book.table`)."""
    return table([r.row() for r in results], formats=_FORMATS)


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
        return self.header() + "\n\n" + self.table()._repr_markdown_()

    def header(self) -> str:
        p = self.protocol
        return (
            f"Graded {len(self.results)} submissions with seed {self.seed}: 16-QAM, "
            f"{p.num_points} Eb/N0 points over [{p.low_db:g}, {p.high_db:g}] dB, "
            f"frames of {p.symbols_per_frame} symbols, target standard error "
            f"{p.target_standard_error:g}, conditional estimator; "
            f"{self.baseline_training}"
            f"; {self.seconds:.0f} s in all."
        )


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


def _grade_one(
    folder: Path,
    samples: GradingSamples,
    protocol: Protocol,
    limits: Limits,
    yardsticks: dict[str, GradeResult],
) -> SubmissionResult:
    name = folder.name
    start = time.perf_counter()
    detector = None
    log = ""
    try:
        detector = IsolatedDetector(folder, limits)
        result = grade(
            detector,
            samples=samples,
            target_standard_error=protocol.target_standard_error,
        )
        level = None
        if "course baseline" in yardsticks and "per-symbol limit" in yardsticks:
            level = judge(
                result,
                course_baseline=yardsticks["course baseline"],
                per_symbol_limit=yardsticks["per-symbol limit"],
            ).level
        return _result_of(
            name,
            result,
            level=level,
            inference_seconds=detector.inference_seconds,
            log=detector.log_tail(),
        )
    except SubmissionFailed as failure:
        verdict, detail, log = failure.verdict, failure.detail, failure.log
    except (ValueError, TypeError) as error:  # the grader refused the detector's output
        text = str(error)
        verdict = "NaN logits" if "NaN" in text else "wrong output"
        detail = text[:300]
    finally:
        if detector is not None:
            log = log or detector.log_tail()
            detector.close()
    return SubmissionResult(
        submission=name,
        verdict=verdict,
        detail=detail,
        seconds=time.perf_counter() - start,
        log=log,
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
) -> ClassGrading:
    """Grade submission folders with one seed; return a :class:`ClassGrading`.

    The frames, the bits, the genie's posteriors and the scores of the nearest-point and
    genie MAP detectors are drawn once for ``seed`` (:class:`GradingSamples`) and shared
    by every submission; so are the per-symbol limit and the course baseline (trained
    once from a fixed seed, :func:`course_baseline`, then graded with ``seed``), when
    ``yardsticks`` is true. Each submission runs in its own :class:`IsolatedDetector`;
    whatever goes wrong becomes its verdict and the others go on. ``jobs`` submissions
    run at a time. The calling process is made non-dumpable (:func:`harden_grader`).
    """
    start = time.perf_counter()
    harden_grader()  # this process holds the seed and the bits from here on
    limits = limits if limits is not None else Limits()
    samples = protocol.samples(seed)
    target = protocol.target_standard_error
    references: dict[str, GradeResult] = {}
    rows: list[SubmissionResult] = []
    training = "no course baseline"
    if yardsticks:
        limit = grade(
            PerSymbolBayesDetector(), samples=samples, target_standard_error=target
        )
        references["per-symbol limit"] = limit
        baseline = course_baseline(baseline_steps)
        references["course baseline"] = grade(
            baseline, samples=samples, target_standard_error=target
        )
        training = (
            f"course baseline trained once from the fixed seed 0 ({baseline_steps} SGD "
            f"steps), graded with this seed"
        )
    if references or folders:
        any_grade = references.get("per-symbol limit")
        if any_grade is None:
            any_grade = grade(
                lambda received: torch.zeros(*received.shape, 4),
                samples=samples,
                target_standard_error=1.0,
            )
        rows.append(
            replace(
                _result_of("(nearest point)", any_grade),
                ber=any_grade.nearest_point_ber,
                standard_error=any_grade.nearest_point_standard_error,
                gap_to_genie=any_grade.nearest_point_ber - any_grade.genie_map_ber,
                gap_to_genie_db=_nearest_gap_db(any_grade),
                grade=None,
            )
        )
        rows.append(
            replace(
                _result_of("(genie MAP)", any_grade),
                ber=any_grade.genie_map_ber,
                standard_error=any_grade.genie_map_standard_error,
                gap_to_genie=0.0,
                gap_to_genie_db=0.0,
                grade=None,
            )
        )
    for name, result in references.items():
        rows.append(_result_of(f"({name})", result))
    yardstick_seconds = time.perf_counter() - start
    folders = [Path(f) for f in folders]
    results: list[SubmissionResult | None] = [None] * len(folders)
    queue = list(enumerate(folders))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                index, folder = queue.pop(0)
            results[index] = _grade_one(folder, samples, protocol, limits, references)

    if folders:
        _forkserver()  # started once, before any submission's clock runs
    threads = [threading.Thread(target=worker) for _ in range(max(1, int(jobs)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ClassGrading(
        seed=seed,
        protocol=protocol,
        yardsticks=rows,
        results=[r for r in results if r is not None],
        baseline_training=training,
        seconds=time.perf_counter() - start,
        yardstick_seconds=yardstick_seconds,
    )


def _nearest_gap_db(result: GradeResult) -> float:
    from optbook.homework.limits import gap_db_at_ber

    ebn0 = [r.ebn0_db for r in result.rows]
    try:
        return gap_db_at_ber(
            ebn0,
            [r.nearest_point_ber for r in result.rows],
            [r.genie_map_ber for r in result.rows],
        )
    except ValueError:
        return math.nan


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
        writer.writerows(rows)
    md_path.write_text(grading._repr_markdown_() + "\n")
    return csv_path, md_path


# -- the student's side ----------------------------------------------------------------


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
) -> SubmissionResult:
    """Grade one submission folder exactly as the grading tool does, with your own seed.

    The folder's ``detector.py`` runs in an isolated process that gets received samples
    only (:class:`IsolatedDetector`); ``small=True`` uses the quick :data:`SMALL`
    protocol, ``small=False`` the homework's :data:`FULL` one. The result shows as a
    table (submission, average BER, standard error, gap to the genie, inference time,
    verdict); its ``verdict`` is ``"ok"`` when the submission keeps the contract. The
    rubric's level needs the yardsticks of a class grading and is left empty here.
    """
    protocol = SMALL if small else FULL
    samples = protocol.samples(seed)
    return _grade_one(Path(folder), samples, protocol, limits or Limits(), {})


def harden_grader() -> None:
    """Make this process non-dumpable: same-user processes cannot read its memory.

    With ``PR_SET_DUMPABLE = 0``, ``/proc/<pid>/mem``, ``environ`` and ``ptrace`` of the
    grader are closed to every process of the same user that lacks ``CAP_SYS_PTRACE``
    (its command line stays readable: never put the seed there).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


# -- the command line (scripts/grade-submissions) --------------------------------------


def _read_seed(path: str) -> int:
    """The seed from a file (``-``: standard input); refuse a file others can read."""
    if path == "-":
        text = sys.stdin.read()
    else:
        mode = os.stat(path).st_mode
        if mode & 0o077:
            raise SystemExit(
                f"the seed file {path} can be read by other users (mode "
                f"{mode & 0o777:o}): run  chmod 600 {path}  first"
            )
        text = Path(path).read_text()
    try:
        seed = int(text.strip())
    except ValueError:
        raise SystemExit("the seed file must hold one whole number") from None
    if seed < 0:
        raise SystemExit("the seed must be a non-negative whole number")
    return seed


def main(argv: Sequence[str] | None = None) -> int:
    """``scripts/grade-submissions FOLDER... [--seed-file F] [--out DIR] ...``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="grade-submissions",
        description="Grade homework submission folders (each with detector.py defining "
        "make_detector()) with a private seed, each in an isolated process.",
    )
    parser.add_argument("folders", nargs="+", type=Path, help="submission folders")
    parser.add_argument(
        "--seed-file",
        help="file holding the private seed (mode 600), or - for standard input; "
        "without it a fresh random seed is drawn and written to the results only "
        "after grading",
    )
    parser.add_argument("--out", type=Path, default=Path("grading-results"))
    parser.add_argument("--small", action="store_true", help="the quick protocol")
    parser.add_argument("--time-limit", type=float, default=Limits.time_limit_s)
    parser.add_argument(
        "--memory-limit",
        type=int,
        default=Limits.memory_limit_mb,
        help="address space per submission, MB",
    )
    parser.add_argument("--jobs", type=int, default=1, help="submissions at a time")
    parser.add_argument("--baseline-steps", type=int, default=1600)
    parser.add_argument(
        "--no-yardsticks",
        action="store_true",
        help="skip the per-symbol limit and the course baseline",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    harden_grader()
    torch.set_num_threads(1)
    fresh = args.seed_file is None
    seed = secrets.randbelow(2**63) if fresh else _read_seed(args.seed_file)
    missing = [str(f) for f in args.folders if not f.is_dir()]
    if missing:
        raise SystemExit(f"not a folder: {', '.join(missing)}")
    grading = grade_submissions(
        args.folders,
        seed=seed,
        protocol=SMALL if args.small else FULL,
        limits=Limits(time_limit_s=args.time_limit, memory_limit_mb=args.memory_limit),
        yardsticks=not args.no_yardsticks,
        baseline_steps=args.baseline_steps,
        jobs=args.jobs,
    )
    csv_path, md_path = write_results(grading, args.out)
    print(grading.header())
    print(grading.table())
    print(
        f"written: {csv_path} and {md_path}"
        + (" (fresh seed recorded there)" if fresh else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
