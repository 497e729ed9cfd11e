r"""The grader's references of chapter 5, "The autodiff engine": the elementwise maximum
as an engine operation, and the operation counts of one training step.

Shapes: x, y arrays that broadcast against each other; the upstream gradient g has
their broadcast shape.
"""
from __future__ import annotations

import numpy as np

from lecture_lib.check import _engine as selfcheck
from lecture_lib.check._tasks import engine_pairs

from ..comparing import labelled
from ._entries import entry

__all__ = ["maximum_backward", "step_work"]


def _sum_to(g, shape):
    """g summed over the axes along which an input of `shape` was broadcast."""
    g = np.asarray(g, dtype=np.float64)
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g.reshape(shape)


def maximum_backward(x, y, g):
    """(max(x, y), dx, dy): the upstream gradient goes to the larger input, to x at a
    tie, summed back to each input's shape."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return (np.maximum(x, y), _sum_to(g * (x >= y), x.shape),
            _sum_to(g * (x < y), y.shape))


def _engine_maximum(args, **_):
    x, y, g, y_constant = args
    out, dx, dy = maximum_backward(x, y, g)
    return [out, dx] + ([] if y_constant else [dy])


#: chapter 5's network and optimizer: P, K1, K and Adam's operations per entry
P, K1, K = 784, 128, 10
ADAM_OPS = 13


def step_work(N):
    """The floating-point operations of one engine training step on N images: the
    matrix products, 2nkm each (forward X W1, h1 W2; backward h1^T G, G W2^T and X^T G,
    no gradient for X), and Adam's update of every parameter entry."""
    import pandas as pd
    products = 2 * N * (2 * P * K1 + 3 * K1 * K)
    entries = P * K1 + K1 + K1 * K + K
    return pd.Series({"matrix products": products, "Adam update": ADAM_OPS * entries})


REFERENCES = {"engine_maximum": _engine_maximum,
              "step_work": lambda args, **_: step_work(*args)}
COMPARATORS = {"step_work": lambda got, ref, args, options: labelled(
    got, ref, f"step_work({args[0]})", tol=1e-12)}


def stored_entries():
    def values(a):
        x, y, g, _ = a
        out, dx, dy = maximum_backward(x, y, g)
        _, lx, ly = maximum_backward(x, y, np.ones_like(out))
        return [out, dx, dy, lx, ly]
    return {"engine_op/maximum": entry(engine_pairs(selfcheck.BINARY_SHAPES, rng=0),
                                       values)}
