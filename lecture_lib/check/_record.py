"""What a hidden test does in the student's kernel: run the student's function on a
task's inputs and show the answers to the grader. It judges nothing.

    check.record("twolayer", backward_tanh, layer2="tanh", cases=((1, 9, 6, 6),), rng=1)

shows one output of the media type :data:`MIME`: the task, its options and one entry per
input, ``{"value": ...}`` (arrays as float64 bytes in base64, dicts and sequences kept)
or ``{"error": "TypeError: ..."}``. After the notebook has run, the grader reads these
outputs, makes the same inputs itself, computes its own references and sets the points
(``coursetools.verdicts``); anything the notebook does to this function, to
``lecture_lib`` or to IPython changes only what is recorded, never the verdict.
"""
from __future__ import annotations

import base64
import copy

import numpy as np

from ._cases import inputs

__all__ = ["MIME", "record", "encode"]

MIME = "application/vnd.backprop-course.answers+json"


def encode(value, depth=0):
    """A JSON-able form of an answer: arrays and numbers as float64 (base64), dicts
    and sequences element by element; anything else by its type's name."""
    if depth > 4:
        return {"unsupported": "nested too deep"}
    if isinstance(value, dict):
        return {"dict": {str(k): encode(v, depth + 1) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"list": [encode(v, depth + 1) for v in value]}
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return {"unsupported": type(value).__name__}
    return {"shape": list(array.shape),
            "f8": base64.b64encode(np.ascontiguousarray(array).tobytes()).decode()}


def record(task, fn, **options):
    """Run ``fn`` on every input of ``task`` (made from ``options``) and show the
    answers for the grader (a value that is not a function is recorded as it is). The
    verdict is the grader's."""
    from IPython.display import display
    answers = []
    for args in inputs(task, **options):
        try:
            value = fn(*copy.deepcopy(args)) if callable(fn) else fn
            answers.append({"value": encode(value)})
        except Exception as err:               # the student's code failed on this input
            answers.append({"error": f"{type(err).__name__}: {str(err)[:300]}"})
    display({MIME: {"task": task, "options": options, "function": getattr(
        fn, "__name__", type(fn).__name__), "answers": answers},
        "text/plain": f"{len(answers)} answers of {task} recorded for the grader"},
        raw=True)
