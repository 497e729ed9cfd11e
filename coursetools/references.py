r"""The grader's references: the answers of the graded exercises, outside ``lecture_lib``.

Students install ``lecture_lib`` and can read it; this module is the instructor's and
is never visible in the sandbox. ``REFERENCES[name](args, **options)`` is the correct
answer of the task ``name`` (see ``lecture_lib.check._cases``) for one argument tuple;
``MISTAKES`` are the answers of typical wrong solutions, from which
``python -m coursetools.expected`` stores the self-checks' diagnoses.

Shapes in the lecture's letters: X (N, P), W1 (P, K1), b1 (K1,), W2 (K1, K2), b2 (K2,),
beta (K2,), a (), y (N,) in {0, 1}; the loss is the MEAN binary cross-entropy.
"""
from __future__ import annotations

import numpy as np

from lecture_lib.functional import sigmoid

__all__ = ["twolayer_backward", "REFERENCES", "MISTAKES"]


def twolayer_backward(params, X, y, mask1=True, mask2=True, mean=True, layer2="relu"):
    r"""Gradients of the two-layer network, with switches for the typical mistakes.

    ``layer2="tanh"``: $h_2 = \tanh(q_2)$, local gradient $1 - h_2^2$;
    ``mask1``/``mask2=False`` leave out that layer's local gradient; ``mean=False``
    differentiates the SUM of the losses. Returns dict W1, b1, W2, b2, beta, a, X.
    """
    W1, b1, W2, b2, beta, a = (np.asarray(params[k], dtype=np.float64)
                               for k in ("W1", "b1", "W2", "b2", "beta", "a"))
    q1 = X @ W1 + b1
    h1 = np.maximum(q1, 0)
    q2 = h1 @ W2 + b2
    h2 = np.tanh(q2) if layer2 == "tanh" else np.maximum(q2, 0)
    z = h2 @ beta + a
    dz = (sigmoid(z) - y) / (X.shape[0] if mean else 1)
    dh2 = np.outer(dz, beta)
    local2 = (1 - h2 ** 2) if layer2 == "tanh" else (q2 > 0)
    dq2 = dh2 * local2 if mask2 else dh2
    dh1 = dq2 @ W2.T
    dq1 = dh1 * (q1 > 0) if mask1 else dh1
    return {"W1": X.T @ dq1, "b1": dq1.sum(axis=0), "W2": h1.T @ dq2,
            "b2": dq2.sum(axis=0), "beta": h2.T @ dz, "a": np.asarray(dz.sum()),
            "X": dq1 @ W1.T}


def _twolayer(args, layer2="relu", **_):
    return twolayer_backward(*args, layer2=layer2)


def _step(args, step, **_):
    if step in ("grad_W", "grad_W2"):
        h, dq = args
        return h.T @ dq
    if step == "grad_h":
        dq, W = args
        return dq @ W.T
    if step == "grad_b":
        return args[0].sum(axis=0)
    dh, q = args
    return dh * (q > 0)


def _jacobian_memory(args, **_):
    K1, K2, nbytes = args
    return (K2 * K1 * K2 * nbytes, K1 * K2 * nbytes)


#: task name -> reference(args, **options)
REFERENCES = {"twolayer": _twolayer, "twolayer_chapter_batch": _twolayer,
              "layer_step": _step, "jacobian_memory": _jacobian_memory}

#: task name -> {mistake: function(args, **options)}: what typical wrong answers return
#: (the self-checks store these outputs to diagnose a wrong answer).
MISTAKES = {
    "twolayer": {
        "no mask in layer 2": lambda a, layer2="relu", **_: twolayer_backward(
            *a, mask2=False, layer2=layer2),
        "no mask in layer 1": lambda a, layer2="relu", **_: twolayer_backward(
            *a, mask1=False, layer2=layer2),
        "no masks": lambda a, layer2="relu", **_: twolayer_backward(
            *a, mask1=False, mask2=False, layer2=layer2),
        "sum instead of mean": lambda a, layer2="relu", **_: twolayer_backward(
            *a, mean=False, layer2=layer2),
        "relu network": lambda a, **_: twolayer_backward(*a, layer2="relu"),
    },
}
