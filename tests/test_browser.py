"""The built book in a real browser, offline: what a reader who opens the HTML sees.

A module fixture builds the book from the sources with `jupyter-book build -n -W
--keep-going` into a temporary folder (never a build someone ran by hand), and headless
Debian Chromium, driven by Selenium through Debian's chromedriver, opens every page as a
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
- every dropdown (the exercises' solutions) is closed and opens on a click.

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
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ("install Debian's chromium and chromium-driver: "
           "apt-get install chromium chromium-driver")
BUILD_TIMEOUT_S = 300      # the book builds in about 10 s
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
# The books. Each builder returns the folder holding index.html, for any edition.

def _run_build(cmd, cwd, log):
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                              timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(cmd)} ran past {BUILD_TIMEOUT_S} s")
    log.write_text(proc.stdout + proc.stderr)
    # -n -W --keep-going: any warning (a broken reference, a missing glue) fails it.
    if proc.returncode != 0:
        output = proc.stdout + proc.stderr
        warnings = [line for line in output.splitlines()
                    if "WARNING" in line or "ERROR" in line or "Error" in line]
        pytest.fail(f"{' '.join(cmd)} failed (exit {proc.returncode}; log {log}):\n"
                    + "\n".join(warnings[:30] or output.splitlines()[-30:]))


def build_book(out):
    """The book, from the sources, with Sphinx's -n -W --keep-going, into `out`."""
    # The jupyter-book of this Python, else the one on PATH.
    here = Path(sys.executable).with_name("jupyter-book")
    command = str(here) if here.is_file() else shutil.which("jupyter-book")
    assert command, "no jupyter-book command: pip install -r requirements.txt"
    _run_build([command, "build", "-n", "-W", "--keep-going",
                "--path-output", str(out), str(ROOT)], ROOT, out / "build.log")
    return out / "_build" / "html"


def build_student_book(out):
    """The student edition, by its own command (-n -W --keep-going too), into `out`."""
    if importlib.util.find_spec("coursetools.student_book") is None:
        pytest.skip("python -m coursetools.student_book does not exist yet: "
                    "no student edition of the book to open")
    _run_build([sys.executable, "-m", "coursetools.student_book", "--out",
                str(out / "student")], ROOT, out / "build.log")
    return out / "student" / "html"


# name: (builder, whether every chapter page must carry solution dropdowns)
BOOKS = {"book": (build_book, True), "student": (build_student_book, False)}


@pytest.fixture(scope="module", params=sorted(BOOKS))
def built_book(request, tmp_path_factory):
    """(name, html folder, solutions expected) of a freshly built edition."""
    missing = _missing_browser()
    if missing:
        _fail_or_skip(f"the browser test needs {missing}; {INSTALL}")
    builder, solutions = BOOKS[request.param]
    html_dir = builder(tmp_path_factory.mktemp(request.param))
    assert (html_dir / "index.html").is_file(), f"no index.html in {html_dir}"
    return request.param, html_dir, solutions


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
                             "r_macro": 0, "eqnos": 0}
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

    # 5. Raw TeX in the text (dropdowns now open). Wrong: MathJax skipped some math.
    leftovers = sorted({m.group() for m in RAW_TEX.finditer(driver.execute_script(
        PROSE_TEXT))})
    if leftovers:
        problems.append(f"raw TeX left in the text: {leftovers}")

    # 6. The console. Wrong: a JavaScript error, a script, style or font that failed.
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
          f"{totals['images']} images, {totals['links']} internal links, "
          f"{totals['dropdowns']} dropdowns opened, {len(failures)} pages failing, {seconds:.1f} s")
    if solutions_expected:
        assert totals["dropdowns"] > 0, "the book has no solution dropdown at all"
    assert not failures, "\n".join(
        f"{page}:\n  " + "\n  ".join(problems) for page, problems in failures.items())
