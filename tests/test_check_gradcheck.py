"""lecture_lib.check.numerical_gradient: passes a correct central difference and names
each typical mistake. If a test fails, students get a wrong verdict or a misleading hint
in chapter 4."""
import numpy as np
import pytest

from coursetools.references._gradcheck import softmax_ce_grad as ce_grad
from lecture_lib import check
from lecture_lib.functional import softmax
from lecture_lib.gradcheck import numerical_gradient as reference
from check_failures import check_fails
from numerical_gradient_answers import (all_at_once, central, copy_not_inplace,
                                        divide_by_h, forward, never_restore,
                                        restore_by_arithmetic)


def test_passes_the_reference(capsys):
    check.numerical_gradient(central)
    check.numerical_gradient(lambda f, x, h=1e-6: reference(f, x, h=h))
    assert capsys.readouterr().out.startswith("\u2713")


@pytest.mark.parametrize("student, hint", [
    (forward, "order h"),
    (divide_by_h, "twice the right value"),
    (copy_not_inplace, "perturb x in place"),
    (restore_by_arithmetic, "x + h - h is not always x"),
    (never_restore, "Every perturbation must be undone"),
    (all_at_once, "one coordinate e_j at a time"),
    (lambda f, x, h=1e-5: central(f, x, h)[..., None], "must have the shape of x"),
    (lambda f, x, h=1e-5: None, "returned None"),
])
def test_names_the_mistake(student, hint):
    with check_fails(hint.replace("^", r"\^").replace("+", r"\+")):
        check.numerical_gradient(student)


# ---- check.softmax_cross_entropy_grad ------------------------------------------------
def _onehot(y, C):
    Y = np.zeros((len(y), C))
    Y[np.arange(len(y)), y] = 1
    return Y


def test_softmax_grad_passes_the_reference_and_the_engine(capsys):
    from lecture_lib.autodiff import Tensor, softmax_cross_entropy

    def engine(Z, y):
        t = Tensor(Z, requires_grad=True)
        softmax_cross_entropy(t, y).backward()
        return t.grad
    check.softmax_cross_entropy_grad(ce_grad)
    check.softmax_cross_entropy_grad(engine)
    assert capsys.readouterr().out.count("\u2713") == 2


def _unstable(Z, y):
    e = np.exp(Z)
    return (e / e.sum(axis=1, keepdims=True) - _onehot(y, Z.shape[1])) / len(y)


@pytest.mark.parametrize("student, hint", [
    (lambda Z, y: ce_grad(Z, y) * len(y), "divide by N"),
    (lambda Z, y: softmax(Z, axis=1) / len(y), "without the one-hot term"),
    (lambda Z, y: -ce_grad(Z, y), "sign is flipped"),
    (lambda Z, y: (softmax(Z, axis=0) - _onehot(y, Z.shape[1])) / len(y), "axis=0"),
    (_unstable, "subtract each row's maximum"),
    (lambda Z, y: ce_grad(Z, y).T, "is it transposed"),
])
def test_softmax_grad_names_the_mistake(student, hint):
    with check_fails(hint):
        check.softmax_cross_entropy_grad(student)


def test_a_failing_check_is_the_same_on_every_run():
    # The inputs are fixed (their stored central differences are in expected.json): a
    # failing check sees the same x and says the same thing on every run, so a student
    # or a grader can reproduce it.
    def seen():
        xs = []
        def student(f, x, h=1e-5):
            xs.append(x.copy())
            return forward(f, x, h)
        with check_fails() as err:
            check.numerical_gradient(student)
        return xs[0], err.value.message

    (x1, m1), (x2, m2) = seen(), seen()
    assert np.array_equal(x1, x2) and m1 == m2
    logits = []
    def wrong_sign(Z, y):
        logits.append(Z.copy())
        return -ce_grad(Z, y)
    for _ in range(2):
        with check_fails("sign is flipped"):
            check.softmax_cross_entropy_grad(wrong_sign)
    assert np.array_equal(logits[0], logits[1])
