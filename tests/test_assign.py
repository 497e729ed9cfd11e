"""Tests for coursetools.assign: instructor notebooks -> student notebooks.

The synthetic notebooks follow CONTRIBUTING.md ("Exercises"): an exercise, a gated
solution (prose, then an nbgrader solution cell with markers inside a def), a
single-cell {solution} dropdown, a self-check (an nbgrader test cell) after the
solution, hidden tests, and stored outputs. The equivalence with nbgrader's own
generate_assignment is tested on the synthetic chapter of tests/synthetic_chapter.py and
on every real chapter that carries the metadata.
"""
import copy
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import synthetic_chapter
from coursetools import course
from coursetools.assign import AssignError, assign, make_student_notebook

REPO = Path(__file__).resolve().parents[1]


def nbg(grade_id, solution=False, grade=False, points=0):
    """nbgrader metadata as CONTRIBUTING prescribes."""
    return synthetic_chapter.nbgrader(grade_id, solution=solution, grade=grade,
                                      points=points)


EXERCISE = """```{exercise} The tanh layer
:label: ex-tanh

Derive the gradient of the loss with respect to W1 when the hidden layer uses tanh.
```"""
SOLUTION_START = """```{solution-start} ex-tanh
:class: dropdown
```
Since tanh' = 1 - tanh^2, the mask of ReLU becomes a smooth factor.
The rest of the chain is unchanged."""
SOLUTION_CODE = '''import math

def dW1_tanh(x, w):
    """Gradient of tanh(x * w) with respect to w. x, w: scalars."""
    ### BEGIN SOLUTION
    h = math.tanh(x * w)
    dw = x * (1.0 - h ** 2)
    ### END SOLUTION
    return dw'''
SOLUTION_END = """```{solution-end}
```"""
PROSE_EXERCISE = """```{exercise} Why does the gradient vanish?
:label: ex-vanish

Explain in two sentences why deep sigmoid networks train slowly.
```"""
PROSE_SOLUTION = """```{solution} ex-vanish
:class: dropdown

The sigmoid's derivative is at most 1/4, so products of many such factors shrink.
Early layers therefore receive tiny updates.
```"""
SELF_CHECK = """from lecture_lib import check
check.gradient(dW1_tanh, name="dW1")"""
TOP_LEVEL_CODE = """total = 0
### BEGIN SOLUTION
total = sum(range(10))
### END SOLUTION
print(total)"""

HIDDEN_TEST = """### BEGIN HIDDEN TESTS
assert abs(dW1_tanh(0.0, 1.0)) < 1e-12, "hidden: zero input"
### END HIDDEN TESTS"""

SOLUTION_PROSE = [
    "Since tanh' = 1 - tanh^2, the mask of ReLU becomes a smooth factor.",
    "The rest of the chain is unchanged.",
    "The sigmoid's derivative is at most 1/4, so products of many such factors shrink.",
    "Early layers therefore receive tiny updates.",
]


def solution_lines(source):
    """Stripped, non-blank lines strictly between the markers (the test's own parser).
    """
    found, inside = [], False
    for line in source.split("\n"):
        if line.strip() == "### BEGIN SOLUTION":
            inside = True
        elif line.strip() == "### END SOLUTION":
            inside = False
        elif inside and line.strip():
            found.append(line.strip())
    return found


def with_output(source, text="0.42\n", count=1, meta=None):
    cell = new_code_cell(source, execution_count=count, metadata=dict(meta or {}))
    cell.outputs = [new_output("stream", name="stdout", text=text)]
    return cell


def course_notebook():
    """A notebook in the CONTRIBUTING shape, with outputs stored."""
    return new_notebook(cells=[
        new_markdown_cell("# Tanh layers\nIn this chapter you will learn ..."),
        new_markdown_cell(EXERCISE),
        new_markdown_cell(SOLUTION_START),
        with_output(SOLUTION_CODE, count=1, meta=nbg("ex-tanh-code", solution=True)),
        new_markdown_cell(SOLUTION_END),
        with_output(SELF_CHECK, text="dW1: relative error 1.2e-10, ok\n", count=2,
                    meta=nbg("ex-tanh-check", grade=True, points=1)),
        with_output(HIDDEN_TEST, text="", count=3,
                    meta=nbg("ex-tanh-hidden", grade=True, points=2)),
        with_output(TOP_LEVEL_CODE, text="45\n", count=4,
                    meta=nbg("ex-tanh-total", solution=True)),
        new_markdown_cell(PROSE_EXERCISE),
        new_markdown_cell(PROSE_SOLUTION),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}})


def write_nb(path, nb):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def all_text(nb):
    """Everything a student could read: sources and outputs."""
    return nbformat.writes(nb)


def digest(folder):
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "coursetools.assign", *map(str, args)],
                          capture_output=True, text=True, cwd=REPO)


@pytest.fixture
def student():
    return make_student_notebook(course_notebook(), path="ch.ipynb")


def test_solution_code_is_gone(student):
    # Failing: a line of solution code reached the student (a region not stubbed).
    nb, report = student
    text = all_text(nb)
    for source in (SOLUTION_CODE, TOP_LEVEL_CODE):
        for line in solution_lines(source):
            assert line not in text, line
    assert report["regions_stubbed"] == 2


def test_stub_keeps_code_outside_markers_at_marker_indentation(student):
    # Failing: the def line, docstring or trailing return was lost, or the stub is
    # mis-indented.
    code = [c.source for c in student[0].cells if c.cell_type == "code"]
    assert code[0] == ('import math\n\ndef dW1_tanh(x, w):\n'
                       '    """Gradient of tanh(x * w) with respect to w. x, w: '
                       'scalars."""\n'
                       '    # YOUR CODE HERE\n    raise NotImplementedError()\n'
                       '    return dw')
    assert code[3] == ("total = 0\n# YOUR CODE HERE\nraise NotImplementedError()\n"
                       "print(total)")


def test_stubbed_code_raises_not_implemented(student):
    # Failing: a stubbed function silently returns something, so a student's notebook
    # would run without the exercise done.
    code = [c.source for c in student[0].cells if c.cell_type == "code"]
    namespace = {}
    exec(code[0], namespace)
    with pytest.raises(NotImplementedError):
        namespace["dW1_tanh"](0.5, 2.0)
    with pytest.raises(NotImplementedError):
        exec(code[3], {})


def test_solution_prose_is_gone_exercises_stay(student):
    # Failing: solution prose leaked, a solution directive survived, or an exercise was
    # lost.
    nb, report = student
    text = all_text(nb)
    for sentence in SOLUTION_PROSE:
        assert sentence not in text, sentence
    assert "{solution" not in text
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert EXERCISE in markdown and PROSE_EXERCISE in markdown
    assert report["prose_cells_removed"] == 3   # solution-start, -end, {solution}


def test_self_check_cells_are_byte_identical(student):
    # Failing: the self-check a student relies on was changed or dropped.
    nb, report = student
    assert [c.source for c in nb.cells if c.cell_type == "code"][1] == SELF_CHECK
    assert report["self_checks_kept"] == 1


def test_outputs_cleared_and_counts_reset(student):
    # Failing: outputs of the instructor run (which show solution results) were kept.
    nb, _ = student
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    nbformat.validate(nb)


def test_make_student_notebook_does_not_mutate_its_input():
    # Failing: the function edits the instructor notebook in memory.
    nb = course_notebook()
    before = copy.deepcopy(nb)
    make_student_notebook(nb)
    assert nb == before


def test_several_regions_in_one_cell_get_several_stubs():
    # Failing: only the first region of a cell was stubbed, or indentation was lost.
    src = ("def f(x):\n    ### BEGIN SOLUTION\n    y = x + 1\n    ### END SOLUTION\n"
           "    if y:\n        ### BEGIN SOLUTION\n        return y * 2\n"
           "        ### END SOLUTION\n    return 0")
    nb, report = make_student_notebook(new_notebook(cells=[
        new_code_cell(src, metadata=nbg("ex-f-code", solution=True))]))
    assert nb.cells[0].source == ("def f(x):\n    # YOUR CODE HERE\n"
                                  "    raise NotImplementedError()"
                                  "\n    if y:\n        # YOUR CODE HERE\n"
                                  "        raise NotImplementedError()\n    return 0")
    assert report["regions_stubbed"] == 2


@pytest.mark.parametrize("fence,body", [
    ("```", "Hidden reasoning."),
    ("````", "```python\nsecret = 1\n```\nHidden reasoning."),    # a code block inside
    (":::", "```python\nsecret = 1\n```\nHidden reasoning."),
])
def test_solution_directive_fences_and_surrounding_text(fence, body):
    # Failing: a 4-backtick or colon-fenced {solution} leaked, or text outside it was
    # dropped.
    md = (f"Before the solution.\n\n{fence}{{solution}} ex-a\n:class: dropdown\n\n"
          f"{body}\n{fence}\n\nAfter it.")
    nb, report = make_student_notebook(new_notebook(cells=[new_markdown_cell(md)]))
    assert nb.cells[0].source == "Before the solution.\n\nAfter it."
    assert report["prose_cells_trimmed"] == 1 and report["prose_cells_removed"] == 0


def test_gated_region_text_around_directives():
    # Failing: text before {solution-start} or after {solution-end} in the same cell was
    # lost, or text after {solution-start} / markdown inside the region survived.
    nb = new_notebook(cells=[
        new_markdown_cell("Try it first.\n\n" + SOLUTION_START),
        new_markdown_cell("More hidden reasoning."),
        new_markdown_cell("Hidden conclusion.\n" + SOLUTION_END + "\nNext section."),
    ])
    student, report = make_student_notebook(nb)
    assert [c.source for c in student.cells] == ["Try it first.", "Next section."]
    assert report["prose_cells_removed"] == 1 and report["prose_cells_trimmed"] == 2


def test_solution_cell_without_markers_is_stubbed_whole():
    # Failing: a solution cell without markers reached the student (nbgrader stubs it
    # whole).
    nb = new_notebook(cells=[new_markdown_cell(SOLUTION_START),
                             new_code_cell("answer = 42\nprint(answer)",
                                           metadata=nbg("ex-tanh-code", solution=True)),
                             new_markdown_cell(SOLUTION_END)])
    student, report = make_student_notebook(nb)
    assert student.cells[0].source == "# YOUR CODE HERE\nraise NotImplementedError()"
    assert report["whole_cells_stubbed"] == [1]


def test_plain_code_cell_in_gated_region_is_refused():
    # Failing: code inside a solution dropdown without nbgrader metadata would reach the
    # student unchanged (nbgrader only clears cells it knows), or the error does not say
    # where.
    nb = new_notebook(cells=[new_markdown_cell(SOLUTION_START),
                             new_code_cell("answer = 42\nprint(answer)"),
                             new_markdown_cell(SOLUTION_END)])
    with pytest.raises(AssignError,
                       match=r"ch\.ipynb: cell 2 .*not an nbgrader solution"):
        make_student_notebook(nb, path="ch.ipynb")


def test_written_answer_becomes_your_answer_here():
    # Failing: a model answer (a graded markdown solution cell inside the gate) reached
    # the student, or the cell the instructor grades by hand was removed with the prose.
    answer = new_markdown_cell("The factor is at most 1/4, so the product shrinks.",
                               metadata=nbg("ex-tanh-answer", solution=True, grade=True,
                                            points=2))
    nb = new_notebook(cells=[new_markdown_cell(SOLUTION_START), answer,
                             new_markdown_cell(SOLUTION_END)])
    student, report = make_student_notebook(nb)
    assert [c.source for c in student.cells] == ["YOUR ANSWER HERE"]
    assert student.cells[0].metadata["nbgrader"]["grade_id"] == "ex-tanh-answer"
    assert report["written_answers_cleared"] == 1


def test_hidden_tests_are_emptied_and_checks_locked(student):
    # Failing: a hidden test reached the student, or the self-check is not locked (a
    # student could delete it; nbgrader restores it only if it knows it is locked).
    nb, report = student
    text = all_text(nb)
    assert "hidden: zero input" not in text and "BEGIN HIDDEN" not in text
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
             if c.metadata.get("nbgrader")}
    assert by_id["ex-tanh-hidden"].source == ""
    assert by_id["ex-tanh-check"].metadata["deletable"] is False
    assert by_id["ex-tanh-check"].metadata["editable"] is False
    assert report["hidden_tests_removed"] == 1


@pytest.mark.parametrize("cell,problem", [
    (new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"),
     "not an nbgrader solution cell"),
    (new_code_cell("### BEGIN HIDDEN TESTS\nassert 1\n### END HIDDEN TESTS"),
     "not an nbgrader test cell"),
    (new_code_cell("### BEGIN HIDDEN TESTS\nassert 1",
                   metadata=nbg("ex-a-h", grade=True, points=1)),
     "has no '### END HIDDEN TESTS'"),
    (new_markdown_cell("Write it between ### BEGIN SOLUTION and the end."),
     "looks like a marker"),
])
def test_markers_need_their_nbgrader_metadata(cell, problem):
    # Failing: nbgrader would refuse the notebook (or leak a hidden test) while assign
    # silently accepted it, so the two would disagree.
    with pytest.raises(AssignError, match=re.escape(problem)) as err:
        make_student_notebook(new_notebook(cells=[new_markdown_cell("intro"), cell]),
                              path="chapters/07_x.ipynb")
    assert "chapters/07_x.ipynb: cell 2 (0-based index 1)" in str(err.value)


@pytest.mark.parametrize("source,problem", [
    ("x = 1\n### BEGIN SOLUTION\nx = 2", "no '### END SOLUTION'"),
    ("x = 1\n### END SOLUTION", "without a '### BEGIN SOLUTION'"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "nested"),
    ("# BEGIN SOLUTION\nx = 2\n# END SOLUTION", "looks like a marker"),
])
def test_unbalanced_markers_name_notebook_and_cell(source, problem):
    # Failing: a malformed region would leak a solution, or the message does not say
    # where.
    nb = new_notebook(cells=[new_markdown_cell("intro"), new_code_cell(source)])
    with pytest.raises(AssignError, match=re.escape(problem)) as err:
        make_student_notebook(nb, path="chapters/07_x.ipynb")
    assert "chapters/07_x.ipynb: cell 2 (0-based index 1)" in str(err.value)
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize("cells,problem", [
    ([SOLUTION_START, "prose"], "has no {solution-end}"),
    ([SOLUTION_END], "without a {solution-start}"),
    ([SOLUTION_START, SOLUTION_START, SOLUTION_END],
     "inside the solution opened in cell 1"),
    (["```{solution} ex-a\nnever closed"], "never closed"),
    (["````{exercise} E\n```{solution} ex-a\nx\n```\n````"],
     "nested inside {exercise}"),
])
def test_unbalanced_gated_solutions_raise(cells, problem):
    # Failing: an unclosed or stray solution directive would hide or leak the wrong
    # cells.
    nb = new_notebook(cells=[new_markdown_cell(c) for c in cells])
    with pytest.raises(AssignError, match=re.escape(problem)):
        make_student_notebook(nb, path="nb.ipynb")


@pytest.fixture
def source_tree(tmp_path):
    src = tmp_path / "chapters"
    write_nb(src / "01_intro.ipynb", course_notebook())
    write_nb(src / "part2" / "02_more.ipynb", course_notebook())
    write_nb(src / ".ipynb_checkpoints" / "01_intro-checkpoint.ipynb",
             course_notebook())
    return src


def test_assign_writes_tree_and_never_touches_sources(source_tree, tmp_path):
    # Failing: relative paths were not kept, checkpoints were converted, or a source
    # changed.
    before = digest(source_tree)
    out = tmp_path / "student"
    reports = assign(source_tree, out)
    assert digest(source_tree) == before
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.ipynb"))
    assert written == ["01_intro.ipynb", "part2/02_more.ipynb"]
    assert [r["regions_stubbed"] for r in reports] == [2, 2]
    student = nbformat.read(out / "part2" / "02_more.ipynb", as_version=4)
    nbformat.validate(student)
    assert "tanh(x * w)\n" not in all_text(student)


@pytest.mark.parametrize("where", ["same", "inside", "parent"])
def test_refuses_to_write_into_sources(source_tree, where):
    # Failing: output could overwrite or mix with the instructor notebooks.
    out = {"same": source_tree, "inside": source_tree / "student",
           "parent": source_tree.parent}[where]
    before = digest(source_tree)
    with pytest.raises(AssignError, match="refusing"):
        assign(source_tree, out, force=True)
    assert digest(source_tree) == before
    assert not (source_tree / "student").exists()


def test_non_empty_output_needs_force_and_keeps_other_files(source_tree, tmp_path):
    # Failing: an earlier output was silently overwritten, or --force deleted an
    # unrelated file.
    out = tmp_path / "student"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(AssignError, match="not empty"):
        assign(source_tree, out)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assign(source_tree, out, force=True)
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "01_intro.ipynb").is_file()


def test_error_in_one_notebook_writes_nothing(source_tree, tmp_path):
    # Failing: a partial student folder was written before the broken notebook was
    # found.
    bad = course_notebook()
    bad.cells[3].source = bad.cells[3].source.replace("    ### END SOLUTION\n", "")
    write_nb(source_tree / "zz_broken.ipynb", bad)
    out = tmp_path / "student"
    with pytest.raises(AssignError,
                       match=r"zz_broken\.ipynb: cell 4 \(0-based index 3\)"):
        assign(source_tree, out)
    assert not out.exists()


def test_single_notebook(source_tree, tmp_path):
    # Failing: --single converted the wrong file or was allowed to write next to its
    # source.
    nb_path = source_tree / "part2" / "02_more.ipynb"
    reports = assign(None, tmp_path / "one", single=nb_path)
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["02_more.ipynb"]
    assert reports[0]["self_checks_kept"] == 1
    with pytest.raises(AssignError, match="refusing"):
        assign(None, nb_path.parent, single=nb_path, force=True)


def test_cli_exit_codes_and_table(source_tree, tmp_path):
    # Failing: the command-line interface does not report, or exits 0 on an error.
    before = digest(source_tree)
    ok = run_cli(source_tree, "--out", tmp_path / "student")
    assert ok.returncode == 0, ok.stderr
    assert "regions stubbed" in ok.stdout and "01_intro.ipynb" in ok.stdout
    again = run_cli(source_tree, "--out", tmp_path / "student")
    assert again.returncode == 2 and "not empty" in again.stderr
    forced = run_cli(source_tree, "--out", tmp_path / "student", "--force")
    assert forced.returncode == 0
    inside = run_cli(source_tree, "--out", source_tree / "out")
    assert inside.returncode == 2 and "refusing" in inside.stderr
    single = run_cli("--single", source_tree / "01_intro.ipynb", "--out",
                     tmp_path / "one")
    assert single.returncode == 0 and (tmp_path / "one" / "01_intro.ipynb").is_file()
    bad = new_notebook(cells=[new_code_cell("### BEGIN SOLUTION\nx = 1")])
    write_nb(source_tree / "bad.ipynb", bad)
    bad_bytes = (source_tree / "bad.ipynb").read_bytes()
    before["bad.ipynb"] = hashlib.sha256(bad_bytes).hexdigest()
    broken = run_cli(source_tree, "--out", tmp_path / "never")
    assert broken.returncode == 2
    assert "bad.ipynb: cell 1 (0-based index 0)" in broken.stderr
    assert not (tmp_path / "never").exists()
    assert digest(source_tree) == {Path(k): v for k, v in before.items()}


# --- nbgrader's generate_assignment gives the same exercises
# ------------------------------

def exercise_cells(nb):
    """{grade_id: (cell type, source)} of a notebook's nbgrader cells, and the sources
    of the other cells of its exercises section, in order."""
    graded = {c.metadata["nbgrader"]["grade_id"]: (c.cell_type, c.source)
              for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")}
    start = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"
                 and c.source.startswith("## Exercises"))
    others = [c.source for c in nb.cells[start:] if not c.metadata.get("nbgrader")]
    return graded, others


def release_with_nbgrader(tmp_path, chapter_paths):
    """{chapter: released notebook} from nbgrader's own generate_assignment on a course
    made by coursetools.course init."""
    root = tmp_path / "course"
    course.init(root, chapter_paths)
    released = {}
    for path in chapter_paths:
        course.nbgrader(root, "generate_assignment", path.stem, timeout=300)
        released[path.stem] = nbformat.read(
            root / "release" / path.stem / f"{path.stem}.ipynb", as_version=4)
    return released


def assert_same_exercises(assigned, released, name):
    got, want = exercise_cells(assigned), exercise_cells(released)
    assert got[0] == want[0], f"{name}: nbgrader cells differ from nbgrader's release"
    assert got[1] == want[1], f"{name}: the exercises' other cells differ"


def test_assign_equals_nbgrader_generate_assignment(tmp_path):
    # Failing: students who get assign's whole-chapter notebook see other stubs,
    # solution or hidden-test lines, or other self-checks than nbgrader's release of the
    # graded notebook: the two routes would grade different things.
    path = synthetic_chapter.write(tmp_path / "ch" / "99_synthetic.ipynb")
    released = release_with_nbgrader(tmp_path, [path])["99_synthetic"]
    assigned, _ = make_student_notebook(nbformat.read(path, as_version=4))
    assert_same_exercises(assigned, released, path.name)
    text = all_text(assigned)
    for secret in ("hidden_scale_shape", "hidden_sum_type", "model_answer_marker",
                   "prose_marker_scale", "np.asarray(x) * SCALE"):
        assert secret not in text and secret not in all_text(released), secret


# --- The real chapters
# -------------------------------------------------------------------

FENCE = re.compile(r"^ {0,3}(`{3,}|:{3,})\s*\{(solution|solution-start|solution-end)\}")


def _region(source, begin, end):
    found, inside = [], False
    for line in source.split("\n"):
        if line.strip() == begin:
            inside = True
        elif line.strip() == end:
            inside = False
        elif inside and line.strip():
            found.append(line.strip())
    return found


def source_solutions(nb):
    """(secret lines, lines outside secrets, self-check sources) of an instructor
    notebook, found with this test's own small parser, not with coursetools.assign.
    Lines are stripped; secret lines are code between solution or hidden-test markers,
    solution cells without markers, model answers, and markdown inside {solution} or
    solution-start/end."""
    secret, outside, checks, gated = set(), set(), [], False
    for cell in nb.cells:
        lines = cell.source.split("\n")
        meta = cell.metadata.get("nbgrader", {})
        marked = (_region(cell.source, "### BEGIN SOLUTION", "### END SOLUTION")
                  + _region(cell.source, "### BEGIN HIDDEN TESTS",
                            "### END HIDDEN TESTS"))
        if meta.get("solution") and not marked:
            secret.update(s.strip() for s in lines)
            continue
        if cell.cell_type == "code":
            secret.update(marked)
            inside = False
            for line in lines:
                if line.strip() in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"):
                    inside = True
                elif line.strip() in ("### END SOLUTION", "### END HIDDEN TESTS"):
                    inside = False
                elif not inside:
                    outside.add(line.strip())
            if (meta.get("grade") or meta.get("locked")) and not meta.get("solution") \
                    and not marked:                   # graded or read-only self-checks
                checks.append(cell.source)
            continue
        i = 0
        while i < len(lines):
            m = FENCE.match(lines[i])
            if m and m[2] == "solution":
                close = re.compile(r" {0,3}%s{%d,}\s*"
                                   % (re.escape(m[1][0]), len(m[1])))
                j = next(k for k in range(i + 1, len(lines))
                         if close.fullmatch(lines[k]))
                secret.update(s.strip() for s in lines[i + 1:j])
                i = j + 1
                continue
            if m:
                gated = m[2] == "solution-start"
            else:
                (secret if gated else outside).add(lines[i].strip())
            i += 1
    return secret - {""}, outside, checks


CHAPTERS = sorted(p for p in (REPO / "chapters").glob("*.ipynb"))


def has_nbgrader_cells(path):
    cells = nbformat.read(path, as_version=4).cells
    return any(c.metadata.get("nbgrader") for c in cells)


def real_chapter(path):
    """A chapter parameter; skipped until the chapter carries nbgrader metadata."""
    return pytest.param(path, id=path.stem[:2], marks=pytest.mark.skipif(
        not has_nbgrader_cells(path),
        reason=f"{path.name} has no nbgrader cell metadata yet (CONTRIBUTING, "
               f"Exercises)"))


@pytest.mark.parametrize("path", [real_chapter(p) for p in CHAPTERS])
def test_real_chapter(path):
    # Failing: a chapter's solution code, model answer, hidden test or solution prose
    # reaches its student notebook, or one of its self-check cells is lost or altered.
    source = nbformat.read(path, as_version=4)
    before = path.read_bytes()
    student, report = make_student_notebook(source, path=path.name)
    assert path.read_bytes() == before
    secret, outside, checks = source_solutions(source)
    student_lines = {s.strip() for c in student.cells for s in c.source.split("\n")}
    # A secret line may remain only where the source also has it outside a solution.
    leaked = (secret - outside) & student_lines
    assert not leaked, f"{path.name}: solution lines in the student notebook: {leaked}"
    student_code = [c.source for c in student.cells if c.cell_type == "code"]
    for check in checks:
        assert check in student_code, f"{path.name}: self-check cell lost:\n{check}"
    assert report["self_checks_kept"] == len(checks) > 0


@pytest.mark.parametrize("path", [real_chapter(p) for p in CHAPTERS])
def test_real_chapter_stubs_compile_and_raise(path):
    # Failing: a stub is missing for some solution region (the student would see a cell
    # that silently does nothing), or stubbing left a cell that is not valid Python.
    from IPython.core.inputtransformer2 import TransformerManager

    to_python = TransformerManager().transform_cell
    source = nbformat.read(path, as_version=4)
    student, _ = make_student_notebook(source, path=path.name)
    regions = sum(line.strip() == "### BEGIN SOLUTION"
                  for c in source.cells if c.cell_type == "code"
                  for line in c.source.splitlines())
    stubs = 0
    for i, cell in enumerate(student.cells):
        if cell.cell_type != "code" or "# YOUR CODE HERE" not in cell.source:
            continue
        lines = cell.source.splitlines()
        for k, line in enumerate(lines):
            if line.strip() == "# YOUR CODE HERE":
                stubs += 1
                indent = line[: len(line) - len(line.lstrip())]
                assert lines[k + 1] == indent + "raise NotImplementedError()", (
                    f"{path.name} cell {i}: the stub does not raise "
                    f"NotImplementedError")
        compile(to_python(cell.source), f"{path.name}:cell{i}", "exec")
        if not cell.source.lstrip().startswith(("def ", "class ", "@")) and \
                lines[0].strip() == "# YOUR CODE HERE":
            with pytest.raises(NotImplementedError):   # a top-level stub raises
                exec(compile(to_python(cell.source), path.name, "exec"), {})
    assert stubs >= regions > 0, (f"{path.name}: {regions} solution regions but "
                                  f"{stubs} stubs")


def test_real_chapters_equal_nbgrader_release(tmp_path):
    # Failing: for a real chapter, assign's student notebook and nbgrader's release of
    # its graded notebook differ in an exercise cell (stub, self-check, emptied hidden
    # test).
    ready = [p for p in CHAPTERS if has_nbgrader_cells(p) and any(
        "assignment-setup" in c.metadata.get("tags", [])
        for c in nbformat.read(p, as_version=4).cells)]
    if not ready:
        pytest.skip("no chapter carries nbgrader metadata and assignment-setup tags")
    released = release_with_nbgrader(tmp_path, ready)
    for path in ready:
        assigned, _ = make_student_notebook(nbformat.read(path, as_version=4),
                                            path.name)
        assert_same_exercises(assigned, released[path.stem], path.name)
