"""The acceptance test of sandboxed grading (issue 18): a hostile class of chapter 3.

One submission of each kind a cheating or careless student writes, beside honest ones,
graded with real nbgrader through ``python -m coursetools.course grade`` (the jobs in
parallel, two at a time), then exported and given feedback. Each hostile submission is
the release or the model solutions with a few lines a student would add. Asserted: the
honest marks; no cheat gains a mark it did not earn; no file of the course directory
changes outside what grading writes; no hidden-test line in any feedback page; every
student in grades.csv and in the report, with the report's status for each kind. About
a minute and a half on two cores.
"""
import hashlib
import json
import os
import sqlite3
from pathlib import Path

import nbformat
import pytest

from coursetools import course
from coursetools.classgrade import grade_class
from coursetools.sandbox import SandboxUnavailable, check

REPO = Path(__file__).resolve().parents[1]
CHAPTER = REPO / "chapters" / "03_twolayer_gradients.ipynb"
NAME = CHAPTER.stem
CELL_SECONDS = 8                   # the looper's cell is stopped after this
MARKER = "hostile-detached-process"
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


def hostile_class(course_dir, release, solved):
    """{student: (notebook, expected autograded scores)}."""
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


def marker_processes():
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if MARKER.encode() in (proc / "cmdline").read_bytes():
                found.append(proc.name)
        except OSError:
            pass
    return found


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    try:
        check()
    except SandboxUnavailable as err:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"the sandbox cannot start here: {err}")
    root = tmp_path_factory.mktemp("hostile")
    course.init(root, [CHAPTER])
    course.nbgrader(root, "generate_assignment", NAME, timeout=300)
    source = nbformat.read(root / "source" / NAME / f"{NAME}.ipynb", as_version=4)
    release = nbformat.read(root / "release" / NAME / f"{NAME}.ipynb", as_version=4)
    students = hostile_class(root, release, course.solutions_submission(release,
                                                                       source))
    for student, (nb, _) in students.items():
        course.submit(root, NAME, student, nb)
    before = checksums(root)
    logs = []
    first, seconds = grade_class(root, NAME, jobs=2, cell_seconds=CELL_SECONDS,
                                 log=logs.append)
    rita_first = course.scores(root, NAME, "rita")
    course.submit(root, NAME, "rita", '{"cells": [ not JSON')       # a failing regrade
    before["submitted/rita/03_twolayer_gradients/03_twolayer_gradients.ipynb"] = \
        hashlib.sha256(b'{"cells": [ not JSON').hexdigest()
    rows, _ = grade_class(root, NAME, students=["rita"], jobs=1, log=logs.append)
    course.nbgrader(root, "export", timeout=300)
    course.nbgrader(root, "generate_feedback", NAME, timeout=300, check=False)
    report = {r["student"]: r for r in first if r["student"] != "rita"}
    report["rita"] = rows[0]
    return {"root": root, "students": students, "before": before, "seconds": seconds,
            "after": checksums(root), "report": report, "rita_first": rita_first,
            "source": source, "logs": logs, "csv_rows": _csv(root / "grades.csv"),
            "report_csv": _csv(root / "grading_report.csv")}


def _csv(path):
    import csv
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_every_mark_is_earned(graded):
    # Failing: a cheat earns a mark its answers did not earn, or an honest or careless
    # student loses marks for an exercise that was not affected.
    wrong = {}
    for student, (_, expected) in graded["students"].items():
        if student == "rita":
            continue
        got = {g: s for g, (s, _) in course.scores(graded["root"], NAME,
                                                   student).items()}
        if got != expected:
            wrong[student] = got
    assert not wrong, wrong


def test_regrade_of_a_broken_resubmission_keeps_no_old_score(graded):
    first = graded["rita_first"]
    assert first and all(s == m for s, m in first.values())
    got = course.scores(graded["root"], NAME, "rita")
    assert all(s == 0 for s, _ in got.values()), got
    assert graded["report"]["rita"]["status"] == "not graded"


def test_no_file_outside_scratch_changes(graded):
    # Failing: a submission deleted or changed a classmate's file, the gradebook's
    # hidden tests, the config; or a detached process outlived grading.
    before, after = graded["before"], graded["after"]
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert not changed, sorted(changed)
    assert not (graded["root"] / "pwned").exists()
    assert not marker_processes()


def test_no_manual_score_touched_and_nothing_read(graded):
    nb = nbformat.read(graded["root"] / "autograded" / "reader" / NAME
                       / f"{NAME}.ipynb", as_version=4)
    text = json.dumps([c.get("outputs", []) for c in nb.cells])
    assert "FOUND 0" in text, text[:2000]
    vandal = nbformat.read(graded["root"] / "autograded" / "vandal" / NAME
                           / f"{NAME}.ipynb", as_version=4)
    out = json.dumps([c.get("outputs", []) for c in vandal.cells])
    assert out.count("refused:") == 5 and "DONE" not in out


def test_no_hidden_test_line_in_any_feedback(graded):
    hidden = set()
    for cell in graded["source"].cells:
        if "### BEGIN HIDDEN TESTS" in cell.source:
            hidden |= {ln.strip() for ln in cell.source.splitlines()
                       if len(ln.strip()) >= 20 and "HIDDEN TESTS" not in ln}
    assert len(hidden) > 10
    pages = sorted((graded["root"] / "feedback").rglob("*.html"))
    assert len(pages) == len(graded["students"]) - 1         # rita's file is broken
    for page in pages:
        text = page.read_text()
        leaked = {h for h in hidden if h in text}
        assert not leaked, (page, sorted(leaked)[:2])
        assert page.stat().st_size < 10_000_000, page


def test_every_student_in_grades_and_report_with_the_right_status(graded):
    students = set(graded["students"])
    assert {r["student_id"] for r in graded["csv_rows"]} == students
    assert {r["student"] for r in graded["report_csv"]} == students
    status = {s: r["status"] for s, r in graded["report"].items()}
    assert status["alice"] == "graded normally"
    assert status["killer"].startswith("kernel died in ex-twolayer-memory-code")
    assert status["looper"].startswith("timeout in ex-twolayer-memory-code")
    assert status["shouter"] == "output capped"
    assert status["torchy"] == "flagged (forbidden call)"
    assert "torch" in graded["report"]["torchy"]["details"]
    assert "duplicated ex-twolayer-tanh-code" in graded["report"]["dupe"]["details"]
    assert "metadata restored" in graded["report"]["stripped"]["details"]
    for cheat in ("monkey", "transformer"):          # the hidden tests ran as nothing
        assert "recorded nothing" in graded["report"][cheat]["details"]
        assert status[cheat] == "tampering detected", (cheat, status[cheat])


def test_the_class_is_graded_in_parallel_within_minutes(graded):
    print(f"hostile class of {len(graded['students'])}: {graded['seconds']:.1f} s, "
          f"2 jobs")
    assert graded["seconds"] < 240, graded["seconds"]
