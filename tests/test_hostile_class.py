"""The acceptance test of sandboxed grading (issue 18): a hostile class of chapter 3.

One submission of each kind a cheating or careless student writes, beside honest ones,
graded with real nbgrader through ``python -m coursetools.course grade`` (the jobs in
parallel, two at a time), then exported and given feedback: the class of
tests/chapter3_class.py, graded once per test run and shared with tests/test_course.py.
Asserted: the honest marks; no cheat gains a mark it did not earn; no file of the
course directory changes outside what grading writes; no hidden-test line in any
feedback page; every student in grades.csv and in the report, with the report's status
for each kind.
"""
import json
from pathlib import Path

import nbformat
import pytest

from chapter3_class import MARKER, NAME, graded_class
from coursetools import course


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return graded_class(tmp_path_factory)


def marker_processes():
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if MARKER.encode() in (proc / "cmdline").read_bytes():
                found.append(proc.name)
        except OSError:
            pass
    return found


def test_every_mark_is_earned(graded):
    # Failing: a cheat earns a mark its answers did not earn, or an honest or careless
    # student loses marks for an exercise that was not affected.
    wrong = {}
    for student, expected in graded["expected"].items():
        if student == "rita" or expected is None:
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
    source = nbformat.read(graded["root"] / "source" / NAME / f"{NAME}.ipynb",
                           as_version=4)
    for cell in source.cells:
        if "### BEGIN HIDDEN TESTS" in cell.source:
            hidden |= {ln.strip() for ln in cell.source.splitlines()
                       if len(ln.strip()) >= 20 and "HIDDEN TESTS" not in ln}
    assert len(hidden) > 10
    pages = sorted((graded["root"] / "feedback").rglob("*.html"))
    assert len(pages) == len(graded["expected"]) - 2   # rita's and gina's are broken
    for page in pages:
        text = page.read_text()
        leaked = {h for h in hidden if h in text}
        assert not leaked, (page, sorted(leaked)[:2])
        assert page.stat().st_size < 10_000_000, page


def test_every_student_in_grades_and_report_with_the_right_status(graded):
    students = set(graded["expected"])
    assert {r["student_id"] for r in graded["grades_csv"]} == students
    assert {r["student"] for r in graded["report_csv"]} == students
    status = {s: r["status"] for s, r in graded["report"].items()}
    assert status["alice"] == "graded normally"
    assert status["gina"] == status["rita"] == "not graded"
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
    print(f"class of {len(graded['expected'])}: {graded['seconds']:.1f} s, 2 jobs")
    assert graded["seconds"] < 240, graded["seconds"]
