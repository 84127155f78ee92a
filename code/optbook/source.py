"""Showing optbook's own source in the book, so that the code a reader sees is the
tested code.

``show_source(SGD.update)`` in a notebook cell displays the method as a highlighted
Python block: in Jupyter, on Colab and in the built book (MyST renders the Markdown
output).
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import types
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
        raise TypeError(
            "show_source needs a function, class or module defined in a file, "
            f"got {obj!r}"
        ) from error
    if strip_docstring:
        code = _without_docstring(obj, code)
    module = inspect.getmodule(obj)
    qualname = getattr(obj, "__qualname__", getattr(obj, "__name__", ""))
    origin = module.__name__ if module is not None else "?"
    if qualname and qualname != origin:
        origin = f"{origin}.{qualname}"
    return SourceCode(code, origin)


def _without_docstring(obj: Any, code: str) -> str:
    """``code`` without the docstring of the function, class or module it defines.

    Reads the docstring's lines from the syntax tree (not from ``inspect.getdoc``, which
    would return a docstring inherited from a base class that ``code`` does not
    contain).
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    node: ast.AST = tree
    definitions = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    if (
        not isinstance(obj, types.ModuleType)
        and tree.body
        and isinstance(tree.body[0], definitions)
    ):
        node = tree.body[0]
    body = getattr(node, "body", [])
    if not body or not isinstance(body[0], ast.Expr):
        return code
    first = body[0].value
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        return code
    if (
        getattr(node, "lineno", 0) == first.lineno
    ):  # a one-line ``def f(): "doc"``: keep it
        return code
    lines = code.splitlines()
    rest = lines[first.end_lineno :]
    while rest and not rest[0].strip():  # and the blank lines that followed it
        rest.pop(0)
    return "\n".join(lines[: first.lineno - 1] + rest)
