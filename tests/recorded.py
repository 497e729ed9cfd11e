"""``judge(hidden_source, **functions)``: a hidden-test cell as the grader judges it, with
the answers recorded from these functions as ``check.record`` records them in the
student's kernel (``lecture_lib.check._drivers``) but without a kernel. For testing the
grader's references and comparators (``coursetools.references``): returns
``verdicts.judge_cell``'s (passed, lines, tampering)."""
import copy

from nbformat.v4 import new_code_cell, new_output

from coursetools import verdicts
from lecture_lib.check._cases import inputs
from lecture_lib.check._codec import encode
from lecture_lib.check._drivers import drive
from lecture_lib.check._record import MIME


def records(source, functions):
    """The answer records the cell's record calls make of `functions` (by name; a
    recorded tuple of names as a tuple)."""
    out = []
    for task, name, options in verdicts.record_calls(source):
        names = name.split(", ")
        fn = (tuple(functions[n] for n in names) if len(names) > 1
              else functions[name])
        answers = []
        for args in inputs(task, **options):
            try:
                answers.append({"value": encode(drive(task, fn, copy.deepcopy(args)))})
            except Exception as err:
                answers.append({"error": f"{type(err).__name__}: {err}"})
        out.append({"task": task, "options": options, "answers": answers})
    return out


def judge(source, **functions):
    cell = new_code_cell(source)
    cell.outputs = [new_output("display_data", data={MIME: r, "text/plain": "recorded"})
                    for r in records(source, functions)]
    return verdicts.judge_cell(source, cell)
