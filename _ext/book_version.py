"""Sphinx extension: the book's version and the commit it was built from, in every
page's footer (sphinx-book-theme's ``extra_footer``).

The version is ``project.version`` of ``pyproject.toml``, the same version that the
Colab install cells pin (``git+URL@v<version>``). The commit is ``git rev-parse --short
HEAD`` of the book's folder at build time (``-dirty`` if the sources differ from it), or
the value of ``OPTBOOK_BOOK_COMMIT`` when a script builds a copy of the book (the
students' release, a handout), whose folder is not the repository.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
from pathlib import Path


def project_version(pyproject_text: str) -> str:
    """``project.version`` of a pyproject.toml (tomllib from Python 3.11 on)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the one key we need, by its TOML form
        section = re.search(r"(?ms)^\[project\]\n(.*?)(?=^\[|\Z)", pyproject_text)
        found = section and re.search(r'(?m)^version\s*=\s*"([^"]+)"', section[1])
        if not found:
            raise ValueError("pyproject.toml: no project.version") from None
        return found[1]
    return tomllib.loads(pyproject_text)["project"]["version"]


def _version(folder: Path) -> str:
    for root in (folder, os.environ.get("OPTBOOK_ROOT")):
        if root and (Path(root) / "pyproject.toml").is_file():
            text = (Path(root) / "pyproject.toml").read_text()
            return project_version(text)
    return "unknown"


def _commit(folder: Path) -> str:
    if os.environ.get("OPTBOOK_BOOK_COMMIT"):
        return os.environ["OPTBOOK_BOOK_COMMIT"]

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True
        )

    try:
        head = git("rev-parse", "--short", "HEAD")
    except FileNotFoundError:
        return "unknown"
    if head.returncode:
        return "unknown"
    dirty = git("diff", "--quiet", "HEAD").returncode != 0
    return head.stdout.strip() + ("-dirty" if dirty else "")


def footer_text(folder: Path) -> str:
    return f"Version {_version(folder)}, built from commit {_commit(folder)}."


def _set_footer(app, config) -> None:
    options = dict(config.html_theme_options or {})
    text = html.escape(footer_text(Path(app.confdir)))
    extra = options.get("extra_footer") or ""
    options["extra_footer"] = f'<p class="book-version">{text}</p>{extra}'
    config.html_theme_options = options


def setup(app):
    app.connect("config-inited", _set_footer)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
