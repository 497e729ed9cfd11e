r"""Gradient flow at initialization: activations and gradients of a deep network, layer
by layer.

Letters (as in the rest of the book): N observations, P input features (784 for MNIST),
K classes (10), D hidden layers, $K_d$ units in hidden layer d ($K_0 = P$, $K_{D+1} =
K$). A network is a stack of $D + 1$ linear layers; layer d ($d = 1, \dots, D + 1$)
computes, for the batch stored row by row,

$$
q_d = h_{d-1} W_d + b_d, \qquad h_d = g(q_d) \quad (d \le D), \qquad z = q_{D+1},
$$

with ``h0 = X: (N, P)``, ``W_d: (K_{d-1}, K_d)``, ``b_d: (K_d,)``,
``q_d, h_d: (N, K_d)`` and the logits ``z: (N, K)``. The loss is the mean softmax
cross-entropy on integer labels ``y: (N,)``.

:func:`backprop` walks the lecture's chain in row form, from the loss down to layer 1,

$$
\frac{\partial L}{\partial z} = \frac{\mathrm{softmax}(z) - \mathrm{onehot}(y)}{N},
\qquad
\frac{\partial L}{\partial h_{d-1}} = \frac{\partial L}{\partial q_d} W_d^\top, \qquad
\frac{\partial L}{\partial q_{d}} = \frac{\partial L}{\partial h_{d}} \odot g'(q_d),
\qquad
\frac{\partial L}{\partial W_d} = h_{d-1}^\top \frac{\partial L}{\partial q_d},
$$

so the gradient reaching layer 1 is a product of one factor $W_d^\top$ (and one mask)
per later layer. The functions accept an engine model (:func:`lecture_lib.nn.mlp`), a
``torch.nn.Sequential`` of ``Linear`` / ``ReLU`` / ``Tanh``, or a list of ``(W, b)``
pairs (ReLU between them).

Arithmetic is float64 unless the model is float32 and ``dtype=None``: a standard-normal
network 50 layers deep reaches $10^{50}$, beyond float32's largest number ($3.4 \cdot
10^{38}$). Overflow is not an error here: it shows up as ``inf`` / ``nan`` in the trace
and in :attr:`Trace.first_nonfinite`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import nn
from .frameworks import is_torch_module

__all__ = ["Trace", "layers_of", "deep_mlp", "backprop", "weight_grad_norms",
           "layer_table",
           "dead_units", "dead_fraction", "plot_layer_histograms"]


def layers_of(model):
    """``(layers, activations)``: the ``(W, b)`` of every linear layer, first layer
    first, with ``W: (K_{d-1}, K_d)`` and ``b: (K_d,)`` (numpy arrays, not copies for
    engine models), and the name of the activation after each hidden layer (``"relu"``
    or ``"tanh"``; D names).

    ``model``: an engine ``Sequential`` (e.g. :func:`lecture_lib.nn.mlp`), a
    ``torch.nn.Sequential`` of ``Linear``/``ReLU``/``Tanh``, or a list of ``(W, b)``
    pairs (then every activation is ReLU).
    """
    if isinstance(model, (list, tuple)):
        layers = [(np.asarray(W), np.asarray(b)) for W, b in model]
        return layers, ["relu"] * (len(layers) - 1)
    if isinstance(model, nn.Sequential):
        modules = model.layers
    elif is_torch_module(model):
        modules = list(model)
    else:
        raise TypeError(f"layers_of: expected an engine Sequential, a "
                        f"torch.nn.Sequential or a list of (W, b) pairs, got "
                        f"{type(model).__name__}")
    layers, acts = [], []
    for m in modules:
        layer = _linear_arrays(m)
        if layer is not None:
            layers.append(layer)
            continue
        act = _activation_name(m)
        if act is None:
            raise TypeError(f"layers_of: no support for a {type(m).__name__} layer "
                            f"(only Linear, ReLU, Tanh)")
        if len(acts) != len(layers) - 1:
            raise ValueError("layers_of: expected Linear and activation layers "
                             "alternating")
        acts.append(act)
    if len(acts) != len(layers) - 1:
        raise ValueError(f"layers_of: {len(layers)} linear layers need "
                         f"{len(layers) - 1} activations between them (none after the "
                         f"output layer), found {len(acts)}")
    return layers, acts


def _linear_arrays(m):
    """``(W, b)`` with ``W: (n_in, n_out)`` of an engine or torch ``Linear``, else
    None."""
    if isinstance(m, nn.Linear):
        return m.W.data, m.b.data
    if is_torch_module(m):
        import torch
        if isinstance(m, torch.nn.Linear):       # torch stores weight: (n_out, n_in)
            W = m.weight.detach().cpu().numpy().T
            b = (m.bias.detach().cpu().numpy() if m.bias is not None
                 else np.zeros(W.shape[1], W.dtype))
            return W, b
    return None


def _activation_name(m):
    """``"relu"`` or ``"tanh"`` for an engine or torch activation layer, else None."""
    if isinstance(m, (nn.ReLU, nn.Tanh)):
        return type(m).__name__.lower()
    if is_torch_module(m):
        import torch
        for cls, name in ((torch.nn.ReLU, "relu"), (torch.nn.Tanh, "tanh")):
            if isinstance(m, cls):
                return name
    return None


def deep_mlp(depth, width, init, *, n_in=784, n_out=10, seed=0, dtype=np.float64,
             activation="relu"):
    """An engine MLP with ``depth`` = D hidden layers of ``width`` units:
    ``nn.mlp([n_in] + [width] * depth + [n_out], init, rng=seed, dtype)``.

    ``init`` is a name of :data:`lecture_lib.init.INITIALIZERS` (``"torch"`` also draws
    the biases, as ``torch.nn.Linear``; the others start them at 0) or a function
    ``f(n_in, n_out, rng) -> (n_in, n_out)``. The same seed gives the same network.
    """
    act = {"relu": nn.ReLU, "tanh": nn.Tanh}[activation]
    return nn.mlp([n_in] + [width] * depth + [n_out], init=init, rng=seed, dtype=dtype,
                  activation=act)


@dataclass
class Trace:
    """Everything :func:`backprop` computed; lists are indexed by layer, first layer
    first.

    q[d-1]: $q_d$ (N, K_d), d = 1..D+1 (``q[-1]`` is the logits z (N, K));
    h[d-1]: $h_d$ (N, K_d), d = 1..D (hidden layers only);
    dq[d-1]: $\\partial L/\\partial q_d$ (N, K_d), d = 1..D+1;
    dh[d-1]: $\\partial L/\\partial h_d$ (N, K_d), d = 1..D;
    dW[d-1]: $\\partial L/\\partial W_d$ (K_{d-1}, K_d);
    db[d-1]: $\\partial L/\\partial b_d$ (K_d,); loss: the mean cross-entropy;
    first_nonfinite: ``None``, or the first place an inf/nan appeared, e.g. ``"q_37"``
    (forward) or ``"dq_12"`` (backward).
    """
    q: list = field(default_factory=list)
    h: list = field(default_factory=list)
    dq: list = field(default_factory=list)
    dh: list = field(default_factory=list)
    dW: list = field(default_factory=list)
    db: list = field(default_factory=list)
    loss: float = float("nan")
    first_nonfinite: str | None = None

    @property
    def depth(self):
        """D, the number of hidden layers."""
        return len(self.h)


def backprop(model, X, y, dtype=np.float64):
    r"""Forward and backward pass of a softmax MLP on ``X: (N, P)``, ``y: (N,)``
    (integer labels), keeping every layer's $q_d$, $h_d$ and gradients. Returns a
    :class:`Trace` of numpy arrays.

    The arithmetic runs in torch (several times faster than numpy's on small CPUs), but
    it is the chain written out by hand, one line per step; no autograd. ``dtype``:
    float64 by default; ``None`` keeps the model's own dtype (e.g. float32, to watch it
    overflow). Overflow produces ``inf``/``nan`` silently; :attr:`Trace.first_nonfinite`
    names where it started.
    """
    import torch
    layers, acts = layers_of(model)
    dtype = np.dtype(layers[0][0].dtype if dtype is None else dtype)
    X, y = np.asarray(X), np.asarray(y)
    N = X.shape[0]
    if X.ndim != 2 or X.shape[1] != layers[0][0].shape[0]:
        raise ValueError(f"X must be (N, P) with P = {layers[0][0].shape[0]} (W_1's "
                         f"rows), got {X.shape}")
    if y.shape != (N,):
        raise ValueError(f"y must be (N,) = ({N},) integer labels, got shape {y.shape}")
    as_t = lambda a: torch.from_numpy(  # noqa: E731
        np.ascontiguousarray(a, dtype=dtype))
    layers = [(as_t(W), as_t(b)) for W, b in layers]
    t = Trace()
    with torch.no_grad():
        X0 = as_t(X)
        qs, hs = _forward_layers(t, layers, acts, X0)
        dqs, dhs, dWs, dbs = _backward_layers(t, layers, acts, X0, qs, hs, y)
    np_ = lambda ts: [a.numpy() for a in ts]                       # noqa: E731
    t.q, t.h = np_(qs), np_(hs)
    t.dq, t.dh = np_(dqs[::-1]), np_(dhs[::-1])
    t.dW, t.db = np_(dWs[::-1]), np_(dbs[::-1])
    return t


def _note(t, name, a):
    """Record in the trace ``t`` where the first inf or nan appeared."""
    import torch
    if t.first_nonfinite is None and not bool(torch.isfinite(a).all()):
        t.first_nonfinite = name


def _g(act, q):
    import torch
    return {"relu": torch.relu, "tanh": torch.tanh}[act](q)


def _g_prime(act, q):
    """The activation's derivative at q: the ReLU mask [q > 0], or 1 - tanh(q)^2."""
    import torch
    return (q > 0).to(q.dtype) if act == "relu" else 1 - torch.tanh(q) ** 2


def _forward_layers(t, layers, acts, X0):
    """q_d = h_{d-1} W_d + b_d, h_d = g(q_d): the lists of q_d (d = 1..D+1) and h_d (d =
    1..D)."""
    h, qs, hs = X0, [], []
    for d, (W, b) in enumerate(layers, start=1):
        q = h @ W + b
        _note(t, f"q_{d}", q)
        qs.append(q)
        if d < len(layers):
            h = _g(acts[d - 1], q)
            hs.append(h)
    return qs, hs


def _backward_layers(t, layers, acts, X0, qs, hs, y):
    """The lecture's chain from the loss down to layer 1; sets ``t.loss``. Returns the
    lists dq, dh, dW, db, from the top layer down."""
    import torch
    N = X0.shape[0]
    # loss, and dL/dz = (softmax(z) - onehot(y)) / N
    rows, labels = torch.arange(N), torch.from_numpy(y.astype(np.int64))
    log_p = torch.log_softmax(qs[-1], dim=1)
    t.loss = float(-log_p[rows, labels].mean())
    dq = log_p.exp()
    dq[rows, labels] -= 1
    dq /= N
    _note(t, f"dq_{len(layers)}", dq)
    dqs, dhs, dWs, dbs = [dq], [], [], []
    for d in range(len(layers), 0, -1):
        W, _ = layers[d - 1]
        h_prev = X0 if d == 1 else hs[d - 2]
        dWs.append(h_prev.T @ dq)                    # dL/dW_d = h_{d-1}^T dL/dq_d
        dbs.append(dq.sum(dim=0))                    # dL/db_d: a sum over the batch
        if d > 1:
            dh = dq @ W.T                            # dL/dh_{d-1} = dL/dq_d W_d^T
            dq = dh * _g_prime(acts[d - 2], qs[d - 2])  # times g'(q_{d-1}): ReLU mask
            _note(t, f"dq_{d - 1}", dq)
            dhs.append(dh)
            dqs.append(dq)
    return dqs, dhs, dWs, dbs


def weight_grad_norms(model, X, y, dtype=np.float64):
    r"""$\|\partial L/\partial W_d\|_F$ for $d = 1, \dots, D + 1$ (first layer first):
    an array (D + 1,).

    The loss is the mean softmax cross-entropy of ``model`` on ``X: (N, P)``,
    ``y: (N,)``; the biases' gradients are not included. Computed by :func:`backprop`
    (float64 by default)."""
    trace = backprop(model, X, y, dtype=dtype)
    return np.array([np.linalg.norm(dW) for dW in trace.dW])


def _ms(a):
    """Mean square of an array in float64 (inf if it overflows)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.mean(np.square(a, dtype=np.float64)))


def layer_table(trace):
    """One row per layer d = 1..D+1 of a :class:`Trace`, as a DataFrame indexed by
    ``layer``:

    ``var q`` (mean square of $q_d$ over the batch and units: its variance when
    centred), ``var h`` (mean square of $h_d$), ``active`` (fraction of $q_d > 0$),
    ``var dq``, ``var dh`` (mean squares of the back-propagated gradients), ``|dh|``
    (Frobenius norm of $\\partial L/\\partial h_d$, batch included) and ``|dW|``
    (Frobenius norm of $\\partial L/\\partial W_d$). The output layer has no h or dh
    (NaN).
    """
    rows = []
    for d in range(1, len(trace.q) + 1):
        hidden = d <= trace.depth
        rows.append({
            "layer": d,
            "var q": _ms(trace.q[d - 1]),
            "var h": _ms(trace.h[d - 1]) if hidden else np.nan,
            "active": float(np.mean(trace.q[d - 1] > 0)) if hidden else np.nan,
            "var dq": _ms(trace.dq[d - 1]),
            "var dh": _ms(trace.dh[d - 1]) if hidden else np.nan,
            "|dh|": float(np.linalg.norm(trace.dh[d - 1])) if hidden else np.nan,
            "|dW|": float(np.linalg.norm(trace.dW[d - 1])),
        })
    return pd.DataFrame(rows).set_index("layer")


def dead_units(model, X, chunk=2000, dtype=np.float64):
    r"""Which hidden units never activate on ``X: (N, P)``: a list of D boolean arrays
    (K_d,), True where $q_d \le 0$ for every one of the N rows (for a ReLU, $h_d = 0$
    and $\partial L/\partial q_d = 0$ on the whole batch: the unit neither computes nor
    learns).

    The forward pass runs in torch, in ``dtype`` (float64 by default; float32 is about
    twice as fast), ``chunk`` rows at a time (memory stays small)."""
    import torch
    layers, acts = layers_of(model)
    as_t = lambda a: torch.from_numpy(np.asarray(a, dtype))                 # noqa: E731
    layers = [(as_t(W), as_t(b))
              for W, b in layers[:-1]]
    ever = [torch.zeros(W.shape[1], dtype=torch.bool) for W, _ in layers]
    with torch.no_grad():
        for start in range(0, len(X), chunk):
            h = torch.from_numpy(np.asarray(X[start:start + chunk], dtype=dtype))
            for d, (W, b) in enumerate(layers):
                q = h @ W + b
                ever[d] |= (q > 0).any(dim=0)
                h = _g(acts[d], q)
    ever = [e.numpy() for e in ever]
    return [~e for e in ever]


def dead_fraction(model, X, chunk=2000, dtype=np.float64):
    """Fraction of units in each hidden layer that never activate on ``X: (N, P)``:
    array (D,)."""
    return np.array([dead.mean() for dead in dead_units(model, X, chunk, dtype)])


def plot_layer_histograms(values, *, title, xlabel, ax=None, labels=None, bins=60,
                          range=None,
                          log_abs=False, density=True, cmap="viridis"):
    """Histograms of several layers' values on one axis, one outline per layer (the
    style of Glorot and Bengio's figures), shaded from the first layer to the last, with
    line styles that alternate so neighbouring layers differ by more than a shade.

    values: a list of arrays, one per layer (any shape; flattened), e.g. ``trace.h``.
    labels: legend entries (default ``"layer 1"``, ...). log_abs: histogram
    $\\log_{10}|v|$ instead of $v$ (zeros dropped), for layers whose scales differ by
    orders of magnitude. range: ``(lo, hi)`` shared by all layers (default: from the
    0.1% and 99.9% quantiles). Returns the Axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.6))
    data = []
    for v in values:
        v = np.asarray(v, dtype=np.float64).ravel()
        v = v[np.isfinite(v)]
        if log_abs:
            v = np.log10(np.abs(v[v != 0]))
        data.append(v)
    if range is None:
        allv = np.concatenate(data)
        range = tuple(np.quantile(allv, [0.001, 0.999]))
    colors = plt.get_cmap(cmap)(np.linspace(0, 0.9, len(data)))
    labels = labels or [f"layer {d}" for d in np.arange(1, len(data) + 1)]
    styles = ["-", "--", "-.", ":"]            # neighbours differ by more than a shade
    for i, (v, c, lab) in enumerate(zip(data, colors, labels)):
        ax.hist(v, bins=bins, range=range, density=density, histtype="step", color=c,
                label=lab, linewidth=1.5, linestyle=styles[i % len(styles)])
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density" if density else "count")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax
