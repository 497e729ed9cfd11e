r"""A reverse-mode automatic differentiation engine on numpy arrays.

micrograd's engine with arrays in place of numbers. A :class:`Tensor` holds
``data`` (a numpy array) and, after ``backward()``, ``grad`` (an array of the
same shape). Every operation computes its output and, right under it, defines
``_backward(g)``: given $g = \partial L/\partial\,\mathrm{out}$, it *adds* into
each input's ``grad`` the chain rule's contribution,
$\partial L/\partial x \mathrel{+}= g\,(\partial\,\mathrm{out}/\partial x)$.
Then ``make_node`` records the output, its inputs and that rule in the graph.
In the lecture's letters a two-layer network is

    q1 = X @ W1 + b1      X: (N, P), W1: (P, K1), b1: (K1,), q1: (N, K1)
    h1 = relu(q1)
    z  = h1 @ W2 + b2     W2: (K1, C), b2: (C,), z: (N, C)
    L  = softmax_cross_entropy(z, y)          y: (N,) integer labels, L a scalar

and ``L.backward()`` fills ``W1.grad``, ``b1.grad``, ... and also ``q1.grad``,
``h1.grad``, ``z.grad``: every node that requires a gradient keeps it.

Conventions
- ``float32`` data stays ``float32`` through every operation (numbers and
  arrays mixed into an operation take the tensor's dtype); python numbers and
  integer arrays become ``float64``.
- An output requires a gradient iff some input does; inside
  ``with no_grad():`` no graph is built.
- Leaf gradients accumulate across ``backward()`` calls, as in torch (call
  ``zero_grad()``); an intermediate node's ``grad`` holds the gradient of the
  latest ``backward()``.
- The engine never writes into a gradient array in place, so two nodes may
  share one array (``a + b`` hands both the same upstream gradient). Do not
  modify a ``.grad`` in place.
"""
from __future__ import annotations

import contextlib

import numpy as np

from . import functional as F

__all__ = ["Tensor", "make_node", "no_grad", "topological_order", "relu",
           "sigmoid", "tanh", "exp", "log", "log_softmax",
           "softmax_cross_entropy", "binary_cross_entropy_with_logits"]

_grad_enabled = True


@contextlib.contextmanager
def no_grad():
    """Inside ``with no_grad():`` operations build no graph (for evaluation and
    updates)."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def _unbroadcast(grad, shape):
    r"""Sum ``grad`` over the axes that broadcasting stretched, so that it has
    ``shape``.

    A bias $b$: (K,) added to $q$: (N, K) is used once per row, so
    $\partial L/\partial b = \sum_i \partial L/\partial q_{i\cdot}$: a sum over
    axis 0.
    """
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)           # axes broadcasting put in front
    stretched = [lead + i for i, n in enumerate(shape)
                 if n == 1 and grad.shape[lead + i] != 1]
    return grad.sum(axis=tuple(range(lead)) + tuple(stretched)).reshape(shape)


class Tensor:
    """A node of the graph: ``data`` (numpy array), ``grad`` (same shape, or
    None)."""

    # numpy defers: ndarray + Tensor calls Tensor.__radd__
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, _prev=(), _op="",
                 _grad_fn=None):
        data = np.asarray(data.data if isinstance(data, Tensor) else data)
        self.data = data if data.dtype.kind == "f" else data.astype(np.float64)
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._prev = _prev          # the inputs this node was computed from
        self._op = _op              # the operation's name, for printing graphs
        self._grad_fn = _grad_fn    # the operation's _backward(g); None: a leaf

    def _backward(self):
        """Pass this node's gradient on to its inputs, by its operation's
        rule."""
        if self._grad_fn is not None:
            self._grad_fn(self.grad)

    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)

    def item(self):
        return self.data.item()

    def numpy(self):
        return self.data

    def zero_grad(self):
        self.grad = None

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="Tensor(",
                               precision=4)
        extra = "" if self.dtype == np.float64 else f", dtype={self.dtype}"
        if self._op:
            extra += f", op={self._op!r}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    def _lift(self, other):
        """Wrap a constant (number or array) as a Tensor with this tensor's
        dtype."""
        if isinstance(other, Tensor):
            return other
        return Tensor(np.asarray(other, self.dtype))

    def add_grad(self, g):
        """Accumulate ``g``, summed back to this tensor's shape, into
        ``self.grad``."""
        g = _unbroadcast(g, self.shape).astype(self.dtype, copy=False)
        self.grad = g if self.grad is None else self.grad + g

    # ---- elementwise arithmetic (with broadcasting) --------------------------
    def __add__(self, other):
        other = self._lift(other)
        data = self.data + other.data
        def _backward(g):
            if self.requires_grad:  self.add_grad(g)
            if other.requires_grad: other.add_grad(g)
        return make_node(data, (self, other), "+", _backward)

    def __sub__(self, other):
        other = self._lift(other)
        data = self.data - other.data
        def _backward(g):
            if self.requires_grad:  self.add_grad(g)
            if other.requires_grad: other.add_grad(-g)
        return make_node(data, (self, other), "-", _backward)

    def __mul__(self, other):
        other = self._lift(other)
        data = self.data * other.data
        def _backward(g):
            if self.requires_grad:  self.add_grad(g * other.data)
            if other.requires_grad: other.add_grad(g * self.data)
        return make_node(data, (self, other), "*", _backward)

    def __truediv__(self, other):
        other = self._lift(other)
        data = self.data / other.data
        def _backward(g):           # d(a/b)/db = -a/b^2 = -(a/b)/b
            if self.requires_grad:  self.add_grad(g / other.data)
            if other.requires_grad: other.add_grad(-g * data / other.data)
        return make_node(data, (self, other), "/", _backward)

    def __neg__(self):
        def _backward(g):
            self.add_grad(-g)
        return make_node(-self.data, (self,), "neg", _backward)

    def __pow__(self, exponent):
        """``x ** c`` for a number c, as numpy computes it (torch differs only
        for c = +-0.5 at x = -0 and x = -inf, where it computes sqrt and 1/sqrt
        instead)."""
        if not isinstance(exponent, (int, float, np.integer, np.floating)):
            raise TypeError(f"Tensor ** exponent needs a number exponent, got "
                            f"{type(exponent).__name__}")
        if isinstance(exponent, np.generic):  # a Python number keeps the dtype
            exponent = exponent.item()
        data = self.data ** exponent
        def _backward(g):           # x**0 is constant: gradient 0, also at 0
            self.add_grad(g * exponent * self.data ** (exponent - 1) if exponent
                          else np.zeros_like(g))
        return make_node(data, (self,), f"**{exponent}", _backward)

    __radd__ = __add__
    __rmul__ = __mul__
    def __rsub__(self, other):     return self._lift(other) - self
    def __rtruediv__(self, other): return self._lift(other) / self
    def __rmatmul__(self, other):  return self._lift(other) @ self

    # ---- matrix product and shapes -------------------------------------------
    def __matmul__(self, other):
        r"""``A @ B`` for 1-D and 2-D operands;
        $\partial L/\partial A = G B^\top$,
        $\partial L/\partial B = A^\top G$."""
        other = self._lift(other)
        if not (1 <= self.ndim <= 2 and 1 <= other.ndim <= 2):
            raise ValueError(f"@ supports 1-D and 2-D operands, got shapes "
                             f"{self.shape} and {other.shape}")
        data = self.data @ other.data
        def _backward(g):
            # as numpy does, read a 1-D left operand as a row (1, k), a 1-D
            # right one as a column (k, 1)
            a = self.data.reshape(1, -1) if self.ndim == 1 else self.data
            b = other.data.reshape(-1, 1) if other.ndim == 1 else other.data
            g = g.reshape(a.shape[0], b.shape[1])
            if self.requires_grad:
                self.add_grad((g @ b.T).reshape(self.shape))
            if other.requires_grad:
                other.add_grad((a.T @ g).reshape(other.shape))
        return make_node(data, (self, other), "@", _backward)

    @property
    def T(self):
        def _backward(g):
            self.add_grad(g.T)
        return make_node(self.data.T, (self,), "T", _backward)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        def _backward(g):
            self.add_grad(g.reshape(self.shape))
        return make_node(self.data.reshape(shape), (self,), "reshape",
                         _backward)

    def __getitem__(self, index):
        def _backward(g):
            dx = np.zeros_like(self.data)
            np.add.at(dx, index, g)         # a repeated index adds up
            self.add_grad(dx)
        return make_node(self.data[index], (self,), "[]", _backward)

    # ---- reductions ----------------------------------------------------------
    def sum(self, axis=None, keepdims=False):
        data = self.data.sum(axis=axis, keepdims=keepdims)
        # 0-d: numpy's axis 0 or -1 is the whole x
        axis = axis if self.ndim else None
        def _backward(g):           # every summand gets the sum's gradient
            g = g if keepdims or axis is None else np.expand_dims(g, axis)
            self.add_grad(np.broadcast_to(g, self.shape))
        return make_node(data, (self,), "sum", _backward)

    def mean(self, axis=None, keepdims=False):
        axes = range(self.ndim) if axis is None else np.atleast_1d(axis)
        count = int(np.prod([self.shape[a] for a in axes])) if self.ndim else 1
        return self.sum(axis=axis, keepdims=keepdims) / count

    # ---- backpropagation -----------------------------------------------------
    def backward(self, grad=None):
        r"""Fill ``.grad`` of every node this one depends on that requires a
        gradient.

        ``grad`` is the seed $\partial L/\partial\,\mathrm{self}$; a scalar
        output needs none (seed 1).
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require grad: none of "
                "its inputs has requires_grad=True, or it was computed under "
                "no_grad()")
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward() without an argument needs a scalar output, "
                    f"but this tensor has shape {self.shape}; reduce it (e.g. "
                    f".sum()) or pass grad=, an array of shape {self.shape}")
            grad = np.ones_like(self.data)
        grad = grad.data if isinstance(grad, Tensor) else grad
        grad = np.asarray(grad, dtype=self.dtype)
        if grad.shape != self.shape:
            raise ValueError(f"backward(grad): grad has shape {grad.shape}, "
                             f"the output has shape {self.shape}")

        # Phase 1: every node that needs a gradient, each after the nodes it
        # was computed from.
        order = topological_order(self, requires_grad_only=True,
                                  first_input_first=False)
        # Phase 2: seed the output, then from the output backwards each node
        # passes its gradient on to its inputs (by then it has received
        # everything from its users).
        for node in order:
            if node._prev:  # an intermediate's gradient is this pass's only
                node.grad = None
        self.add_grad(grad)
        for node in reversed(order):
            node._backward()


def topological_order(output, requires_grad_only=False, first_input_first=True):
    """Every node ``output`` was computed from, and ``output`` itself, each
    once and each after all the nodes in its ``_prev`` (its inputs): leaves
    first, ``output`` last.

    Depth-first with an explicit stack, so a chain of 100,000 operations needs
    no recursion. ``requires_grad_only``: leave out the nodes that need no
    gradient (constants). ``first_input_first``: a node's first input is
    visited (and listed) before its second; ``backward`` visits them last to
    first instead, as it always has: the order fixes in which order the
    contributions to a node used three or more times are summed, and so the
    last bit of its gradient.
    """
    order, visited, stack = [], set(), [(output, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
        elif id(node) not in visited:
            visited.add(id(node))
            stack.append((node, True))
            inputs = reversed(node._prev) if first_input_first else node._prev
            stack.extend((p, False) for p in inputs if id(p) not in visited
                         and (p.requires_grad or not requires_grad_only))
    return order


def make_node(data, inputs, op, backward):
    """Wrap an operation's output ``data``. If gradients are on and some input
    needs one, it joins the graph: it keeps its inputs, the operation's name
    and its ``backward`` rule. (The rule refers to the inputs, never to the
    output, so no reference cycle keeps a finished graph alive: it is freed as
    soon as the last name for the loss goes.)"""
    if _grad_enabled and any(t.requires_grad for t in inputs):
        return Tensor(data, requires_grad=True, _prev=inputs, _op=op,
                      _grad_fn=backward)
    return Tensor(data)


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


# ---- elementwise functions ---------------------------------------------------
def relu(x):
    """max(x, 0). Backward, as torch: exactly 0 where x <= 0 (the kink x = 0
    included, even where g is inf or nan), g everywhere else, x = nan
    included."""
    x = _tensor(x)
    def _backward(g):
        x.add_grad(np.where(x.data <= 0, 0, g))
    return make_node(np.maximum(x.data, 0), (x,), "relu", _backward)


def sigmoid(x):
    r"""$\sigma(x) = 1/(1 + e^{-x})$, computed without overflow;
    $\sigma' = \sigma(1 - \sigma)$."""
    x = _tensor(x)
    s = F.sigmoid(x.data)
    def _backward(g):
        x.add_grad(g * s * (1 - s))
    return make_node(s, (x,), "sigmoid", _backward)


def tanh(x):
    x = _tensor(x)
    t = np.tanh(x.data)
    def _backward(g):
        x.add_grad(g * (1 - t ** 2))
    return make_node(t, (x,), "tanh", _backward)


def exp(x):
    x = _tensor(x)
    e = np.exp(x.data)
    def _backward(g):
        x.add_grad(g * e)
    return make_node(e, (x,), "exp", _backward)


def log(x):
    x = _tensor(x)
    def _backward(g):
        x.add_grad(g / x.data)
    return make_node(np.log(x.data), (x,), "log", _backward)


# ---- softmax and losses ------------------------------------------------------
def log_softmax(x, axis=-1):
    r"""$z_j - \log\sum_k e^{z_k}$, with the row maximum subtracted first so
    nothing overflows.

    Backward: $\partial L/\partial z = g - \mathrm{softmax}(z) \sum_k g_k$.
    """
    x = _tensor(x)
    logp = F.log_softmax(x.data, axis=axis)
    def _backward(g):
        x.add_grad(g - np.exp(logp) * g.sum(axis=axis, keepdims=True))
    return make_node(logp, (x,), "log_softmax", _backward)


def softmax_cross_entropy(logits, labels):
    r"""Mean cross-entropy
    $L = -\frac1N \sum_i \log \mathrm{softmax}(z_i)_{y_i}$ of ``logits``
    z: (N, C) and integer ``labels`` y: (N,) in 0..C-1.

    One fused, stable operation:
    $\partial L/\partial z = (\mathrm{softmax}(z) - \mathrm{onehot}(y))/N$.
    """
    logits = _tensor(logits)
    if logits.ndim != 2:
        raise ValueError(f"logits must be (N, C), got shape {logits.shape}")
    (N, C), labels = logits.shape, np.asarray(labels)
    if labels.shape != (N,):
        raise ValueError(f"labels must have shape (N,) = ({N},) to match "
                         f"logits {logits.shape}, got {labels.shape}")
    if labels.dtype.kind not in "iu":
        raise TypeError(f"labels must be integer class indices, got dtype "
                        f"{labels.dtype}")
    if N and (labels.min() < 0 or labels.max() >= C):
        raise ValueError(f"labels must lie in 0..{C - 1} (logits have C = {C} "
                         f"columns), got values from {labels.min()} to "
                         f"{labels.max()}")
    loss, p = F.softmax_cross_entropy(logits.data, labels)
    def _backward(g):
        dz = p.copy()                                       # softmax(z)
        dz[np.arange(N), labels] -= 1
        logits.add_grad(dz * (g / N))
    return make_node(loss, (logits,), "cross_entropy", _backward)


def binary_cross_entropy_with_logits(z, y):
    r"""Mean of $-[y \log\sigma(z) + (1-y)\log(1-\sigma(z))]
    = (1-y)z + \max(-z,0) + \log(1 + e^{-|z|})$, finite for any finite ``z``
    (torch's arrangement: an infinite ``z`` gives torch's inf or nan); ``y``
    in [0, 1] has the shape of ``z``.

    Backward: $\partial L/\partial z = (\sigma(z) - y)/n$,
    $\partial L/\partial y = -z/n$.
    """
    z = _tensor(z)
    y = z._lift(y)
    if y.shape != z.shape:
        raise ValueError(f"targets y must have the shape of the logits z "
                         f"{z.shape}, got {y.shape}")
    losses = ((1 - y.data) * z.data + np.maximum(-z.data, 0)
              + np.log1p(np.exp(-np.abs(z.data))))
    def _backward(g):
        scale = g / z.data.size
        if z.requires_grad: z.add_grad((F.sigmoid(z.data) - y.data) * scale)
        if y.requires_grad: y.add_grad(-z.data * scale)
    return make_node(losses.mean(), (z, y), "bce_with_logits", _backward)
