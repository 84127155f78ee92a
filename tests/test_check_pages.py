"""scripts/check_pages.py catches each defect it is for, and passes a clean page.

Tiny synthetic pages (one defect each) are opened in Debian's Chromium with the local
MathJax, as the check opens the built book. Skipped where Chromium, Playwright or the
local MathJax (and npm to install it) are missing.
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location(
    "check_pages", ROOT / "scripts/check_pages.py"
)
check_pages = importlib.util.module_from_spec(spec)
sys.modules["check_pages"] = check_pages
spec.loader.exec_module(check_pages)

MATHJAX_READY = (
    check_pages.MATHJAX_PREFIX / "node_modules/mathjax/es5/tex-mml-chtml.js"
).exists()
needs_browser = pytest.mark.skipif(
    not check_pages.CHROMIUM.exists()
    or importlib.util.find_spec("playwright") is None
    or not (MATHJAX_READY or shutil.which("npm")),
    reason="needs Debian's Chromium (/usr/bin/chromium), Playwright, and the local "
    "MathJax or npm to install it (.ci/run installs them)",
)

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8">
<style>
body {{ margin: 0; font: 16px/1.5 sans-serif; }}
html[data-theme="dark"] body {{ background: #121212; color: #ddd; }}
main {{ display: flex; justify-content: center; }}
article.bd-article {{ width: min(800px, calc(100vw - 32px)); padding: 0 16px; }}
pre {{ font: 14px/1.4 "DejaVu Sans Mono", monospace; overflow-x: auto; padding: 8px;
       margin: 0; }}
img {{ max-width: 100%; height: auto; }}
div.math {{ display: flex; overflow: hidden; }}
div.math mjx-container {{ flex-grow: 1; min-width: 0; overflow-x: auto; }}
.clipped div.math mjx-container {{ min-width: auto; overflow: visible; }}
</style>
<script defer src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js">
</script></head>
<body><main><article class="bd-article">{body}</article></main></body></html>
"""


def cell(source: str, output: str = "") -> str:
    out = (
        (
            f'<div class="cell_output"><div class="output"><div class="highlight">'
            f"<pre>{output}</pre></div></div></div>"
        )
        if output
        else ""
    )
    return (
        f'<div class="cell"><div class="cell_input"><div class="highlight">'
        f"<pre>{source}</pre></div></div>{out}</div>"
    )


CODE_88 = "x = 1  # " + "a" * 79
WIDE_EQ = (
    r"\[ \theta_t = \theta_{t-1} - \eta \frac{m_t}{\sqrt{v_t} + \epsilon} + "
    r"\lambda \theta_{t-1} + a_1 + a_2 + a_3 + a_4 + a_5 + a_6 + a_7 + a_8 \]"
)
HUGE_EQ = r"\[ " + " + ".join(f"x_{{{i}}}^2" for i in range(60)) + r" \]"

PAGES = {
    # Everything in its place: 88 columns of code, an equation that scrolls in its own
    # box on a phone, a table and an image that fit, prose with harmless parentheses.
    "clean": (
        "<h1>Clean</h1><p>Adam (step-size free) keeps two averages "
        r'<span class="math">\(m_t\)</span>; see (3.1) and Section 2.</p>'
        + cell(CODE_88, "loss 0.25")
        + f'<div class="math" id="equation-adam-1">{WIDE_EQ}</div>'
        + "<table><tr><th>optimizer</th><th>loss</th></tr>"
        "<tr><td>Adam</td><td>0.1</td></tr></table>"
        + '<img src="narrow.png" alt="a plot">'
        + '<img src="retina.png" alt="a sharp plot" width="500">',
        [],
    ),
    "code": (cell(CODE_88 + "b" * 32), ["at 1400 px: code input overflows"]),
    "output": (cell("print(x)", "y" * 120), ["at 1400 px: output overflows"]),
    "equation": (
        f'<div class="math">{HUGE_EQ}</div>',
        ["at 1400 px: display equation overflows"],
    ),
    "clipped-equation": (
        f'<div class="clipped"><div class="math">{WIDE_EQ}</div></div>',
        [
            "display equation wider than the page at 400 px and not in a "
            "box that scrolls"
        ],
    ),
    "table": (
        "<table><tr>"
        + "".join(f"<th>column_number_{i}</th>" for i in range(14))
        + "</tr></table>",
        [
            "at 1400 px: table overflows",
            "page scrolls sideways",
            "table wider than the page at 400 px and not in a box",
        ],
    ),
    "phone": (
        '<div style="width: 600px">a fixed-width block</div>',
        ["page scrolls sideways"],
    ),
    "raw-tex": ("<p>converges at rate $O(1/k^2)$ here</p>", ["raw TeX"]),
    "raw-frac": (r"<p>the step \frac{\eta}{\sqrt{v}} is</p>", ["raw TeX"]),
    "printed-tex": (
        '<div class="cell"><div class="cell_output"><div class="output stream">'
        '<div class="highlight"><pre>beta = $\\beta_1$</pre></div></div></div></div>',
        ["raw TeX"],
    ),
    "unresolved": (
        '<div class="math" id="equation-adam-6">\\[ x \\]</div>'
        "<p>as shown in ?? above</p>"
        "<p>see {numref}`fig-adam-path`</p>"
        "<p>the ratio is {glue:text}`adam-ratio:.2f`</p>"
        "<p>Exercise Exercise 5.10 asks</p>"
        "<p>by equation (adam-6) we get</p>"
        "<p>as in (wilson2017marginal)</p>"
        + cell("show_source(AdamW)", "as ``torch.optim.AdamW`` does"),
        [
            "unresolved markup in prose: ...as shown in ??",
            "unresolved markup in prose: ...see {numref}",
            "unresolved markup in prose: ...the ratio is {glue:text}",
            "unresolved markup in prose: ...Exercise Exercise",
            "raw label in prose: ...by equation (adam-6)",
            "raw label in prose: ...as in (wilson2017marginal)",
            "unresolved markup in output: ...as ``torch.optim.AdamW``",
        ],
    ),
    "small-image": (
        '<img src="wide.png" alt="a plot" style="width: 500px; max-width: 100%">',
        ["at 1400 px: image shown at 50 % (500 of 1000 px)"],
    ),
    "tall": ('<div style="height: 14500px">long</div>', ["page is 16."]),
    "math-error": (r'<div class="math">\[ a & b \]</div>', ["MathJax error"]),
    "undefined-macro": (r'<div class="math">\[ \foo + x \]</div>', ["MathJax error"]),
    # Dark mode: grey text that reads on white but not on the dark background, and a
    # figure with a see-through background (its black lines vanish on dark).
    "dark-dim-text": (
        '<p style="color: #555">a caption designed on white</p>',
        ["dark mode: text \"a caption designed on white\" has contrast"],
    ),
    "dark-dim-equation": (
        r'<div class="math" style="color: #333">\[ x^2 \]</div>',
        ["dark mode: equation"],
    ),
    "dark-transparent-figure": (
        '<img src="transparent.png" alt="a plot">',
        ["dark mode: image transparent.png is"],
    ),
}


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    from PIL import Image

    folder = tmp_path_factory.mktemp("html")
    for name, (body, _) in PAGES.items():
        (folder / f"{name}.html").write_text(PAGE.format(body=body))
    Image.new("RGB", (1000, 80), "white").save(folder / "wide.png")
    Image.new("RGB", (300, 80), "white").save(folder / "narrow.png")
    Image.new("RGB", (1000, 80), "white").save(folder / "retina.png")
    Image.new("RGBA", (300, 80), (0, 0, 0, 0)).save(folder / "transparent.png")
    found = asyncio.run(check_pages.check_folders([folder], jobs=4, shots=None))
    return {Path(r.path).stem: r for r in found}


@needs_browser
@pytest.mark.parametrize("name", sorted(PAGES))
def test_each_defect_is_caught_and_a_clean_page_passes(reports, name):
    expected = PAGES[name][1]
    defects = reports[name].defects
    if not expected:
        assert defects == []
    for want in expected:
        assert any(d.startswith(want) for d in defects), (want, defects)
    # Each synthetic page has its one kind of defect and nothing else.
    kinds = {want.split(":")[0].split("...")[0] for want in expected}
    assert all(any(d.startswith(k) for k in kinds) for d in defects), defects


@needs_browser
def test_page_height_is_reported_in_screens(reports):
    assert 16.0 < reports["tall"].screens < 16.5
    assert reports["clean"].screens < 2


def test_text_rules_without_a_browser():
    labels = {"adam-6"}
    prose = [
        "a (step-size) and (3.1) and (Section 2) are fine",
        "x ?? y",
        "rate $O(1/k)$",
        "Eq. (hw-n0) says",
        "(adam-6)",
    ]
    found = check_pages.text_defects({"prose": prose, "output": ["``x``"]}, labels)
    kinds = [d.split(":")[0] for d in found]
    assert kinds == [
        "unresolved markup in prose",
        "raw TeX",
        "raw label in prose",
        "raw label in prose",
        "unresolved markup in output",
    ], found


def test_pages_of_skips_redirects_and_indexes(tmp_path):
    (tmp_path / "index.html").write_text('<meta http-equiv="Refresh" content="0">')
    (tmp_path / "genindex.html").write_text("<html></html>")
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "x.html").write_text("<html></html>")
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "adam.html").write_text("<html></html>")
    assert check_pages.pages_of(tmp_path) == [tmp_path / "chapters" / "adam.html"]
