"""House rules of the chapter notebooks (CONTRIBUTING.md), checked on the stored files.

nbval proves that each notebook reproduces its stored outputs; these tests catch what nbval
cannot: a cell nbval silently compares because its marker is misspelt, an ignored cell with
no assertion after it, a notebook stored without outputs or with an error in them, a chapter
missing from the table of contents.
"""
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))
MARKERS = {"NBVAL_IGNORE_OUTPUT", "NBVAL_CHECK_OUTPUT", "NBVAL_RAISES_EXCEPTION", "NBVAL_SKIP"}


def _code_cells(path):
    nb = nbformat.read(path, as_version=4)
    return [c for c in nb.cells if c.cell_type == "code"]


def _markers(cell):
    # nbval's own rule: a comment line whose text, stripped of '#' and spaces, is a marker.
    return {line.strip().lstrip("#").strip() for line in cell.source.splitlines()
            if line.strip().startswith("#")} & MARKERS


def test_there_are_chapters():
    assert len(NOTEBOOKS) >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_nbval_markers_are_spelt_exactly(path):
    # "# NBVAL_IGNORE_OUTPUT (reason)" is NOT a marker for nbval: the cell would be compared
    # and fail on another machine. The reason belongs on its own comment line.
    for i, cell in enumerate(_code_cells(path)):
        for line in cell.source.splitlines():
            if "NBVAL_" in line and line.strip().startswith("#"):
                assert line.strip().lstrip("#").strip() in MARKERS, f"{path.name} code cell {i}: {line!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_ignored_cells_are_asserted_in_their_section(path):
    # An ignored cell checks nothing by itself: its results must be asserted in a band by a
    # cell of the same section (between two headings of level 1 or 2), usually the next one.
    nb = nbformat.read(path, as_version=4)
    sections, current = [], []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and re.match(r"#{1,2} ", cell.source):
            sections.append(current)
            current = []
        elif cell.cell_type == "code":
            current.append(cell)
    sections.append(current)
    asserts = re.compile(r"\bassert\b|check\.")
    for cells in sections:
        ignored = [c for c in cells if "NBVAL_IGNORE_OUTPUT" in _markers(c)]
        if ignored:
            assert any(asserts.search(c.source) for c in cells), (
                f"{path.name}: a section ignores the output of\n{ignored[0].source[:300]}\n"
                f"but no cell of that section asserts anything")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_with_outputs_and_without_errors(path):
    # The book shows stored outputs (execute_notebooks: off): a cell never run shows nothing.
    for i, cell in enumerate(_code_cells(path)):
        if cell.source.strip():
            assert cell.execution_count is not None, f"{path.name} code cell {i} has no stored output"
        if "NBVAL_RAISES_EXCEPTION" not in _markers(cell):
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert not errors, f"{path.name} code cell {i} stores an error: {errors[0].ename}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_in_table_of_contents(path):
    # A chapter missing from _toc.yml is silently left out of the book.
    toc = (ROOT / "_toc.yml").read_text()
    assert f"file: chapters/{path.stem}" in toc, f"{path.name} is not in _toc.yml"
