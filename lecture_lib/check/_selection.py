r"""Self-check for the winner's curse (chapter 10): the best of k equally good models,
each scored on n images, looks better than it is.

If each of k models has the same true error rate $p$ and is scored on $n$ images, its
observed error rate is $E_j = X_j / n$ with $X_j \sim \text{Binomial}(n, p)$,
independently. The best observed score is $\min_j E_j$, and

$$\mathbb{E}\big[\min_j E_j\big] = \frac{1}{n} \sum_{c=0}^{n-1} \Pr(X > c)^k \le p,$$

with equality only for $k = 1$: choosing by a score makes the chosen score optimistic.
The check compares the student's mean with that expectation, stored for its fixed cases
(``expected.json``), and names the typical mistakes by their stored expectations.
"""
from __future__ import annotations

import math

import numpy as np

from ._base import CheckFailed, ok
from ._stored import stored

__all__ = ["best_of"]

#: (p, k, n, repeats) of the self-check's case: ten models on a test set of MNIST's
#: size.
DEFAULT_CASES = ((0.02, 10, 10_000, 4_000),)


def _hint(values, p, expected, best_of_max):
    """The typical mistake the values match (`best_of_max`: the stored expectation of
    the largest of the k rates)."""
    mean = float(np.mean(values))
    if np.any(values > 1):
        return (" Your values exceed 1: they look like counts of errors; divide by n "
                "for rates.")
    if abs(mean - best_of_max) < 0.25 * abs(best_of_max - expected) + 1e-12:
        return (" Your values look like the *largest* observed error; the model one "
                "would choose is the one with the smallest.")
    if abs(mean - p) < 0.25 * abs(p - expected) + 1e-12:
        return (" Your values average to p itself: they look like one model's score, "
                "or the mean over the k models; take the minimum over the k models.")
    return ""


def best_of(student_fn, seed=0):
    """Check ``student_fn(p, k, n, repeats, rng) -> (repeats,)`` array: in each repeat
    the smallest of k observed error rates, each that of a model with true error rate p
    scored on n images. The mean over the repeats must match the exact expectation
    (stored) within five Monte Carlo standard errors."""
    table = stored("best_of")
    for i, (p, k, n, repeats) in enumerate(DEFAULT_CASES):
        rng = np.random.default_rng(seed + i)
        where = f"p = {p}, k = {k}, n = {n:,}, repeats = {repeats:,}"
        values = np.asarray(student_fn(p, k, n, repeats, rng), dtype=float)
        if values.shape != (repeats,):
            raise CheckFailed(f"{where}: expected an array of shape ({repeats},), one "
                              f"best score per repeat, got shape {values.shape}")
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise CheckFailed(f"{where}: error rates are finite and at least 0")
        expected = float(table["expected"][i])
        sd = max(float(np.std(values)), 1.0 / n) / math.sqrt(repeats)
        mean = float(np.mean(values))
        if abs(mean - expected) > 5 * sd:
            raise CheckFailed(f"{where}: the mean best score should be about "
                              f"{expected:.5f} (exactly, from the binomial "
                              f"distribution), got {mean:.5f}."
                              + _hint(values, p, expected,
                                      float(table["mistakes"]["largest"][i])))
    cases_text = "1 case" if len(DEFAULT_CASES) == 1 else f"{len(DEFAULT_CASES)} cases"
    ok(f"the best of k observed error rates matches its exact expectation in "
       f"{cases_text}")
