"""Print the whole book to one PDF with Debian's Chromium (the browser the tests use).

    python -m coursetools.pdf                       # _build/pdf/book.pdf
    python -m coursetools.pdf --edition student     # _build/pdf/student.pdf
    python -m coursetools.pdf --out DIR [--html-only]

The book is built as one page (Sphinx's ``singlehtml`` builder, ``-n -W --keep-going``
like the HTML book) into ``DIR/singlehtml``, opened in headless Chromium, and printed
with the book's print stylesheet (``_static/book.css``, ``@media print``: code wraps,
tables fit, figures whole, no navigation) on A4. Because every chapter is in one page,
cross-references, figure and equation references and the table of contents are links
inside the PDF, and Chromium writes the headings as the PDF's outline (bookmarks).
Solutions are closed dropdowns in the book, so they print as their title only; the
student edition (``--edition student``) has none. MathJax has typeset every formula and
every image has loaded before printing. ``--html-only`` stops after the build.
"""
from __future__ import annotations

import argparse
import base64
import io
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .student_book import REPO, write_sources

__all__ = ["DEFAULT_OUT", "PdfError", "build_singlehtml", "book_page", "print_pdf", "main"]

DEFAULT_OUT = REPO / "_build" / "pdf"
PAGE_TIMEOUT_S = 120          # load, MathJax on ~2,000 formulas, every image
# A4 with the margins of _static/book.css's @page rule.
PRINT_OPTIONS = {"printBackground": True, "preferCSSPageSize": True,
                 "displayHeaderFooter": False, "generateDocumentOutline": True,
                 "generateTaggedPDF": True}
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,1000",
                  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost"]
READY = """
const done = arguments[arguments.length - 1];
const math = window.MathJax && MathJax.startup ? MathJax.startup.promise
                                              : Promise.resolve();
math.then(() => document.fonts.ready)
    .then(() => Promise.all(Array.from(document.images).map(img => {
        img.loading = 'eager'; return img.decode().catch(() => null); })))
    .then(() => done({formulas: document.querySelectorAll('mjx-container').length,
                      unrendered: document.querySelectorAll('span.math:not(:has(mjx-container)),'
                                                            + 'div.math:not(:has(mjx-container))').length,
                      broken: Array.from(document.images).filter(i => !i.naturalWidth)
                                   .map(i => i.src)}));
"""

# The headings Chromium writes into the outline (h1-h6 and the toctree's captions, which
# are role="heading"), in order, as plain text: the "#" link left out, a formula as its
# MathML's text (MathJax's assistive copy; the visible glyphs are CSS, not text), with
# MathML's invisible function application as a space and its other invisible operators
# dropped.
HEADINGS = """
return Array.from(document.querySelectorAll('h1, h2, h3, h4, h5, h6, [role=heading]'))
  .filter(el => el.getClientRects().length)
  .map(el => { const copy = el.cloneNode(true);
               copy.querySelectorAll('.headerlink').forEach(a => a.remove());
               return copy.textContent.replace(/\\u2061/g, ' ')
                          .replace(/[\\u2062-\\u2064]/g, '')
                          .replace(/\\s+/g, ' ').trim(); });
"""


class PdfError(RuntimeError):
    """The PDF cannot be made (the message says why: the build, the browser, a page)."""


def build_singlehtml(out, edition="book", repo=REPO, reuse=None):
    """Build ``edition`` ("book" or "student") as one HTML page into ``out/singlehtml``;
    returns that folder. ``reuse``: the ``--path-output`` folder of a finished
    ``jupyter-book build`` of the same sources (``.`` for the book's own ``_build``):
    Sphinx then loads its parsed pages (``_build/.doctrees``, and myst-nb's glued values
    in ``_build/jupyter_execute``) instead of reading every notebook again, and only
    writes the one page (seconds instead of a minute). A source edited since is read
    again, as in any incremental Sphinx build.
    """
    out = Path(out).resolve()
    source = Path(repo)
    if edition == "student":
        source = write_sources(out / "src", repo)
    elif edition != "book":
        raise PdfError(f"unknown edition {edition!r} (book or student)")
    build_dir = out / "build"
    if reuse is not None:
        _copy_parsed_pages(Path(reuse) / "_build", build_dir / "_build")
    proc = subprocess.run([sys.executable, "-c",
                           "import sys; from jupyter_book.cli.main import main; "
                           "sys.exit(main())", "build", str(source), "--builder",
                           "singlehtml", "-n", "-W", "--keep-going", "--path-output",
                           str(build_dir)], capture_output=True, text=True, cwd=source)
    if proc.returncode != 0:
        raise PdfError(f"jupyter-book build --builder singlehtml failed "
                       f"(exit {proc.returncode}):\n{proc.stdout[-4000:]}\n"
                       f"{proc.stderr[-4000:]}")
    html = out / "singlehtml"
    if html.exists():
        shutil.rmtree(html)
    shutil.move(str(build_dir / "_build" / "singlehtml"), str(html))
    shutil.rmtree(build_dir, ignore_errors=True)
    return html


def _copy_parsed_pages(source, target):
    for name in (".doctrees", "jupyter_execute"):
        if not (source / name).is_dir():
            raise PdfError(f"--reuse: no {source / name} (build the book there first)")
        if (target / name).exists():
            shutil.rmtree(target / name)
        shutil.copytree(source / name, target / name)


def book_page(html):
    """The page of the one-page book in ``html``: Jupyter Book writes ``index.html`` as a
    redirect to the root document (``intro.html``); a browser told to print the redirect
    would read the next page before its MathJax had loaded."""
    index = Path(html) / "index.html"
    redirect = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"',
                         index.read_text(encoding="utf-8"), re.I)
    return index.parent / redirect[1] if redirect else index


def chromium():
    """A Selenium-driven headless Chromium (Debian's chromium and chromedriver)."""
    missing = [name for name in ("chromium", "chromedriver") if not shutil.which(name)]
    if missing:
        raise PdfError(f"{' and '.join(missing)} not found: apt-get install chromium "
                       f"chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    profile = tempfile.mkdtemp(prefix="chromium-pdf-")
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options,
                              service=Service(shutil.which("chromedriver")))
    driver.set_page_load_timeout(PAGE_TIMEOUT_S)
    driver.set_script_timeout(PAGE_TIMEOUT_S)
    driver.profile_dir = profile
    return driver


def open_ready(driver, page):
    """Open ``page`` and wait until MathJax, the fonts and every image are done; raise
    PdfError if a formula or an image did not render."""
    driver.get(Path(page).resolve().as_uri())
    state = driver.execute_async_script(READY)
    if state["unrendered"] or state["broken"]:
        raise PdfError(f"{page}: {state['unrendered']} formulas not typeset, images "
                       f"that did not load: {state['broken'][:3]}")
    return state


def print_open_page(driver):
    """The PDF (bytes) of the page open in ``driver``, its outline titled by the
    headings' text (:func:`retitle_outline`)."""
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    titles = driver.execute_script(HEADINGS)
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    time.sleep(0.2)                              # one frame for the last layout
    data = driver.execute_cdp_cmd("Page.printToPDF", PRINT_OPTIONS)["data"]
    return retitle_outline(base64.b64decode(data), titles)


def retitle_outline(data, titles):
    """``data`` (a PDF's bytes) with its outline's entries, in order, titled ``titles``.

    Chromium titles a bookmark with the heading's text as laid out on the page: a
    heading that wraps loses the space at the break ("thechain rule"), one broken across
    a page is written twice, and formulas are left out. The entries are Chromium's (one
    per heading, in document order, with their pages); only the titles change."""
    from pypdf import PdfWriter
    from pypdf.generic import NameObject, TextStringObject

    writer = PdfWriter(clone_from=io.BytesIO(data))
    items = list(_outline_items(writer.root_object.get("/Outlines")))
    if len(items) != len(titles):
        raise PdfError(f"the PDF's outline has {len(items)} entries for "
                       f"{len(titles)} headings on the page")
    for item, title in zip(items, titles):
        item[NameObject("/Title")] = TextStringObject(title)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _outline_items(node):
    """The entries under an outline node, depth first (the headings' order)."""
    item = node.get_object().get("/First") if node is not None else None
    while item is not None:
        item = item.get_object()
        yield item
        yield from _outline_items(item)
        item = item.get("/Next")


def print_pdf(page, pdf):
    """Print the HTML ``page`` to the file ``pdf`` with Chromium; returns ``pdf``."""
    driver = chromium()
    try:
        open_ready(driver, page)
        data = print_open_page(driver)
    finally:
        driver.quit()
        shutil.rmtree(driver.profile_dir, ignore_errors=True)
    pdf = Path(pdf)
    pdf.parent.mkdir(parents=True, exist_ok=True)
    pdf.write_bytes(data)
    return pdf


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m coursetools.pdf",
                                     description="Print the book to one PDF.")
    parser.add_argument("--edition", choices=("book", "student"), default="book")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="output folder (default _build/pdf)")
    parser.add_argument("--html-only", action="store_true",
                        help="build the one-page HTML (OUT/singlehtml) and stop")
    parser.add_argument("--reuse", type=Path, metavar="DIR",
                        help="reuse the parsed pages of a jupyter-book build of the same "
                             "sources whose --path-output was DIR (. for _build)")
    args = parser.parse_args(argv)
    try:
        html = build_singlehtml(args.out, args.edition, reuse=args.reuse)
        if args.html_only:
            print(f"one-page HTML: {book_page(html)}")
            return 0
        pdf = print_pdf(book_page(html), args.out / f"{args.edition}.pdf")
    except PdfError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"PDF: {pdf} ({pdf.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
