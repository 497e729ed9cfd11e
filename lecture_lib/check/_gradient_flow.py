r"""Self-checks for the gradient-problems chapters: products of many factors (chapter 6)
and initialization (chapter 8).

- :func:`depth_to_exceed`: the smallest depth D at which ``factor ** D`` exceeds a
  threshold;
- :func:`layer_grad_norms`: $\|\partial L/\partial W_d\|_F$ for every linear layer of
  an engine MLP;
- :func:`initializer`: a student's ``he_normal`` or ``glorot_uniform``,
  ``f(n_in, n_out, rng)`` returning ``W: (n_in, n_out)``.
"""
from __future__ import annotations

import math

import numpy as np

from ._base import CheckFailed, ok, rel_error

__all__ = ["depth_to_exceed", "layer_grad_norms", "initializer"]


# ---- chapter 6: (1 + eps)^D ----------------------------------------------------------
_DEPTH_CASES = ((1.1, 1e6), (2.0, 1000.0), (1.01, 2.0), (1.5, 1e30), (1.001, 10.0))


def _reference_depth(factor, threshold):
    """Smallest integer D >= 0 with factor**D > threshold (factor > 1), by direct search
    from the logarithmic estimate, so the answer is exact even where the logarithm
    rounds."""
    D = max(0, math.floor(math.log(threshold) / math.log(factor)) - 2)
    while factor ** D <= threshold:
        D += 1
    return D


def depth_to_exceed(student_fn, cases=_DEPTH_CASES):
    """Check ``student_fn(factor, threshold) -> int``: the smallest depth D with
    ``factor ** D > threshold``, for factors > 1."""
    for factor, threshold in cases:
        expected = _reference_depth(factor, threshold)
        got = student_fn(factor, threshold)
        if isinstance(got, (bool, np.bool_)) or not isinstance(
                got, (int, np.integer, float, np.floating)):
            raise CheckFailed(f"factor {factor}, threshold {threshold:g}: expected an "
                              f"integer depth, got {got!r}")
        if got == expected:
            continue
        real = math.log(threshold) / math.log(factor)
        hint = ""
        if float(got) != round(float(got)):
            if abs(got - real) < 1e-6 * real:
                hint = (f" That is log(threshold)/log(factor) = {real:.4f} itself: a "
                        f"depth is a whole number of layers, so take the smallest "
                        f"integer above it.")
            else:
                hint = " A depth is a whole number of layers."
        elif got == expected - 1:
            hint = (f" With D = {got}, factor**D = {factor ** got:.6g} is still not "
                    f"above {threshold:g}: round up (math.floor(...) + 1), not down.")
        elif abs(got - math.log10(threshold) / math.log(factor)) < 1.5 or \
                abs(got - math.log(threshold) / math.log10(factor)) < 1.5:
            hint = (" The two logarithms must have the same base (log(threshold) / "
                    "log(factor)).")
        elif (abs(got - threshold / (factor - 1)) < 1.5
              or abs(got - (threshold - 1) / (factor - 1)) < 1.5):
            hint = (" That is what a *sum* of D increments would need; a product grows "
                    "geometrically: solve factor**D > threshold with logarithms.")
        raise CheckFailed(f"factor {factor}, threshold {threshold:g}: expected D = "
                          f"{expected} ({factor}**{expected} = "
                          f"{factor ** expected:.6g}), got {got!r}.{hint}")
    f, T = cases[0]
    ok(f"depths correct for {len(cases)} cases, e.g. {f}**D > {T:g} first at D = "
       f"{_reference_depth(f, T)}")


# ---- chapter 6: per-layer gradient norms ---------------------------------------------
_TOL = 1e-6        # float64 norms of the same gradients: they agree to ~1e-15
def _grad_problem(seed):
    """A small engine MLP (float64, He init, biases set non-zero) and a batch: (model,
    X, y)."""
    from ..nn import mlp
    rng = np.random.default_rng(seed)
    sizes = [12, 9, 8, 7, 5]
    model = mlp(sizes, init="he_normal", rng=rng, dtype=np.float64)
    for layer in model.layers:
        if hasattr(layer, "b"):
            layer.b.data = 0.1 * rng.standard_normal(layer.b.shape)
    N = 16
    X = rng.standard_normal((N, sizes[0]))
    y = rng.integers(0, sizes[-1], N)
    return model, X, y


def _fmt(a):
    return "[" + ", ".join(f"{v:.4g}" for v in np.ravel(a)) + "]"


def layer_grad_norms(student_fn, seeds=(0, 1)):
    r"""Check ``student_fn(model, X, y) -> array (L,)``: the Frobenius norm of $\partial
    L/\partial W_d$ for each of the L linear layers of an engine MLP, first layer first,
    where L is the mean softmax cross-entropy on ``X: (N, P)``, ``y: (N,)``."""
    from ..diagnostics import backprop
    for seed in seeds:
        model, X, y = _grad_problem(seed)
        trace = backprop(model, X, y)
        ref = np.array([np.linalg.norm(dW) for dW in trace.dW])
        got = _norms_of(student_fn(model, X, y), len(ref))
        if rel_error(got, ref) < _TOL:
            _check_second_call(student_fn, model, X, y, ref)
            continue
        raise CheckFailed(f"seed {seed}: expected norms {_fmt(ref)} (layer 1 first), "
                          f"got {_fmt(got)}: "
                          f"{_norms_hint(got, ref, trace, X.shape[0])}")
    ok(f"per-layer gradient norms match the reference on {len(seeds)} random networks "
       f"(e.g. {_fmt(ref)} for layers 1..{len(ref)})")


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


def _norms_hint(got, ref, trace, N):
    """The typical mistake that wrong norms ``got`` match."""
    bias = np.array([np.linalg.norm(db) for db in trace.db])
    close = lambda a: rel_error(got, a) < _TOL                 # noqa: E731
    if close(ref ** 2):
        return ("those are the squared norms: take the square root (np.linalg.norm "
                "does).")
    if close(ref[::-1]):
        return ("the right norms in reverse order: backward() visits the layers "
                "from the last to the first, but the answer lists layer 1 first.")
    if close(np.sqrt(ref ** 2 + bias ** 2)):
        return "the bias gradients are included: report only dL/dW_d."
    if close(N * ref):
        return (f"{N} times too large, and N = {N}: the loss is the MEAN "
                f"cross-entropy over the batch (softmax_cross_entropy already "
                f"averages); do not sum it.")
    if close(ref / N):
        return (f"{N} times too small, and N = {N}: the loss is divided by N once, "
                f"not twice.")
    if close(np.array([np.abs(dW).max() for dW in trace.dW])):
        return ("those are the largest entries max|dW_d|: the Frobenius norm is "
                "sqrt(sum of squares).")
    if close(np.array([np.linalg.norm(dW, 2) for dW in trace.dW])):
        return ("those are spectral norms (largest singular value): use the "
                "Frobenius norm.")
    return ("relative error per layer: "
            + _fmt([rel_error(g, r) for g, r in zip(got, ref)]) + ".")


# ---- chapter 8: initializers ---------------------------------------------------------
_INITS = {
    # name: (variance of W, normal?, bound or None) for fan-in n_in and fan-out n_out
    "he_normal": (lambda i, o: 2 / i, True, None),
    "glorot_uniform": (lambda i, o: 2 / (i + o), False,
                       lambda i, o: math.sqrt(6 / (i + o))),
}


def _kurtosis(W):
    c = W - W.mean()
    return float(np.mean(c ** 4) / np.mean(c ** 2) ** 2)


def initializer(student_fn, kind, n_in=600, n_out=200, seed=0):
    r"""Check ``student_fn(n_in, n_out, rng) -> W: (n_in, n_out)`` against the
    initializer ``kind``: ``"he_normal"`` ($N(0, 2/n_\text{in})$) or
    ``"glorot_uniform"`` ($U(-a, a)$, $a = \sqrt{6/(n_\text{in} + n_\text{out})}$,
    variance $2/(n_\text{in} + n_\text{out})$).

    Checks the shape, that ``rng`` makes it reproducible, the mean, the variance (5%
    relative, over 10 standard errors of the sample variance for 120,000 draws), the
    distribution's shape (normal: kurtosis 3; uniform: 1.8) and, for the uniform, the
    bound.
    """
    if kind not in _INITS:
        raise ValueError(f"kind must be one of {sorted(_INITS)}, got {kind!r}")
    var_fn, normal, bound_fn = _INITS[kind]
    W = _draw_twice(student_fn, kind, n_in, n_out, seed)
    target = var_fn(n_in, n_out)
    var, mean = float(W.var()), float(W.mean())
    if (abs(mean) > 6 * math.sqrt(target / W.size)
            and abs(mean) > 0.1 * math.sqrt(target)):
        hint = " The weights must be centred at 0"
        if not normal and W.min() >= 0:
            hint += ": draw from U(-a, a), not U(0, a)."
        raise CheckFailed(f"{kind}: the mean of W is {mean:.3g}, expected about "
                          f"0.{hint}")
    if abs(var / target - 1) > 0.05:
        hint = next((h for h, v in _variance_mistakes(normal, n_in, n_out).items()
                     if abs(var / v - 1) < 0.05), None)
        raise CheckFailed(f"{kind}({n_in}, {n_out}): variance of W is {var:.4g}, "
                          f"expected {target:.4g}" + (f": {hint}." if hint else "."))
    _check_distribution(W, kind, normal, bound_fn and bound_fn(n_in, n_out))
    bound = "" if normal else f", all |W| <= a = {bound_fn(n_in, n_out):.3g}"
    ok(f"{kind}({n_in}, {n_out}, rng): shape {W.shape}, mean {mean:+.1e}, variance "
       f"{var:.3g} (expected {target:.3g}){bound}")


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


def _variance_mistakes(normal, i, o):
    """hint -> the variance that the mistake it names gives, for fan-in i and fan-out
    o."""
    if normal:
        return {
            "your variance is 2/n_out: you swapped fan-in and fan-out (He uses the "
            "fan-in, the number of inputs of each unit, W.shape[0])": 2 / o,
            "that is 1/n_in: He's factor 2 is missing (a ReLU zeroes half of its "
            "inputs)": 1 / i,
            "that is Glorot's 2/(n_in + n_out), not He's 2/n_in": 2 / (i + o),
            "the variance is 1: the weights are not scaled at all": 1.0,
            "std vs variance mix-up: you passed the variance 2/n_in as numpy's scale, "
            "which is the standard deviation; use scale=sqrt(2/n_in)": (2 / i) ** 2,
            "std vs variance mix-up: the variance came out as sqrt(2/n_in), the "
            "standard deviation; the standard deviation is sqrt(2/n_in), so the "
            "variance is 2/n_in": math.sqrt(2 / i),
        }
    return {
        "that is He's 2/n_in: Glorot uses both fans, a = sqrt(6/(n_in + n_out))": 2 / i,
        "that is 2/n_out: Glorot uses both fans, a = sqrt(6/(n_in + n_out))": 2 / o,
        "the bound is sqrt(2/(n_in + n_out)), the standard deviation: U(-a, a) has "
        "variance a^2/3, so the bound must be sqrt(3) times larger, sqrt(6/(n_in + "
        "n_out))": 2 / (i + o) / 3,
        "the bound is 6/(n_in + n_out): the square root is missing":
            (6 / (i + o)) ** 2 / 3,
        "std vs variance mix-up: the bound is the variance 2/(n_in + n_out); U(-a, a) "
        "has variance a^2/3, so a = sqrt(6/(n_in + n_out))": (2 / (i + o)) ** 2 / 3,
        "that is a normal with standard deviation sqrt(6/(n_in + n_out)): "
        "Glorot-uniform draws U(-a, a) with that a, whose variance is a^2/3":
            6 / (i + o),
        "the variance is 1: the weights are not scaled at all": 1.0,
        "the variance is 1/3: that is U(-1, 1), unscaled": 1 / 3,
    }


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
