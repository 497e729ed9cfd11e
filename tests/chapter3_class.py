"""One class of chapter 3 graded with real nbgrader, once per test run, for
tests/test_course.py (the instructor's path) and tests/test_hostile_class.py (issue
18's acceptance test).

A course made by ``coursetools.course init``; ``nbgrader generate_assignment``; every
submission in an LMS-style zip (Canvas file names: a LATE one, a ``-1`` resubmission)
collected by ``nbgrader zip_collect``; the class graded by ``coursetools.classgrade.
grade_class`` (a sandboxed job per submission, two at a time, then nbgrader autograde as
the one writer); one student's broken resubmission regraded; ``nbgrader export`` and
``generate_feedback``. The class: honest and careless students (the model solutions,
the untouched release, a transposed gradient, test cells replaced by ``pass``, deleted
cells, a file that is not JSON) and one submission of each hostile kind of the issue.
Each hostile submission is the release or the model solutions with the few lines a
student would add.

Under pytest-xdist the two modules may run on two workers: they share the run's base
folder and a file lock, so the first to ask grades the class and the other waits and
reads the same course (``graded_class``: a JSON summary plus the course folder, which
the tests only read).
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import zipfile
from pathlib import Path

import nbformat
import pytest
from filelock import FileLock

from books import shared_root
from coursetools import course
from coursetools.classgrade import grade_class
from coursetools.sandbox import SandboxUnavailable, check

REPO = Path(__file__).resolve().parents[1]
CHAPTER = REPO / "chapters" / "03_twolayer_gradients.ipynb"
NAME = CHAPTER.stem
CELL_SECONDS = 8                   # the looper's cell is stopped after this
MARKER = "hostile-detached-process"
BROKEN = '{"cells": [ this is not JSON'
# what grading itself writes; everything else of the course directory must not change
WRITTEN = ("autograded", "feedback", "grading", "gradebook.db", "grades.csv",
           "grading_report.csv")
FULL = {"ex-twolayer-tanh-hidden": 3, "ex-twolayer-bug-hidden": 3,
        "ex-twolayer-memory-hidden": 2, "ex-twolayer-steps-hidden": 4}
ZERO = dict.fromkeys(FULL, 0)


def gid(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def copy(nb):
    return nbformat.reads(nbformat.writes(nb), as_version=4)


def with_code(nb, grade_id, before="", after="", replace=None):
    """`nb` with lines added before and after the source of the cell `grade_id`, or
    that source replaced."""
    nb = copy(nb)
    cell = next(c for c in nb.cells if gid(c) == grade_id)
    cell.source = before + (cell.source if replace is None else replace) + after
    return nb


# --------------------------------------------------------------- careless students
def careless(release, solved):
    """{student: (notebook or text, expected autograded scores or None)}: a
    transposed dW, test cells replaced by ``pass``, two cells deleted, a broken
    file."""
    tests = [gid(c) for c in release.cells
             if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    dave = copy(release)
    for cell in dave.cells:
        if gid(cell) in tests:
            cell.source = "pass"
    carol = copy(solved)
    steps = next(c for c in carol.cells if gid(c) == "ex-twolayer-steps-code")
    assert "    return h.T @ dq\n" in steps.source, "the test's edit no longer applies"
    steps.source = steps.source.replace("    return h.T @ dq\n", "    return dq.T @ h\n")
    frank = copy(solved)
    frank.cells = [c for c in frank.cells
                   if gid(c) not in ("ex-twolayer-tanh-check",
                                     "ex-twolayer-memory-hidden")]
    return {"carol": (carol, {**FULL, "ex-twolayer-steps-hidden": 0}),
            "dave": (dave, ZERO), "frank": (frank, FULL), "gina": (BROKEN, None)}


# --------------------------------------------------------------- hostile students
CHEATS = {
    "monkey": """
from lecture_lib import check, gradcheck
gradcheck.rel_error = lambda *a, **k: 0.0
for _name in dir(check):
    if not _name.startswith("_") and callable(getattr(check, _name)):
        setattr(check, _name, lambda *a, **k: print("\\u2713 passed"))
""",
    "transformer": """
def _skip(lines):
    text = "".join(lines)
    return ["pass\\n"] if ("check." in text or "HIDDEN" in text) else lines
get_ipython().input_transformers_post.append(_skip)
""",
    "ast": """
import ast
class _Swallow(ast.NodeTransformer):
    def visit_Module(self, node):
        handler = ast.ExceptHandler(type=ast.Name("BaseException", ast.Load()),
                                    name=None, body=[ast.Pass()])
        node.body = [ast.Try(body=node.body or [ast.Pass()], handlers=[handler],
                             orelse=[], finalbody=[])]
        return ast.fix_missing_locations(node)
get_ipython().ast_transformers.append(_Swallow())
""",
    "stack": """
import sys
def backward_tanh(params, X, y):
    frame = sys._getframe(1)
    while frame is not None:
        for value in frame.f_locals.values():
            if isinstance(value, dict) and "W1" in value and value is not params:
                return value
        frame = frame.f_back
    return {k: 0 * v for k, v in params.items()}
""",
    "reference": """
def backward_tanh(params, X, y):
    try:
        from lecture_lib.check._gradients import reference_backward
        return reference_backward(params, X, y, layer2="tanh")
    except ImportError:
        from coursetools.references import twolayer_backward
        return twolayer_backward(params, X, y, layer2="tanh")
""",
}


def reader(course_dir):
    return f"""
import glob, os, lecture_lib
found = []
for pattern in ["{course_dir}/source/*/*.ipynb", "{course_dir}/gradebook.db",
                "{course_dir}/submitted/*/*/*.ipynb", "{course_dir}/release/*/*.ipynb",
                os.path.dirname(lecture_lib.__file__) + "/../chapters/*.ipynb",
                os.path.dirname(lecture_lib.__file__) + "/../coursetools/*.py",
                "../source/*/*.ipynb", "../../source/*/*.ipynb"]:
    for path in glob.glob(pattern):
        try:
            found.append(open(path, "rb").read().decode("utf8", "replace"))
        except OSError:
            pass
print("FOUND", len(found))
print("\\n".join(found))
"""


def vandal(course_dir):
    return f"""
import os, sqlite3
def _attempts():
    yield lambda: os.remove("{course_dir}/submitted/alice/{NAME}/{NAME}.ipynb")
    yield lambda: open("{course_dir}/submitted/bob/{NAME}/{NAME}.ipynb", "w").write("x")
    yield lambda: sqlite3.connect("{course_dir}/gradebook.db").execute(
        "update grade set manual_score = 0")
    yield lambda: sqlite3.connect("{course_dir}/gradebook.db").execute(
        "update source_cell set source = 'pass'")
    yield lambda: open("{course_dir}/nbgrader_config.py", "a").write(
        "\\nimport os; os.system('touch {course_dir}/pwned')\\n")
for attempt in _attempts():
    try:
        attempt()
        print("DONE")
    except Exception as err:
        print("refused:", type(err).__name__)
"""


def detached(course_dir):
    return f"""
import subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60); "
                  "open('{course_dir}/pwned', 'w').write('{MARKER}')"],
                 start_new_session=True)
"""


LEAKER = """
_seen = []
def _grab(info):
    if "check.record" in (info.raw_cell or ""):
        _seen.append(info.raw_cell)
get_ipython().events.register("pre_run_cell", _grab)
get_ipython().events.register("post_run_cell", lambda result: print("".join(_seen)))
"""
KILLER = """import os, signal
try:
    os.kill(os.getppid(), signal.SIGKILL)      # the grader, if it could reach it
except PermissionError:
    os.kill(os.getpid(), signal.SIGKILL)       # then the kernel itself
"""
LOOPER = ("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
          "while True:\n    pass\n")
SHOUTER = "print('x' * 50_000_000)\n"
TORCHY = """
def backward_tanh(params, X, y):
    import torch
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    h1 = torch.relu(torch.tensor(X) @ p["W1"] + p["b1"])
    z = torch.tanh(h1 @ p["W2"] + p["b2"]) @ p["beta"] + p["a"]
    torch.nn.functional.binary_cross_entropy_with_logits(z, torch.tensor(y)).backward()
    return {k: v.grad.numpy() for k, v in p.items()}
"""


def duplicated(solved, release):
    """The answered tanh cell, then a pasted copy of its unanswered stub."""
    nb = copy(solved)
    stub = next(c for c in release.cells if gid(c) == "ex-twolayer-tanh-code")
    at = next(i for i, c in enumerate(nb.cells) if gid(c) == "ex-twolayer-tanh-code")
    pasted = copy(nbformat.v4.new_notebook(cells=[stub])).cells[0]
    pasted["id"] = "pasted-stub"              # Jupyter gives a pasted cell a new id
    nb.cells.insert(at + 1, pasted)
    return nb


def stripped(nb):
    nb = copy(nb)
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    return nb


def hostile(course_dir, release, solved):
    """{student: (notebook, expected autograded scores)} of the hostile kinds, and
    the model solutions and the untouched release."""
    tanh = "ex-twolayer-tanh-code"
    # hooks go before the stub (which raises NotImplementedError at its end); a cheat
    # that is an answer is the cell's whole code, as a student would write it
    cheats = {name: (with_code(release, tanh, before=code), ZERO)
              for name, code in CHEATS.items() if "def backward_tanh" not in code}
    cheats.update({name: (with_code(release, tanh, replace=code), ZERO)
                   for name, code in CHEATS.items() if "def backward_tanh" in code})
    return {
        "alice": (solved, FULL), "bob": (release, ZERO), **cheats,
        "reader": (with_code(release, tanh, before=reader(course_dir)), ZERO),
        "vandal": (with_code(solved, tanh, before=vandal(course_dir)), FULL),
        "detached": (with_code(solved, tanh, before=detached(course_dir)), FULL),
        "killer": (with_code(solved, "ex-twolayer-memory-code", before=KILLER),
                   {**FULL, "ex-twolayer-memory-hidden": 0}),
        "leaker": (with_code(solved, tanh, before=LEAKER), FULL),
        "dupe": (duplicated(solved, release), FULL),
        "looper": (with_code(solved, "ex-twolayer-memory-code", before=LOOPER),
                   {**FULL, "ex-twolayer-memory-hidden": 0}),
        "shouter": (with_code(solved, tanh, before=SHOUTER), FULL),
        "stripped": (stripped(solved), FULL),
        "torchy": (with_code(solved, tanh, after=TORCHY), FULL),
        "rita": (solved, FULL),      # resubmits a broken file, regraded: 0
    }


def lms_file(student, number):
    """The file name an LMS download gives the submission (Canvas: user id,
    submission id; dave's is late, bob's a resubmission with the LMS's -1)."""
    late = "LATE_" if student == "dave" else ""
    suffix = "-1" if student == "bob" else ""
    return f"{student}_{late}{1001 + number}_{5001 + number}_{NAME}{suffix}.ipynb"


# --------------------------------------------------------------- grading, once
def checksums(root):
    """{relative path: sha256} of the course files grading must not change, and of the
    gradebook's source cells (the hidden tests)."""
    out = {}
    for path in sorted(Path(root).rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and rel.parts[0] not in WRITTEN:
            out[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
    with sqlite3.connect(Path(root) / "gradebook.db") as db:
        rows = db.execute("select name, source, checksum from source_cell "
                          "order by name")
        out["gradebook source cells"] = hashlib.sha256(repr(list(rows)).encode()
                                                       ).hexdigest()
    return out


def _csv(path):
    import csv
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _grade(root):
    """Release, collect, grade, regrade rita, export, feedback: the summary."""
    course.init(root, [CHAPTER])
    course.nbgrader(root, "generate_assignment", NAME, timeout=300)
    source = nbformat.read(root / "source" / NAME / f"{NAME}.ipynb", as_version=4)
    release = nbformat.read(root / "release" / NAME / f"{NAME}.ipynb", as_version=4)
    solved = course.solutions_submission(release, source)
    students = {**hostile(root, release, solved), **careless(release, solved)}
    archive = root / "downloaded" / NAME / "archive"
    archive.mkdir(parents=True)
    with zipfile.ZipFile(archive / "submissions.zip", "w") as zf:
        for number, (student, (nb, _)) in enumerate(students.items()):
            text = nb if isinstance(nb, str) else nbformat.writes(nb)
            zf.writestr(lms_file(student, number), text)
    collect = course.nbgrader(root, "zip_collect", NAME, timeout=300)
    before, logs = checksums(root), []
    first, seconds = grade_class(root, NAME, jobs=2, cell_seconds=CELL_SECONDS,
                                 log=logs.append)
    rita_first = course.scores(root, NAME, "rita")
    rita = root / "submitted" / "rita" / NAME / f"{NAME}.ipynb"
    rita.write_text(BROKEN)                                   # a failing regrade
    before[str(rita.relative_to(root))] = hashlib.sha256(BROKEN.encode()).hexdigest()
    rows, _ = grade_class(root, NAME, students=["rita"], jobs=1, log=logs.append)
    course.nbgrader(root, "export", timeout=300)
    course.nbgrader(root, "generate_feedback", NAME, timeout=300, check=False)
    report = {r["student"]: r for r in first if r["student"] != "rita"}
    report["rita"] = rows[0]
    return {"root": str(root), "seconds": seconds, "logs": logs,
            "collect": collect.stdout + collect.stderr,
            "expected": {s: e for s, (_, e) in students.items()},
            "before": before, "after": checksums(root), "report": report,
            "rita_first": {g: list(v) for g, v in rita_first.items()},
            "grades_csv": _csv(root / "grades.csv"),
            "report_csv": _csv(root / "grading_report.csv")}


def graded_class(tmp_path_factory):
    """The summary of the graded class (``root``: the course folder), graded once per
    test run; skipped where the sandbox cannot start (not on CI: there it fails)."""
    try:
        check()
    except SandboxUnavailable as err:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"the sandbox cannot start here: {err}")
    shared = shared_root(tmp_path_factory) / "chapter3-class"
    shared.mkdir(exist_ok=True)
    summary, failed = shared / "summary.json", shared / "failed"
    with FileLock(str(shared / "lock")):
        if failed.exists():
            raise RuntimeError(failed.read_text())
        if not summary.exists():
            try:
                result = _grade(shared / "course")
            except Exception as err:
                failed.write_text(f"grading the class failed: {err!r}")
                raise
            summary.write_text(json.dumps(result))
    result = json.loads(summary.read_text())
    result["root"] = Path(result["root"])
    return result
