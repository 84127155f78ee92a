"""Helpers for what a chapter shows: computed numbers in the prose, results as tables.

- :func:`glue` stores a computed value under a name, so that the chapter's Markdown can
  state it with MyST-NB's ``{glue:text}`name:.3f``` role: the prose never types a number
  a cell computes. Outside a MyST-NB build (Jupyter, Colab) it stores nothing and shows
  nothing.
- :func:`table` turns rows into a Markdown table that the book renders as a real table
  (and Jupyter and Colab render too), instead of wide printed text.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["Table", "glue", "table"]


def glue(name: str, value: Any) -> Any:
    """Store ``value`` for ``{glue:text}`name``` in the chapter's prose; return it.

    Nothing is displayed. ``name`` must be a simple identifier (letters, digits, ``-``,
    ``_``), unique in its notebook.
    """
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"glue name {name!r}: use letters, digits, '-' and '_' only")
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # Jupyter or Colab without MyST-NB: the prose shows the role
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = int(value)  # 6 shows as 6, not 6.0
    elif isinstance(value, numbers.Real):
        value = float(value)  # numpy and torch scalars as plain floats
    myst_glue(name, value, display=False)
    return value


class Table:
    """A table shown as Markdown (``_repr_markdown_``) and plain text."""

    def __init__(self, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                 formats: Mapping[str, str] | None = None) -> None:
        columns = [str(c) for c in columns]
        rows = [list(r) for r in rows]
        for i, row in enumerate(rows):
            if len(row) != len(columns):
                raise ValueError(f"row {i} has {len(row)} cells, the table has "
                                 f"{len(columns)} columns ({', '.join(columns)})")
        unknown = set(formats or {}) - set(columns)
        if unknown:
            raise ValueError(f"formats name columns the table lacks: {sorted(unknown)}")
        self.columns = columns
        self.rows = rows
        self.formats = dict(formats or {})

    def cell(self, column: str, value: Any) -> str:
        fmt = self.formats.get(column)
        if isinstance(value, float) and math.isnan(value):
            return "–"
        if fmt is not None and isinstance(value, numbers.Number):
            return format(value, fmt)
        return str(value)

    def text_rows(self) -> list[list[str]]:
        return [[self.cell(c, v) for c, v in zip(self.columns, row, strict=True)]
                for row in self.rows]

    def _repr_markdown_(self) -> str:
        def escape(text: str) -> str:
            return text.replace("|", "\\|").replace("\n", " ")

        numeric = [
            bool(self.rows) and all(isinstance(r[j], numbers.Number) for r in self.rows)
            for j in range(len(self.columns))
        ]
        lines = ["| " + " | ".join(escape(c) for c in self.columns) + " |",
                 "| " + " | ".join("---:" if n else ":---" for n in numeric) + " |"]
        lines += ["| " + " | ".join(escape(c) for c in row) + " |"
                  for row in self.text_rows()]
        return "\n".join(lines)

    def __str__(self) -> str:
        body = [self.columns, *self.text_rows()]
        widths = [max(len(r[j]) for r in body) for j in range(len(self.columns))]
        return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True))
                         for r in body)

    __repr__ = __str__


def table(rows: Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]],
          columns: Sequence[str] | None = None,
          formats: Mapping[str, str] | None = None) -> Table:
    """A Markdown table from dicts (keys: the columns) or sequences + ``columns``.

    ``formats`` maps a column to a format spec for its numbers: ``{"loss": ".3g"}``.
    """
    rows = list(rows)
    if rows and isinstance(rows[0], Mapping):
        columns = list(columns or rows[0].keys())
        rows = [[r[c] for c in columns] for r in rows]
    elif columns is None:
        raise ValueError("rows that are not dicts need `columns`")
    return Table(columns, rows, formats)
