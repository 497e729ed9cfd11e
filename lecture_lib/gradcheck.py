r"""Finite differences, relative errors and the three-way gradient check.

Shapes use the lecture's letters: X (N, P), W1 (P, K1), b1 (K1,), W2 (K1, K2), b2 (K2,),
beta (K2,), a () and y (N,) for the two-layer network of :mod:`lecture_lib.twolayer`.

The strongest evidence that hand-derived gradients are right is independent routes
agreeing on the same float64 numbers:

- by hand: :func:`lecture_lib.twolayer.backward`;
- the course engine: :func:`twolayer_grads_engine` (:mod:`lecture_lib.autodiff`);
- torch: :func:`twolayer_grads_torch` (``torch.autograd``);
- the referee, finite differences: :func:`twolayer_grads_numeric`.

:func:`check_twolayer` runs all of them and reports one relative error per parameter in
a small table; :func:`errors_ok` turns that table into a pass/fail for a notebook's
``assert``.

Everything runs in float64. With $h = 10^{-6}$ a float32 central difference is noise:
its rounding error, about $\epsilon_{32} |f| / h \approx 10^{-7}|f|/10^{-6} = 0.1|f|$,
is as large as a typical derivative.
"""
import numpy as np
import pandas as pd

from lecture_lib import twolayer
from lecture_lib.notation import CHAIN_ORDER, SHAPE_LETTERS, lettered  # noqa: F401

GRAD_KEYS = ("W1", "b1", "W2", "b2", "beta", "a", "X")
# Rows of check_twolayer's table: from the top of the chain (the loss end) down to the
# input.
TABLE_ORDER = CHAIN_ORDER
# float64: hand, engine and torch agree to ~1e-12; finite differences to ~1e-9
DEFAULT_TOL = 1e-7
#: cs231n's floor of :func:`rel_error`: entries with |a| + |b| below it are judged by
#: their absolute difference (divided by the floor), so two near-zero entries never
#: divide 0 by 0.
REL_ERROR_FLOOR = 1e-8


# ------------------------------------------------------------------- finite differences
def numerical_gradient(f, x, h=1e-6, indices=None):
    r"""Central-difference gradient of a scalar function, one coordinate at a time.

    f: called as ``f(x)`` and returning a scalar. It must read ``x`` itself (typically a
    closure over the same array), because ``x`` is modified IN PLACE: for each
    coordinate j,

    $$
        \frac{\partial f}{\partial x_j} \approx \frac{f(x + h e_j) - f(x - h e_j)}{2h}.
    $$

    x: a float64 numpy array of any shape (e.g. W1 (P, K1)); restored bit for bit
    afterwards, also when ``f`` raises. h: the step; 1e-6 balances truncation error
    ($O(h^2)$) and rounding error ($O(\epsilon_{64}/h)$) in float64. indices: optional
    iterable of index tuples (see :func:`sample_indices`) to differentiate only those
    coordinates of a big array; the others are NaN in the result.

    Returns a float64 array of x's shape.

    ``x`` must already be float64: a float32 array is refused, not cast, because ``f``
    reads the caller's array, so a float64 copy would never be seen by ``f``; and in
    float32 the rounding error of ``f``, about $10^{-7}|f|$, divided by $2h = 2 \cdot
    10^{-6}$ is as large as the derivative, so the quotient would be noise.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"x must be a numpy array (it is modified in place), "
                        f"got {type(x).__name__}")
    if x.dtype != np.float64:
        raise TypeError(f"x must be float64, got {x.dtype}: finite differences with h "
                        f"= {h:g} are meaningless in lower precision. Convert the "
                        f"array f reads, e.g. x = x.astype(np.float64), and have f "
                        f"close over the converted array")
    if not x.flags.writeable:
        raise ValueError("x must be writeable: numerical_gradient perturbs it in place")
    if not h > 0:
        raise ValueError(f"h must be positive, got {h!r}")

    if indices is None:
        grad = np.zeros(x.shape, dtype=np.float64)
        indices = np.ndindex(x.shape)
    else:
        grad = np.full(x.shape, np.nan, dtype=np.float64)

    for idx in indices:
        idx = tuple(int(i) for i in np.atleast_1d(idx)) if x.ndim else ()
        old = x[idx].copy()          # an exact copy of the bits to put back
        try:
            x[idx] = old + h
            f_plus = _scalar(f(x))
            x[idx] = old - h
            f_minus = _scalar(f(x))
        finally:
            x[idx] = old             # restore exactly, also when f raised
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


def _scalar(value):
    """f's value as a Python float; refuses arrays with more than one entry."""
    v = np.asarray(value)
    if v.size != 1:
        raise ValueError(f"f must return a scalar, got an array of shape {v.shape}")
    return float(v.reshape(()))


def sample_indices(shape, n, rng=None):
    """``n`` distinct index tuples of an array of ``shape``, drawn uniformly.

    shape: e.g. (P, K1) = (784, 128). n: how many (all of them, in order, if n >= the
    size). rng: a ``numpy.random.Generator``, an int seed or None. Returns a list of
    tuples, sorted, for :func:`numerical_gradient`'s ``indices``.
    """
    shape = tuple(int(s) for s in shape)
    size = int(np.prod(shape))
    if n is None or n >= size:
        return list(np.ndindex(shape))
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    flat = np.sort(np.random.default_rng(rng).choice(size, size=int(n), replace=False))
    return [tuple(int(i) for i in t) for t in zip(*np.unravel_index(flat, shape))]


# ---------------------------------------------------------------------- relative errors
def rel_error(a, b, floor=REL_ERROR_FLOOR, ignore_nan=True):
    r"""cs231n's relative error, elementwise and then the maximum:

    $$
        \max_j \frac{|a_j - b_j|}{\max(\mathrm{floor},\ |a_j| + |b_j|)}, \qquad
        \mathrm{floor} = 10^{-8},
    $$

    i.e. ``np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))``. Each entry
    is judged against its own size, so a small gradient entry computed wrongly is not
    hidden by large ones; the floor keeps two (near-)zero entries from dividing 0 by 0.
    It is the one relative error of the package: every self-check of
    :mod:`lecture_lib.check` uses it.

    a, b: arrays of the same shape (a scalar is shape ()). floor: entries with $|a_j| +
    |b_j|$ below it are judged by their absolute difference (divided by ``floor``). Keep
    cs231n's 1e-8 (:data:`REL_ERROR_FLOOR`) when both sides are exact up to rounding
    (hand, engine, torch); against finite differences, whose absolute error is about
    $\epsilon_{64}|L|/h$, :func:`check_twolayer` raises it to what they can resolve.
    ignore_nan: skip coordinates where either array is NaN, i.e. those a sampled
    :func:`numerical_gradient` did not compute. If no coordinate is left the result is
    NaN (nothing was compared, which must not look like a pass). With
    ``ignore_nan=False`` any NaN makes the result NaN.

    Returns a float. Raises ValueError if the shapes differ.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs arrays of the same shape, got {a.shape} and "
                         f"{b.shape}")
    if ignore_nan:
        keep = ~(np.isnan(a) | np.isnan(b))
        a, b = a[keep], b[keep]
    if a.size == 0:
        return float("nan")
    with np.errstate(invalid="ignore"):    # an inf entry gives NaN (inf/inf), silently
        return float(np.max(np.abs(a - b) / np.maximum(floor, np.abs(a) + np.abs(b))))


def numeric_floor(h):
    r"""The ``floor`` of :func:`rel_error` for comparisons with central differences of
    step h.

    A central difference of a loss $L$ computed in float64 is off by about
    $\epsilon_{64}|L|/h$ in absolute terms (rounding in the two evaluations of $L$,
    divided by $2h$): about $10^{-11}$ for $|L| \approx 1$ and $h = 10^{-5}$. No entry
    smaller than that divided by the tolerance $10^{-7}$ can be confirmed to $10^{-7}$
    relative, and real networks have such entries (a weight whose paths nearly cancel).
    With floor $= 10^{-8}/h$ ($10^{-3}$ for $h = 10^{-5}$) such entries are instead held
    to an absolute error of $10^{-7} \cdot \mathrm{floor} = 10^{-15}/h$, ten times the
    rounding error above, while every larger entry is still held to $10^{-7}$ relative.
    """
    return 1e-8 / h


def compare(grads_a, grads_b, keys=None, floor=REL_ERROR_FLOOR, ignore_nan=True):
    """Relative error (:func:`rel_error`) per parameter between two gradient dicts.

    grads_a, grads_b: dicts name -> array, e.g. W1 (P, K1), ..., X (N, P). keys: the
    names to compare; None compares the keys the two dicts share, in grads_a's order.
    floor, ignore_nan: as in :func:`rel_error`. Returns a dict name -> float. Raises
    KeyError naming requested keys that are missing.
    """
    if keys is None:
        keys = [k for k in grads_a if k in grads_b]
    else:
        keys = list(keys)
        missing_a = [k for k in keys if k not in grads_a]
        missing_b = [k for k in keys if k not in grads_b]
        if missing_a or missing_b:
            parts = []
            if missing_a:
                parts.append(f"missing in the first dict: "
                             f"{', '.join(map(str, missing_a))}")
            if missing_b:
                parts.append(f"missing in the second dict: "
                             f"{', '.join(map(str, missing_b))}")
            raise KeyError("compare: " + "; ".join(parts))
    return {k: rel_error(grads_a[k], grads_b[k], floor=floor, ignore_nan=ignore_nan)
            for k in keys}


# ------------------------------------------------------------------------- three routes
def _float64_inputs(params, X, y):
    """Validate (once), then copy params, X, y to float64 (the caller's arrays are never
    touched). The routes below run on the copies without validating them again."""
    twolayer._check(params, X, y)
    p = {k: np.array(params[k], dtype=np.float64) for k in twolayer.PARAM_KEYS}
    return p, np.array(X, dtype=np.float64), np.array(y, dtype=np.float64)


def twolayer_grads_engine(params, X, y):
    """Gradients of the mean loss by the course engine, :mod:`lecture_lib.autodiff`.

    params: dict W1 (P, K1), b1 (K1,), W2 (K1, K2), b2 (K2,), beta (K2,), a ().
    X: (N, P); y: (N,) in {0, 1}. Computed in float64.
    Returns a dict W1, b1, W2, b2, beta, a, X with the shapes above.
    """
    return _grads_engine(*_float64_inputs(params, X, y))


def _grads_engine(p, X, y):
    from lecture_lib.autodiff import Tensor, relu, binary_cross_entropy_with_logits

    t = {k: Tensor(v, requires_grad=True) for k, v in p.items()}
    tX = Tensor(X, requires_grad=True)
    q1 = tX @ t["W1"] + t["b1"]               # (N, K1)
    h1 = relu(q1)
    q2 = h1 @ t["W2"] + t["b2"]               # (N, K2)
    h2 = relu(q2)
    z = h2 @ t["beta"] + t["a"]               # (N,)
    L = binary_cross_entropy_with_logits(z, Tensor(y))
    L.backward()
    grads = {k: np.asarray(v.grad, dtype=np.float64).reshape(p[k].shape)
             for k, v in t.items()}
    grads["X"] = np.asarray(tX.grad, dtype=np.float64).reshape(X.shape)
    return grads


def twolayer_grads_torch(params, X, y):
    """Gradients of the mean loss by ``torch.autograd``, in float64.

    params: dict W1 (P, K1), b1 (K1,), W2 (K1, K2), b2 (K2,), beta (K2,), a ().
    X: (N, P); y: (N,) in {0, 1}. The loss is
    ``torch.nn.functional.binary_cross_entropy_with_logits`` (mean); ``torch.relu`` has
    derivative 0 at 0, like the hand-derived mask. Returns a dict W1, b1, W2, b2, beta,
    a, X of numpy float64 arrays with the shapes above.
    """
    return _grads_torch(*_float64_inputs(params, X, y))


def _grads_torch(p, X, y):
    import torch
    import torch.nn.functional as F

    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
         for k, v in p.items()}
    tX = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    q1 = tX @ t["W1"] + t["b1"]               # (N, K1)
    h1 = torch.relu(q1)
    q2 = h1 @ t["W2"] + t["b2"]               # (N, K2)
    h2 = torch.relu(q2)
    z = h2 @ t["beta"] + t["a"]               # (N,)
    L = F.binary_cross_entropy_with_logits(z, torch.tensor(y, dtype=torch.float64))
    L.backward()
    grads = {k: v.grad.detach().numpy().copy() for k, v in t.items()}
    grads["X"] = tX.grad.detach().numpy().copy()
    return grads


def twolayer_grads_numeric(params, X, y, h=1e-5, samples=None, rng=None):
    r"""Gradients of the mean loss by central differences (:func:`numerical_gradient`).

    params: dict W1 (P, K1), b1 (K1,), W2 (K1, K2), b2 (K2,), beta (K2,), a ().
    X: (N, P); y: (N,) in {0, 1}. Works on float64 copies: the caller's arrays are
    untouched (and an array given in float32 is checked as its float64 value). h: the
    step. 1e-5 rather than :func:`numerical_gradient`'s general 1e-6: between two relu
    kinks z is linear in any single coordinate, so $L$ is smooth along it and the
    truncation error $h^2 L'''/6$ is below $10^{-12}$, while the rounding error
    $\epsilon_{64}|L|/h$ shrinks tenfold (measured on random networks: about $10^{-11}$
    absolute at 1e-5 against $10^{-10}$ at 1e-6). samples: at most this many coordinates
    per parameter, drawn with :func:`sample_indices` from ``rng`` (Generator, int seed
    or None); the others are NaN. None: every coordinate.

    Near a relu kink (a $q_1$ or $q_2$ entry that a step of h moves across 0) the
    difference quotient straddles the kink and disagrees with both one-sided
    derivatives; that is a property of finite differences, not a bug in the other
    routes. :func:`kink_margin` says how close the network is to one.

    Returns a dict W1, b1, W2, b2, beta, a, X with the shapes above.
    """
    return _grads_numeric(*_float64_inputs(params, X, y), h=h, samples=samples, rng=rng)


def _grads_numeric(p, X, y, h, samples, rng):
    rng = np.random.default_rng(rng)
    arrays = dict(p, X=X)

    def f(_):  # reads the arrays numerical_gradient perturbs in place
        return twolayer._loss(p, X, y)

    grads = {}
    for k in GRAD_KEYS:
        idx = None if samples is None else sample_indices(arrays[k].shape, samples, rng)
        grads[k] = numerical_gradient(f, arrays[k], h=h, indices=idx)
    return grads


def kink_margin(params, X):
    r"""The distance of the network from relu's kink: $\min |q|$ over all entries of
    q1 (N, K1) and q2 (N, K2), for params W1 (P, K1), ..., a () and X (N, P).

    Finite differences of step h are only trustworthy when no step moves an entry of
    $q_1$ or $q_2$ across 0. A step of h in one coordinate moves $q$ by at most h times
    a weight or an input (of order 1 at Glorot scale), so a margin a hundred times h is
    comfortably safe.
    """
    _, cache = twolayer.forward(params, X)
    return float(min(np.abs(cache["q1"]).min(), np.abs(cache["q2"]).min()))


# --------------------------------------------------------------------------- the table
def check_twolayer(params, X, y, numeric_samples=None, rng=None, h=1e-5):
    """The three-way gradient check of the two-layer network, as a table.

    params: dict W1 (P, K1), b1 (K1,), W2 (K1, K2), b2 (K2,), beta (K2,), a ().
    X: (N, P); y: (N,) in {0, 1}. All routes run in float64. numeric_samples, rng, h:
    passed to :func:`twolayer_grads_numeric` as ``samples``, ``rng`` and ``h`` (for
    MNIST-sized layers, check a few hundred sampled coordinates per parameter).

    Returns a pandas DataFrame with one row per parameter in the order a, beta, b2, W2,
    b1, W1, X (the chain from the loss down; index name "parameter") and the columns
    "shape" (e.g. "(P, K1) = (784, 128)"), "hand vs engine", "hand vs torch" and "hand
    vs numeric", each a :func:`rel_error`. Hand vs engine and vs torch use cs231n's
    floor 1e-8 and ``ignore_nan=False``, so a NaN in any full gradient shows up as NaN
    in the table. Hand vs numeric uses the floor :func:`numeric_floor` (h), so entries
    too small for finite differences to resolve are held to an absolute error instead
    (see there); it skips the coordinates that were not sampled.
    """
    p, X64, y64 = _float64_inputs(params, X, y)
    hand = twolayer._backward(p, X64, y64)
    engine = _grads_engine(p, X64, y64)
    torch_ = _grads_torch(p, X64, y64)
    numeric = _grads_numeric(p, X64, y64, h=h, samples=numeric_samples, rng=rng)

    rows = []
    for k in TABLE_ORDER:
        rows.append({
            "parameter": k,
            "shape": lettered(k, hand[k].shape),
            "hand vs engine": rel_error(hand[k], engine[k], ignore_nan=False),
            "hand vs torch": rel_error(hand[k], torch_[k], ignore_nan=False),
            "hand vs numeric": rel_error(hand[k], numeric[k], floor=numeric_floor(h)),
        })
    return pd.DataFrame(rows).set_index("parameter")


def errors_ok(df, tol=DEFAULT_TOL):
    """True when every relative error in ``df`` (from :func:`check_twolayer`) is below
    ``tol``.

    Every column whose name starts with "hand vs" counts; a NaN (nothing compared, or a
    NaN gradient) counts as a failure. tol: 1e-7 by default, the float64 tolerance of
    the course.
    """
    cols = [c for c in df.columns if str(c).startswith("hand vs")]
    if not cols:
        raise ValueError(f"no 'hand vs ...' columns in the table; got "
                         f"{list(df.columns)}")
    return bool((df[cols] < tol).to_numpy().all())
