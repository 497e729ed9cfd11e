"""A small chapter notebook in the shape CONTRIBUTING.md prescribes, for the coursetools
tests.

Teaching cells (one tagged ``assignment-setup``, one that draws a figure), then ``##
Exercises`` with three exercises: ``ex-syn-scale`` (solution code inside a def, a
self-check, hidden tests), ``ex-syn-why`` (a graded written answer) and ``ex-syn-sum``
(top-level solution code, a self-check, hidden tests). Every exercise states its points.
"""
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3",
                         "language": "python"},
          "language_info": {"name": "python"}}


def nbgrader(grade_id, *, solution=False, grade=False, points=0):
    meta = {"solution": solution, "grade": grade, "locked": not solution,
            "grade_id": grade_id, "schema_version": 3}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def code(source, meta=None, tags=None, text=None, count=None):
    cell = new_code_cell(source, metadata=dict(meta or {}), execution_count=count)
    if tags:
        cell.metadata["tags"] = list(tags)
    if text is not None:
        cell.outputs = [new_output("stream", name="stdout", text=text)]
    return cell


SETUP = "import numpy as np\nSCALE = 3"
TEACHING = "print('teaching output', SCALE * 2)"
SCALE_SOLUTION = '''def scale(x):
    """Return x times SCALE. x: (N,)."""
    ### BEGIN SOLUTION
    y = np.asarray(x) * SCALE
    return y
    ### END SOLUTION'''
SCALE_CHECK = '''assert np.allclose(scale([1.0, 2.0]), [3.0, 6.0]), "expected [3, 6]"
print("scale: ok")'''
SCALE_HIDDEN = '''### BEGIN HIDDEN TESTS
assert scale(np.ones((2, 2))).shape == (2, 2), "hidden_scale_shape"
### END HIDDEN TESTS'''
WHY_ANSWER = "Because scaling is linear, model_answer_marker holds."
SUM_SOLUTION = '''total = 0
### BEGIN SOLUTION
total = int(np.arange(10).sum())
### END SOLUTION'''
SUM_CHECK = 'assert total == 45, f"total is {total}, expected 45"'
SUM_HIDDEN = '''### BEGIN HIDDEN TESTS
assert type(total) is int and total == sum(range(10)), "hidden_sum_type"
### END HIDDEN TESTS'''
SOLUTION_PROSE = "The solution multiplies by prose_marker_scale."

EXERCISE_SCALE = """```{exercise} Scale an array
:label: ex-syn-scale

**(3 points: 1 self-check, 2 hidden tests)** Write `scale(x)`.
```"""
EXERCISE_WHY = """```{exercise} Why?
:label: ex-syn-why

**(2 points: 2 written answer)** Explain why.
```"""
EXERCISE_SUM = """```{exercise} Sum
:label: ex-syn-sum

**(2 points: 1 self-check, 1 hidden tests)** Set `total` to the sum of 0..9.
```"""


def gate_start(label, prose=""):
    return new_markdown_cell(f"```{{solution-start}} {label}\n:class: dropdown\n```"
                             + (f"\n{prose}" if prose else ""))


def gate_end():
    return new_markdown_cell("```{solution-end}\n```")


def chapter():
    """The synthetic instructor chapter (stored outputs included)."""
    cells = [
        new_markdown_cell("# Synthetic chapter\n\nWhat you will learn."),
        code(SETUP, tags=["assignment-setup"], count=1),
        code(TEACHING, text="teaching output 6\n", count=2),
        new_markdown_cell("## Exercises"),
        new_markdown_cell(EXERCISE_SCALE),
        gate_start("ex-syn-scale", SOLUTION_PROSE),
        code(SCALE_SOLUTION, nbgrader("ex-syn-scale-code", solution=True), count=3),
        gate_end(),
        code(SCALE_CHECK, nbgrader("ex-syn-scale-check", grade=True, points=1),
             text="scale: ok\n", count=4),
        code(SCALE_HIDDEN, nbgrader("ex-syn-scale-hidden", grade=True, points=2),
             tags=["remove-cell"], count=5),
        new_markdown_cell(EXERCISE_WHY),
        gate_start("ex-syn-why"),
        new_markdown_cell(WHY_ANSWER,
                          metadata=nbgrader("ex-syn-why-answer", solution=True,
                                            grade=True, points=2)),
        gate_end(),
        new_markdown_cell(EXERCISE_SUM),
        gate_start("ex-syn-sum"),
        code(SUM_SOLUTION, nbgrader("ex-syn-sum-code", solution=True), count=6),
        gate_end(),
        code(SUM_CHECK, nbgrader("ex-syn-sum-check", grade=True, points=1), count=7),
        code(SUM_HIDDEN, nbgrader("ex-syn-sum-hidden", grade=True, points=1),
             tags=["remove-cell"], count=8),
    ]
    return new_notebook(cells=cells, metadata=dict(KERNEL))


def write(path, nb=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(chapter() if nb is None else nb, str(path))
    return path
