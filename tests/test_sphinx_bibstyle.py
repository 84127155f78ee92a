"""The bibliography: author-year labels (optbook.sphinx_bibstyle), complete entries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pybtex = pytest.importorskip("pybtex", reason="pybtex comes with the book's extras")
from pybtex.database import parse_string  # noqa: E402
from pybtex.plugin import find_plugin  # noqa: E402

from optbook import sphinx_bibstyle  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# Symposium proceedings without DOIs, and no stable URL of the paper could be verified.
NO_LINK_FOUND = {"land2000loglikelihood"}

BIB = r"""
@article{one, author = {Ruder, Sebastian}, title = {An overview}, journal = {J},
  year = {2016}}
@article{two, author = {Kingma, Diederik P. and Ba, Jimmy}, title = {Adam},
  journal = {J}, year = {2015}}
@article{three, author = {Wilson, Ashia and Roelofs, Rebecca and Recht, Benjamin},
  title = {Marginal}, journal = {J}, year = {2017}}
@article{sgdr, author = {Loshchilov, Ilya and Hutter, Frank}, title = {SGDR},
  journal = {J}, year = {2017}}
@article{other, author = {Loshchilov, Ilya and Hutter, Frank}, title = {Another},
  journal = {J}, year = {2017}}
@article{quote, author = {O'Shea, Timothy and Hoydis, Jakob}, title = {Physical},
  journal = {J}, year = {2017}}
"""


def labels(bib: str) -> dict[str, str]:
    style = sphinx_bibstyle.AuthorYearStyle()
    entries = parse_string(bib, "bibtex").entries
    return {e.key: e.label for e in style.format_entries(entries.values())}


def test_labels_are_author_year_like_the_citations():
    assert labels(BIB) == {
        "one": "Ruder, 2016",
        "two": "Kingma and Ba, 2015",
        "three": "Wilson et al., 2017",
        "other": "Loshchilov and Hutter, 2017a",  # sorted by title: "Another" first
        "sgdr": "Loshchilov and Hutter, 2017b",
        "quote": "O'Shea and Hoydis, 2017",
    }


def test_the_style_is_registered_for_sphinx():
    class App:
        pass

    sphinx_bibstyle.setup(App())
    assert find_plugin("pybtex.style.formatting", "optbook") is (
        sphinx_bibstyle.AuthorYearStyle
    )


def test_every_reference_has_a_doi_or_url_and_a_plain_title():
    entries = parse_string((ROOT / "references.bib").read_text(), "bibtex").entries
    missing = [
        key
        for key, e in entries.items()
        if not ({"doi", "url"} & {f.lower() for f in e.fields})
        and key not in NO_LINK_FOUND
    ]
    assert not missing, f"no doi or url: {missing}"
    raw = [k for k, e in entries.items() if re.search(r"[$^\\]", e.fields["title"])]
    assert not raw, f"raw TeX in a title: {raw}"
    labels_of_book = labels((ROOT / "references.bib").read_text())
    assert len(set(labels_of_book.values())) == len(labels_of_book)
