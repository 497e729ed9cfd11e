r"""The numpy formulas several modules compute, written once: the stable sigmoid,
softmax, log-softmax and the mean softmax cross-entropy.

Plain arrays in, arrays out: no graph, no validation. The engine's operations
(:mod:`lecture_lib.autodiff`), the hand-derived network (:mod:`lecture_lib.twolayer`),
the training loop's evaluation (:mod:`lecture_lib.train`), the benchmark's numpy step
(:mod:`lecture_lib.bench`) and the self-checks (:mod:`lecture_lib.check`) all call
these.

Letters: logits ``z: (N, K)``, one row per observation, and integer labels ``y: (N,)``
in ``0..K-1``.
"""
import numpy as np

__all__ = ["sigmoid", "softmax", "log_softmax", "softmax_cross_entropy"]


def sigmoid(z):
    r"""Logistic function $\sigma(z) = 1/(1 + e^{-z})$, elementwise, without overflow.

    z: any shape; returns the same shape and dtype. For $z < 0$ it uses the equal form
    $e^{z}/(1 + e^{z})$, so ``exp`` only ever sees non-positive numbers.
    """
    z = np.asarray(z)
    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _shifted_exp(z, axis):
    """``z`` minus its maximum along ``axis``, its exponential, and the sum of that: the
    shift changes no softmax but keeps ``exp`` at most 1, so nothing overflows. An empty
    axis gives an empty result, as torch."""
    shifted = z - z.max(axis=axis, keepdims=True, initial=-np.inf)
    e = np.exp(shifted)
    return shifted, e, e.sum(axis=axis, keepdims=True)


def softmax(z, axis=-1):
    r"""$\mathrm{softmax}(z)_j = e^{z_j} / \sum_k e^{z_k}$ along ``axis`` (each row of z
    (N, K))."""
    _, e, sum_e = _shifted_exp(np.asarray(z), axis)
    return e / sum_e


def log_softmax(z, axis=-1):
    r"""$\log \mathrm{softmax}(z)_j = z_j - \log\sum_k e^{z_k}$ along ``axis``, computed
    from the shifted logits, so that a logit of 1000 gives a finite answer."""
    shifted, _, sum_e = _shifted_exp(np.asarray(z), axis)
    return shifted - np.log(sum_e)


def softmax_cross_entropy(z, y):
    r"""The mean cross-entropy of logits z (N, K) against labels y (N,), and the
    softmax.

    $$
        L = -\frac1N \sum_i \log \mathrm{softmax}(z_i)_{y_i}, \qquad
        \frac{\partial L}{\partial z}
            = \frac{\mathrm{softmax}(z) - \mathrm{onehot}(y)}{N}.
    $$

    Returns ``(L, p)``: L a numpy scalar of z's dtype, p = softmax(z) (N, K), a fresh
    array (subtract 1 at ``p[range(N), y]`` and divide by N for the gradient). One
    exponential serves both.
    """
    shifted, e, sum_e = _shifted_exp(np.asarray(z), 1)
    log_p = shifted - np.log(sum_e)
    return -log_p[np.arange(len(y)), y].mean(), e / sum_e
