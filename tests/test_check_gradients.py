"""The gradient self-checks: each passes the reference and names the typical mistakes.

The chapter 3 checks compare with stored values; the references they were made from
live in coursetools (the grader's), which these tests use as a correct answer.

A failing test here means a student with a correct answer is told it is wrong, or a student
with a typical wrong answer (transposed dW1, missing ReLU mask, sum instead of mean, flipped
sign) gets no specific hint.
"""
import numpy as np
import pytest

from lecture_lib import check, twolayer
from coursetools.references import twolayer_backward as reference_backward
from check_failures import check_fails


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def buggy_backward(bug):
    """twolayer.backward's chain with one typical bug."""
    def backward(params, X, y):
        W1, b1, W2, b2, beta, a = (params[k] for k in twolayer.PARAM_KEYS)
        N = X.shape[0]
        q1 = X @ W1 + b1
        h1 = np.maximum(q1, 0)
        q2 = h1 @ W2 + b2
        h2 = np.maximum(q2, 0)
        z = h2 @ beta + a
        dz = (_sigmoid(z) - y) / (1 if bug == "sum" else N)
        if bug == "sign":
            dz = -dz
        dh2 = np.outer(dz, beta)
        dq2 = dh2 * (h2 >= 0) if bug == "mask_on_h" else dh2 * (q2 > 0)
        dh1 = dq2 @ W2.T
        dq1 = dh1 if bug == "no_mask1" else dh1 * (q1 > 0)
        dW1 = dq1.T @ X if bug == "transposed_W1" else X.T @ dq1
        dW2 = dq2.T @ h1 if bug == "transposed_W2" else h1.T @ dq2
        db1 = dq1 if bug == "bias_rows" else dq1.sum(axis=0)
        return {"W1": dW1, "b1": db1, "W2": dW2, "b2": dq2.sum(axis=0), "beta": h2.T @ dz,
                "a": dz.sum()}
    return backward


def test_grader_reference_equals_the_books_backward():
    # Failing: the grader's reference and the chapter's twolayer.backward disagree, so
    # the stored values would not be what the chapter teaches.
    params = twolayer.init_params(5, 7, 3)
    X = np.random.default_rng(1).normal(size=(6, 5))
    y = np.array([0, 1, 1, 0, 1, 0.0])
    ref, ours = twolayer.backward(params, X, y), reference_backward(params, X, y)
    for k in ref:
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-12, atol=1e-15)


def test_gradients_passes_reference(capsys):
    check.gradients(twolayer.backward)
    check.gradients(lambda p, X, y: reference_backward(p, X, y, layer2="tanh"), layer2="tanh")
    assert capsys.readouterr().out.count("\u2713") == 2


@pytest.mark.parametrize("bug, pattern", [
    ("transposed_W1", r"dW1 has shape \(K1, P\) = \(7, 5\), expected \(P, K1\) = \(5, 7\): you computed its transpose; use X\.T @ dq1"),
    ("transposed_W2", r"dW2 has shape \(K2, K1\) = \(3, 7\).*transpose; use h1\.T @ dq2"),
    ("mask_on_h", r"db2 is wrong: you left out the local gradient of layer 2: dq2 = dh2 \* \(q2 > 0\)"),
    ("no_mask1", r"db1 is wrong: you left out the ReLU mask of layer 1"),
    ("sum", r"da is wrong: it is N = 6 times too large.*summed instead of averaging"),
    ("sign", r"da is wrong: it has the wrong sign"),
    ("bias_rows", r"db1 has shape \(N, K1\) = \(6, 7\).*dq1\.sum\(axis=0\)"),
])
def test_gradients_diagnoses_typical_bugs(bug, pattern):
    with check_fails(pattern) as info:
        check.gradients(buggy_backward(bug))
    assert "relative error" in info.value.message               # the per-gradient table


def test_gradients_table_lists_every_gradient():
    with check_fails() as info:
        check.gradients(buggy_backward("no_mask1"))
    msg = info.value.message
    for k in ("da", "dbeta", "db2", "dW2", "db1", "dW1"):
        assert f"  {k}" in msg
    assert msg.count("<- wrong") == 2                        # db1 and dW1; the rest is right


def test_gradients_tanh_layer_diagnoses_relu_mask():
    wrong = lambda p, X, y: reference_backward(p, X, y, layer2="tanh", mask2=False)  # noqa: E731
    with check_fails(r"dh2 \* \(1 - h2\*\*2\) for tanh"):
        check.gradients(wrong, layer2="tanh")


def test_gradients_missing_key_and_exception():
    with check_fails("lacks the key"):
        check.gradients(lambda p, X, y: {"W1": 0})
    with check_fails("(?s)raised ValueError.*N, P, K1, K2 = 6, 5, 7, 3"):
        check.gradients(lambda p, X, y: (_ for _ in ()).throw(ValueError("boom")))


def test_single_step_checks_pass_reference(capsys):
    check.grad_W1(lambda X, dq1: X.T @ dq1)
    check.grad_W2(lambda h1, dq2: h1.T @ dq2)
    check.grad_h1(lambda dq2, W2: dq2 @ W2.T)
    check.grad_b1(lambda dq1: dq1.sum(axis=0))
    check.relu_backward(lambda dh, q: dh * (q > 0))
    assert capsys.readouterr().out.count("\u2713") == 5


def test_grad_W1_transposed_and_double_mean():
    with check_fails(r"dW1 has shape \(K1, P\) = \(7, 5\), expected \(P, K1\) = \(5, 7\): you computed its transpose; use X\.T @ dq1"):
        check.grad_W1(lambda X, dq1: dq1.T @ X)
    with check_fails("already inside the upstream gradient"):
        check.grad_W1(lambda X, dq1: X.T @ dq1 / X.shape[0])


def test_grad_b1_mean_vs_sum_and_wrong_axis():
    with check_fails(r"you averaged over the observations \(mean\).*SUM"):
        check.grad_b1(lambda dq1: dq1.mean(axis=0))
    with check_fails(r"summed over the units \(axis=1\)"):
        check.grad_b1(lambda dq1: dq1.sum(axis=1))


def test_relu_backward_missing_mask_and_wrong_mask():
    with check_fails("the ReLU mask is missing"):
        check.relu_backward(lambda dh, q: dh * (np.maximum(q, 0) >= 0))
    with check_fails("must come from the forward input q"):
        check.relu_backward(lambda dh, q: dh * (dh > 0))


def test_grad_W2_and_h1_transposed():
    with check_fails(r"transpose; use h1\.T @ dq2"):
        check.grad_W2(lambda h1, dq2: dq2.T @ h1)
    with check_fails(r"transpose; use dq2 @ W2\.T"):
        check.grad_h1(lambda dq2, W2: W2 @ dq2.T)


def _logreg(W, b, X, y, bug=None):
    N = X.shape[0]
    r = _sigmoid(X @ W[:, 0] + b) - y
    if bug == "sign":
        r = -r
    if bug != "sum":
        r = r / N
    dW = X.T @ r
    if bug == "transposed":
        return dW[None, :], r.sum()
    if bug == "broadcast":                   # (N, 1) - (N,) -> (N, N)
        R = _sigmoid(X @ W + b) - y
        return X.T @ R / N, R.sum() / N
    return dW.reshape(-1, 1), r.sum()


def test_logreg_grads(capsys):
    check.logreg_grads(_logreg)
    assert "\u2713" in capsys.readouterr().out
    with check_fails("N = 6 times too large"):
        check.logreg_grads(lambda *a: _logreg(*a, bug="sum"))
    with check_fails(r"dW has shape \(1, P\) = \(1, 3\).*transpose"):
        check.logreg_grads(lambda *a: _logreg(*a, bug="transposed"))
    with check_fails("wrong sign"):
        check.logreg_grads(lambda *a: _logreg(*a, bug="sign"))
    with check_fails(r"broadcasts to\s+\(N, N\)"):
        check.logreg_grads(lambda *a: _logreg(*a, bug="broadcast"))


def test_tanh_backward():
    check.tanh_backward(lambda out, up: (1 - out ** 2) * up)
    with check_fails("applied tanh to the output again"):
        check.tanh_backward(lambda out, up: (1 - np.tanh(out) ** 2) * up)
    with check_fails("local gradient alone"):
        check.tanh_backward(lambda out, up: 1 - out ** 2)
    with check_fails("derivative of the sigmoid"):
        check.tanh_backward(lambda out, up: out * (1 - out) * up)


def test_reused_node():
    check.reused_node(lambda x, y: (2 * x + y, x))
    with check_fails("counts only the path where x is the second factor"):
        check.reused_node(lambda x, y: (x + y, x))
    with check_fails("counts only the path through"):
        check.reused_node(lambda x, y: (x, x))


def test_jacobian_memory(capsys):
    check.jacobian_memory(lambda K1, K2, nb: (K2 * K1 * K2 * nb, K1 * K2 * nb))
    assert "8.4 MB" in capsys.readouterr().out
    with check_fails("size of the outer product"):
        check.jacobian_memory(lambda K1, K2, nb: (K1 * K2 * nb, K1 * K2 * nb))
    with check_fails("K2 outputs, not K1"):
        check.jacobian_memory(lambda K1, K2, nb: (K1 * K1 * K2 * nb, K1 * K2 * nb))
    with check_fails("number of entries"):
        check.jacobian_memory(lambda K1, K2, nb: (K2 * K1 * K2, K1 * K2 * nb))
