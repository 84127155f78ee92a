"""Tests of optbook.homework.submissions: the contract, the isolation, the grading tool.

One class of submissions (honest, adversarial, broken) is graded once, on a tiny
protocol, and every test reads its verdicts. The adversaries (``submissions_data/
hunters.py``) hunt for the bits or the seed through the call stack, the garbage
collector, the environment and the files and processes around them; in-process they
find the answer (proof that they work), in the grading tool they find nothing.
"""

from __future__ import annotations

import csv
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from optbook.homework.grading import NearestPointDetector, grade
from optbook.homework.submissions import (
    DETECTOR_TEMPLATE,
    FRESH_UID_BASE,
    Limits,
    Protocol,
    _read_seed,
    check_submission,
    grade_submissions,
    write_results,
    write_submission,
)

ROOT = Path(__file__).resolve().parents[1]
HUNTERS = Path(__file__).with_name("submissions_data") / "hunters.py"
TINY = Protocol(num_points=5, target_standard_error=2e-3)
TINY_KW = {"num_points": 5, "low_db": -20.0, "high_db": 20.0, "symbols_per_frame": 256}
SEED = 8_123_456_789_012  # distinctive: the hunters must not find it anywhere
IS_ROOT = os.geteuid() == 0

# a reference-size, frame-aware network (the solution's architecture), random weights
FRAME_AWARE = """
from pathlib import Path

import torch
from torch import nn


class FrameAware(nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 2))

    def forward(self, received):
        power = (received.real ** 2 + received.imag ** 2).mean(1, keepdim=True)
        x = torch.view_as_real(received)
        z = (0.5 * torch.log(power + 1e-12)).unsqueeze(-1).expand_as(x)
        h = self.net(torch.stack((x.abs(), z), dim=-1))
        first = torch.sign(x) * h[..., 0]
        logits = torch.cat((first.unsqueeze(-1), h[..., 1:]), dim=-1)
        return logits.transpose(-1, -2).flatten(-2)


def make_detector():
    model = FrameAware()
    weights = Path(__file__).with_name("weights.pt")
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model
"""

BROKEN = {
    "sleeper": "import time\n\ndef make_detector():\n"
    "    return lambda received: time.sleep(10_000)\n",
    "memory_hog": "import torch\n\ndef make_detector():\n"
    "    return lambda received: torch.ones(1 << 36, dtype=torch.uint8)\n",
    "crasher": "import os\n\ndef make_detector():\n"
    "    return lambda received: os._exit(3)\n",
    "raiser": "def make_detector():\n"
    "    def detector(received):\n"
    "        raise RuntimeError('my bug')\n"
    "    return detector\n",
    "import_error": "import no_such_module_anywhere\n\ndef make_detector():\n"
    "    return None\n",
    "no_make_detector": "def make_model():\n    return None\n",
    "wrong_shape": "import torch\n\ndef make_detector():\n"
    "    return lambda received: torch.zeros(*received.shape, 2)\n",
    "nan_logits": "import torch\n\ndef make_detector():\n"
    "    return lambda received: torch.full((*received.shape, 4), "
    "float('nan'))\n",
}
HUNTS = ("stack", "gc", "environment", "files")

# an honest detector that leaves a daemon behind (double fork, new session)
DAEMON = """
import os

from optbook.homework.grading import NearestPointDetector


def make_detector():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv("/bin/sleep", ["sleep", "600.0471"])
        os._exit(0)
    os.wait()
    return NearestPointDetector()
"""


def _hunter(folder: Path, where: str, seed_file: Path | None) -> Path:
    path = str(seed_file) if seed_file is not None else None
    folder.mkdir(parents=True)
    shutil.copy(HUNTERS, folder / "hunters.py")
    (folder / "detector.py").write_text(
        "from hunters import Hunter\n\n\ndef make_detector():\n"
        f"    return Hunter({where!r}, {TINY_KW!r}, seed_file={path!r})\n"
    )
    return folder


@pytest.fixture(scope="module")
def frame_aware_weights():
    namespace: dict = {}
    exec(compile(FRAME_AWARE, "detector.py", "exec"), namespace)  # noqa: S102
    torch.manual_seed(0)
    model = namespace["FrameAware"]()
    return model, model.state_dict()


@pytest.fixture(scope="module")
def graded(tmp_path_factory, frame_aware_weights):
    """The class, graded once with the private seed (jobs=2, tiny protocol)."""
    base = tmp_path_factory.mktemp("class")
    secret = base / "secret"
    secret.mkdir(mode=0o700)
    seed_file = secret / "seed"
    seed_file.write_text(f"{SEED}\n")
    seed_file.chmod(0o600)
    folders = [
        write_submission(
            base / "nearest_point",
            "from optbook.homework.grading import NearestPointDetector\n\n"
            "def make_detector():\n    return NearestPointDetector()\n",
        ),
        write_submission(base / "frame_aware", FRAME_AWARE, frame_aware_weights[1]),
    ]
    # the hunters know the seed file's path: it is not in their sandbox's view
    folders += [_hunter(base / f"hunt_{where}", where, seed_file) for where in HUNTS]
    folders.append(write_submission(base / "daemon", DAEMON))
    for name, source in BROKEN.items():
        (base / name).mkdir()
        (base / name / "detector.py").write_text(source)
        folders.append(base / name)
    grading = grade_submissions(
        folders,
        seed=SEED,
        protocol=TINY,
        limits=Limits(time_limit_s=6, memory_limit_mb=3000),
        baseline_steps=40,
        jobs=2,
    )
    return grading, {r.submission: r for r in grading.results}, base


def test_honest_submissions_get_the_in_process_grade(graded, frame_aware_weights):
    grading, results, _ = graded
    samples = TINY.samples(SEED)
    for name, detector in [
        ("nearest_point", NearestPointDetector()),
        ("frame_aware", frame_aware_weights[0]),
    ]:
        result = results[name]
        assert result.verdict == "ok", (name, result.detail, result.log)
        in_process = grade(detector, samples=samples, target_standard_error=2e-3)
        assert abs(result.ber - in_process.ber) <= result.standard_error
        assert result.grade.frames_per_point == in_process.frames_per_point
        assert result.inference_seconds > 0 and result.level is not None
    nearest = grading.yardsticks[0]
    assert nearest.submission == "(nearest point)"
    assert results["nearest_point"].ber == pytest.approx(nearest.ber, abs=1e-12)


@pytest.mark.parametrize("where", HUNTS)
def test_hunters_find_nothing_and_score_no_better_than_nearest_point(graded, where):
    grading, results, _ = graded
    result = results[f"hunt_{where}"]
    assert result.verdict == "ok", (result.detail, result.log)
    assert "FOUND" not in result.log, result.log
    assert str(SEED) not in result.log
    nearest = results["nearest_point"]
    tolerance = 3 * nearest.grade.gap_to_genie_standard_error + 1e-9
    assert result.ber >= nearest.ber - tolerance
    if IS_ROOT:  # the child runs as a fresh user id of its own
        uid = int(result.log.split("uid ", 1)[1].split()[0])
        assert uid >= FRESH_UID_BASE
    if where == "files":  # in its own pid namespace: its only ancestor is its init
        assert "ancestors: [1]" in result.log, result.log
        assert "cannot read" in result.log  # the seed file is not in its view


def test_hunters_do_find_the_answer_when_it_is_in_reach(monkeypatch):
    """In the grader's own process the hunters find the bits or the seed: they work."""
    sys.path.insert(0, str(HUNTERS.parent))
    try:
        import hunters
    finally:
        sys.path.remove(str(HUNTERS.parent))
    settings = {**TINY_KW, "target_standard_error": 2e-3}
    monkeypatch.setenv("GRADING_SEED", "3000000")
    for where in ("stack", "gc", "environment"):
        hunter = hunters.Hunter(where, TINY_KW)
        counted = grade(hunter, seed=3_000_000, estimator="counting", **settings)
        assert counted.ber < 1e-3, where  # every bit right: the answer was found
        # the conditional score cannot be fooled by knowing the bits: a decision is
        # scored by P(wrong | y), and the genie's decisions minimise it
        scored = grade(hunter, seed=3_000_000, **settings)
        assert (
            scored.ber > scored.genie_map_ber - 3 * scored.gap_to_genie_standard_error
        )


@pytest.mark.parametrize(
    ("name", "verdict"),
    [
        ("sleeper", "time limit exceeded"),
        ("memory_hog", "crashed"),
        ("crasher", "crashed"),
        ("raiser", "crashed"),
        ("import_error", "import error"),
        ("no_make_detector", "breaks the contract"),
        ("wrong_shape", "wrong shape"),
        ("nan_logits", "NaN logits"),
    ],
)
def test_broken_submissions_get_their_verdict(graded, name, verdict):
    _, results, _ = graded
    result = results[name]
    assert result.verdict == verdict, (result.detail, result.log)
    assert math.isnan(result.ber)
    if name == "memory_hog":  # one huge allocation: the address space's limit
        assert "may map 3000 MB" in result.detail
    if name == "raiser":
        assert "my bug" in result.detail
    if name == "import_error":
        assert "no_such_module_anywhere" in result.detail


def test_results_are_written_as_csv_and_markdown(graded, tmp_path):
    grading, _, _ = graded
    csv_path, md_path = write_results(grading, tmp_path)
    rows = list(csv.DictReader(csv_path.open()))
    assert list(rows[0]) == [
        "submission",
        "average BER",
        "standard error",
        "gap to genie (BER)",
        "gap to genie (dB at 1e-3)",
        "level",
        "inference time (s)",
        "verdict",
    ]
    names = [row["submission"] for row in rows]
    assert names[:4] == [
        "(nearest point)",
        "(genie MAP)",
        "(per-symbol limit)",
        "(course baseline)",
    ]
    assert "sleeper" in names and len(rows) == 4 + len(grading.results)
    text = md_path.read_text()
    assert f"seed {SEED}" in text and "| nearest\\_point |" in text


def test_write_and_check_a_submission_from_a_notebook(tmp_path):
    model_source = DETECTOR_TEMPLATE
    namespace: dict = {}
    exec(compile(model_source, "detector.py", "exec"), namespace)  # noqa: S102
    model = namespace["MyDetector"]()
    folder = write_submission(tmp_path / "mine", model_source, model.state_dict())
    assert sorted(p.name for p in folder.iterdir()) == ["detector.py", "weights.pt"]
    result = check_submission(folder, seed=12, small=True, level=False)
    assert result.verdict == "ok", (result.detail, result.log)
    assert 0 < result.ber < 1 and "| mine |" in result._repr_markdown_()
    with pytest.raises(ValueError, match="must define make_detector"):
        write_submission(tmp_path / "bad", "x = 1\n")
    with pytest.raises(SyntaxError):
        write_submission(tmp_path / "bad", "def make_detector(:\n")


def test_a_seed_file_others_can_read_is_refused(tmp_path):
    seed_file = tmp_path / "seed"
    seed_file.write_text("77\n")
    seed_file.chmod(0o644)
    with pytest.raises(SystemExit, match="chmod 600"):
        _read_seed(str(seed_file))
    seed_file.chmod(0o600)
    assert _read_seed(str(seed_file)) == 77


def test_the_command_line_tool(tmp_path):
    folder = write_submission(
        tmp_path / "np",
        "from optbook.homework.grading import NearestPointDetector\n\n"
        "def make_detector():\n    return NearestPointDetector()\n",
    )
    seed_file = tmp_path / "seed"
    seed_file.write_text("77\n")
    seed_file.chmod(0o600)
    command = [
        str(ROOT / "scripts" / "grade-submissions"),
        "--small",
        "--no-yardsticks",
        "--out",
        str(tmp_path / "out"),
        "--seed-file",
        str(seed_file),
        str(folder),
    ]
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "seed 77" in (tmp_path / "out" / "results.md").read_text()
    lines = [line.split() for line in done.stdout.splitlines()]
    assert any(line[:1] == ["np"] and line[-1] == "ok" for line in lines), done.stdout


def test_what_a_submission_leaves_running_is_killed(graded):
    """A daemon (double fork, new session) dies with its sandbox's pid namespace."""
    _, results, _ = graded
    result = results["daemon"]
    assert result.verdict == "ok", (result.detail, result.log)
    assert not _processes_with("600.0471")


def _processes_with(marker: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        try:
            if name.isdigit() and marker in Path(f"/proc/{name}/cmdline").read_text():
                found.append(int(name))
        except OSError:
            pass
    return found


PLAIN_SCRIPT = """
from optbook.homework.submissions import check_submission, write_submission

folder = write_submission(
    {folder!r},
    "from optbook.homework.grading import NearestPointDetector\\n\\n"
    "def make_detector():\\n    return NearestPointDetector()\\n",
)
result = check_submission(folder, seed=12)
print("RESULT", result.verdict, result.level, len(result.grade.rows))
"""


def test_check_submission_runs_from_a_plain_script_and_fills_the_level(tmp_path):
    """No ``if __name__ == "__main__":`` needed; the ladder's 81 points; a level."""
    script = tmp_path / "check.py"
    script.write_text(PLAIN_SCRIPT.format(folder=str(tmp_path / "mine")))
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT")][-1]
    assert line == "RESULT ok 2 81", done.stdout  # nearest point: rung 2 of 4
    assert "Traceback" not in done.stderr


def test_weights_from_outside_the_folder_fail_the_check(tmp_path):
    """The check runs a copy of the folder, in the sandbox: as the grade would."""
    model = torch.nn.Linear(2, 4)
    elsewhere = tmp_path / "elsewhere.pt"
    torch.save(model.state_dict(), elsewhere)
    source = (
        "import torch\n\n"
        "def make_detector():\n"
        "    model = torch.nn.Linear(2, 4)\n"
        f"    model.load_state_dict(torch.load({str(elsewhere)!r}))\n"
        "    return lambda received: model(torch.view_as_real(received))\n"
    )
    folder = write_submission(tmp_path / "mine", source)
    result = check_submission(folder, seed=3, level=False)
    assert result.verdict == "make_detector() failed", (result.detail, result.log)
    assert "No such file" in result.detail
