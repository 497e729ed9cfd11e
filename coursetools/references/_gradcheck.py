r"""The grader's references of chapter 4, "Checking gradients": central differences,
the softmax cross-entropy and its gradient, the predicted bottoms of the finite
difference error.

Shapes: x any shape (float64); Z (N, K) logits, y (N,) integer labels.
"""
from __future__ import annotations

import numpy as np

from lecture_lib.check import _gradcheck as selfcheck
from lecture_lib.check._tasks import functions_at, logit_batches
from lecture_lib.functional import softmax, softmax_cross_entropy
from lecture_lib.gradcheck import numeric_floor

from ..comparing import compare, within_factor
from ._entries import entry

__all__ = ["central_differences", "softmax_ce", "softmax_ce_grad", "predicted_bottoms"]

TOL = 1e-7       # a central difference against another at the same h: rounding only


def _differences(f, x, h, kind="central"):
    """Differences of ``f`` (which reads ``x``) one coordinate at a time, x perturbed in
    place and put back: ``central`` (f(x + h e_j) - f(x - h e_j)) / 2h, ``forward``
    (f(x + h e_j) - f(x)) / h."""
    grad, f0 = np.zeros_like(x), f(x)
    for j in np.ndindex(x.shape):
        old = x[j]
        x[j] = old + h
        f_plus = f(x)
        x[j] = old - h
        f_minus = f(x) if kind == "central" else None
        x[j] = old
        grad[j] = ((f_plus - f_minus) / (2 * h) if kind == "central"
                   else (f_plus - f0) / h)
    return grad


def central_differences(f, x, h):
    """The gradient of ``f`` at ``x`` by central differences, x as it was."""
    return _differences(f, x, h)


def _numerical_gradient(args, **_):
    f, x, h = args
    x0 = x.copy()
    return [central_differences(f, x, h), x0]


def _judge_numerical_gradient(got, ref, args, options):
    """[gradient, x after the call]: the gradient to 1e-7 of the grader's central
    difference (entries below numeric_floor(h) to an absolute error), x bit for bit."""
    if not (isinstance(got, list) and len(got) == 2):
        return "the record is not [gradient, x]"
    h = args[2]
    problem = compare(got[0], ref[0], "the gradient", TOL, numeric_floor(h))
    if problem:
        return problem + " against central differences"
    x_after = np.asarray(got[1], dtype=np.float64)
    if x_after.shape != ref[1].shape or not np.array_equal(x_after, ref[1]):
        return "x is not restored exactly (put back old = x[j], not x[j] - h)"
    return None


def softmax_ce(Z, y):
    """The MEAN softmax cross-entropy, a float (lecture_lib.functional's: the logits
    shifted by their row maximum)."""
    return float(softmax_cross_entropy(Z, y)[0])


def _onehot(y, K):
    out = np.zeros((len(y), K))
    out[np.arange(len(y)), y] = 1.0
    return out


def softmax_ce_grad(Z, y):
    """dL/dZ (N, K) = (softmax(Z) - onehot(y)) / N."""
    return (softmax(Z, axis=1) - _onehot(y, Z.shape[1])) / len(y)


def predicted_bottoms():
    """The orders of magnitude of the best step and the smallest error: eps^(1/3) and
    eps^(2/3) for central, sqrt(eps) for both of forward differences, per dtype."""
    import pandas as pd
    rows = {}
    for name in ("float32", "float64"):
        eps = float(np.finfo(name).eps)
        rows[f"central, {name}"] = {"best h": eps ** (1 / 3),
                                    "smallest relative error": eps ** (2 / 3)}
        rows[f"forward, {name}"] = {"best h": eps ** 0.5,
                                    "smallest relative error": eps ** 0.5}
    return pd.DataFrame(rows).T


REFERENCES = {"numerical_gradient": _numerical_gradient,
              "softmax_ce": lambda args, **_: softmax_ce(*args),
              "softmax_ce_grad": lambda args, **_: softmax_ce_grad(*args),
              "predicted_bottoms": lambda args, **_: predicted_bottoms()}
COMPARATORS = {
    "numerical_gradient": _judge_numerical_gradient,
    # orders of magnitude: the exercise's predictions leave out the constants |L|,
    # |L''|, |L'''| of the error model
    "predicted_bottoms": lambda got, ref, args, options: within_factor(
        got, ref, 10, "predicted_bottoms()"),
}
MISTAKES = {
    "numerical_gradient": {
        "one-sided": lambda a, **_: _differences(*a, kind="forward"),
    },
    "softmax_ce_grad": {
        "sum": lambda a, **_: softmax_ce_grad(*a) * len(a[1]),
        "no one-hot": lambda a, **_: softmax(a[0], axis=1) / len(a[1]),
        "columns": lambda a, **_: (softmax(a[0], axis=0)
                                   - _onehot(a[1], a[0].shape[1])) / len(a[1]),
    },
}


def _self_check_functions():
    return (functions_at(*selfcheck.GRADIENT_CASES, kind="cubic")
            + functions_at(*selfcheck.ORDER_CASE, kind="cubic"))


def stored_entries():
    mistakes = lambda task: {name: (lambda a, f=f: f(a))               # noqa: E731
                             for name, f in MISTAKES[task].items()}
    return {
        "numerical_gradient": entry(
            _self_check_functions(), lambda a: central_differences(*a),
            mistakes("numerical_gradient")),
        "softmax_cross_entropy_grad": entry(
            logit_batches(selfcheck.SOFTMAX_CASES, selfcheck.SEED),
            lambda a: softmax_ce_grad(*a), mistakes("softmax_ce_grad")),
    }

