"""The nbgrader course (coursetools.course) graded by real nbgrader.

The synthetic chapter (tests/synthetic_chapter.py) tests the course directory and the
benchmark's own check quickly (the benchmark runs ``nbgrader autograde`` itself, whose
executor then runs each job). The class is the one of tests/chapter3_class.py, on the
real chapter 3, graded once per test run and shared with tests/test_hostile_class.py: a
course that ``coursetools.course init`` made, nbgrader's generate_assignment,
zip_collect of an LMS-style zip, ``course grade`` (jobs, then nbgrader autograde as the
one writer), export, generate_feedback. Here: what an instructor sees of the honest and
careless students.
"""
import html
import re
from pathlib import Path

import nbformat
import pytest
from nbconvert import HTMLExporter

import synthetic_chapter
from coursetools import course
from coursetools.nbgrader_plugins import HIDDEN_NOTE, HideHiddenTests

REPO = Path(__file__).resolve().parents[1]
CHAPTER = REPO / "chapters" / "03_twolayer_gradients.ipynb"
NAME = CHAPTER.stem


def grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def by_id(nb):
    return {grade_id(c): c for c in nb.cells if grade_id(c)}


def page_text(path):
    """The visible text of an HTML page, tags and styles removed."""
    text = Path(path).read_text()
    text = re.sub(r"<(style|script)\b.*?</\1>", "", text, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", text))


# --------------------------------------------------------------------------- init

def test_init_writes_config_and_graded_sources(tmp_path):
    # Failing: nbgrader would find no course id, no timeout, not our preprocessors, or a
    # source notebook that is the whole chapter (its teaching runs paid per student).
    chapter = synthetic_chapter.write(tmp_path / "ch" / "99_synthetic.ipynb")
    written = course.init(tmp_path / "course", [chapter])
    assert written == [tmp_path / "course" / "source" / "99_synthetic"
                       / "99_synthetic.ipynb"]
    config = (tmp_path / "course" / "nbgrader_config.py").read_text()
    for line in (f"c.CourseDirectory.course_id = {course.COURSE_ID!r}",
                 f"c.Execute.timeout = {course.CELL_TIMEOUT}",
                 "c.GenerateAssignment.preprocessors = plugins.GENERATE_ASSIGNMENT",
                 "c.GenerateFeedback.preprocessors = plugins.GENERATE_FEEDBACK",
                 "c.OverwriteCells.add_missing_cells = True"):
        assert line in config, line
    source = nbformat.read(written[0], as_version=4)
    sources = [c.source for c in source.cells]
    assert synthetic_chapter.SETUP in sources          # the assignment-setup cell
    assert synthetic_chapter.TEACHING not in sources   # not the teaching
    assert synthetic_chapter.SCALE_HIDDEN in sources   # nbgrader needs them here


def test_nbgrader_finds_alembic_without_the_environment_on_path(tmp_path):
    # Failing: run without activating the virtual environment, nbgrader cannot find
    # its `alembic` script and cannot create the gradebook (issue 18).
    import subprocess
    import sys
    course.init(tmp_path / "c", [synthetic_chapter.write(tmp_path / "99_syn.ipynb")])
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "db", "assignment", "list"],
                          cwd=tmp_path / "c", capture_output=True, text=True, timeout=120,
                          env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "c" / "gradebook.db").is_file()


def test_init_refuses_non_empty_dir_and_untagged_chapters(tmp_path):
    # Failing: init overwrote a folder it did not make, or wrote a course from a chapter
    # whose exercises would run without their setup.
    chapter = synthetic_chapter.write(tmp_path / "ch" / "99_synthetic.ipynb")
    target = tmp_path / "course"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(course.CourseError, match="not empty"):
        course.init(target, [chapter])
    course.init(target, [chapter], force=True)
    assert (target / "notes.txt").read_text() == "mine"
    untagged = synthetic_chapter.chapter()
    for cell in untagged.cells:
        cell.metadata.pop("tags", None)
    bad = synthetic_chapter.write(tmp_path / "ch" / "98_untagged.ipynb", untagged)
    with pytest.raises(course.CourseError, match="98_untagged.*assignment-setup"):
        course.init(tmp_path / "other", [chapter, bad])
    assert not (tmp_path / "other").exists()


def test_cli_init_and_errors(tmp_path, capsys):
    # Failing: the command exits 0 on a non-empty folder or names nothing.
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    assert course.main(["init", str(tmp_path / "full"), "--chapters", NAME]) == 2
    assert "not empty" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        course.main(["init", str(tmp_path / "new"), "--chapters", "99_no_such_chapter"])


def test_bench_checks_full_marks(tmp_path):
    # Failing: the benchmark would report a chapter whose solutions do not score full
    # marks (a hidden test that fails on the model answer) as fine.
    good = synthetic_chapter.write(tmp_path / "ch" / "99_synthetic.ipynb")
    broken = synthetic_chapter.chapter()
    for cell in broken.cells:
        if grade_id(cell) == "ex-syn-sum-hidden":       # a hidden test the model fails
            cell.source = cell.source.replace("sum(range(10))", "46")
    bad = synthetic_chapter.write(tmp_path / "ch" / "98_broken.ipynb", broken)
    rows = course.bench(tmp_path / "bench", [bad, good], log=lambda _: None)
    assert [(r[0], r[2], r[3], r[4]) for r in rows] == [("98_broken", 4, 5, False),
                                                         ("99_synthetic", 5, 5, True)]
    assert all(r[1] > 0 for r in rows)


# --------------------------------------------------------------------------- a real
# class

@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """The class of tests/chapter3_class.py, graded; plus its source notebook and
    every student's autograded scores."""
    from chapter3_class import graded_class as graded
    cls = graded(tmp_path_factory)
    cls["source"] = nbformat.read(cls["root"] / "source" / NAME / f"{NAME}.ipynb", 4)
    cls["scores"] = {s: course.scores(cls["root"], NAME, s) for s in cls["expected"]}
    cls["log"] = "\n".join(cls["logs"])
    return cls


def autograded(cls, student):
    return nbformat.read(cls["root"] / "autograded" / student / NAME
                         / f"{NAME}.ipynb", 4)


def auto_points(source):
    """{grade_id: points} of the autograded (code) test cells of the source."""
    return {grade_id(c): c.metadata["nbgrader"]["points"] for c in source.cells
            if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"}


def exercise_of(gid):
    return gid.rsplit("-", 1)[0]


def test_zip_collect_finds_every_student(graded_class):
    # Failing: the LMS file names (user and submission ids, LATE, a -1 resubmission
    # suffix) were not mapped to the students, so their work would go ungraded.
    root = graded_class["root"]
    for student in graded_class["expected"]:
        path = root / "submitted" / student / NAME / f"{NAME}.ipynb"
        assert path.is_file(), student


def test_solutions_score_full_marks(graded_class):
    # Failing: a hidden test or self-check rejects the instructor's own solution, or the
    # released notebook cannot find lecture_lib or the MNIST files from the course
    # folder.
    got = graded_class["scores"]["alice"]
    assert got == {g: (p, p) for g, p in auto_points(graded_class["source"]).items()}
    nb = autograded(graded_class, "alice")
    setup_out = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                        for o in c.outputs)
    assert "digits [" in setup_out           # the MNIST batch loaded (a setup cell)
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                if o.output_type == "error"]


def test_untouched_release_scores_zero(graded_class):
    # Failing: a stub earns points (a hidden test that passes on NotImplementedError).
    got = graded_class["scores"]["bob"]
    assert got and all(score == 0 for score, _ in got.values()), got


def test_transposed_gradient_gets_partial_marks_and_the_hint(graded_class):
    # Failing: one wrong function costs every exercise, or none, or the feedback does
    # not tell the student what is wrong (the self-check's hint about the transpose).
    got = graded_class["scores"]["carol"]
    points = auto_points(graded_class["source"])
    for gid, (score, top) in got.items():
        expected = 0 if exercise_of(gid) == "ex-twolayer-steps" else points[gid]
        assert score == expected, (gid, score)
    feedback = page_text(graded_class["root"] / "feedback" / "carol" / NAME
                         / f"{NAME}.html")
    assert "you computed its transpose" in feedback


def test_test_cells_edited_to_pass_are_restored(graded_class):
    # Failing: replacing a locked test cell by `pass` earns its points.
    got = graded_class["scores"]["dave"]
    assert got and all(score == 0 for score, _ in got.values()), got
    source, nb = by_id(graded_class["source"]), by_id(autograded(graded_class, "dave"))
    for gid in auto_points(graded_class["source"]):
        assert nb[gid].source == source[gid].source, gid      # restored, hidden too


def test_infinite_loop_scores_zero_on_its_exercise_only(graded_class):
    # Failing: a submission that never ends (even one that ignores SIGINT) stops the
    # grading of the class, or costs the exercises that do not depend on the stuck cell.
    got = graded_class["scores"]["looper"]
    points = auto_points(graded_class["source"])
    for gid, (score, _) in got.items():
        expected = 0 if exercise_of(gid) == "ex-twolayer-memory" else points[gid]
        assert score == expected, (gid, score)
    cell = by_id(autograded(graded_class, "looper"))["ex-twolayer-memory-code"]
    assert any(o.output_type == "error" and "Timeout" in "".join(o.traceback)
               for o in cell.outputs)


def test_deleted_cells_are_reported_and_restored(graded_class):
    # Failing: a deleted test cell silently drops its points from the notebook, or the
    # instructor is not told whose submission lacked which cells.
    got = graded_class["scores"]["frank"]
    assert got == {g: (p, p) for g, p in auto_points(graded_class["source"]).items()}
    log = graded_class["log"]
    assert re.search(r"student frank, 03_twolayer_gradients\.ipynb: cells missing "
                     r"from the submission: ex-twolayer-tanh-check, "
                     r"ex-twolayer-memory-hidden", log), log[-3000:]


def test_broken_notebook_is_named_and_the_class_graded(graded_class):
    # Failing: one unreadable file stops the class, or the instructor is not told whose.
    log = graded_class["log"]
    assert "nbgrader autograde exited 1" in log
    assert f"There was an error processing assignment '{NAME}' for student 'gina'" \
        in log
    others = set(graded_class["expected"]) - {"gina", "rita"}  # rita: a broken regrade
    assert not any("for student '" + s in log for s in others)
    for student in others:
        folder = graded_class["root"] / "autograded" / student / NAME
        assert folder.is_dir(), student


def test_export_totals(graded_class):
    # Failing: grades.csv does not add up the autograded points as the tests found them
    # (written answers wait for the instructor and count 0 until graded; a broken file
    # counts 0).
    every = sum(c.metadata["nbgrader"]["points"] for c in graded_class["source"].cells
                if c.metadata.get("nbgrader", {}).get("grade"))
    rows = {r["student_id"]: (float(r["raw_score"]), float(r["max_score"]))
            for r in graded_class["grades_csv"]}
    expected = {s: (float(sum(e.values()) if e and s != "rita" else 0), float(every))
                for s, e in graded_class["expected"].items()}
    assert rows == expected


def test_feedback_shows_no_hidden_test(graded_class):
    # Failing: students read the hidden tests in their feedback (nbgrader's default,
    # jupyter/nbgrader#917 and #1363), and can write code that passes only those.
    hidden, elsewhere = set(), set()        # lines of hidden tests; lines of other code
    for cell in graded_class["source"].cells:
        inside = False
        for line in cell.source.splitlines():
            if line.strip() == "### BEGIN HIDDEN TESTS":
                inside = True
            elif line.strip() == "### END HIDDEN TESTS":
                inside = False
            elif line.strip():
                (hidden if inside else elsewhere).add(line.strip())
    hidden -= elsewhere     # a line the release or a model solution also has: no leak
    assert len(hidden) > 10

    def shown(text):
        # A hidden line shown as code is a line of the page; a long one is also looked
        # for inside lines (a traceback prefixes line numbers).
        lines = {ln.strip() for ln in text.splitlines()}
        return {h for h in hidden if h in lines or (len(h) >= 40 and h in text)}

    # The detector finds them in a plain HTML export of an autograded notebook, which is
    # what nbgrader's feedback shows without HideHiddenTests.
    plain, _ = HTMLExporter().from_notebook_node(autograded(graded_class, "carol"))
    plain_file = graded_class["root"] / "plain.html"
    plain_file.write_text(plain)
    assert len(shown(page_text(plain_file))) > 10
    pages = sorted((graded_class["root"] / "feedback").rglob("*.html"))
    assert len(pages) == len(graded_class["expected"]) - 2, pages   # not gina, rita
    for page in pages:
        text = page_text(page)
        assert not shown(text), f"{page}: hidden-test lines: {sorted(shown(text))[:3]}"
        assert HIDDEN_NOTE in text and "ex-twolayer-tanh-hidden" in text


def test_hide_hidden_tests_keeps_the_error_and_drops_the_traceback():
    # Failing: a traceback in the feedback quotes the hidden test's code, or the student
    # no longer learns which error the hidden test raised.
    meta = synthetic_chapter.nbgrader("ex-syn-scale-hidden", grade=True, points=2)
    cell = nbformat.v4.new_code_cell(synthetic_chapter.SCALE_HIDDEN, metadata=meta)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                           text="secret print\n"),
                    nbformat.v4.new_output("error", ename="AssertionError",
                                           evalue="hidden_scale_shape",
                                           traceback=["assert scale(np.ones((2, 2)))"])]
    out, _ = HideHiddenTests().preprocess_cell(cell, {}, 0)
    assert out.source == HIDDEN_NOTE
    assert [o.output_type for o in out.outputs] == ["error"]
    assert out.outputs[0].traceback == ["AssertionError: hidden_scale_shape"]
    assert out.metadata["nbgrader"]["points"] == 2
