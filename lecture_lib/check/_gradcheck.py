r"""Self-checks for chapter 4, "Checking gradients": a student's central-difference
gradient (:func:`numerical_gradient`) and a student's gradient of the softmax
cross-entropy (:func:`softmax_cross_entropy_grad`).

The student writes ``numerical_gradient(f, x, h=1e-5)``: the gradient of a scalar
function ``f`` at a float64 array ``x`` of any shape, one coordinate at a time,

$$
    \frac{\partial f}{\partial x_j} \approx \frac{f(x + h e_j) - f(x - h e_j)}{2h},
$$

where ``f`` reads ``x`` itself (``x`` is perturbed in place) and ``x`` is restored bit
for bit. The check runs it on fresh random inputs of several shapes and names the
typical mistakes: forward differences (an error of order $h$ instead of $h^2$), a wrong
divisor ($h$ or $4h$ instead of $2h$), perturbing a copy that ``f`` never sees,
perturbing every coordinate at once, and not restoring ``x`` (or restoring it by
arithmetic, ``x[j] -= h``, which rounding defeats).
"""
from __future__ import annotations

import numpy as np

from ..functional import softmax
from ..gradcheck import numerical_gradient as _central_differences
from ._base import CheckFailed, ok, rel_error

__all__ = ["numerical_gradient", "softmax_cross_entropy_grad"]

_SHAPES = ((5,), (3, 4), (2, 3, 2))
_H = 1e-4      # large enough that forward differences are visibly O(h), central ~1e-9
_TOL = 1e-7    # float64 relative error a correct central difference meets at h = 1e-4


def _f(x):
    """A smooth test function with non-zero 2nd and 3rd derivatives (so O(h) and O(h^2)
    differ) and a gradient of at least 1 everywhere (so relative errors are
    meaningful)."""
    return float(np.sum(x ** 3 / 3 + 2 * x + 0.5 * np.sin(2 * x)))


def _exact(x):
    return x ** 2 + 2 + np.cos(2 * x)


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


def _call(student_fn, x, h, where):
    """Run the student's function on ``x`` (read by ``_f``); return (result, x after the
    call)."""
    before = x.copy()
    got = _answer(where, "the gradient array",
                  lambda: student_fn(lambda _: _f(x), x, h=h))
    if got.shape != x.shape:
        raise CheckFailed(f"{where}: the gradient has shape {got.shape}, but it must "
                          f"have the shape of x, {x.shape} (one partial derivative per "
                          f"coordinate)")
    return got, before


def _diagnose(got, x, h, where):
    """Explain why ``got`` is not the central difference of ``_f`` at ``x`` with step
    h."""
    exact = _exact(x)
    central = _central_differences(lambda _: _f(x), x, h=h)
    f0, forward = _f(x), np.empty_like(x)
    for j in np.ndindex(x.shape):
        old = x[j]
        x[j] = old + h
        forward[j] = (_f(x) - f0) / h
        x[j] = old
    err = rel_error(got, exact)
    msg = (f"{where}: relative error {err:.1e} against the exact gradient (should be < "
           f"{_TOL:.0e}).")
    if np.all(got == 0):
        return msg + (" Every entry is 0: f never saw the perturbation. f reads the "
                      "array x itself, so perturb x in place (x[j] = old + h), not a "
                      "copy of it.")
    if rel_error(got, 2 * central) < 1e-6:
        return msg + (" Every entry is twice the right value: divide f(x + h e_j) - f(x"
                      " - h e_j) by 2h, not by h.")
    if rel_error(got, 0.5 * central) < 1e-6:
        return msg + (" Every entry is half the right value: divide by 2h (not 4h), "
                      "with steps of +h and -h.")
    if rel_error(got, forward) < 1e-6 or rel_error(got, 2 * forward - central) < 1e-6:
        return msg + (" Your values are one-sided (forward or backward) differences, "
                      "(f(x + h e_j) - f(x)) / h, whose error is of order h (here "
                      "about "
                      f"{rel_error(forward, exact):.0e}); the central difference (f(x "
                      f"+ h e_j) - f(x - h e_j)) / 2h cancels the h term and is "
                      f"accurate to order h^2.")
    flat = got.reshape(-1)
    if flat.size > 1 and rel_error(flat, np.full_like(flat, flat[0])) < 1e-6 \
            and not rel_error(exact, np.full_like(exact, exact.flat[0])) < 1e-6:
        return msg + (" All entries are equal: did you perturb every coordinate at "
                      "once (x + h)? Perturb one coordinate e_j at a time.")
    return msg


def numerical_gradient(student_fn, rng=0):
    """Check ``student_fn(f, x, h=...) -> array of x's shape``: central differences of
    the scalar function ``f`` at the float64 array ``x``, with ``x`` restored exactly
    afterwards.

    Runs it on ``f(x) = sum(x^3/3 + 2x + sin(2x)/2)`` at random x of the shapes (5,),
    (3, 4), (2, 3, 2), drawn from ``rng`` (seed 0 unless given, so a failure is the same
    on every run); compares with the exact gradient and with the error a central
    difference has; checks that the error shrinks like h^2; checks that x is unchanged,
    bit for bit.
    """
    rng = np.random.default_rng(rng)
    # The last x is long, so that restoring by arithmetic (x[j] -= h) almost surely
    # leaves a rounding error somewhere (for one entry it often happens to come out
    # exact).
    for shape in _SHAPES + ((400,),):
        x = rng.uniform(-2, 2, size=shape)
        where = f"x of shape {shape}"
        got, before = _call(student_fn, x, _H, where)
        changed = int(np.sum(x != before))
        largest = float(np.max(np.abs(x - before)))
        entries = f"{changed} {'entry' if changed == 1 else 'entries'}"
        if changed and largest > 1e-12:
            raise CheckFailed(f"{where}: x was changed by your function ({entries}, by "
                              f"up to {largest:.1e}). Every perturbation must be "
                              f"undone: save old = x[j], evaluate f at old + h and old "
                              f"- h, then set x[j] = old.")
        x[...] = before
        err = rel_error(got, _exact(x))
        if not err < _TOL:
            raise CheckFailed(_diagnose(got, x, _H, where))
        if changed:
            raise CheckFailed(f"{where}: x was not restored exactly ({entries} "
                              f"{'differs' if changed == 1 else 'differ'} by up to "
                              f"{largest:.0e}). Restoring by arithmetic (x[j] -= h) "
                              f"leaves rounding errors, because x + h - h is not "
                              f"always x in floating point: save old = x[j] first and "
                              f"put it back with x[j] = old.")

    # The order of the error: a central difference's error falls 100 times when h falls
    # 10 times.
    x = rng.uniform(-2, 2, size=(6,))
    errors = []
    for h in (1e-2, 1e-3):
        got, _ = _call(student_fn, x, h, f"x of shape (6,), h = {h:g}")
        errors.append(rel_error(got, _exact(x)))
    order = np.log10(errors[0] / max(errors[1], 1e-300))
    if not order > 1.5:
        raise CheckFailed(f"With h = 1e-2 the relative error is {errors[0]:.1e}, with "
                          f"h = 1e-3 it is "
                          f"{errors[1]:.1e}: it shrinks like h^{order:.1f}, but a "
                          f"central difference's truncation error shrinks like h^2. "
                          f"Are you using a one-sided difference?")
    ok(f"central differences correct for x of shapes {', '.join(map(str, _SHAPES))} "
       f"and (400,) (relative error < {_TOL:.0e} at h = {_H:g}; the error shrinks like "
       f"h^{order:.1f}); x restored exactly")


# ---------------------------------------------------------------- softmax cross-entropy
def _onehot(y, C):
    out = np.zeros((len(y), C))
    out[np.arange(len(y)), y] = 1.0
    return out


def softmax_cross_entropy_grad(student_fn, rng=0):
    r"""Check ``student_fn(Z, y) -> dZ``: the gradient of the MEAN softmax cross-entropy
    $L = -\frac1N \sum_i \log \mathrm{softmax}(z_i)_{y_i}$ with respect to the logits
    ``Z: (N, C)`` (float64), for integer labels ``y: (N,)`` in 0..C-1: $\partial
    L/\partial Z = (\mathrm{softmax}(Z) - \mathrm{onehot}(y))/N$, softmax along each
    row.

    Runs on random logits of shapes (N, C) = (5, 3), (7, 10), (4, 4), then on logits of
    size 1000 (where an unshifted ``exp`` overflows). Names a missing 1/N, a missing
    one-hot term, a flipped sign, a softmax taken down the columns, and an overflow. The
    logits come from ``rng`` (seed 0 unless given).
    """
    rng = np.random.default_rng(rng)
    for N, C, scale in ((5, 3, 2.0), (7, 10, 2.0), (4, 4, 2.0), (6, 5, 1000.0)):
        Z = rng.normal(0.0, scale, size=(N, C))
        y = rng.integers(0, C, size=N)
        where = (f"Z of shape (N, C) = ({N}, {C})"
                 + (" with logits of size 1000" if scale > 10 else ""))
        with np.errstate(all="ignore"):
            got = _answer(where, "dZ, an array (N, C)",
                          lambda: student_fn(Z.copy(), y.copy()))
        if got.shape != (N, C):
            hint = " (is it transposed?)" if got.shape == (C, N) else ""
            raise CheckFailed(f"{where}: dZ has shape {got.shape}{hint}; it must have "
                              f"the shape of Z, (N, C) = ({N}, {C})")
        P, Y = softmax(Z, axis=1), _onehot(y, C)
        ref = (P - Y) / N
        if not np.all(np.isfinite(got)):
            raise CheckFailed(f"{where}: dZ contains nan or inf. exp(1000) overflows: "
                              f"subtract each "
                              f"row's maximum from Z before exponentiating (softmax(z) "
                              f"= softmax(z - max z)).")
        err = rel_error(got, ref)
        if err < _TOL:
            continue
        msg = f"{where}: relative error {err:.1e} against (softmax(Z) - onehot(y)) / N."
        variants = [
            ((P - Y), f" Every entry is N = {N} times too large: L is the MEAN over "
                      f"the N rows, so divide by N."),
            (P / N, " You have softmax(Z) / N without the one-hot term: the derivative "
                    "of -log p_(i, y_i) also has -1 in the column of the true label."),
            (-ref, " The sign is flipped: dL/dz = p - onehot(y) (the probability of "
                   "the true class must go up when we step against the gradient)."),
            ((softmax(Z, axis=0) - Y) / N,
             " The softmax is taken down each column (axis=0); it runs along each "
             "row (axis=1): one observation's C logits."),
        ]
        for candidate, hint in variants:
            if rel_error(got, candidate) < 1e-6:
                raise CheckFailed(msg + hint)
        raise CheckFailed(msg)
    ok("dZ = (softmax(Z) - onehot(y)) / N on 4 random cases, including logits of size "
       "1000")
