"""Verdicts outside the student's process: the grader decides each hidden test.

A hidden-test cell holds only ``check.record(TASK, FUNCTION, **options)`` calls (with
literal options). In the sandbox they record the student's answers on the task's
inputs (``lecture_lib.check.record``). After execution, here, in the grader's process:

1. the calls are read from the cell's source as the instructor wrote it (nbgrader has
   restored locked cells from the gradebook before execution);
2. the recorded outputs must be exactly one per call, same task and options, in order
   (anything else is tampering: the cell scores zero and the report says so);
3. the grader makes the same inputs (``lecture_lib.check._cases``, the grader's own
   copy), computes its references (``coursetools.references``) and compares
   (``coursetools.comparing``, or the task's own comparator where an answer is a
   table or depends on the machine);
4. the cell's outputs are replaced by the verdict: a line per call when right, an
   error naming the first wrong case when not (nbgrader then scores it zero).

So monkeypatching, IPython input or AST transformers, stack inspection or forged
outputs change at most what is recorded; a mark needs the right answers.
"""
from __future__ import annotations

import ast
import json

from nbformat.v4 import new_output

from lecture_lib.check._base import fold
from lecture_lib.check._cases import inputs
from lecture_lib.check._codec import decode
from lecture_lib.check._record import MIME

from .comparing import TOL, compare
from .references import COMPARATORS, REFERENCES, TOLERANCES

__all__ = ["RecordSpecError", "record_calls", "recorded", "decode", "compare",
           "judge_cell", "TOL"]

class RecordSpecError(ValueError):
    """A hidden-test cell's ``check.record`` call is not literal (the instructor's
    error)."""


def _is_record(node):
    f = node.func
    return (isinstance(node, ast.Call) and isinstance(f, ast.Attribute)
            and f.attr == "record" and isinstance(f.value, ast.Name)
            and f.value.id == "check")


def _recorded_name(node):
    """The name of what a record call records: a function's or a value's name, or a
    tuple of names (``(history_100, reference)``)."""
    if isinstance(node, ast.Tuple) and node.elts:
        return ", ".join(_recorded_name(e) for e in node.elts)
    return node.id


def record_calls(source):
    """[(task, function name, options), ...] of the ``check.record`` calls in
    `source`, in order; RecordSpecError for a call that is not literal."""
    calls = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _is_record(node):
            try:
                task = ast.literal_eval(node.args[0])
                name = _recorded_name(node.args[1])
                options = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
            except (IndexError, AttributeError, ValueError) as err:
                raise RecordSpecError(f"check.record needs a task string, a function "
                                      f"name and literal options: {ast.unparse(node)}"
                                      ) from err
            calls.append((node.lineno, task, name, _plain(options)))
    return [c[1:] for c in sorted(calls)]


def _plain(value):
    """Options as JSON gives them back (tuples become lists)."""
    return json.loads(json.dumps(value))


def recorded(cell):
    """The answer records among a cell's outputs, in order."""
    return [o["data"][MIME] for o in cell.get("outputs", [])
            if o.get("output_type") in ("display_data", "execute_result")
            and MIME in o.get("data", {})]


def _judge_call(task, options, record):
    """(number of inputs, first problem or None) of one record against the grader's
    references."""
    cases = inputs(task, **options)
    answers = record.get("answers", [])
    if len(answers) != len(cases):
        return len(cases), f"{len(answers)} answers recorded for {len(cases)} inputs"
    for number, (args, answer) in enumerate(zip(cases, answers), start=1):
        where = f"input {number} of {len(cases)}"
        if "error" in answer:
            return len(cases), f"{where}: your function raised {answer['error']}"
        try:
            got = decode(answer.get("value"))
        except ValueError as err:
            return len(cases), f"{where}: {err}"
        ref = REFERENCES[task](args, **options)
        if task in COMPARATORS:
            try:
                problem = COMPARATORS[task](got, ref, args, options)
            except (TypeError, ValueError, KeyError, IndexError, AttributeError) as err:
                problem = f"the answer cannot be read ({type(err).__name__}: {err})"
        else:
            problem = compare(got, ref, tol=TOLERANCES.get(task, TOL))
        if problem:
            return len(cases), f"{where}: {problem}"
    return len(cases), None


def judge_cell(source, cell):
    """Judge one executed hidden-test cell from its instructor `source`.

    Returns (passed, lines, tampering): the verdict lines to show, and what was forged
    or missing in the records (None if nothing). Cells without record calls return
    None (not judged here)."""
    calls = record_calls(source)
    if not calls:
        return None
    records = recorded(cell)
    if len(records) != len(calls):
        errors = [f"{o.get('ename')}: {str(o.get('evalue'))[:200]}"
                  for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        why = errors[0] if errors else "the cell did not run through"
        if errors and len(records) < len(calls):      # an honest crash part way
            tampering = None
        elif not records and not errors:
            tampering = ("the hidden test ran without error and recorded nothing: its "
                         "code did not run as written")
        else:
            tampering = f"{len(records)} records for {len(calls)} calls"
        return (False,
                [f"{len(records)} answer records for {len(calls)} tests ({why})"],
                tampering)
    lines = []
    for (task, name, options), rec in zip(calls, records):
        if rec.get("task") != task or _plain(rec.get("options")) != options:
            return False, ["the answer records do not match the tests"], (
                f"a record of task {rec.get('task')!r} with other options")
        count, problem = _judge_call(task, options, rec)
        if problem:
            return False, lines + [f"{name}: {problem}"], None
        lines.append(f"{name}: correct on {count} hidden input(s)")
    return True, lines, None


def verdict_outputs(passed, lines):
    """The outputs a judged cell shows: the lines, as an error when it failed."""
    if passed:
        return [new_output("stream", name="stdout",
                           text="".join(f"\u2713 {ln}\n" for ln in lines))]
    return [new_output("error", ename="WrongAnswer", evalue="; ".join(lines),
                       traceback=[fold(f"WrongAnswer: {ln}") for ln in lines])]
