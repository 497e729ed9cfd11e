r"""Self-checks of chapter 3: the two-layer network's backward pass and its steps.

Each check runs the student's function on fixed random inputs whose sizes all differ
(P != K1 != K2 != N, so a transposed matrix never has the right shape by accident) and
compares with **stored** expected values (``_stored``; no reference code here). When
something is wrong the message names the first wrong gradient *from the loss down* and
says what is wrong in the lecture's terms, by comparing the answer with the stored
outputs of the typical mistakes (a missing ReLU mask, the sum instead of the mean, the
ReLU network where tanh was asked) and with the expected shape (a transposition).

Shapes: X (N, P), W1 (P, K1), b1 (K1,), W2 (K1, K2), b2 (K2,), beta (K2,), a (), y (N,).

Checks
------
- :func:`gradients` ``backward(params, X, y) -> dict`` (``layer2="tanh"``: a tanh
  second layer);
- :func:`grad_W1` ``fn(X, dq1) -> dW1``, :func:`grad_W2` ``fn(h1, dq2) -> dW2``,
  :func:`grad_h1` ``fn(dq2, W2) -> dh1``, :func:`grad_b1` ``fn(dq1) -> db1``,
  :func:`relu_backward` ``fn(dh, q) -> dq``: one step of the chain each;
- :func:`jacobian_memory` ``fn(K1, K2, bytes_per_number) -> (jacobian_bytes,
  outer_bytes)``.
"""
from __future__ import annotations

import numpy as np

from ..notation import CHAIN_ORDER, shape_str
from ._base import CheckFailed, ok, rel_error
from ._cases import given, layer_steps, twolayer_networks
from ._gradients import (CASES, FORMULA, TOL, _call, _error_table, _scale_factor,
                         _scale_hint, _shape_hint)
from ._stored import stored

__all__ = ["gradients", "grad_W1", "grad_W2", "grad_h1", "grad_b1", "relu_backward",
           "jacobian_memory", "SEED", "MEMORY_CASES"]

SEED = 0                                 # the self-checks' inputs: CASES from this seed
MEMORY_CASES = ((128, 128, 4), (32, 16, 4), (100, 50, 8), (784, 10, 2))

# stored mistake -> what it means (the first that matches the answer is said)
_MISTAKES = {
    "relu network": "it is the gradient of the ReLU network; with h2 = tanh(q2) the "
                    "local gradient of layer 2 is 1 - h2**2, not the mask (q2 > 0)",
    "no mask in layer 2": "you left out the local gradient of layer 2: dq2 = dh2 * "
                          "(q2 > 0) for a ReLU (a mask taken from h2 >= 0 is always "
                          "true, i.e. no mask), dh2 * (1 - h2**2) for tanh",
    "no mask in layer 1": "you left out the ReLU mask of layer 1: dq1 = dh1 * (q1 > 0)",
    "no masks": "you left out the ReLU masks of both layers",
}


def _value_hint(k, g, ref, mistakes, N):
    for name, hint in _MISTAKES.items():
        if name in mistakes and rel_error(g, mistakes[name][k]) < TOL:
            return f"d{k} is wrong: {hint}."
    c = _scale_factor(g, ref[k])
    if c is not None:
        return f"d{k} is wrong: {_scale_hint(c, N)}."
    return (f"d{k} is wrong (relative error {rel_error(g, ref[k]):.1e}) and not by a "
            f"simple factor, a missing mask or a transposition; compare each line with "
            f"the chain dz -> d{k} step by step (expected: {FORMULA[k]})")


def _returned(got):
    if not hasattr(got, "keys"):
        raise CheckFailed(f"backward must return a dict with the keys W1, b1, W2, b2, "
                          f"beta, a; got {type(got).__name__}")
    missing = [k for k in CHAIN_ORDER if k != "X" and k not in got]
    if missing:
        raise CheckFailed(f"the returned dict lacks the key(s) {', '.join(missing)} "
                          f"(expected W1, b1, W2, b2, beta, a; X is optional)")
    keys = [k for k in CHAIN_ORDER if k in got]
    return keys, {k: np.asarray(got[k], dtype=np.float64) for k in keys}


def gradients(student_backward, layer2="relu"):
    r"""Check ``student_backward(params, X, y) -> grads`` of the two-layer network.

    params: dict W1 (P, K1), b1 (K1,), W2 (K1, K2), b2 (K2,), beta (K2,), a ();
    X: (N, P); y: (N,) in {0, 1}. ``grads``: a dict W1, b1, W2, b2, beta, a (X
    optional), each of the shape of what it differentiates, for the MEAN binary
    cross-entropy; ``layer2="tanh"``: $h_2 = \tanh(q_2)$ instead of the ReLU.
    """
    if layer2 not in ("relu", "tanh"):
        raise ValueError(f"layer2 must be 'relu' or 'tanh', got {layer2!r}")
    table = stored(f"gradients/{layer2}")
    for n, (params, X, y) in enumerate(twolayer_networks(CASES, SEED)):
        N, P, K1, K2 = CASES[n]
        ref = table["expected"][n]
        mistakes = {m: v[n] for m, v in table["mistakes"].items()}
        describe = (f"N, P, K1, K2 = {N}, {P}, {K1}, {K2}: X {shape_str(X.shape)}, "
                    f"W1 {shape_str((P, K1))}, W2 {shape_str((K1, K2))}, beta "
                    f"{shape_str((K2,))}")
        keys, got = _returned(_call(student_backward, (params, X, y), describe))
        for k in keys:
            g, r = got[k], ref[k]
            if k == "a" and g.size == 1:
                g = got[k] = g.reshape(())
            if g.shape != r.shape:
                raise CheckFailed(f"On a network with {describe}:\n"
                                  + _shape_hint(k, g.shape, r.shape, (N, P, K1, K2))
                                  + "\n" + _error_table(got, ref, keys))
            if rel_error(g, r) >= TOL or np.isnan(rel_error(g, r)):
                raise CheckFailed(f"On a network with {describe}:\n"
                                  + _value_hint(k, g, ref, mistakes, N)
                                  + ("\nThe gradients below it inherit the error."
                                     if k != keys[-1] else "")
                                  + "\n" + _error_table(got, ref, keys))
    N, P, K1, K2 = CASES[0]
    what = "with a tanh second layer " if layer2 == "tanh" else ""
    ok(f"every gradient {what}matches the expected values (relative error < "
       f"{TOL:.0e}) on {len(CASES)} random networks, e.g. N, P, K1, K2 = {N}, {P}, "
       f"{K1}, {K2}")


def _check_one(fn, name, args, n, key, letters, formula, describe, hints=()):
    """Compare fn(*args) with the stored answer n of `key`; `hints` are (stored
    mistake or scale factor, what it means)."""
    table = stored(key)
    ref = table["expected"][n]
    got = np.asarray(_call(fn, args, describe), dtype=np.float64)
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
    c = _scale_factor(got, ref)
    for what, hint in hints:
        if isinstance(what, str) and rel_error(got, table["mistakes"][what][n]) < TOL:
            raise CheckFailed(f"{name} is wrong: {hint}")
        if not isinstance(what, str) and c is not None and rel_error(c, what) < TOL:
            raise CheckFailed(f"{name} is wrong: {hint}")
    if c is not None:
        raise CheckFailed(f"{name} is wrong: it is exactly {c:.4g} times the correct "
                          f"value; use {formula}")
    raise CheckFailed(f"{name} is wrong (relative error {err:.1e}); expected {formula}")


_DOUBLE_N = ("the 1/N of the mean loss is already inside the upstream gradient (it "
             "entered in dz = (sigmoid(z) - y)/N); do not divide by N again")


def _steps(fn, step, key, name, letters, formula, args_names, hints=lambda N: ()):
    for n, args in enumerate(layer_steps(CASES, SEED, step)):
        N = CASES[n][0]
        describe = ", ".join(f"{a} {shape_str(v.shape)}" for a, v in
                             zip(args_names, args))
        _check_one(fn, name, args, n, key, letters, formula, describe, hints(N))


def grad_W1(student_fn):
    r"""Check ``student_fn(X, dq1) -> dW1``, $\partial L/\partial W_1$ of shape (P, K1).

    X: (N, P); dq1: (N, K1), the upstream gradient (it already carries the 1/N)."""
    _steps(student_fn, "grad_W", "grad_W1", "dW1", ("P", "K1"), "X.T @ dq1",
           ("X", "dq1"), lambda N: [(1 / N, _DOUBLE_N), (-1, "the sign is flipped")])
    ok(f"dW1 = X.T @ dq1 correct on {len(CASES)} random cases (P != K1 != N)")


def grad_W2(student_fn):
    r"""Check ``student_fn(h1, dq2) -> dW2``, $\partial L/\partial W_2$, (K1, K2).

    h1: (N, K1), non-negative; dq2: (N, K2), the upstream gradient."""
    _steps(student_fn, "grad_W2", "grad_W2", "dW2", ("K1", "K2"), "h1.T @ dq2",
           ("h1", "dq2"), lambda N: [(1 / N, _DOUBLE_N), (-1, "the sign is flipped")])
    ok(f"dW2 = h1.T @ dq2 correct on {len(CASES)} random cases (K1 != K2 != N)")


def grad_h1(student_fn):
    r"""Check ``student_fn(dq2, W2) -> dh1``, $\partial L/\partial h_1$, (N, K1).

    dq2: (N, K2); W2: (K1, K2)."""
    _steps(student_fn, "grad_h", "grad_h1", "dh1", ("N", "K1"), "dq2 @ W2.T",
           ("dq2", "W2"))
    ok(f"dh1 = dq2 @ W2.T correct on {len(CASES)} random cases")


def grad_b1(student_fn):
    r"""Check ``student_fn(dq1) -> db1``, $\partial L/\partial b_1$ of shape (K1,).

    dq1: (N, K1), the upstream gradient (already carrying the 1/N of the mean loss)."""
    for n, (dq1,) in enumerate(layer_steps(CASES, SEED, "grad_b")):
        N, K1 = dq1.shape
        got = np.asarray(_call(student_fn, (dq1.copy(),),
                               f"dq1 {shape_str(dq1.shape)}"))
        if got.shape == (N,) and N != K1:
            raise CheckFailed(f"db1 has shape (N,) = ({N},), expected (K1,) = ({K1},): "
                              f"you summed over the units (axis=1); sum over the "
                              f"observations")
        _check_one(lambda d: got, "db1", (dq1,), n, "grad_b1", ("K1",),
                   "the sum over the observations", f"dq1 {shape_str(dq1.shape)}",
                   [(1 / N, "you averaged over the observations (mean), but the 1/N "
                             "is already inside dq1: the bias gradient is the SUM of "
                             "the observations' contributions"),
                    (N, "it is N times too large")])
    ok(f"db1 correct on {len(CASES)} random cases")


def relu_backward(student_fn):
    r"""Check ``student_fn(dh, q) -> dq`` through $h = \mathrm{relu}(q)$.

    dh: (N, K), the upstream gradient; q: (N, K), the pre-activation. Returns (N, K)."""
    _steps(student_fn, "relu_backward", "relu_backward", "dq", ("N", "K"),
           "the upstream gradient where q > 0, zero elsewhere", ("dh", "q"),
           lambda N: [
               ("no mask", "it equals the upstream gradient dh: the ReLU mask is "
                           "missing (a mask taken from h = relu(q) >= 0 is always "
                           "true)"),
               ("mask from dh", "the mask must come from the forward input q, not "
                                "from the upstream gradient dh"),
               ("mask alone", "it is the mask alone: multiply the upstream gradient "
                              "by it"),
               ("relu of dh", "relu(dh) is not the backward pass: keep dh where q > "
                              "0")])
    ok(f"dq correct on {len(CASES)} random cases")


_MEMORY_HINTS = {
    "outer product": "that is the size of the outer product, i.e. of the gradient "
                     "itself; the Jacobian holds one (K1, K2) slice for EACH of the "
                     "K2 outputs q2_k",
    "K1 slices": "the Jacobian has one (K1, K2) slice per output q2_k, and there are "
                 "K2 outputs, not K1",
    "entries": "that is the number of entries; multiply by the bytes per number",
    "bits": "that is in bits; a byte has 8 bits",
}


def jacobian_memory(student_fn):
    r"""Check ``student_fn(K1, K2, bytes_per_number) -> (jacobian_bytes,
    outer_bytes)`` for ONE observation: the explicit Jacobian $\partial q_2/\partial
    W_2$, a (K2, K1, K2) array, and the outer product $h_1\,dq_2^\top$, (K1, K2)."""
    table = stored("jacobian_memory")
    for n, (K1, K2, nb) in enumerate(given(MEMORY_CASES)):
        want_j, want_o = (float(v) for v in table["expected"][n])
        out = _call(student_fn, (K1, K2, nb),
                    f"K1 = {K1}, K2 = {K2}, bytes_per_number = {nb}")
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise CheckFailed(f"return the pair (jacobian_bytes, outer_bytes); got "
                              f"{type(out).__name__}")
        jac, outer = (float(v) for v in out)
        where = f"K1 = {K1}, K2 = {K2}, {nb} bytes per number: "
        if outer != want_o:
            raise CheckFailed(where + f"outer_bytes = {outer:g}, expected {want_o:g}: "
                                      f"the outer product has the shape of W2, (K1, "
                                      f"K2), times the bytes per number")
        if jac == want_j:
            continue
        hint = next((h for m, h in _MEMORY_HINTS.items()
                     if jac == float(table["mistakes"][m][n][0])),
                    "count the entries of a (K2, K1, K2) array, times the bytes per "
                    "number")
        raise CheckFailed(where + f"jacobian_bytes = {jac:g}, expected {want_j:g}: "
                                  f"{hint}")
    want_j, want_o = (float(v) for v in table["expected"][0])
    ok(f"memory correct, e.g. K1 = K2 = 128 in float32: Jacobian "
       f"{want_j / 1e6:.1f} MB, "
       f"outer product {want_o / 1e3:.1f} kB")
