"""Make the students' release: a repository folder without solutions, and its HTML.

    scripts/release-students --repo-url URL [--out DIR] [--no-build] [--no-check]

1. ``DIR/repo``: the book's files (git's tracked and untracked-but-not-ignored files)
   less everything instructors keep to themselves: the solution chapters
   (``SOLUTION_CHAPTERS`` of ``scripts/book_tools.py``), ``instructor/`` (the package
   ``optbook_solution``), the instructors' guide, every test, benchmark or script that
   imports ``optbook_solution``, and the release tooling; every ``{solution}`` block
   removed from the notebooks; the first cell of every notebook installing from URL at
   the book's version; ``_config.yml`` with URL and the students' wording, ``_toc.yml``
   without the solution chapters, a students' README. This is the folder a course
   publishes as its students' repository.
2. ``DIR/_build/html``: the book built from ``DIR/repo`` (strict, like the full book),
   so its downloads and ``_sources`` are those solution-free notebooks and its launch
   and repository buttons open URL. Notebooks whose code is the full book's are not
   executed again: their outputs are taken from the full book's execution cache (the
   only code that differs, the first cell, does nothing outside Colab).
3. ``scripts/check_release.py`` over both: it fails if any solution text is found.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import book_tools as bt  # noqa: E402

ROOT = bt.ROOT
# The students' repository's own workflow (its README's test command, then its book on
# GitHub Pages): scripts/students-book.yml, written as WORKFLOW, the instructors' one.
STUDENTS_WORKFLOW = "scripts/students-book.yml"
WORKFLOW = ".github/workflows/book.yml"
# Instructors' files: never in the students' release.
INSTRUCTOR_ONLY = (
    "instructor/",
    "INSTRUCTORS.md",
    "scripts/release-students",
    "scripts/handout",
    "scripts/release.py",
    "scripts/check_release.py",
    "tests/test_release",
    "tests/test_instructor_guide",
    STUDENTS_WORKFLOW,
)
# The values of intro.md's substitutions in the students' edition (see _config.yml).
STUDENTS_WORDING = {
    "edition_exercises": "Every chapter ends with exercises.",
    "edition_homework": "",
}
IMPORTS_SOLUTION = re.compile(r"^\s*(from|import)\s+optbook_solution\b", re.MULTILINE)

STUDENTS_README = """\
# {title}

The students' repository of the course book *{title}*: every chapter as a Jupyter
notebook (`chapters/`), the book's package `optbook` (`code/optbook/`) with its tests,
and the homework. The exercises' solutions and the homework's reference solution are not
part of it.

**Read the book**: {site}

## The homework

The homework is {homework}: it says what to hand in (one folder), what your code may
use, and how the work is marked (the weight of each part and of the report). Your
instructor grades every submission with `scripts/grade-submissions`, on a private seed,
each in an isolated process; the same tool is in this repository, so run it on your own
folder before you hand it in (its options: `scripts/grade-submissions --help`):

```bash
scripts/setup                                              # once (see below)
scripts/grade-submissions --part A chapters/my_recipe/     # Part A: your recipe
scripts/grade-submissions --part B chapters/my_detector/   # Part B: your detector
scripts/grade-submissions chapters/my_submission/          # the warm-up
```

The results, with your rung and its points, are in `grading-results/`.

## On Colab

Open a chapter of the book, use the rocket icon at the top and choose *Colab*. The first
cell of each notebook installs `optbook` from this repository, at the book's version
(tag `v{version}`).

## On your machine (Python 3.10 or newer)

```bash
git clone {url}
cd {name}
scripts/setup                    # once: the environment .venv (a few minutes)
scripts/build-book               # execute the notebooks, build the book: _build/html
.venv/bin/jupyter lab chapters/  # work on the notebooks (as root: add --allow-root)
scripts/test --quick             # ruff and the unit tests (a few minutes)
scripts/test                     # every test: all notebooks, the build, each page
```

Each command sets up `.venv` itself if `scripts/setup` has not run yet. The last one
also opens every page in Chromium (Debian's `chromium`: `.ci/run` installs it).
How to write or change a chapter: `CONTRIBUTING.md`.
"""

# What a re-run of the release keeps in its output folder: the git repository that the
# guide tells instructors to make there, the environment of the release's own checks.
KEPT = (".git", ".venv")


def run(cmd: list[str], **kwargs) -> str:
    return subprocess.run(
        cmd, check=True, capture_output=True, text=True, **kwargs
    ).stdout


def book_files(root: Path) -> list[str]:
    listed = run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=root
    )
    return sorted(f for f in set(listed.split("\n")) if f and (root / f).is_file())


def students_only(rel: str, text: str | None) -> tuple[bool, str]:
    """(keep the file?, why not)."""
    if rel.startswith(INSTRUCTOR_ONLY):
        return False, "instructors only"
    if bt.is_solution_chapter(rel):
        return False, "solution chapter"
    if text is not None and IMPORTS_SOLUTION.search(text):
        if rel.startswith(("tests/", "benchmarks/", "scripts/")):
            return False, "needs optbook_solution"
        raise SystemExit(
            f"{rel} imports optbook_solution, the instructors' package: the students' "
            "release cannot hold it. Move that code to instructor/ or drop the import."
        )
    return True, ""


def config_for_students(text: str, url: str) -> str:
    config = yaml.safe_load(text)
    config["title"] = f"{config['title']} (students' edition)"
    config["repository"]["url"] = url
    config["sphinx"]["config"]["hide_solutions"] = (
        True  # none left; hidden all the same
    )
    subs = config.setdefault("parse", {}).setdefault("myst_substitutions", {})
    subs.update(STUDENTS_WORDING)
    header = (
        "# The students' edition: scripts/release-students wrote it from the book.\n"
    )
    return header + yaml.safe_dump(
        config, sort_keys=False, allow_unicode=True, width=100
    )


def toc_for_students(text: str) -> str:
    toc = yaml.safe_load(text)

    def keep(entries):
        kept = []
        for entry in entries:
            if "file" in entry and bt.is_solution_chapter(entry["file"]):
                continue
            for key in ("chapters", "sections"):
                if key in entry:
                    entry[key] = keep(entry[key])
            kept.append(entry)
        return kept

    toc["parts"] = [p for p in keep(toc["parts"]) if p.get("chapters")]
    return yaml.safe_dump(toc, sort_keys=False)


def clear(out: Path) -> None:
    """Empty ``out`` but for what a re-run keeps (``KEPT``)."""
    out.mkdir(parents=True, exist_ok=True)
    for path in out.iterdir():
        if path.name in KEPT:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def homework_chapters(root: Path) -> str:
    """The homework's chapters for the students' README: "the chapter *Title*
    (`chapters/homework.ipynb`)", from _toc.yml and each notebook's first heading."""
    found = []
    for rel in toc_files(yaml.safe_load((root / "_toc.yml").read_text())):
        name = Path(rel).name
        if not name.startswith("homework") or bt.is_solution_chapter(rel):
            continue
        path = root / f"{rel}.ipynb"
        title = name
        if path.is_file():
            for cell in nbformat.read(path, as_version=4).cells:
                heading = re.search(r"^# (.+)$", cell.source, re.MULTILINE)
                if cell.cell_type == "markdown" and heading:
                    title = heading[1].strip()
                    break
        found.append(f"the chapter *{title}* (`{rel}.ipynb`)")
    if not found:
        raise SystemExit("_toc.yml lists no homework chapter (chapters/homework*)")
    return " and ".join(found)


def toc_files(toc: dict) -> list[str]:
    """The files of a _toc.yml, in order."""

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                yield entry["file"]
            yield from walk(entry.get("chapters", []) + entry.get("sections", []))

    return list(walk(toc.get("parts", [])))


def make_repo(out: Path, url: str, site: str | None) -> dict:
    """Write the students' repository into ``out``; return what it did."""
    clear(out)
    version = bt.book_version(ROOT)
    left_out: dict[str, str] = {}
    solutions = 0
    for rel in book_files(ROOT):
        src = ROOT / rel
        try:
            text = src.read_text()
        except UnicodeDecodeError:
            text = None
        keep, why = students_only(rel, text)
        if not keep:
            left_out[rel] = why
            continue
        dst = out / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if rel.startswith("chapters/") and rel.endswith(".ipynb"):
            nb = nbformat.reads(text, as_version=4)
            solutions += bt.strip_notebook_solutions(nb)
            bt.set_first_cell(nb, bt.first_cell(url, version))
            bt.clear_outputs(nb)
            nbformat.write(nb, dst)
        elif rel.startswith("chapters/") and rel.endswith(".md"):
            stripped, n = bt.strip_solutions(text)
            solutions += n
            dst.write_text(stripped)
        elif rel == "_config.yml":
            dst.write_text(config_for_students(text, url))
        elif rel == "_toc.yml":
            dst.write_text(toc_for_students(text))
        elif rel == WORKFLOW:
            shutil.copy2(ROOT / STUDENTS_WORKFLOW, dst)
        elif rel == "README.md":
            config = yaml.safe_load((ROOT / "_config.yml").read_text())
            name = url.rstrip("/").rsplit("/", 1)[-1]
            dst.write_text(
                STUDENTS_README.format(
                    title=config["title"],
                    url=url,
                    name=name,
                    version=version,
                    site=site or "(the course gives the address of its site)",
                    homework=homework_chapters(ROOT),
                )
            )
        else:
            shutil.copy2(src, dst)
    return {"left_out": left_out, "solutions": solutions, "version": version}


def prefill_cache(repo: Path, cache_dir: Path) -> tuple[int, int]:
    """Cache, for the release's notebooks, the outputs of the full book's executed
    notebooks whose code is the same but for the first cell (which does nothing outside
    Colab, and differs: it installs from the students' repository)."""
    full_dir = ROOT / "_build" / ".jupyter_cache"
    paths = sorted((repo / "chapters").glob("*.ipynb"))
    reused = sum(bt.reuse_outputs(path, cache_dir, full_dir) for path in paths)
    return reused, len(paths)


def build(repo: Path, out: Path, commit: str) -> Path:
    """Build the students' HTML from ``repo`` into ``out/_build/html`` (strict)."""
    cache = out / "_build" / ".jupyter_cache"
    cache.parent.mkdir(parents=True, exist_ok=True)
    reused, tried = prefill_cache(repo, cache)
    print(
        f"release: outputs of {reused} of {tried} notebooks taken from the full book's "
        "cache"
    )
    env = dict(os.environ)
    # The kernels import the release's own optbook; optbook_solution cannot be imported.
    block = out / "_build" / "no-solution"
    (block / "optbook_solution").mkdir(parents=True, exist_ok=True)
    (block / "optbook_solution" / "__init__.py").write_text(
        'raise ImportError("optbook_solution is not part of the students\' release")\n'
    )
    env["PYTHONPATH"] = os.pathsep.join(
        [str(block), str(repo / "code"), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    env["OPTBOOK_BOOK_COMMIT"] = commit
    jb = Path(sys.executable).parent / "jupyter-book"
    cmd = [
        str(jb),
        "build",
        "-W",
        "-n",
        "--keep-going",
        str(repo),
        "--path-output",
        str(out),
    ]
    log = out / "_build" / "build.log"
    with open(log, "w") as handle:
        status = subprocess.run(cmd, env=env, stdout=handle, stderr=subprocess.STDOUT)
    problems = [
        line
        for line in log.read_text().splitlines()
        if re.search(r"(WARNING|ERROR|CRITICAL):|Traceback", line)
    ]
    print("\n".join(problems))
    if status.returncode or problems:
        raise SystemExit(
            f"release: the students' book did not build cleanly; see {log}"
        )
    return out / "_build" / "html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repo-url",
        required=True,
        help="the students' repository (https), where DIR/repo will be published",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "students")
    parser.add_argument("--site", help="the students' site address, for their README")
    parser.add_argument("--no-build", action="store_true", help="the folder only")
    parser.add_argument("--no-check", action="store_true", help="skip the leak check")
    args = parser.parse_args(argv)
    try:
        url = bt.check_url(args.repo_url)
    except ValueError as error:
        parser.error(str(error))
    out = args.out.resolve()
    if out == ROOT or ROOT.is_relative_to(out):
        parser.error(f"--out {out} would overwrite the book itself")
    repo = out / "repo"
    done = make_repo(repo, url, args.site)
    print(
        f"release: {repo} ({len(done['left_out'])} files left out, {done['solutions']} "
        f"solution blocks removed, first cells install from {url}@v{done['version']})"
    )
    for rel, why in sorted(done["left_out"].items()):
        print(f"  left out {rel}: {why}")
    checked = [repo]
    if not args.no_build:
        html = build(repo, out, bt.commit_of(ROOT))
        checked.append(html)
        print(f"release: students' HTML {html}/index.html")
    if args.no_check:
        return 0
    import check_release

    full_html = ROOT / "_build" / "html"
    executed = out / "_build" / "executed"  # the release's notebooks, as built
    if not args.no_build:
        bt.write_executed(
            sorted((repo / "chapters").glob("*.ipynb")),
            out / "_build" / ".jupyter_cache",
            executed,
        )
    return check_release.main(
        [*map(str, checked)]
        + (["--full-html", str(full_html)] if full_html.is_dir() else [])
        + (["--executed", str(executed)] if not args.no_build else [])
    )


if __name__ == "__main__":
    sys.exit(main())
