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


def test_lecture_lib_holds_no_answer_of_chapter_3():
    import lecture_lib.check as check
    from lecture_lib.check import _gradients
    assert not hasattr(_gradients, "reference_backward")
    assert not hasattr(check, "reference_backward")


def test_forbidden_calls_are_found():
    src = ("import torch\ndef backward_tanh(p, X, y):\n    t = torch.tensor(X)\n"
           "    loss.backward()\n    return twolayer.backward(p, X, y)\n")
    assert forbidden.forbidden_uses(src) == ["loss.backward", "torch", "torch.tensor",
                                             "twolayer.backward"]
    assert forbidden.forbidden_uses("def f(x):\n    return x.T @ x\n") == []
    assert forbidden.forbidden_uses("def (:") == []


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
