"""Verdicts outside the student's process (coursetools.verdicts), the stored values of
the self-checks, the forbidden-call scan and the report's statuses: fast, no kernel."""
import json

import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_output

from coursetools import expected, forbidden, report, verdicts
from coursetools.references import twolayer_backward
from lecture_lib.check._cases import inputs
from lecture_lib.check._record import MIME, encode

HIDDEN = ('### BEGIN HIDDEN TESTS\n'
          'check.record("twolayer", backward_tanh, layer2="tanh",\n'
          '             cases=((2, 3, 4, 5),), rng=1)\n'
          'check.record("jacobian_memory", jm, cases=((3, 2, 4),))\n'
          '### END HIDDEN TESTS')


def executed(*records, error=None):
    """A hidden-test cell as the sandbox returns it, with these answer records."""
    cell = new_code_cell(HIDDEN)
    cell.outputs = [new_output("display_data", data={MIME: r, "text/plain": "rec"})
                    for r in records]
    if error:
        cell.outputs.append(new_output("error", ename=error, evalue="", traceback=[]))
    return cell


def rec(task, options, answers):
    return {"task": task, "options": json.loads(json.dumps(options)),
            "answers": [{"value": encode(a)} for a in answers]}


def tanh_answers(fn=None):
    opts = {"layer2": "tanh", "cases": ((2, 3, 4, 5),), "rng": 1}
    fn = fn or (lambda *a: twolayer_backward(*a, layer2="tanh"))
    return rec("twolayer", opts, [fn(*a) for a in inputs("twolayer", **opts)])


MEMORY_RIGHT = rec("jacobian_memory", {"cases": ((3, 2, 4),)}, [(2 * 3 * 2 * 4, 24)])


def test_record_calls_are_read_literally():
    calls = verdicts.record_calls(HIDDEN)
    assert calls[0] == ("twolayer", "backward_tanh",
                        {"layer2": "tanh", "cases": [[2, 3, 4, 5]], "rng": 1})
    with pytest.raises(verdicts.RecordSpecError):
        verdicts.record_calls('check.record("twolayer", f, cases=make_cases())')


def test_right_answers_pass_and_wrong_ones_say_where():
    passed, lines, tampering = verdicts.judge_cell(HIDDEN, executed(tanh_answers(),
                                                                    MEMORY_RIGHT))
    assert passed and tampering is None and len(lines) == 2
    relu = tanh_answers(lambda *a: twolayer_backward(*a))        # the ReLU network
    passed, lines, _ = verdicts.judge_cell(HIDDEN, executed(relu, MEMORY_RIGHT))
    assert not passed and "backward_tanh: input 1 of 1" in lines[-1]


def test_forged_missing_or_swapped_records_score_nothing():
    # Failing: a verdict taken from what the student's process printed.
    forged = dict(tanh_answers(), options={"cases": [[1, 1, 1, 1]], "rng": 0})
    judged = verdicts.judge_cell(HIDDEN, executed(forged, MEMORY_RIGHT))
    assert judged[0] is False and judged[2]
    judged = verdicts.judge_cell(HIDDEN, executed())                 # ran as `pass`
    assert judged[0] is False and "recorded nothing" in judged[2]
    judged = verdicts.judge_cell(HIDDEN, executed(error="NameError"))
    assert judged[0] is False and judged[2] is None                  # an honest crash
    judged = verdicts.judge_cell(HIDDEN, executed(tanh_answers(), error="NameError"))
    assert judged[0] is False and judged[2] is None                  # ... part way
    judged = verdicts.judge_cell(HIDDEN, executed(tanh_answers(), MEMORY_RIGHT,
                                                  MEMORY_RIGHT))
    assert judged[0] is False and "3 records for 2 calls" in judged[2]
    judged = verdicts.judge_cell(HIDDEN, executed(MEMORY_RIGHT, tanh_answers()))
    assert judged[0] is False


def test_malformed_answers_are_wrong_not_crashes():
    bad = tanh_answers()
    bad["answers"] = [{"value": {"f8": "!!", "shape": [1]}}]
    passed, lines, _ = verdicts.judge_cell(HIDDEN, executed(bad, MEMORY_RIGHT))
    assert not passed and "malformed" in lines[-1]
    nan = tanh_answers(lambda *a: {k: v * np.nan for k, v in twolayer_backward(
        *a, layer2="tanh").items()})
    assert not verdicts.judge_cell(HIDDEN, executed(nan, MEMORY_RIGHT))[0]


def test_stored_self_check_values_are_up_to_date():
    # Failing: coursetools.references changed and lecture_lib/check/expected.json was
    # not rewritten (python -m coursetools.expected).
    assert expected.main(["--check"]) == 0


def test_lecture_lib_holds_no_answer():
    # Failing: a self-check computes a graded exercise's answer again (the reference
    # code a submission could import), instead of comparing with stored values.
    import pathlib
    import lecture_lib.check as check
    sources = {p.name: p.read_text() for p in
               pathlib.Path(check.__file__).parent.glob("*.py")}
    answers = ["reference_backward", "_reference_depth", "expected_best_of",
               "numerical_gradient as", "functional import softmax", "_INITS",
               "sqrt(6 /", "diagnostics import backprop", "def _reference("]
    found = [(name, a) for name, text in sources.items() for a in answers if a in text]
    assert not found, found
    assert not hasattr(check, "reference_backward")


def test_every_recorded_task_has_a_reference_and_inputs():
    # Failing: a hidden test records a task the grader cannot judge (it would score 0
    # for every student) or records it with options its inputs do not take.
    import nbformat
    from coursetools.references import REFERENCES
    from lecture_lib.check._cases import TASKS
    from coursetools.course import chapters
    seen = set()
    for path in chapters():
        for cell in nbformat.read(path, as_version=4).cells:
            if "### BEGIN HIDDEN TESTS" in cell.source:
                for task, _, options in verdicts.record_calls(cell.source):
                    assert task in REFERENCES and task in TASKS, (path.name, task)
                    assert inputs(task, **options), (path.name, task)
                    seen.add(task)
    assert seen <= set(REFERENCES) == set(TASKS)


def test_a_tuple_of_values_is_recorded_under_its_names():
    calls = verdicts.record_calls('check.record("batch_runs", (h100, ref))')
    assert calls == [("batch_runs", "h100, ref", {})]
    with pytest.raises(verdicts.RecordSpecError):
        verdicts.record_calls('check.record("batch_runs", runs["a"])')


def test_tables_travel_with_their_labels():
    import pandas as pd
    from lecture_lib.check._codec import decode
    frame = pd.DataFrame({"diverged at": [None, 3], "trained": [True, False]},
                         index=pd.Index([0.001, 0.1], name="lr"))
    back = decode(json.loads(json.dumps(encode(frame))))
    assert list(back.index) == [0.001, 0.1] and list(back.columns) == list(frame)
    assert np.isnan(back.iloc[0, 0]) and back.iloc[1, 0] == 3 and back.iloc[0, 1] == 1
    series = decode(encode(pd.Series({"matrix products": 7, "Adam update": 2})))
    assert series["Adam update"] == 2 and decode(encode(None)) is None
    for forged in ({"frame": {"index": [0], "columns": ["a"], "values": encode([1.0])}},
                   {"series": {"index": [[1]], "values": encode([1.0])}}):
        with pytest.raises(ValueError):
            decode(forged)


def test_forbidden_calls_are_found():
    src = ("import torch\ndef backward_tanh(p, X, y):\n    t = torch.tensor(X)\n"
           "    loss.backward()\n    return twolayer.backward(p, X, y)\n")
    assert forbidden.forbidden_uses(src) == ["loss.backward", "torch", "torch.tensor",
                                             "twolayer.backward"]
    assert forbidden.forbidden_uses("def f(x):\n    return x.T @ x\n") == []
    assert forbidden.forbidden_uses("def (:") == []


def test_teaching_code_that_is_the_answer_is_flagged_in_its_exercise():
    # The library keeps gradcheck.numerical_gradient (chapter 4's teaching); calling it
    # in the exercise that asks for it is flagged, under any name it is imported as.
    names = forbidden.HAND_DERIVED["ex-gradcheck-central"]
    for src in ("g = gradcheck.numerical_gradient(f, x)",
                "from lecture_lib import gradcheck as gc\ng = gc.numerical_gradient(f, x)",
                "from lecture_lib.gradcheck import numerical_gradient as ng"):
        assert forbidden.forbidden_uses(src, names), src
    own = "def numerical_gradient(f, x, h=1e-5):\n    return 0\nnumerical_gradient(f, x)"
    assert forbidden.forbidden_uses(own, names) == []
    assert forbidden.forbidden_uses("n = diagnostics.weight_grad_norms(m, X, y)",
                                    forbidden.HAND_DERIVED["ex-products-norms"])


def test_the_instructors_solutions_are_not_flagged():
    # Failing: a forbidden name is one the solutions use (every student would be
    # flagged), or HAND_DERIVED names an exercise no chapter has.
    import nbformat
    from coursetools.assign import grade_id
    from coursetools.course import chapters
    labels = {}
    for path in chapters():
        for cell in nbformat.read(path, as_version=4).cells:
            gid = grade_id(cell) or ""
            label = gid.rsplit("-", 1)[0]
            if gid.endswith("-code") and label in forbidden.HAND_DERIVED:
                labels[label] = forbidden.forbidden_uses(
                    cell.source, forbidden.HAND_DERIVED[label])
    assert set(labels) == set(forbidden.HAND_DERIVED)
    assert not any(labels.values()), labels


@pytest.mark.parametrize("entry, status", [
    (None, "not graded"),
    ({"job": {"failed": {"ex-a-code": "died"}, "events": []}},
     "kernel died in ex-a-code"),
    ({"job": {"failed": {"ex-a-code": "timeout"}, "events": []}},
     "timeout in ex-a-code"),
    ({"job": {"failed": {}, "events": []}, "tampering": ["x"]}, "tampering detected"),
    ({"job": {"failed": {}, "events": ["output capped in cell 3: 9 bytes dropped"]}},
     "output capped"),
    ({"job": {"failed": {}, "events": []}, "flagged": ["ex-a-code: torch"]},
     "flagged (forbidden call)"),
    ({"job": {"failed": {}, "events": []}}, "graded normally"),
])
def test_report_status(entry, status):
    assert report.status_of(entry)[0].startswith(status)
