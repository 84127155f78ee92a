"""What the release, handout and fork scripts share: the book's version and repository
URL, the first code cell of every notebook (Colab install cell), and removing solutions.

- :func:`first_cell` writes the Colab install cell: it installs ``optbook`` pinned to
  the book's version (tag ``v<version>`` of ``pyproject.toml``) from the repository URL
  of ``_config.yml``; the homework's solution chapter also installs the instructors'
  package (``#subdirectory=instructor``).
- :func:`strip_solutions` removes every ``{solution}`` block (sphinx-exercise) from a
  notebook's Markdown.

Used by ``scripts/release-students``, ``scripts/handout``, ``scripts/fork-for-class``
and ``tests/test_notebooks.py``.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
# The book's version is read in one place: the Sphinx extension that prints it in every
# page's footer (_ext/book_version.py).
sys.path.insert(0, str(ROOT / "_ext"))
from book_version import project_version  # noqa: E402

MAX_COLUMNS = 88
# The homework's reference solution: the chapters that are solutions as a whole. The
# students' release leaves them out, with every {solution} block of the other chapters.
SOLUTION_CHAPTERS = ("chapters/homework_solution",)


def book_version(root: Path = ROOT) -> str:
    """The book's version: ``project.version`` of ``pyproject.toml``."""
    return project_version((root / "pyproject.toml").read_text())


def repository_url(root: Path = ROOT) -> str:
    """The repository URL: ``repository.url`` of ``_config.yml`` (only there)."""
    return yaml.safe_load((root / "_config.yml").read_text())["repository"]["url"]


def commit_of(root: Path) -> str:
    """The short commit of the book's sources, ``-dirty`` when they differ from it."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "unknown"
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=root).returncode != 0
    return commit + ("-dirty" if dirty else "")


def check_url(url: str) -> str:
    """A repository URL that pip can install from (``git+URL@tag``), or an error."""
    url = url.rstrip("/")
    if url.endswith(".git"):
        url = url[:-4]
    if not re.fullmatch(r"https://[A-Za-z0-9.-]+(/[A-Za-z0-9._~-]+)+", url):
        raise ValueError(
            f"not a repository URL: {url!r}; expected the https address of the "
            "repository, "
            "e.g. https://github.com/my-course/optimizers-book"
        )
    return url


def _string_lines(name: str, value: str, indent: int) -> list[str]:
    """``name = "value"`` in lines of at most MAX_COLUMNS, in pieces if needed."""
    pad = " " * indent
    line = f'{pad}{name} = "{value}"'
    if len(line) <= MAX_COLUMNS:
        return [line]
    room = MAX_COLUMNS - indent - len(name) - 6  # pad name = ("...
    pieces = [value[i : i + room] for i in range(0, len(value), room)]
    lines = [f'{pad}{name} = ("{pieces[0]}"']
    lines += [f'{pad}{" " * (len(name) + 4)}"{piece}"' for piece in pieces[1:]]
    lines[-1] += ")"
    return lines


def first_cell(url: str, version: str, instructor: bool = False) -> str:
    """The source of a notebook's first code cell: on Colab (and only there), install
    optbook from ``url`` at tag ``v<version>``; with ``instructor``, the instructors'
    package too."""
    url = check_url(url)
    spec = f"git+{url}@v{version}"
    if instructor:
        head = [
            "# On Colab, install optbook and the instructors' package (the homework's",
            "# reference solution) at this book's version, from the book's repository.",
        ]
        install = [
            '    subprocess.run([sys.executable, "-m", "pip", "install", "-q",',
            '                    f"optbook @ {url}",',
            '                    f"optbook-solution @ {url}#subdirectory=instructor"],',
            "                   check=True)",
        ]
    else:
        head = [
            "# On Colab, install optbook (the book's shared code) at this book's "
            "version,",
            "# from the book's repository.",
        ]
        install = [
            '    subprocess.run([sys.executable, "-m", "pip", "install", "-q",',
            '                    f"optbook @ {url}"], check=True)',
        ]
    lines = [
        *head,
        "import sys",
        "",
        'if "google.colab" in sys.modules:',
        "    import subprocess",
        "",
        *_string_lines("url", spec, 4),
        *install,
    ]
    too_wide = [line for line in lines if len(line) > MAX_COLUMNS]
    if too_wide:  # only the URL can make a line long, and _string_lines splits it
        raise ValueError(f"first cell wider than {MAX_COLUMNS} columns: {too_wide}")
    return "\n".join(lines)


def is_solution_chapter(path: Path | str) -> bool:
    return Path(path).with_suffix("").as_posix().endswith(SOLUTION_CHAPTERS)


def set_first_cell(nb: nbformat.NotebookNode, source: str) -> bool:
    """Replace the first code cell's source; True if it changed."""
    cell = next(c for c in nb.cells if c.cell_type == "code")
    changed = cell.source != source
    cell.source = source
    return changed


# A fenced directive opens with ``` or ~~~ (3 or more) or ::: (colon_fence), then
# {name}.
_OPEN = re.compile(
    r"^(?P<indent>[ ]{0,3})(?P<fence>`{3,}|~{3,}|:{3,})\s*\{(?P<name>[\w-]+)\}"
)


def strip_solutions(markdown: str) -> tuple[str, int]:
    """Remove every sphinx-exercise solution from MyST Markdown: ``{solution}`` blocks
    and ``{solution-start}`` ... ``{solution-end}`` regions. Returns the text and their
    number."""
    lines = markdown.split("\n")
    out: list[str] = []
    removed = 0
    i = 0
    while i < len(lines):
        match = _OPEN.match(lines[i])
        if not match or match["name"] not in ("solution", "solution-start"):
            out.append(lines[i])
            i += 1
            continue
        removed += 1
        gated = match["name"] == "solution-start"
        i = _skip_block(lines, i, match["fence"])
        if gated:  # everything up to and including the {solution-end} block
            while i < len(lines):
                end = _OPEN.match(lines[i])
                i = _skip_block(lines, i, end["fence"]) if end else i + 1
                if end and end["name"] == "solution-end":
                    break
            else:
                raise ValueError("{solution-start} without {solution-end}")
        while (
            out and out[-1].strip() == "" and i < len(lines) and lines[i].strip() == ""
        ):
            i += 1  # no doubled blank line where the block was
    text = "\n".join(out)
    return text, removed


def _skip_block(lines: list[str], start: int, fence: str) -> int:
    """The index after the fence that closes the block opened at ``start``."""
    char, size = fence[0], len(fence)
    closing = re.compile(rf"^[ ]{{0,3}}{re.escape(char)}{{{size},}}\s*$")
    for j in range(start + 1, len(lines)):
        if closing.match(lines[j]):
            return j + 1
    raise ValueError(f"unclosed {fence}{{solution}} block at line {start + 1}")


def strip_notebook_solutions(nb: nbformat.NotebookNode) -> int:
    """Remove every solution from a notebook's Markdown cells (an emptied cell goes)."""
    removed = 0
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            text, n = strip_solutions(cell.source)
            removed += n
            if n and not text.strip():
                continue
            cell.source = text.strip("\n") if n else cell.source
        cells.append(cell)
    nb.cells = cells
    return removed


def clear_outputs(nb: nbformat.NotebookNode) -> None:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None


_BUNDLES: dict = {}  # executed notebooks read from a cache, by (cache, record)


def reuse_outputs(path: Path, cache_dir: Path, source_dir: Path) -> bool:
    """Give the notebook at ``path`` its outputs in the execution cache ``cache_dir``
    (jupyter-cache, as Jupyter Book keeps it) without executing it, if it is cached
    there already or if ``source_dir`` holds a run of the same code but for the first
    cell, the Colab install cell, which does nothing outside Colab (and produced no
    output in that run). The first cell differs between the book, a fork and the
    students' release (each installs from its own repository). True if cached."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    ours = nbformat.read(path, as_version=4)
    mine = get_cache(cache_dir)
    try:
        mine.match_cache_notebook(ours)
        return True
    except KeyError:
        pass
    if not Path(source_dir).is_dir():
        return False
    source = mine if Path(source_dir) == Path(cache_dir) else get_cache(source_dir)

    def code(nb):
        return [c for c in nb.cells if c.cell_type == "code"]

    ours_code = [c.source for c in code(ours)]
    records = sorted(source.list_cache_records(), key=lambda r: r.created, reverse=True)
    for record in records:  # the newest run of the same code, if any
        key = (str(source_dir), record.pk)
        if key not in _BUNDLES:
            _BUNDLES[key] = source.get_cache_bundle(record.pk).nb
        done = nbformat.from_dict(copy.deepcopy(_BUNDLES[key]))
        done_code = code(done)
        if (
            [c.source for c in done_code[1:]] != ours_code[1:]
            or done.metadata.get("kernelspec") != ours.metadata.get("kernelspec")
            or not done_code
            or done_code[0].outputs  # the first cell did something: not a no-op
        ):
            continue
        done_code[0].source = ours_code[0]
        mine.cache_notebook_bundle(
            CacheBundleIn(done, uri=str(path), data=record.data),
            check_validity=False,
            overwrite=True,
        )
        return True
    return False


def write_executed(paths: list[Path], cache_dir: Path, dest: Path) -> int:
    """Write into ``dest`` each notebook of ``paths`` with the outputs its build showed
    (from the execution cache ``cache_dir``): the outputs of the book's code, which the
    leak checker counts as the book's own words (``check_release.py --executed``).
    Returns how many were found in the cache."""
    from jupyter_cache import get_cache

    dest.mkdir(parents=True, exist_ok=True)
    cache = get_cache(cache_dir)
    found = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        try:
            _, merged = cache.merge_match_into_notebook(nb)
        except KeyError:
            continue
        nbformat.write(merged, dest / Path(path).name)
        found += 1
    return found
