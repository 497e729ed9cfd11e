"""coursetools.graded: the graded notebook of a chapter (its assignment-setup cells and
its exercises), on the synthetic chapter, and each real chapter's graded notebook
executed end to end in a fresh kernel, solutions and hidden tests included (a missing
setup tag shows here as a NameError). A chapter without the tag is skipped, naming it.
"""
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell

import synthetic_chapter as syn
from coursetools.graded import SETUP_TAG, GradedNotebookError, graded_notebook, main

REPO = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((REPO / "chapters").glob("*.ipynb"))


def test_graded_notebook_is_setup_plus_exercises():
    # Failing: the graded notebook carries the teaching runs (paid once per student),
    # loses a setup cell the exercises need, or changes the chapter it was made from.
    nb = syn.chapter()
    before = nbformat.writes(nb)
    graded = graded_notebook(nb, "99_synthetic")
    assert nbformat.writes(nb) == before
    sources = [c.source for c in graded.cells]
    assert sources[0].startswith("# Synthetic chapter: exercises")
    assert sources[1] == syn.SETUP and syn.TEACHING not in sources
    start = next(i for i, c in enumerate(nb.cells) if c.source == "## Exercises")
    assert sources[2:] == [c.source for c in nb.cells[start:]]


@pytest.mark.parametrize("change,problem", [
    (lambda nb: [c.metadata.pop("tags", None) for c in nb.cells], "no cell is tagged"),
    (lambda nb: nb.cells.append(new_code_cell("x = 1", metadata={"tags": [SETUP_TAG]})),
     "lies in the exercises section"),
    (lambda nb: nb.cells.append(new_markdown_cell("## Exercises")), "found 2"),
])
def test_graded_notebook_errors_name_the_problem(change, problem):
    # Failing: a chapter that cannot be graded is turned into a notebook anyway.
    nb = syn.chapter()
    change(nb)
    with pytest.raises(GradedNotebookError, match=problem):
        graded_notebook(nb, "99_synthetic")


def test_cli_refuses_to_overwrite_the_chapter(tmp_path):
    # Failing: the command could replace the instructor's chapter by its graded
    # notebook.
    path = syn.write(tmp_path / "99_synthetic.ipynb")
    with pytest.raises(SystemExit):
        main([str(path), str(path)])
    assert main([str(path), str(tmp_path / "graded.ipynb")]) == 0
    written = nbformat.read(tmp_path / "graded.ipynb", 4)
    assert [c.source for c in written.cells] == [
        c.source for c in graded_notebook(syn.chapter(), "99_synthetic").cells]


def tagged(path):
    nb = nbformat.read(path, as_version=4)
    return any(SETUP_TAG in c.metadata.get("tags", []) for c in nb.cells)


@pytest.mark.parametrize("path", [
    pytest.param(p, id=p.stem[:2], marks=pytest.mark.skipif(
        not tagged(p), reason=f"{p.name}: no cell tagged '{SETUP_TAG}' yet"))
    for p in CHAPTERS])
def test_graded_notebook_runs_end_to_end(path, tmp_path):
    # Failing: an exercise needs a cell that is not tagged assignment-setup (NameError),
    # a hidden test fails on the model solution, or a graded notebook needs the teaching
    # runs.
    graded = graded_notebook(nbformat.read(path, as_version=4), path.stem)
    client = NotebookClient(graded, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    start = time.perf_counter()
    client.execute()                      # raises CellExecutionError naming the cell
    seconds = time.perf_counter() - start
    print(f"{path.stem}: graded notebook executed in {seconds:.1f} s")
