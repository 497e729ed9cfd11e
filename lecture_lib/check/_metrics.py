r"""Self-check for the lecture's evaluation: log loss and error rate from predicted
probabilities (chapter 9).

With ``probs: (N, C)`` the predicted probabilities (rows sum to 1) and ``y: (N,)`` the
labels,

$$\text{log loss} = -\frac1N \sum_{i=1}^N \log p_{i, y_i}, \qquad
\text{error} = \frac1N \#\{i : \arg\max_k p_{ik} \ne y_i\},$$

with $p_{i, y_i}$ first clipped to $[\epsilon, 1 - \epsilon]$, $\epsilon$ the machine
epsilon of the probabilities' dtype, as ``sklearn.metrics.log_loss`` does (so that a
probability of 0 for the right class costs $-\log\epsilon \approx 36$ in float64 instead
of infinity).
"""
from __future__ import annotations

import math

import numpy as np

from ..functional import softmax
from ._base import CheckFailed, ok, rel_error

__all__ = ["log_loss_and_error"]

_TOL = 1e-9        # both computed in float64 from the same probabilities


def _reference(probs, y):
    eps = np.finfo(probs.dtype).eps
    p_true = np.clip(probs[np.arange(len(y)), y], eps, 1 - eps)
    return float(-np.log(p_true).mean()), float(np.mean(probs.argmax(axis=1) != y))


def _cases(rng):
    """Random probabilities of several shapes, one with a zero probability for the right
    class."""
    cases = []
    for N, C in [(50, 10), (7, 3), (200, 4)]:
        z = rng.normal(scale=2.0, size=(N, C))
        cases.append((softmax(z), rng.integers(0, C, N)))
    p, y = cases[0][0].copy(), cases[0][1]
    p[0] = 0.0
    p[0, (y[0] + 1) % 10] = 1.0                   # certain, and wrong: p_{0, y_0} = 0
    cases.append((p, y))
    return cases


def _hint(probs, y, got_loss, got_error, loss, error):
    """Name the usual mistake whose result the student's numbers match."""
    N = len(y)
    eps = np.finfo(probs.dtype).eps
    p_true = np.clip(probs[np.arange(N), y], eps, 1)
    onehot = np.eye(probs.shape[1])[y]
    clipped = np.clip(probs, eps, 1 - eps)
    candidates = {
        "a log loss without the minus sign: log p is negative, the loss is -log p":
            -loss,
        "the log loss summed over observations instead of averaged (missing 1/N)":
            loss * N,
        "the log loss averaged over all N*C entries: average over the N observations "
        "only":
            loss / probs.shape[1],
        "-log of the probability of the *predicted* class; the loss uses the "
        "probability of the *true* class":
            float(-np.log(np.clip(probs.max(axis=1), eps, 1)).mean()),
        "a binary cross-entropy summed over all classes; the softmax loss has only the "
        "true class's term":
            float(-(onehot * np.log(clipped)
                    + (1 - onehot) * np.log(1 - clipped)).sum(axis=1).mean()),
        "log base 10: the log loss uses the natural logarithm":
            float(-np.log10(p_true).mean()),
        "probabilities clipped at 1e-15 (older scikit-learn); clip at eps = "
        "np.finfo(probs.dtype).eps":
            float(-np.log(np.clip(probs[np.arange(N), y], 1e-15, 1 - 1e-15)).mean()),
    }
    if not rel_error(got_loss, loss) < _TOL:
        for what, value in candidates.items():
            if rel_error(got_loss, value) < 1e-6:
                return f" Your log loss looks like {what}."
        if not math.isfinite(got_loss):
            return (" One observation has probability 0 for its true class: clip the "
                    "probabilities to [eps, 1 - eps] with eps = "
                    "np.finfo(probs.dtype).eps before taking the log.")
        return ""
    if rel_error(got_error, 1 - error) < _TOL:
        return (" Your error rate is the accuracy: count the *mismatches* argmax p_i !="
                " y_i.")
    if rel_error(got_error, error * N) < _TOL:
        return " Your error is a count: divide by N for a rate."
    return ""


def log_loss_and_error(student_fn, seed=0):
    """Check ``student_fn(probs, y) -> (log_loss, error)`` on random probabilities
    ``probs: (N, C)`` and labels ``y: (N,)``, including a case with a zero probability
    for the true class (which must be clipped as ``sklearn.metrics.log_loss`` does)."""
    rng = np.random.default_rng(seed)
    for probs, y in _cases(rng):
        got = student_fn(probs.copy(), y.copy())
        if not (isinstance(got, tuple) and len(got) == 2):
            raise CheckFailed(f"return a pair (log_loss, error), got "
                              f"{type(got).__name__}: {got!r}")
        got_loss, got_error = float(got[0]), float(got[1])
        loss, error = _reference(probs, y)
        zero = (probs[np.arange(len(y)), y] == 0).any()
        where = (f"N = {len(y)}, C = {probs.shape[1]}"
                 + (", with a zero probability for a true class" if zero else ""))
        if not (rel_error(got_loss, loss) < _TOL
                and rel_error(got_error, error) < _TOL):
            hint = _hint(probs, y, got_loss, got_error, loss, error)
            raise CheckFailed(f"{where}: expected log loss {loss:.6f} and error "
                              f"{error:.4f}, got {got_loss:.6f} and {got_error:.4f}."
                              + hint)
    ok("log loss and error rate match sklearn's definitions on 4 cases, "
       "including a zero probability for the true class")
