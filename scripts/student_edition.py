"""Write the students' edition's _config.yml and _toc.yml into a folder.

The students' edition is the book with every exercise solution hidden (sphinx-exercise's
``hide_solutions``) and without the chapters marked as solutions in ``_toc.yml`` (the
homework's reference solution). Used by ``scripts/build-book --hide-solutions``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOLUTION_CHAPTERS = {"chapters/homework_solution"}


def main(out: Path) -> None:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["sphinx"]["config"]["hide_solutions"] = True
    config["title"] += " (students' edition)"
    config["bibtex_bibfiles"] = [str(ROOT / name) for name in config["bibtex_bibfiles"]]
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    for part in toc["parts"]:
        part["chapters"] = [c for c in part["chapters"] if c["file"] not in SOLUTION_CHAPTERS]
    out.mkdir(parents=True, exist_ok=True)
    (out / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    (out / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
