"""The grader's side of the ``"detector"`` task, and the verdicts.

:class:`IsolatedDetector` copies a submission (:mod:`.folder`), starts its sandbox
(:class:`.launcher.Sandbox`), waits for ``make_detector()`` and then forwards every
call: received samples out, logits back. Every reply is read with the submission's
remaining time as the deadline and its exact expected size as the cap. Whatever goes
wrong raises :class:`SubmissionFailed` with a verdict chosen here, never by the
submission (which may only pick among :data:`.wire.ERROR_CODES`, and only as its
own report).
"""

from __future__ import annotations

import re
import shutil
import signal
import struct
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from optbook.homework.sandbox import wire
from optbook.homework.sandbox.folder import Refused, copy_submission
from optbook.homework.sandbox.inside import DETECTOR_FILE
from optbook.homework.sandbox.launcher import Limits, Sandbox

BOOT_TIMEOUT_S = 120.0
"""How long the sandbox may take to start Python and import torch, before any
submission code runs (not counted in the submission's time limit)."""

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean_text(text: str, limit: int | None = None) -> str:
    """``text`` without control characters (ANSI escapes, carriage returns, bidi
    overrides); newlines and tabs kept; the last ``limit`` characters."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n"))
    return text if limit is None else text[-limit:]


class SubmissionFailed(Exception):
    """A submission broke the contract or a limit; ``verdict`` says which, in words."""

    def __init__(self, verdict: str, detail: str = "", log: str = "") -> None:
        detail = clean_text(detail, 300)
        super().__init__(f"{verdict}: {detail}" if detail else verdict)
        self.verdict, self.detail, self.log = verdict, detail, log


class IsolatedDetector:
    """A submission's detector, run in its sandbox; call it like a detector.

    ``isolated=False`` runs it without bubblewrap (see :class:`.launcher.Sandbox`).
    ``cpu`` is the CPU it is pinned to. Use it as a context manager, or call
    :meth:`close`.
    """

    def __init__(
        self,
        folder: str | Path,
        limits: Limits | None = None,
        *,
        isolated: bool = True,
        cpu: int | None = None,
        max_copy_mb: int = 200,
    ) -> None:
        self.folder = Path(folder)
        self.limits = limits if limits is not None else Limits()
        self.inference_seconds = 0.0
        self._sandbox: Sandbox | None = None
        self._base = tempfile.mkdtemp(prefix="optbook-submission-")
        try:
            copy = self._copy(max_copy_mb)
            self._sandbox = Sandbox(
                "detector", copy, self.limits, isolated=isolated, cpu=cpu
            )
            # starting Python and torch is not the submission's time
            self._deadline = time.monotonic() + BOOT_TIMEOUT_S
            self._read({wire.BOOTED: 0}, "starting Python and torch")
            self._deadline = time.monotonic() + self.limits.time_limit_s
            self._read({wire.READY: 0}, "starting the detector")
        except BaseException:
            self.close()
            raise

    def _copy(self, max_copy_mb: int) -> Path:
        if not (self.folder / DETECTOR_FILE).is_file():
            raise SubmissionFailed(
                "no detector.py", f"{self.folder.name} holds no file {DETECTOR_FILE}"
            )
        copy = Path(self._base) / "submission"
        try:
            copy_submission(self.folder, copy, max_copy_mb << 20)
        except Refused as refusal:
            raise SubmissionFailed(
                "refused",
                f"{refusal} (limit {max_copy_mb} MB)"
                if "size" in str(refusal)
                else str(refusal),
            ) from None
        return copy

    def __enter__(self) -> IsolatedDetector:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __call__(self, received: Tensor) -> Tensor:
        received = received.detach().to("cpu", torch.complex64).contiguous()
        frames, symbols = received.shape
        request = struct.pack("<II", frames, symbols) + received.numpy().tobytes()
        start = time.perf_counter()
        try:
            wire.write(self._sandbox.channel, wire.FRAMES, request, self._deadline)
        except wire.Timeout:
            raise self._failure("time", "sending samples") from None
        except wire.Closed:
            raise self._failure("ended", "receiving samples") from None
        expected = 12 + frames * symbols * 4 * 4
        data = self._read({wire.LOGITS: expected}, "running the detector")
        self.inference_seconds += time.perf_counter() - start
        if len(data) != expected or struct.unpack_from("<III", data) != (
            frames,
            symbols,
            4,
        ):
            raise SubmissionFailed(
                "protocol error", "logits of another size or shape than asked for"
            )
        logits = torch.frombuffer(data, dtype=torch.float32, offset=12)
        return logits.view(frames, symbols, 4)

    def _read(self, expected: dict[bytes, int], doing: str) -> bytearray:
        sizes = {**expected, wire.ERROR: wire.MAX_ERROR_BYTES}
        try:
            kind, payload = wire.read(self._sandbox.channel, self._deadline, sizes)
        except wire.Timeout:
            raise self._failure("time", doing) from None
        except wire.Closed:
            raise self._failure("ended", doing) from None
        except wire.ProtocolError as error:
            raise self._failure("protocol", str(error)) from None
        if kind == wire.ERROR:
            raise self._reported(bytes(payload))
        return payload

    def _reported(self, payload: bytes) -> SubmissionFailed:
        """The submission's own report: its code picks among ERROR_CODES only."""
        verdict = wire.ERROR_CODES.get(payload[:1])
        if verdict is None:
            return self._failure("protocol", "an error report of unknown kind")
        text = payload[1:].decode("utf-8", "replace")
        lines = [line.strip() for line in clean_text(text).splitlines() if line.strip()]
        detail = lines[-1] if lines else ""
        if "can't allocate memory" in detail or "MemoryError" in detail:
            detail += f" (each process may map {self.limits.memory_limit_mb} MB)"
        return self._failure(None, detail, verdict=verdict)

    def _failure(
        self, why: str | None, detail: str, *, verdict: str | None = None
    ) -> SubmissionFailed:
        """Stop the sandbox and say why, in the grader's words."""
        sandbox, limits = self._sandbox, self.limits
        code = sandbox.close() if sandbox is not None else None
        log = self.log_tail()
        if sandbox is not None and sandbox.memory_exceeded:
            verdict = "memory limit exceeded"
            detail = f"more than {limits.memory_limit_mb} MB over all its processes"
        elif why == "time":
            verdict = "time limit exceeded"
            detail = f"more than {limits.time_limit_s:g} s in all, {detail}"
        elif why == "protocol":
            verdict = "protocol error"
        elif why == "ended":
            verdict = "crashed"
            detail = _how_it_ended(code, detail)
        return SubmissionFailed(verdict or "crashed", detail, log)

    def log_tail(self, limit: int = 4000) -> str:
        """The last ``limit`` characters it printed, control characters removed."""
        if self._sandbox is None:
            return ""
        return clean_text(self._sandbox.output(), limit)

    def close(self) -> None:
        """End the sandbox (and all it started) and remove the copy."""
        if self._sandbox is not None and not self._sandbox.closed:
            try:
                wire.write(self._sandbox.channel, wire.STOP, b"", time.monotonic() + 1)
            except (wire.Timeout, wire.Closed, OSError):
                pass
            self._sandbox.close()
        if self._base:
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = ""


def _how_it_ended(code: int | None, doing: str) -> str:
    if code is None:
        return f"stopped answering {doing}"
    if code > 128 and code - 128 in _SIGNALS:  # bwrap passes a signal on this way
        code = 128 - code
    if code == -24:
        return f"CPU time limit (SIGXCPU) {doing}"
    if code < 0:
        return f"killed by {_SIGNALS.get(-code, -code)} {doing}"
    return f"exited with code {code} {doing}"


_SIGNALS = {int(s): s.name for s in signal.Signals}
