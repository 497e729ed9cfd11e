r"""Self-checks for hand-derived gradients of chapter 2, and the helpers the two-layer
checks (:mod:`lecture_lib.check._twolayer`, chapter 3) share.

Each check calls the student's function on random inputs and, when something is wrong,
says what in the lecture's terms: a shape and the transposition that fixes it, a missing
ReLU mask, a missing $1/N$, a flipped sign.

Shapes use the lecture's letters: X (N, P), W1 (P, K1), b1 (K1,), W2 (K1, K2), b2 (K2,),
beta (K2,), a (), y (N,) in {0, 1}; the loss is the MEAN binary cross-entropy.

Checks
------
- :func:`logreg_grads` ``fn(W, b, X, y) -> (dW, db)``: logistic regression;
- :func:`tanh_backward` ``fn(out, upstream) -> grad``: a tanh node;
- :func:`reused_node` ``fn(x, y) -> (dg_dx, dg_dy)`` for $g = (x + y)\,x$.
"""
from __future__ import annotations

import numpy as np

from ..notation import SHAPE_LETTERS, lettered, shape_str
from ._base import CheckFailed, ok, rel_error
from ._cases import logistic_data, tanh_nodes
from ._stored import stored

__all__ = ["logreg_grads", "tanh_backward", "reused_node"]

TOL = 1e-6     # students compute in float64; the reference agrees with itself to ~1e-15
# (N, P, K1, K2): every size different within a case, so a transpose has the wrong shape
CASES = ((6, 5, 7, 3), (4, 9, 2, 6), (5, 11, 8, 3))
# The product that gives each matrix gradient the right orientation.
FORMULA = {"W1": "X.T @ dq1", "W2": "h1.T @ dq2", "X": "dq1 @ W1.T",
           "beta": "h2.T @ dz", "b1": "dq1.sum(axis=0)", "b2": "dq2.sum(axis=0)",
           "a": "dz.sum()"}


# --------------------------------------------------------------------------- helpers
def _lettered(name, shape):
    """``(P, K1) = (5, 7)``; for the scalar a, what it is and what it got."""
    if SHAPE_LETTERS[name]:
        return lettered(name, shape)
    return f"() (a scalar), got shape {shape_str(shape)}"


def _scale_factor(got, ref):
    """c with got = c * ref exactly (up to rounding), or None."""
    ref = np.asarray(ref, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    denom = float(np.sum(ref * ref))
    if denom == 0.0:
        return None
    c = float(np.sum(got * ref)) / denom
    return c if rel_error(got, c * ref) < TOL else None


def _scale_hint(c, N, what="dz = (sigmoid(z) - y) / N"):
    """Say what a gradient off by the factor c means, or None."""
    near = lambda v: rel_error(c, v) < TOL                         # noqa: E731
    if near(N):
        return (f"it is N = {N} times too large: the loss is the MEAN over the N "
                f"observations, so the 1/N belongs in the gradient ({what}); you "
                f"summed instead of averaging")
    if near(1 / N):
        return (f"it is N = {N} times too small: the 1/N of the mean was applied twice "
                f"(it enters once, in dz, and every gradient below inherits it)")
    if near(-1):
        return ("it has the wrong sign: dL/dz = sigmoid(z) - y (prediction minus "
                "label), not y - sigmoid(z)")
    if near(-N):
        return (f"it has the wrong sign AND is N = {N} times too large (a sum instead "
                f"of a mean)")
    return f"it is exactly {c:.4g} times the correct gradient: a constant factor is off"


def _call(fn, args, describe):
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except Exception as err:      # the student's code failed: say on which shapes
        raise CheckFailed(f"your function raised {type(err).__name__}: {err}\n"
                          f"on the inputs {describe}") from err


# -------------------------------------------------------------------- the whole network
def _shape_hint(name, got_shape, want_shape, sizes):
    N, P, K1, K2 = sizes
    if len(want_shape) == 2 and got_shape == want_shape[::-1]:
        return (f"d{name} has shape {shape_str(SHAPE_LETTERS[name][::-1])} = "
                f"{shape_str(got_shape)}, expected {_lettered(name, want_shape)}: you "
                f"computed its transpose; use {FORMULA[name]}")
    if name in ("b1", "b2", "beta") and len(got_shape) == 2 and got_shape[0] == N:
        return (f"d{name} has shape (N, {SHAPE_LETTERS[name][0]}) = "
                f"{shape_str(got_shape)}, expected "
                f"{_lettered(name, want_shape)}: one row per observation; a "
                f"parameter's "
                f"gradient sums the observations' contributions: {FORMULA[name]}")
    if name == "a" and got_shape == (N,):
        return (f"da has shape (N,) = {shape_str(got_shape)}, expected () (a scalar): "
                f"sum the "
                f"observations' contributions, {FORMULA['a']}")
    if N in got_shape and got_shape.count(N) == 2:
        return (f"d{name} has shape {shape_str(got_shape)}, expected "
                f"{_lettered(name, want_shape)}: an (N, N) = ({N}, {N}) array appears "
                f"when an (N,) vector meets an (N, 1) column and numpy broadcasts "
                f"them; keep dz of shape (N,)")
    return (f"d{name} has shape {shape_str(got_shape)}, expected "
            f"{_lettered(name, want_shape)} (a gradient has the shape of what it "
            f"differentiates)")


def _error_table(got, ref, keys):
    lines = ["  gradient  relative error"]
    for k in keys:
        if k not in got:
            cell = "missing"
        elif (np.shape(got[k]) != np.shape(ref[k])
              and not (k == "a" and np.size(got[k]) == 1)):
            cell = f"shape {shape_str(np.shape(got[k]))}"
        else:
            err = rel_error(np.reshape(got[k], np.shape(ref[k])), ref[k])
            cell = f"{err:.1e}" + ("" if err < TOL else "   <- wrong")
        lines.append(f"  d{k:<8s}{cell}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- chapter 2
LOGREG_CASES = ((6, 3), (4, 7), (9, 2))      # (N, P), N != P
TANH_SHAPES = ((5,), (3, 4))
REUSE_POINTS = ((1.2, -0.7), (-2.5, 0.4), (0.3, 3.1))
SEED = 0


def logreg_grads(student_fn):
    r"""Check ``student_fn(W, b, X, y) -> (dW, db)`` for logistic regression.

    W: (P, 1), b: a float; X: (N, P); y: (N,) in {0, 1}. The loss is the MEAN binary
    cross-entropy of $\sigma(X W + b)$; dW has the shape of W, db is a scalar. Compared
    with stored values for fixed random data sets.
    """
    table = stored("logreg_grads")
    for n, (W, b, X, y) in enumerate(logistic_data(LOGREG_CASES, SEED)):
        N, P = X.shape
        dW_ref, db_ref = table["expected"][n]
        describe = (f"W {shape_str(W.shape)}, b a float, X {shape_str(X.shape)}, y "
                    f"{shape_str(y.shape)}")
        out = _call(student_fn, (W, b, X, y), describe)
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise CheckFailed(f"logreg_grads must return the pair (dW, db); got "
                              f"{type(out).__name__}")
        dW, db = (np.asarray(v, dtype=np.float64) for v in out)
        where = f"On {describe}:\n"
        if dW.shape != (P, 1):
            raise CheckFailed(where + _logreg_shape_hint(dW.shape, N, P))
        if db.size != 1:
            raise CheckFailed(where + f"db has shape {shape_str(db.shape)}, expected a "
                                      f"scalar: b is added to every observation, so "
                                      f"sum the contributions, (p - y).sum() / N")
        for name, got, ref in (("dW", dW, dW_ref), ("db", db.reshape(()), db_ref)):
            if rel_error(got, ref) < TOL:
                continue
            c = _scale_factor(got, ref)
            if c is not None:
                raise CheckFailed(where + f"{name} is wrong: "
                                  + _scale_hint(c, N, "(p - y) / N"))
            raise CheckFailed(where + f"{name} is wrong (relative error "
                                      f"{rel_error(got, ref):.1e}); dW is X.T times "
                                      f"(sigmoid(z) - y) / N, db their sum")
    ok(f"dW and db correct on {len(LOGREG_CASES)} random data sets (N != P), e.g. N, "
       f"P = {LOGREG_CASES[0][0]}, {LOGREG_CASES[0][1]}")


def _logreg_shape_hint(shape, N, P):
    if shape == (1, P):
        return (f"dW has shape (1, P) = (1, {P}), expected (P, 1) = ({P}, 1): you "
                f"computed its transpose; use X.T @ (p - y) with p - y a column")
    if shape == (P,):
        return (f"dW has shape (P,) = ({P},), expected (P, 1) = ({P}, 1), the shape of "
                f"W: reshape it, dW.reshape(-1, 1)")
    if N in shape:
        return (f"dW has shape {shape_str(shape)}, expected (P, 1) = ({P}, 1): X @ W "
                f"is an (N, 1) column and y an (N,) vector, and (N, 1) - (N,) "
                f"broadcasts to (N, N); use y.reshape(-1, 1) (or X @ W[:, 0])")
    return (f"dW has shape {shape_str(shape)}, expected (P, 1) = ({P}, 1), the shape "
            f"of W")


_TANH_HINTS = {
    "tanh again": "you applied tanh to the output again: the argument is already out = "
                  "tanh(u), so the local gradient is 1 - out**2",
    "local alone": "it is the local gradient alone: multiply it by the upstream "
                   "gradient",
    "sigmoid": "out * (1 - out) is the derivative of the sigmoid; for tanh it is "
               "1 - out**2",
    "square of 1 - out": "(1 - out)**2 is not 1 - out**2",
}


def tanh_backward(student_fn):
    r"""Check ``student_fn(out, upstream) -> grad``: the backward pass of a tanh node.

    out: the node's output $t = \tanh(u)$ (any shape); upstream: $\partial L/\partial t$
    (same shape). Returns $\partial L/\partial u$, the shape of u, written with the
    OUTPUT t as the engine stores it. Compared with stored values.
    """
    table = stored("tanh_backward")
    for n, (out, up) in enumerate(tanh_nodes(TANH_SHAPES, SEED)):
        ref = table["expected"][n]
        describe = f"out {shape_str(out.shape)}, upstream {shape_str(up.shape)}"
        got = np.asarray(_call(student_fn, (out, up), describe), dtype=np.float64)
        if got.shape != ref.shape:
            raise CheckFailed(f"the gradient has shape {shape_str(got.shape)}, "
                              f"expected {shape_str(ref.shape)}, the shape of u")
        if rel_error(got, ref) < TOL:
            continue
        hint = next((h for m, h in _TANH_HINTS.items()
                     if rel_error(got, table["mistakes"][m][n]) < TOL), None)
        c = _scale_factor(got, ref)
        if hint is None and c is not None and rel_error(c, -1) < TOL:
            hint = "the sign is flipped: d tanh(u)/du = 1 - tanh(u)**2 is positive"
        raise CheckFailed("the gradient is wrong: " + (hint or (
            f"relative error {rel_error(got, ref):.1e}; the local gradient of tanh, "
            f"written with out, times the upstream gradient")))
    ok("tanh backward correct on random inputs")


def reused_node(student_fn):
    r"""Check ``student_fn(x, y) -> (dg_dx, dg_dy)`` for $g(x, y) = (x + y)\,x$
    (scalars): x enters g twice, through $s = x + y$ and as the second factor of
    $s \cdot x$, and the two paths add. Compared with stored values."""
    table = stored("reused_node")
    for n, (x, y) in enumerate(REUSE_POINTS):
        got = _call(student_fn, (x, y), f"x = {x:.3f}, y = {y:.3f}")
        if not (isinstance(got, (tuple, list)) and len(got) == 2):
            raise CheckFailed(f"return the pair (dg_dx, dg_dy); got "
                              f"{type(got).__name__}")
        dx, dy = (float(np.asarray(v).reshape(())) for v in got)
        want_dx, want_dy = (float(v) for v in table["expected"][n])
        where = f"At x = {x:.3f}, y = {y:.3f}: "
        if not rel_error(dy, want_dy) < TOL:
            raise CheckFailed(where + f"dg/dy = {dy:.4g}, expected {want_dy:.4g} (the "
                                      f"local gradient of s = x + y is 1, times the "
                                      f"upstream dg/ds)")
        if rel_error(dx, want_dx) < TOL:
            continue
        if rel_error(dx, float(table["mistakes"]["second factor only"][n][0])) < TOL:
            raise CheckFailed(where + f"dg/dx = {dx:.4g} counts only the path where x "
                                      f"is the second factor; x also enters s = x + y")
        if rel_error(dx, float(table["mistakes"]["through s only"][n][0])) < TOL:
            raise CheckFailed(where + f"dg/dx = {dx:.4g} counts only the path "
                                      f"through s = x + y; x is also the second "
                                      f"factor of s * x")
        raise CheckFailed(where + f"dg/dx = {dx:.4g}, expected {want_dx:.4g}: add the "
                                  f"contributions of both paths from x to g")
    ok("both paths through the reused x add up, on 3 points")
