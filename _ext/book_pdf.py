"""Sphinx extension: the book as a PDF, and a link to it on every HTML page.

- HTML: every page's download menu (sphinx-book-theme's "Download this page" group, or a
  button of its own on a page without one) gains "PDF of the book", a link to the PDF of
  *this edition* at the site's root (``pdf_filename``): the full book's PDF on the full
  book, the students' PDF on the students' edition, which never links the full one.
  ``scripts/build-pdf`` builds the PDF and copies it there.
- ``{on-the-web}``: a sentence for the PDF only, under a figure that moves on the web
  (an animation, the optimizer lab), with the web page's address.
- LaTeX: the title page shows the version and the commit (``release``), XeLaTeX with
  DejaVu fonts, code lines wrapped at the page's width.

The file name depends on the edition (``hide_solutions``, which the students' release
sets): ``PDF_NAMES``.
"""

from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.util.docutils import SphinxDirective

try:  # the footer's version and commit, one parser for both
    from book_version import _commit, _version
except ImportError:  # pragma: no cover - imported as _ext.book_pdf in the tests
    from _ext.book_version import _commit, _version

PDF_NAMES = {
    False: "adaptive-optimizers-book.pdf",
    True: "adaptive-optimizers-students.pdf",
}


def pdf_name(config) -> str:
    """The PDF's file name for this edition (the students' one when solutions hide)."""
    return PDF_NAMES[bool(getattr(config, "hide_solutions", False))]


def site_url(config) -> str:
    """The address of the published edition: ``html_baseurl`` when set, else GitHub
    Pages' address for the repository (``https://OWNER.github.io/REPO/``), the address
    the publish workflow deploys to."""
    if getattr(config, "html_baseurl", ""):
        return config.html_baseurl.rstrip("/") + "/"
    repo = (config.html_theme_options or {}).get("repository_url", "")
    m = re.match(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?$", repo)
    return f"https://{m[1].lower()}.github.io/{m[2]}/" if m else ""


class OnTheWeb(SphinxDirective):
    """In the PDF only: what the figure above does on the web page (an animation, an
    interactive figure), with the page's address. Nothing in the HTML.

    ```{on-the-web}
    The figure above is the last frame of an animation.
    ```
    """

    has_content = True

    def run(self) -> list[nodes.Node]:
        only = addnodes.only(expr="latex")
        self.state.nested_parse(self.content, self.content_offset, only)
        url = site_url(self.config) + self.env.docname + ".html"
        para = nodes.paragraph()
        para += nodes.Text("It plays on the book's web page: ")
        para += nodes.reference(url, url, refuri=url)
        para += nodes.Text(".")
        only += para
        return [only]


def _add_pdf_button(app, pagename, templatename, context, doctree) -> None:
    buttons = context.get("header_buttons")
    if buttons is None:
        return
    link = {
        "type": "link",
        "url": context["pathto"](pdf_name(app.config), 1),
        "text": "PDF of the book",
        "tooltip": "Download the whole book as a PDF",
        "icon": "fas fa-book",
        "label": "download-book-pdf-button",
    }
    for group in buttons:
        if group.get("label") == "download-buttons":
            group["buttons"].append(link)
            return
    buttons.insert(0, link)


# Tables shrink a little and keep every column wide enough for a number or a version;
# identifiers with underscores (decoupled_weight_decay) may break after an underscore;
# the two symbols the tables use that DejaVu lacks are drawn from its math.
LATEX_PREAMBLE = r"""
\usepackage{etoolbox}
\setlength{\emergencystretch}{3em}
\AtBeginEnvironment{tabulary}{\footnotesize\setlength{\tymin}{5em}}
\makeatletter
\DeclareRobustCommand{\_}{%
  \ifmmode\nfss@text{\textunderscore}\else\textunderscore\allowbreak\fi}
\makeatother
\usepackage{newunicodechar}
\newunicodechar{✅}{\ensuremath{\checkmark}}
\newunicodechar{❌}{\ensuremath{\times}}
"""


def _latex_settings(app, config) -> None:
    folder = Path(app.confdir)
    config.release = f"{_version(folder)} (commit {_commit(folder)})"
    config.version = _version(folder)
    elements = dict(config.latex_elements or {})
    elements.setdefault("papersize", "a4paper")
    elements.setdefault("pointsize", "10pt")
    # chapters start on the next page, not the next right-hand one (no blank pages)
    elements.setdefault("extraclassoptions", "openany,oneside")
    # DejaVu ships with Debian's fonts-dejavu-core (the browser check needs it too) and
    # covers the Greek letters and arrows the prose uses; the code font is narrow enough
    # for 88 columns at \small.
    elements.setdefault(
        "fontpkg",
        "\\setmainfont{DejaVu Serif}\n\\setsansfont{DejaVu Sans}\n"
        "\\setmonofont{DejaVu Sans Mono}[Scale=0.84]\n",
    )
    elements.setdefault(
        "sphinxsetup",
        "verbatimwithframe=true, verbatimwrapslines=true, verbatimforcewraps=true,"
        " verbatimmaxoverfull=0, verbatimmaxunderfull=0",
    )
    preamble = elements.get("preamble", "")
    # Wide tables shrink to the text width instead of running off the page.
    elements["preamble"] = preamble + LATEX_PREAMBLE
    config.latex_elements = elements
    # makeindex (in TeX Live's binaries) for the index, not xindy (a package of its own)
    config.latex_use_xindy = False
    extra = list(config.latex_additional_files or [])
    bbm = str(Path(__file__).parent / "latex" / "bbm.sty")
    config.latex_additional_files = [*extra, bbm]


def setup(app):
    app.add_directive("on-the-web", OnTheWeb)
    app.connect("config-inited", _latex_settings)
    app.connect("html-page-context", _add_pdf_button, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
