r"""Self-checks for chapter 4, "Checking gradients": a student's central-difference
gradient (:func:`numerical_gradient`) and a student's gradient of the softmax
cross-entropy (:func:`softmax_cross_entropy_grad`).

The student writes ``numerical_gradient(f, x, h=1e-5)``: the gradient of a scalar
function ``f`` at a float64 array ``x`` of any shape, one coordinate at a time,

$$
    \frac{\partial f}{\partial x_j} \approx \frac{f(x + h e_j) - f(x - h e_j)}{2h},
$$

where ``f`` reads ``x`` itself (``x`` is perturbed in place) and ``x`` is restored bit
for bit. The check runs it on fixed random inputs of several shapes, compares with the
stored central differences (``expected.json``: no finite-difference code here) and
names the typical mistakes: forward differences (an error of order $h$ instead of
$h^2$, recognised by their stored values), a wrong divisor ($h$ or $4h$ instead of
$2h$), perturbing a copy that ``f`` never sees, perturbing every coordinate at once,
and not restoring ``x`` (or restoring it by arithmetic, ``x[j] -= h``, which rounding
defeats). The softmax cross-entropy's check likewise compares with stored gradients and
stored typical mistakes.
"""
from __future__ import annotations

import numpy as np

from ..gradcheck import numeric_floor
from ._base import CheckFailed, ok, rel_error
from ._stored import stored
from ._tasks import functions_at, logit_batches

__all__ = ["numerical_gradient", "softmax_cross_entropy_grad"]

#: (shapes, h, rng) of the self-check's inputs: x ~ U(-2, 2) with the function
#: sum(x^3/3 + 2x + sin(2x)/2), whose gradient is at least 1 everywhere. The last x is
#: long, so that restoring by arithmetic (x[j] -= h) almost surely leaves a rounding
#: error somewhere. h = 1e-4: forward differences are visibly O(h), central ~1e-9.
GRADIENT_CASES = (((5,), (3, 4), (2, 3, 2), (400,)), 1e-4, 0)
#: a larger step, where a central difference is still within 1e-7 of the stored one
#: and a forward difference is off by about 1e-2
ORDER_CASE = (((6,),), 1e-2, 1)
_TOL = 1e-7    # a central difference against the stored one at the same h: rounding


def _answer(where, what, call):
    """The student's answer ``call()`` as a float64 array; an exception or a None
    becomes a CheckFailed that says where, in the student's terms."""
    try:
        got = call()
    except Exception as err:
        raise CheckFailed(f"{where}: your function raised {type(err).__name__}: "
                          f"{err}") from err
    if got is None:
        raise CheckFailed(f"{where}: your function returned None; return {what}")
    return np.asarray(got, dtype=np.float64)


def _call(student_fn, f, x, h, where):
    """Run the student's function on ``x`` (read by ``f``); return (result, x before
    the call)."""
    before = x.copy()
    got = _answer(where, "the gradient array", lambda: student_fn(f, x, h=h))
    if got.shape != x.shape:
        raise CheckFailed(f"{where}: the gradient has shape {got.shape}, but it must "
                          f"have the shape of x, {x.shape} (one partial derivative per "
                          f"coordinate)")
    return got, before


def _diagnose(got, want, forward, h, where):
    """Explain why ``got`` is not the stored central difference ``want`` (step h)."""
    err = rel_error(got, want, floor=numeric_floor(h))
    msg = (f"{where}: relative error {err:.1e} against the central differences "
           f"(should be < {_TOL:.0e}).")
    if np.all(got == 0):
        return msg + (" Every entry is 0: f never saw the perturbation. f reads the "
                      "array x itself, so perturb x in place (x[j] = old + h), not a "
                      "copy of it.")
    if rel_error(got, 2 * want) < 1e-6:
        return msg + (" Every entry is twice the right value: divide f(x + h e_j) - "
                      "f(x - h e_j) by 2h, not by h.")
    if rel_error(got, 0.5 * want) < 1e-6:
        return msg + (" Every entry is half the right value: divide by 2h (not 4h), "
                      "with steps of +h and -h.")
    if rel_error(got, forward) < 1e-6 or rel_error(got, 2 * forward - want) < 1e-6:
        return msg + (" Your values are one-sided (forward or backward) differences, "
                      "(f(x + h e_j) - f(x)) / h, whose error is of order h (here "
                      f"about {rel_error(forward, want):.0e}); the central difference "
                      "(f(x + h e_j) - f(x - h e_j)) / 2h cancels the h term and is "
                      "accurate to order h^2.")
    flat = got.reshape(-1)
    if flat.size > 1 and rel_error(flat, np.full_like(flat, flat[0])) < 1e-6:
        return msg + (" All entries are equal: did you perturb every coordinate at "
                      "once (x + h)? Perturb one coordinate e_j at a time.")
    return msg


def _restored(x, before, where):
    """A CheckFailed if the student's function left ``x`` changed."""
    changed = int(np.sum(x != before))
    if not changed:
        return
    largest = float(np.max(np.abs(x - before)))
    entries = f"{changed} {'entry' if changed == 1 else 'entries'}"
    if largest > 1e-12:
        raise CheckFailed(f"{where}: x was changed by your function ({entries}, by up "
                          f"to {largest:.1e}). Every perturbation must be undone: save "
                          f"old = x[j], evaluate f at old + h and old - h, then set "
                          f"x[j] = old.")
    raise CheckFailed(f"{where}: x was not restored exactly ({entries} "
                      f"{'differs' if changed == 1 else 'differ'} by up to "
                      f"{largest:.0e}). Restoring by arithmetic (x[j] -= h) leaves "
                      f"rounding errors, because x + h - h is not always x in floating "
                      f"point: save old = x[j] first and put it back with x[j] = old.")


def numerical_gradient(student_fn):
    """Check ``student_fn(f, x, h=...) -> array of x's shape``: central differences of
    the scalar function ``f`` at the float64 array ``x``, with ``x`` restored exactly
    afterwards.

    Runs it on ``f(x) = sum(x^3/3 + 2x + sin(2x)/2)`` at fixed random x of the shapes
    (5,), (3, 4), (2, 3, 2) and (400,) with h = 1e-4, and (6,) with h = 1e-2; compares
    with the stored central differences (< 1e-7) and checks that x is unchanged, bit
    for bit.
    """
    table = stored("numerical_gradient")
    cases = (functions_at(*GRADIENT_CASES, kind="cubic")
             + functions_at(*ORDER_CASE, kind="cubic"))
    for n, (f, x, h) in enumerate(cases):
        where = f"x of shape {x.shape}" + (f", h = {h:g}" if h != 1e-4 else "")
        got, before = _call(student_fn, f, x, h, where)
        after = x.copy()
        if not np.array_equal(after, before) and np.max(np.abs(after - before)) > 1e-12:
            _restored(after, before, where)            # changed: not undone at all
        want = table["expected"][n]
        if not rel_error(got, want, floor=numeric_floor(h)) < _TOL:
            raise CheckFailed(_diagnose(got, want, table["mistakes"]["one-sided"][n],
                                        h, where))
        _restored(after, before, where)                # off by rounding
    ok(f"central differences correct for x of shapes (5,), (3, 4), (2, 3, 2) and "
       f"(400,) at h = 1e-4, and (6,) at h = 0.01 (relative error < {_TOL:.0e}); x "
       f"restored exactly")


# ---------------------------------------------------------------- softmax cross-entropy
#: (N, K, scale, shift) of the self-check's logits, Z ~ N(0, scale^2): the last ones of
#: size 1000, where an unshifted exp overflows
SOFTMAX_CASES = ((5, 3, 2.0, 0.0), (7, 10, 2.0, 0.0), (4, 4, 2.0, 0.0),
                 (6, 5, 1000.0, 0.0))
SEED = 0
_HINTS = {
    "sum": "Every entry is N = {N} times too large: L is the MEAN over the N rows, so "
           "divide by N.",
    "no one-hot": "You have softmax(Z) / N without the one-hot term: the derivative of "
                  "-log p_(i, y_i) also has -1 in the column of the true label.",
    "columns": "The softmax is taken down each column (axis=0); it runs along each row "
               "(axis=1): one observation's K logits.",
}


def softmax_cross_entropy_grad(student_fn):
    r"""Check ``student_fn(Z, y) -> dZ``: the gradient of the MEAN softmax cross-entropy
    $L = -\frac1N \sum_i \log \mathrm{softmax}(z_i)_{y_i}$ with respect to the logits
    ``Z: (N, K)`` (float64), for integer labels ``y: (N,)`` in 0..K-1: $\partial
    L/\partial Z = (\mathrm{softmax}(Z) - \mathrm{onehot}(y))/N$, softmax along each
    row.

    Runs on fixed random logits of shapes (N, K) = (5, 3), (7, 10), (4, 4), then on
    logits of size 1000 (where an unshifted ``exp`` overflows), and compares with the
    stored gradients. Names a missing 1/N, a missing one-hot term, a flipped sign, a
    softmax taken down the columns, and an overflow.
    """
    table = stored("softmax_cross_entropy_grad")
    for n, (Z, y) in enumerate(logit_batches(SOFTMAX_CASES, SEED)):
        N, K = Z.shape
        where = (f"Z of shape (N, K) = ({N}, {K})"
                 + (" with logits of size 1000" if SOFTMAX_CASES[n][2] > 10 else ""))
        with np.errstate(all="ignore"):
            got = _answer(where, "dZ, an array (N, K)",
                          lambda: student_fn(Z.copy(), y.copy()))
        if got.shape != (N, K):
            hint = " (is it transposed?)" if got.shape == (K, N) else ""
            raise CheckFailed(f"{where}: dZ has shape {got.shape}{hint}; it must have "
                              f"the shape of Z, (N, K) = ({N}, {K})")
        if not np.all(np.isfinite(got)):
            raise CheckFailed(f"{where}: dZ contains nan or inf. exp(1000) overflows: "
                              f"subtract each row's maximum from Z before "
                              f"exponentiating (softmax(z) = softmax(z - max z)).")
        want = table["expected"][n]
        err = rel_error(got, want)
        if err < _TOL:
            continue
        msg = f"{where}: relative error {err:.1e} against (softmax(Z) - onehot(y)) / N."
        if rel_error(got, -want) < 1e-6:
            raise CheckFailed(msg + " The sign is flipped: dL/dz = p - onehot(y) (the "
                              "probability of the true class must go up when we step "
                              "against the gradient).")
        for name, hint in _HINTS.items():
            if rel_error(got, table["mistakes"][name][n]) < 1e-6:
                raise CheckFailed(msg + " " + hint.format(N=N))
        raise CheckFailed(msg)
    ok("dZ = (softmax(Z) - onehot(y)) / N on 4 random cases, including logits of size "
       "1000")
