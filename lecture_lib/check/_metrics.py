r"""Self-check for the lecture's evaluation: log loss and error rate from predicted
probabilities (chapter 9).

With ``probs: (N, C)`` the predicted probabilities (rows sum to 1) and ``y: (N,)`` the
labels,

$$\text{log loss} = -\frac1N \sum_{i=1}^N \log p_{i, y_i}, \qquad
\text{error} = \frac1N \#\{i : \arg\max_k p_{ik} \ne y_i\},$$

with $p_{i, y_i}$ first clipped to $[\epsilon, 1 - \epsilon]$, $\epsilon$ the machine
epsilon of the probabilities' dtype, as ``sklearn.metrics.log_loss`` does (so that a
probability of 0 for the right class costs $-\log\epsilon \approx 36$ in float64 instead
of infinity). The check compares with the values stored for its fixed probabilities
(``expected.json``: no implementation of the answer here) and names a mistake by the
stored losses of the typical mistakes.
"""
from __future__ import annotations

import math

import numpy as np

from ._base import CheckFailed, ok, rel_error
from ._stored import stored
from ._tasks import probabilities

__all__ = ["log_loss_and_error"]

_TOL = 1e-9        # both computed in float64 from the same probabilities
#: (N, C) of the self-check's random probabilities (softmax of N(0, 2^2) logits, from
#: default_rng(SEED)); a fourth case repeats the first with a zero probability for a
#: true class
CASES = ((50, 10), (7, 3), (200, 4))
SEED = 0
_LOSS_HINTS = {
    "no minus": "a log loss without the minus sign: log p is negative, the loss is "
                "-log p",
    "summed": "the log loss summed over observations instead of averaged (missing 1/N)",
    "over all entries": "the log loss averaged over all N*C entries: average over the N "
                        "observations only",
    "predicted class": "-log of the probability of the *predicted* class; the loss uses "
                       "the probability of the *true* class",
    "binary": "a binary cross-entropy summed over all classes; the softmax loss has only "
              "the true class's term",
    "log10": "log base 10: the log loss uses the natural logarithm",
    "clip 1e-15": "probabilities clipped at 1e-15 (older scikit-learn); clip at eps = "
                  "np.finfo(probs.dtype).eps",
}


def _hint(got_loss, got_error, loss, error, N, mistakes):
    """Name the usual mistake whose result the student's numbers match (`mistakes`:
    the stored losses of the mistakes for this case)."""
    if not rel_error(got_loss, loss) < _TOL:
        for name, value in mistakes.items():
            if rel_error(got_loss, value) < 1e-6:
                return f" Your log loss looks like {_LOSS_HINTS[name]}."
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


def log_loss_and_error(student_fn):
    """Check ``student_fn(probs, y) -> (log_loss, error)`` on fixed random probabilities
    ``probs: (N, C)`` and labels ``y: (N,)``, including a case with a zero probability
    for the true class (which must be clipped as ``sklearn.metrics.log_loss`` does),
    against the stored values."""
    table = stored("log_loss_and_error")
    for n, (probs, y) in enumerate(probabilities(CASES, SEED)):
        got = student_fn(probs.copy(), y.copy())
        if not (isinstance(got, tuple) and len(got) == 2):
            raise CheckFailed(f"return a pair (log_loss, error), got "
                              f"{type(got).__name__}: {got!r}")
        got_loss, got_error = float(got[0]), float(got[1])
        loss, error = (float(v) for v in table["expected"][n])
        zero = (probs[np.arange(len(y)), y] == 0).any()
        where = (f"N = {len(y)}, C = {probs.shape[1]}"
                 + (", with a zero probability for a true class" if zero else ""))
        if not (rel_error(got_loss, loss) < _TOL
                and rel_error(got_error, error) < _TOL):
            mistakes = {m: float(v[n]) for m, v in table["mistakes"].items()}
            hint = _hint(got_loss, got_error, loss, error, len(y), mistakes)
            raise CheckFailed(f"{where}: expected log loss {loss:.6f} and error "
                              f"{error:.4f}, got {got_loss:.6f} and {got_error:.4f}."
                              + hint)
    ok("log loss and error rate match sklearn's definitions on 4 cases, "
       "including a zero probability for the true class")
