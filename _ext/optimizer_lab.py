"""Sphinx extension: the optimizer lab (``lab/``) in the book's pages.

- The directive ``optimizer-lab`` places a lab::

      ```{optimizer-lab}
      :preset: tuned
      :methods: SGD, Adam
      :surface: beale
      ```

  (all options optional; ``:methods:`` and ``:surface:`` override the preset's). The
  page gets the lab's script and style (only the pages that hold a lab), copied from
  ``lab/src`` into ``_static/optlab/``; nothing is fetched when the page is read.
- The role ``lab`` links to the visualizing page's lab, opened on a preset:
  ``{lab}`adam``` ("the optimizer lab") or ``{lab}`Adam at the saddle <adam>```.
"""

from __future__ import annotations

import html
import os
import re
import shutil
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

LAB_PAGE = "chapters/visualizing"
ANCHOR = "optimizer-lab"
ASSETS = ("core.js", "presets.js", "lab.js", "lab.css")
SCRIPTS = ("optlab/core.js", "optlab/presets.js", "optlab/lab.js")
KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def lab_sources(confdir: str) -> Path:
    """``lab/src`` of the book (a copy built elsewhere finds it by OPTBOOK_ROOT)."""
    for root in (Path(confdir), os.environ.get("OPTBOOK_ROOT")):
        if root and (Path(root) / "lab" / "src" / "lab.js").is_file():
            return Path(root) / "lab" / "src"
    raise FileNotFoundError(
        "optimizer_lab: lab/src/lab.js not found next to _config.yml (set "
        "OPTBOOK_ROOT to the book's folder when building a copy)"
    )


def presets(source: Path) -> set[str]:
    """The presets' keys, read from presets.js (a key is a line ``  name: {``)."""
    text = (source / "presets.js").read_text()
    return set(re.findall(r"^    ([a-z_]+): \{$", text, re.MULTILINE))


class OptimizerLab(SphinxDirective):
    option_spec = {
        "preset": directives.unchanged,
        "methods": directives.unchanged,
        "surface": directives.unchanged,
    }

    def run(self) -> list[nodes.Node]:
        source = lab_sources(self.env.app.confdir)
        known = presets(source)
        preset = self.options.get("preset", "tuned")
        if preset not in known:
            raise self.error(f"optimizer-lab: unknown preset {preset!r}; one of "
                             f"{', '.join(sorted(known))}")
        attributes = {"data-preset": preset}
        for option in ("methods", "surface"):
            if option in self.options:
                value = self.options[option]
                if not all(KEY.match(v.strip()) for v in value.split(",")):
                    raise self.error(f"optimizer-lab: bad :{option}: {value!r}")
                attributes[f"data-{option}"] = value
        self.env.metadata[self.env.docname]["optimizer_lab"] = True
        data = " ".join(f'{k}="{html.escape(v)}"' for k, v in attributes.items())
        markup = (
            f'<div class="optlab" id="{ANCHOR}" {data}>'
            "<p>The optimizer lab needs JavaScript: the paths are computed in the "
            "page.</p></div>"
        )
        return [nodes.raw("", markup, format="html")]


def lab_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{lab}`preset``` or ``{lab}`title <preset>```: a link to the lab."""
    found = re.match(r"^(.*?)\s*<([^<>]+)>$", text)
    title, preset = (found[1], found[2]) if found else ("the optimizer lab", text)
    env = inliner.document.settings.env
    known = presets(lab_sources(env.app.confdir))
    if preset not in known:
        message = inliner.reporter.error(
            f"lab: unknown preset {preset!r}; one of {', '.join(sorted(known))}",
            line=lineno,
        )
        return [inliner.problematic(rawtext, rawtext, message)], [message]
    builder = env.app.builder
    if builder.format != "html":  # the PDF: the lab lives in the web pages only
        return [nodes.emphasis(rawtext, f"{title} (in the web edition)")], []
    page = builder.get_relative_uri(env.docname, LAB_PAGE)
    uri = f"{page}?lab={preset}#{ANCHOR}"
    node = nodes.reference(rawtext, title, refuri=uri, classes=["optlab-link"])
    return [node], []


def add_assets(app, pagename, templatename, context, doctree) -> None:
    if app.env.metadata.get(pagename, {}).get("optimizer_lab"):
        app.add_css_file("optlab/lab.css")
        for script in SCRIPTS:
            app.add_js_file(script)


def copy_assets(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    if not any(meta.get("optimizer_lab") for meta in app.env.metadata.values()):
        return  # no page holds a lab
    source = lab_sources(app.confdir)
    target = Path(app.outdir) / "_static" / "optlab"
    target.mkdir(parents=True, exist_ok=True)
    for name in ASSETS:
        shutil.copyfile(source / name, target / name)


def setup(app):
    app.add_directive("optimizer-lab", OptimizerLab)
    app.add_role("lab", lab_role)
    app.connect("html-page-context", add_assets)
    app.connect("build-finished", copy_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
