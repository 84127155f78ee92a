"""The notebooks' conventions (CONTRIBUTING.md), checked over every notebook of the book.

nbval executes the notebooks; these tests check what execution cannot: that each notebook is
in the table of contents, is committed without outputs, installs optbook on Colab (and only
there) from the repository URL of _config.yml, is seeded, picks its device, and has exercises
with dropdown solutions.
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
    missing = [f for f in TOC_FILES if not any((ROOT / f"{f}{ext}").exists() for ext in (".ipynb", ".md"))]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_in_the_toc(path):
    assert f"chapters/{path.stem}" in TOC_FILES, f"{path.name} is not listed in _toc.yml"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_no_outputs(path):
    stored = [i for i, cell in enumerate(code_cells(read(path))) if cell.outputs or cell.execution_count]
    assert not stored, f"{path.name}: code cells {stored} carry outputs; run scripts/clear-outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_kernel_is_python3(path):
    assert read(path).metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_installs_optbook_only_on_colab(path):
    first = code_cells(read(path))[0].source
    urls = re.findall(r"git\+(https://[^\s\"']+)", first)
    assert urls == [REPOSITORY_URL], f"{path.name}: the first code cell must install from {REPOSITORY_URL}, found {urls}"
    assert '"google.colab" in sys.modules' in first

    with mock.patch("subprocess.run") as run:  # outside Colab: nothing happens
        sys.modules.pop("google.colab", None)
        exec(compile(first, path.name, "exec"), {})
        run.assert_not_called()
    with mock.patch("subprocess.run") as run, mock.patch.dict(sys.modules, {"google.colab": types.ModuleType("google.colab")}):
        exec(compile(first, path.name, "exec"), {})  # on Colab: pip installs from the repository
        run.assert_called_once()
        assert f"git+{REPOSITORY_URL}" in run.call_args.args[0]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_seeded_and_picks_its_device(path):
    second = code_cells(read(path))[1].source
    assert "seed_everything(" in second, f"{path.name}: the second code cell must call seed_everything"
    assert "pick_device(" in second, f"{path.name}: the second code cell must call pick_device"


# The homework is the exercise of its part: it has tasks, not exercises with solutions.
WITHOUT_EXERCISES = {"homework", "homework_solution"}


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.stem not in WITHOUT_EXERCISES], ids=lambda p: p.name)
def test_exercises_have_dropdown_solutions(path):
    text = markdown(read(path))
    exercises = re.findall(r"```\{exercise\}[^\n]*\n:label: (\S+)", text)
    solutions = re.findall(r"```\{solution\} (\S+)\n((?::[^\n]*\n)*)", text)
    assert len(exercises) >= 3, f"{path.name}: {len(exercises)} exercises, at least 3 expected"
    solved = {label for label, _ in solutions}
    assert set(exercises) <= solved, f"{path.name}: exercises without a solution: {set(exercises) - solved}"
    assert all(":class: dropdown" in options for _, options in solutions), f"{path.name}: every solution is a dropdown"
