"""Showing optbook's own source in the book, so that the code a reader sees is the tested code.

``show_source(SGD.update)`` in a notebook cell displays the method as a highlighted Python
block: in Jupyter, on Colab and in the built book (MyST renders the Markdown output).
"""

from __future__ import annotations

import inspect
import textwrap
from typing import Any


class SourceCode:
    """Python source that displays as a highlighted code block."""

    def __init__(self, code: str, origin: str) -> None:
        self.code = code
        self.origin = origin

    def _repr_markdown_(self) -> str:
        return f"`{self.origin}`\n\n```python\n{self.code}\n```\n"

    def __repr__(self) -> str:
        return f"# {self.origin}\n{self.code}"


def show_source(obj: Any, *, strip_docstring: bool = False) -> SourceCode:
    """The source of a function, method, class or module of optbook, ready to display.

    ``strip_docstring=True`` drops a function's docstring and keeps its code only.
    """
    try:
        code = textwrap.dedent(inspect.getsource(obj)).rstrip()
    except (TypeError, OSError) as error:
        raise TypeError(f"show_source needs a function, class or module defined in a file, got {obj!r}") from error
    if strip_docstring:
        code = _without_docstring(obj, code)
    module = inspect.getmodule(obj)
    qualname = getattr(obj, "__qualname__", getattr(obj, "__name__", ""))
    origin = module.__name__ if module is not None else "?"
    if qualname and qualname != origin:
        origin = f"{origin}.{qualname}"
    return SourceCode(code, origin)


def _without_docstring(obj: Any, code: str) -> str:
    doc = inspect.getdoc(obj)
    if not doc:
        return code
    lines = code.splitlines()
    for start, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(('"""', "'''", 'r"""')):
            quote = '"""' if '"""' in stripped else "'''"
            end = start
            if stripped.count(quote) < 2:
                end = next(i for i in range(start + 1, len(lines)) if quote in lines[i])
            return "\n".join(lines[:start] + lines[end + 1:])
    return code
