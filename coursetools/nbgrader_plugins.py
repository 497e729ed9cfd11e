"""What the course's ``nbgrader_config.py`` plugs into nbgrader (``coursetools.course
init`` writes that file; nbgrader's own commands then use these unchanged).

generate_assignment
    nbgrader's preprocessors, with the strict ``ClearSolutions`` of
    ``coursetools.assign`` in place of nbgrader's (same stubs, clearer errors) and
    ``RemoveSolutionProse`` right after it, so the released notebook has no
    sphinx-exercise solution prose.
autograde (sanitize step)
    ``RestoreMetadata`` gives cells whose nbgrader metadata was stripped their grade_id
    back (by their source, or by the function a solution defines);
    ``KeepAnsweredDuplicates`` keeps the answered copy of a copy-pasted solution cell
    (nbgrader's ``DeduplicateIds`` would keep the last, often the unanswered stub);
    ``ReportMissingCells`` names the student and the cells a submission lacks; then
    ``QuietOverwriteCells`` (nbgrader's ``OverwriteCells`` with ``add_missing_cells``)
    restores the locked test cells, without the warning every honest submission
    caused for the emptied hidden-test cells (a changed one is still reported).
autograde (grading step)
    ``SandboxExecute`` in place of nbgrader's ``Execute``: the submission runs in a
    sandboxed kernel (``coursetools.job``, ``coursetools.sandbox``), or its result is
    taken from a job already run by ``python -m coursetools.course grade``;
    ``GradeRecords`` then decides the hidden tests outside the student's process
    (``coursetools.verdicts``), flags hand-derivation exercises that call autodiff
    (``coursetools.forbidden``) and writes the submission's report
    (``coursetools.report``).
generate_feedback
    ``HideHiddenTests`` after ``GetGrades``: nbgrader's feedback shows hidden tests by
    default (jupyter/nbgrader#917, #1363). It removes the hidden region from each
    hidden-test cell and reduces its outputs to the error's name and message (a
    traceback would quote the hidden lines); the score of the cell stays.
zip_collect
    ``LMS_FILENAME_REGEXP``: the file names of a Canvas-style LMS download,
    ``<student>_<user id>_<submission id>_<notebook>.ipynb`` (``_LATE_`` allowed after
    the student; a ``-N`` that the LMS appends to a resubmitted file is dropped).
"""
from __future__ import annotations

from nbconvert.preprocessors import (ClearMetadataPreprocessor,
                                     CSSHTMLHeaderPreprocessor)
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata,
                                    ClearHiddenTests, ClearMarkScheme, ClearOutput,
                                    ComputeChecksums, DeduplicateIds, GetGrades,
                                    IgnorePattern, IncludeHeaderFooter,
                                    InstantiateTests, LimitOutput, LockCells,
                                    NbGraderPreprocessor, OverwriteKernelspec,
                                    SaveAutoGrades, SaveCells)

from .assign import BEGIN_HIDDEN, END_HIDDEN, ClearSolutions, RemoveSolutionProse
from .assign import grade_id, is_hidden_test
from .grading import GradeRecords, SandboxExecute
from .sanitize import KeepAnsweredDuplicates, QuietOverwriteCells, RestoreMetadata

__all__ = ["ClearSolutions", "RemoveSolutionProse", "HideHiddenTests",
           "ReportMissingCells", "GENERATE_ASSIGNMENT", "AUTOGRADE_SANITIZE",
           "AUTOGRADE", "GENERATE_FEEDBACK", "LMS_FILENAME_REGEXP", "HIDDEN_NOTE"]

HIDDEN_NOTE = "# Hidden tests (their code is not shown); this cell's score is theirs."


SCRUBBED = "[a line of a hidden test, removed by the grader]"


def _hidden_region(source):
    inside = False
    for line in source.split("\n"):
        if line.strip() in (BEGIN_HIDDEN, END_HIDDEN):
            inside = line.strip() == BEGIN_HIDDEN
        elif inside:
            yield line


def _scrub_text(text, hidden):
    if not isinstance(text, str) or not hidden:
        return text
    return "\n".join(SCRUBBED if any(h in ln for h in hidden) else ln
                     for ln in text.split("\n"))


def _scrub(out, hidden):
    """Replace, in one output, every line that contains a hidden-test line."""
    if "text" in out:
        out["text"] = _scrub_text(out["text"], hidden)
    for key in ("evalue", "ename"):
        if key in out:
            out[key] = _scrub_text(out[key], hidden)
    if "traceback" in out:
        out["traceback"] = [_scrub_text(t, hidden) for t in out["traceback"]]
    for mime, value in out.get("data", {}).items():
        if isinstance(value, str):
            out["data"][mime] = _scrub_text(value, hidden)


class HideHiddenTests(NbGraderPreprocessor):
    """For feedback: hidden-test cells keep their score, lose their code and tracebacks.
    """

    def preprocess(self, nb, resources):
        """Hide the hidden cells, then scrub every output of every cell of any line of
        a hidden test (a submission can print a hidden cell's source from a hook)."""
        hidden = {ln.strip() for c in nb.cells if c.cell_type == "code"
                  and is_hidden_test(c) for ln in _hidden_region(c.source)
                  if len(ln.strip()) >= 8}
        nb, resources = super().preprocess(nb, resources)
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                _scrub(out, hidden)
        return nb, resources

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not is_hidden_test(cell):
            return cell, resources
        kept, inside = [], False
        for line in cell.source.split("\n"):
            if line.strip() == BEGIN_HIDDEN:
                inside = True
            elif line.strip() == END_HIDDEN:
                inside = False
            elif not inside:
                kept.append(line)
        cell.source = "\n".join([HIDDEN_NOTE] + [ln for ln in kept if ln.strip()])
        outputs = []
        for out in cell.get("outputs", []):
            if out.output_type == "error":      # what failed, not where (no traceback)
                out.traceback = [f"{out.ename}: {out.evalue}"]
                outputs.append(out)
        cell.outputs = outputs
        return cell, resources


class ReportMissingCells(NbGraderPreprocessor):
    """Autograde, sanitize step: log which nbgrader cells a submission lacks, by
    student."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            try:
                source = gb.find_notebook(info["notebook"], info["assignment"])
            except MissingEntry:
                return nb, resources
            expected = {c.name: c for c in source.source_cells}
            graded = {c.name for c in source.grade_cells}
        present = {grade_id(c) for c in nb.cells}
        missing = [name for name in expected if name not in present]
        if missing:
            restored = [m for m in missing if m in graded]
            lost = [m for m in missing if m not in graded]
            self.log.warning(
                "student %s, %s.ipynb: cells missing from the submission: %s%s%s",
                info["student"], info["notebook"], ", ".join(missing),
                f"; restored from the release and graded: {', '.join(restored)}"
                if restored else "",
                f"; not restored (ungraded, or the student's answer): {', '.join(lost)}"
                if lost else "")
            resources.setdefault("coursetools", {})["missing_cells"] = missing
        return nb, resources


GENERATE_ASSIGNMENT = [
    IncludeHeaderFooter, InstantiateTests, LockCells,
    ClearSolutions, RemoveSolutionProse,     # coursetools: strict markers, no prose
    ClearOutput, CheckCellMetadata, ComputeChecksums, SaveCells,
    ClearHiddenTests, ClearMarkScheme, ComputeChecksums, CheckCellMetadata,
]
AUTOGRADE_SANITIZE = [ClearOutput, RestoreMetadata, KeepAnsweredDuplicates,
                      DeduplicateIds, OverwriteKernelspec, ReportMissingCells,
                      QuietOverwriteCells, CheckCellMetadata]
AUTOGRADE = [SandboxExecute, GradeRecords, IgnorePattern, ClearMetadataPreprocessor,
             LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
GENERATE_FEEDBACK = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]

LMS_FILENAME_REGEXP = (r".*/(?P<student_id>[A-Za-z0-9.-]+)_(?i:late_)?\d+_\d+_"
                       r"(?P<file_id>[^/]+?)(?:-\d+)?\.ipynb$")
