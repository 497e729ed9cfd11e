"""The per-submission grading report, and ``grading_report.csv`` beside grades.csv.

Each graded submission notebook leaves ``grading/<assignment>/<student>.json``
(``GradeRecords``); :func:`write_csv` merges them with the gradebook's scores into one
row per student and assignment:

``student, assignment, status, score, max_score, seconds, details``

where ``status`` is, by precedence: ``not graded`` (nbgrader failed on the submission:
its 0 in grades.csv is not a real 0), ``kernel died``, ``timeout``, ``tampering
detected``, ``output capped``, ``flagged`` (a forbidden call in a hand derivation), else
``graded normally``; ``details`` names the cells and what was found.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

__all__ = ["write_submission_report", "status_of", "write_csv", "COLUMNS"]

COLUMNS = ("student", "assignment", "status", "score", "max_score", "seconds",
           "details")


def write_submission_report(grading_dir, info, notes):
    """Write one submission's notes (the job's events and the sanitize and verdict
    findings) as JSON."""
    path = Path(grading_dir) / info["assignment"] / f"{info['student']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"student": info["student"], "assignment": info["assignment"],
             "notebook": info["notebook"], **notes}
    path.write_text(json.dumps(entry, indent=1))
    return path


def status_of(entry):
    """(status, details) of one submission's report entry (None: not graded)."""
    if entry is None:
        return "not graded", "nbgrader could not grade it (see its log); regrade it"
    job = entry.get("job", {})
    failed = job.get("failed", {})
    details = [f"{k}: {v}" for k, v in failed.items()]
    details += [f"tampering: {t}" for t in entry.get("tampering", [])]
    details += [f"flagged: {f}" for f in entry.get("flagged", [])]
    details += [e for e in job.get("events", []) if e.startswith("output capped")]
    details += entry.get("notes", [])
    statuses = set(failed.values())
    if "died" in statuses or "not-run" in statuses:
        status = "kernel died in " + ", ".join(k for k, v in failed.items()
                                               if v in ("died", "not-run"))
    elif "timeout" in statuses:
        status = "timeout in " + ", ".join(k for k, v in failed.items()
                                           if v == "timeout")
    elif entry.get("tampering"):
        status = "tampering detected"
    elif any(e.startswith("output capped") for e in job.get("events", [])):
        status = "output capped"
    elif entry.get("flagged"):
        status = "flagged (forbidden call)"
    else:
        status = "graded normally"
    return status, "; ".join(details)


def _scores(course_dir, assignment):
    from nbgrader.api import Gradebook
    db = f"sqlite:///{Path(course_dir).resolve() / 'gradebook.db'}"
    with Gradebook(db) as gb:
        out = {}
        for sub in gb.assignment_submissions(assignment):
            out[sub.student.id] = (sub.score, sub.max_score)
        return out


def write_csv(course_dir, assignment, students, seconds=None, out=None):
    """Write ``grading_report.csv``: the rows of `assignment` for `students` are
    replaced, every other row is kept; return the rows of `students`."""
    course_dir = Path(course_dir)
    out = Path(out or course_dir / "grading_report.csv")
    scores = _scores(course_dir, assignment)
    rows = []
    for student in sorted(students):
        path = course_dir / "grading" / assignment / f"{student}.json"
        entry = json.loads(path.read_text()) if path.is_file() else None
        status, details = status_of(entry)
        score, top = scores.get(student, (0.0, None))
        if entry is None:
            score = 0.0
        rows.append({"student": student, "assignment": assignment, "status": status,
                     "score": f"{score:g}",
                     "max_score": "" if top is None else f"{top:g}",
                     "seconds": f"{entry['job']['seconds']:.1f}" if entry and
                     entry.get("job") else "", "details": details})
    kept = []
    if out.is_file():
        with out.open(newline="") as f:
            kept = [r for r in csv.DictReader(f) if not (
                r["assignment"] == assignment and r["student"] in students)]
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(sorted(kept + rows, key=lambda r: (r["assignment"],
                                                             r["student"])))
    return rows
