"""Build the student edition of the book into ``_build/student/html``.

    python -m coursetools.student_book            # -n -W --keep-going, like the book
    python -m coursetools.student_book --out DIR  # DIR/html (DIR/src: the sources)

The same book, from student versions of the chapters: every teaching cell keeps its
stored outputs and figures; only the exercises change. In each chapter (see
CONTRIBUTING.md, "Exercises"):

- solution code is stubbed and written answers become ``YOUR ANSWER HERE`` (nbgrader's
  ClearSolutions, after the strict marker checks of ``coursetools.assign``);
- solution prose is removed (``{solution}``, and the ``{solution-start}`` /
  ``{solution-end}`` gates with the markdown between them);
- hidden-test cells are removed whole;
- the stored outputs of every exercise cell with nbgrader metadata (solutions,
  self-checks) and of every other cell inside a solution gate are removed, since they
  would show the answer.

The sources are copied into ``DIR/src`` (``_config.yml`` with "(student edition)" added
to the title, ``_toc.yml``, ``_static/``, the root pages, ``references.bib``, the student
chapters,
and a link to ``lecture_lib``, whose files chapter 5 includes) and built there with
jupyter-book; nothing under ``chapters/`` is written. The download buttons of the
edition give its chapter notebooks, that is the student notebooks with the teaching
outputs. Publish the edition by copying ``_build/student/html`` to any static web host.

Python API: ``student_book_notebook(nb, name) -> nb``, ``write_sources(src)``,
``build(out) -> Path of the html folder``.
"""
from __future__ import annotations

import argparse
import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

from .assign import AssignError, is_hidden_test, solution_gate_cells, student_pipeline

__all__ = ["REPO", "DEFAULT_OUT", "StudentBookError", "student_book_notebook",
           "write_sources", "build", "main"]

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "_build" / "student"
BOOK_FILES = ("_config.yml", "_toc.yml", "references.bib")
BOOK_DIRS = ("_static",)                      # the book's CSS and script
NOT_PAGES = {"README.md", "CONTRIBUTING.md"}
LIBRARY_LINKS = ("lecture_lib",)              # literalinclude'd by the chapters
TITLE_SUFFIX = " (student edition)"


class StudentBookError(RuntimeError):
    """The student edition cannot be made (the message names the chapter and cell)."""


def student_book_notebook(nb, name=None):
    """The student version of the chapter `nb` (left unchanged) for the student edition.
    """
    book = nbformat.from_dict(copy.deepcopy(nb))
    gated = solution_gate_cells(book, name)
    kept = []
    for index, cell in enumerate(book.cells):
        if cell.cell_type == "code" and is_hidden_test(cell):
            continue                                # hidden tests: gone, not emptied
        exercise = cell.metadata.get("nbgrader") or index in gated
        if cell.cell_type == "code" and exercise:
            cell.outputs, cell.execution_count = [], None
        kept.append(cell)
    book.cells = kept
    resources = {"assign": {"notebook": name}}
    for pre in student_pipeline(clear_output=False):
        book, resources = pre.preprocess(book, resources)
    nbformat.validate(book)
    return book


def _pages(repo):
    return sorted(p for p in repo.glob("*.md") if p.name not in NOT_PAGES)


def write_sources(src, repo=REPO):
    """Write the student edition's sources into the folder `src` (emptied first)."""
    src, repo = Path(src), Path(repo)
    chapters_dir = repo / "chapters"
    if src.resolve() in [repo.resolve(), chapters_dir.resolve()] or \
            chapters_dir.resolve() in src.resolve().parents:
        raise StudentBookError(f"refusing to write the student edition into {src}")
    books, errors = {}, []
    for path in sorted(chapters_dir.glob("*.ipynb")):
        try:
            books[path.name] = student_book_notebook(nbformat.read(path, as_version=4),
                                                     f"chapters/{path.name}")
        except (AssignError, nbformat.ValidationError, ValueError) as err:
            errors.append(str(err))
    if errors:
        raise StudentBookError("\n".join(errors))
    if src.exists():
        shutil.rmtree(src)
    (src / "chapters").mkdir(parents=True)
    for name in BOOK_FILES:
        if (repo / name).is_file():
            shutil.copy2(repo / name, src / name)
    config = yaml.safe_load((src / "_config.yml").read_text())
    config["title"] = str(config.get("title", "")) + TITLE_SUFFIX
    (src / "_config.yml").write_text(
        "# Written by python -m coursetools.student_book from the book's _config.yml.\n"
        + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    for name in BOOK_DIRS:
        if (repo / name).is_dir():
            shutil.copytree(repo / name, src / name)
    for page in _pages(repo):
        shutil.copy2(page, src / page.name)
    for name in LIBRARY_LINKS:
        os.symlink(os.path.relpath(repo / name, src), src / name)
    for name, nb in books.items():
        nbformat.write(nb, str(src / "chapters" / name))
    return src


def build(out=DEFAULT_OUT, repo=REPO, strict=True):
    """Write the sources into ``out/src``, build them, and move the HTML to
    ``out/html``.

    `strict` builds with ``-n -W --keep-going`` (any warning fails). Raises
    StudentBookError with the build's log on failure. Returns the html folder."""
    out = Path(out).resolve()
    src = write_sources(out / "src", repo)
    args = ["build", str(src), "--builder", "html"]
    if strict:
        args += ["-n", "-W", "--keep-going"]
    proc = subprocess.run([sys.executable, "-c",
                           "import sys; from jupyter_book.cli.main import main; "
                           "sys.exit(main())", *args],
                          capture_output=True, text=True, cwd=src)
    if proc.returncode != 0:
        raise StudentBookError(f"jupyter-book build of the student edition failed "
                               f"(exit {proc.returncode}):\n{proc.stdout[-6000:]}\n"
                               f"{proc.stderr[-6000:]}")
    html = out / "html"
    if html.exists():
        shutil.rmtree(html)
    shutil.move(str(src / "_build" / "html"), str(html))
    return html


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m coursetools.student_book",
                                     description="Build the student edition of the "
                                                 "book.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output folder (default "
                             f"{DEFAULT_OUT.relative_to(REPO)}); "
                             f"the HTML goes to OUT/html")
    parser.add_argument("--no-strict", action="store_true",
                        help="build without -n -W --keep-going")
    args = parser.parse_args(argv)
    try:
        html = build(args.out, strict=not args.no_strict)
    except StudentBookError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"student edition: {html / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
