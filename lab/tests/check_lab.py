"""The optimizer lab in a real browser (Debian's Chromium, driven by Playwright).

usage: python lab/tests/check_lab.py [PAGE.html] [--shots DIR]

PAGE is a built page holding a lab (default: the built book's
``_build/html/chapters/visualizing.html`` if it holds one, else a standalone page made
from ``lab/src`` in a temporary folder). It fails, printing why, unless:

- the page loads with no console error and the lab asks the network for nothing
  (every request is a local file; the theme's MathJax is served from the local copy
  that scripts/check_pages.py installs);
- a click on the map sets the start, and the arrow keys move it;
- moving a slider from the keyboard changes that optimizer's path;
- the presets reproduce their verdicts: "escape" ends in the global well for Adam and
  not for SGD; "one shared learning rate" leaves fewer optimizers near the minimum than
  "tuned"; "saddle" and the bowl give momentum the same x-path;
- ten optimizers x 500 steps animate at 1400 px with a median frame (computing and
  drawing one frame) of at most 16 ms;
- at 400 px with touch, the page does not scroll sideways and a tap sets the start;
- in the theme's dark mode the lab draws on a dark background;
- the lab's files weigh at most 300 KB.
It prints the median frame time and the weight, and with --shots saves screenshots
of the lab at 1400 and 400 px, light and dark.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "lab" / "src"
BUILT = ROOT / "_build" / "html" / "chapters" / "visualizing.html"
sys.path.insert(0, str(ROOT / "scripts"))
from check_pages import CHROMIUM, CHROMIUM_ARGS, mathjax_dir  # noqa: E402

MAX_FRAME_MS = 16.0
MAX_WEIGHT = 300_000
ASSETS = ("core.js", "presets.js", "lab.js", "lab.css")


def standalone(folder: Path) -> Path:
    """A page holding one lab, with the assets beside it, as the extension places
    them."""
    static = folder / "_static" / "optlab"
    static.mkdir(parents=True)
    for name in ASSETS:
        (static / name).write_bytes((SOURCES / name).read_bytes())
    page = folder / "lab.html"
    page.write_text(
        '<!doctype html><html data-theme="light"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="stylesheet" href="_static/optlab/lab.css">'
        "<style>body{font-family:sans-serif;max-width:800px;margin:1rem auto;"
        "padding:0 0.5rem} html[data-theme=dark] body{background:#121212}</style>"
        "</head><body><h1>Optimizer lab</h1>"
        '<div class="optlab" id="optimizer-lab" data-preset="tuned"></div>'
        '<script src="_static/optlab/core.js"></script>'
        '<script src="_static/optlab/presets.js"></script>'
        '<script src="_static/optlab/lab.js"></script></body></html>'
    )
    return page


def weight(page: Path) -> int:
    static = page.parent
    while not (static / "_static").is_dir() and static != static.parent:
        static = static.parent
    return sum((static / "_static" / "optlab" / n).stat().st_size for n in ASSETS)


LAB = "window.OptLab.labs[0]"


def final_point(page, method):
    return page.evaluate(
        f"""m => {{ const p = {LAB}.paths[m].points, n = p.length;
               return [p[n - 2], p[n - 1]]; }}""", method)


def check(page_path: Path, shots: Path | None) -> list[str]:
    from playwright.sync_api import sync_playwright

    es5 = mathjax_dir()
    problems: list[str] = []
    errors: list[str] = []
    remote: list[str] = []

    def route(r):
        url = r.request.url
        if url.startswith(("file:", "data:", "blob:")):
            return r.continue_()
        path = url.split("?")[0]
        if "mathjax" in url and "/es5/" in path:  # the theme's, not the lab's
            local = es5 / path.split("/es5/", 1)[1]
            if local.is_file():
                return r.fulfill(path=str(local))
        remote.append(url)
        return r.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)

        def open_page(width, touch=False, dark=False):
            context = browser.new_context(viewport={"width": width, "height": 900},
                                          device_scale_factor=1, has_touch=touch,
                                          is_mobile=touch)
            context.route("**/*", route)
            page = context.new_page()
            page.on("console", lambda m: m.type == "error" and errors.append(
                (m.text, m.location.get("url", ""))))
            page.on("pageerror", lambda e: errors.append((str(e), e.stack or "")))
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            page.wait_for_function("() => window.OptLab && window.OptLab.labs.length")
            if dark:
                page.evaluate("() => document.documentElement.dataset.theme = 'dark'")
            page.wait_for_timeout(200)
            return page

        def shoot(page, name):
            """The lab as a reader sees it: the page scrolled to it, the theme's
            header in place, the window tall enough to show all of it."""
            if not shots:
                return
            shots.mkdir(parents=True, exist_ok=True)
            page.evaluate("() => document.activeElement?.blur()")
            width = page.viewport_size["width"]
            height = page.evaluate("() => document.querySelector('.optlab')"
                                   ".getBoundingClientRect().height")
            page.set_viewport_size({"width": width, "height": int(height) + 160})
            page.evaluate("""() => { const lab = document.querySelector('.optlab');
                window.scrollBy(0, lab.getBoundingClientRect().top - 120); }""")
            page.wait_for_timeout(300)
            page.screenshot(path=str(shots / name))
            page.set_viewport_size({"width": width, "height": 900})

        # -- 1400 px, light -------------------------------------------------------
        page = open_page(1400)
        lab = page.locator(".optlab").first
        lab.scroll_into_view_if_needed()
        shoot(page, "lab-1400-light.png")
        mapped = page.locator(".optlab-map").first
        box = mapped.bounding_box()
        before = page.evaluate(f"() => {LAB}.start")
        mapped.click(position={"x": 0.3 * box["width"], "y": 0.4 * box["height"]})
        after = page.evaluate(f"() => {LAB}.start")
        first = page.evaluate(f"""() => {{ const n = Object.keys({LAB}.paths)[0];
            const p = {LAB}.paths[n].points; return [p[0], p[1]]; }}""")
        if after == before or first != after:
            problems.append(f"a click did not set the start ({before} -> {after}, "
                            f"paths start at {first})")
        page.locator(".optlab-map").first.focus()
        page.keyboard.press("ArrowUp")
        moved = page.evaluate(f"() => {LAB}.start")
        if not moved[1] > after[1]:
            problems.append(f"ArrowUp did not move the start up ({after} -> {moved})")

        # a slider, from the keyboard
        page.select_option(".optlab select >> nth=0", "escape")
        old = final_point(page, "Adam")
        page.locator(".optlab-settings > summary").first.click()
        card = page.locator('.optlab-card[data-method="Adam"]').first
        card.locator("input[type=range]").first.focus()
        page.keyboard.press("ArrowLeft")
        new = final_point(page, "Adam")
        if old == new:
            problems.append("moving Adam's lr slider did not change its path")
        shoot(page, "lab-1400-settings-open.png")
        shown = card.locator("output").first.inner_text()
        if not shown:
            problems.append("the slider shows no value")

        # the presets' verdicts
        page.select_option(".optlab select >> nth=0", "escape")
        wells = page.evaluate(f"() => {LAB}.surface.minimum")

        def near(point, target, r=0.1):
            dx, dy = point[0] - target[0], point[1] - target[1]
            return (dx * dx + dy * dy) ** 0.5 < r

        adam, sgd = final_point(page, "Adam"), final_point(page, "SGD")
        if not near(adam, wells) or near(sgd, wells):
            problems.append(f"escape: Adam ends at {adam}, SGD at {sgd}; the global "
                            f"well is at {wells}")
        shot_counts = {}
        for preset in ("shared", "tuned"):
            page.select_option(".optlab select >> nth=0", preset)
            shot_counts[preset] = page.evaluate(f"""() => {{ const lab = {LAB};
                return Object.values(lab.paths).filter(p =>
                  p.losses[p.losses.length - 1] - lab.surface.fmin < 1e-3).length;
                }}""")
        if not shot_counts["tuned"] > shot_counts["shared"]:
            problems.append(f"tuned vs shared: {shot_counts} near the minimum")
        page.select_option(".optlab select >> nth=0", "saddle")
        saddle_x = page.evaluate(f"() => Array.from({LAB}.paths.momentum.points)"
                                 ".filter((v, i) => i % 2 === 0)")
        page.select_option(".optlab select >> nth=1", "bowl")
        page.evaluate(f"() => {{ {LAB}.start = [1, 0.01]; {LAB}.recompute(); }}")
        bowl_x = page.evaluate(f"() => Array.from({LAB}.paths.momentum.points)"
                               ".filter((v, i) => i % 2 === 0)")
        if saddle_x != bowl_x:
            problems.append("saddle vs bowl: momentum's x-paths differ")

        # ten optimizers x 500 steps: the frame time
        page.select_option(".optlab select >> nth=0", "tuned")
        page.select_option(".optlab select >> nth=2", "500")
        for box_ in page.locator(".optlab-legend input[type=checkbox]").all():
            if not box_.is_checked():
                box_.check()
        enabled = page.evaluate(f"() => Object.keys({LAB}.paths).length")
        page.evaluate(f"() => {{ {LAB}.frameTimes = []; }}")
        page.locator(".optlab-play").first.click()
        page.wait_for_function(f"() => !{LAB}.playing", timeout=60_000)
        times = page.evaluate(f"() => {LAB}.frameTimes")
        median = statistics.median(times) if times else float("inf")
        print(f"frame time: median {median:.2f} ms over {len(times)} frames "
              f"({enabled} optimizers, 500 steps, 1400 px)")
        if enabled != 10 or median > MAX_FRAME_MS:
            problems.append(f"median frame {median:.2f} ms with {enabled} optimizers")
        page.context.close()

        # -- dark, 1400 px ----------------------------------------------------------
        page = open_page(1400, dark=True)
        page.locator(".optlab").first.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        pixel = page.evaluate("""() => {
            const c = document.querySelector('.optlab-map');
            return Array.from(c.getContext('2d').getImageData(2, 2, 1, 1).data); }""")
        if sum(pixel[:3]) > 3 * 80:
            problems.append(f"dark mode: the map's background is light ({pixel})")
        shoot(page, "lab-1400-dark.png")
        page.context.close()

        # -- 400 px, touch, light and dark --------------------------------------------
        for dark in (False, True):
            page = open_page(400, touch=True, dark=dark)
            wide = page.evaluate("() => document.documentElement.scrollWidth")
            if wide > 400:
                problems.append(f"400 px: the page is {wide} px wide")
            overflow = page.evaluate("""() => Array.from(document.querySelectorAll(
                '.optlab *')).filter(e => e.getBoundingClientRect().right >
                document.documentElement.clientWidth + 1).map(e => e.className ||
                e.tagName).slice(0, 5)""")
            if overflow:
                problems.append(f"400 px: cut off: {overflow}")
            if not dark:
                mapbox = page.locator(".optlab-map").first
                b = mapbox.bounding_box()
                before = page.evaluate(f"() => {LAB}.start")
                mapbox.tap(position={"x": 0.7 * b["width"], "y": 0.6 * b["height"]})
                if page.evaluate(f"() => {LAB}.start") == before:
                    problems.append("400 px: a tap did not set the start")
            page.locator(".optlab").first.scroll_into_view_if_needed()
            shoot(page, f"lab-400-{'dark' if dark else 'light'}.png")
            page.context.close()
        browser.close()

    # The lab's errors fail the check; the theme's own (e.g. pydata-sphinx-theme's
    # "invalid theme mode" under file://, on every page) are only shown.
    for text, where in dict.fromkeys(errors):
        if "optlab" in where.lower() or "optlab" in text.lower():
            problems.append(f"console error from the lab: {text} ({where})")
        else:
            print(f"note: the page's own console error, not the lab's: {text}")
    problems += [f"network request: {u}" for u in remote]
    size = weight(page_path)
    print(f"page weight added by the lab: {size / 1000:.1f} KB")
    if size > MAX_WEIGHT:
        problems.append(f"the lab weighs {size} bytes")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("page", nargs="?", type=Path)
    parser.add_argument("--shots", type=Path)
    args = parser.parse_args(argv)
    page = args.page
    with tempfile.TemporaryDirectory() as tmp:
        if page is None:
            if BUILT.is_file() and 'class="optlab"' in BUILT.read_text():
                page = BUILT
            else:
                page = standalone(Path(tmp))
        print(f"checking the lab in {page}")
        problems = check(page, args.shots)
    for problem in problems:
        print("FAIL:", problem)
    print("lab browser check:", "failed" if problems else "passed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
