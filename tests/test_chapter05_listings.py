"""Chapter 5 shows the engine's code by printing it from the library (its `show_source`
cell), so a student sees it in Jupyter as the book shows it; `literalinclude`, which
Jupyter cannot show, is not used. These tests keep what the stored notebook shows equal to
the files, line for line: a listing left behind by a change to lecture_lib fails here in a
second, before nbval re-executes the chapter.

A listing is an output whose text starts with a header line
``# lecture_lib/autodiff.py, lines 143-149: Tensor.__mul__`` followed by those lines of the
file (dedented); its HTML form shows the same text, wrapped rather than cut at the column.
"""
import html
import importlib
import inspect
import re
import textwrap
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "chapters" / "05_autodiff_engine.ipynb"
HEADER = re.compile(r"# (lecture_lib/[\w/]+\.py), lines (\d+)-(\d+): ([\w.]+)")
# What the chapter teaches from the source: the engine's core, and Adam.
REQUIRED = {"Tensor.__init__", "Tensor._backward", "make_node", "Tensor.__mul__", "relu",
            "Tensor.__matmul__", "_unbroadcast", "Tensor.add_grad", "Tensor.backward",
            "topological_order", "softmax_cross_entropy", "Adam.step"}


def _listings():
    """[(cell index, header match, shown text, output data)] of the stored notebook."""
    nb = nbformat.read(CHAPTER, as_version=4)
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            text = out.get("data", {}).get("text/plain", "")
            m = HEADER.fullmatch(text.split("\n", 1)[0])
            if m:
                found.append((i, m, text, out["data"]))
    return found


LISTINGS = _listings()


def _obj(module_path, qualname):
    obj = importlib.import_module(module_path[:-3].replace("/", "."))
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def test_the_chapter_shows_the_engine_without_literalinclude():
    # A literalinclude directive is all a student running the notebook would see; and a
    # listing the chapter's prose relies on must not silently disappear.
    nb = nbformat.read(CHAPTER, as_version=4)
    assert not [c for c in nb.cells if "literalinclude" in c.source]
    shown = {m.group(4) for _, m, _, _ in LISTINGS}
    assert REQUIRED <= shown, f"listings missing from the chapter: {REQUIRED - shown}"


@pytest.mark.parametrize("listing", LISTINGS, ids=lambda t: f"cell{t[0]}-{t[1].group(4)}")
def test_listing_is_the_files_lines(listing):
    # The shown lines are the file's lines first..last as they are now, and they lie in
    # the definition of the named object, up to its last line (a listing may start inside
    # it, at a marked line, as Tensor.backward's phases do).
    _, m, text, _ = listing
    path, first, last, qualname = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)
    file_lines = (ROOT / path).read_text().split("\n")
    expected = textwrap.dedent("\n".join(file_lines[first - 1:last])).rstrip()
    assert text.split("\n", 1)[1] == expected, (
        f"{qualname}: the listing differs from {path} lines {first}-{last}; regenerate "
        f"chapter 5 (python -m coursetools.execute {CHAPTER.relative_to(ROOT)})")
    lines, start = inspect.getsourcelines(_obj(path, qualname))
    assert start <= first <= last == start + len(lines) - 1, (
        f"{qualname} is lines {start}-{start + len(lines) - 1} of {path}, the listing "
        f"shows {first}-{last}")


@pytest.mark.parametrize("listing", LISTINGS, ids=lambda t: f"cell{t[0]}-{t[1].group(4)}")
def test_listing_html_shows_the_same_text_wrapped(listing):
    # The book and JupyterLab render the HTML form: it must be the same text (coloured by
    # spans only), and wrap where a line is longer than the column (a phone).
    _, _, text, data = listing
    page = data["text/html"]
    pre = re.fullmatch(r'<div class="highlight listing">(<pre [^>]*>)(.*)</pre></div>',
                       page, re.S)
    assert pre, page[:200]
    assert "white-space: pre-wrap" in pre.group(1)
    assert html.unescape(re.sub(r"<[^>]+>", "", pre.group(2))).rstrip("\n") == text
