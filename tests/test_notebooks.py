"""The notebooks' conventions (CONTRIBUTING.md), checked over every notebook of the
book.

nbval executes the notebooks; these tests check what execution cannot: that each
notebook is in the table of contents, is committed without outputs, installs optbook on
Colab (and only there) from the repository URL of _config.yml at the version of
pyproject.toml (tag v<version>; the solution chapter installs the instructors' package
too), is seeded, picks its device, and has exercises with dropdown solutions.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from unittest import mock

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
REPOSITORY_URL = CONFIG["repository"]["url"]
sys.path.insert(0, str(ROOT / "scripts"))
import book_tools  # noqa: E402  (scripts/book_tools.py: the first cell the fork script writes)

VERSION = book_tools.book_version(ROOT)
# The students' release (scripts/release-students) sets hide_solutions and has none.
STUDENTS_EDITION = CONFIG["sphinx"]["config"].get("hide_solutions", False)


def toc_files(entries):
    for entry in entries:
        if "file" in entry:
            yield entry["file"]
        yield from toc_files(entry.get("chapters", []) + entry.get("sections", []))


TOC_FILES = [TOC["root"], *toc_files(TOC["parts"])]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def markdown(nb) -> str:
    return "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")


def test_there_are_notebooks():
    assert NOTEBOOKS, "chapters/ holds no notebook"


def test_every_toc_entry_exists():
    missing = [
        f
        for f in TOC_FILES
        if not any((ROOT / f"{f}{ext}").exists() for ext in (".ipynb", ".md"))
    ]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_in_the_toc(path):
    assert f"chapters/{path.stem}" in TOC_FILES, (
        f"{path.name} is not listed in _toc.yml"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_no_outputs(path):
    stored = [
        i
        for i, cell in enumerate(code_cells(read(path)))
        if cell.outputs or cell.execution_count
    ]
    assert not stored, (
        f"{path.name}: code cells {stored} carry outputs; run scripts/clear-outputs"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_kernel_is_python3(path):
    assert read(path).metadata.get("kernelspec", {}).get("name") == "python3"


def colab_install(source: str, name: str, on_colab: bool) -> list | None:
    """Run a first cell with subprocess.run mocked: the pip command it runs, or None."""
    modules = {"google.colab": types.ModuleType("google.colab")} if on_colab else {}
    with mock.patch("subprocess.run") as run, mock.patch.dict(sys.modules, modules):
        if not on_colab:
            sys.modules.pop("google.colab", None)
        exec(compile(source, name, "exec"), {})
    if not run.called:
        return None
    assert run.call_count == 1, (
        f"{name}: the first cell runs pip once, not {run.call_count}x"
    )
    assert run.call_args.kwargs.get("check") is True, (
        f"{name}: pip's failure must stop it"
    )
    return run.call_args.args[0]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_installs_the_pinned_optbook_only_on_colab(path):
    first = code_cells(read(path))[0].source
    wide = [line for line in first.splitlines() if len(line) > book_tools.MAX_COLUMNS]
    assert not wide, f"{path.name}: first cell lines wider than 88 columns: {wide}"
    assert '"google.colab" in sys.modules' in first
    assert colab_install(first, path.name, on_colab=False) is None, (
        f"{path.name}: outside Colab the first cell must do nothing"
    )
    command = colab_install(first, path.name, on_colab=True)
    assert command is not None, (
        f"{path.name}: on Colab the first cell must install optbook"
    )
    pinned = f"git+{REPOSITORY_URL}@v{VERSION}"
    expected = [f"optbook @ {pinned}"]
    if book_tools.is_solution_chapter(path):  # instructors: their package too
        expected.append(f"optbook-solution @ {pinned}#subdirectory=instructor")
    assert command[1:5] == ["-m", "pip", "install", "-q"], f"{path.name}: {command}"
    assert command[5:] == expected, (
        f"{path.name}: the first cell must install {expected} (the URL of _config.yml "
        "at "
        f"the version of pyproject.toml), not {command[5:]}: run scripts/fork-for-class"
    )
    assert first == book_tools.first_cell(
        REPOSITORY_URL, VERSION, instructor=book_tools.is_solution_chapter(path)
    ), (
        f"{path.name}: the first cell differs from what scripts/fork-for-class "
        "writes; run it"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_seeded_and_picks_its_device(path):
    second = code_cells(read(path))[1].source
    assert "seed_everything(" in second, (
        f"{path.name}: the second code cell must call seed_everything"
    )
    assert "pick_device(" in second, (
        f"{path.name}: the second code cell must call pick_device"
    )


# The homework is the exercise of its part: it has tasks, not exercises with solutions.
WITHOUT_EXERCISES = {"homework", "homework_solution"}


def chapter_pages(entries):
    """Each chapter of _toc.yml with its section pages: a chapter split over several
    pages keeps its exercises on any of them."""
    for entry in entries:
        if "file" in entry:
            yield entry["file"], [entry["file"], *toc_files(entry.get("sections", []))]
        else:
            yield from chapter_pages(entry.get("chapters", []))


CHAPTERS = {
    Path(name).name: [ROOT / f"{page}.ipynb" for page in pages]
    for name, pages in chapter_pages(TOC["parts"])
    if (ROOT / f"{name}.ipynb").exists()
}


@pytest.mark.parametrize(
    "path",
    [ROOT / "chapters" / f"{name}.ipynb" for name in CHAPTERS
     if name not in WITHOUT_EXERCISES],
    ids=lambda p: p.name,
)
def test_exercises_have_dropdown_solutions(path):
    pages = [page for page in CHAPTERS[path.stem] if page.exists()]
    text = "\n".join(markdown(read(page)) for page in pages)
    exercises = re.findall(r"```\{exercise\}[^\n]*\n:label: (\S+)", text)
    solutions = re.findall(r"```\{solution\} (\S+)\n((?::[^\n]*\n)*)", text)
    assert len(exercises) >= 3, (
        f"{path.name}: {len(exercises)} exercises, at least 3 expected"
    )
    if STUDENTS_EDITION:  # scripts/release-students removed every solution
        assert "{solution" not in text, f"{path.name}: a solution, students' edition"
        return
    solved = {label for label, _ in solutions}
    assert set(exercises) <= solved, (
        f"{path.name}: exercises without a solution: {set(exercises) - solved}"
    )
    assert all(":class: dropdown" in options for _, options in solutions), (
        f"{path.name}: every solution is a dropdown"
    )
