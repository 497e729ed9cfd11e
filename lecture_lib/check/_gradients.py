r"""Self-checks for hand-derived gradients (chapters 2 and 3).

Each check calls the student's function on random inputs whose sizes all differ (P != K1
!= K2 != N), so a transposed matrix never has the right shape by accident, and compares
with the reference by :func:`lecture_lib.gradcheck.rel_error`. The inputs come from
``rng`` (seed 0 unless given), so a failure is the same on every run. When something is
wrong the message names the first wrong gradient *from the loss down* (an error there
propagates to every gradient below it) and says what is wrong in the lecture's terms: a
shape and the transposition that fixes it, a missing ReLU mask, a missing $1/N$, a
flipped sign, with the relative error of every gradient.

Shapes use the lecture's letters: X (N, P), W1 (P, K1), b1 (K1,), W2 (K1, K2), b2 (K2,),
beta (K2,), a (), y (N,) in {0, 1}; the loss is the MEAN binary cross-entropy.

Checks
------
- :func:`gradients` ``backward(params, X, y) -> dict`` of the two-layer network
  (``layer2="tanh"``: with a tanh second layer);
- :func:`grad_W1` ``fn(X, dq1) -> dW1``, :func:`grad_W2` ``fn(h1, dq2) -> dW2``,
  :func:`grad_h1` ``fn(dq2, W2) -> dh1``, :func:`grad_b1` ``fn(dq1) -> db1``,
  :func:`relu_backward` ``fn(dh, q) -> dq``: one step of the chain each;
- :func:`logreg_grads` ``fn(W, b, X, y) -> (dW, db)``: logistic regression (chapter 2);
  :func:`tanh_backward` ``fn(out, upstream) -> grad``: a tanh node;
  :func:`reused_node` ``fn(x, y) -> (dg_dx, dg_dy)`` for $g = (x + y)\,x$;
- :func:`jacobian_memory`
  ``fn(K1, K2, bytes_per_number) -> (jacobian_bytes, outer_bytes)``.
"""
from __future__ import annotations

import numpy as np

from ..functional import sigmoid as _sigmoid
from ..notation import CHAIN_ORDER, SHAPE_LETTERS, lettered, shape_str
from ._base import CheckFailed, ok, rel_error

__all__ = ["gradients", "grad_W1", "grad_W2", "grad_h1", "grad_b1", "relu_backward",
           "logreg_grads", "tanh_backward", "reused_node", "jacobian_memory",
           "reference_backward"]

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


def _random_network(N, P, K1, K2, rng):
    from lecture_lib import twolayer
    params = twolayer.init_params(P, K1, K2, rng=rng)
    X = rng.normal(size=(N, P))
    y = np.tile([0.0, 1.0], N)[:N]
    rng.shuffle(y)
    return params, X, y


# -------------------------------------------------------------- reference with switches
def reference_backward(params, X, y, mask1=True, mask2=True, mean=True, layer2="relu"):
    r"""The gradients of the two-layer network, with switches for the typical mistakes.

    params: dict W1 (P, K1), b1 (K1,), W2 (K1, K2), b2 (K2,), beta (K2,), a ();
    X (N, P); y (N,). With the defaults (ReLU in both layers, mean loss) it equals
    :func:`lecture_lib.twolayer.backward`. ``mask1=False`` / ``mask2=False`` leave out
    the ReLU mask (or the tanh derivative) of that layer; ``mean=False`` differentiates
    the SUM of the per-observation losses; ``layer2="tanh"`` uses $h_2 = \tanh(q_2)$,
    whose local gradient is $1 - h_2^2$. Returns a dict W1, b1, W2, b2, beta, a, X.
    """
    W1, b1, W2, b2, beta, a = (np.asarray(params[k], dtype=np.float64)
                               for k in ("W1", "b1", "W2", "b2", "beta", "a"))
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    q1 = X @ W1 + b1
    h1 = np.maximum(q1, 0)
    q2 = h1 @ W2 + b2
    h2 = np.tanh(q2) if layer2 == "tanh" else np.maximum(q2, 0)
    z = h2 @ beta + a
    dz = (_sigmoid(z) - y) / (X.shape[0] if mean else 1)
    dh2 = np.outer(dz, beta)
    local2 = (1 - h2 ** 2) if layer2 == "tanh" else (q2 > 0)
    dq2 = dh2 * local2 if mask2 else dh2
    dh1 = dq2 @ W2.T
    dq1 = dh1 * (q1 > 0) if mask1 else dh1
    return {"W1": X.T @ dq1, "b1": dq1.sum(axis=0), "W2": h1.T @ dq2,
            "b2": dq2.sum(axis=0), "beta": h2.T @ dz, "a": np.asarray(dz.sum()),
            "X": dq1 @ W1.T}


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


def gradients(student_backward, layer2="relu", cases=CASES, rng=0):
    r"""Check ``student_backward(params, X, y) -> grads`` for the two-layer network.

    params: dict W1 (P, K1), b1 (K1,), W2 (K1, K2), b2 (K2,), beta (K2,), a ();
    X: (N, P); y: (N,) in {0, 1}. ``grads`` must be a dict with the keys W1, b1, W2, b2,
    beta, a (and optionally X), each of the shape of what it differentiates, for the
    MEAN binary cross-entropy. ``layer2="tanh"``: the network has $h_2 = \tanh(q_2)$
    instead of the ReLU.

    Runs on fresh random networks of the shapes (N, P, K1, K2) in ``cases`` and compares
    with :func:`lecture_lib.twolayer.backward` (for tanh: :func:`reference_backward`) to
    a relative error of 1e-6. On failure it names the first wrong gradient from the loss
    down, diagnoses it (wrong shape and the transposition that fixes it, missing ReLU
    mask, missing 1/N, flipped sign) and lists the relative error of every gradient.
    """
    from lecture_lib import twolayer
    if layer2 not in ("relu", "tanh"):
        raise ValueError(f"layer2 must be 'relu' or 'tanh', got {layer2!r}")
    rng = np.random.default_rng(rng)
    for N, P, K1, K2 in cases:
        params, X, y = _random_network(N, P, K1, K2, rng)
        ref = (twolayer.backward(params, X, y) if layer2 == "relu"
               else reference_backward(params, X, y, layer2="tanh"))
        describe = (f"N, P, K1, K2 = {N}, {P}, {K1}, {K2}: X {shape_str(X.shape)}, "
                    f"W1 {shape_str((P, K1))}, W2 {shape_str((K1, K2))}, beta "
                    f"{shape_str((K2,))}")
        got = _call(student_backward,
                    ({k: v.copy() for k, v in params.items()}, X.copy(), y.copy()),
                    describe)
        if not hasattr(got, "keys"):
            raise CheckFailed(f"backward must return a dict with the keys W1, b1, W2, "
                              f"b2, beta, a; got {type(got).__name__}")
        missing = [k for k in CHAIN_ORDER if k != "X" and k not in got]
        if missing:
            raise CheckFailed(f"the returned dict lacks the key(s) "
                              f"{', '.join(missing)} (expected W1, b1, W2, b2, beta, "
                              f"a; X is optional)")
        keys = [k for k in CHAIN_ORDER if k in got]
        got = {k: np.asarray(got[k], dtype=np.float64) for k in keys}
        for k in keys:
            g, r = got[k], ref[k]
            if k == "a" and g.size == 1:
                g = g.reshape(())
            if g.shape != r.shape:
                raise CheckFailed(f"On a network with {describe}:\n"
                                  + _shape_hint(k, g.shape, r.shape, (N, P, K1, K2))
                                  + "\n" + _error_table(got, ref, keys))
            if rel_error(g, r) < TOL:
                continue
            raise CheckFailed(f"On a network with {describe}:\n"
                              + _value_hint(k, g, params, X, y, N, layer2)
                              + ("\nThe gradients below it inherit the error."
                                 if k != keys[-1] else "")
                              + "\n" + _error_table(got, ref, keys))
    N, P, K1, K2 = cases[0]
    what = "with a tanh second layer " if layer2 == "tanh" else ""
    ok(f"every gradient {what}matches the reference (relative error < {TOL:.0e}) on "
       f"{len(cases)} random networks, e.g. N, P, K1, K2 = {N}, {P}, {K1}, {K2}")


def _value_hint(k, g, params, X, y, N, layer2):
    local = "tanh derivative 1 - h2**2" if layer2 == "tanh" else "ReLU mask (q2 > 0)"
    variants = [
        (dict(mask2=False), f"you left out the {local} of layer 2: dq2 = dh2 * "
                            + ("(1 - h2**2)" if layer2 == "tanh" else "(q2 > 0)")
                            + (" (a mask taken from h2 >= 0 is always true, i.e. no "
                               "mask)" if layer2 == "relu" else "")),
        (dict(mask1=False), "you left out the ReLU mask of layer 1: dq1 = dh1 * (q1 > "
                            "0)"),
        (dict(mask1=False, mask2=False), "you left out the ReLU masks of both layers"),
    ]
    if layer2 == "tanh":
        relu_ref = reference_backward(params, X, y, layer2="relu")[k]
        variants_relu = rel_error(g, relu_ref) < TOL
        if variants_relu:
            return (f"d{k} is wrong: it is the gradient of the ReLU network; with h2 = "
                    f"tanh(q2) the local gradient of layer 2 is 1 - h2**2, not the "
                    f"mask (q2 > 0)")
    for switches, hint in variants:
        variant = reference_backward(params, X, y, layer2=layer2, **switches)[k]
        if rel_error(g, variant) < TOL:
            return f"d{k} is wrong: {hint}."
    ref = reference_backward(params, X, y, layer2=layer2)[k]
    c = _scale_factor(g, ref)
    if c is not None:
        return f"d{k} is wrong: {_scale_hint(c, N)}."
    return (f"d{k} is wrong (relative error {rel_error(g, ref):.1e}) and not by a "
            f"simple factor, a missing mask or a transposition; compare each line with "
            f"the chain dz -> d{k} step by step (expected: {FORMULA[k]})")


# ------------------------------------------------------------------------- single steps
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


_DOUBLE_N = ("the 1/N of the mean loss is already inside the upstream gradient (it "
             "entered in dz = (sigmoid(z) - y)/N); do not divide by N again")


def grad_W1(student_fn, cases=CASES, rng=0):
    r"""Check ``student_fn(X, dq1) -> dW1``: $\partial L/\partial W_1 = X^\top dq_1$.

    X: (N, P); dq1: (N, K1), the upstream gradient $\partial L/\partial q_1$ (it already
    carries the 1/N of the mean loss). Returns dW1: (P, K1), the shape of W1.
    """
    rng = np.random.default_rng(rng)
    for N, P, K1, _ in cases:
        X, dq1 = rng.normal(size=(N, P)), rng.normal(size=(N, K1)) / N
        _check_one(student_fn, "dW1", (X.copy(), dq1.copy()), X.T @ dq1, ("P", "K1"),
                   "X.T @ dq1", f"X {shape_str(X.shape)}, dq1 {shape_str(dq1.shape)}",
                   scale_hints=[(1 / N, _DOUBLE_N), (-1, "the sign is flipped")])
    ok(f"dW1 = X.T @ dq1 correct on {len(cases)} random cases (P != K1 != N)")


def grad_W2(student_fn, cases=CASES, rng=0):
    r"""Check ``student_fn(h1, dq2) -> dW2``: $\partial L/\partial W_2 = h_1^\top dq_2$.

    h1: (N, K1), the first hidden layer (non-negative); dq2: (N, K2), the upstream
    gradient $\partial L/\partial q_2$. Returns dW2: (K1, K2), the shape of W2; for one
    observation it is the outer product of $h_1$ and $dq_2$.
    """
    rng = np.random.default_rng(rng)
    for N, _, K1, K2 in cases:
        h1, dq2 = np.maximum(rng.normal(size=(N, K1)), 0), rng.normal(size=(N, K2)) / N
        _check_one(student_fn, "dW2", (h1.copy(), dq2.copy()), h1.T @ dq2, ("K1", "K2"),
                   "h1.T @ dq2",
                   f"h1 {shape_str(h1.shape)}, dq2 {shape_str(dq2.shape)}",
                   scale_hints=[(1 / N, _DOUBLE_N), (-1, "the sign is flipped")])
    ok(f"dW2 = h1.T @ dq2 correct on {len(cases)} random cases (K1 != K2 != N)")


def grad_h1(student_fn, cases=CASES, rng=0):
    r"""Check ``student_fn(dq2, W2) -> dh1``: $\partial L/\partial h_1 = dq_2 W_2^\top$.

    dq2: (N, K2); W2: (K1, K2). Returns dh1: (N, K1) (the row form of $W_2\, dq_2$ for
    one observation).
    """
    rng = np.random.default_rng(rng)
    for N, _, K1, K2 in cases:
        dq2, W2 = rng.normal(size=(N, K2)), rng.normal(size=(K1, K2))
        _check_one(student_fn, "dh1", (dq2.copy(), W2.copy()), dq2 @ W2.T, ("N", "K1"),
                   "dq2 @ W2.T",
                   f"dq2 {shape_str(dq2.shape)}, W2 {shape_str(W2.shape)}")
    ok(f"dh1 = dq2 @ W2.T correct on {len(cases)} random cases")


def grad_b1(student_fn, cases=CASES, rng=0):
    r"""Check ``student_fn(dq1) -> db1``: $\partial L/\partial b_1 = \sum_i dq_{1,i}$.

    dq1: (N, K1), the upstream gradient (already carrying the 1/N of the mean loss).
    Returns db1: (K1,). The bias is added to every observation, so the contributions add
    up.
    """
    rng = np.random.default_rng(rng)
    for N, _, K1, _ in cases:
        dq1 = rng.normal(size=(N, K1)) / N
        got_describe = f"dq1 {shape_str(dq1.shape)}"
        got = np.asarray(_call(student_fn, (dq1.copy(),), got_describe))
        if got.shape == (N,):
            raise CheckFailed(f"db1 has shape (N,) = ({N},), expected (K1,) = ({K1},): "
                              f"you summed over the units (axis=1); sum over the "
                              f"observations, dq1.sum(axis=0)")
        _check_one(lambda d: got, "db1", (dq1,), dq1.sum(axis=0), ("K1",),
                   "dq1.sum(axis=0)", got_describe,
                   scale_hints=[(1 / N, "you averaged over the observations (mean), "
                                        "but the 1/N is already inside dq1: the bias "
                                        "gradient is the "
                                        "SUM of the observations' contributions, "
                                        "dq1.sum(axis=0)"),
                                (N, "it is N times too large")])
    ok(f"db1 = dq1.sum(axis=0) correct on {len(cases)} random cases")


def relu_backward(student_fn, cases=CASES, rng=0):
    r"""Check ``student_fn(dh, q) -> dq``: through $h = \mathrm{relu}(q)$,
    $dq = dh \odot [q > 0]$ (the diagonal Jacobian applied as an elementwise mask).

    dh: (N, K), the upstream gradient; q: (N, K), the layer's input (pre-activation).
    Returns dq: (N, K).
    """
    rng = np.random.default_rng(rng)
    for N, _, K, _ in cases:
        dh, q = rng.normal(size=(N, K)), rng.normal(size=(N, K))
        _check_one(student_fn, "dq", (dh.copy(), q.copy()), dh * (q > 0), ("N", "K"),
                   "dh * (q > 0)", f"dh {shape_str(dh.shape)}, q {shape_str(q.shape)}",
                   extra_variants=[
                       (dh, "it equals the upstream gradient dh: the ReLU mask (q > 0) "
                            "is missing (a mask taken from h = relu(q) >= 0 is always "
                            "true)"),
                       (dh * (dh > 0), "the mask must come from the forward input q "
                                       "(q > 0), not from the upstream gradient dh"),
                       ((q > 0).astype(float), "it is the mask alone: multiply the "
                                               "upstream gradient by it, dh * (q > 0)"),
                       (np.maximum(dh, 0), "relu(dh) is not the backward pass: keep dh "
                                           "where q > 0, dh * (q > 0)")])
    ok(f"dq = dh * (q > 0) correct on {len(cases)} random cases")


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


def jacobian_memory(student_fn,
                    cases=((128, 128, 4), (32, 16, 4), (100, 50, 8), (784, 10, 2))):
    r"""Check ``student_fn(K1, K2, bytes_per_number) -> (jacobian_bytes, outer_bytes)``.

    For ONE observation: the bytes of the explicit Jacobian $\partial q_2/\partial W_2$,
    a (K2, K1, K2) array (one $K_1 \times K_2$ slice per output $q_{2,k}$), and of the
    outer product $h_1\,dq_2^\top$, a (K1, K2) array, with ``bytes_per_number`` bytes
    per entry (4 for float32).
    """
    for K1, K2, nb in cases:
        want_j, want_o = K2 * K1 * K2 * nb, K1 * K2 * nb
        out = _call(student_fn, (K1, K2, nb),
                    f"K1 = {K1}, K2 = {K2}, bytes_per_number = {nb}")
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise CheckFailed(f"return the pair (jacobian_bytes, outer_bytes); got "
                              f"{type(out).__name__}")
        jac, outer = (float(v) for v in out)
        where = f"K1 = {K1}, K2 = {K2}, {nb} bytes per number: "
        if outer != want_o:
            hint = (" (that is in bits: multiply entries by bytes, not bits)"
                    if outer == want_o * 8 else " (forgot the bytes per number?)"
                    if outer == K1 * K2 else "")
            raise CheckFailed(where + f"outer_bytes = {outer:g}, expected K1 * K2 * "
                                      f"bytes = {want_o:g}: "
                              f"the outer product has the shape of W2, (K1, K2){hint}")
        if jac == want_j:
            continue
        if jac == want_o:
            hint = ("that is the size of the outer product, i.e. of the gradient "
                    "itself; the Jacobian holds one (K1, K2) slice for EACH of the K2 "
                    "outputs q2_k")
        elif jac == K1 * K1 * K2 * nb:
            hint = ("the Jacobian has one (K1, K2) slice per output q2_k, and there "
                    "are K2 outputs, not K1: K2 * K1 * K2 entries")
        elif jac == K2 * K1 * K2:
            hint = "that is the number of entries; multiply by the bytes per number"
        elif jac == want_j * 8:
            hint = "that is in bits; a byte has 8 bits"
        else:
            hint = ("count the entries of a (K2, K1, K2) array, times the bytes per "
                    "number")
        raise CheckFailed(where + f"jacobian_bytes = {jac:g}, expected {want_j:g}: "
                                  f"{hint}")
    ok(f"memory correct, e.g. K1 = K2 = 128 in float32: Jacobian "
       f"{128 ** 3 * 4 / 1e6:.1f} MB, outer product {128 ** 2 * 4 / 1e3:.1f} kB (a "
       f"factor K2 = 128)")
