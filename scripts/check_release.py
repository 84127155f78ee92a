"""Check that a students' release holds no solution: exit 1 and list every leak found.

    .venv/bin/python scripts/check_release.py OUTPUT... [--executed DIR]
                                                        [--full-html _build/html]

What counts as solution text is taken from the full book (this repository),
independently of how the release was made:

- the text of every ``{solution}`` block of the notebooks and Markdown files, found
  with MyST's own parser (markdown-it with the colon fence);
- the whole of every solution chapter (``chapters/homework_solution.ipynb``), of the
  instructors' package ``instructor/`` and of every file that imports
  ``optbook_solution``.

From that text the checker keeps what is *distinctive*: every run of 8 consecutive words
(case and punctuation ignored) that occurs nowhere in the full book's other material
(the chapters without their solution blocks, intro, code, tests...), and every
identifier (``snake_case`` or ``CamelCase``, 8+ characters) defined in the solution code
and not used elsewhere. It then reads every file under OUTPUT (pages in pieces, see
``html_pieces``: equation and section numbers and what the rendering joins decide
nothing; notebooks cell by cell and output by output; ``searchindex.js`` and other text
as is; wheels and zips member by member) and reports each distinctive run or identifier
it finds, every file named like a solution chapter or the instructors' package, and
every import of ``optbook_solution``. With ``--executed`` (the executed notebooks of the
build checked) or ``--full-html`` (the full book's HTML, if built), their outputs, and
what the full book's pages show outside their solutions, count as the book's other
material too, and the words that occur only in solutions are looked up, stemmed as
Sphinx stems them, among the terms of each ``searchindex.js``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import nbformat
from markdown_it import MarkdownIt
from mdit_py_plugins.colon_fence import colon_fence_plugin

ROOT = Path(__file__).resolve().parent.parent
SHINGLE = 8  # words in a run
TEXT_SUFFIXES = {
    ".html",
    ".htm",
    ".js",
    ".txt",
    ".md",
    ".py",
    ".ipynb",
    ".json",
    ".yml",
    ".yaml",
    ".toml",
    ".cfg",
    ".csv",
    ".rst",
    ".tex",
    ".bib",
    ".css",
    ".sh",
    ".ini",
    ".xml",
    "",
}
SOLUTION_NAMES = re.compile(r"homework_solution|optbook_solution|optbook-solution")
SOLUTION_DOC = re.compile(r"\bchapters/homework_solution\b")  # its name in the site
IMPORTS_SOLUTION = re.compile(r"^\s*(from|import)\s+optbook_solution\b", re.MULTILINE)
IDENTIFIER = re.compile(
    r"\b(?:[A-Za-z][a-z0-9]+(?:[A-Z][a-z0-9]+)+|[a-z][a-z0-9]*(?:_[a-z0-9]+)+)\b"
)
SKIP_DIRS = {
    ".git",
    ".venv",
    "__pycache__",
    ".jupyter_cache",
    ".pytest_cache",
    ".ruff_cache",
}


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def runs(tokens: list[str]) -> Iterator[str]:
    for i in range(len(tokens) - SHINGLE + 1):
        yield " ".join(tokens[i : i + SHINGLE])


# --- the full book: solution text and the rest
# -------------------------------------------

_md = MarkdownIt("commonmark").use(colon_fence_plugin)


def split_solutions(markdown: str) -> tuple[list[str], str]:
    """(the text of each {solution} block, the Markdown without them): MyST's parser."""
    lines = markdown.split("\n")
    spans = []
    for token in _md.parse(markdown):
        if token.type in ("fence", "colon_fence") and token.info.strip().startswith(
            "{solution"
        ):
            spans.append(token.map)
    solutions = ["\n".join(lines[a:b]) for a, b in spans]
    drop = {i for a, b in spans for i in range(a, b)}
    rest = "\n".join(line for i, line in enumerate(lines) if i not in drop)
    return solutions, rest


def is_solution_file(rel: str, text: str) -> bool:
    return (
        rel.startswith("instructor/")
        or rel.startswith("chapters/homework_solution")
        or bool(IMPORTS_SOLUTION.search(text))
    )


def full_book(root: Path) -> tuple[list[tuple[str, str]], str]:
    """([(where, solution text)], everything else in the book as one text)."""
    import subprocess

    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    solutions: list[tuple[str, str]] = []
    public: list[str] = []
    for rel in listed:
        path = root / rel
        if (
            not path.is_file()
            or path.suffix not in TEXT_SUFFIXES
            or rel.startswith("_build")
        ):
            continue
        if rel.startswith("scripts/check_release") or rel.startswith(
            "tests/test_release"
        ):
            continue  # the checker and its tests quote solution-like text on purpose
        text = path.read_text(errors="replace")
        if is_solution_file(rel, text):
            solutions.append((rel, text))
        elif path.suffix == ".ipynb":
            nb = nbformat.reads(text, as_version=4)
            for k, cell in enumerate(nb.cells):
                if cell.cell_type == "markdown":
                    blocks, rest = split_solutions(cell.source)
                    solutions += [
                        (f"{rel} cell {k} block {j}", block)
                        for j, block in enumerate(blocks, 1)
                    ]
                    public.append(rest)
                else:
                    public.append(cell.source)
        elif path.suffix == ".md":  # a Markdown chapter may have exercises too
            blocks, rest = split_solutions(text)
            solutions += [(f"{rel} block {j}", b) for j, b in enumerate(blocks, 1)]
            public.append(rest)
        else:
            public.append(text)
    return solutions, "\n".join(public)


class Fingerprints:
    """The distinctive runs and identifiers of the solution text."""

    def __init__(self, root: Path = ROOT):
        solutions, public = full_book(root)
        public_runs = set(runs(words(public)))
        self.runs: dict[str, str] = {}
        self.blocks = len(solutions)
        self.blocks_without_fingerprint: list[str] = []
        for where, text in solutions:
            mine = [r for r in runs(words(text)) if r not in public_runs]
            for r in mine:
                self.runs.setdefault(r, where)
            if not mine:
                self.blocks_without_fingerprint.append(where)
        code = "\n".join(t for w, t in solutions if w.endswith(".py") or ".ipynb" in w)
        defined = set(
            re.findall(r"(?:def|class)\s+(\w+)|^(\w+)\s*=", code, re.MULTILINE)
        )
        names = {n for pair in defined for n in pair if n}
        self.identifiers = sorted(
            n
            for n in names
            if len(n) >= 8
            and IDENTIFIER.fullmatch(n)
            and not re.search(rf"\b{n}\b", public)
        )
        self.solution_words = {w for _, t in solutions for w in words(t)}
        self.public_words = set(words(public))
        self.notebook_blocks = sum(" cell " in where for where, _ in solutions)

    def add_public(self, pieces: Iterable[str]) -> None:
        """Text known to be outside the solutions (the pieces of the full book's
        rendered pages without their solutions: outputs, rendered references): its
        runs are no fingerprint, its words no solution-only word."""
        for piece in pieces:
            tokens = words(piece)
            self.public_words |= set(tokens)
            for run in runs(tokens):
                self.runs.pop(run, None)

    def solution_stems(self) -> dict[str, str]:
        """The search index's stems (Sphinx's English stemmer) of the words that occur
        only in solutions: {stem: word}."""
        from sphinx.search.en import SearchEnglish

        stem = SearchEnglish({}).stem
        public = {stem(w) for w in self.public_words}
        return {
            stem(w): w
            for w in self.solution_words
            if len(w) >= 5 and not w.isdigit() and stem(w) not in public
        }


# --- the output
# --------------------------------------------------------------------------


def texts(path: Path, base: Path) -> Iterator[tuple[str, str]]:
    """(name, text) of every file under ``path`` (zip and wheel members included)."""
    files = (
        [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    )
    for file in files:
        if SKIP_DIRS & set(file.relative_to(base).parts):
            continue
        rel = file.relative_to(base).as_posix()
        if file.suffix in (".whl", ".zip"):
            with zipfile.ZipFile(file) as archive:
                for member in archive.namelist():
                    name = f"{rel}!{member}"
                    yield name, archive.read(member).decode("utf-8", errors="replace")
        elif file.name == "objects.inv":  # Sphinx inventory: 4 header lines, then zlib
            import zlib

            body = file.read_bytes().split(b"\n", 4)[-1]
            yield rel, zlib.decompress(body).decode("utf-8", errors="replace")
        elif file.suffix in TEXT_SUFFIXES:
            yield rel, file.read_text(errors="replace")
        else:
            yield rel, ""  # its name is still checked


# How a page is read. Sphinx's rendering adds text that no source holds (the numbers
# of equations, sections, figures, the "#" of header links), drops some that the
# sources hold (an equation's label, a role's target), and puts math, outputs and
# cross-references between the words of a paragraph. None of that may make or break a
# run of solution text: a page is read as *pieces*, each a stretch of text that the
# rendering copies as written (a paragraph's words between two formulas or references,
# one formula, one code block, one output); runs are taken within a piece, and the
# numbering is not read at all. Solution text that a page shows is a stretch of a
# piece, so it is found as before; a run that only the rendering joined is never
# mistaken for one.
DROPPED = {"eqno", "section-number", "caption-number", "headerlink"}  # numbering, "#"
INLINE = {
    "em", "strong", "b", "i", "u", "s", "code", "span", "sub", "sup", "kbd", "mark",
    "abbr", "small", "cite", "var", "samp", "q", "del", "ins", "wbr",
}  # fmt: skip
# A span is prose (part of its piece) when it has no class, or only Pygments' short
# token classes or docutils' "pre"; any other span (math, a glued value, a citation, a
# cross-reference) is a piece of its own.


def html_pieces(page) -> list[str]:
    """The pieces of an HTML page (its text or its parsed soup; see above); scripts
    and comments are pieces too."""
    from bs4 import BeautifulSoup
    from bs4.element import CData, Comment, NavigableString, Script, Stylesheet, Tag

    pieces: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            pieces.append("".join(current))
            current.clear()

    def walk(node: Tag) -> None:
        for child in node.children:
            if isinstance(child, Tag):
                classes = set(child.get("class") or ())
                if classes & DROPPED:
                    continue
                if child.name in INLINE and (
                    child.name != "span"
                    or all(len(c) <= 3 or c == "pre" for c in classes)
                ):
                    walk(child)
                else:
                    flush()
                    walk(child)
                    flush()
            elif isinstance(child, Stylesheet):
                continue
            elif isinstance(child, (Script, Comment)):
                flush()
                pieces.append(str(child))
            elif isinstance(child, (NavigableString, CData)):
                current.append(str(child))

    walk(page if isinstance(page, Tag) else BeautifulSoup(page, "html.parser"))
    flush()
    return pieces


def readable(name: str, text: str) -> list[str]:
    """The pieces of text a reader sees: an HTML page's pieces (see above), each cell
    and each output of a notebook, any other file whole."""
    if name.endswith((".html", ".htm")):
        return html_pieces(text)
    if name.endswith(".ipynb"):
        try:
            nb = json.loads(text)
        except json.JSONDecodeError:
            return [text]
        parts = []
        for cell in nb.get("cells", []):
            parts.append("".join(cell.get("source", "")))
            for output in cell.get("outputs", []):
                parts.append("".join(output.get("text", "")))
                for value in output.get("data", {}).values():
                    parts.append(value if isinstance(value, str) else "".join(value))
        return parts
    return [text]


def piece_runs(pieces: Iterable[str]) -> Iterator[str]:
    """The runs of words within each piece."""
    for piece in pieces:
        yield from runs(words(piece))


def search_terms(text: str) -> set[str]:
    """The stemmed terms of a Sphinx ``searchindex.js``."""
    body = text[text.index("(") + 1 : text.rindex(")")]
    index = json.loads(body)
    return set(index.get("terms", {})) | set(index.get("titleterms", {}))


def html_public_text(full_html: Path, expected_solutions: int) -> list[str]:
    """The pieces of the full book's pages outside their solutions (outputs included),
    or a clear error if the solutions cannot be told apart from the rest of the
    pages."""
    from bs4 import BeautifulSoup

    parts, found = [], 0
    for page in sorted(full_html.rglob("*.html")):
        if SOLUTION_NAMES.search(page.as_posix()):
            continue
        soup = BeautifulSoup(page.read_text(errors="replace"), "html.parser")
        for block in soup.select("div.solution"):
            block.decompose()
            found += 1
        parts += html_pieces(soup)
    if found < expected_solutions:
        raise SystemExit(
            f"{full_html}: {found} solution blocks (div.solution) in its pages, "
            f"{expected_solutions} in the notebooks: is it the full book's HTML?"
        )
    return parts


def executed_outputs(folder: Path) -> list[str]:
    """The outputs of the executed notebooks under ``folder`` (a build's
    ``jupyter_execute``): what the book's code prints is no solution text."""
    pieces = []
    for path in sorted(folder.rglob("*.ipynb")):
        nb = json.loads(path.read_text())
        for cell in nb.get("cells", []):
            for output in cell.get("outputs", []):
                pieces.append("".join(output.get("text", "")))
                for mime, value in output.get("data", {}).items():
                    if mime.startswith("text/"):
                        value = value if isinstance(value, str) else "".join(value)
                        pieces += html_pieces(value) if mime == "text/html" else [value]
    return pieces


def check(
    outputs: Iterable[Path],
    fingerprints: Fingerprints,
    full_html: Path | None = None,
    executed: Path | None = None,
) -> tuple[list[str], int]:
    """Every leak found under ``outputs``, and the number of files read. With the full
    book's HTML or the executed notebooks of the build checked (``executed``), the
    search index's terms are checked too."""
    leaks: list[str] = []
    solution_stems: dict[str, str] = {}
    if full_html is not None:
        fingerprints.add_public(
            html_public_text(full_html, fingerprints.notebook_blocks)
        )
    if executed is not None:
        fingerprints.add_public(executed_outputs(executed))
    if full_html is not None or executed is not None:
        solution_stems = fingerprints.solution_stems()
    count = 0
    for output in outputs:
        base = output if output.is_dir() else output.parent
        for name, text in texts(output, base):
            count += 1
            where = f"{output.name}/{name}"
            if SOLUTION_NAMES.search(name):
                leaks.append(f"{where}: a solution file")
            site = name.endswith((".html", ".js", "objects.inv"))
            if site and SOLUTION_DOC.search(text):
                leaks.append(f"{where}: names the solution chapter (a link, the index)")
            if IMPORTS_SOLUTION.search(text):
                leaks.append(f"{where}: imports optbook_solution")
            if not text:
                continue
            hits = {
                fingerprints.runs[r]
                for r in piece_runs(readable(name, text))
                if r in fingerprints.runs
            }
            leaks += [f"{where}: text of the solution in {src}" for src in sorted(hits)]
            found = [n for n in fingerprints.identifiers if n in text]
            if found:
                leaks.append(f"{where}: solution identifiers {found[:5]}")
            if name.endswith("searchindex.js") and solution_stems:
                terms = search_terms(text) & set(solution_stems)
                if terms:
                    shown = sorted(solution_stems[t] for t in terms)[:10]
                    leaks.append(
                        f"{where}: search terms found only in solutions {shown}"
                    )
    return leaks, count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "outputs", nargs="+", type=Path, help="folders or files to check"
    )
    parser.add_argument("--full-html", type=Path, help="the full book's built HTML")
    parser.add_argument(
        "--executed",
        type=Path,
        help="the executed notebooks of the build checked (its jupyter_execute): their "
        "outputs are the book's, and the search index is checked against them",
    )
    parser.add_argument("--full-book", type=Path, default=ROOT, help="the full book")
    args = parser.parse_args(argv)
    for output in args.outputs:
        if not output.exists():
            parser.error(f"no such file or folder: {output}")
    fingerprints = Fingerprints(args.full_book)
    full_html = args.full_html if args.full_html and args.full_html.is_dir() else None
    executed = args.executed if args.executed and args.executed.is_dir() else None
    leaks, count = check(args.outputs, fingerprints, full_html, executed)
    terms = full_html or executed
    stems = fingerprints.solution_stems() if terms else {}
    print(
        f"check_release: {fingerprints.blocks} solution texts, "
        f"{len(fingerprints.runs)} distinctive {SHINGLE}-word runs, "
        f"{len(fingerprints.identifiers)} identifiers, "
        + (
            f"{len(stems)} search terms found only in solutions; "
            if terms
            else "search terms not checked (no --full-html, no --executed); "
        )
        + f"{count} files read"
    )
    if fingerprints.blocks_without_fingerprint:
        print(
            "  too short to fingerprint (not checked): "
            + ", ".join(fingerprints.blocks_without_fingerprint)
        )
    for leak in leaks:
        print("LEAK", leak)
    print("check_release: " + (f"FAILED, {len(leaks)} leaks" if leaks else "no leak"))
    return 1 if leaks else 0


if __name__ == "__main__":
    sys.exit(main())
