r"""The grader's references of chapters 6 and 8, "Products of many factors" and
"Initialization": the depth at which a product exceeds a threshold, per-layer gradient
norms of an engine MLP, the measured growth factor of an N(0, 1) ReLU network, the
variance of layer 5's pre-activations, and the statistics of an initializer's draws.

Shapes: X (N, P) images, y (N,) labels; W_d (K_{d-1}, K_d), b_d (K_d,).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from lecture_lib.check import _gradient_flow as selfcheck
from lecture_lib.check._cases import given
from lecture_lib.check._tasks import chapter6_batch, chapter8_batch, engine_mlps

from ..comparing import compare, number
from ._entries import entry

__all__ = ["depth_to_exceed", "mlp_gradients", "measured_growth", "var_x_sum",
           "measured_var_q5", "INITIALIZERS"]


# ---- chapter 6 ---------------------------------------------------------------------
def depth_to_exceed(factor, threshold):
    """Smallest integer D >= 0 with factor**D > threshold (factor > 1), by direct search
    from the logarithmic estimate, so the answer is exact even where the logarithm
    rounds."""
    D = max(0, math.floor(math.log(threshold) / math.log(factor)) - 2)
    while factor ** D <= threshold:
        D += 1
    return D


def _judge_depth(got, ref, args, options):
    value, problem = number(got, f"depth_to_exceed{tuple(args)}")
    if problem:
        return problem
    if value != ref:
        return f"depth_to_exceed{tuple(args)} = {value:g}, which is wrong"
    return None


def mlp_gradients(model, X, y):
    """([dL/dW_d], [dL/db_d]), first layer first, of the mean softmax cross-entropy
    of a ReLU MLP (an engine Sequential) on X, y, in float64."""
    from lecture_lib.diagnostics import layers_of
    layers, acts = layers_of(model)
    if set(acts) - {"relu"}:
        raise ValueError("mlp_gradients: ReLU networks only")
    layers = [(np.asarray(W, np.float64), np.asarray(b, np.float64)) for W, b in layers]
    hs, qs = [np.asarray(X, dtype=np.float64)], []
    for d, (W, b) in enumerate(layers):
        qs.append(hs[-1] @ W + b)
        if d < len(layers) - 1:
            hs.append(np.maximum(qs[-1], 0))
    z = qs[-1]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    dq = p.copy()
    dq[np.arange(len(y)), y] -= 1
    dq /= len(y)
    dWs, dbs = [], []
    for d in range(len(layers) - 1, -1, -1):
        dWs.append(hs[d].T @ dq)
        dbs.append(dq.sum(axis=0))
        if d > 0:
            dq = (dq @ layers[d][0].T) * (qs[d - 1] > 0)
    return dWs[::-1], dbs[::-1]


def _norms(args):
    dWs, _ = mlp_gradients(*args)
    return np.array([np.linalg.norm(dW) for dW in dWs])


def _judge_norms(got, ref, args, options):
    """[first call, second call]: both the norms; a second call that differs means
    the gradients accumulated (no zero_grad)."""
    if not (isinstance(got, list) and len(got) == 2):
        return "the record is not [first call, second call]"
    problem = compare(got[0], ref[0], "the norms")
    if problem:
        return problem
    if compare(got[1], ref[1], "the norms"):
        return ("a second call on the same model gives other norms: reset the "
                "gradients (model.zero_grad()) before backward()")
    return None


@functools.lru_cache(maxsize=None)
def measured_growth(n, depth, n_images):
    """e^slope of the least-squares line through log ||h_d||, d = 1..depth, for the
    first n_images of chapter 6's batch through diagnostics.deep_mlp(depth, n,
    "standard_normal", seed=0) (float64, forward only)."""
    from lecture_lib.diagnostics import deep_mlp, layers_of
    X, _ = chapter6_batch()
    layers, _ = layers_of(deep_mlp(depth, n, "standard_normal", seed=0))
    h, lengths = X[:n_images].astype(np.float64), []
    for W, b in layers[:-1]:
        h = np.maximum(h @ W + b, 0)
        lengths.append(np.linalg.norm(h))
    slope = np.polyfit(np.arange(1, depth + 1), np.log(lengths), 1)[0]
    return math.exp(slope)


# A fit through d = 0..D (the input too) differs by about 0.1% on the hidden cases;
# sqrt(n/2), the theory, by 3%; ignoring n_images or depth by 1% or more. (rel_error
# is |a - b| / (|a| + |b|): half the relative difference.)
GROWTH_TOL = 2.5e-3


# ---- chapter 8 ---------------------------------------------------------------------
def var_x_sum():
    """sum_j mean(x_j^2) over chapter 8's batch (N_in Var(x))."""
    return float((chapter8_batch().astype(np.float64) ** 2).mean(axis=0).sum())


def _predicted_var_q5(args, **_):
    """Var(q_1) = var_x_sum * 2 / (784 + 512), then a factor 1/2 per ReLU layer."""
    return var_x_sum() * 2 / (784 + 512) / 16


@functools.lru_cache(maxsize=None)
def measured_var_q5(seed):
    """The mean of q_5^2 of diagnostics.deep_mlp(5, 512, "glorot_normal", seed=seed)
    on chapter 8's batch, float64."""
    from lecture_lib.diagnostics import deep_mlp, layers_of
    layers, _ = layers_of(deep_mlp(5, 512, "glorot_normal", seed=seed))
    h = chapter8_batch().astype(np.float64)
    for W, b in layers[:5]:
        q = h @ W + b
        h = np.maximum(q, 0)
    return float(np.mean(q ** 2))


#: kind -> (variance of W, normal?, bound of a uniform or None), for n_in, n_out
INITIALIZERS = {
    "he_normal": (lambda i, o: 2 / i, True, None),
    "glorot_uniform": (lambda i, o: 2 / (i + o), False,
                       lambda i, o: math.sqrt(6 / (i + o))),
}


def _initializer(args, kind, **_):
    n_in, n_out, _ = args
    variance, normal, bound = INITIALIZERS[kind]
    return {"shape": [n_in, n_out], "variance": variance(n_in, n_out),
            "kurtosis": 3.0 if normal else 1.8,
            "bound": bound(n_in, n_out) if bound else None}


def _judge_initializer(got, ref, args, options):
    """Bands on the statistics of the draws (the draws themselves depend on how the
    generator is called): shape, reproducible from the rng, mean about 0, variance
    within 5% (over 10 standard errors for 10^5 draws), the distribution's kurtosis,
    a uniform's bound."""
    kind, (n_in, n_out, _) = options.get("kind"), args
    where = f"{kind}({n_in}, {n_out}, rng)"
    if not (isinstance(got, list) and len(got) == 7):
        return f"{where}: the record is not the draws' statistics"
    values = [number(v, where)[0] for v in got[1:]]
    if any(v is None for v in values):
        return f"{where}: a statistic of the draws is not a number"
    mean, var, kurt, largest, same, differ = values
    if compare(got[0], ref["shape"]) is not None:
        return f"{where}: W does not have the shape (n_in, n_out) = {(n_in, n_out)}"
    if same != 1 or differ != 1:
        return f"{where}: draw every number from the rng argument"
    target = ref["variance"]
    if abs(mean) > 6 * math.sqrt(target / (n_in * n_out)):
        return f"{where}: the mean of W is {mean:.3g}, not about 0"
    if not abs(var / target - 1) < 0.05:
        return f"{where}: the variance of W is {var:.4g}, expected {target:.4g}"
    if not abs(kurt - ref["kurtosis"]) < 0.3:
        return f"{where}: the draws do not have the distribution {kind} asks for"
    if ref["bound"] is not None and not largest <= ref["bound"] * (1 + 1e-12):
        return f"{where}: some |W| exceed the bound a = {ref['bound']:.4g}"
    return None


REFERENCES = {"depth_to_exceed": lambda args, **_: depth_to_exceed(*args),
              "layer_grad_norms": lambda args, **_: [_norms(args)] * 2,
              "layer_grad_norms_mnist": lambda args, **_: [_norms(args)] * 2,
              "measured_growth": lambda args, **_: measured_growth(*args),
              "predicted_var_q5": _predicted_var_q5,
              "measured_var_q5": lambda args, **_: measured_var_q5(*args),
              "initializer": _initializer}
COMPARATORS = {"depth_to_exceed": _judge_depth,
               "layer_grad_norms": _judge_norms, "layer_grad_norms_mnist": _judge_norms,
               "initializer": _judge_initializer}
TOLERANCES = {"measured_growth": GROWTH_TOL,
              # float32 images times float64 weights, or float64 throughout: 1%
              # (rel_error: half the relative difference); the prediction: 2%
              "measured_var_q5": 5e-3, "predicted_var_q5": 1e-2}


def _depth_mistakes():
    log = lambda a: math.log(a[1]) / math.log(a[0])                  # noqa: E731
    return {"unrounded": log,
            "log10 over log": lambda a: math.log10(a[1]) / math.log(a[0]),
            "log over log10": lambda a: math.log(a[1]) / math.log10(a[0]),
            "sum": lambda a: a[1] / (a[0] - 1),
            "sum from 1": lambda a: (a[1] - 1) / (a[0] - 1)}


def _norm_mistakes():
    def norms_of(a, fn):
        dWs, dbs = mlp_gradients(*a)
        return np.array([fn(dW, db) for dW, db in zip(dWs, dbs)])
    N = lambda a: len(a[2])                                         # noqa: E731
    return {
        "squared": lambda a: _norms(a) ** 2,
        "reversed": lambda a: _norms(a)[::-1],
        "with biases": lambda a: norms_of(a, lambda W, b: math.sqrt(
            np.sum(W ** 2) + np.sum(b ** 2))),
        "sum": lambda a: N(a) * _norms(a),
        "mean twice": lambda a: _norms(a) / N(a),
        "largest entry": lambda a: norms_of(a, lambda W, b: np.abs(W).max()),
        "spectral": lambda a: norms_of(a, lambda W, b: np.linalg.norm(W, 2)),
    }


def _variance_mistakes(kind):
    """{mistake: variance it gives} for the self-check's n_in, n_out."""
    i, o = selfcheck.INIT_SIZES
    if kind == "he_normal":
        return {"swapped fans": 2 / o, "no factor 2": 1 / i, "glorot": 2 / (i + o),
                "unscaled": 1.0, "variance as scale": (2 / i) ** 2,
                "std as variance": math.sqrt(2 / i)}
    return {"he": 2 / i, "fan-out": 2 / o, "std as bound": 2 / (i + o) / 3,
            "no square root": (6 / (i + o)) ** 2 / 3,
            "variance as bound": (2 / (i + o)) ** 2 / 3,
            "normal": 6 / (i + o), "unscaled": 1.0, "U(-1, 1)": 1 / 3}


def stored_entries():
    entries = {
        "depth_to_exceed": entry(given(selfcheck.DEPTH_CASES),
                                 lambda a: depth_to_exceed(*a), _depth_mistakes()),
        "layer_grad_norms": entry(engine_mlps(selfcheck.NORM_SEEDS), _norms,
                                  _norm_mistakes()),
    }
    for kind, (variance, _, bound) in INITIALIZERS.items():
        i, o = selfcheck.INIT_SIZES
        entries[f"initializer/{kind}"] = entry(
            [()], lambda a: [variance(i, o), bound(i, o) if bound else np.nan],
            {name: (lambda a, v=v: v) for name, v in _variance_mistakes(kind).items()})
    return entries
