r"""The grader's references of chapters 1 to 3 (see the package's docstring).

Shapes in the lecture's letters: X (N, P), W1 (P, K1), b1 (K1,), W2 (K1, K2), b2 (K2,),
beta (K2,), a (), y (N,) in {0, 1}; the loss is the MEAN binary cross-entropy.
"""
from __future__ import annotations

import numpy as np

from lecture_lib.check._cases import mnist_train
from lecture_lib.functional import sigmoid

__all__ = ["twolayer_backward", "parameter_count", "initial_losses", "input_grad",
           "logreg_grads", "descent", "REFERENCES", "MISTAKES", "TOLERANCES",
           "COMPARATORS"]


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


def parameter_count(sizes):
    """Weights and biases of a fully connected network with widths ``sizes = [P, K1,
    ..., K]``: layer d has a (K_{d-1}, K_d) weight matrix and K_d biases."""
    return sum((n_in + 1) * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def initial_losses(K, scale, seed):
    """Chapter 1's untrained [128] network on the digits 0..K-1 of MNIST's training set:
    its cross-entropy before and after every parameter is multiplied by ``scale``."""
    import torch
    from torch import nn

    from lecture_lib.train import softmax_network
    X_train, y_train = mnist_train()
    torch.manual_seed(seed)
    keep = y_train < K
    X_k, y_k = torch.from_numpy(X_train[keep]), torch.from_numpy(y_train[keep])
    model = softmax_network([128], n_classes=K)
    with torch.no_grad():
        before = nn.functional.cross_entropy(model(X_k), y_k).item()
        for p in model.parameters():
            p.mul_(scale)
        after = nn.functional.cross_entropy(model(X_k), y_k).item()
    return before, after


def input_grad(W, b, x, y):
    """dL/dx (P,) of one observation's binary cross-entropy, W (P, 1), x (P,)."""
    return W[:, 0] * (sigmoid(x @ W[:, 0] + b) - y)


def logreg_grads(W, b, X, y, mean=True):
    """(dW (P, 1), db) of the MEAN binary cross-entropy of sigma(X W + b)."""
    r = (sigmoid(X @ W[:, 0] + b) - y) / (X.shape[0] if mean else 1)
    return (X.T @ r).reshape(W.shape), float(r.sum())


def descent(eta, steps, n):
    """Chapter 2's gradient descent from zero on the first n threes and fives of the
    fitting part of MNIST's training set: (losses before each step, W (P, 1), b)."""
    from lecture_lib.data import binary_task, train_validation_split
    X_train, digits = mnist_train()
    (X_fit, d_fit), _ = train_validation_split(X_train, digits)
    X, y = binary_task(X_fit, d_fit, n=n)
    W, b, losses = np.zeros((X.shape[1], 1)), 0.0, []
    for _ in range(steps):
        z = X @ W[:, 0] + b
        losses.append(float(np.mean(np.logaddexp(0, z) - y * z)))
        dW, db = logreg_grads(W, b, X, y)
        W, b = W - eta * dW, b - eta * db
    return losses, W, b


#: task name -> reference(args, **options)
REFERENCES = {"twolayer": _twolayer, "twolayer_chapter_batch": _twolayer,
              "layer_step": _step, "jacobian_memory": _jacobian_memory,
              "parameter_count": lambda args, **_: parameter_count(*args),
              "n_256_64": lambda args, **_: parameter_count([784, 256, 64, 10]),
              "initial_losses": lambda args, **_: initial_losses(*args),
              "input_grad": lambda args, **_: input_grad(*args),
              "logreg": lambda args, **_: logreg_grads(*args),
              "logreg_mnist": lambda args, **_: logreg_grads(*args),
              "tanh_backward": lambda args, **_: (1 - args[0] ** 2) * args[1],
              "reused_node": lambda args, **_: (2 * args[0] + args[1], args[0]),
              "descent": lambda args, **_: descent(*args)}
#: task name -> relative tolerance, where not coursetools.verdicts.TOL (float32 sums in
#: another thread count differ in the last digits)
TOLERANCES = {"initial_losses": 1e-4}
COMPARATORS = {}

#: task name -> {mistake: function(args, **options)}: what typical wrong answers return
#: (the self-checks store these outputs to diagnose a wrong answer).
MISTAKES = {
    "tanh_backward": {
        "tanh again": lambda a, **_: (1 - np.tanh(a[0]) ** 2) * a[1],
        "local alone": lambda a, **_: 1 - a[0] ** 2,
        "sigmoid": lambda a, **_: a[0] * (1 - a[0]) * a[1],
        "square of 1 - out": lambda a, **_: (1 - a[0]) ** 2 * a[1],
    },
    "reused_node": {
        "second factor only": lambda a, **_: (a[0] + a[1], a[0]),
        "through s only": lambda a, **_: (a[0], a[0]),
    },
    "parameter_count": {
        "weights only": lambda a, **_: sum(x * y for x, y in zip(a[0][:-1], a[0][1:])),
        "input biases": lambda a, **_: sum((x + 1) * y - y + x
                                           for x, y in zip(a[0][:-1], a[0][1:])),
        "no output layer": lambda a, **_: parameter_count(a[0][:-1]),
        "no output bias": lambda a, **_: parameter_count(a[0]) - a[0][-1],
    },
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
