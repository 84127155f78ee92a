"""Showing optbook's own source in the book, so that the code a reader sees is the
tested code.

``show_source(SGD.update)`` in a notebook cell displays the method as a highlighted
Python block: in Jupyter, on Colab and in the built book (MyST renders the Markdown
output). Docstrings are shown without their Sphinx markup (roles such as
``:class:`~a.B``` and double backquotes), which a reader of the listing would otherwise
see raw; the code itself is shown exactly as it is.
"""

from __future__ import annotations

import ast
import inspect
import re
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

    ``strip_docstring=True`` drops a function's docstring and keeps its code only. The
    docstrings that stay are shown as plain text (:func:`plain_docstrings`).
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
    code = plain_docstrings(code)
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
    if getattr(node, "lineno", 0) == first.lineno:  # a one-line def f(): "doc"
        return code
    lines = code.splitlines()
    rest = lines[first.end_lineno :]
    while rest and not rest[0].strip():  # and the blank lines that followed it
        rest.pop(0)
    return "\n".join(lines[: first.lineno - 1] + rest)


# :class:`~optbook.paths.Path`, :func:`run_problem`, :attr:`Path.final_loss <x>` ...
_ROLE = re.compile(r":(?:py:)?[a-z]+:`(~?)([^`<]*?)\s*(?:<[^>`]*>)?`")
_LITERAL = re.compile(r"``(.+?)``")


def plain_docstrings(code: str) -> str:
    """``code`` with the Sphinx markup of its docstrings turned into plain text.

    ``:class:`~optbook.paths.Path``` becomes ``Path``, ``:func:`run_problem``` becomes
    ``run_problem`` and a double-backquoted literal loses its quotes. Only the lines of
    docstrings change; code that does not parse is returned as it is.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    docstring_lines: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not (isinstance(body, list) and body and isinstance(body[0], ast.Expr)):
            continue
        first = body[0].value
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            docstring_lines.update(range(first.lineno - 1, first.end_lineno))

    def plain(line: str) -> str:
        line = _ROLE.sub(
            lambda m: m.group(2).split(".")[-1] if m.group(1) else m.group(2), line
        )
        return _LITERAL.sub(r"\1", line)

    lines = code.split("\n")
    return "\n".join(
        plain(line) if number in docstring_lines else line
        for number, line in enumerate(lines)
    )
