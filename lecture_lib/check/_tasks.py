r"""The inputs of the graded tasks of chapters 4 to 11 (``_cases`` holds chapters 1 to 3
and the registry). Made from seeds and options, the same in the student's kernel and in
the grader; nothing here computes an answer.

Shapes in the lecture's letters: Z (N, K) logits, y (N,) labels, X (N, P) images.
"""
from __future__ import annotations

import functools

import numpy as np

__all__ = ["ReadsX", "functions_at", "logit_batches", "engine_pairs",
           "engine_mlps", "mnist_engine_mlp", "gradient_lists", "probabilities",
           "initializer_draws", "binomial_draws", "torch_networks",
           "residual_problems", "residual_networks", "chapter6_batch",
           "chapter7_data", "chapter8_batch", "chapter_start_128"]


# ---- chapter 4 ---------------------------------------------------------------------
class ReadsX:
    """A scalar function of the array ``x`` it holds, as the chapter's losses are: it
    ignores its argument and reads ``self.x``, which a central difference perturbs in
    place. ``kind``: ``"cubic"``, sum(x^3/3 + 2x + sin(2x)/2) (the self-check's: its
    gradient is at least 1 everywhere), or ``"sine"``, sum(sin(x) x^2)."""

    def __init__(self, x, kind):
        if kind not in ("cubic", "sine"):
            raise ValueError(f"unknown kind {kind!r}")
        self.x, self.kind = x, kind

    def __call__(self, _):
        x = self.x
        if self.kind == "cubic":
            return float(np.sum(x ** 3 / 3 + 2 * x + 0.5 * np.sin(2 * x)))
        return float(np.sum(np.sin(x) * x ** 2))

    def __repr__(self):
        return f"ReadsX(x of shape {np.shape(self.x)}, {self.kind!r})"


def functions_at(shapes, h, rng, kind="sine", **_):
    """(f, x, h) per shape: x ~ U(-2, 2) float64, f a :class:`ReadsX` of that very
    x."""
    rng = np.random.default_rng(rng)
    out = []
    for shape in shapes:
        x = rng.uniform(-2, 2, size=tuple(shape))
        out.append((ReadsX(x, kind), x, h))
    return out


def logit_batches(cases, rng, **_):
    """(Z (N, K), y (N,)) per (N, K, scale, shift): Z ~ N(shift, scale^2)."""
    rng = np.random.default_rng(rng)
    out = []
    for N, K, scale, shift in cases:
        Z = rng.normal(0.0, scale, size=(N, K)) + shift
        out.append((Z, rng.integers(0, K, size=N)))
    return out


# ---- chapter 5 ---------------------------------------------------------------------
def engine_pairs(shapes, rng, low=-3.0, high=3.0, ties=False, relu=False, **_):
    """(x, y, upstream, y_constant) per pair of shapes that broadcast: x, y ~ U(low,
    high), upstream ~ N(0, 1) of the broadcast shape. ``ties``: also x and y equal in
    half their entries; ``relu``: also y = 0, a constant (maximum(q, 0) is a ReLU)."""
    rng = np.random.default_rng(rng)
    out = []
    for sx, sy in shapes:
        x, y = rng.uniform(low, high, size=tuple(sx)), rng.uniform(low, high, tuple(sy))
        g = rng.standard_normal(np.broadcast_shapes(x.shape, y.shape))
        out.append((x, y, g, False))
    if ties:
        x = np.array([1.0, 2.0, -1.0, 0.5, 0.0, -2.0])
        out.append((x, np.array([1.0, 3.0, -1.0, 0.0, 0.0, -3.0]),
                    rng.standard_normal(6), False))
    if relu:
        q = rng.normal(size=(6, 5))
        out.append((q, np.array(0.0), rng.standard_normal((6, 5)), True))
    return out


# ---- chapter 6 ---------------------------------------------------------------------
def engine_mlps(seeds, **_):
    """(model, X (16, 12), y (16,)) per seed: the engine MLP [12, 9, 8, 7, 5] with He
    weights, biases ~ N(0, 0.1^2), float64."""
    from ..nn import mlp
    out = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        sizes = [12, 9, 8, 7, 5]
        model = mlp(sizes, init="he_normal", rng=rng, dtype=np.float64)
        for layer in model.layers:
            if hasattr(layer, "b"):
                layer.b.data = 0.1 * rng.standard_normal(layer.b.shape)
        X = rng.standard_normal((16, sizes[0]))
        out.append((model, X, rng.integers(0, sizes[-1], 16)))
    return out


def mnist_engine_mlp(depth, width, init, seed, n, **_):
    """(diagnostics.deep_mlp(depth, width, init, seed=seed), the first n MNIST training
    images (float32), their labels)."""
    from ..diagnostics import deep_mlp
    from ._cases import mnist_train
    X, y = mnist_train()
    return [(deep_mlp(depth, width, init, seed=seed), X[:n].copy(), y[:n].copy())]


@functools.lru_cache(maxsize=1)
def chapter6_batch():
    """Chapter 6's batch: 256 MNIST training images drawn by default_rng(0), X (256,
    784) float32, y (256,)."""
    from ._cases import mnist_train
    X_train, y_train = mnist_train()
    batch = np.random.default_rng(0).choice(len(X_train), size=256, replace=False)
    return X_train[batch], y_train[batch]


# ---- chapter 7 ---------------------------------------------------------------------
def gradient_lists(cases, rng, dtype="float64", **_):
    """(grads, c) per (shapes, scale, c): a list of N(0, scale^2) arrays of those
    shapes (`dtype`); scale 0 gives zeros."""
    rng = np.random.default_rng(rng)
    return [([(rng.standard_normal(tuple(s)) * scale).astype(dtype) for s in shapes],
             float(c)) for shapes, scale, c in cases]


@functools.lru_cache(maxsize=1)
def chapter7_data():
    """Chapter 7's arrays: X_fit, y_fit, X_val, y_val (the book's split of MNIST's
    training set, float32 pixels in [0, 1]) and the fit images' per-pixel mean `mu`
    and standard deviation `s` (float64)."""
    from ..data import train_validation_split
    from ._cases import mnist_train
    (X_fit, y_fit), (X_val, y_val) = train_validation_split(*mnist_train())
    X64 = X_fit.astype(np.float64)
    return {"X_fit": X_fit, "y_fit": y_fit, "X_val": X_val, "y_val": y_val,
            "mu": X64.mean(axis=0), "s": X64.std(axis=0)}


# ---- chapter 8 ---------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def chapter8_batch():
    """Chapter 8's batch: the training images standardized per pixel over the whole
    training set (constant pixels 0), 2,000 of them drawn by default_rng(0); X (2000,
    784) float32."""
    from ._cases import mnist_train
    X_train, _ = mnist_train()
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    Z = (X_train - mean) / np.where(std == 0, 1.0, std)
    batch = np.random.default_rng(0).choice(len(Z), size=2000, replace=False)
    return Z[batch]


def initializer_draws(cases, **_):
    """(n_in, n_out, seed) per case: the student's initializer is called with
    default_rng(seed) (twice) and default_rng(seed + 1)."""
    return [tuple(case) for case in cases]


# ---- chapters 9 and 10 -------------------------------------------------------------
def probabilities(cases, rng, dtype="float64", zero=True, **_):
    """(probs (N, C), y (N,)) per (N, C): softmax of N(0, 2^2) logits in `dtype`;
    ``zero``: the first case again with its first row certain of a wrong class (the
    true class's probability exactly 0)."""
    rng = np.random.default_rng(rng)
    out = []
    for N, C in cases:
        z = rng.normal(scale=2.0, size=(N, C))
        p = np.exp(z - z.max(axis=1, keepdims=True))
        out.append(((p / p.sum(axis=1, keepdims=True)).astype(dtype),
                    rng.integers(0, C, N)))
    if zero:
        p, y = out[0][0].copy(), out[0][1]
        p[0] = 0.0
        p[0, (y[0] + 1) % p.shape[1]] = 1.0
        out.append((p, y))
    return out


def binomial_draws(cases, seed, **_):
    """(p, k, n, repeats, rng) per case, rng = default_rng(seed + its position)."""
    return [(p, k, n, repeats, np.random.default_rng(seed + i))
            for i, (p, k, n, repeats) in enumerate(cases)]


def torch_networks(cases, seed, **_):
    """(net, c, xb) per (hidden_units, c): ``train.softmax_network(hidden_units)``
    drawn after torch.manual_seed(seed + position), and a batch xb (50, 784) ~ U(0,
    1), float32 (torch's global generator is left as it was)."""
    import torch

    from ..train import softmax_network
    out = []
    with torch.random.fork_rng():
        for i, (hidden, c) in enumerate(cases):
            torch.manual_seed(seed + i)
            net = softmax_network(list(hidden))
            out.append((net, float(c), torch.rand(50, 784)))
    return out


@functools.lru_cache(maxsize=1)
def chapter_start_128():
    """Chapters 9 and 10's start_128: ``train.softmax_network([128])`` drawn right
    after torch.manual_seed(0) (torch's global generator is left as it was)."""
    import torch

    from ..train import softmax_network
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return softmax_network([128])


# ---- chapter 11 --------------------------------------------------------------------
def residual_problems(cases, **_):
    """(layers, X (N, P), y (N,)) per (depth, width, N, seed, P, K): ``layers`` the
    D + 1 pairs (W (K_{d-1}, K_d), b (K_d,)) of a residual network, W ~ U(-1/sqrt(
    K_{d-1}), 1/sqrt(K_{d-1})) as torch's default, float64."""
    out = []
    for depth, width, N, seed, P, K in cases:
        rng = np.random.default_rng(seed)
        sizes = [P] + [width] * depth + [K]
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            bound = 1 / np.sqrt(a)
            layers.append((rng.uniform(-bound, bound, (a, b)),
                           rng.uniform(-bound, bound, b)))
        out.append((layers, rng.standard_normal((N, P)), rng.integers(0, K, N)))
    return out


def residual_networks(cases, **_):
    """(net, X) per (depth, width, seed, skip, N): a torch network shaped like chapter
    11's DeepReLU (``net.layers``, a ModuleList of Linear layers 784 -> width ... ->
    10, and ``net.skip``), drawn after torch.manual_seed(seed), and X (N, 784) ~ N(0,
    1), float32."""
    import torch
    out = []
    with torch.random.fork_rng():
        for depth, width, seed, skip, N in cases:
            torch.manual_seed(seed)
            net = _ResidualNet(depth, width, skip)
            out.append((net, torch.randn(N, 784)))
    return out


@functools.lru_cache(maxsize=1)
def _residual_net_class():
    import torch

    class ResidualNet(torch.nn.Module):
        """``q_1 = layers[0](x)``; ``q_d = q_{d-1} + layers[d-1](relu(q_{d-1}))`` (or
        without ``q_{d-1} +`` if not skip); logits ``layers[-1](relu(q_D))``."""

        def __init__(self, depth, width, skip):
            super().__init__()
            sizes = [784] + [width] * depth + [10]
            self.layers = torch.nn.ModuleList(
                torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
            self.skip = skip

        def forward(self, x):
            q = self.layers[0](x)
            for layer in self.layers[1:-1]:
                branch = layer(torch.relu(q))
                q = q + branch if self.skip else branch
            return self.layers[-1](torch.relu(q))

    return ResidualNet


def _ResidualNet(depth, width, skip):
    return _residual_net_class()(depth, width, skip)
