"""The reading conventions of CONTRIBUTING.md, checked on the source of every notebook.

What a reader sees is checked in a browser by ``scripts/check_pages.py``; these rules
catch at the source what can be seen there:

- code lines at most 88 columns;
- a code cell that draws a figure is numbered, captioned and described (``mystnb``
  metadata ``figure.caption``, ``figure.name`` = ``fig-...``, ``image.alt``) and its
  plotting code is folded (tag ``hide-input``);
- no "Exercise {ref}`...`" (the reference already reads "Exercise N.M");
- no ``{cite}`` in a heading (the page contents would show the raw key);
- no ``\\_`` inside ``$...$`` (MathJax shows the backslash's underscore literally);
- every ``{glue:...}`` key of the prose is glued by a code cell of the same notebook;
- every ``fig-`` name referenced by ``{numref}`` is a figure of the book.

Each rule is proven on small synthetic notebooks, failing and passing, below.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
MAX_COLUMNS = 88

PLOT_CALL = re.compile(
    r"^(plt\.(plot|subplots|figure|imshow|scatter|bar|hist|contourf?|semilogy|loglog"
    r"|stem|step|fill_between|errorbar|show)|plot_\w+|.*\.(plot|imshow|scatter|bar"
    r"|barh|hist|contourf?|semilogy|semilogx|loglog|stem|fill_between|errorbar"
    r"|pcolormesh|matshow))$"
)
FOLDED_TAGS = {"hide-input", "remove-input"}
EXERCISE_REF = re.compile(r"\b[Ee]xercises?\s*\{(?:ref|numref)\}")
HEADING_CITE = re.compile(r"^\s{0,3}#{1,6}\s.*\{cite(?::\w+)?\}")
GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`([^`]+)`")
GLUE_DIRECTIVE = re.compile(r"^\s*[`:]{3,}\{glue(?::\w+)?\}\s+(\S+)", re.M)
NUMREF = re.compile(r"\{numref\}`([^`]+)`")
MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$", re.S)
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*?)$.*?^\1\2\s*$", re.M | re.S)


def toc_files() -> list[Path]:
    def walk(entries):
        for entry in entries:
            if "file" in entry:
                yield entry["file"]
            yield from walk(entry.get("chapters", []) + entry.get("sections", []))

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    names = [toc["root"], *walk(toc.get("parts", []))]
    found = []
    for name in names:
        for suffix in (".ipynb", ".md"):
            if (ROOT / f"{name}{suffix}").exists():
                found.append(ROOT / f"{name}{suffix}")
    return found


def source(cell) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def python_of(code: str) -> str:
    """The cell without IPython magics and shell escapes, for ``ast``."""
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line
        for line in code.split("\n")
    )


def draws_figure(code: str) -> bool:
    """Whether a code cell draws a figure: a plotting call outside a def or class."""
    try:
        tree = ast.parse(python_of(code))
    except SyntaxError:
        return False

    def calls(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            if isinstance(child, ast.Call):
                yield ast.unparse(child.func)
            yield from calls(child)

    return any(PLOT_CALL.match(name) for name in calls(tree))


def glued_keys(code: str) -> list[re.Pattern]:
    """The keys a code cell glues, as patterns (an f-string key matches any value)."""
    keys = []
    try:
        tree = ast.parse(python_of(code))
    except SyntaxError:
        return keys
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        name = ast.unparse(node.func)
        if name != "glue" and not name.endswith(".glue"):
            continue
        key = node.args[0]
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            keys.append(re.compile(re.escape(key.value)))
        elif isinstance(key, ast.JoinedStr):
            parts = [
                re.escape(v.value) if isinstance(v, ast.Constant) else ".+"
                for v in key.values
            ]
            keys.append(re.compile("".join(parts)))
    return keys


def prose_without_code(text: str) -> str:
    """Markdown with code fences and inline code blanked (math fences are kept)."""

    def blank(m: re.Match) -> str:
        return m.group(0) if "{math}" in m.group(3) else "\n" * m.group(0).count("\n")

    text = FENCE.sub(blank, text)
    return re.sub(r"(?<![{}])`[^`\n]*`", "``", text)


def figure_names(paths: list[Path]) -> set[str]:
    """Every figure name of the book: mystnb figure metadata and MyST labels/names."""
    names: set[str] = set()
    for path in paths:
        if path.suffix == ".ipynb":
            nb = nbformat.read(path, as_version=4)
            for cell in nb.cells:
                name = cell.metadata.get("mystnb", {}).get("figure", {}).get("name")
                if name:
                    names.add(name)
                if cell.cell_type == "markdown":
                    names.update(re.findall(r":name:\s*(\S+)", source(cell)))
                    names.update(re.findall(r"^\((\S+)\)=\s*$", source(cell), re.M))
        else:
            text = path.read_text()
            names.update(re.findall(r":name:\s*(\S+)", text))
            names.update(re.findall(r"^\((\S+)\)=\s*$", text, re.M))
    return names


def problems(nb, figures: set[str]) -> list[str]:
    """Every breach of the reading conventions in one notebook."""
    found = []
    glued = [
        key for c in nb.cells if c.cell_type == "code" for key in glued_keys(source(c))
    ]
    for index, cell in enumerate(nb.cells):
        text = source(cell)
        where = f"cell {index}"
        if cell.cell_type == "code":
            for number, line in enumerate(text.split("\n"), 1):
                if len(line) > MAX_COLUMNS:
                    found.append(
                        f"{where} line {number}: {len(line)} columns (at most "
                        f"{MAX_COLUMNS}): {line[:40]}..."
                    )
            tags = set(cell.metadata.get("tags", []))
            if draws_figure(text) and not tags & {"remove-cell", "remove-output"}:
                meta = cell.metadata.get("mystnb", {})
                figure, image = meta.get("figure", {}), meta.get("image", {})
                if not str(figure.get("caption", "")).strip():
                    found.append(f"{where}: figure without mystnb figure.caption")
                if not str(figure.get("name", "")).startswith("fig-"):
                    found.append(
                        f"{where}: figure without mystnb figure.name 'fig-...'"
                    )
                alt = str(image.get("alt", "")).strip()
                if not alt or re.fullmatch(r"\S+\.(png|svg|jpe?g)", alt):
                    found.append(f"{where}: figure without mystnb image.alt text")
                if not tags & FOLDED_TAGS:
                    found.append(f"{where}: figure cell without the tag hide-input")
        elif cell.cell_type == "markdown":
            prose = prose_without_code(text)
            for m in EXERCISE_REF.finditer(prose):
                found.append(
                    f"{where}: '{m.group(0)}...' (the reference already reads "
                    "'Exercise N.M')"
                )
            for line in prose.split("\n"):
                if HEADING_CITE.match(line):
                    found.append(f"{where}: {{cite}} in a heading: {line.strip()[:60]}")
            for m in MATH.finditer(prose):
                if "\\_" in m.group(0):
                    found.append(f"{where}: \\_ inside math: {m.group(0)[:60]}")
            for m in re.finditer(r"```\{math\}.*?```", text, re.S):
                if "\\_" in m.group(0):
                    found.append(f"{where}: \\_ inside math: {m.group(0)[:60]}")
            keys = [m.group(1) for m in GLUE_ROLE.finditer(prose)]
            keys += GLUE_DIRECTIVE.findall(prose)
            for key in keys:
                name = key.split(":", 1)[0].strip()
                if not any(pattern.fullmatch(name) for pattern in glued):
                    found.append(f"{where}: {{glue}} key '{name}' is glued by no cell")
            for target in NUMREF.findall(prose):
                m = re.search(r"<([^>]+)>", target)
                name = (m.group(1) if m else target).strip()
                if name.startswith("fig-") and name not in figures:
                    found.append(f"{where}: {{numref}} to '{name}', which is no figure")
    return found


# --- the rules on synthetic notebooks ---------------------------------------------


def notebook(*cells):
    nb = nbformat.v4.new_notebook()
    for cell in cells:
        nb.cells.append(cell)
    return nb


def code(text, tags=(), mystnb=None):
    cell = nbformat.v4.new_code_cell(text)
    if tags:
        cell.metadata["tags"] = list(tags)
    if mystnb is not None:
        cell.metadata["mystnb"] = mystnb
    return cell


md = nbformat.v4.new_markdown_cell
FIGURE = {
    "figure": {"caption": "Adam's path on the valley.", "name": "fig-adam-path"},
    "image": {"alt": "A curved valley with Adam's path reaching the minimum."},
}
PLOT = "fig, ax = plt.subplots(figsize=(7, 4))\nax.plot([1, 2], [3, 4])"


def test_a_clean_notebook_passes():
    nb = notebook(
        code("x = 1  # " + "a" * 79),
        code(PLOT, tags=["hide-input"], mystnb=FIGURE),
        code("def draw(ax):\n    ax.plot([1], [2])"),  # defines, draws nothing
        code('glue("adam-ratio", 2.5)\nfor name in "ab":\n    glue(f"adam-{name}", 1)'),
        md(
            "# Adam\n\nThe ratio is {glue:text}`adam-ratio:.2f`, see "
            "{numref}`fig-adam-path` and {ref}`ex-adam-1`; {glue}`adam-a`.\n\n"
            "$m_t = \\beta_1 m_{t-1}$ and `a\\_b` in code.\n\n"
            "```python\nx = '{glue:text}`nowhere`'\n```"
        ),
        md("## Summary\n\nAs {cite}`kingma2015adam` shows."),
    )
    assert problems(nb, {"fig-adam-path"}) == []


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ([code("x = 1  # " + "a" * 80)], "89 columns"),
        ([code(PLOT, mystnb=FIGURE)], "without the tag hide-input"),
        (
            [
                code(
                    PLOT,
                    tags=["hide-input"],
                    mystnb={**FIGURE, "figure": {"name": "fig-adam-path"}},
                )
            ],
            "without mystnb figure.caption",
        ),
        (
            [
                code(
                    "plot_paths(ax, paths)",
                    tags=["hide-input"],
                    mystnb={**FIGURE, "figure": {"caption": "Paths."}},
                )
            ],
            "without mystnb figure.name",
        ),
        (
            [
                code(
                    "plt.imshow(image)",
                    tags=["hide-input"],
                    mystnb={"figure": FIGURE["figure"], "image": {"alt": "a1b2.png"}},
                )
            ],
            "without mystnb image.alt",
        ),
        ([md("Solve Exercise {ref}`ex-adam-1` first.")], "the reference already reads"),
        ([md("(see exercise {ref}`ex-adam-1`)")], "the reference already reads"),
        ([md("## Adam {cite}`kingma2015adam`")], "{cite} in a heading"),
        ([md("where $\\beta\\_1 = 0.9$")], "\\_ inside math"),
        ([md("$$\nm\\_t = 0\n$$")], "\\_ inside math"),
        ([md("The peak is {glue:text}`adam-peak:.2f`.")], "key 'adam-peak' is glued"),
        (
            [code('glue("adam-other", 1)'), md("{glue}`adam-peak`")],
            "key 'adam-peak' is glued",
        ),
        ([md("As {numref}`fig-adam-nowhere` shows")], "'fig-adam-nowhere', which"),
        ([md("As {numref}`Figure %s <fig-adam-nowhere>` shows")], "'fig-adam-nowhere'"),
    ],
)
def test_each_rule_catches_its_defect(cells, expected):
    found = problems(notebook(*cells), {"fig-adam-path"})
    assert len(found) == 1 and expected in found[0], found


def test_figure_names_come_from_metadata_and_labels(tmp_path):
    nb = notebook(
        code(PLOT, tags=["hide-input"], mystnb=FIGURE),
        md(":::{figure} a.png\n:name: fig-adam-static\n:::"),
    )
    nbformat.write(nb, tmp_path / "a.ipynb")
    (tmp_path / "b.md").write_text("(fig-b-label)=\n# B\n")
    assert figure_names([tmp_path / "a.ipynb", tmp_path / "b.md"]) == {
        "fig-adam-path",
        "fig-adam-static",
        "fig-b-label",
    }


# --- the book's notebooks ------------------------------------------------------------

BOOK = toc_files()
NOTEBOOKS = [p for p in BOOK if p.suffix == ".ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_follows_the_reading_conventions(path):
    found = problems(nbformat.read(path, as_version=4), figure_names(BOOK))
    assert not found, f"{path.name}: {len(found)} problems:\n" + "\n".join(found)
