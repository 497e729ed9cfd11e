"""Make student notebooks from the instructor notebooks, with nbgrader's preprocessors.

For instructors
---------------
The notebooks under ``chapters/`` are the instructor version: they hold the solutions
and the hidden tests. To hand out whole-chapter notebooks without them (no nbgrader
database needed)::

    python -m coursetools.assign chapters --out student          # every notebook
    python -m coursetools.assign chapters --out student --force  # overwrite
    python -m coursetools.assign --single chapters/NN_name.ipynb --out student

Each student notebook is what nbgrader's ``generate_assignment`` releases, cell for cell
(see CONTRIBUTING.md, "Exercises", for how the cells are marked):

- the markers are checked first, strictly (below); then nbgrader's ``ClearSolutions``
  replaces every region between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` by
  ``# YOUR CODE HERE`` / ``raise NotImplementedError()`` and every written answer (a
  markdown solution cell) by ``YOUR ANSWER HERE``;
- solution prose is removed (``RemoveSolutionProse``, which the nbgrader course also
  plugs into ``generate_assignment``): ``{solution}`` directives, and the
  ``{solution-start}`` / ``{solution-end}`` gates with all markdown between them except
  written-answer cells;
- nbgrader's ``ClearHiddenTests`` empties the hidden-test cells, ``LockCells`` locks the
  self-checks, and outputs and execution counts are cleared. The self-checks stay.

Strict checks (any failure stops the command before anything is written, names the
notebook and the cell, exit status 2): a BEGIN without END and the reverse, nested
regions, a line that mentions ``BEGIN SOLUTION`` / ``END SOLUTION`` / ``BEGIN HIDDEN
TESTS`` / ``END HIDDEN TESTS`` without being exactly the marker (nbgrader takes any line
containing the words for a marker), markers in a cell without the nbgrader metadata they
need (``solution: true`` for solutions, ``grade: true`` for hidden tests), a code cell
inside a gated solution that is not an nbgrader solution cell, an unclosed gate or
directive. The sources are only read: the command refuses to write into the source
folder, and into a non-empty output folder without ``--force`` (which overwrites only
the files it writes).

The student edition of the book (stored outputs of the teaching cells kept) is
``python -m coursetools.student_book``; nbgrader releases the graded notebooks of the
course that ``python -m coursetools.course init`` makes.

Python API: ``make_student_notebook(nb) -> (student_nb, report)`` and
``assign(source, out, force=False, single=None) -> [report, ...]``.
"""
from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat
from nbgrader import utils as nbgrader_utils
from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, LockCells
from nbgrader.preprocessors import ClearSolutions as NbgraderClearSolutions
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode, validate

__all__ = ["AssignError", "ClearSolutions", "RemoveSolutionProse",
           "make_student_notebook", "student_pipeline", "solution_gate_cells",
           "is_hidden_test", "is_self_check", "grade_id", "assign", "main"]

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
SKIP_DIRS = {".ipynb_checkpoints", "_build"}          # never sources, never walked into

# An opening fence of a code block or MyST directive: ``` / ```` / ::: ..., then an info
# string.
FENCE_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|:{3,})\s*(?P<info>.*)$")
DIRECTIVE = re.compile(r"^\{(?P<name>[\w:.-]+)\}")
SOLUTION_DIRECTIVES = {"solution", "solution-start", "solution-end"}


class AssignError(ValueError):
    """A notebook cannot be turned into a student notebook safely (the message says
    where)."""


def _cell(index):
    return f"cell {index + 1} (0-based index {index})"


def _where(resources, index):
    """'chapters/02.ipynb: cell 12 (0-based index 11)' for messages."""
    name = (resources.get("assign", {}).get("notebook")
            or resources.get("nbgrader", {}).get("notebook") or "<notebook>")
    return f"{name}: {_cell(index)}"


def _stats(resources):
    return resources.setdefault("assign", {}).setdefault("stats", {
        "regions_stubbed": 0, "stubbed_cells": {}, "whole_cells_stubbed": [],
        "written_answers_cleared": 0, "prose_cells_removed": 0,
        "prose_cells_trimmed": 0})


def _nbgrader(cell):
    return cell.metadata.get("nbgrader", {})


def grade_id(cell):
    """The cell's nbgrader ``grade_id``; None for a cell without nbgrader metadata."""
    return _nbgrader(cell).get("grade_id")


def _check_regions(lines, begin, end, where, words):
    """Number of begin/end regions in `lines`; AssignError for anything malformed."""
    open_line, regions = None, 0
    for lineno, line in enumerate(lines, start=1):
        marker = line.strip()
        if marker == begin:
            if open_line is not None:
                raise AssignError(f"{where}: nested '{begin}' on line {lineno} (the "
                                  f"region opened on line {open_line} is not closed)")
            open_line, regions = lineno, regions + 1
        elif marker == end:
            if open_line is None:
                raise AssignError(f"{where}: '{end}' on line {lineno} without a "
                                  f"'{begin}' before it")
            open_line = None
        elif any(w in line for w in words):
            raise AssignError(
                f"{where}: line {lineno} looks like a marker but is not exactly "
                f"'{begin}' or '{end}' on a line of its own: {line.strip()!r} "
                f"(nbgrader takes any line containing those words for one)")
    if open_line is not None:
        raise AssignError(f"{where}: '{begin}' on line {open_line} has no '{end}'")
    return regions


class ClearSolutions(NbgraderClearSolutions):
    """nbgrader's ClearSolutions, after a strict check of every marker in the notebook.

    nbgrader stubs each ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region (indented
    like the BEGIN line), replaces a solution cell without markers by the stub whole (a
    markdown one by ``YOUR ANSWER HERE``), and takes any line containing ``BEGIN
    SOLUTION`` for a marker. Before it runs, this raises AssignError (naming notebook
    and cell) for unbalanced, nested or look-alike solution and hidden-test markers, for
    markers in a markdown cell that is not a solution cell, for solution markers in a
    cell without ``nbgrader.solution`` and for hidden tests in a cell without
    ``nbgrader.grade``.
    """

    @validate("code_stub")
    def _code_stub_per_language(self, proposal):
        # assign's own ClearSolutions took one string; nbgrader's takes one per
        # language.
        value = proposal["value"]
        return {"python": value} if isinstance(value, str) else value

    def preprocess(self, nb, resources):
        stats = _stats(resources)
        for index, cell in enumerate(nb.cells):
            where = _where(resources, index)
            lines = cell.source.split("\n")
            meta = _nbgrader(cell)
            solutions = _check_regions(lines, BEGIN, END, where,
                                       ("BEGIN SOLUTION", "END SOLUTION"))
            hidden = _check_regions(lines, BEGIN_HIDDEN, END_HIDDEN, where,
                                    ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"))
            if solutions and cell.cell_type != "code" and not meta.get("solution"):
                raise AssignError(
                    f"{where}: solution markers in a {cell.cell_type} cell; only code "
                    f"cells (and written-answer cells) may hold them")
            if solutions and not meta.get("solution"):
                raise AssignError(
                    f"{where}: solution markers in a cell that is not an nbgrader "
                    f"solution cell (metadata nbgrader.solution: true and a grade_id, "
                    f"see CONTRIBUTING.md); nbgrader would refuse to release it")
            if hidden and not meta.get("grade"):
                raise AssignError(f"{where}: hidden tests in a cell that is not an "
                                  f"nbgrader test cell (metadata nbgrader.grade: true, "
                                  f"locked, points)")
            if solutions:
                stats["regions_stubbed"] += solutions
                stats["stubbed_cells"][index] = solutions
            elif meta.get("solution") and cell.source.strip():
                if cell.cell_type == "code":
                    stats["whole_cells_stubbed"].append(index)
                else:
                    stats["written_answers_cleared"] += 1
        return super().preprocess(nb, resources)


def _closing_fence(lines, start, fence):
    """Index of the line closing `fence` (same character, at least as long), or None."""
    close = re.compile(r"^ {0,3}" + re.escape(fence[0]) + "{" + str(len(fence))
                       + r",}\s*$")
    for j in range(start, len(lines)):
        if close.match(lines[j]):
            return j
    return None


def _directive_name(info):
    m = DIRECTIVE.match(info)
    return m["name"] if m else None


def _has_solution_directive(lines):
    for line in lines:
        m = FENCE_OPEN.match(line)
        if m and _directive_name(m["info"]) in SOLUTION_DIRECTIVES:
            return True
    return False


def _strip_prose(lines, gate, resources, index):
    """Lines of one markdown cell without solution prose; the gate state after it.

    `gate` is the index of the cell whose ``{solution-start}`` is open, or None.
    """
    out, i = [], 0
    while i < len(lines):
        m = FENCE_OPEN.match(lines[i])
        if not m:
            if gate is None:
                out.append(lines[i])
            i += 1
            continue
        close = _closing_fence(lines, i + 1, m["fence"])
        end = len(lines) - 1 if close is None else close
        name = _directive_name(m["info"])
        if name in SOLUTION_DIRECTIVES:
            if close is None:
                raise AssignError(f"{_where(resources, index)}: the {{{name}}} "
                                  f"directive opened with {m['fence']} is never closed")
            if name == "solution-start":
                if gate is not None:
                    raise AssignError(f"{_where(resources, index)}: {{solution-start}} "
                                      f"inside the solution opened in {_cell(gate)}")
                gate = index
            elif name == "solution-end":
                if gate is None:
                    raise AssignError(f"{_where(resources, index)}: {{solution-end}} "
                                      f"without a {{solution-start}} before it")
                gate = None
        else:
            if name and _has_solution_directive(lines[i + 1:end]):
                raise AssignError(f"{_where(resources, index)}: a solution directive "
                                  f"nested inside {{{name}}}; put it in a cell of its "
                                  f"own")
            if gate is None:
                out += lines[i:end + 1]
        i = end + 1
    return out, gate


def solution_gate_cells(nb, name=None):
    """Indices of the cells that lie inside a gated solution (``{solution-start}`` to
    ``{solution-end}``, the cells holding the two directives included) or hold a
    ``{solution}`` directive. Raises AssignError for unbalanced gates."""
    resources = {"assign": {"notebook": name}}
    inside, gate = set(), None
    for index, cell in enumerate(nb.cells):
        if gate is not None:
            inside.add(index)
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.split("\n")
        before = gate
        _, gate = _strip_prose(lines, gate, resources, index)
        if gate is not None or before is not None or _has_solution_directive(lines):
            inside.add(index)
    if gate is not None:
        raise AssignError(f"{_where(resources, gate)}: {{solution-start}} has no "
                          f"{{solution-end}} after it")
    return inside


class RemoveSolutionProse(NbGraderPreprocessor):
    """Remove solution prose from markdown cells (plugged into nbgrader's
    generate_assignment right after ClearSolutions, and used by ``coursetools.assign``).

    - ``{solution}`` directives (backtick or colon fences, any length) are cut out of
      their cell; the cell goes if nothing else is left.
    - ``{solution-start}`` opens a gated solution and ``{solution-end}`` closes it: both
      directives and all markdown (and raw) text between them go, including prose after
      the ``{solution-start}`` directive in its cell, except nbgrader cells (written
      answers, already ``YOUR ANSWER HERE``), which stay. Code cells inside must be
      nbgrader solution (or test) cells.

    Raises AssignError for an unbalanced or nested solution-start/solution-end, an
    unclosed solution directive, a solution directive nested inside another directive,
    and a code cell inside a gated solution that is not an nbgrader cell (its code would
    reach students).
    """

    code_stub = Unicode(STUB).tag(config=True)   # kept for configurations setting it

    def preprocess(self, nb, resources):
        stats = _stats(resources)
        kept, gate = [], None    # gate: index of the cell whose solution-start is open
        for index, cell in enumerate(nb.cells):
            meta = _nbgrader(cell)
            if cell.cell_type == "code":
                if gate is not None and cell.source.strip() and not (
                        meta.get("solution") or meta.get("grade")):
                    raise AssignError(
                        f"{_where(resources, index)}: a code cell inside the solution "
                        f"opened in {_cell(gate)} is not an nbgrader solution cell "
                        f"(metadata nbgrader.solution: true); its code would reach "
                        f"students")
                kept.append(cell)
                continue
            if gate is not None and meta:       # a written answer: nbgrader's business
                kept.append(cell)
                continue
            lines = cell.source.split("\n")
            if cell.cell_type == "markdown":
                new_lines, gate = _strip_prose(lines, gate, resources, index)
            else:                                        # raw: solution text if gated
                new_lines = [] if gate is not None else lines
            if new_lines == lines:
                kept.append(cell)
            elif "\n".join(new_lines).strip():
                cell.source = re.sub(r"\n\s*\n(\s*\n)+", "\n\n",
                                     "\n".join(new_lines)).strip("\n")
                stats["prose_cells_trimmed"] += 1
                kept.append(cell)
            else:
                stats["prose_cells_removed"] += 1
        if gate is not None:
            raise AssignError(f"{_where(resources, gate)}: {{solution-start}} has no "
                              f"{{solution-end}} after it")
        nb.cells = kept
        return nb, resources


def is_hidden_test(cell):
    """True for a test cell that holds a hidden-test region (CONTRIBUTING: nothing
    else)."""
    return nbgrader_utils.is_grade(cell) and any(
        line.strip() == BEGIN_HIDDEN for line in cell.source.split("\n"))


def is_self_check(cell):
    """A test cell students see: a locked code cell, graded or read-only (where the
    grader decides the hidden tests, self-checks carry no points), not a solution, not
    hidden tests."""
    meta = cell.metadata.get("nbgrader", {})
    return (cell.cell_type == "code" and (meta.get("grade") or meta.get("locked"))
            and bool(meta.get("grade_id")) and not nbgrader_utils.is_solution(cell)
            and not is_hidden_test(cell))


def student_pipeline(clear_output=True):
    """The preprocessors, in order, that make a student notebook: the strict
    ClearSolutions, RemoveSolutionProse, nbgrader's ClearHiddenTests and LockCells, and
    (unless `clear_output` is false) nbgrader's ClearOutput."""
    steps = [ClearSolutions(), RemoveSolutionProse(), ClearHiddenTests(), LockCells()]
    return steps + ([ClearOutput()] if clear_output else [])


def make_student_notebook(nb, path=None):
    """Return ``(student_nb, report)`` for the notebook node `nb`, which is left
    unchanged.

    `path` only names the notebook in error messages and in the report. The report is a
    dict: ``notebook``, ``regions_stubbed``, ``written_answers_cleared``,
    ``prose_cells_removed`` (whole markdown/raw cells), ``prose_cells_trimmed`` (cells
    that kept text outside a solution directive), ``whole_cells_stubbed`` (0-based
    indices of solution code cells without markers, replaced whole),
    ``hidden_tests_removed``, ``self_checks_kept``. Raises AssignError (a ValueError) on
    malformed markers or metadata.
    """
    student = nbformat.from_dict(copy.deepcopy(nb))
    resources = {"assign": {"notebook": str(path) if path is not None else None}}
    stats = _stats(resources)
    try:
        for pre in student_pipeline():
            student, resources = pre.preprocess(student, resources)
    except AssignError:
        raise
    except (RuntimeError, ValueError) as err:      # nbgrader's own checks
        raise AssignError(f"{path or '<notebook>'}: {err}") from err
    sources = {grade_id(c): c.source for c in nb.cells if grade_id(c)}
    self_checks = sum(1 for c in student.cells if is_self_check(c)
                      and c.source == sources.get(grade_id(c)))
    report = {"notebook": resources["assign"]["notebook"],
              "regions_stubbed": stats["regions_stubbed"],
              "written_answers_cleared": stats["written_answers_cleared"],
              "prose_cells_removed": stats["prose_cells_removed"],
              "prose_cells_trimmed": stats["prose_cells_trimmed"],
              "whole_cells_stubbed": list(stats["whole_cells_stubbed"]),
              "hidden_tests_removed": sum(1 for c in nb.cells if is_hidden_test(c)),
              "self_checks_kept": self_checks}
    return student, report


def _find_notebooks(source):
    return sorted(p for p in source.rglob("*.ipynb")
                  if p.is_file()
                  and not SKIP_DIRS & set(p.relative_to(source).parts[:-1]))


def _is_within(path, folder):
    return path == folder or folder in path.parents


def assign(source, out, force=False, single=None):
    """Write student notebooks for every ``*.ipynb`` under the folder `source`
    (recursively, keeping relative paths) or for the one notebook `single`, into the
    folder `out`.

    Everything is read and checked before anything is written; on any problem an
    AssignError is raised and nothing is written. Returns one report per notebook (see
    make_student_notebook), each with ``output`` added.
    """
    out = Path(out).resolve()
    if single is not None:
        nb_path = Path(single).resolve()
        if not nb_path.is_file():
            raise AssignError(f"{single}: no such notebook")
        if out == nb_path.parent:
            raise AssignError(f"refusing to write into the notebook's own folder {out}")
        jobs = [(Path(single), nb_path, out / nb_path.name)]
        sources = [nb_path]
    else:
        root = Path(source).resolve()
        if not root.is_dir():
            raise AssignError(f"{source}: not a folder")
        if _is_within(out, root) or _is_within(root, out):
            raise AssignError(f"refusing to write into the sources: output {out} and "
                              f"source {root} must not contain each other")
        sources = _find_notebooks(root)
        if not sources:
            raise AssignError(f"{source}: no notebooks found")
        jobs = [(Path(source) / p.relative_to(root), p, out / p.relative_to(root))
                for p in sources]
    if out.exists() and not out.is_dir():
        raise AssignError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise AssignError(f"{out} is not empty; pass --force to overwrite the "
                          f"notebooks it writes (other files there are left alone)")
    resolved_sources = {p.resolve() for p in sources}

    # Phase 1: read, transform and validate everything; collect every notebook's error.
    results, errors = [], []
    for shown, path, target in jobs:
        try:
            with open(path, encoding="utf-8") as f:          # read only
                nb = nbformat.read(f, as_version=4)
            student, report = make_student_notebook(nb, path=shown)
            nbformat.validate(student)
        except AssignError as e:
            errors.append(str(e))
            continue
        except (nbformat.ValidationError, ValueError, OSError) as e:
            errors.append(f"{shown}: {e}")
            continue
        if target.resolve() in resolved_sources or target.is_dir():
            errors.append(f"{shown}: refusing to write {target}")
            continue
        report["output"] = str(target)
        results.append((target, student, report))
    if errors:
        raise AssignError("\n".join(errors))

    # Phase 2: write.
    for target, student, _ in results:
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(student, str(target))
    return [report for _, _, report in results]


def format_reports(reports):
    """The reports as a small plain-text table (plus notes on whole cells stubbed)."""
    head = ("notebook", "regions stubbed", "answers cleared", "prose cells removed",
            "hidden tests removed", "self-checks kept", "output")

    def prose(r):
        trimmed = r["prose_cells_trimmed"]
        extra = f" (+{trimmed} trimmed)" if trimmed else ""
        return str(r["prose_cells_removed"]) + extra

    rows = [(r["notebook"], str(r["regions_stubbed"]),
             str(r["written_answers_cleared"]), prose(r),
             str(r["hidden_tests_removed"]), str(r["self_checks_kept"]),
             r.get("output", "")) for r in reports]
    widths = [max(len(row[k]) for row in [head, *rows]) for k in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
             for row in [head, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for r in reports:
        for i in r["whole_cells_stubbed"]:
            lines.append(f"note: {r['notebook']}: {_cell(i)} is a solution cell "
                         f"without markers; the whole cell became the stub")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m coursetools.assign",
        description="Write student notebooks (solutions stubbed, solution prose and "
                    "hidden tests removed, outputs cleared) from the instructor "
                    "notebooks.")
    parser.add_argument("source", nargs="?", help="folder of instructor notebooks")
    parser.add_argument("--single", metavar="NOTEBOOK",
                        help="convert this one notebook")
    parser.add_argument("--out", required=True, metavar="OUT_DIR", help="output folder")
    parser.add_argument("--force", action="store_true",
                        help="write into a non-empty OUT_DIR (overwrites only its own "
                             "files)")
    args = parser.parse_args(argv)
    if (args.source is None) == (args.single is None):
        parser.error("give either SOURCE or --single NOTEBOOK")
    try:
        reports = assign(args.source, args.out, force=args.force, single=args.single)
    except AssignError as e:
        print(f"error: {e}\nnothing was written.", file=sys.stderr)
        return 2
    print(format_reports(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
