"""The built book in a real browser, offline: what a reader who opens the HTML sees.

Both editions are built from the sources with `jupyter-book build -n -W --keep-going`
into a folder of this test run (tests/books.py: once per run, shared with the other tests
that open them; never a build someone ran by hand), and headless Debian Chromium, driven
by Selenium through Debian's chromedriver, opens every page at 1280 x 1000 px as a
file:// URL (as a reader opens `_build/html/index.html`) with every host name mapped to
nothing, so a script, font or image fetched from the network fails to load. Per page:

- MathJax ran and every formula Sphinx wrote (`span.math`, `div.math`) became MathJax
  output (`mjx-container`), with no TeX error (`mjx-merror`); formulas using the book's
  `\\R` macro show a double-struck R; equation numbers are shown; MathJax's fonts loaded
  (none failed);
- no raw TeX (`\\(`, `\\[`, `\\begin{`, `\\end{`) is left in the text outside code;
- no SEVERE message in the browser console (a JavaScript error, a resource that failed);
- every `<img>` loaded (natural width > 0);
- every link into the book names a file that exists and, with `#anchor`, an id on it;
- every dropdown (the exercises' solutions) is closed and opens on a click;
- then, with every dropdown open: no code cell, output, table or display equation is wider
  than its box (nothing hides behind a horizontal scroll bar at 1280 px); every figure is
  drawn at 1.1 screen pixels per point or more (displayed width / natural width x the
  PNG's dpi / 72), so its 9 pt text shows at 10 px or more, and has an alt text that says
  what it shows (not its file name, not empty); axe-core (tests/vendor/axe-core) finds no
  violation of WCAG 2.0 / 2.1, levels A and AA.

Run alone with `pytest -p no:nbval -o addopts="" -s tests/test_browser.py` to see the
figures (pages, formulas, links, dropdowns, seconds). Without Chromium the test skips
and says what to install; under CI (`CI=true`, set by `.ci/run`) a missing browser
fails.
"""
import html.parser
import importlib.util
import os
import re
import shutil
import struct
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest

import books

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ("install Debian's chromium and chromium-driver: "
           "apt-get install chromium chromium-driver")
PAGE_TIMEOUT_S = 30        # page load, MathJax typesetting, fonts, one dropdown
TOTAL_TIMEOUT_S = 300      # all pages of one book
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1280,1000",
    # Offline: every host name resolves to nothing (localhost stays reachable).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\\begin\{|\\end\{")
EQNO = re.compile(r"^\(\d+(\.\d+)*\)$")
USES_R_MACRO = re.compile(r"\\R(?![A-Za-z])")
REFRESH = re.compile(r'<meta http-equiv="refresh" content="0; url=([^"]+)"', re.I)


def _missing_browser():
    """What is missing to drive Chromium, or None."""
    missing = [name for name in ("chromium", "chromedriver") if not shutil.which(name)]
    if importlib.util.find_spec("selenium") is None:
        missing.append("the selenium package (pip install -r requirements.txt)")
    return ", ".join(missing) or None


def _fail_or_skip(message):
    # Locally a missing browser skips; in CI it must not silently pass.
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {message}")
    pytest.skip(message)


# ------------------------------------------------------------------------------------
# The books: built once per run, shared with the other tests that open them (books.py).

# name: whether every chapter page must carry solution dropdowns
BOOKS = {"book": True, "student": False}


@pytest.fixture(scope="module", params=sorted(BOOKS))
def built_book(request, tmp_path_factory):
    """(name, html folder, solutions expected) of a freshly built edition."""
    missing = _missing_browser()
    if missing:
        _fail_or_skip(f"the browser test needs {missing}; {INSTALL}")
    try:
        html_dir = books.built(tmp_path_factory, request.param)
    except books.BuildFailed as err:
        pytest.fail(str(err))
    assert (html_dir / "index.html").is_file(), f"no index.html in {html_dir}"
    return request.param, html_dir, BOOKS[request.param]


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium with the network blocked; always quit, also on failure."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options,
                              service=Service(shutil.which("chromedriver")))
    try:
        driver.set_page_load_timeout(PAGE_TIMEOUT_S)
        driver.set_script_timeout(PAGE_TIMEOUT_S)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# ------------------------------------------------------------------------------------
# What one page is checked for.

# After the page loaded: wait for MathJax's startup promise (it typesets the page) and
# for the fonts, then describe the math. A page whose MathJax script failed has no
# MathJax.startup.
MATHJAX_DONE = """
const done = arguments[arguments.length - 1];
const nodes = document.querySelectorAll('span.math, div.math').length;
if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) {
  done({started: false, nodes: nodes}); return;
}
MathJax.startup.promise
  .then(() => document.fonts.ready)
  .then(() => {
    const items = Array.from(MathJax.startup.document.math).map(item => ({
      tex: String(item.math),
      double_struck_r: !!(item.typesetRoot &&
                          item.typesetRoot.querySelector('mjx-c.mjx-c211D')),
    }));
    const unrendered = Array.from(document.querySelectorAll('span.math, div.math'))
      .filter(n => !n.querySelector('mjx-container'))
      .map(n => n.textContent.slice(0, 80));
    const fonts = Array.from(document.fonts).filter(f => /^MJX/.test(f.family));
    const eqnos = Array.from(document.querySelectorAll('div.math span.eqno'))
      .map(e => ({text: Array.from(e.childNodes).filter(n => n.nodeType === 3)
                                 .map(n => n.textContent).join('').trim(),
                  shown: e.checkVisibility() || !!e.closest('.toggle-hidden')}));
    done({started: true, nodes: nodes, items: items, unrendered: unrendered,
          containers: document.querySelectorAll('mjx-container').length,
          merrors: Array.from(document.querySelectorAll('mjx-merror'))
                        .map(e => e.textContent.slice(0, 80)),
          fonts_loaded: fonts.filter(f => f.status === 'loaded').length,
          fonts_failed: fonts.filter(f => f.status === 'error').map(f => f.family),
          eqnos: eqnos});
  }, err => done({started: true, nodes: nodes, error: String(err)}));
"""

# Every image scrolled into view (a lazy image loads only then), decoded, then measured.
IMAGES_LOADED = """
const done = arguments[arguments.length - 1];
const imgs = Array.from(document.images);
Promise.all(imgs.map(img => { img.loading = 'eager'; img.scrollIntoView();
                              return img.decode().catch(() => null); }))
  .then(() => done(imgs.map(img => ({src: img.currentSrc || img.src,
                                     width: img.naturalWidth}))));
"""

# Text outside code (code may legitimately show a backslash) in the whole body, hidden
# parts included, so raw TeX in a closed dropdown is caught too.
PROSE_TEXT = """
const skip = 'pre, code, script, style, textarea, noscript, .highlight, mjx-container';
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const out = [];
while (walker.nextNode()) {
  const node = walker.currentNode;
  const parent = node.parentElement;
  if (parent && !parent.closest(skip)) out.push(node.textContent);
}
return out.join(' ');
"""

LINKS = "return Array.from(document.querySelectorAll('a[href]')).map(a => a.href);"

# The dropdowns: sphinx-togglebutton's admonitions (the solutions) and <details> blocks.
DROPDOWNS = """
const content = el => Array.from(el.children).filter(c =>
  !c.classList.contains('admonition-title') && c.tagName !== 'SUMMARY');
const shown = el => content(el).some(c => c.checkVisibility() && c.offsetHeight > 0);
return Array.from(document.querySelectorAll('.admonition.dropdown, details'))
  .map((el, i) => { el.dataset.browserTest = String(i);
                    return {i: i, id: el.id, details: el.tagName === 'DETAILS',
                            shown: shown(el)}; });
"""
DROPDOWN_SHOWN = """
const el = document.querySelector('[data-browser-test="' + arguments[0] + '"]');
return Array.from(el.children).some(c =>
  !c.classList.contains('admonition-title') && c.tagName !== 'SUMMARY'
  && c.checkVisibility() && c.offsetHeight > 0);
"""


# What is wider than its box, and every figure's size and alt text (after MathJax ran).
LAYOUT = """
const done = arguments[arguments.length - 1];
const shown = el => el.offsetParent !== null && el.getClientRects().length > 0;
const text = el => (el.innerText || el.textContent || '').trim().split('\\n')[0].slice(0, 70);
const scrolls = (el, box) => el.scrollWidth > (box || el).clientWidth + 1;
const out = {code: [], outputs: [], tables: [], equations: [], images: []};
const ready = window.MathJax && MathJax.startup ? MathJax.startup.promise : Promise.resolve();
ready.then(() => {
  document.querySelectorAll('article pre').forEach(el => {
    if (!shown(el) || !scrolls(el)) return;
    (el.closest('.cell_output') ? out.outputs : out.code).push(text(el));
  });
  document.querySelectorAll('article div.cell_output .output').forEach(el => {
    if (shown(el) && !el.querySelector('pre') && scrolls(el)) out.outputs.push(text(el));
  });
  document.querySelectorAll('article table').forEach(t => {
    if (!shown(t)) return;
    const box = t.parentElement;
    if (t.getBoundingClientRect().width > box.clientWidth + 1 || scrolls(box))
      out.tables.push(text(t));
  });
  document.querySelectorAll('article div.math').forEach(el => {
    const c = el.querySelector('mjx-container');
    if (!shown(el) || !c) return;
    const m = c.querySelector('mjx-math') || c;
    if (m.getBoundingClientRect().width > el.clientWidth + 1 || scrolls(c))
      out.equations.push((c.getAttribute('aria-label') || text(el)).slice(0, 70));
  });
  document.querySelectorAll('article img').forEach(img => {
    if (!shown(img)) return;
    out.images.push({src: img.currentSrc || img.src, alt: img.getAttribute('alt'),
                     shown: img.getBoundingClientRect().width, natural: img.naturalWidth});
  });
  done(out);
});
"""
AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text()
AXE_RUN = """
const done = arguments[arguments.length - 1];
// preload: false, or axe fetches every stylesheet by XMLHttpRequest, which a file://
// page refuses (console errors); the CSSOM rules it would feed are not in these tags.
axe.run(document, {preload: false,
                   runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a',
                                                   'wcag21aa']}})
  .then(r => done(r.violations.map(v => ({id: v.id, help: v.help, nodes: v.nodes.length,
                                          example: v.nodes[0].target.join(' ')}))),
        err => done([{id: 'axe-error', help: String(err), nodes: 1, example: ''}]));
"""
ANIMATING = """
return document.getAnimations().some(a => a.playState === 'running'
                                          && a.effect && a.effect.getTiming().iterations
                                             !== Infinity);
"""
MIN_PX_PER_PT = 1.1        # 9 pt text at 10 px: the smallest a reader can read
PATHLIKE = re.compile(r"\.(png|svg|jpe?g)\b|_images/|^\.\./")


def png_dpi(path):
    """The resolution stored in a PNG's pHYs chunk (dots per inch), or None."""
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    i = 8
    while i + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[i:i + 8])
        if kind == b"pHYs":
            x, _, unit = struct.unpack(">IIB", data[i + 8:i + 17])
            return x * 0.0254 if unit == 1 else None
        if kind == b"IDAT":
            return None                         # pHYs comes before the image data
        i += 12 + length
    return None


def _figure_scale(image):
    """(file name, screen px per point) of an image on the page: displayed width /
    natural width x dpi / 72 (PNG: its pHYs dpi; SVG: CSS's 96 px per inch)."""
    path = Path(urllib.parse.unquote(urllib.parse.urlsplit(image["src"]).path))
    dpi = 96.0 if path.suffix == ".svg" else (png_dpi(path) if path.is_file() else None)
    if not dpi or not image["natural"]:
        return path.name, None
    return path.name, image["shown"] / image["natural"] * dpi / 72


class _Ids(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key == "id" or (tag == "a" and key == "name"):
                self.ids.add(value)


def _ids(path, cache={}):
    if path not in cache:
        parser = _Ids()
        parser.feed(path.read_text(encoding="utf-8", errors="replace"))
        cache[path] = parser.ids
    return cache[path]


def _check_page(driver, page, html_dir, root_url, solutions_expected):
    """Open one page; return (problems, figures)."""
    from selenium.webdriver.common.by import By

    rel = page.relative_to(html_dir).as_posix()
    problems, figures = [], {"links": 0, "dropdowns": 0, "formulas": 0, "images": 0,
                             "r_macro": 0, "eqnos": 0, "small_figures": 0, "bad_alt": 0,
                             "code": 0, "outputs": 0, "tables": 0, "equations": 0,
                             "axe_nodes": 0}
    driver.get_log("browser")                     # drop what an earlier page left
    redirect = REFRESH.search(page.read_text(encoding="utf-8", errors="replace"))
    if redirect:
        # index.html only sends the reader on (to intro.html, checked as its own page):
        # check that it arrives at a page of the book.
        target = (page.parent / redirect[1]).resolve()
        if not target.is_file():
            return [f"redirects to a missing page: {redirect[1]}"], figures
        driver.get(page.as_uri())
        deadline = time.monotonic() + PAGE_TIMEOUT_S
        while driver.current_url.split("#")[0] != target.as_uri():
            if time.monotonic() > deadline:
                return [f"did not redirect to {redirect[1]}"], figures
            time.sleep(0.05)
        return [], figures
    driver.get(page.as_uri())

    # 1. Math. What would be wrong: MathJax not loaded (the CDN script offline), a
    #    formula left as TeX, a TeX error, the \R macro lost, fonts that failed to load.
    math = driver.execute_async_script(MATHJAX_DONE)
    if math["nodes"] and not math["started"]:
        problems.append(
            f"MathJax did not start: 0 of {math['nodes']} formulas rendered")
    elif math.get("error"):
        problems.append(f"MathJax failed: {math['error']}")
    elif math["started"]:
        figures["formulas"] = math["containers"]
        if math["unrendered"]:
            problems.append(f"{len(math['unrendered'])} of {math['nodes']} formulas "
                            f"not rendered, e.g. {math['unrendered'][0]!r}")
        if math["containers"] < math["nodes"]:
            problems.append(f"{math['containers']} MathJax formulas for "
                            f"{math['nodes']} math nodes")
        if math["merrors"]:
            problems.append(f"TeX errors: {math['merrors'][:3]}")
        with_r = [it for it in math["items"] if USES_R_MACRO.search(it["tex"])]
        figures["r_macro"] = len(with_r)
        bad_r = [it["tex"] for it in with_r if not it["double_struck_r"]]
        if bad_r:
            problems.append(f"\\R not rendered as a double-struck R in {bad_r[:2]}")
        if math["nodes"] and not math["fonts_loaded"]:
            problems.append("no MathJax font loaded")
        if math["fonts_failed"]:
            problems.append(f"MathJax fonts failed to load: {math['fonts_failed']}")
        figures["eqnos"] = len(math["eqnos"])
        bad_eqno = [e["text"] for e in math["eqnos"]
                    if not (EQNO.match(e["text"]) and e["shown"])]
        if bad_eqno:
            problems.append(f"equation numbers missing or hidden: {bad_eqno[:3]}")

    # 2. Images. Wrong: a figure that is not in the build, or fetched from the network.
    images = driver.execute_async_script(IMAGES_LOADED)
    figures["images"] = len(images)
    broken = [im["src"] for im in images if not im["width"]]
    if broken:
        problems.append(f"{len(broken)} images did not load: {broken[:3]}")

    # 3. Links into the book. Wrong: a page or an anchor that does not exist.
    for href in driver.execute_script(LINKS):
        parsed = urllib.parse.urlsplit(href)
        if parsed.scheme != "file":
            continue                               # external (https://doi.org/...)
        figures["links"] += 1
        target = Path(urllib.parse.unquote(parsed.path))
        if target.is_dir():
            target = target / "index.html"
        if not href.startswith(root_url) or not target.is_file():
            problems.append(f"link to a missing file: {href}")
        elif parsed.fragment and target.suffix == ".html" and (
                urllib.parse.unquote(parsed.fragment) not in _ids(target)):
            problems.append(f"link to a missing anchor: {href}")

    # 4. Dropdowns: closed at first, open after a click on their title (a real click,
    #    scrolled to the middle of the window, clear of the sticky header).
    dropdowns = driver.execute_script(DROPDOWNS)
    figures["dropdowns"] = len(dropdowns)
    if solutions_expected and rel.startswith("chapters/") and not any(
            d["id"] and "solution" in d["id"] for d in dropdowns):
        problems.append("no solution dropdown on a chapter page")
    for d in dropdowns:
        name = d["id"] or f"dropdown {d['i']}"
        if d["shown"]:
            problems.append(f"{name} is open before any click")
            continue
        el = driver.find_element(By.CSS_SELECTOR, f'[data-browser-test="{d["i"]}"]')
        # The control a reader clicks: a <details>' summary, or the chevron button
        # that sphinx-togglebutton puts in the title (the title's text is mostly a link
        # to the exercise, which a click follows instead of opening the solution).
        handles = el.find_elements(By.CSS_SELECTOR, "summary" if d["details"]
                                   else ".admonition-title > button.toggle-button")
        if not handles:
            problems.append(f"{name} has no toggle button (togglebutton.js not run?)")
            continue
        handle = handles[0]
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", handle)
        handle.click()
        deadline = time.monotonic() + 5
        while not driver.execute_script(DROPDOWN_SHOWN, d["i"]):
            if time.monotonic() > deadline:
                problems.append(f"{name} did not open on a click")
                break
            time.sleep(0.05)

    # Opening fades a box in (sphinx-togglebutton's CSS transition): measured halfway,
    # its text has half its contrast. Wait until no animation runs.
    deadline = time.monotonic() + 5
    while driver.execute_script(ANIMATING) and time.monotonic() < deadline:
        time.sleep(0.05)

    # 5. Layout and figures, with every dropdown open. Wrong: content cut off at the right
    #    edge, a figure shrunk below legibility, an image without a real alt text.
    layout = driver.execute_async_script(LAYOUT)
    for kind in ("code", "outputs", "tables", "equations"):
        figures[kind] = len(layout[kind])
        if layout[kind]:
            problems.append(f"{len(layout[kind])} {kind} wider than their box at "
                            f"1280 px, e.g. {layout[kind][0]!r}")
    for im in layout["images"]:
        name, ratio, alt = _figure_scale(im), None, (im["alt"] or "").strip()
        ratio = name[1]
        if ratio is None or ratio < MIN_PX_PER_PT:
            figures["small_figures"] += 1
            problems.append(f"figure {name[0]} drawn at {ratio and round(ratio, 2)} px/pt "
                            f"(at least {MIN_PX_PER_PT})")
        if not alt or PATHLIKE.search(alt) or len(alt.split()) < 4:
            figures["bad_alt"] += 1
            problems.append(f"figure {name[0]} has no real alt text: {alt[:60]!r}")

    # 6. Accessibility: axe-core's WCAG 2.0/2.1 A and AA rules, dropdowns open.
    driver.execute_script(AXE_SOURCE)
    violations = driver.execute_async_script(AXE_RUN)
    figures["axe_nodes"] = sum(v["nodes"] for v in violations)
    for v in violations:
        problems.append(f"axe {v['id']} ({v['nodes']} nodes): {v['help']}; e.g. "
                        f"{v['example']}")

    # 7. Raw TeX in the text (dropdowns now open). Wrong: MathJax skipped some math.
    leftovers = sorted({m.group() for m in RAW_TEX.finditer(driver.execute_script(
        PROSE_TEXT))})
    if leftovers:
        problems.append(f"raw TeX left in the text: {leftovers}")

    # 8. The console. Wrong: a JavaScript error, a script, style or font that failed.
    for entry in driver.get_log("browser"):
        if entry["level"] != "SEVERE":
            continue
        problems.append(f"console: {entry['message'][:300]}")
    return problems, figures


def _pages(html_dir):
    """Every page of the book: each .html outside Sphinx's _static, _sources, ..."""
    return sorted(p for p in html_dir.rglob("*.html")
                  if not any(part.startswith("_")
                             for part in p.relative_to(html_dir).parts[:-1]))


def test_every_page_renders_offline(built_book, browser):
    name, html_dir, solutions_expected = built_book
    start = time.monotonic()
    pages = _pages(html_dir)
    # An empty or truncated book would pass every check below vacuously.
    toc = re.findall(r"(?:root|file): (\S+)", (ROOT / "_toc.yml").read_text())
    built = {p.relative_to(html_dir).with_suffix("").as_posix() for p in pages}
    assert toc and {Path(t).as_posix() for t in toc} <= built, (
        f"pages of _toc.yml missing from the {name} build: "
        f"{sorted(set(toc) - built)}")

    root_url = html_dir.as_uri() + "/"
    failures, totals = {}, {}
    for page in pages:
        assert time.monotonic() - start < TOTAL_TIMEOUT_S, (
            f"the {name} pages took over {TOTAL_TIMEOUT_S} s; stopped at {page.name}")
        problems, figures = _check_page(browser, page, html_dir, root_url,
                                        solutions_expected)
        for key, value in figures.items():
            totals[key] = totals.get(key, 0) + value
        if problems:
            failures[page.relative_to(html_dir).as_posix()] = problems
    seconds = time.monotonic() - start
    print(f"\nbrowser test, {name}: {len(pages)} pages, {totals['formulas']} formulas "
          f"({totals['r_macro']} with \\R, {totals['eqnos']} equation numbers), "
          f"{totals['images']} images ({totals['small_figures']} below {MIN_PX_PER_PT} "
          f"px/pt, {totals['bad_alt']} without a real alt text), {totals['links']} "
          f"internal links, {totals['dropdowns']} dropdowns opened; wider than their box "
          f"at 1280 px: {totals['code']} code cells, {totals['outputs']} outputs, "
          f"{totals['tables']} tables, {totals['equations']} equations; axe-core: "
          f"{totals['axe_nodes']} violating nodes; {len(failures)} pages failing, "
          f"{seconds:.1f} s")
    if solutions_expected:
        assert totals["dropdowns"] > 0, "the book has no solution dropdown at all"
    assert not failures, "\n".join(
        f"{page}:\n  " + "\n  ".join(problems) for page, problems in failures.items())
