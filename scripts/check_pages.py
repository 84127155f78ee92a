"""Open every built page in a real browser and check that it reads well.

usage: python scripts/check_pages.py HTML_DIR [HTML_DIR ...] [--jobs N] [--shots DIR]

Each page of each folder (a built book, e.g. ``_build/html``) is opened in Debian's
Chromium (``/usr/bin/chromium``, driven by Playwright; no browser is downloaded) with
MathJax 3 served from a local copy (npm ``mathjax@MATHJAX_VERSION`` installed into
``_build/mathjax`` on first use), as a reader sees it. The check fails on:

- at 1400 x 900 px: a code block, output, display equation or table wider than its box
  (scrollWidth > clientWidth); an image shown below 80 % of its natural width (of its
  declared width, for a high-resolution image); a page taller than 15 screens (1400 x
  900 px; folded cells stay folded for this count);
- in the theme's dark mode (at 1400 px, as its toggle sets it): any visible text or
  equation whose contrast with the background it is drawn on is below WCAG AA (4.5:1;
  3:1 for large text), and any figure with see-through pixels on a dark background;
- with ``--pdf``: a page without a link to its edition's PDF, or a link to a PDF that is
  not there;
- at 400 px (still dark): the page itself scrolling sideways, or a wide element not in a
  box of its own that scrolls;
- raw TeX in the rendered text (``$``, ``\\frac``, ``\\begin``...), a MathJax error, an
  unresolved reference (``??``, ``{ref}``, ``{numref}``, ``{glue``, ``(label)``-style
  leftovers, "Exercise Exercise"), an RST role or double backticks in shown text.

Folded cells and solutions are unfolded before the checks except the page height.
Scrollbars are shown, as on a desktop. It prints each page's height in screens and every
defect, and exits 1 if any page failed. About 1 s of browser time per page, 3 at once.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MATHJAX_VERSION = "3.2.2"
MATHJAX_PREFIX = ROOT / "_build" / "mathjax"
DESK, PHONE, SCREEN_HEIGHT = 1400, 400, 900
MAX_SCREENS = 15.0
MIN_IMAGE_SCALE = 0.8
SKIPPED_PAGES = {"genindex.html", "search.html", "py-modindex.html"}
SKIPPED_DIRS = {"_static", "_sources", "_images", "_downloads", "jupyter_execute"}

# Rendered prose (outside math and code) never contains TeX.
RAW_TEX = re.compile(r"\$|\\[A-Za-z]+|\\[\[\]()]|[_^]\{")
# Markup that a reader must never see, in prose or in any output.
UNRESOLVED = re.compile(
    r"\?\?|\{(?:ref|numref|eq|cite|cite:[pt]|doc|glue|glue:\w+|math)\}|\{glue"
    r"|\b[Ee]xercise\s+Exercise\b|:(?:ref|numref|eq|cite|class|func|meth|mod|attr"
    r"|obj|data|math|doc|term|py:\w+)`|``"
)
PAREN_TOKEN = re.compile(r"\(([A-Za-z][\w:.-]*)\)")
BIBKEY = re.compile(r"^[a-z]+\d{4}[a-z]+$")  # wilson2017marginal
EQ_WORD = re.compile(r"\b(?:[Ee]q\.|[Ee]quation)\s*\(([A-Za-z][\w:.-]*)\)")


@dataclass
class PageReport:
    folder: Path
    path: str
    screens: float = 0.0
    defects: list[str] = field(default_factory=list)


def mathjax_dir() -> Path:
    """The local MathJax 3 (its ``es5`` folder), installed with npm on first use."""
    es5 = MATHJAX_PREFIX / "node_modules" / "mathjax" / "es5"
    package = es5.parent / "package.json"
    if not (es5 / "tex-mml-chtml.js").exists() or f'"{MATHJAX_VERSION}"' not in (
        package.read_text() if package.exists() else ""
    ):
        npm = shutil.which("npm")
        if npm is None:
            sys.exit(
                "check_pages: npm is needed once to install MathJax (apt install npm)"
            )
        MATHJAX_PREFIX.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                npm,
                "install",
                "--no-audit",
                "--no-fund",
                "--no-save",
                "--prefix",
                str(MATHJAX_PREFIX),
                f"mathjax@{MATHJAX_VERSION}",
            ],
            check=True,
        )
    return es5


def pages_of(folder: Path) -> list[Path]:
    pages = []
    for page in sorted(folder.rglob("*.html")):
        rel = page.relative_to(folder)
        if rel.name in SKIPPED_PAGES or SKIPPED_DIRS & set(rel.parts[:-1]):
            continue
        head = page.read_text(errors="replace")[:2000].lower()
        if 'http-equiv="refresh"' in head:  # index.html: a redirect to the first page
            continue
        pages.append(page)
    return pages


def known_labels(folder: Path) -> set[str]:
    """The book's MyST labels (equations, explicit targets, figures, exercises)."""
    labels: set[str] = set()
    for page in pages_of(folder):
        html = page.read_text(errors="replace")
        labels.update(re.findall(r'id="equation-([^"]+)"', html))
        labels.update(re.findall(r'<span id="([^"]+)"></span>', html))
        labels.update(
            re.findall(
                r'<(?:figure|div|table)[^>]*\bid="((?:fig|ex|sol|tab)'
                r'-[^"]+)"',
                html,
            )
        )
    return labels


def text_defects(texts: dict[str, list[str]], labels: set[str]) -> list[str]:
    """Raw TeX, unresolved references and label leftovers in a page's rendered text.

    ``texts["prose"]``: text outside math and code (Markdown outputs included);
    ``texts["printed"]``: printed output; ``texts["output"]``: code shown by an output
    (a source listing), checked for markup and labels but not for TeX."""
    found: list[str] = []

    def report(kind: str, text: str, start: int, end: int) -> None:
        snippet = text[max(0, start - 30) : end + 30].replace("\n", " ").strip()
        found.append(f"{kind}: ...{snippet}...")

    for where, chunks in texts.items():
        for text in chunks:
            # One report per kind and paragraph: the first place is enough to find it.
            if where in ("prose", "printed") and (m := RAW_TEX.search(text)):
                report("raw TeX", text, m.start(), m.end())
            if m := UNRESOLVED.search(text):
                report(f"unresolved markup in {where}", text, m.start(), m.end())
            for m in PAREN_TOKEN.finditer(text):
                token = m.group(1)
                if token in labels or BIBKEY.match(token):
                    report(f"raw label in {where}", text, m.start(), m.end())
            for m in EQ_WORD.finditer(text):
                if not m.group(1).replace(".", "").isdigit():
                    report(f"raw label in {where}", text, m.start(), m.end())
    return found


PAGE_JS = r"""
async (phase) => {
  const main = document.querySelector('main') || document.body;
  const article = document.querySelector('article.bd-article') || main;
  const snippet = (e) => (e.innerText || e.textContent || '').trim()
      .replace(/\s+/g, ' ').slice(0, 50);
  const where = (e) => {
    const box = e.closest('.cell_input') ? 'code input'
      : e.closest('.cell_output') ? 'output'
      : e.closest('mjx-container, div.math') ? 'equation'
      : e.closest('table') ? 'table' : 'code block';
    return box;
  };
  const visible = (e) => e.getClientRects().length > 0;
  const scrolls = (e) => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX);
  // The box that a wide element scrolls in: itself or an ancestor inside the article.
  const scrollBox = (e) => {
    for (let a = e; a && a !== article && a !== document.body; a = a.parentElement)
      if (scrolls(a) && a.clientWidth < article.clientWidth + 1) return a;
    return null;
  };
  const targets = () => {
    const out = [];
    for (const e of main.querySelectorAll('div.highlight pre'))
      out.push([e.closest('.cell_output') ? 'output' : (e.closest('.cell_input')
                ? 'code input' : 'code block'), e]);
    for (const e of main.querySelectorAll('div.cell_output > div'))
      out.push(['output', e]);
    for (const e of main.querySelectorAll('mjx-container[display="true"]'))
      out.push(['display equation', e]);
    for (const e of main.querySelectorAll('table')) out.push(['table', e]);
    return out.filter(([k, e]) => visible(e));
  };
  // How far an element's content reaches past its box (a table or an equation may
  // also spill out of its parent, which then clips it).
  const widerBy = (kind, e) => {
    let wide = e.scrollWidth - e.clientWidth;
    if (kind === 'table' || kind === 'display equation') {
      const inner = kind === 'table' ? e : (e.querySelector('mjx-math') || e);
      const parent = e.parentElement.getBoundingClientRect();
      const r = e.getBoundingClientRect();
      wide = Math.max(wide, inner.getBoundingClientRect().width - e.clientWidth,
                      r.right - parent.right, parent.left - r.left);
    }
    return wide;
  };
  const longestLine = (e) => Math.max(0, ...(e.textContent || '').split('\n')
      .map(l => l.length));
  if (phase === 'folded') {
    return {height: document.documentElement.scrollHeight};
  }
  if (phase === 'unfold') {
    for (const d of document.querySelectorAll('details')) d.open = true;
    for (const e of document.querySelectorAll('.toggle-hidden'))
      e.classList.remove('toggle-hidden');
    for (const i of document.querySelectorAll('img')) i.loading = 'eager';
    await Promise.all([...document.querySelectorAll('img')]
      .map(i => i.decode().catch(() => null)));
    return {};
  }
  if (phase === 'desk') {
    const overflow = [];
    for (const [kind, e] of targets()) {
      const wide = Math.round(widerBy(kind, e));
      if (wide > 1) {
        const cols = e.tagName === 'PRE' ? `, ${longestLine(e)} columns` : '';
        overflow.push(`${kind} overflows by ${wide} px${cols}: "${snippet(e)}"`);
      }
    }
    const small = [];
    for (const i of main.querySelectorAll('img')) {
      if (!visible(i) || i.naturalWidth < 50) continue;
      // A high-resolution image (retina) declares its size in CSS px: width="700".
      const declared = /^\d+(px)?$/.test(i.getAttribute('width') || '')
        ? parseFloat(i.getAttribute('width')) : 0;
      const size = declared || i.naturalWidth;
      const shown = i.getBoundingClientRect().width;
      if (shown < %MIN_SCALE% * size)
        small.push(`image shown at ${Math.round(100 * shown / size)} % ` +
                   `(${Math.round(shown)} of ${size} px): ` +
                   `${(i.getAttribute('src') || '').split('/').pop().slice(0, 24)}`);
    }
    const mathErrors = [...main.querySelectorAll('mjx-merror')]
      .map(e => `MathJax error: ${e.getAttribute('data-mjx-error') || snippet(e)}`);
    // An undefined macro is shown as its name in red (MathJax's noundefined package).
    for (const e of main.querySelectorAll('mjx-assistive-mml mtext[mathcolor="red"]'))
      if (/^\\[A-Za-z]+/.test(e.textContent))
        mathErrors.push(`MathJax error: undefined macro ${e.textContent}`);
    // Text a reader sees: prose (outside math and code, Markdown outputs included),
    // printed output (stream and plain text) and code shown in outputs (listings).
    const texts = {prose: [], printed: [], output: []};
    const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
    const skip = 'script, style, noscript, mjx-container, .cell_input, ' +
                 'span.eqno, .headerlink, nav, .toggle-details__summary';
    const kindOf = (p) => {
      if (p.closest('.cell_output')) {
        if (p.closest('.output.stream, .output.text_plain')) return 'printed';
        return p.closest('pre, code, .highlight') ? 'output' : 'prose';
      }
      return p.closest('pre, code, .highlight') ? null : 'prose';
    };
    let block = null, kind = null, buf = '';
    const flush = () => { if (buf.trim()) texts[kind].push(buf); buf = ''; };
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const p = n.parentElement;
      if (!p || p.closest(skip)) continue;
      const k = kindOf(p);
      if (k === null) continue;
      const b = p.closest('p, li, td, th, pre, h1, h2, h3, h4, h5, h6, dt, dd, ' +
                          'figcaption, caption, div');
      if (b !== block || k !== kind) { if (block) flush(); block = b; kind = k; }
      buf += n.textContent;
    }
    if (block) flush();
    return {overflow, small, mathErrors, ...texts};
  }
  if (phase === 'dark') {
    // The theme's dark mode, as its toggle sets it; then every visible text (and every
    // equation) against the background it is drawn on: WCAG's contrast ratio.
    // No transition: the colours are measured as they end, not half-way from light.
    const still = document.createElement('style');
    still.textContent = '*, *::before, *::after { transition: none !important; ' +
                        'animation: none !important; }';
    document.head.appendChild(still);
    document.documentElement.dataset.theme = 'dark';
    document.documentElement.dataset.mode = 'dark';
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    await new Promise(r => setTimeout(r, 50));
    const rgba = (c) => {
      const m = c.match(/rgba?\(([^)]+)\)/);
      if (!m) return [0, 0, 0, 0];
      const v = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
      return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1];
    };
    const over = (top, under) => {  // top composited over an opaque colour
      const a = top[3];
      return [0, 1, 2].map(i => top[i] * a + under[i] * (1 - a)).concat([1]);
    };
    const background = (e) => {
      const layers = [];
      for (let a = e; a; a = a.parentElement) {
        const c = rgba(getComputedStyle(a).backgroundColor);
        if (c[3] > 0) layers.push(c);
        if (c[3] >= 1) break;
      }
      let base = [255, 255, 255, 1];
      if (layers.length && layers[layers.length - 1][3] >= 1) base = layers.pop();
      for (let i = layers.length - 1; i >= 0; i--) base = over(layers[i], base);
      return base;
    };
    const lum = (c) => {
      const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92
                                      : Math.pow((v + 0.055) / 1.055, 2.4); };
      return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
    };
    const ratio = (a, b) => {
      const [l1, l2] = [lum(a), lum(b)].sort((x, y) => y - x);
      return (l1 + 0.05) / (l2 + 0.05);
    };
    const shown = (e) => {
      if (!visible(e)) return false;
      const r = e.getBoundingClientRect();
      if (r.width < 2 || r.height < 2) return false;  // screen-reader-only text
      for (let a = e; a; a = a.parentElement) {
        const s = getComputedStyle(a);
        if (s.visibility === 'hidden' || s.display === 'none' || +s.opacity === 0)
          return false;
      }
      return true;
    };
    const low = [];
    const seen = new Set();
    const judge = (e, what) => {
      if (seen.has(e) || !shown(e)) return;
      seen.add(e);
      const s = getComputedStyle(e);
      const bg = background(e);
      const fg = over(rgba(s.color), bg);
      const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight) >= 700;
      const need = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
      const r = ratio(fg, bg);
      if (r < need)
        low.push(`${what} "${snippet(e)}" has contrast ${r.toFixed(2)}:1 ` +
                 `(at least ${need}:1): ${s.color} on ` +
                 `rgb(${bg.slice(0, 3).map(Math.round)})`);
    };
    const skip = 'script, style, noscript, .headerlink, mjx-assistive-mml, mjx-merror';
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const p = n.parentElement;
      if (!p || !n.textContent.trim() || p.closest(skip)) continue;
      judge(p, 'text');
    }
    for (const e of main.querySelectorAll('mjx-container')) judge(e, 'equation');
    const images = [];
    for (const i of main.querySelectorAll('img')) {
      if (!visible(i)) continue;
      const bg = background(i.parentElement);
      images.push({src: i.getAttribute('src') || '', dark: lum(bg) < 0.4});
    }
    return {low: [...new Set(low)].slice(0, 20), images};
  }
  if (phase === 'phone') {
    const defects = [];
    const pageWide = Math.max(document.documentElement.scrollWidth,
                              document.body.scrollWidth) - window.innerWidth;
    if (pageWide > 1) {
      const culprits = [];
      for (const e of article.querySelectorAll('*')) {
        if (!visible(e) || scrollBox(e.parentElement || e)) continue;
        if (e.closest('mjx-assistive-mml')) continue;
        const r = e.getBoundingClientRect();
        if (r.right > window.innerWidth + 1 && r.width > 0) {
          if (culprits.some(c => c.contains(e))) continue;
          culprits.push(e);
          if (culprits.length >= 3) break;
        }
      }
      defects.push(`page scrolls sideways by ${pageWide} px at 400 px` +
        culprits.map(c => `; wide ${c.tagName.toLowerCase()}` +
          `.${[...c.classList].slice(0, 2).join('.')} "${snippet(c)}"`).join(''));
    }
    for (const [kind, e] of targets()) {
      if (widerBy(kind, e) <= 1) continue;
      if (!scrollBox(e))
        defects.push(`${kind} wider than the page at 400 px and not in a box that ` +
                     `scrolls: "${snippet(e)}"`);
    }
    return {defects: [...new Set(defects)]};
  }
}
""".replace("%MIN_SCALE%", str(MIN_IMAGE_SCALE))


async def screenshot(page, path: Path) -> None:
    """A full-page screenshot (a long unfolded page takes a while under load)."""
    await page.screenshot(path=str(path), full_page=True, timeout=120_000)


async def pdf_link_defects(page, page_path: Path) -> list[str]:
    """The page links its edition's PDF (the download menu, _ext/book_pdf.py), and the
    PDF is there (scripts/build-pdf copies it beside the HTML)."""
    hrefs = await page.evaluate(
        "() => [...document.querySelectorAll('a')].map(a => a.getAttribute('href'))"
        ".filter(h => h && /adaptive-optimizers-[a-z]+\\.pdf$/.test(h))"
    )
    if not hrefs:
        return ["no link to the book's PDF"]
    return [
        f"the PDF link {href} leads nowhere (run scripts/build-pdf)"
        for href in sorted(set(hrefs))
        if not (page_path.parent / href).resolve().is_file()
    ]


def transparent_on_dark(page_path: Path, images: list[dict]) -> list[str]:
    """Images with see-through pixels drawn on a dark background: a figure whose black
    text or lines would vanish in dark mode (a figure on a white canvas is a light panel
    of its own and reads in both modes)."""
    from PIL import Image

    found = []
    for image in images:
        src = image["src"].split("#")[0].split("?")[0]
        if not image["dark"] or src.startswith(("data:", "http")) or not src:
            continue
        path = (page_path.parent / src).resolve()
        if not path.is_file() or path.suffix.lower() not in (".png", ".webp", ".gif"):
            continue
        with Image.open(path) as img:
            if "A" not in img.getbands() and "transparency" not in img.info:
                continue
            alpha = img.convert("RGBA").getchannel("A")
            see_through = sum(alpha.histogram()[:128]) / (img.width * img.height)
        if see_through > 0.05:
            found.append(
                f"dark mode: image {path.name} is {see_through:.0%} transparent on a "
                "dark background (give it a light panel or dark-mode colours)"
            )
    return found


async def route_requests(route, es5: Path) -> None:
    """Serve MathJax's CDN URLs from the local copy; refuse other network requests."""
    url = route.request.url
    if url.startswith(("file:", "data:", "blob:")):
        await route.continue_()
        return
    path = urlparse(url).path
    if "mathjax" in url and "/es5/" in path:
        local = (es5 / path.split("/es5/", 1)[1]).resolve()
        if local.is_file() and local.is_relative_to(es5.resolve()):
            await route.fulfill(path=str(local))
            return
        await route.fulfill(status=404, body="not in the local MathJax copy")
        return
    await route.abort()


async def check_page(
    context,
    page_path: Path,
    folder: Path,
    labels: set[str],
    shots: Path | None,
    pdf: bool = False,
) -> PageReport:
    report = PageReport(folder, str(page_path.relative_to(folder)))
    page = await context.new_page()
    try:
        await page.goto(page_path.resolve().as_uri(), wait_until="load")
        needs_mathjax = await page.evaluate(
            "() => !!document.querySelector('script[src*=\"mathjax\"]')"
        )
        if needs_mathjax:
            try:
                await page.wait_for_function(
                    "() => window.MathJax && MathJax.startup"
                    " && MathJax.startup.promise",
                    timeout=30_000,
                )
                await page.evaluate("async () => { await MathJax.startup.promise; }")
            except Exception as err:  # noqa: BLE001 - reported as a defect
                report.defects.append(f"MathJax did not render: {err}".splitlines()[0])
        await page.evaluate("async () => { await document.fonts.ready; }")
        height = (await page.evaluate(PAGE_JS, "folded"))["height"]
        report.screens = height / SCREEN_HEIGHT
        if report.screens > MAX_SCREENS:
            report.defects.append(
                f"page is {report.screens:.1f} screens tall (at most {MAX_SCREENS:g})"
            )
        if shots:
            name = report.path.replace("/", "-").removesuffix(".html")
            await screenshot(page, shots / f"{name}-1400.png")
        await page.evaluate(PAGE_JS, "unfold")
        desk = await page.evaluate(PAGE_JS, "desk")
        report.defects += [f"at 1400 px: {d}" for d in desk["overflow"]]
        report.defects += [f"at 1400 px: {d}" for d in desk["small"]]
        report.defects += desk["mathErrors"]
        report.defects += text_defects(
            {k: desk[k] for k in ("prose", "printed", "output")}, labels
        )
        if pdf:
            report.defects += await pdf_link_defects(page, page_path)
        dark = await page.evaluate(PAGE_JS, "dark")
        report.defects += [f"dark mode: {d}" for d in dark["low"]]
        report.defects += transparent_on_dark(page_path, dark["images"])
        if shots:
            await screenshot(page, shots / f"{name}-dark-1400.png")
        await page.set_viewport_size({"width": PHONE, "height": SCREEN_HEIGHT})
        await page.wait_for_timeout(100)
        report.defects += (await page.evaluate(PAGE_JS, "phone"))["defects"]
        if shots:
            await page.evaluate(
                "() => { for (const d of document.querySelectorAll('details'))"
                " d.open = false; }"
            )
            await screenshot(page, shots / f"{name}-dark-400.png")
            await page.evaluate(
                "() => { document.documentElement.dataset.theme = 'light';"
                " document.documentElement.dataset.mode = 'light'; }"
            )
            await screenshot(page, shots / f"{name}-400.png")
    finally:
        await page.close()
    return report


async def check_folders(
    folders: list[Path], jobs: int, shots: Path | None, pdf: bool = False
) -> list[PageReport]:
    from playwright.async_api import async_playwright

    es5 = mathjax_dir()
    async with async_playwright() as p:
        # Scrollbars shown, as on a desktop: they take room from the page and boxes.
        browser = await p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            ignore_default_args=["--hide-scrollbars"],
        )
        context = await browser.new_context(
            viewport={"width": DESK, "height": SCREEN_HEIGHT}, device_scale_factor=1
        )
        await context.route("**/*", lambda route: route_requests(route, es5))
        limit = asyncio.Semaphore(jobs)

        async def one(page_path: Path, folder: Path, labels: set[str]) -> PageReport:
            async with limit:
                return await check_page(
                    context, page_path, folder, labels, shots, pdf
                )

        tasks = []
        for folder in folders:
            labels = known_labels(folder)
            tasks += [one(page, folder, labels) for page in pages_of(folder)]
        reports = await asyncio.gather(*tasks)
        await browser.close()
    return list(reports)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="built html folders")
    parser.add_argument("--jobs", type=int, default=3, help="pages open at once")
    parser.add_argument("--shots", type=Path, help="save full-page screenshots here")
    parser.add_argument(
        "--pdf",
        action="store_true",
        help="every page must link its edition's PDF, and the PDF must be there",
    )
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"check_pages: {CHROMIUM} is missing (apt-get install chromium)")
        return 2
    for folder in args.folders:
        if not pages_of(folder):
            print(f"check_pages: no built pages in {folder}")
            return 2
    if args.shots:
        args.shots.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    reports = asyncio.run(
        check_folders(args.folders, args.jobs, args.shots, pdf=args.pdf)
    )
    failed = 0
    for folder in args.folders:
        print(f"== {folder}")
        for r in reports:
            if r.folder != folder:
                continue
            failed += bool(r.defects)
            print(
                f"{'FAIL' if r.defects else 'ok  '} {r.path}: {r.screens:.1f} screens"
                + (f", {len(r.defects)} defects" if r.defects else "")
            )
            for d in r.defects:
                # JavaScript strings may hold lone UTF-16 surrogates (a cut emoji).
                d = d.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
                print(f"     {d}")
    longest = max(reports, key=lambda r: r.screens)
    print(
        f"{len(reports)} pages checked in {time.monotonic() - t0:.0f} s, "
        f"{failed} failed; longest: {longest.path} ({longest.screens:.1f} screens)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
