"""Make student notebooks from the instructor notebooks.

For instructors
---------------
The notebooks under ``chapters/`` are the instructor version: they hold the solutions. To
hand out notebooks without them::

    python -m coursetools.assign chapters --out student          # every notebook, recursively
    python -m coursetools.assign chapters --out student --force  # overwrite earlier output
    python -m coursetools.assign --single chapters/02_computational_graphs.ipynb --out student

In each student notebook (see CONTRIBUTING.md, "Exercises", for how solutions are marked):

- every region between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` in a code cell becomes
  ``# YOUR CODE HERE`` / ``raise NotImplementedError()`` (nbgrader's stub, so the notebooks
  also work with nbgrader);
- solution prose is removed: ``{solution}`` directives, and everything between
  ``{solution-start}`` and ``{solution-end}`` except code cells, which keep their code outside
  the markers (a code cell there without markers is replaced by the stub as a whole);
- outputs and execution counts are cleared; exercises and self-check cells stay as they are.

The sources are only read. The command refuses to write into the source folder and into a
non-empty output folder without ``--force`` (which overwrites only the files it writes).
Malformed markers or an unclosed ``{solution-start}`` stop it before anything is written, with
the notebook and cell named; the exit status is then 2.

The rendered book (built from the instructor notebooks) shows each solution as a closed
dropdown (``:class: dropdown``), so readers see it only if they open it. A student version of
the book is built from student notebooks: generate them into a folder of their own, copy the
book files next to them (the copied ``_toc.yml`` then points at the student chapters), and
build that folder::

    python -m coursetools.assign chapters --out student/chapters
    cp _config.yml _toc.yml intro.md references.md references.bib student/
    jupyter-book build student

(Do not use sphinx-exercise's ``hide_solutions: true`` for this: in sphinx-exercise 1.2.1 it
crashes the build on gated ``{solution-start}`` solutions.)

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
from nbconvert.preprocessors import ClearOutputPreprocessor, Preprocessor
from traitlets import Unicode

__all__ = ["AssignError", "ClearSolutions", "RemoveSolutionProse", "make_student_notebook",
           "assign", "main"]

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
SKIP_DIRS = {".ipynb_checkpoints", "_build"}          # never sources, never walked into

# A code cell "calls the checks" if it uses `check.<name>` or names `lecture_lib.check`.
SELF_CHECK = re.compile(r"(?<![\w.])check\.\w+|lecture_lib\.check")
# An opening fence of a code block or MyST directive: ``` / ```` / ::: ..., then an info string.
FENCE_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|:{3,})\s*(?P<info>.*)$")
DIRECTIVE = re.compile(r"^\{(?P<name>[\w:.-]+)\}")
SOLUTION_DIRECTIVES = {"solution", "solution-start", "solution-end"}


class AssignError(ValueError):
    """A notebook cannot be turned into a student notebook safely (the message says where)."""


def _cell(index):
    return f"cell {index + 1} (0-based index {index})"


def _where(resources, index):
    """'chapters/02.ipynb: cell 12 (0-based index 11)' for messages."""
    name = resources.get("assign", {}).get("notebook") or "<notebook>"
    return f"{name}: {_cell(index)}"


def _stats(resources):
    return resources.setdefault("assign", {}).setdefault("stats", {
        "regions_stubbed": 0, "stubbed_cells": {}, "whole_cells_stubbed": [],
        "prose_cells_removed": 0, "prose_cells_trimmed": 0})


class ClearSolutions(Preprocessor):
    """Replace each ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region of a code cell by the
    stub, indented like the BEGIN marker (as nbgrader's ClearSolutions does).

    Raises AssignError for a BEGIN without END, an END without BEGIN, a nested BEGIN, and a line
    that mentions BEGIN/END SOLUTION without being exactly a marker (nbgrader would take it for
    one; we would not, and the solution would leak).
    """

    code_stub = Unicode(STUB).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        out, begin_line, regions = [], None, 0
        for lineno, line in enumerate(cell.source.split("\n"), start=1):
            marker = line.strip()
            if marker == BEGIN:
                if begin_line is not None:
                    raise AssignError(f"{_where(resources, index)}: nested '{BEGIN}' on line "
                                      f"{lineno} (the region opened on line {begin_line} is "
                                      f"not closed)")
                begin_line, regions = lineno, regions + 1
                indent = line[: len(line) - len(line.lstrip())]
                out += [indent + stub for stub in self.code_stub.split("\n")]
            elif marker == END:
                if begin_line is None:
                    raise AssignError(f"{_where(resources, index)}: '{END}' on line {lineno} "
                                      f"without a '{BEGIN}' before it")
                begin_line = None
            elif "BEGIN SOLUTION" in line or "END SOLUTION" in line:
                raise AssignError(f"{_where(resources, index)}: line {lineno} looks like a "
                                  f"solution marker but is not exactly '{BEGIN}' or '{END}' "
                                  f"on a line of its own: {line.strip()!r}")
            elif begin_line is None:
                out.append(line)
        if begin_line is not None:
            raise AssignError(f"{_where(resources, index)}: '{BEGIN}' on line {begin_line} has "
                              f"no '{END}'")
        if regions:
            cell.source = "\n".join(out)
            stats = _stats(resources)
            stats["regions_stubbed"] += regions
            stats["stubbed_cells"][index] = regions
        return cell, resources


def _closing_fence(lines, start, fence):
    """Index of the line closing `fence` (same character, at least as long), or None."""
    close = re.compile(r"^ {0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$")
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


class RemoveSolutionProse(Preprocessor):
    """Remove solution prose from markdown cells.

    - ``{solution}`` directives (backtick or colon fences, any length) are cut out of their cell;
      the cell goes if nothing else is left.
    - ``{solution-start}`` opens a gated solution and ``{solution-end}`` closes it: both
      directives and all markdown (and raw) text between them go, including prose after the
      ``{solution-start}`` directive in its cell. Code cells inside stay; one that had no
      solution markers (see ClearSolutions, which runs first) is replaced by the stub whole.

    Raises AssignError for an unbalanced or nested solution-start/solution-end, an unclosed
    solution directive, a solution directive nested inside another directive, and solution
    markers left in a markdown cell.
    """

    code_stub = Unicode(STUB).tag(config=True)

    def preprocess(self, nb, resources):
        stats = _stats(resources)
        kept, gate = [], None        # gate: index of the cell whose solution-start is open
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                if gate is not None and index not in stats["stubbed_cells"] \
                        and cell.source.strip():
                    cell.source = self.code_stub
                    stats["whole_cells_stubbed"].append(index)
                kept.append(cell)
                continue
            lines = cell.source.split("\n")
            if cell.cell_type == "markdown":
                new_lines, gate = self._strip(lines, gate, resources, index)
            else:                                            # raw: solution text if gated
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
                continue
            if any(line.strip() in (BEGIN, END) for line in new_lines):
                raise AssignError(f"{_where(resources, index)}: solution markers in a "
                                  f"{cell.cell_type} cell; only code cells may hold them")
        if gate is not None:
            raise AssignError(f"{_where(resources, gate)}: {{solution-start}} has no "
                              f"{{solution-end}} after it")
        nb.cells = kept
        return nb, resources

    @staticmethod
    def _strip(lines, gate, resources, index):
        """Lines of one markdown cell without solution prose; the gate state after it."""
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
                    raise AssignError(f"{_where(resources, index)}: the {{{name}}} directive "
                                      f"opened with {m['fence']} is never closed")
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
                                      f"nested inside {{{name}}}; put it in a cell of its own")
                if gate is None:
                    out += lines[i:end + 1]
            i = end + 1
        return out, gate


def make_student_notebook(nb, path=None):
    """Return ``(student_nb, report)`` for the notebook node `nb`, which is left unchanged.

    `path` only names the notebook in error messages and in the report. The report is a dict:
    ``notebook``, ``regions_stubbed``, ``prose_cells_removed`` (whole markdown/raw cells),
    ``prose_cells_trimmed`` (cells that kept text outside a solution directive),
    ``whole_cells_stubbed`` (0-based indices of marker-less code cells inside a gated
    solution), ``self_checks_kept``. Raises AssignError (a ValueError) on malformed markers.
    """
    student = nbformat.from_dict(copy.deepcopy(nb))
    resources = {"assign": {"notebook": str(path) if path is not None else None}}
    stats = _stats(resources)
    for pre in (ClearSolutions(), RemoveSolutionProse(), ClearOutputPreprocessor()):
        student, resources = pre.preprocess(student, resources)
    # Code cells are never removed, so the k-th code cells of both notebooks correspond.
    pairs = zip([c for c in nb.cells if c.cell_type == "code"],
                [c for c in student.cells if c.cell_type == "code"])
    self_checks = sum(1 for src, new in pairs
                      if src.source == new.source and SELF_CHECK.search(src.source))
    report = {"notebook": resources["assign"]["notebook"],
              "regions_stubbed": stats["regions_stubbed"],
              "prose_cells_removed": stats["prose_cells_removed"],
              "prose_cells_trimmed": stats["prose_cells_trimmed"],
              "whole_cells_stubbed": list(stats["whole_cells_stubbed"]),
              "self_checks_kept": self_checks}
    return student, report


def _find_notebooks(source):
    return sorted(p for p in source.rglob("*.ipynb")
                  if p.is_file() and not SKIP_DIRS & set(p.relative_to(source).parts[:-1]))


def _is_within(path, folder):
    return path == folder or folder in path.parents


def assign(source, out, force=False, single=None):
    """Write student notebooks for every ``*.ipynb`` under the folder `source` (recursively,
    keeping relative paths) or for the one notebook `single`, into the folder `out`.

    Everything is read and checked before anything is written; on any problem an AssignError
    is raised and nothing is written. Returns one report per notebook (see
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
            raise AssignError(f"refusing to write into the sources: output {out} and source "
                              f"{root} must not contain each other")
        sources = _find_notebooks(root)
        if not sources:
            raise AssignError(f"{source}: no notebooks found")
        jobs = [(Path(source) / p.relative_to(root), p, out / p.relative_to(root))
                for p in sources]
    if out.exists() and not out.is_dir():
        raise AssignError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise AssignError(f"{out} is not empty; pass --force to overwrite the notebooks it "
                          f"writes (other files there are left alone)")
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
    head = ("notebook", "regions stubbed", "prose cells removed", "self-checks kept", "output")
    rows = [(r["notebook"], str(r["regions_stubbed"]),
             str(r["prose_cells_removed"])
             + (f" (+{r['prose_cells_trimmed']} trimmed)" if r["prose_cells_trimmed"] else ""),
             str(r["self_checks_kept"]), r.get("output", "")) for r in reports]
    widths = [max(len(row[k]) for row in [head, *rows]) for k in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
             for row in [head, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for r in reports:
        for i in r["whole_cells_stubbed"]:
            lines.append(f"note: {r['notebook']}: {_cell(i)} is inside a "
                         f"gated solution and has no markers; the whole cell became the stub")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m coursetools.assign",
        description="Write student notebooks (solutions stubbed, solution prose removed, "
                    "outputs cleared) from the instructor notebooks.")
    parser.add_argument("source", nargs="?", help="folder of instructor notebooks")
    parser.add_argument("--single", metavar="NOTEBOOK", help="convert this one notebook")
    parser.add_argument("--out", required=True, metavar="OUT_DIR", help="output folder")
    parser.add_argument("--force", action="store_true",
                        help="write into a non-empty OUT_DIR (overwrites only its own files)")
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
