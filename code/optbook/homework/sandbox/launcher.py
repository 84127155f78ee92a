"""Starting a sandbox: bubblewrap, the limits, the watchdog, the end of everything.

:class:`Sandbox` starts ``python -I -c BOOT TASK SETTINGS`` (:mod:`.inside`) with
:mod:`subprocess` (no ``multiprocessing``: nothing of the grader is forked, and no
descriptor leaks but the one end of its socket) inside ``bwrap`` with

- new user, pid, ipc, network, uts and cgroup namespaces, no further user namespaces,
  ``--die-with-parent`` and ``--new-session``, and an empty environment but a few
  fixed variables;
- a read-only view of ``/usr`` (and its ``/bin``, ``/lib`` links), of the Python
  installation, of ``optbook`` and of the submission's own copy (``/submission``);
  a fresh ``/proc`` and ``/dev``; size-limited private tmpfs at ``/tmp`` (its working
  directory and ``HOME``) and ``/dev/shm``, its only writable places;
- as root, a fresh unprivileged user id of its own (from :data:`FRESH_UID_BASE`), so
  that even outside its namespaces it is nobody; as another user, that user's id
  mapped into its own user namespace.

Inside, :func:`.inside.confine` pins it to one CPU and sets hard limits; here a
watchdog thread sums the memory of all its processes and kills it over the limit, and
its output is read through a pipe, capped. Killing ``bwrap`` ends its pid namespace:
every process the submission started is gone with it, and its tmpfs with them.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

FRESH_UID_BASE = 2_000_000_000
"""The first of the fresh user (and group) ids given to sandboxes when grading as
root."""

_ENVIRONMENT = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
}
_HIDDEN_PACKAGES = ("optbook_solution",)  # the reference solution, if installed
OUTPUT_TAIL_BYTES = 8192
WATCH_INTERVAL_S = 0.2


@dataclass(frozen=True)
class Limits:
    """What one submission may use, over all its processes together.

    ``time_limit_s``: wall-clock seconds for everything (start, ``make_detector()``,
    every call). ``memory_limit_mb``: the resident memory of all its processes
    together (watched every 0.2 s) and the address space of each (a hard limit;
    importing torch alone takes about 0.7 GB of it). ``processes``: processes and
    threads together. ``open_files``: descriptors per process. ``disk_mb``: its
    ``/tmp`` (and the largest file it may write); ``shm_mb``: its ``/dev/shm``.
    ``threads``: CPUs it runs on (one; it cannot widen that).
    """

    time_limit_s: float = 120.0
    memory_limit_mb: int = 4096
    processes: int = 32
    open_files: int = 256
    disk_mb: int = 256
    shm_mb: int = 64
    threads: int = 1

    def rlimits(self) -> dict[str, int]:
        """The hard resource limits set inside the sandbox, by name."""
        return {
            "RLIMIT_AS": int(self.memory_limit_mb) << 20,
            "RLIMIT_NPROC": int(self.processes),
            "RLIMIT_NOFILE": int(self.open_files),
            "RLIMIT_FSIZE": int(self.disk_mb) << 20,
            "RLIMIT_CPU": int(self.time_limit_s) + 5,
            "RLIMIT_CORE": 0,
        }


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing, or this host forbids the namespaces it needs."""


# -- can this host sandbox? ------------------------------------------------------------

_PROBE_LOCK = threading.Lock()
_PROBED: dict[int, str | None] = {}


def sandbox_problem() -> str | None:
    """None when bubblewrap can make a sandbox here, else what is wrong and what to
    do."""
    bwrap = _bwrap()
    if bwrap is None:
        return (
            "bubblewrap (bwrap) is not installed. Install it: sudo apt-get install "
            "bubblewrap (Debian, Ubuntu), sudo dnf install bubblewrap (Fedora), sudo "
            "pacman -S bubblewrap (Arch); on macOS or Windows grade inside a Linux "
            "container (instructor/README.md, 'Hosts without bubblewrap')."
        )
    with _PROBE_LOCK:
        uid = os.geteuid()
        if uid not in _PROBED:
            _PROBED[uid] = _probe(bwrap)
        return _PROBED[uid]


def _probe(bwrap: str) -> str | None:
    """Run ``true`` in a sandbox built as for a submission."""
    ids = _fresh_ids() if os.geteuid() == 0 else None
    if ids is not None and shutil.which("setpriv") is None:
        return "setpriv (util-linux) is missing: it drops root to a fresh user id"
    with tempfile.TemporaryDirectory() as empty:
        os.chmod(empty, 0o755)
        command = bwrap_command(["/bin/true"], Limits(), Path(empty), ids)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as error:
            return f"bubblewrap could not be run: {error}"
    if done.returncode == 0:
        return None
    who = "a fresh unprivileged user" if ids else "this user"
    return (
        f"bubblewrap cannot make a sandbox here as {who}: {done.stderr.strip()}. "
        "If it speaks of namespaces or 'Operation not permitted', this host forbids "
        "unprivileged user namespaces. Allow them (as root): "
        "sysctl -w user.max_user_namespaces=15000; on Debian before 11: sysctl -w "
        "kernel.unprivileged_userns_clone=1; on Ubuntu 24.04 and later: sysctl -w "
        "kernel.apparmor_restrict_unprivileged_userns=0 (or an AppArmor profile for "
        "bwrap); inside Docker: --security-opt seccomp=unconfined --security-opt "
        "apparmor=unconfined. Or grade in the container of instructor/README.md."
    )


def _bwrap() -> str | None:
    found = shutil.which("bwrap")
    return found or ("/usr/bin/bwrap" if os.path.exists("/usr/bin/bwrap") else None)


_FRESH_LOCK = threading.Lock()
_FRESH_COUNT = [0]


def _fresh_ids() -> tuple[int, int]:
    """A user and group id no account and no other sandbox of this grader has."""
    with _FRESH_LOCK:
        _FRESH_COUNT[0] += 1
        fresh = FRESH_UID_BASE + (os.getpid() % 10_000) * 10_000 + _FRESH_COUNT[0]
    return fresh, fresh


# -- the command -----------------------------------------------------------------------


def _python_paths() -> tuple[str, list[str]]:
    """The interpreter to run inside, and the folders it needs (optbook's last)."""
    import optbook

    prefix, base = os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)
    if prefix != base:  # a virtual environment: run its python, found by pyvenv.cfg
        python = os.path.join(prefix, "bin", os.path.basename(sys.executable))
    else:
        python = os.path.realpath(sys.executable)
    code = os.path.realpath(Path(optbook.__file__).parents[1])
    folders = []
    for folder in (base, prefix, os.path.dirname(python), code):
        inside_usr = folder == "/usr" or folder.startswith("/usr/")
        if not inside_usr and folder not in folders:
            folders.append(folder)
    return python, folders


def _hidden_folders(visible: list[str]) -> list[str]:
    """Installed packages the sandbox must not see (the reference solution)."""
    import importlib.util

    hidden = []
    for name in _HIDDEN_PACKAGES:
        spec = importlib.util.find_spec(name)
        for location in (spec.submodule_search_locations or []) if spec else []:
            real = os.path.realpath(location)
            if any(real.startswith(v + os.sep) for v in [*visible, "/usr"]):
                hidden.append(real)
    return hidden


BOOT = (
    "import sys; sys.path.insert(0, {code!r}); "
    "from optbook.homework.sandbox.inside import main; main(sys.argv[1:])"
)


def _system_view() -> list[str]:
    """``/usr`` and its links (``/bin``, ``/lib``...), the loader's cache, read-only."""
    view = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            view += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            view += ["--ro-bind", top, top]
    return view + ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]


def bwrap_command(
    program: list[str], limits: Limits, folder: Path, ids: tuple[int, int] | None
) -> list[str]:
    """The command line that runs ``program`` in a sandbox (see the module's text).

    ``ids``: as root, the fresh ``(uid, gid)``. Then an outer bwrap (root, mount and
    pid namespaces only) first builds a view in which the Python folders and the copy
    are reachable through world-readable folders (``/root`` is not), and ``setpriv``
    drops to the fresh ids before the real sandbox starts in that view.
    """
    _, folders = _python_paths()
    bwrap = _bwrap() or "bwrap"
    command = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns"]
    command += ["--die-with-parent", "--new-session", "--hostname", "sandbox"]
    command += ["--clearenv"]
    for name, value in _ENVIRONMENT.items():
        command += ["--setenv", name, value]
    command += _system_view() + ["--proc", "/proc", "--dev", "/dev"]
    command += ["--size", str(limits.disk_mb << 20), "--perms", "1777"]
    command += ["--tmpfs", "/tmp"]
    command += ["--size", str(limits.shm_mb << 20), "--perms", "1777"]
    command += ["--tmpfs", "/dev/shm"]
    for path in folders:
        command += ["--ro-bind", path, path]
    command += ["--ro-bind", str(folder), "/submission"]
    for hidden in _hidden_folders(folders):
        command += ["--tmpfs", hidden, "--remount-ro", hidden]
    command += ["--chdir", "/tmp", "--", *program]
    if ids is None:
        return command
    # its own pid namespace: if the grader dies, the outer bwrap dies with it and
    # takes every process inside (the nested sandbox included) along
    outer = [bwrap, "--die-with-parent", "--unshare-pid"]
    outer += ["--perms", "0755", "--dir", "/etc"]
    outer += _system_view()
    outer += ["--bind", "/proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    made = {"/", "/tmp", "/usr", "/proc", "/dev"}
    for path in [*folders, str(folder)]:
        for parent in reversed(Path(path).parents):
            if str(parent) not in made and not str(parent).startswith("/usr/"):
                made.add(str(parent))
                outer += ["--perms", "0755", "--dir", str(parent)]
        outer += ["--ro-bind", path, path]
    drop = ["setpriv", f"--reuid={ids[0]}", f"--regid={ids[1]}", "--clear-groups"]
    drop += ["--pdeathsig", "SIGKILL"]
    return [*outer, "--", *drop, "--", *command]


def python_program(task: str, settings: dict) -> list[str]:
    """``python -I -B -c BOOT TASK SETTINGS``: :func:`.inside.main` serving ``task``."""
    python, folders = _python_paths()
    boot = BOOT.format(code=folders[-1])
    return [python, "-I", "-B", "-c", boot, task, json.dumps(settings)]


# -- one sandbox -----------------------------------------------------------------------


class Sandbox:
    """One submission's sandbox, serving ``task`` from the copy in ``folder``.

    ``channel`` is the grader's end of its socket (non-blocking; speak :mod:`.wire`).
    ``output()`` is the tail of what it printed; ``memory_exceeded`` says whether the
    watchdog killed it; :meth:`close` ends it and everything it started.
    ``isolated=False`` runs it as a plain process (the ``--no-sandbox`` escape hatch,
    for hosts where only trusted code is graded).
    """

    def __init__(
        self,
        task: str,
        folder: Path,
        limits: Limits,
        *,
        isolated: bool = True,
        cpu: int | None = None,
    ) -> None:
        self.limits = limits
        self.memory_exceeded = False
        self.closed = False
        self.peak_memory_mb = 0.0
        self._tail = bytearray()
        self._done = threading.Event()
        channel, child_end = socket.socketpair()
        self.channel = channel
        settings = {
            "channel_fd": child_end.fileno(),
            "cpu": cpu,
            "rlimits": limits.rlimits(),
            "folder": "/submission" if isolated else str(folder),
        }
        try:
            program = python_program(task, settings)
            if isolated:
                problem = sandbox_problem()
                if problem:
                    raise SandboxUnavailable(problem)
                ids = _fresh_ids() if os.geteuid() == 0 else None
                program = bwrap_command(program, limits, folder, ids)
            self.process = subprocess.Popen(
                program,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(child_end.fileno(),),
                start_new_session=True,  # one process group: killed together
                env=dict(_ENVIRONMENT),
                cwd="/",
            )
        finally:
            child_end.close()
        self.channel.setblocking(False)
        self._threads = [
            threading.Thread(target=self._read_output, daemon=True),
            threading.Thread(target=self._watch_memory, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    # -- watching it --

    def _read_output(self) -> None:
        """Keep the last bytes it printed; never block the grader, never grow."""
        stream = self.process.stdout
        while True:
            chunk = stream.read1(65536)
            if not chunk:
                break
            self._tail += chunk
            del self._tail[: max(0, len(self._tail) - OUTPUT_TAIL_BYTES)]
        self._done.set()

    def output(self) -> str:
        """What it printed, the last bytes of it, as text (undecodable bytes
        replaced)."""
        self._done.wait(2.0 if self.process.poll() is not None else 0.0)
        return bytes(self._tail).decode("utf-8", "replace")

    def _watch_memory(self) -> None:
        if not os.path.isdir("/proc"):
            return  # not Linux: the per-process address space is the only bound
        limit = self.limits.memory_limit_mb
        while self.process.poll() is None:
            used = memory_of_tree(self.process.pid)
            self.peak_memory_mb = max(self.peak_memory_mb, used)
            if used > limit:
                self.memory_exceeded = True
                self.kill()
                return
            time.sleep(WATCH_INTERVAL_S)

    # -- ending it --

    def kill(self) -> None:
        """End it at once: killing bwrap ends its pid namespace and all in it."""
        if self.process.returncode is not None:
            return  # reaped: its pid may belong to another process now
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.kill()
        except ProcessLookupError:
            pass

    def close(self) -> int | None:
        """Kill it, reap it, close its channel; return its exit code."""
        self.closed = True
        self.kill()
        try:
            code = self.process.wait(10)
        except subprocess.TimeoutExpired:
            code = None
        self._done.wait(2.0)
        self.channel.close()
        self.process.stdout.close()
        return code


def memory_of_tree(root: int) -> float:
    """MB used by ``root`` and its descendants: each one's private resident memory,
    plus the largest file-backed resident set among them (shared libraries counted
    once)."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as handle:
                    stat = handle.read()
            except OSError:
                continue
            parents[int(name)] = int(stat[stat.rfind(b")") + 2 :].split()[1])
    tree, frontier = {root}, [root]
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in tree:
                tree.add(child)
                frontier.append(child)
    private, shared = 0, 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/statm") as handle:
                fields = handle.read().split()
        except OSError:
            continue
        resident, file_backed = int(fields[1]), int(fields[2])
        private += resident - file_backed
        shared = max(shared, file_backed)
    return (private + shared) * resource.getpagesize() / 2**20
