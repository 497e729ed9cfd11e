"""Autograde's grading step: execute in the sandbox, then judge outside it.

``SandboxExecute`` (in place of nbgrader's ``Execute``)
    Looks for this submission's job result, ``grading/<assignment>/<student>.<notebook>
    .result.json`` (written by ``python -m coursetools.course grade``, which runs the
    jobs of a class in parallel); uses it if it is of this very notebook (SHA-256 of
    its cells), else runs the job now (``python -m coursetools.job``, a subprocess).
    Refuses (every submission fails with the reason) when the sandbox cannot start,
    unless ``c.SandboxExecute.unsandboxed = True``, the instructor's loud override.
``GradeRecords``
    Replaces each hidden-test cell's outputs by the grader's verdict
    (``coursetools.verdicts``), scans hand-derivation solutions for autodiff
    (``coursetools.forbidden``), and writes the submission's report,
    ``grading/<assignment>/<student>.json`` (``coursetools.report``).
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Integer, Unicode

from . import sandbox
from .assign import grade_id, is_hidden_test
from .forbidden import HAND_DERIVED, forbidden_uses
from .job import merge_result, notebook_sha256
from .report import write_submission_report
from .sanitize import NOTES, report_entry
from .verdicts import judge_cell, verdict_outputs

__all__ = ["SandboxExecute", "GradeRecords", "result_path", "UNSANDBOXED_WARNING"]

UNSANDBOXED_WARNING = ("GRADING WITHOUT THE SANDBOX (c.SandboxExecute.unsandboxed): "
                       "the submission runs with the grader's rights and can read and "
                       "change the course directory")


def result_path(grading_dir, assignment, student, notebook):
    """Where the job result of one submission notebook is kept."""
    return Path(grading_dir) / assignment / f"{student}.{notebook}.result.json"


def run_job_process(nb, result, limits=None, unsandboxed=False, timeout=None):
    """Run ``python -m coursetools.job`` on the notebook node `nb`, writing `result`;
    return the result dict (RuntimeError, with the job's log, if it wrote none)."""
    result = Path(result)
    result.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="coursetools-job-") as tmp:
        path = Path(tmp) / "submission.ipynb"
        nbformat.write(nb, str(path))
        cmd = [sys.executable, "-m", "coursetools.job", str(path), str(result)]
        if limits:
            cmd += ["--limits", json.dumps(limits)]
        if unsandboxed:
            cmd.append("--unsandboxed")
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or not result.is_file():
        raise RuntimeError(f"the grading job failed (exit {proc.returncode}): "
                           f"{proc.stderr[-2000:]}")
    return json.loads(result.read_text())


class SandboxExecute(NbGraderPreprocessor):
    """Execute the submission in a sandboxed kernel (or take its job's result)."""

    unsandboxed = Bool(False, help=UNSANDBOXED_WARNING).tag(config=True)
    grading_dir = Unicode("grading", help="job results and reports").tag(config=True)
    timeout = Integer(120, help="seconds one cell may run").tag(config=True)
    _checked = None

    def _check_sandbox(self):
        if self.unsandboxed:
            self.log.warning(UNSANDBOXED_WARNING)
            return
        if SandboxExecute._checked is None:
            try:
                sandbox.check()
                SandboxExecute._checked = ""
            except sandbox.SandboxUnavailable as err:
                SandboxExecute._checked = str(err)
        if SandboxExecute._checked:
            raise RuntimeError(
                f"refusing to grade: the sandbox cannot start "
                f"({SandboxExecute._checked})"
                f"; see README.md, 'The sandbox'. To grade WITHOUT it (the submission "
                f"then runs with your rights), set c.SandboxExecute.unsandboxed = True")

    def preprocess(self, nb, resources):
        self._check_sandbox()
        info = resources["nbgrader"]
        path = result_path(self.grading_dir, info["assignment"], info["student"],
                           info["notebook"])
        result = None
        if path.is_file():
            result = json.loads(path.read_text())
            if result.get("input_sha256") != notebook_sha256(nb) or (
                    result.get("sandboxed") == self.unsandboxed):
                result = None
        if result is None:
            result = run_job_process(nb, path, {"cell_seconds": self.timeout},
                                     unsandboxed=self.unsandboxed)
        statuses = merge_result(nb, result)
        resources.setdefault("coursetools", {})["job"] = {
            "seconds": result["seconds"], "events": result["events"],
            "sandboxed": result["sandboxed"],
            "failed": {grade_id(nb.cells[i]) or f"cell {i}": s
                       for i, s in statuses.items() if s not in ("ok", "error")}}
        return nb, resources


def _label(gid):
    return gid.rsplit("-", 1)[0] if gid else None


class GradeRecords(NbGraderPreprocessor):
    """Judge the hidden tests outside the student's process; write the report."""

    grading_dir = Unicode("grading", help="job results and reports").tag(config=True)

    def preprocess(self, nb, resources):
        for cell in nb.cells:
            if cell.cell_type != "code" or not is_hidden_test(cell):
                continue
            judged = judge_cell(cell.source, cell)
            if judged is None:
                continue
            passed, lines, tampering = judged
            cell.outputs = verdict_outputs(passed, lines)
            if tampering:
                report_entry(resources, "tampering", f"{grade_id(cell)}: {tampering}")
            if not passed:
                report_entry(resources, "wrong", grade_id(cell))
        for cell in nb.cells:
            gid = grade_id(cell)
            if (cell.cell_type == "code" and gid and gid.endswith("-code")
                    and _label(gid) in HAND_DERIVED):
                uses = forbidden_uses(cell.source, HAND_DERIVED[_label(gid)])
                if uses:
                    report_entry(resources, "flagged", f"{gid}: {', '.join(uses)}")
        info = resources["nbgrader"]
        notes = resources.get("coursetools", {})
        for key, values in nb.metadata.pop(NOTES, {}).items():   # from sanitizing
            notes.setdefault(key, []).extend(values)
        write_submission_report(self.grading_dir, info, notes)
        return nb, resources
