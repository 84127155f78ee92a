"""Every command of INSTRUCTORS.md, as written, on a fresh clone of this repository.

The clone is ``git clone`` of this repository (with the working tree's uncommitted
changes laid over it, so that what is tested is what would be committed), with no
``.venv`` and no ``_build``. Each command runs exactly as the guide writes it, in the
order an instructor follows, except where it needs GitHub (the clone of the book's URL
is a clone of this repository; ``git push`` is not run). Before each command ``.venv``
is removed: the command must set it up itself (``scripts/setup``). Setting up is not
what is tested here (``scripts/test`` installs the students' release into a new
environment for that): ``PYTHON`` points ``scripts/setup`` at an interpreter whose
``-m venv .venv`` links the environment running these tests, already set up.

What keeps it cheap: the clone's release and handouts reuse this book's execution
cache (``_build/.jupyter_cache``, if ``scripts/build-book`` or ``scripts/test`` made
it): no notebook whose code the book ran already is executed again. There is no full
HTML in the clone, so the leak checks run as on a fresh clone. ``scripts/test`` runs
this file as its own step, after the book and the release are built.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import book_tools as bt  # noqa: E402
import check_release  # noqa: E402

GUIDE = ROOT / "INSTRUCTORS.md"
BOOK_URL = "https://github.com/optbook/adaptive-optimizers-book"
FORK_URL = "https://github.com/my-course/my-course-book"
STUDENTS_URL = "https://github.com/my-course/students"
VERSION = bt.book_version(ROOT)
# The guide's commands that need GitHub: not run here.
NOT_RUN = ("git push", "&& git push")
TIMES: dict[str, float] = {}


def guide_commands() -> list[str]:
    """The commands of the guide's ```bash blocks, continuation lines joined, without
    their comments."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", GUIDE.read_text(), re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(re.sub(r"\s+", " ", line))
    return commands


COMMANDS = guide_commands()


def command(start: str) -> str:
    """The guide's command that starts with ``start`` (exactly one)."""
    found = [c for c in COMMANDS if c.startswith(start)]
    assert len(found) == 1, f"INSTRUCTORS.md: {len(found)} commands start {start!r}"
    return found[0]


def stamp() -> str:
    lists = ["requirements.txt", "pyproject.toml", "instructor/pyproject.toml"]
    digest = hashlib.sha256(b"".join((ROOT / f).read_bytes() for f in lists))
    return f".installed-{digest.hexdigest()[:16]}"


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """A fresh clone (no .venv, no _build), and how to run a command in it."""
    if not (Path(sys.prefix) / stamp()).exists():
        pytest.skip("the environment running the tests is not set up: scripts/setup")
    base = tmp_path_factory.mktemp("guide")
    clone = base / "my-course-book"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    overlay_working_tree(clone)
    shim = base / "python3"
    shim.write_text(
        "#!/bin/sh\n"
        f'if [ "$1 $2" = "-m venv" ]; then echo "$3" >> {base}/venvs;'
        f' exec ln -s {sys.prefix} "$3"; fi\n'
        f'exec {sys.executable} "$@"\n'
    )
    shim.chmod(0o755)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "OPTBOOK"))
    }
    env.update(
        {
            f"GIT_{who}_{what}": value
            for who in ("AUTHOR", "COMMITTER")
            for what, value in (("NAME", "Instructor"), ("EMAIL", "i@example.org"))
        },
        PYTHONPATH=f"{clone}/code:{clone}/instructor",
        PYTHONHASHSEED="0",
        OMP_NUM_THREADS="1",
    )

    def run(line: str, cwd: Path = clone, setup: bool = True, timeout: int = 1200):
        """Run one line of the guide; with ``setup``, .venv is removed first and the
        line must set it up again."""
        venv = clone / ".venv"
        if setup and venv.is_symlink():
            venv.unlink()
        before = venvs(base)
        t0 = time.monotonic()
        done = subprocess.run(
            ["bash", "-c", line],
            cwd=cwd,
            env={**env, "PYTHON": str(shim)} if setup else env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        TIMES[line] = time.monotonic() - t0
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"{line}\n{output[-4000:]}"
        if setup:
            assert venvs(base) == before + 1, f"{line}: did not set up .venv"
        return output

    return clone, run


def venvs(base: Path) -> int:
    log = base / "venvs"
    return len(log.read_text().split()) if log.exists() else 0


def overlay_working_tree(clone: Path) -> None:
    """Lay the working tree's uncommitted changes over the clone; reuse the book's
    execution cache."""
    listed = subprocess.run(
        ["git", "ls-files", "-m", "-o", "-d", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    for rel in filter(None, set(listed)):
        src, dst = ROOT / rel, clone / rel
        if src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
        elif dst.exists():
            dst.unlink()
    subprocess.run(["git", "add", "-A"], cwd=clone, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
         "--allow-empty", "-m", "the working tree"],
        cwd=clone,
        check=True,
    )  # fmt: skip
    # The book's execution cache (its first cells differ from the fork's: they are
    # matched without them, as the release matches the students' notebooks).
    for cache in ("_build/.jupyter_cache", "_build/students/_build/.jupyter_cache"):
        if (ROOT / cache).is_dir():
            shutil.copytree(ROOT / cache, clone / "_build" / ".jupyter_cache")
            break


def test_the_guide_names_only_commands_tested_here():
    """Each command of the guide is run below (or needs GitHub): a new command in the
    guide fails here until it is tested."""
    tested = (
        f"git clone {BOOK_URL}",
        "cd my-course-book",
        "scripts/fork-for-class --repo-url",
        "git commit -am",
        "scripts/release-students --repo-url",
        "cd _build/students/repo",
        "git init -b main",
        f"git tag v{VERSION}",
        "git remote add origin",
        "scripts/handout chapters/adam.ipynb --no-solutions",
        "scripts/handout chapters/adam.ipynb --solutions",
        "scripts/build-page --no-solutions chapters/adam.ipynb",
        "scripts/setup",
        "scripts/grade-submissions",
    )
    untested = [c for c in COMMANDS if not c.startswith(tested)]
    assert not untested, f"INSTRUCTORS.md commands without a test: {untested}"
    for start in tested:
        assert command(start)


def test_fork_for_class(book):
    """Section 1: the fork points every first cell and _config.yml at its URL."""
    clone, run = book
    assert command(f"git clone {BOOK_URL}") == f"git clone {BOOK_URL} my-course-book"
    output = run(command("scripts/fork-for-class"))
    assert f"repository.url = {FORK_URL}" in output
    assert bt.repository_url(clone) == FORK_URL
    for path in (clone / "chapters").glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "code").source
        assert f"git+{FORK_URL}@v{VERSION}" in first, path.name
    commit = command("git commit -am")
    assert commit.endswith("&& git push")
    run(commit.removesuffix(" && git push"), setup=False)


@pytest.fixture(scope="module")
def release(book):
    """Section 2: the students' release, on the fork, with no full book built."""
    clone, run = book
    assert not (clone / "_build" / "html").exists()
    output = run(command("scripts/release-students"))
    return clone / "_build" / "students", output


def test_the_release_is_made_and_checked_without_a_full_build(release):
    out, output = release
    assert "check_release: no leak" in output, output[-3000:]
    assert "search terms not checked" not in output
    html = out / "_build" / "html"
    assert (html / "chapters" / "homework.html").is_file()
    assert not list(html.rglob("homework_solution*"))
    repo = out / "repo"
    assert not (repo / "instructor").exists()
    config = yaml.safe_load((repo / "_config.yml").read_text())
    assert config["repository"]["url"] == STUDENTS_URL
    readme = (repo / "README.md").read_text()
    assert "https://my-course.github.io/students/" in readme
    assert "chapters/homework.ipynb" in readme and "scripts/grade-submissions" in readme


def test_the_students_repository_is_published_and_a_rerun_keeps_its_git(book, release):
    """Section 2, publishing: git init, commit, tag in the release's folder; the
    guide's next release is made the same way and keeps that .git."""
    clone, run = book
    out, _ = release
    repo = out / "repo"
    assert command("cd _build/students/repo") == "cd _build/students/repo"
    for start in ("git init -b main", f"git tag v{VERSION}", "git remote add origin"):
        line = command(start)
        run(line.removesuffix(" && git push -u origin main --tags"), repo, setup=False)
    log = subprocess.run(
        ["git", "log", "--oneline"], cwd=repo, capture_output=True, text=True
    )
    assert f"Students' release v{VERSION}" in log.stdout
    head = (repo / ".git" / "HEAD").read_text()
    (repo / "stale-file.txt").write_text("from an older release")
    run(command("scripts/release-students").replace(" \\\n", " ") + " --no-build")
    assert (repo / ".git" / "HEAD").read_text() == head
    assert not (repo / "stale-file.txt").exists()
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True
    )
    assert status.stdout == "", status.stdout  # the same release: nothing to commit


def test_handouts_with_and_without_solutions(book):
    """Section 4: a handout of each kind; without solutions it is checked (no false
    alarm from a page built alone); with them, the checker finds every solution of
    the chapter in the page (it is not blind to a page built alone)."""
    clone, run = book
    without = run(command("scripts/handout chapters/adam.ipynb --no-solutions"))
    assert "check_release: no leak" in without
    out = clone / "_build" / "handouts" / "adam-without-solutions"
    assert (out / "adam.ipynb").is_file()
    assert (out / "html" / "_build" / "html" / "chapters" / "adam.html").is_file()
    run(command("scripts/handout chapters/adam.ipynb --solutions"))
    out = clone / "_build" / "handouts" / "adam-with-solutions"
    page = out / "html" / "_build" / "html" / "chapters" / "adam.html"
    nb = nbformat.read(clone / "chapters" / "adam.ipynb", as_version=4)
    blocks = sum(
        len(check_release.split_solutions(c.source)[0])
        for c in nb.cells
        if c.cell_type == "markdown"
    )
    assert blocks > 0
    leaks, _ = check_release.check([page], check_release.Fingerprints(clone))
    found = {
        leak.rsplit(" in ", 1)[1] for leak in leaks if "text of the solution" in leak
    }
    assert len({f for f in found if f.startswith("chapters/adam.ipynb")}) == blocks
    run(command("scripts/build-page --no-solutions chapters/adam.ipynb"))


def test_grading(book):
    """Section 5: the grading command, after the one line the guide says to run
    first on a fresh clone."""
    clone, run = book
    run(command("scripts/setup"))
    line = command("scripts/grade-submissions")
    assert shlex.split(line)[0] == "scripts/grade-submissions"
    output = run("scripts/grade-submissions --help", setup=False)
    assert "--seed-file" in output


def test_zz_report_times():
    """The time of each command (shown with pytest -s)."""
    for line, seconds in TIMES.items():
        print(f"{seconds:6.1f} s  {line}")
