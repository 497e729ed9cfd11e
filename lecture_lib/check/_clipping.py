r"""Self-check for clipping by the global norm (chapter 7, "Exploding gradients and
clipping").

The student writes ``clip_by_global_norm(grads, c) -> (clipped, norm)``: ``grads`` is a
list of numpy arrays, one per parameter (for the lecture's network ``[dW1, db1, dW2,
db2, ...]`` with ``dW1: (P, K1)``, ``db1: (K1,)``, ...), ``c > 0`` the threshold. With
$g$ all of them stacked into one vector,

$$
    g' = \min\!\left(1, \frac{c}{\|g\|}\right) g ,
$$

so every parameter's gradient is multiplied by the *same* factor. ``clipped`` is a list
of new arrays of the same shapes (the inputs are left untouched) and ``norm`` is $\|g\|$
*before* clipping, as ``torch.nn.utils.clip_grad_norm_`` returns it. A factor $c/(\|g\|
+ \epsilon)$ with a tiny $\epsilon$ (torch uses $10^{-6}$) is accepted too.

The check compares with the values stored for its fixed gradients (``expected.json``:
no clipping code here) and names the typical mistakes by their stored answers: clipping
each parameter by its own norm, forgetting the $\min(1, \cdot)$ (small gradients get
scaled *up* to length $c$), returning the norm after clipping, adding the parameters'
norms instead of their squares, and modifying the gradients in place.
"""
from __future__ import annotations

import numpy as np

from ._base import CheckFailed, ok, rel_error
from ._stored import stored
from ._tasks import gradient_lists

__all__ = ["clip_by_global_norm"]

# Shapes of the lecture's one-hidden-layer softmax network, shrunk: dW1 (P, K1), db1
# (K1,), dW2 (K1, C), db2 (C,).
_SHAPES = ((20, 8), (8,), (8, 3), (3,))
_RTOL = 1e-5    # float64; leaves room for an epsilon of 1e-6 in c / (norm + eps)
#: (description, (shapes, scale, c)) of the self-check's gradients, drawn in this order
#: from default_rng(0): one to clip, one to leave alone, and one whose parameters' norms
#: (13.0, 2.6, 4.1, 0.4) are each below c = 13.4 while the joint norm, 13.9, is above
#: it (tests/test_check_clipping.py keeps that true).
CASES = (("a large gradient (norm above c)", (_SHAPES, 3.0, 1.0)),
         ("a small gradient (norm below c)", (_SHAPES, 0.01, 1.0)),
         ("a gradient whose parameters are each below c but jointly above it",
          (_SHAPES, 1.0, 13.4)))
SEED = 0


def _close(list_a, list_b):
    return all(np.shape(a) == np.shape(b) and rel_error(a, b) < _RTOL
               for a, b in zip(list_a, list_b))


def _unpack(result, grads, where):
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise CheckFailed(f"{where}: return a pair (clipped, norm): the list of "
                          f"clipped gradients and the norm before clipping; got "
                          f"{type(result).__name__}"
                          + (f" of length {len(result)}"
                             if isinstance(result, (tuple, list)) else ""))
    clipped, norm = result
    if np.isscalar(clipped) and isinstance(norm, (list, tuple)):
        raise CheckFailed(f"{where}: the pair is in the wrong order; return (clipped, "
                          f"norm)")
    try:
        clipped = list(clipped)
    except TypeError:
        raise CheckFailed(f"{where}: the first element must be a list of arrays, one "
                          f"per parameter; got {type(clipped).__name__}") from None
    if len(clipped) != len(grads):
        raise CheckFailed(f"{where}: {len(grads)} gradients went in but {len(clipped)} "
                          f"came out; return one clipped array per parameter")
    for i, (a, g) in enumerate(zip(clipped, grads)):
        if np.shape(a) != g.shape:
            raise CheckFailed(f"{where}: clipped gradient {i} has shape {np.shape(a)}, "
                              f"but it must "
                              f"keep the parameter's shape {g.shape}; clipping only "
                              f"rescales")
    try:
        norm = float(norm)
    except (TypeError, ValueError):
        raise CheckFailed(f"{where}: the norm must be a number, got "
                          f"{type(norm).__name__}") from None
    return [np.asarray(a, dtype=np.float64) for a in clipped], norm


def clip_by_global_norm(student_fn):
    """Check ``student_fn(grads, c) -> (clipped, norm)`` on the fixed gradients of
    :data:`CASES` (see the module docstring). Prints one line on success; raises
    :class:`CheckFailed` with a hint."""
    table = stored("clip_by_global_norm")
    inputs = gradient_lists([case for _, case in CASES], SEED)
    for n, ((where, _), (grads, c)) in enumerate(zip(CASES, inputs)):
        where = f"{where}, c = {c:.3g}"
        originals = [g.copy() for g in grads]
        try:
            result = student_fn(grads, c)
        except Exception as err:  # report where it failed, in the student's terms
            raise CheckFailed(f"{where}: your function raised {type(err).__name__}: "
                              f"{err}") from err
        if any(not np.array_equal(g, o) for g, o in zip(grads, originals)):
            raise CheckFailed(f"{where}: your function changed the gradients it was "
                              f"given (in place, e.g. g *= factor). Return new arrays "
                              f"(g * factor) and leave the inputs as they were.")
        clipped, norm = _unpack(result, originals, where)
        expected, true_norm, clipped_norm = table["expected"][n]
        true_norm, clipped_norm = float(true_norm), float(clipped_norm)
        clipped_ok = _close(clipped, expected)
        norm_ok = rel_error(norm, true_norm) < _RTOL
        if clipped_ok and norm_ok:
            continue
        mistakes = {m: v[n] for m, v in table["mistakes"].items()}
        hints = [] if clipped_ok else [_clipped_hint(clipped, originals, expected,
                                                     clipped_norm, mistakes)]
        if not norm_ok:
            hints.append(_norm_hint(norm, true_norm, c))
        raise CheckFailed(f"{where}: " + " ".join(hints))
    ok("clip_by_global_norm: one common factor min(1, c/||g||) for all parameters, "
       "direction kept, small gradients untouched, pre-clip norm returned (3 cases)")


def _clipped_hint(clipped, originals, expected, clipped_norm, mistakes):
    """Why the clipped gradients are not min(1, c/||g||) g: the typical mistake whose
    stored answer they match."""
    if _close(clipped, mistakes["per parameter"]):
        return ("You clipped each parameter by its own norm. The lecture's g is all "
                "parameters' gradients stacked into one vector: compute one norm "
                "sqrt(sum over parameters of sum(g**2)) and multiply every gradient "
                "by the same factor min(1, c/norm), so the direction of g is kept.")
    if _close(clipped, mistakes["scaled up"]):
        return ("The norm is already below c, so nothing should change, but you "
                "scaled the gradient UP to length c. The factor is min(1, c/norm): "
                "clipping only ever shortens.")
    if _close(clipped, mistakes["sum of norms"]):
        return ("Your factor uses the sum of the parameters' norms. The global norm "
                "is the square root of the sum of all squared entries, "
                "sqrt(sum_k ||g_k||^2), not sum_k ||g_k||.")
    errors = ", ".join(f"{i}: {rel_error(a, b):.1e}"
                       for i, (a, b) in enumerate(zip(clipped, expected)))
    flat_got = np.concatenate([a.ravel() for a in clipped])
    flat_g = np.concatenate([g.ravel() for g in originals])
    cos = float(flat_got @ flat_g
                / max(1e-300, np.linalg.norm(flat_got) * np.linalg.norm(flat_g)))
    direction = ""
    if cos < 1 - 1e-6:
        direction = (f"Your result points in another direction than g (cosine "
                     f"{cos:.4f}, should be 1): clipping by norm only rescales, it "
                     f"never changes the ratios between entries (clipping each entry "
                     f"to [-c, c] would). ")
    return (direction + f"The clipped gradients differ from min(1, c/||g||) g "
                        f"(relative error per parameter {errors}); their joint norm "
                        f"should be {clipped_norm:.4g}.")


def _norm_hint(norm, true_norm, c):
    """Why the returned norm is not the norm of all gradients before clipping."""
    if c < true_norm and rel_error(norm, c) < _RTOL:         # c = factor * true_norm
        return (f"You returned the norm after clipping ({norm:.4g}, which is c). "
                f"Return the norm before clipping, {true_norm:.4g}: it is what "
                f"tells you how large the gradient really was.")
    if rel_error(norm, true_norm ** 2) < _RTOL:
        return f"You returned the squared norm ({norm:.4g}); take its square root."
    return (f"The returned norm is {norm:.4g}; the norm of all gradients stacked "
            f"into one vector is {true_norm:.4g}.")
