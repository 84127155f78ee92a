"""Check the built HTML book: every chapter page exists and shows its figures.

A figure is a code cell whose metadata numbers it (``mystnb.figure``, the reading
conventions); the page must show at least as many images as its notebook has figures.

A notebook whose figures silently vanish (a non-inline matplotlib backend in the kernel,
say) still executes and still builds without warnings; this check catches it.
    usage: python scripts/check_built_book.py [_build/html]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def chapters(entries):
    for entry in entries:
        if "file" in entry:
            yield entry["file"]
        yield from chapters(entry.get("chapters", []) + entry.get("sections", []))


def main(html: Path) -> int:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    problems = []
    for name in chapters(toc["parts"]):
        if not (ROOT / f"{name}.ipynb").exists():
            continue  # a Markdown page has no figures to check
        page = html / f"{name}.html"
        if not page.exists():
            problems.append(f"{page}: missing")
            continue
        figures = re.findall(
            r'<img[^>]+src="(?:\.\./)*_images/[^"]+\.png"', page.read_text()
        )
        notebook = json.loads((ROOT / f"{name}.ipynb").read_text())
        expected = sum("figure" in cell.get("metadata", {}).get("mystnb", {})
                       for cell in notebook["cells"])
        print(f"{name}: {len(figures)} images for {expected} figures")
        if len(figures) < expected:
            problems.append(f"{page}: {len(figures)} images, {expected} figures")
    for problem in problems:
        print("PROBLEM:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build" / "html"))
