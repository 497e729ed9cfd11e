r"""The grader's references of chapter 11, "Residual connections": the gradients of a
residual network by hand, and the mean square of its pre-activations block by block.

In row form, $q_1 = X W_1 + b_1$, $q_d = q_{d-1} + \mathrm{relu}(q_{d-1}) W_d + b_d$
for $d = 2, \dots, D$ (without $q_{d-1} +$ in a plain network), logits $z =
\mathrm{relu}(q_D) W_{D+1} + b_{D+1}$; the loss is the mean cross-entropy. Shapes: X
(N, P), y (N,), W_d (K_{d-1}, K_d), b_d (K_d,).
"""
from __future__ import annotations

import numpy as np

from ..comparing import compare, number

__all__ = ["residual_backward", "block_mean_squares"]


def _forward(layers, X, skip=True):
    """[q_1, ..., q_D] and the logits z."""
    qs = [X @ layers[0][0] + layers[0][1]]
    for W, b in layers[1:-1]:
        branch = np.maximum(qs[-1], 0) @ W + b
        qs.append(qs[-1] + branch if skip else branch)
    W, b = layers[-1]
    return qs, np.maximum(qs[-1], 0) @ W + b


def residual_backward(layers, X, y):
    """[dL/dW_1, ..., dL/dW_{D+1}], each shaped like its W, in float64."""
    layers = [(np.asarray(W, np.float64), np.asarray(b, np.float64)) for W, b in layers]
    X = np.asarray(X, dtype=np.float64)
    qs, z = _forward(layers, X)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    dz = p / p.sum(axis=1, keepdims=True)
    dz[np.arange(len(y)), y] -= 1
    dz /= len(y)
    grads = [np.maximum(qs[-1], 0).T @ dz]                       # dL/dW_{D+1}
    dq = (dz @ layers[-1][0].T) * (qs[-1] > 0)                   # dL/dq_D
    for d in range(len(layers) - 2, 0, -1):                      # W_{d+1}: q_d -> q_{d+1}
        grads.append(np.maximum(qs[d - 1], 0).T @ dq)
        dq = dq + (dq @ layers[d][0].T) * (qs[d - 1] > 0)        # the skip adds dq
    grads.append(X.T @ dq)                                       # dL/dW_1
    return grads[::-1]


def block_mean_squares(net, X):
    """The mean of q_d^2 over the images and units, d = 1..D, of a torch network with
    ``net.layers`` (Linear) and ``net.skip``, on X, in float64: an array (D,)."""
    layers = [(layer.weight.detach().double().numpy().T,
               layer.bias.detach().double().numpy()) for layer in net.layers]
    qs, _ = _forward(layers, np.asarray(X, dtype=np.float64), skip=net.skip)
    return np.array([float(np.mean(q ** 2)) for q in qs])


def _judge_block_mean_squares(got, ref, args, options):
    """[the answer, the network unchanged, still float32]."""
    if not (isinstance(got, list) and len(got) == 3):
        return "the record is not [answer, unchanged, float32]"
    if number(got[1])[0] != 1.0 or number(got[2])[0] != 1.0:
        return ("block_mean_squares changed the network it was given (work on a "
                "float64 copy)")
    return compare(got[0], ref[0], "the mean squares")


REFERENCES = {
    "residual_backward": lambda args, **_: residual_backward(*args),
    # [the answer, the network unchanged, still float32]
    "block_mean_squares": lambda args, **_: [block_mean_squares(*args), 1.0, 1.0],
}
COMPARATORS = {"block_mean_squares": _judge_block_mean_squares}
