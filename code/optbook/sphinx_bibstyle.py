"""The bibliography's style: author-year labels that match the author-year citations.

A Sphinx extension for building the book (the notebooks do not use it).
sphinxcontrib-bibtex cites as "Kingma and Ba [2015]" (``bibtex_reference_style:
author_year``), but pybtex's "plain" style labels the bibliography [1], [2], ... This
extension registers the pybtex style ``optbook``: "plain" with labels such as
[Kingma and Ba, 2015] or [Wilson et al., 2017] (a, b, ... added where two would be
equal), sorted by author, year and title. ``_config.yml`` loads it (``sphinx:
extra_extensions``) and selects it (``bibtex_default_style: optbook``). It lives in
optbook, which every build installs, so that the full book, the students' edition and a
single page all find it.
"""

from __future__ import annotations

from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def _last_name(person) -> str:
    # Text.from_latex turns {O}'Shea, {\"u} and the like into plain text.
    return str(Text.from_latex(" ".join(person.prelast_names + person.last_names)))


def author_year_label(entry) -> str:
    """'Kingma and Ba, 2015', 'Wilson et al., 2017', 'Ruder, 2016' for one entry."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_last_name(p) for p in persons]
    if not names:
        who = str(Text.from_latex(entry.fields.get("title", entry.key)))
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabelStyle(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        labels = [author_year_label(entry) for entry in sorted_entries]
        count = Counter(labels)
        seen: Counter[str] = Counter()
        for label in labels:
            if count[label] > 1:
                seen[label] += 1
                label = label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            yield label


class AuthorYearStyle(PlainStyle):
    default_label_style = AuthorYearLabelStyle
    default_sorting_style = "author_year_title"


def setup(app):
    register_plugin("pybtex.style.formatting", "optbook", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
