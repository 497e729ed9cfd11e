"""Grade a class in parallel: one sandboxed job per submission, one writer.

    python -m coursetools.course grade ASSIGNMENT [--jobs N] [--student ID ...]

1. Each submission's stale state is cleared first: its report, its job results and its
   autograded scores (set to 0), so a regrade that fails never keeps an old score.
2. Jobs: each submission notebook is sanitized as ``nbgrader autograde`` would (the
   course's own preprocessors, reading the gradebook) and executed in its sandbox by
   ``python -m coursetools.job`` (input: that notebook; output: one result file,
   ``grading/<assignment>/<student>.<notebook>.result.json``), N at a time (default:
   all cores; each kernel then gets cores/N BLAS threads). A cluster's job runner
   could run the same command per submission.
3. One writer: ``nbgrader autograde ASSIGNMENT --force`` takes each result (it checks
   the result is of that very notebook, else runs the job itself), judges the hidden
   tests outside the sandbox and writes the gradebook; its warnings and errors (cells
   missing from a submission, a notebook it could not read) are passed to ``log``.
4. ``grading_report.csv`` beside grades.csv: one row per student
   (``coursetools.report``).
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
from traitlets.config import Config

from .grading import result_path, run_job_process
from .report import write_csv

__all__ = ["submissions", "reset", "prepare", "run_jobs", "grade_class"]


def submissions(course_dir, assignment, students=None):
    """{student: [notebook names]} of the submitted notebooks of `assignment`."""
    root = Path(course_dir) / "submitted"
    found = {}
    for folder in sorted(root.glob(f"*/{assignment}")):
        student = folder.parent.name
        if students is None or student in students:
            found[student] = sorted(p.stem for p in folder.glob("*.ipynb"))
    return found


def _db_url(course_dir):
    return f"sqlite:///{Path(course_dir).resolve() / 'gradebook.db'}"


def reset(course_dir, assignment, students):
    """Forget the old grading of `students`: reports, job results, auto scores."""
    from nbgrader.api import Gradebook, MissingEntry
    folder = Path(course_dir) / "grading" / assignment
    for student in students:
        for path in folder.glob(f"{student}.*json"):
            path.unlink()
    with Gradebook(_db_url(course_dir)) as gb:
        for student in students:
            try:
                submission = gb.find_submission(assignment, student)
            except MissingEntry:
                continue
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    grade.auto_score = 0 if grade.auto_score is not None else None
            gb.db.commit()


def prepare(course_dir, assignment, student, notebook):
    """The notebook node autograde would execute: the submission after the course's
    sanitize preprocessors (read-only use of the gradebook)."""
    from .nbgrader_plugins import AUTOGRADE_SANITIZE
    config = Config()
    config.OverwriteCells.add_missing_cells = True
    path = Path(course_dir) / "submitted" / student / assignment / f"{notebook}.ipynb"
    nb = nbformat.read(path, as_version=4)
    resources = {"nbgrader": {"notebook": notebook, "assignment": assignment,
                              "student": student, "db_url": _db_url(course_dir)}}
    for step in AUTOGRADE_SANITIZE:
        nb, resources = step(config=config).preprocess(nb, resources)
    return nbformat.from_dict(nbformat.reads(nbformat.writes(nb), as_version=4))


def _one_job(course_dir, assignment, student, notebook, limits):
    start = time.perf_counter()
    try:
        nb = prepare(course_dir, assignment, student, notebook)
    except Exception as err:          # nbgrader will report this submission; go on
        return student, notebook, None, f"{type(err).__name__}: {err}"
    path = result_path(Path(course_dir) / "grading", assignment, student, notebook)
    try:
        run_job_process(nb, path, limits)
    except Exception as err:
        return student, notebook, None, str(err)[:300]
    return student, notebook, time.perf_counter() - start, None


def run_jobs(course_dir, assignment, subs, jobs=None, cell_seconds=120, log=print):
    """Run the job of every (student, notebook) of `subs`, `jobs` at a time; return
    {student: seconds} of the jobs that wrote a result."""
    jobs = jobs or os.cpu_count() or 1
    limits = {"cell_seconds": cell_seconds,
              "threads": max(1, (os.cpu_count() or 1) // jobs)}
    work = [(s, n) for s, notebooks in subs.items() for n in notebooks]
    seconds = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_one_job, course_dir, assignment, s, n, limits)
                   for s, n in work]
        for future in futures:
            student, notebook, took, error = future.result()
            if error:
                log(f"job of {student}/{notebook}: {error}")
            else:
                seconds[student] = seconds.get(student, 0.0) + took
    return seconds


def grade_class(course_dir, assignment, students=None, jobs=None, cell_seconds=120,
                log=print):
    """Steps 1-4 of the module docstring; returns (report rows, wall seconds)."""
    from .course import nbgrader
    start = time.perf_counter()
    subs = submissions(course_dir, assignment, students)
    reset(course_dir, assignment, subs)
    run_jobs(course_dir, assignment, subs, jobs, cell_seconds, log)
    runs = [[]] if students is None else [["--student", s] for s in subs]
    for extra in runs:                      # one writer: one nbgrader at a time
        proc = nbgrader(course_dir, "autograde", assignment, "--force", *extra,
                        check=False)
        for line in proc.stderr.splitlines():   # whose cells were missing, who failed
            if "| WARNING]" in line or "| ERROR]" in line:
                log(line)
        if proc.returncode != 0:
            log(f"nbgrader autograde exited {proc.returncode}; the report names who "
                f"was not graded")
    rows = write_csv(course_dir, assignment, subs)
    return rows, time.perf_counter() - start
