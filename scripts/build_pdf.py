"""Build the book as a PDF (XeLaTeX), check it, and put it beside the HTML edition.

usage: scripts/build-pdf [--edition full|students|both] [--students-out DIR]
                         [--no-check]

- ``full``: the book in this folder -> ``_build/latex/book.pdf``, copied to
  ``_build/html/<name>`` (the link on every page points there; ``_ext/book_pdf.py``).
- ``students``: the students' release made by ``scripts/release-students`` (its folder,
  ``_build/students`` by default: ``repo/`` is the book, ``_build/html`` its HTML) ->
  ``_build/students/_build/latex/book.pdf``, copied to its HTML folder. The release must
  have been built first (``scripts/test`` and the publish workflow do that).

Both use Jupyter Book's LaTeX builder from the notebooks' execution cache (run
``scripts/build-book`` first, or the notebooks are executed again). The checks
(``check_pdf``): LaTeX ran without an error; the extracted text (``pdftotext``) holds
every chapter's title and no raw TeX, ``??`` or MyST markup; no line of code, table or
text runs more than ``MAX_OVERFULL_PT`` past the margin (the log's overfull boxes); for
the students' PDF, the leak check of the students' HTML (``scripts/check_release.py``)
over its text.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "_ext"))
from book_pdf import PDF_NAMES  # noqa: E402

MAX_OVERFULL_PT = 10.0  # 3.5 mm: a word a little wider than its table cell
TEX_PACKAGES = [
    "texlive-xetex",
    "texlive-latex-extra",
    "texlive-fonts-recommended",
    "texlive-plain-generic",
    "latexmk",
    "fonts-freefont-otf",
    "fonts-dejavu-core",
    "poppler-utils",
]
# Raw TeX or MyST markup that must never reach a reader.
RAW_TEX = re.compile(
    r"\\(?:begin|end|frac|mathrm|mathbf|label|ref|cite|sqrt|hat|operatorname|"
    r"textbf|emph|item|section)\b|\{(?:ref|numref|eq|cite|doc|glue|glue:\w+|term|math)\}"
    r"|\?\?"
)


def ensure_tex() -> None:
    """XeLaTeX and friends from Debian's TeX Live: installed when missing (as root)."""
    missing = [t for t in ("xelatex", "latexmk", "pdftotext") if not shutil.which(t)]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit(
            f"build-pdf: {', '.join(missing)} not found. Install Debian's TeX Live:\n"
            f"  sudo apt-get install --no-install-recommends {' '.join(TEX_PACKAGES)}"
        )
    print(f"build-pdf: installing from Debian: {' '.join(TEX_PACKAGES)}", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *TEX_PACKAGES],
        check=True,
        env=env,
    )


def jupyter_book(book: Path, out: Path | None, env: dict[str, str], log: Path) -> int:
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(book)]
    cmd += ["--builder", "pdflatex"]
    if out is not None:
        cmd += ["--path-output", str(out)]
    with open(log, "w") as handle:
        return subprocess.run(
            cmd, env=env, stdout=handle, stderr=subprocess.STDOUT
        ).returncode


def students_env(out: Path) -> dict[str, str]:
    """The environment the students' HTML was built in (scripts/release.py): no
    instructor package importable, the commit of this repository in the footer."""
    env = dict(os.environ)
    block = out / "_build" / "no-solution"
    (block / "optbook_solution").mkdir(parents=True, exist_ok=True)
    (block / "optbook_solution" / "__init__.py").write_text(
        'raise ImportError("optbook_solution is not part of the students\' release")\n'
    )
    env["PYTHONPATH"] = os.pathsep.join(
        [str(block), str(out / "repo" / "code"), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    env["OPTBOOK_BOOK_COMMIT"] = head.stdout.strip() or "unknown"
    return env


def chapter_titles(book: Path) -> list[str]:
    """The title of every page of the book's table of contents (its first heading)."""
    import yaml

    def files(entries):
        for entry in entries:
            if "file" in entry:
                yield entry["file"]
            yield from files(entry.get("chapters", []) + entry.get("sections", []))

    toc = yaml.safe_load((book / "_toc.yml").read_text())
    titles = []
    for name in [toc["root"], *files(toc.get("parts", []))]:
        for suffix in (".ipynb", ".md"):
            path = book / (name + suffix)
            if path.is_file():
                break
        else:
            continue
        if suffix == ".ipynb":
            cells = json.loads(path.read_text())["cells"]
            text = "\n".join(
                "".join(c["source"]) for c in cells if c["cell_type"] == "markdown"
            )
        else:
            text = path.read_text()
        heading = re.search(r"(?m)^# (.+)$", text)
        if heading:
            titles.append(heading[1].strip())
    return titles


def _words(text: str) -> str:
    """Letters and digits only, lower case: what survives ligatures and line breaks."""
    text = text.replace("\ufb01", "fi").replace("\ufb02", "fl").replace("-\n", "")
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def overfull_boxes(log_text: str, limit: float = MAX_OVERFULL_PT) -> list[str]:
    """Each overfull box in a LaTeX log wider than ``limit`` points, in context."""
    found = []
    lines = log_text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"Overfull \\hbox \(([\d.]+)pt too wide\)(.*)", line)
        if m and float(m[1]) > limit:
            context = " ".join(lines[i + 1 : i + 3]).strip()[:120]
            found.append(f"{float(m[1]):.1f} pt too wide{m[2]}: {context}")
    return found


def check_pdf(pdf: Path, log: Path, book: Path) -> list[str]:
    """What is wrong with a built PDF (empty when nothing is)."""
    problems = []
    log_text = log.read_text(errors="replace") if log.is_file() else ""
    errors = [line for line in log_text.splitlines() if line.startswith("! ")]
    problems += [f"LaTeX error: {line}" for line in errors[:10]]
    missing = sorted(set(re.findall(r"Missing character: There is no (.+?) in font",
                                    log_text)))
    problems += [f"a character no font of the PDF has: {m}" for m in missing]
    if not pdf.is_file():
        return problems + [f"no PDF at {pdf}"]
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True,
        check=True,
    ).stdout
    flat = _words(text)
    for title in chapter_titles(book):
        if _words(re.sub(r"\$[^$]*\$|`", "", title)) not in flat:
            problems.append(f"chapter title not found in the PDF's text: {title!r}")
    for m in list(RAW_TEX.finditer(text))[:10]:
        around = text[max(0, m.start() - 30) : m.end() + 30].replace("\n", " ")
        problems.append(f"raw markup in the PDF's text: {m[0]!r} in '{around}'")
    problems += [f"runs off the page: {b}" for b in overfull_boxes(log_text)]
    return problems


def hides_solutions(book: Path) -> bool:
    """Whether a book is the students' edition (its _config.yml hides solutions): the
    name of its PDF, which its pages link (_ext/book_pdf.py)."""
    import yaml

    config = yaml.safe_load((book / "_config.yml").read_text())
    return bool(config.get("sphinx", {}).get("config", {}).get("hide_solutions"))


def pdf_pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    m = re.search(r"(?m)^Pages:\s+(\d+)", info)
    return int(m[1]) if m else 0


def leak_check(pdf: Path, quiet: bool = False) -> int:
    """The students' leak check (scripts/check_release.py) over the PDF's text, line by
    line: its exit status (1 when it found solution text)."""
    with tempfile.TemporaryDirectory() as tmp:
        text = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True,
            text=True, check=True,
        ).stdout
        # One piece per line of the PDF, as the checker reads an HTML page in pieces: a
        # run of words across a box's title and its first line is no text of the book.
        lines = "".join(f"<p>{html.escape(line)}</p>\n" for line in text.splitlines())
        page = f"<html><body>{lines}</body></html>"
        (Path(tmp) / f"{pdf.stem}.html").write_text(page)
        cmd = [sys.executable, str(ROOT / "scripts" / "check_release.py"), tmp]
        full_html = ROOT / "_build" / "html"
        if full_html.is_dir():
            cmd += ["--full-html", str(full_html)]
        return subprocess.run(cmd, capture_output=quiet).returncode


def leak_check_sees_the_full_pdf() -> bool:
    """The negative control: the full book's PDF, which shows every solution, must fail
    the same leak check (so the check reads a PDF's text at all). True when it does, or
    when the full PDF was not built."""
    full = ROOT / "_build" / "latex" / "book.pdf"
    if not full.is_file():
        return True
    found = leak_check(full, quiet=True) != 0
    print(f"build-pdf: the leak check {'finds' if found else 'DOES NOT FIND'} the "
          "solutions in the full book's PDF (negative control)")
    return found


def build_edition(edition: str, students_out: Path, check: bool) -> bool:
    t0 = time.monotonic()
    if edition == "full":
        book, out, env = ROOT, ROOT / "_build", dict(os.environ)
        html = ROOT / "_build" / "html"
        path_output = None
    else:
        book, out = students_out / "repo", students_out / "_build"
        html = out / "html"
        if not (book / "_toc.yml").is_file():
            raise SystemExit(
                f"build-pdf: no students' release in {students_out}: run "
                "scripts/release-students --repo-url URL first"
            )
        env, path_output = students_env(students_out), students_out
    out.mkdir(parents=True, exist_ok=True)
    log = out / f"pdf-{edition}.log"
    status = jupyter_book(book, path_output, env, log)
    latex = out / "latex"
    pdf, tex_log = latex / "book.pdf", latex / "book.log"
    print(f"build-pdf: {edition}: jupyter-book exit {status} after "
          f"{time.monotonic() - t0:.0f} s (log {log})")
    problems = []
    if status:
        problems.append(f"jupyter-book failed (exit {status}); see {log}")
    if check:
        problems += check_pdf(pdf, tex_log, book)
    for p in problems:
        print(f"  {p}")
    if pdf.is_file():
        name = PDF_NAMES[hides_solutions(book)]
        if html.is_dir():
            shutil.copyfile(pdf, html / name)
        print(f"build-pdf: {edition}: {pdf} ({pdf_pages(pdf)} pages, "
              f"{pdf.stat().st_size / 2**20:.1f} MB) -> {html / name}")
    ok = not problems
    if check and edition == "students" and pdf.is_file():
        ok = leak_check(pdf) == 0 and leak_check_sees_the_full_pdf() and ok
    print(f"build-pdf: {edition}: {'ok' if ok else 'FAILED'} "
          f"in {time.monotonic() - t0:.0f} s")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edition", choices=["full", "students", "both"],
                        default="full")
    parser.add_argument("--students-out", type=Path,
                        default=ROOT / "_build" / "students")
    parser.add_argument("--no-check", action="store_true")
    args = parser.parse_args(argv)
    ensure_tex()
    editions = ["full", "students"] if args.edition == "both" else [args.edition]
    results = [build_edition(e, args.students_out.resolve(), not args.no_check)
               for e in editions]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
