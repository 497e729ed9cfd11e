"""The graded notebook of a chapter: what nbgrader releases and executes for each
submission.

nbgrader's ``autograde`` executes a submission whole. A chapter's teaching runs
(full-MNIST training, timing sweeps) would then be paid once per student, so the graded
notebook is not the chapter: it is

1. a title cell naming the chapter and pointing to the book for the teaching;
2. the chapter's code cells tagged ``assignment-setup`` (imports, the data and the
   parameters the exercises use), in their order;
3. the chapter's exercises section: every cell from its ``## Exercises`` heading to the
   end.

The instructor's chapter is only read. Python API: ``graded_notebook(nb, name) -> nb``;
``python -m coursetools.graded CHAPTER.ipynb OUT.ipynb`` writes one (for checking a
chapter's tags by hand; ``python -m coursetools.course init`` makes them for a whole
course).
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_markdown_cell

SETUP_TAG = "assignment-setup"
EXERCISES_HEADING = "## Exercises"


class GradedNotebookError(ValueError):
    """A chapter cannot be turned into a graded notebook (the message says why)."""


def exercises_start(nb, name="<notebook>") -> int:
    """Index of the one markdown cell that starts with ``## Exercises``."""
    found = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "markdown"
             and c.source.lstrip().startswith(EXERCISES_HEADING)]
    if len(found) != 1:
        raise GradedNotebookError(f"{name}: expected one '{EXERCISES_HEADING}' "
                                  f"heading, found {len(found)}")
    return found[0]


def _title(nb, name):
    """'# <chapter title>: exercises' and where the teaching is."""
    first = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    heading = next((ln for ln in first.splitlines() if ln.startswith("# ")),
                   f"# {name}")
    return new_markdown_cell(
        f"{heading}: exercises\n\n"
        f"This notebook holds the exercises of the chapter and the setup cells they "
        f"need. Read the chapter in the book (or run `chapters/{name}.ipynb`) for the "
        f"teaching; write your answers here. Each exercise states its points; the "
        f"cells after your answers check it.")


def graded_notebook(nb, name="<notebook>"):
    """Return the graded notebook of the chapter ``nb`` (left unchanged).

    Raises GradedNotebookError if the chapter has no exercises heading, no cell tagged
    ``assignment-setup``, or a tagged cell inside the exercises section.
    """
    start = exercises_start(nb, name)
    setup = [i for i, c in enumerate(nb.cells)
             if SETUP_TAG in c.metadata.get("tags", [])]
    if not setup:
        raise GradedNotebookError(f"{name}: no cell is tagged '{SETUP_TAG}'; tag the "
                                  f"cells the exercises need (imports, data, "
                                  f"parameters)")
    late = [i for i in setup if i >= start]
    if late:
        raise GradedNotebookError(f"{name}: cell {late[0]} is tagged '{SETUP_TAG}' but "
                                  f"lies in the exercises section, which is "
                                  f"included anyway")
    graded = nbformat.from_dict(copy.deepcopy(nb))
    cells = [_title(nb, name)] + [graded.cells[i] for i in setup] + graded.cells[start:]
    graded.cells = cells
    return graded


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursetools.graded",
                                     description="Write the graded notebook of one "
                                                 "chapter.")
    parser.add_argument("chapter", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.out.resolve() == args.chapter.resolve():
        parser.error("refusing to overwrite the chapter")
    nb = nbformat.read(args.chapter, as_version=4)
    try:
        graded = graded_notebook(nb, args.chapter.stem)
    except GradedNotebookError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    nbformat.write(graded, str(args.out))
    print(f"{args.out}: {len(graded.cells)} cells")
    return 0


if __name__ == "__main__":
    sys.exit(main())
