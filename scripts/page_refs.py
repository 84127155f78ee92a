"""A page built alone (scripts/build-page, scripts/handout) and the rest of the book.

A reference from the page to another page of the book (``{doc}``, ``{ref}``,
``{numref}``, ``{eq}``, ``{term}``) cannot be resolved when the page is built alone.
As a Sphinx extension, this module turns each such reference into plain text that
names what it points at (the section, "a figure of the chapter ..."), from a table of
the book's targets that :func:`book_targets` makes before the build. A reference to a
target that is nowhere in the book stays an error (the build is strict).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import yaml

TABLE = "_page_refs.json"  # written into the page's build folder


def _texts(path: Path) -> list[str]:
    """The Markdown of a page (a notebook's Markdown cells) and its cells' metadata."""
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        return [c.source for c in nb.cells if c.cell_type == "markdown"] + [
            json.dumps(c.metadata) for c in nb.cells
        ]
    return [path.read_text()]


def _toc_files(toc: dict) -> list[str]:
    def walk(entries):
        for entry in entries:
            if "file" in entry:
                yield entry["file"]
            yield from walk(entry.get("chapters", []) + entry.get("sections", []))

    return [toc["root"], *walk(toc.get("parts", []))]


def book_targets(root: Path) -> dict:
    """{"docs": {doc: title}, "labels": {label: [doc, text]}, "terms": [term]} of every
    page of the book's _toc.yml."""
    docs: dict[str, str] = {}
    labels: dict[str, list[str]] = {}
    terms: list[str] = []
    for doc in _toc_files(yaml.safe_load((root / "_toc.yml").read_text())):
        found = [p for p in (root / f"{doc}.ipynb", root / f"{doc}.md") if p.is_file()]
        if not found:
            continue
        texts = _texts(found[0])
        markdown = "\n".join(texts)
        title = re.search(r"^# (.+)$", markdown, re.MULTILINE)
        docs[doc] = title[1].strip() if title else Path(doc).name
        for label, heading in re.findall(
            r"^\((\S+?)\)=\s*\n+#+ (.+)$", markdown, re.MULTILINE
        ):
            labels[label.lower()] = [doc, heading.strip()]
        named = re.findall(r"^:(?:label|name):\s*(\S+)", markdown, re.MULTILINE)
        named += re.findall(r"\$\$\s*\((\S+?)\)\s*$", markdown, re.MULTILINE)
        named += re.findall(r'"name": "([^"]+)"', markdown)
        for label in named:
            labels.setdefault(label.lower(), [doc, ""])
        for block in re.findall(r"```\{glossary\}\n(.*?)```", markdown, re.DOTALL):
            terms += [
                line.strip().lower()
                for line in block.splitlines()
                if line.strip() and not line.startswith((" ", "\t", ":"))
            ]
    return {"docs": docs, "labels": labels, "terms": terms}


def setup(app):
    app.connect("missing-reference", _resolve)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def _resolve(app, env, node, contnode):
    from docutils import nodes

    table_path = Path(app.srcdir) / TABLE
    if not table_path.is_file():
        return None
    table = json.loads(table_path.read_text())
    kind, target = node.get("reftype"), node.get("reftarget", "")
    explicit = node.get("refexplicit", False)
    if kind == "term":
        return contnode if target.lower() in table["terms"] else None
    if kind == "doc":
        here = Path(env.docname).parent
        doc = (here / target).as_posix() if not target.startswith("/") else target[1:]
        title = table["docs"].get(doc)
        if title is None:
            return None
        return contnode if explicit else nodes.inline(text=f"“{title}”")
    where = table["labels"].get(target.lower())
    if where is None:
        return None
    doc, heading = where
    chapter = table["docs"].get(doc, doc)
    if explicit:
        return contnode
    if kind == "numref":
        text = f"a figure of “{chapter}”"
    elif node.get("refdomain") == "math":
        text = f"an equation of “{chapter}”"
    else:
        text = f"“{heading}” (in “{chapter}”)" if heading else f"“{chapter}”"
    return nodes.inline(text=text)
