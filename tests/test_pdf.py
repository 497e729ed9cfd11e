"""The printed book (coursetools.pdf): one PDF with every chapter, nothing cut off.

The one-page HTML of the book (Sphinx's singlehtml builder, -n -W, built once per run by
tests/books.py) is opened in headless Chromium as coursetools.pdf opens it. With print
media emulated at the printable width of an A4 page (the @page margins of
_static/book.css), no code, output, table, figure or formula reaches past the right
margin; then the page is printed to PDF and read back with pypdf: every page of the
table of contents is a bookmark of the PDF, and the PDF has internal links.
Needs Debian's chromium and chromium-driver (skipped without them, failed under CI).
"""
import io
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest

import books

ROOT = Path(__file__).resolve().parent.parent
# A4 (210 mm) less the @page margins (2 x 14 mm), at CSS's 96 px per inch.
PRINT_WIDTH_PX = round((210 - 2 * 14) / 25.4 * 96)

WIDER_THAN_PAGE = r"""
const width = arguments[0];
const desc = el => el.tagName.toLowerCase() + ': ' +
  (el.getAttribute('aria-label') || el.textContent || el.getAttribute('src') || '')
    .replace(/\s+/g, ' ').trim().slice(0, 60);
return Array.from(document.querySelectorAll(
    'pre, table, img, mjx-container, div.cell_output .output, figure, .admonition'))
  .filter(el => el.getClientRects().length && el.getBoundingClientRect().right > width + 1)
  .map(desc)
  .concat(document.documentElement.scrollWidth > width + 1
          ? ['the page itself: ' + document.documentElement.scrollWidth + ' px'] : []);
"""


def _titles():
    """The first heading of every page in _toc.yml, as plain words."""
    titles = {}
    for entry in re.findall(r"(?:root|file): (\S+)", (ROOT / "_toc.yml").read_text()):
        path = ROOT / entry
        if path.with_suffix(".ipynb").is_file():
            nb = nbformat.read(path.with_suffix(".ipynb"), as_version=4)
            text = next(c.source for c in nb.cells if c.cell_type == "markdown")
        else:
            text = path.with_suffix(".md").read_text()
        heading = next(line for line in text.splitlines() if line.startswith("# "))
        titles[entry] = _plain(heading[2:])
    return titles


def _plain(text):
    text = re.sub(r"\$[^$]*\$|`[^`]*`|\{[^}]*\}", " ", text)
    return " ".join(re.findall(r"[A-Za-z]+", text)).lower()


def _outline(reader):
    found = []
    def walk(items):
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                found.append(_plain(item.title))
    walk(reader.outline)
    return found


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    """(things wider than the page, the PDF's bytes)."""
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        message = "apt-get install chromium chromium-driver to print the book"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)
    from coursetools import pdf
    try:
        html = books.built(tmp_path_factory, "singlehtml")
    except books.BuildFailed as err:
        pytest.fail(str(err))
    driver = pdf.chromium()
    try:
        pdf.open_ready(driver, pdf.book_page(html))
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": PRINT_WIDTH_PX, "height": 1100, "deviceScaleFactor": 1,
            "mobile": False})
        wide = driver.execute_script(WIDER_THAN_PAGE, PRINT_WIDTH_PX)
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        data = pdf.print_open_page(driver)
    finally:
        driver.quit()
        shutil.rmtree(driver.profile_dir, ignore_errors=True)
    return wide, data


def test_nothing_is_wider_than_the_printed_page(printed):
    # Wrong: code or a table clipped at the margin, a figure cut in half (what a handed-out
    # PDF loses).
    wide, _ = printed
    assert not wide, f"{len(wide)} elements wider than A4's printable width " \
                     f"({PRINT_WIDTH_PX} px):\n" + "\n".join(wide[:15])


def test_the_pdf_has_every_page_of_the_book_as_a_bookmark(printed):
    # Wrong: a chapter missing from the one-page build, or a PDF without an outline.
    from pypdf import PdfReader
    reader = PdfReader(io.BytesIO(printed[1]))
    outline = _outline(reader)
    missing = [entry for entry, title in _titles().items()
               if not any(title in item for item in outline)]
    assert not missing, f"pages without a bookmark in the PDF: {missing}"
    # Chromium's own titles wrote a heading broken across pages twice ("SummarySummary")
    doubled = [t for t in outline if len(t) > 1 and t == t[:len(t) // 2] * 2]
    assert not doubled, f"bookmarks titled twice over: {doubled[:5]}"
    assert len(reader.pages) > 50
    links = sum(len(page.get("/Annots") or []) for page in reader.pages)
    assert links > 100, f"only {links} links in the PDF (cross-references lost?)"
