"""lecture_lib.check.log_loss_and_error: passes the reference (and sklearn itself) and names
each typical mistake. If a test fails, students get a wrong verdict or a misleading hint in
chapter 9."""
import numpy as np
import pytest
from sklearn.metrics import log_loss

from lecture_lib import check
from check_failures import check_fails


def rows(probs, y):
    return probs[np.arange(len(y)), y]


def reference(probs, y):
    eps = np.finfo(probs.dtype).eps
    return -np.log(np.clip(rows(probs, y), eps, 1 - eps)).mean(), np.mean(probs.argmax(axis=1) != y)


def with_sklearn(probs, y):
    return log_loss(y, probs, labels=range(probs.shape[1])), np.mean(probs.argmax(axis=1) != y)


@pytest.mark.parametrize("fn", [reference, with_sklearn])
def test_correct_answers_pass(fn, capsys):
    check.log_loss_and_error(fn)
    assert capsys.readouterr().out.startswith("\u2713")


MISTAKES = {
    "no minus sign": (lambda p, y: (np.log(np.clip(rows(p, y), 1e-16, 1)).mean(), reference(p, y)[1]),
                      "without the minus sign"),
    "sum, no 1/N": (lambda p, y: (reference(p, y)[0] * len(y), reference(p, y)[1]), "missing 1/N"),
    "mean over N*C": (lambda p, y: (reference(p, y)[0] / p.shape[1], reference(p, y)[1]), "N*C entries"),
    "predicted class": (lambda p, y: (-np.log(p.max(axis=1)).mean(), reference(p, y)[1]), "*predicted* class"),
    "log10": (lambda p, y: (-np.log10(np.clip(rows(p, y), np.finfo(p.dtype).eps, 1)).mean(), reference(p, y)[1]),
              "natural logarithm"),
    "no clipping": (lambda p, y: (-np.log(rows(p, y)).mean(), reference(p, y)[1]), "clip the probabilities"),
    "old eps": (lambda p, y: (-np.log(np.clip(rows(p, y), 1e-15, 1)).mean(), reference(p, y)[1]), "1e-15"),
    "accuracy": (lambda p, y: (reference(p, y)[0], np.mean(p.argmax(axis=1) == y)), "accuracy"),
    "count": (lambda p, y: (reference(p, y)[0], np.sum(p.argmax(axis=1) != y)), "divide by N"),
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_typical_mistakes_get_their_hint(name):
    fn, hint = MISTAKES[name]
    with np.errstate(divide="ignore"):
        with check_fails(hint.replace("*", r"\*")):
            check.log_loss_and_error(fn)


def test_a_wrong_return_type_is_explained():
    with check_fails(r"return a pair \(log_loss, error\)"):
        check.log_loss_and_error(lambda p, y: reference(p, y)[0])
