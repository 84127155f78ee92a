"""A hostile class, graded once in the sandbox (issue 21's findings, one submission or
more each), with an honest classmate graded beside every attack.

Each test reads one verdict and asserts what the attacker saw; every honest classmate
must get exactly its in-process grade; the whole class must finish within its limits.
"""

from __future__ import annotations

import csv
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import pytest

from optbook.homework.grading import NearestPointDetector, grade
from optbook.homework.sandbox.launcher import sandbox_problem
from optbook.homework.submissions import (
    Limits,
    Protocol,
    grade_submissions,
    write_results,
)

sys.path.insert(0, str(Path(__file__).with_name("submissions_data")))
from attacks import ATTACKS, HONEST  # noqa: E402

REQUIRED = os.environ.get("OPTBOOK_REQUIRE_SANDBOX") == "1"  # set by .ci/run
pytestmark = pytest.mark.skipif(
    sandbox_problem() is not None and not REQUIRED,
    reason=f"no sandbox here: {sandbox_problem()}",
)
TINY = Protocol(num_points=3, target_standard_error=5e-3)
SEED = 4_242_424_242
LIMITS = Limits(time_limit_s=15, memory_limit_mb=1500)
WEIRD_NAME = "=HYPERLINK(2)<b>x"


def test_the_sandbox_works_here():
    """Where the sandbox is required (CI, as root and as an ordinary user), it works."""
    assert sandbox_problem() is None, sandbox_problem()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    folders = []
    for index, (name, source) in enumerate(ATTACKS.items()):
        folders.append(_submission(base / name, source))
        folders.append(_submission(base / f"honest_{index}", HONEST))
    (base / "links").mkdir()
    (base / "links" / "detector.py").write_text(HONEST)
    (base / "links" / "output.log").symlink_to("/etc/shadow")
    (base / "fifo").mkdir()
    (base / "fifo" / "detector.py").write_text(HONEST)
    os.mkfifo(base / "fifo" / "weights.pt")
    folders += [base / "links", base / "fifo", _submission(base / WEIRD_NAME, HONEST)]
    (base / "tmp").mkdir()
    tempfile.tempdir, saved = str(base / "tmp"), tempfile.tempdir
    with socket.socket() as listener:  # a server the scout must not reach
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        os.environ["P"] = str(listener.getsockname()[1])
        start = time.monotonic()
        grading = grade_submissions(
            folders, seed=SEED, protocol=TINY, limits=LIMITS, yardsticks=False, jobs=2
        )
        seconds = time.monotonic() - start
    tempfile.tempdir = saved
    return grading, {r.submission: r for r in grading.results}, seconds, base


def _submission(folder: Path, source: str) -> Path:
    folder.mkdir()
    (folder / "detector.py").write_text(source)
    return folder


def test_every_folder_has_a_row_and_the_class_finishes_in_time(graded):
    grading, results, seconds, _ = graded
    assert len(grading.results) == 2 * len(ATTACKS) + 3
    # a sandbox starts in a few seconds; no attack holds the grader past its limit
    assert seconds < len(grading.results) * (LIMITS.time_limit_s + 15) / 2
    assert grading.summary().startswith(f"{len(grading.results)} submissions")


def test_honest_classmates_get_their_in_process_grade(graded):
    _, results, _, _ = graded
    expected = grade(
        NearestPointDetector(), samples=TINY.samples(SEED), target_standard_error=5e-3
    )
    honest = [r for name, r in results.items() if name.startswith("honest_")]
    assert len(honest) == len(ATTACKS)
    for result in [*honest, results[WEIRD_NAME]]:
        assert result.verdict == "ok", (result.submission, result.detail, result.log)
        assert result.ber == expected.ber


@pytest.mark.parametrize(
    ("name", "verdict", "detail"),
    [
        ("partial_reply", "time limit exceeded", "running the detector"),
        ("short_reply", "crashed", "starting the detector"),
        ("huge_reply", "protocol error", "more than"),
        ("spoofed_verdict", "protocol error", "unknown kind"),
        ("fake_memory_error", "make_detector() failed", "MemoryError"),
        ("memory_spread", "memory limit exceeded", "over all its processes"),
        ("links", "refused", "output.log is a symbolic link"),
        ("fifo", "refused", "weights.pt is a FIFO"),
    ],
)
def test_attacks_on_the_grader_get_the_graders_verdict(graded, name, verdict, detail):
    _, results, _, _ = graded
    result = results[name]
    assert result.verdict == verdict, (result.detail, result.log)
    assert detail in result.detail


def test_the_scout_finds_nothing_and_is_held_to_its_limits(graded):
    _, results, _, _ = graded
    result = results["scout"]
    assert result.verdict == "ok", (result.detail, result.log)
    log = result.log
    assert "sockets 1 pipes 2" in log  # its channel, its output: nothing inherited
    pids = eval(log.split("pids ", 1)[1].splitlines()[0])  # noqa: S307
    assert max(pids) < 10  # its own pid namespace: the grader is not there
    assert "ppid 1" in log
    assert "network: ConnectionRefusedError" in log or "network: OSError" in log
    assert "/etc/passwd absent" in log and "/home absent" in log
    assert "solution: hidden" in log
    assert "nofile: ValueError" in log
    assert "affinity: PermissionError" in log and "cpus [" in log
    assert len(eval(log.split("cpus ", 1)[1].splitlines()[0])) == 1  # noqa: S307
    assert "fork: BlockingIOError" in log
    children = int(log.split("children ", 1)[1].split()[0])
    assert children < LIMITS.processes
    assert "/tmp before: []" in log and "/dev/shm before: []" in log


def test_nothing_is_left_behind(graded):
    _, _, _, base = graded
    for place in ("/tmp", "/dev/shm"):
        assert not any(
            (Path(place) / name).exists() and name == "left-behind"
            for name in os.listdir(place)
        )
    leftovers = []
    for name in os.listdir("/proc"):
        try:
            if name.isdigit() and b"sleep\x0030" in Path(f"/proc/{name}/cmdline").read_bytes():
                leftovers.append(name)
        except OSError:
            pass
    assert not leftovers
    assert not list((base / "tmp").iterdir())  # the grader's copies are removed


def test_the_killer_kills_no_one(graded):
    _, results, _, _ = graded
    result = results["killer"]
    # it may kill its own sandbox; never the grader nor a classmate
    assert result.verdict in {"ok", "crashed"}, (result.detail, result.log)
    # graded after the scout left files in its /tmp and /dev/shm: it sees none
    assert "shared /tmp: [] /dev/shm: []" in result.log, result.log


def test_results_are_data_never_markup(graded, tmp_path):
    grading, results, _, _ = graded
    result = results["injection"]
    assert result.verdict == "make_detector() failed"
    csv_path, md_path = write_results(grading, tmp_path)
    markdown = md_path.read_text()
    for forbidden in ("\x1b", "\r", "<img", "<b>"):
        assert forbidden not in markdown
    assert "\x1b" not in csv_path.read_text() and "\r" not in csv_path.read_text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in markdown
    rows = {row["submission"]: row for row in csv.DictReader(csv_path.open())}
    assert "'" + WEIRD_NAME in rows
    assert all(not cell.startswith(("=", "+", "@")) for r in rows.values() for cell in r.values())


def _descendants(pid: int) -> set[int]:
    parents = {}
    for name in os.listdir("/proc"):
        try:
            stat = Path(f"/proc/{name}/stat").read_bytes() if name.isdigit() else b""
        except OSError:
            continue
        if stat:
            parents[int(name)] = int(stat[stat.rfind(b")") + 2 :].split()[1])
    found, frontier = set(), [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found.add(child)
                frontier.append(child)
    return found


def _sandboxed_python(pid: int) -> bool:
    for child in _descendants(pid):
        try:
            if b"sandbox.inside" in Path(f"/proc/{child}/cmdline").read_bytes():
                return True
        except OSError:
            pass
    return False


def test_nothing_outlives_a_killed_grader(tmp_path):
    """The grader killed mid-run (SIGKILL: no clean-up code runs): its sandboxes die."""
    import subprocess

    folder = _submission(tmp_path / "sleeper", "import time\n\ndef make_detector():\n"
                         "    time.sleep(300)\n")
    root = Path(__file__).resolve().parents[1]
    grader = subprocess.Popen(
        [str(root / "scripts" / "grade-submissions"), "--no-yardsticks", "--small",
         "--out", str(tmp_path / "out"), str(folder)],
        env={**os.environ, "PYTHON": sys.executable},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not _sandboxed_python(grader.pid):
        time.sleep(0.5)
    time.sleep(5.0)  # make_detector() is sleeping now
    inside = _descendants(grader.pid)
    assert _sandboxed_python(grader.pid)  # bwrap and the sandboxed python
    grader.kill()
    grader.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in inside):
        time.sleep(0.2)
    alive = [p for p in inside if Path(f"/proc/{p}/stat").exists()
             and b") Z" not in Path(f"/proc/{p}/stat").read_bytes()]
    assert not alive, (inside, alive)
