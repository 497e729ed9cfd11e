r"""The lecture's two-layer ReLU network for binary labels, differentiated by
hand.

Everything here is plain numpy: no autodiff. :mod:`lecture_lib.gradcheck`
compares these hand-derived gradients with the course engine,
``torch.autograd`` and finite differences.

Notation (the lecture's letters; every docstring below repeats the shapes)
--------------------------------------------------------------------------
N    number of observations; P  number of input features (784 for MNIST)
K1   units of the first hidden layer; K2  units of the second hidden layer

- X (N, P): inputs, one observation $x_i \in \mathbb{R}^P$ per row;
  y (N,): labels in {0, 1}
- W1 (P, K1), b1 (K1,): first layer; q1 (N, K1): $q_1 = X W_1 + b_1$ (the row
  form of $W_1^\top x_i + b_1$); h1 (N, K1): $h_1 = \mathrm{relu}(q_1)$
- W2 (K1, K2), b2 (K2,): second layer; q2 (N, K2): $q_2 = h_1 W_2 + b_2$;
  h2 (N, K2): $h_2 = \mathrm{relu}(q_2)$
- beta (K2,), a (): output layer; z (N,): the logits $z = h_2 \beta + a$
- L (): the mean binary cross-entropy
  $L = -\frac1N \sum_i [y_i \log\sigma(z_i) + (1-y_i)\log(1-\sigma(z_i))]$

Parameters travel in a dict with the keys ``W1, b1, W2, b2, beta, a``.
Gradients of the mean loss $L$ carry a ``d`` prefix: ``dz`` is
$\partial L/\partial z$, ``dW1`` is $\partial L/\partial W_1$, and so on.

Every public function validates its inputs once, naming the first problem in
these letters (the validators are at the end of the module), then computes.

The derivative of relu at exactly 0 is taken as 0 (``q > 0`` as the mask),
which is what ``torch.relu`` does, so the hand-derived gradients and torch
agree even at the kink.
"""
import numpy as np

# twolayer.sigmoid is the stable logistic function of lecture_lib.functional
from .functional import sigmoid  # noqa: F401
from .init import glorot_normal
from .notation import shape_str

PARAM_KEYS = ("W1", "b1", "W2", "b2", "beta", "a")


# -------------------------------------------------------------- building blocks
def relu(q):
    r"""Rectified linear unit $\max(q, 0)$, elementwise.
    q: any shape, e.g. (N, K1)."""
    return np.maximum(q, 0)


def init_params(P, K1, K2, rng=None, dtype=np.float64):
    r"""Random parameters of the two-layer network.

    Returns a dict with W1 (P, K1), b1 (K1,), W2 (K1, K2), b2 (K2,), beta (K2,)
    and a (), all of ``dtype`` (``a`` is a 0-d array).

    Weights are Glorot-normal (:func:`lecture_lib.init.glorot_normal`): every
    entry of a layer with ``fan_in`` inputs and ``fan_out`` outputs is drawn
    from $\mathcal N(0, 2/(\mathrm{fan\_in}+\mathrm{fan\_out}))$ (beta is the
    (K2, 1) layer to the single logit). Biases b1, b2, a are drawn from
    $\mathcal N(0, 0.1^2)$ rather than set to zero: a gradient check must
    exercise every path, and zero biases with a zero input row would put units
    exactly on relu's kink.

    rng: a ``numpy.random.Generator``, an int seed, or None (fresh entropy).
    """
    rng = np.random.default_rng(rng)
    for name, v in (("P", P), ("K1", K1), ("K2", K2)):
        if int(v) != v or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")

    params = {                         # drawn in this order from the one rng
        "W1": glorot_normal(P, K1, rng),
        "b1": rng.normal(0.0, 0.1, size=K1),
        "W2": glorot_normal(K1, K2, rng),
        "b2": rng.normal(0.0, 0.1, size=K2),
        # the (K2, 1) layer to the logit
        "beta": glorot_normal(K2, 1, rng)[:, 0],
        "a": np.asarray(rng.normal(0.0, 0.1)),
    }
    return {k: np.asarray(v, dtype=dtype) for k, v in params.items()}


# ------------------------------------------------------------- forward and loss
def forward(params, X):
    r"""Forward pass: the logits z and everything the backward pass needs.

    params: dict W1 (P, K1), b1 (K1,), W2 (K1, K2), b2 (K2,), beta (K2,), a ().
    X: (N, P).

    Returns ``(z, cache)``: z (N,) and cache = dict X (N, P), q1 (N, K1),
    h1 (N, K1), q2 (N, K2), h2 (N, K2), z (N,).

    $$
        q_1 = X W_1 + b_1,\quad h_1 = \mathrm{relu}(q_1),\quad
        q_2 = h_1 W_2 + b_2,\quad h_2 = \mathrm{relu}(q_2),\quad
        z = h_2\beta + a
    $$
    """
    _check(params, X)
    return _forward(params, X)


def _forward(params, X):
    """:func:`forward` on inputs already validated."""
    X = np.asarray(X)
    W1, b1, W2, b2, beta, a = (np.asarray(params[k]) for k in PARAM_KEYS)
    q1 = X @ W1 + b1      # (N, P) @ (P, K1) + (K1,) -> (N, K1)
    h1 = relu(q1)         # (N, K1)
    q2 = h1 @ W2 + b2     # (N, K1) @ (K1, K2) + (K2,) -> (N, K2)
    h2 = relu(q2)         # (N, K2)
    z = h2 @ beta + a     # (N, K2) @ (K2,) + () -> (N,)
    return z, {"X": X, "q1": q1, "h1": h1, "q2": q2, "h2": h2, "z": z}


def _bce_with_logits(z, y):
    r"""Mean binary cross-entropy of $\sigma(z)$, stable for any z (N,), y (N,).

    With $\log\sigma(z) = z - \log(1+e^z)$ and
    $\log(1-\sigma(z)) = -\log(1+e^z)$ each term is
    $\log(1 + e^{z_i}) - y_i z_i$; ``np.logaddexp(0, z)`` computes
    $\log(1+e^z)$ without overflow (it is $\approx z$ for large z).
    """
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def loss(params, X, y):
    r"""Mean binary cross-entropy $L$ of the network on (X, y), as a float.

    params: dict W1 (P, K1), b1 (K1,), W2 (K1, K2), b2 (K2,), beta (K2,), a ().
    X: (N, P); y: (N,) with values in {0, 1}.

    $$
        L = -\frac1N\sum_{i=1}^N \left[y_i\log\sigma(z_i)
            + (1-y_i)\log(1-\sigma(z_i))\right]
          = \frac1N\sum_{i=1}^N \left[\log(1+e^{z_i}) - y_i z_i\right]
    $$

    The right-hand form is evaluated with ``np.logaddexp``, so $|z| = 10^3$
    gives a finite, exact loss instead of ``log(0)``.
    """
    _check(params, X, y)
    return _loss(params, X, y)


def _loss(params, X, y):
    """:func:`loss` on inputs already validated."""
    z, _ = _forward(params, X)
    return _bce_with_logits(z, np.asarray(y, dtype=z.dtype))


def predict_proba(params, X):
    r"""Probabilities $\sigma(z)$ of the label 1, shape (N,), for X (N, P).

    params: dict W1 (P, K1), b1 (K1,), W2 (K1, K2), b2 (K2,), beta (K2,), a ().
    """
    z, _ = forward(params, X)
    return sigmoid(z)


# --------------------------------------------------------------------- backward
def backward(params, X, y):
    r"""Gradients of the mean loss $L$, by the chain rule, top to bottom.

    params: dict W1 (P, K1), b1 (K1,), W2 (K1, K2), b2 (K2,), beta (K2,), a ().
    X: (N, P); y: (N,) with values in {0, 1}.

    Returns a dict with the same keys as params plus ``"X"``, each gradient of
    the shape of what it differentiates: W1 (P, K1), b1 (K1,), W2 (K1, K2),
    b2 (K2,), beta (K2,), a (), X (N, P).

    Each line is one step of the lecture's chain:

    $$
    \begin{aligned}
        dz &= (\sigma(z) - y)/N, & da &= \textstyle\sum_i dz_i, &
            d\beta &= h_2^\top dz, \\
        dh_2 &= dz\,\beta^\top, & dq_2 &= dh_2 \odot [q_2 > 0], &
            db_2 &= \textstyle\sum_i dq_{2,i}, \quad dW_2 = h_1^\top dq_2, \\
        dh_1 &= dq_2 W_2^\top, & dq_1 &= dh_1 \odot [q_1 > 0], &
            db_1 &= \textstyle\sum_i dq_{1,i}, \quad dW_1 = X^\top dq_1, \quad
            dX = dq_1 W_1^\top.
    \end{aligned}
    $$

    $dW_2 = h_1^\top dq_2 = \sum_i h_{1,i}\, dq_{2,i}^\top$ is the outer
    product of one observation's input to the layer and its upstream gradient,
    summed over observations (see :func:`jacobian_q2_wrt_W2` for where the
    outer product comes from). The relu mask $[q > 0]$ is 0 at $q = 0$ exactly,
    as in torch.
    """
    _check(params, X, y)
    return _backward(params, X, y)


def _backward(params, X, y):
    """:func:`backward` on inputs already validated."""
    W1, b1, W2, b2, beta, a = (np.asarray(params[k]) for k in PARAM_KEYS)
    z, c = _forward(params, X)
    X, q1, h1, q2, h2 = c["X"], c["q1"], c["h1"], c["q2"], c["h2"]
    y = np.asarray(y, dtype=z.dtype)
    N = X.shape[0]

    dz = (sigmoid(z) - y) / N  # dL/dz_i = (sigma(z_i) - y_i)/N         (N,)
    da = dz.sum()              # z = h2 beta + a: dL/da = sum_i dz_i    ()
    dbeta = h2.T @ dz          # dL/dbeta = h2^T dz: (K2, N)(N,)     -> (K2,)
    dh2 = np.outer(dz, beta)   # dL/dh2 = dz beta^T: (N,) x (K2,)    -> (N, K2)
    dq2 = dh2 * (q2 > 0)       # relu mask [q2 > 0]: (N, K2)
    db2 = dq2.sum(axis=0)      # dL/db2 = sum_i dq2_i: (N, K2)       -> (K2,)
    dW2 = h1.T @ dq2           # dL/dW2 = h1^T dq2:  (K1, N)(N, K2)  -> (K1, K2)
    dh1 = dq2 @ W2.T           # dL/dh1 = dq2 W2^T:  (N, K2)(K2, K1) -> (N, K1)
    dq1 = dh1 * (q1 > 0)       # relu mask [q1 > 0]: (N, K1)
    db1 = dq1.sum(axis=0)      # dL/db1 = sum_i dq1_i: (N, K1)       -> (K1,)
    dW1 = X.T @ dq1            # dL/dW1 = X^T dq1:   (P, N)(N, K1)   -> (P, K1)
    dX = dq1 @ W1.T            # dL/dX = dq1 W1^T:   (N, K1)(K1, P)  -> (N, P)

    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "beta": dbeta,
            "a": np.asarray(da).reshape(a.shape), "X": dX}


# ------------------------------------------------------------- the 3-D Jacobian
def jacobian_q2_wrt_W2(h1, K2):
    r"""The full Jacobian of $q_2 = W_2^\top h_1 + b_2$ with respect to $W_2$,
    for ONE observation.

    h1: (K1,), one row of h1 (N, K1). K2: the number of units of the second
    layer. Returns J of shape (K2, K1, K2) with

    $$
        J[k, i, j] = \frac{\partial q_{2,k}}{\partial W_2[i, j]}
                   = h_{1,i}\,\delta_{kj},
    $$

    because $q_{2,k} = \sum_i h_{1,i} W_2[i, k] + b_{2,k}$ only involves column
    k of $W_2$. Almost all of J is zero: contracting it with an upstream
    gradient (:func:`contract_jacobian`) gives the outer product
    ``np.outer(h1, dq2)``, which is why backpropagation never builds J.

    Memory: K2 * K1 * K2 numbers, cubic in the width; for K1 = K2 = 128 in
    float32 that is $128^3 \cdot 4$ bytes = 8.4 MB for a single observation
    (and a batch of N would multiply that by N), against
    $128^2 \cdot 4$ bytes = 65.5 kB for the outer product.
    """
    h1 = np.asarray(h1)
    if h1.ndim != 1:
        raise ValueError(f"h1 must be ONE observation of shape (K1,), got "
                         f"shape {shape_str(h1.shape)}; take a row h1[i] of "
                         f"h1 (N, K1)")
    if int(K2) != K2 or K2 < 1:
        raise ValueError(f"K2 must be a positive integer, got {K2!r}")
    K1, K2 = h1.shape[0], int(K2)
    J = np.zeros((K2, K1, K2), dtype=np.result_type(h1.dtype, np.float32))
    for k in range(K2):
        # dq2_k/dW2[i, k] = h1_i; every other column of W2 gives 0
        J[k, :, k] = h1
    return J


def contract_jacobian(u, J):
    r"""Vector-Jacobian product $\sum_k u_k J[k]$, shape (K1, K2).

    u: (K2,), an upstream gradient $dq_2$ of one observation.
    J: (K2, K1, K2), from :func:`jacobian_q2_wrt_W2`.

    With $J[k, i, j] = h_{1,i}\delta_{kj}$ the sum is
    $\sum_k u_k h_{1,i}\delta_{kj} = h_{1,i} u_j$, i.e. ``np.outer(h1, u)``.
    """
    u, J = np.asarray(u), np.asarray(J)
    if J.ndim != 3:
        raise ValueError(f"J must have shape (K2, K1, K2), got "
                         f"{shape_str(J.shape)}")
    if u.shape != (J.shape[0],):
        raise ValueError(f"u must have shape (K2,) = ({J.shape[0]},) to "
                         f"contract J (K2, K1, K2) = {shape_str(J.shape)}; got "
                         f"{shape_str(u.shape)}")
    # sum_k u_k J[k]: (K2,) . (K2, K1, K2) -> (K1, K2)
    return np.tensordot(u, J, axes=(0, 0))


# ------------------------------------------------------------------- validation
def _check(params, X, y=None):
    """Validate the inputs of a public function, once; return the sizes
    ``(N, P, K1, K2)``.

    Expected shapes: X (N, P); W1 (P, K1); b1 (K1,); W2 (K1, K2); b2 (K2,);
    beta (K2,); a () (a scalar); y (N,) with values in {0, 1}. P is read from
    X's columns, K1 from W1's columns, K2 from W2's columns, so every message
    names the size it expected and why.

    Raises ValueError naming, in the lecture's letters, the first problem
    found: in the keys of params, then in X, then in the parameters' values
    and shapes, then in y.
    """
    _check_keys(params)
    N, P = _check_X(X)
    K1, K2 = _check_params(params, np.shape(X))
    if y is not None:
        _check_y(y, np.shape(X))
    return N, P, K1, K2


def _real(name, v):
    if not np.issubdtype(v.dtype, np.number) or np.iscomplexobj(v):
        raise ValueError(f"{name} must hold real numbers, got dtype {v.dtype}")


def _check_keys(params):
    """params is a dict with exactly the keys W1, b1, W2, b2, beta, a."""
    if not hasattr(params, "keys"):
        raise ValueError(f"params must be a dict with keys "
                         f"{', '.join(PARAM_KEYS)}; got "
                         f"{type(params).__name__}")
    missing = [k for k in PARAM_KEYS if k not in params]
    extra = sorted(str(k) for k in params if k not in PARAM_KEYS)
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing key(s) {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected key(s) {', '.join(extra)}")
        raise ValueError(f"params must have exactly the keys "
                         f"{', '.join(PARAM_KEYS)}: " + "; ".join(parts))


def _check_X(X):
    """X (N, P) of finite real numbers; returns (N, P)."""
    X = np.asarray(X)
    if X.ndim != 2:
        hint = " (for one observation use X[None, :])" if X.ndim == 1 else ""
        raise ValueError(f"X must be 2-D with shape (N, P), one observation "
                         f"per row; got shape {shape_str(X.shape)}{hint}")
    _real("X", X)
    bad = ~np.isfinite(X)
    if bad.any():
        n_nan, n_inf = int(np.isnan(X).sum()), int(np.isinf(X).sum())
        r, c = np.argwhere(bad)[0]
        raise ValueError(f"X (N, P) = {shape_str(X.shape)} must be finite; "
                         f"it has {n_nan} NaN and {n_inf} inf entries, the "
                         f"first at X[{r}, {c}] = {X[r, c]}")
    return X.shape


def _check_params(params, X_shape):
    """The six parameters: real, of the shapes that chain from X (N, P), finite;
    returns (K1, K2)."""
    p = {k: np.asarray(params[k]) for k in PARAM_KEYS}
    for k, v in p.items():
        _real(k, v)
    # W1 (P, K1): P must match X's columns; W2 (K1, K2): K1 must match W1's
    # columns.
    K1 = _check_layer("W1", p["W1"], ("P", "K1"), X_shape[1],
                      f"the number of columns of X (N, P) = "
                      f"{shape_str(X_shape)}",
                      {"b1": p["b1"]})
    K2 = _check_layer("W2", p["W2"], ("K1", "K2"), K1,
                      f"the number of columns of W1 (P, K1) = "
                      f"{shape_str(p['W1'].shape)}",
                      {"b2": p["b2"], "beta": p["beta"]})
    if p["a"].shape != ():
        raise ValueError(f"a must be a scalar (shape ()), got shape "
                         f"{shape_str(p['a'].shape)}")
    for k, v in p.items():
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{k} must be finite; it has "
                             f"{int(np.isnan(v).sum())} NaN and "
                             f"{int(np.isinf(v).sum())} inf entries")
    return K1, K2


def _check_layer(name, W, letters, rows, rows_are, vectors):
    """W (rows, cols), whose row count is ``rows`` (``rows_are`` says why), then
    each vector of ``vectors`` (cols,); returns cols. letters: W's shape in
    letters, e.g. ("P", "K1")."""
    r, c = letters
    first = next(iter(vectors.values()))  # guesses cols, for the message only
    if W.ndim != 2 or W.shape[0] != rows:
        cols_hint = str(first.shape[0]) if first.ndim == 1 else c
        hint = (" (is it transposed?)" if W.ndim == 2 and W.shape[1] == rows
                else "")
        raise ValueError(f"{name} must have shape ({r}, {c}) = "
                         f"({rows}, {cols_hint}), got {shape_str(W.shape)}"
                         f"{hint}; {r} = {rows} is {rows_are}")
    cols = W.shape[1]
    for k, v in vectors.items():
        if v.shape != (cols,):
            raise ValueError(f"{k} must have shape ({c},) = ({cols},), got "
                             f"{shape_str(v.shape)}; {c} = {cols} is the "
                             f"number of columns of {name} ({r}, {c}) = "
                             f"{shape_str(W.shape)}")
    return cols


def _check_y(y, X_shape):
    """y (N,), one label 0 or 1 per row of X (N, P)."""
    N = X_shape[0]
    y = np.asarray(y)
    if y.shape != (N,):
        raise ValueError(f"y must have shape (N,) = ({N},), one label per row "
                         f"of X (N, P) = {shape_str(X_shape)}; got "
                         f"{shape_str(y.shape)}")
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
        raise ValueError(f"y must hold the labels 0 and 1, got dtype {y.dtype}")
    y_float = y.astype(np.float64)
    bad = ~((y_float == 0) | (y_float == 1))
    if bad.any():
        # NaN sorts last; np.unique keeps one of each
        offending = np.unique(y[bad])
        shown = ", ".join(str(v) for v in offending[:5])
        more = f" and {offending.size - 5} more" if offending.size > 5 else ""
        raise ValueError(f"y must contain only the labels 0 and 1; got "
                         f"{shown}{more} (in {int(bad.sum())} of N = {N} rows, "
                         f"first at y[{int(np.argmax(bad))}])")
