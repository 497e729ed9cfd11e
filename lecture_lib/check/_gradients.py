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

from ..functional import sigmoid as _sigmoid
from ..notation import CHAIN_ORDER, SHAPE_LETTERS, lettered, shape_str
from ._base import CheckFailed, ok, rel_error

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


def _check_one(fn, name, args, ref, letters, formula, describe, extra_variants=(),
               scale_hints=None):
    got = _call(fn, args, describe)
    got = np.asarray(got, dtype=np.float64)
    if got.shape != ref.shape:
        if ref.ndim == 2 and got.shape == ref.shape[::-1]:
            raise CheckFailed(f"{name} has shape {shape_str(letters[::-1])} = "
                              f"{shape_str(got.shape)}, expected {shape_str(letters)} "
                              f"= {shape_str(ref.shape)}: you computed its transpose; "
                              f"use {formula}")
        raise CheckFailed(f"{name} has shape {shape_str(got.shape)}, expected "
                          f"{shape_str(letters)} = {shape_str(ref.shape)}; use "
                          f"{formula}")
    err = rel_error(got, ref)
    if err < TOL:
        return
    for variant, hint in extra_variants:
        if rel_error(got, variant) < TOL:
            raise CheckFailed(f"{name} is wrong: {hint}")
    c = _scale_factor(got, ref)
    if c is not None and scale_hints:
        for value, hint in scale_hints:
            if rel_error(c, value) < TOL:
                raise CheckFailed(f"{name} is wrong: {hint}")
    if c is not None:
        raise CheckFailed(f"{name} is wrong: it is exactly {c:.4g} times the correct "
                          f"value; use {formula}")
    raise CheckFailed(f"{name} is wrong (relative error {err:.1e}); expected {formula}")


# --------------------------------------------------------------------------- chapter 2
LOGREG_CASES = ((6, 3), (4, 7), (9, 2))      # (N, P), N != P


def logreg_grads(student_fn, cases=LOGREG_CASES, rng=0):
    r"""Check ``student_fn(W, b, X, y) -> (dW, db)`` for logistic regression.

    W: (P, 1), b: a float; X: (N, P); y: (N,) in {0, 1}. The loss is the MEAN binary
    cross-entropy of $\sigma(X W + b)$. Expected $dW = X^\top(\sigma(XW + b) - y)/N$ of
    shape (P, 1) and $db = \sum_i (\sigma(z_i) - y_i)/N$, a scalar.
    """
    rng = np.random.default_rng(rng)
    for N, P in cases:
        W, b = rng.normal(size=(P, 1)), float(rng.normal())
        X = rng.normal(size=(N, P))
        y = np.tile([0.0, 1.0], N)[:N]
        rng.shuffle(y)
        r = (_sigmoid(X @ W[:, 0] + b) - y) / N
        dW_ref, db_ref = (X.T @ r).reshape(P, 1), float(r.sum())
        describe = (f"W {shape_str(W.shape)}, b a float, X {shape_str(X.shape)}, y "
                    f"{shape_str(y.shape)}")
        out = _call(student_fn, (W.copy(), b, X.copy(), y.copy()), describe)
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise CheckFailed(f"logreg_grads must return the pair (dW, db); got "
                              f"{type(out).__name__}")
        dW, db = (np.asarray(v, dtype=np.float64) for v in out)
        where = f"On {describe}:\n"
        if dW.shape != (P, 1):
            if dW.shape == (1, P):
                hint = (f"dW has shape (1, P) = (1, {P}), expected (P, 1) = ({P}, 1): "
                        f"you computed its transpose; use X.T @ (p - y) with p - y a "
                        f"column")
            elif dW.shape == (P,):
                hint = (f"dW has shape (P,) = ({P},), expected (P, 1) = ({P}, 1), the "
                        f"shape of W: reshape it, dW.reshape(-1, 1)")
            elif dW.shape in ((P, N), (N, N)) or N in dW.shape:
                hint = (f"dW has shape {shape_str(dW.shape)}, expected (P, 1) = ({P}, "
                        f"1): X @ W is an (N, 1) column and y an (N,) vector, and (N, "
                        f"1) - (N,) broadcasts to (N, N); use y.reshape(-1, 1) (or X @ "
                        f"W[:, 0])")
            else:
                hint = (f"dW has shape {shape_str(dW.shape)}, expected (P, 1) = ({P}, "
                        f"1), the shape of W")
            raise CheckFailed(where + hint)
        if db.size != 1:
            hint = (f"db has shape {shape_str(db.shape)}, expected a scalar: b is "
                    f"added to every observation, so sum the contributions, (p - "
                    f"y).sum() / N")
            raise CheckFailed(where + hint)
        for name, got, ref in (("dW", dW, dW_ref),
                               ("db", db.reshape(()), np.asarray(db_ref))):
            if rel_error(got, ref) < TOL:
                continue
            c = _scale_factor(got, ref)
            if c is not None:
                hint = _scale_hint(c, N, "(p - y) / N")
                raise CheckFailed(where + f"{name} is wrong: " + hint)
            raise CheckFailed(where + f"{name} is wrong (relative error "
                                      f"{rel_error(got, ref):.1e}); "
                              f"expected dW = X.T @ (sigmoid(X @ W + b) - y) / N, "
                              f"db = (sigmoid(X @ W + b) - y).sum() / N")
    ok(f"dW and db correct on {len(cases)} random data sets (N != P), e.g. N, P = "
       f"{cases[0][0]}, {cases[0][1]}")


def tanh_backward(student_fn, rng=0):
    r"""Check ``student_fn(out, upstream) -> grad``: the backward pass of a tanh node.

    out: the node's output $t = \tanh(u)$ (any shape); upstream: $\partial L/\partial t$
    (same shape). Returns $\partial L/\partial u = (1 - t^2) \odot$ upstream, written
    with the OUTPUT t, as the engine stores it.
    """
    rng = np.random.default_rng(rng)
    for shape in ((5,), (3, 4)):
        out, up = np.tanh(rng.normal(size=shape) * 1.5), rng.normal(size=shape)
        ref = (1 - out ** 2) * up
        _check_one(student_fn, "the gradient", (out.copy(), up.copy()), ref,
                   ("...",) * len(shape), "(1 - out**2) * upstream",
                   f"out {shape_str(shape)}, upstream {shape_str(shape)}",
                   extra_variants=[
                       ((1 - np.tanh(out) ** 2) * up,
                        "you applied tanh to the output again: the argument is already "
                        "out = tanh(u), so the local gradient is 1 - out**2"),
                       (1 - out ** 2, "it is the local gradient alone: multiply it by "
                                      "the upstream gradient"),
                       (out * (1 - out) * up, "out * (1 - out) is the derivative of "
                                              "the sigmoid; for tanh it is 1 - out**2"),
                       ((1 - out) ** 2 * up, "(1 - out)**2 is not 1 - out**2"),
                   ],
                   scale_hints=[(-1, "the sign is flipped: d tanh(u)/du = 1 - "
                                     "tanh(u)**2 is positive")])
    ok("tanh backward: (1 - out**2) * upstream correct on random inputs")


def reused_node(student_fn, rng=0):
    r"""Check ``student_fn(x, y) -> (dg_dx, dg_dy)`` for $g(x, y) = (x + y)\,x$
    (scalars).

    x enters g twice, through $s = x + y$ and as the second factor of $s \cdot x$, so
    $\partial g/\partial x = x \cdot 1 + s = 2x + y$ (the two paths add) and
    $\partial g/\partial y = x$.
    """
    rng = np.random.default_rng(rng)
    for _ in range(3):
        x, y = (float(v) for v in rng.normal(size=2) * 2)
        got = _call(student_fn, (x, y), f"x = {x:.3f}, y = {y:.3f}")
        if not (isinstance(got, (tuple, list)) and len(got) == 2):
            raise CheckFailed(f"return the pair (dg_dx, dg_dy); got "
                              f"{type(got).__name__}")
        dx, dy = (float(np.asarray(v).reshape(())) for v in got)
        where = f"At x = {x:.3f}, y = {y:.3f}: "
        if not rel_error(dy, x) < TOL:
            raise CheckFailed(where + f"dg/dy = {dy:.4g}, expected x = {x:.4g} (the "
                                      f"local "
                              f"gradient of s = x + y is 1, the upstream dg/ds is x)")
        if rel_error(dx, 2 * x + y) < TOL:
            continue
        if rel_error(dx, x + y) < TOL:
            raise CheckFailed(where + f"dg/dx = {dx:.4g} = x + y counts only the path "
                                      f"where x is "
                              f"the second factor; x also enters s = x + y, which adds "
                              f"x: dg/dx = (x + y) + x")
        if rel_error(dx, x) < TOL:
            raise CheckFailed(where + f"dg/dx = {dx:.4g} = x counts only the path "
                                      f"through "
                              f"s = x + y; x is also the second factor of s * x, which "
                              f"adds s = x + y: dg/dx = x + (x + y)")
        raise CheckFailed(where + f"dg/dx = {dx:.4g}, expected {2 * x + y:.4g}: add "
                                  f"the "
                          f"contributions of both paths from x to g")
    ok("dg/dx = 2x + y and dg/dy = x: both paths through the reused x add up")
