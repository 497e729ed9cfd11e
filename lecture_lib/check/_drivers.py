"""How a hidden test's task calls the student's function, and what it records.

Most tasks record the return value of ``fn(*args)`` (or, when the thing recorded is a
value, the value itself). Some record more, or less, because the exercise asks for
more than a return value: that the input is left as it was, that a second call gives
the same answer, a gradient that ``backward()`` leaves in the inputs. ``DRIVERS[task]
(fn, args)`` returns what is recorded; nothing here judges it (the grader does).
"""
from __future__ import annotations

import numpy as np

__all__ = ["DRIVERS", "drive"]


def _call(fn, args):
    return fn(*args) if callable(fn) else fn


def _with_argument(position):
    """[the answer, argument `position` after the call]: an argument that must be
    left as it was (or restored bit for bit)."""
    def driver(fn, args):
        return [fn(*args), args[position]]
    return driver


def _twice(fn, args):
    """[first call, second call] on the same arguments (a model's gradients must not
    accumulate from one call to the next)."""
    return [fn(*args), fn(*args)]


def _engine_op(fn, args):
    """[out.data, x.grad, y.grad] of ``fn(x, y)`` on engine Tensors after
    ``out.backward(upstream)``; without y.grad when y is a constant."""
    from ..autodiff import Tensor
    x, y, upstream, y_constant = args
    tx, ty = Tensor(x, requires_grad=True), Tensor(y, requires_grad=not y_constant)
    out = fn(tx, ty)
    data = np.array(out.data)
    out.backward(upstream)
    return [data, tx.grad] + ([] if y_constant else [ty.grad])


def _initializer(fn, args):
    """Statistics of ``W = fn(n_in, n_out, rng)`` (a matrix of 10^5 draws is too big
    to record): [shape, mean, variance, kurtosis, max |W|, whether a generator seeded
    alike gives the same W, whether another seed gives another W]."""
    n_in, n_out, seed = args
    W = np.asarray(fn(n_in, n_out, np.random.default_rng(seed)), dtype=np.float64)
    again = np.asarray(fn(n_in, n_out, np.random.default_rng(seed)))
    other = np.asarray(fn(n_in, n_out, np.random.default_rng(seed + 1)))
    c = W - W.mean()
    kurtosis = float(np.mean(c ** 4) / np.mean(c ** 2) ** 2) if W.size else np.nan
    return [list(W.shape), W.mean(), W.var(), kurtosis, np.abs(W).max(),
            float(np.array_equal(W, again)), float(not np.array_equal(W, other))]


def _scaled_copy(fn, args):
    """[the copy's logits, the network's logits after the call, whether the copy is
    another object] on the batch xb."""
    import torch
    net, c, xb = args
    copy = fn(net, c)
    with torch.no_grad():
        return [copy(xb).double().numpy(), net(xb).double().numpy(),
                float(copy is not net)]


def _block_mean_squares(fn, args):
    """[the answer, whether the network's parameters are unchanged, whether they are
    still float32]."""
    import torch
    net, X = args
    before = [p.detach().clone() for p in net.parameters()]
    answer = fn(net, X)
    after = list(net.parameters())
    unchanged = len(before) == len(after) and all(
        a.dtype == b.dtype and torch.equal(a, b.detach()) for a, b in zip(before, after))
    return [answer, float(unchanged),
            float(all(p.dtype == torch.float32 for p in after))]


def _rows(fn, args):
    """[rows of each array, its shape] for a tuple of arrays too big to record
    whole."""
    (rows,) = args
    arrays = fn if isinstance(fn, (tuple, list)) else (fn,)
    return [[np.asarray(a)[list(rows)], list(np.shape(a))] for a in arrays]


def _history(h):
    """What a ``train.History`` says about a run: [batches per epoch, steps, epochs,
    the first two step losses, the last epoch's loss]."""
    steps = list(getattr(h, "step_loss", []))[:2]
    epochs = list(getattr(h, "epoch_loss", []))
    return [getattr(h, "batches_per_epoch", None), len(getattr(h, "step_loss", [])),
            len(epochs), steps, epochs[-1] if epochs else None]


def _histories(fn, args):
    """A History, or a tuple or dict of them, each as :func:`_history` says."""
    if isinstance(fn, dict):
        return {str(k): _history(v) for k, v in fn.items()}
    if isinstance(fn, (tuple, list)):
        return [_history(h) for h in fn]
    return _history(fn)


DRIVERS = {"numerical_gradient": _with_argument(1),
           "clip_by_global_norm": _with_argument(0),
           "layer_grad_norms": _twice, "layer_grad_norms_mnist": _twice,
           "engine_maximum": _engine_op,
           "initializer": _initializer,
           "scaled_copy": _scaled_copy,
           "block_mean_squares": _block_mean_squares,
           "standardized_rows": _rows,
           "batch_runs": _histories, "sgd_runs": _histories}


def drive(task, fn, args):
    """What the hidden test records for one input of `task`."""
    return DRIVERS.get(task, _call)(fn, args)
