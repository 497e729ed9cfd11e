"""What a hidden test does in the student's kernel: run the student's function on a
task's inputs and show the answers to the grader. It judges nothing.

    check.record("twolayer", backward_tanh, layer2="tanh", cases=((1, 9, 6, 6),), rng=1)

shows one output of the media type :data:`MIME`: the task, its options and one entry per
input, ``{"value": ...}`` (as ``_codec.encode`` writes it) or ``{"error": "TypeError:
..."}``. After the notebook has run, the grader reads these
outputs, makes the same inputs itself, computes its own references and sets the points
(``coursetools.verdicts``); anything the notebook does to this function, to
``lecture_lib`` or to IPython changes only what is recorded, never the verdict.
"""
from __future__ import annotations

import copy

from ._cases import inputs
from ._codec import encode
from ._drivers import drive

__all__ = ["MIME", "record", "encode"]

MIME = "application/vnd.backprop-course.answers+json"


def record(task, fn, **options):
    """Run ``fn`` on every input of ``task`` (made from ``options``) as the task's
    driver does (``_drivers``) and show the answers for the grader (a value that is not
    a function, or a tuple of values, is recorded as it is). The verdict is the
    grader's."""
    from IPython.display import display
    answers = []
    for args in inputs(task, **options):
        try:
            value = drive(task, fn, copy.deepcopy(args))
            answers.append({"value": encode(value)})
        except Exception as err:               # the student's code failed on this input
            answers.append({"error": f"{type(err).__name__}: {str(err)[:300]}"})
    display({MIME: {"task": task, "options": options, "function": getattr(
        fn, "__name__", type(fn).__name__), "answers": answers},
        "text/plain": f"{len(answers)} answers of {task} recorded for the grader"},
        raw=True)
