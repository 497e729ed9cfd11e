r"""Self-checks for the gradient-problems chapters: products of many factors (chapter 6)
and initialization (chapter 8).

- :func:`depth_to_exceed`: the smallest depth D at which ``factor ** D`` exceeds a
  threshold;
- :func:`layer_grad_norms`: $\|\partial L/\partial W_d\|_F$ for every linear layer of
  an engine MLP;
- :func:`initializer`: a student's ``he_normal`` or ``glorot_uniform``,
  ``f(n_in, n_out, rng)`` returning ``W: (n_in, n_out)``.

Each compares with values stored for its fixed inputs (``expected.json``: the depths,
the norms, the initializers' variances and bounds) and names a mistake by the stored
answers of the typical mistakes; no answer is computed here.
"""
from __future__ import annotations

import math

import numpy as np

from ._base import CheckFailed, ok, rel_error
from ._stored import stored
from ._tasks import engine_mlps

__all__ = ["depth_to_exceed", "layer_grad_norms", "initializer"]


# ---- chapter 6: (1 + eps)^D ----------------------------------------------------------
#: the self-check's (factor, threshold) pairs
DEPTH_CASES = ((1.1, 1e6), (2.0, 1000.0), (1.01, 2.0), (1.5, 1e30), (1.001, 10.0))


def _depth_hint(got, expected, factor, threshold, mistakes):
    """The typical mistake the wrong depth `got` matches (`mistakes`: their stored
    values for this case)."""
    if float(got) != round(float(got)):
        if abs(got - mistakes["unrounded"]) < 1e-6 * mistakes["unrounded"]:
            return (f" That is log(threshold)/log(factor) = "
                    f"{mistakes['unrounded']:.4f} itself: a depth is a whole number of "
                    f"layers, so take the smallest integer above it.")
        return " A depth is a whole number of layers."
    if got == expected - 1:
        return (f" With D = {got}, factor**D = {factor ** got:.6g} is still not above "
                f"{threshold:g}: round up (math.floor(...) + 1), not down.")
    if any(abs(got - mistakes[m]) < 1.5 for m in ("log10 over log", "log over log10")):
        return (" The two logarithms must have the same base (log(threshold) / "
                "log(factor)).")
    if any(abs(got - mistakes[m]) < 1.5 for m in ("sum", "sum from 1")):
        return (" That is what a *sum* of D increments would need; a product grows "
                "geometrically: solve factor**D > threshold with logarithms.")
    return ""


def depth_to_exceed(student_fn):
    """Check ``student_fn(factor, threshold) -> int``: the smallest depth D with
    ``factor ** D > threshold``, for factors > 1, against the stored depths of
    :data:`DEPTH_CASES`."""
    table = stored("depth_to_exceed")
    for n, (factor, threshold) in enumerate(DEPTH_CASES):
        expected = int(table["expected"][n])
        got = student_fn(factor, threshold)
        if isinstance(got, (bool, np.bool_)) or not isinstance(
                got, (int, np.integer, float, np.floating)):
            raise CheckFailed(f"factor {factor}, threshold {threshold:g}: expected an "
                              f"integer depth, got {got!r}")
        if got == expected:
            continue
        mistakes = {m: float(v[n]) for m, v in table["mistakes"].items()}
        raise CheckFailed(f"factor {factor}, threshold {threshold:g}: expected D = "
                          f"{expected} ({factor}**{expected} = "
                          f"{factor ** expected:.6g}), got {got!r}."
                          + _depth_hint(got, expected, factor, threshold, mistakes))
    f, T = DEPTH_CASES[0]
    ok(f"depths correct for {len(DEPTH_CASES)} cases, e.g. {f}**D > {T:g} first at "
       f"D = {int(table['expected'][0])}")


# ---- chapter 6: per-layer gradient norms ---------------------------------------------
_TOL = 1e-6        # float64 norms of the same gradients: they agree to ~1e-15
#: the seeds of the self-check's networks (``_tasks.engine_mlps``: [12, 9, 8, 7, 5])
NORM_SEEDS = (0, 1)


def _fmt(a):
    return "[" + ", ".join(f"{v:.4g}" for v in np.ravel(a)) + "]"


def layer_grad_norms(student_fn):
    r"""Check ``student_fn(model, X, y) -> array (L,)``: the Frobenius norm of $\partial
    L/\partial W_d$ for each of the L linear layers of an engine MLP, first layer first,
    where L is the mean softmax cross-entropy on ``X: (N, P)``, ``y: (N,)``; compared
    with the stored norms of two fixed networks."""
    table = stored("layer_grad_norms")
    for n, (model, X, y) in enumerate(engine_mlps(NORM_SEEDS)):
        ref = table["expected"][n]
        got = _norms_of(student_fn(model, X, y), len(ref))
        if rel_error(got, ref) < _TOL:
            _check_second_call(student_fn, model, X, y, ref)
            continue
        mistakes = {m: v[n] for m, v in table["mistakes"].items()}
        raise CheckFailed(f"seed {NORM_SEEDS[n]}: expected norms {_fmt(ref)} (layer 1 "
                          f"first), got {_fmt(got)}: "
                          f"{_norms_hint(got, ref, mistakes, X.shape[0])}")
    ok(f"per-layer gradient norms match the stored ones on {len(NORM_SEEDS)} random "
       f"networks (e.g. {_fmt(ref)} for layers 1..{len(ref)})")


def _norms_of(got, L):
    """The student's answer as a float64 vector of L norms, or a CheckFailed saying why
    not."""
    try:
        got = np.asarray(got, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise CheckFailed(f"expected an array of {L} numbers (one per linear "
                          f"layer), got {got!r}") from None
    if got.shape != (L,):
        hint = ""
        if got.size == 2 * L:
            hint = (" That is two per layer: report only the weights W_d, not the "
                    "biases b_d.")
        elif got.size == 2 * L - 1:
            hint = (" The model has ReLU layers too: keep only the Linear layers "
                    "(they have a W).")
        elif got.size == L - 1:
            hint = (" The output layer (the logits) is a linear layer too: include "
                    "it.")
        raise CheckFailed(f"expected {L} norms (the model {[12, 9, 8, 7, 5]} has L "
                          f"= {L} linear layers), got {got.size}.{hint}")
    return got


def _check_second_call(student_fn, model, X, y, ref):
    """A second call on the same model must give the same norms (no accumulation)."""
    again = np.asarray(student_fn(model, X, y), dtype=np.float64).ravel()
    if rel_error(again, 2 * ref) < _TOL:
        raise CheckFailed("the first call is right, but calling the function a "
                          "second time on the same model gives twice the "
                          "norms: gradients accumulate across backward() "
                          "calls; call model.zero_grad() before the backward "
                          "pass.")
    if not rel_error(again, ref) < _TOL:
        raise CheckFailed(f"a second call on the same model gives "
                          f"{_fmt(again)}, not {_fmt(ref)}: "
                          "the function must not change the model or depend on "
                          "earlier calls.")


def _norms_hint(got, ref, mistakes, N):
    """The typical mistake that wrong norms ``got`` match (`mistakes`: their stored
    values for this network)."""
    close = lambda m: rel_error(got, mistakes[m]) < _TOL            # noqa: E731
    if close("squared"):
        return ("those are the squared norms: take the square root (np.linalg.norm "
                "does).")
    if close("reversed"):
        return ("the right norms in reverse order: backward() visits the layers "
                "from the last to the first, but the answer lists layer 1 first.")
    if close("with biases"):
        return "the bias gradients are included: report only dL/dW_d."
    if close("sum"):
        return (f"{N} times too large, and N = {N}: the loss is the MEAN "
                f"cross-entropy over the batch (softmax_cross_entropy already "
                f"averages); do not sum it.")
    if close("mean twice"):
        return (f"{N} times too small, and N = {N}: the loss is divided by N once, "
                f"not twice.")
    if close("largest entry"):
        return ("those are the largest entries max|dW_d|: the Frobenius norm is "
                "sqrt(sum of squares).")
    if close("spectral"):
        return ("those are spectral norms (largest singular value): use the "
                "Frobenius norm.")
    return ("relative error per layer: "
            + _fmt([rel_error(g, r) for g, r in zip(got, ref)]) + ".")


# ---- chapter 8: initializers ---------------------------------------------------------
#: (n_in, n_out) of the self-check's draws, and whether each kind draws from a normal
INIT_SIZES = (600, 200)
_NORMAL = {"he_normal": True, "glorot_uniform": False}
_VARIANCE_HINTS = {
    "swapped fans": "your variance is 2/n_out: you swapped fan-in and fan-out (He uses "
                    "the fan-in, the number of inputs of each unit, W.shape[0])",
    "no factor 2": "that is 1/n_in: He's factor 2 is missing (a ReLU zeroes half of "
                   "its inputs)",
    "glorot": "that is Glorot's 2/(n_in + n_out), not He's 2/n_in",
    "unscaled": "the variance is 1: the weights are not scaled at all",
    "variance as scale": "std vs variance mix-up: you passed the variance 2/n_in as "
                         "numpy's scale, which is the standard deviation; use "
                         "scale=sqrt(2/n_in)",
    "std as variance": "std vs variance mix-up: the variance came out as "
                       "sqrt(2/n_in), the standard deviation; the standard deviation "
                       "is sqrt(2/n_in), so the variance is 2/n_in",
    "he": "that is He's 2/n_in: Glorot uses both fans, a = sqrt(6/(n_in + n_out))",
    "fan-out": "that is 2/n_out: Glorot uses both fans, a = sqrt(6/(n_in + n_out))",
    "std as bound": "the bound is sqrt(2/(n_in + n_out)), the standard deviation: "
                    "U(-a, a) has variance a^2/3, so the bound must be sqrt(3) times "
                    "larger, sqrt(6/(n_in + n_out))",
    "no square root": "the bound is 6/(n_in + n_out): the square root is missing",
    "variance as bound": "std vs variance mix-up: the bound is the variance 2/(n_in + "
                         "n_out); U(-a, a) has variance a^2/3, so a = sqrt(6/(n_in + "
                         "n_out))",
    "normal": "that is a normal with standard deviation sqrt(6/(n_in + n_out)): "
              "Glorot-uniform draws U(-a, a) with that a, whose variance is a^2/3",
    "U(-1, 1)": "the variance is 1/3: that is U(-1, 1), unscaled",
}


def _kurtosis(W):
    c = W - W.mean()
    return float(np.mean(c ** 4) / np.mean(c ** 2) ** 2)


def initializer(student_fn, kind):
    r"""Check ``student_fn(n_in, n_out, rng) -> W: (n_in, n_out)`` against the
    initializer ``kind``: ``"he_normal"`` ($N(0, 2/n_\text{in})$) or
    ``"glorot_uniform"`` ($U(-a, a)$, $a = \sqrt{6/(n_\text{in} + n_\text{out})}$),
    for (n_in, n_out) = (600, 200), against the stored variance and bound.

    Checks the shape, that ``rng`` makes it reproducible, the mean, the variance (5%
    relative, over 10 standard errors of the sample variance for 120,000 draws), the
    distribution's shape (normal: kurtosis 3; uniform: 1.8) and, for the uniform, the
    bound.
    """
    if kind not in _NORMAL:
        raise ValueError(f"kind must be one of {sorted(_NORMAL)}, got {kind!r}")
    n_in, n_out = INIT_SIZES
    normal, table = _NORMAL[kind], stored(f"initializer/{kind}")
    target, bound = (float(v) for v in table["expected"][0])
    W = _draw_twice(student_fn, kind, n_in, n_out, seed=0)
    var, mean = float(W.var()), float(W.mean())
    if (abs(mean) > 6 * math.sqrt(target / W.size)
            and abs(mean) > 0.1 * math.sqrt(target)):
        hint = " The weights must be centred at 0"
        if not normal and W.min() >= 0:
            hint += ": draw from U(-a, a), not U(0, a)."
        raise CheckFailed(f"{kind}: the mean of W is {mean:.3g}, expected about "
                          f"0.{hint}")
    if abs(var / target - 1) > 0.05:
        hint = next((_VARIANCE_HINTS[m] for m, v in table["mistakes"].items()
                     if abs(var / float(v[0]) - 1) < 0.05), None)
        raise CheckFailed(f"{kind}({n_in}, {n_out}): variance of W is {var:.4g}, "
                          f"expected {target:.4g}" + (f": {hint}." if hint else "."))
    _check_distribution(W, kind, normal, bound)
    bound_text = "" if normal else f", all |W| <= a = {bound:.3g}"
    ok(f"{kind}({n_in}, {n_out}, rng): shape {W.shape}, mean {mean:+.1e}, variance "
       f"{var:.3g} (expected {target:.3g}){bound_text}")


def _draw_twice(student_fn, kind, n_in, n_out, seed):
    """W (n_in, n_out) as float64, after checking its shape and that two generators
    seeded alike give the same matrix."""
    W = np.asarray(student_fn(n_in, n_out, np.random.default_rng(seed)))
    if W.shape != (n_in, n_out):
        hint = ""
        if W.shape == (n_out, n_in):
            hint = (" That is torch's layout (out, in); the book's W is (n_in, n_out), "
                    "so that a batch h: (N, n_in) multiplies it as h @ W.")
        raise CheckFailed(f"{kind}({n_in}, {n_out}, rng): expected shape (n_in, n_out) "
                          f"= {(n_in, n_out)}, got {W.shape}.{hint}")
    W2 = np.asarray(student_fn(n_in, n_out, np.random.default_rng(seed)))
    if not np.array_equal(W, W2):
        raise CheckFailed(f"two calls with generators seeded alike gave different "
                          f"matrices: draw every number from the rng argument "
                          f"(rng.normal / rng.uniform), not from np.random or torch.")
    return W.astype(np.float64)


def _check_distribution(W, kind, normal, bound):
    """A normal has kurtosis 3; a uniform U(-a, a) has kurtosis 1.8 and no |W| above
    a."""
    kurt = _kurtosis(W)
    if normal and abs(kurt - 3) > 0.3:
        what = ("uniform" if abs(kurt - 1.8) < 0.3
                else f"not normal (kurtosis {kurt:.2f}, a normal has 3)")
        raise CheckFailed(f"{kind}: the variance is right but the draws look {what}: "
                          f"He's initializer draws from a normal distribution "
                          f"(rng.normal).")
    if not normal:
        if np.abs(W).max() > bound * (1 + 1e-12):
            raise CheckFailed(f"{kind}: some |W| = {np.abs(W).max():.4g} exceed the "
                              f"bound a = sqrt(6/(n_in + n_out)) = {bound:.4g}: draw "
                              f"from U(-a, a), not a normal.")
        if abs(kurt - 1.8) > 0.2:
            raise CheckFailed(f"{kind}: the variance is right but the draws are not "
                              f"uniform (kurtosis {kurt:.2f}, a uniform has 1.8): use "
                              f"rng.uniform(-a, a, size).")
