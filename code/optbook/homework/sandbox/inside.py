"""The code that runs inside a sandbox: confine this process, then serve one task.

The launcher (:mod:`.launcher`) starts ``python -I -c BOOT TASK SETTINGS`` inside
bubblewrap; :func:`main` then

1. **confines** the process before any submission code runs (:func:`confine`): pinned
   to one CPU with a seccomp filter that refuses ``sched_setaffinity`` (so more torch
   threads share that one CPU and cannot make it more), hard resource limits
   (processes and threads, descriptors, file size, CPU seconds, address space, no core
   files), every descriptor closed but the standard ones and its channel, one torch
   thread;
2. **serves the task** named by ``TASK``, a key of :data:`TASKS`: a function
   ``serve(channel, folder)`` that loads the submission from ``folder`` (read-only,
   ``/submission`` in the sandbox) and answers the grader's messages
   (:mod:`.wire`).

**Adding a task kind** (for instance a training recipe): write its ``serve`` function
here and add it to :data:`TASKS`, and write its grader's side beside
:class:`~optbook.homework.sandbox.client.IsolatedDetector` (a :class:`.launcher.Sandbox`
started with that task name, and the messages it expects). Nothing else changes: the
launcher, the limits and the verdicts are the same for every kind.

The submission shares this process, so nothing here is trusted by the grader: the
grader checks every reply's size and shape itself, and assigns every verdict.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import resource
import socket
import struct
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from optbook.homework.sandbox import wire

DETECTOR_FILE = "detector.py"


def main(argv: list[str]) -> None:
    """``TASK SETTINGS``: confine, connect, serve the task (see the module's text)."""
    task, settings = argv[0], json.loads(argv[1])
    confine(settings)
    channel = socket.socket(fileno=settings["channel_fd"])
    try:
        wire.send(channel, wire.BOOTED)  # no submission code has run yet
        TASKS[task](channel, Path(settings["folder"]))
    except wire.Closed:
        pass  # the grader went away: nothing more to do


# -- confinement -----------------------------------------------------------------------


def confine(settings: dict) -> None:
    """Pin to one CPU, forbid widening it, set hard limits, close stray descriptors."""
    cpu = settings.get("cpu")
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
        forbid_affinity_changes()
    for name, value in settings["rlimits"].items():
        limit = getattr(resource, name)
        hard = resource.getrlimit(limit)[1]
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        try:
            resource.setrlimit(limit, (value, value))  # the hard limit: no raising it
        except (ValueError, OSError):
            if sys.platform.startswith("linux"):
                raise
            # macOS refuses some limits (the student's own check runs unsandboxed)
    keep = {0, 1, 2, settings["channel_fd"]}
    for name in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else []:
        if int(name) not in keep:
            try:
                os.close(int(name))
            except OSError:
                pass
    import torch  # after the limits: its threads count against them

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)


_SYSCALL_SCHED_SETAFFINITY = {"x86_64": 203, "aarch64": 122}
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}


def forbid_affinity_changes() -> bool:
    """Install a seccomp filter: ``sched_setaffinity`` fails with EPERM, in this
    process and in every process it starts. Returns False where this machine's
    architecture is not known here (x86-64 and arm64 are)."""
    machine = platform.machine()
    if machine not in _AUDIT_ARCH or not sys.platform.startswith("linux"):
        return False
    ld_w_abs, jeq_k, ret_k = 0x20, 0x15, 0x06
    allow, errno_eperm, kill = 0x7FFF0000, 0x00050000 | 1, 0x80000000
    program = [  # (code, jt, jf, k): BPF over struct seccomp_data
        (ld_w_abs, 0, 0, 4),  # arch
        (jeq_k, 1, 0, _AUDIT_ARCH[machine]),
        (ret_k, 0, 0, kill),  # another ABI (x32 and the like): refuse it outright
        (ld_w_abs, 0, 0, 0),  # the system call's number
        (jeq_k, 0, 1, _SYSCALL_SCHED_SETAFFINITY[machine]),
        (ret_k, 0, 0, errno_eperm),
        (ret_k, 0, 0, allow),
    ]
    code = b"".join(struct.pack("<HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(code)

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(program), ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_no_new_privs, pr_set_seccomp, seccomp_mode_filter = 38, 22, 2
    if libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if libc.prctl(pr_set_seccomp, seccomp_mode_filter, ctypes.byref(fprog), 0, 0):
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
    return True


# -- the tasks -------------------------------------------------------------------------


def report(channel: socket.socket, code: bytes, text: str) -> None:
    """Tell the grader what went wrong (``code`` from :data:`wire.ERROR_CODES`)."""
    message = code + text.encode("utf-8", "replace")[-(wire.MAX_ERROR_BYTES - 1) :]
    wire.send(channel, wire.ERROR, message)


def serve_detector(channel: socket.socket, folder: Path) -> None:
    """The ``"detector"`` task: import ``detector.py``, call ``make_detector()``, say
    ready, then answer every ``FRAMES`` with ``LOGITS`` until ``STOP``."""
    detector = _make_detector(channel, folder)
    if detector is None:
        return
    import torch

    wire.send(channel, wire.READY)
    while True:
        kind, payload = wire.receive(channel)
        if kind != wire.FRAMES:
            return
        frames, symbols = struct.unpack_from("<II", payload)
        received = torch.frombuffer(bytearray(payload[8:]), dtype=torch.complex64)
        try:
            with torch.no_grad():
                logits = detector(received.view(frames, symbols))
            values = _logits_bytes(channel, logits, (frames, symbols, 4))
        except BaseException:  # noqa: BLE001 - any failure is the submission's
            report(channel, b"x", traceback.format_exc())
            return
        if values is None:
            return
        wire.send(channel, wire.LOGITS, values)


def _make_detector(channel: socket.socket, folder: Path) -> Callable | None:
    import importlib

    import torch

    sys.path.insert(0, str(folder))
    sys.argv = [str(folder / DETECTOR_FILE)]
    try:
        module = importlib.import_module(Path(DETECTOR_FILE).stem)
    except BaseException:  # noqa: BLE001
        report(channel, b"i", traceback.format_exc())
        return None
    make = getattr(module, "make_detector", None)
    if not callable(make):
        report(channel, b"c", f"{DETECTOR_FILE} defines no function make_detector()")
        return None
    try:
        detector = make()
        if isinstance(detector, torch.nn.Module):
            detector.eval()
    except BaseException:  # noqa: BLE001
        report(channel, b"m", traceback.format_exc())
        return None
    if not callable(detector):
        report(
            channel,
            b"c",
            f"make_detector() returned {type(detector).__name__}, which cannot be "
            "called on received samples",
        )
        return None
    return detector


def _logits_bytes(channel: socket.socket, logits, expected: tuple) -> bytes | None:
    """``<III`` shape + float32 values, or None after reporting what is wrong."""
    import torch

    if not isinstance(logits, torch.Tensor):
        report(
            channel,
            b"o",
            f"the detector returned {type(logits).__name__}, not a torch.Tensor of "
            "bit logits",
        )
        return None
    array = logits.detach().to("cpu", torch.float32).contiguous().numpy()
    if tuple(array.shape) != expected:
        report(
            channel,
            b"s",
            f"the detector returned logits of shape {list(array.shape)} for samples "
            f"of shape {list(expected[:2])}; expected {list(expected)}",
        )
        return None
    return struct.pack("<III", *array.shape) + array.tobytes()


def serve_recipe(channel: socket.socket, folder: Path) -> None:
    """The ``"recipe"`` task (Part A): see :mod:`.recipe_task`."""
    from optbook.homework.sandbox.recipe_task import serve

    serve(channel, folder)


TASKS: dict[str, Callable[[socket.socket, Path], None]] = {
    "detector": serve_detector,
    "recipe": serve_recipe,
}
"""The task kinds a sandbox can serve: name -> ``serve(channel, folder)``."""
