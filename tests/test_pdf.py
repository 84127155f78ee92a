"""scripts/build_pdf.py's checks catch what they are for, and the PDF link's extension
(_ext/book_pdf.py) names each edition's PDF and adds it to every page's download menu.

The end-to-end build (XeLaTeX over the whole book, both editions) is ``scripts/build-pdf``,
which ``scripts/test`` runs; here a one-page PDF is made with XeLaTeX where it is installed
(.ci/run installs Debian's TeX Live).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "_ext"))
spec = importlib.util.spec_from_file_location("build_pdf", ROOT / "scripts/build_pdf.py")
build_pdf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_pdf)
import book_pdf  # noqa: E402

LOG = r"""
Overfull \hbox (1.2pt too wide) in paragraph at lines 10--11
[]\T1/DejaVuSans/m/n/10 a line that is almost fine
Overfull \hbox (42.5pt too wide) in alignment at lines 200--230
[] [] [] a wide table
! Undefined control sequence.
"""


def test_overfull_boxes_beyond_the_tolerance_only():
    found = build_pdf.overfull_boxes(LOG)
    assert len(found) == 1 and found[0].startswith("42.5 pt too wide in alignment")
    assert build_pdf.overfull_boxes(LOG, limit=1.0)[0].startswith("1.2 pt")


@pytest.mark.parametrize(
    "text, found",
    [
        ("the step \\frac{a}{b} is", True),
        ("see Fig. ?? above", True),
        ("see {numref}`fig-x`", True),
        ("the value {glue:text}`x`", True),
        ("Adam's step is about 7.27 times the learning rate (Fig. 5.2).", False),
        ("print('\\n'.join(rows))", False),
    ],
)
def test_raw_markup_pattern(text, found):
    assert bool(build_pdf.RAW_TEX.search(text)) is found


def test_chapter_titles_are_read_from_the_toc():
    titles = build_pdf.chapter_titles(ROOT)
    assert len(titles) >= 15
    assert any("Adam" in t for t in titles)


def test_each_edition_links_its_own_pdf():
    full = SimpleNamespace(hide_solutions=False)
    students = SimpleNamespace(hide_solutions=True)
    assert book_pdf.pdf_name(full) != book_pdf.pdf_name(students)
    app = SimpleNamespace(config=students)
    group = {"label": "download-buttons", "buttons": []}
    context = {"header_buttons": [group], "pathto": lambda name, _: f"../{name}"}
    book_pdf._add_pdf_button(app, "chapters/adam", "page.html", context, None)
    assert group["buttons"][0]["url"] == "../" + book_pdf.pdf_name(students)
    alone = {"header_buttons": [], "pathto": lambda name, _: name}
    book_pdf._add_pdf_button(app, "genindex", "page.html", alone, None)
    assert alone["header_buttons"][0]["label"] == "download-book-pdf-button"


@pytest.mark.skipif(
    not (shutil.which("xelatex") and shutil.which("pdftotext")),
    reason="needs XeLaTeX and pdftotext (Debian's TeX Live, installed by .ci/run)",
)
def test_check_pdf_finds_missing_titles_raw_tex_and_errors(tmp_path):
    tex = tmp_path / "book.tex"
    tex.write_text(
        "\\documentclass{article}\\begin{document}"
        "Gradient descent and momentum. The step is \\verb|\\frac{a}{b}|."
        "\\end{document}\n"
    )
    subprocess.run(
        ["xelatex", "-interaction=nonstopmode", "book.tex"], cwd=tmp_path,
        capture_output=True, check=True,
    )
    book = tmp_path / "book"
    book.mkdir()
    (book / "_toc.yml").write_text(
        "root: intro\nparts:\n  - chapters:\n      - file: adam\n"
    )
    (book / "intro.md").write_text("# Gradient descent and momentum\n")
    (book / "adam.md").write_text("# Adam, the $m_t$ and $v_t$\n")
    log = tmp_path / "book.log"
    log.write_text(log.read_text() + "\n! Missing $ inserted.\n")
    problems = build_pdf.check_pdf(tmp_path / "book.pdf", log, book)
    assert any(p.startswith("LaTeX error: ! Missing $") for p in problems)
    assert any("'Adam, the $m_t$ and $v_t$'" in p for p in problems)
    assert not any("Gradient descent" in p for p in problems)
    assert any("raw markup" in p and "\\frac" in p for p in problems)


def test_the_web_address_follows_the_repository_or_the_base_url():
    repo = {"repository_url": "https://github.com/My-Course/students"}
    config = SimpleNamespace(html_baseurl="", html_theme_options=repo)
    assert book_pdf.site_url(config) == "https://my-course.github.io/students/"
    config.html_baseurl = "https://example.org/book"
    assert book_pdf.site_url(config) == "https://example.org/book/"
