r"""One training loop for the book's softmax networks, in torch or in the book's engine.

``fit`` minimises the mean softmax cross-entropy of a model's logits ``z: (N, K)``
against integer labels ``y: (N,)`` by minibatch Adam or SGD; ``evaluate`` reports the
log loss and the misclassification rate. Both take either a ``torch.nn.Module`` or a
:class:`lecture_lib.nn.Module`; the loop is written once here, and a run object per
framework (:mod:`lecture_lib.frameworks`) does the forward pass, the backward pass, the
gradient norm and the update. The progress bar's plumbing is
:mod:`lecture_lib.progress`; the lecture's torch network is
:func:`lecture_lib.nn.softmax_network` (also importable from here).

Letters as in the rest of the package: ``X: (N, P)`` the design matrix (P = 784 for
MNIST), ``y: (N,)`` labels in ``0..K-1`` (K = 10 classes), ``B`` the batch size.

What makes runs comparable across frameworks: the batches. Each epoch shuffles with
``np.random.default_rng(seed).permutation(N)`` (one generator per call of ``fit``), and
the batches are consecutive slices of that permutation, the last one possibly shorter. A
torch model and an engine model started from the same weights therefore see the same
batches in the same order, and their loss curves differ only by floating-point rounding.

Divergence: the loss (and the gradient norm) is checked at every step, *before* the
update, so a model whose loss became nan or inf keeps the parameters that produced it.
Steps, epochs and batches are counted from 0: ``diverged_at`` is the index the failing
step's loss would have had, and ``history.step_loss`` holds the ``diverged_at`` finite
losses before it.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from .frameworks import run_for
from .functional import log_softmax
from .nn import softmax_network
from .progress import progress_file

__all__ = ["NonFiniteLossError", "History", "fit", "evaluate", "softmax_network"]

OPTIMIZERS = ("adam", "sgd")
ON_NONFINITE = ("raise", "stop")


class NonFiniteLossError(FloatingPointError):
    """The training loss (or the gradient norm) became nan or inf.

    ``step``, ``epoch`` (counted from 0) say where; ``history`` holds what was recorded
    up to that step, with ``diverged_at`` and ``message`` set.
    """

    def __init__(self, message, *, step, epoch, history):
        super().__init__(message)
        self.step, self.epoch, self.history = step, epoch, history


@dataclass
class History:
    """What ``fit`` recorded.

    step_loss   mean cross-entropy of each minibatch, one per optimizer step
    epoch_loss  mean training loss over each epoch (step losses weighted by batch size)
    grad_norm   2-norm of all gradients stacked into one vector, per step, BEFORE
                clipping
    seconds     wall time of the whole run
    diverged_at the step (from 0) whose loss or gradient was not finite, else None
    message     what went wrong, else None
    batches_per_epoch  optimizer steps per epoch, ceil(N / B)
    """

    step_loss: list = field(default_factory=list)
    epoch_loss: list = field(default_factory=list)
    grad_norm: list = field(default_factory=list)
    seconds: float = 0.0
    diverged_at: int | None = None
    message: str | None = None
    batches_per_epoch: int = 0

    @property
    def epochs(self):
        """Completed epochs."""
        return len(self.epoch_loss)

    @property
    def steps(self):
        """Completed optimizer steps."""
        return len(self.step_loss)

    @property
    def diverged(self):
        return self.diverged_at is not None

    @property
    def final_loss(self):
        """The last epoch's mean training loss (nan if no epoch completed)."""
        return self.epoch_loss[-1] if self.epoch_loss else math.nan

    @property
    def seconds_per_epoch(self):
        return self.seconds / self.epochs if self.epochs else math.nan

    def to_frame(self):
        """One row per step: ``step`` (index), ``epoch``, ``batch``, ``loss``,
        ``grad_norm``."""
        import pandas as pd
        n = self.steps
        per = max(self.batches_per_epoch, 1)
        steps = np.arange(n)
        return pd.DataFrame({"epoch": steps // per, "batch": steps % per,
                             "loss": self.step_loss, "grad_norm": self.grad_norm[:n]},
                            index=pd.Index(steps, name="step"))

    def epoch_frame(self):
        """One row per completed epoch (from 1): mean ``loss``, largest
        ``max_grad_norm``."""
        import pandas as pd
        frame = self.to_frame()
        frame = frame[frame["epoch"] < self.epochs]
        out = frame.groupby("epoch").agg(max_grad_norm=("grad_norm", "max"))
        out.insert(0, "loss", self.epoch_loss)
        out.index = pd.Index(out.index + 1, name="epoch")
        return out

    def __repr__(self):
        state = (f"diverged at step {self.diverged_at}" if self.diverged
                 else f"final loss {self.final_loss:.4g}")
        return (f"History(epochs={self.epochs}, steps={self.steps}, {state}, "
                f"seconds={self.seconds:.1f})")


# ---- the loop ------------------------------------------------------------------------
def fit(model, X, y, *, epochs, batch_size, lr, optimizer="adam", clip_norm=None,
        seed=0, on_nonfinite="raise", progress=True, desc=None):
    r"""Train ``model`` in place by minibatch ``optimizer`` on the mean softmax
    cross-entropy.

    model : ``torch.nn.Module`` (trained on its own device, in its own dtype) or
        :class:`lecture_lib.nn.Module`; either maps ``X: (B, P)`` to logits
        ``z: (B, K)``.
    X : ``(N, P)`` array (numpy or torch); y : ``(N,)`` integer labels in ``0..K-1``.
    epochs, batch_size : positive integers; each epoch makes ``ceil(N / batch_size)``
        steps over the batches of one ``np.random.default_rng(seed)`` permutation.
    lr : learning rate $\eta > 0$; optimizer : ``"adam"`` or ``"sgd"`` (``torch.optim``
        for a torch model, :mod:`lecture_lib.optim` for an engine model, with their
        defaults).
    clip_norm : if given, rescale the gradients jointly so that their global 2-norm is
        at most ``clip_norm`` before each update (``History.grad_norm`` records the
        norm before).
    on_nonfinite : at the first nan or inf loss (or gradient norm), ``"raise"`` raises
        :class:`NonFiniteLossError`; ``"stop"`` prints the message and returns the
        history so far. Either way no update is made with the non-finite gradient.
    progress : show a tqdm bar over epochs with the epoch's loss (on stdout; in Jupyter
        as one display updated in place); ``desc`` labels it.

    Returns a :class:`History`.
    """
    _check_options(optimizer, on_nonfinite, epochs, batch_size, lr, clip_norm)
    X, y = _check_data(X, y)
    run = run_for(model)(model, X, y, optimizer, lr)
    _check_labels(y, _n_outputs(run))

    N = len(y)
    rng = np.random.default_rng(seed)
    history = History(batches_per_epoch=math.ceil(N / batch_size))
    bar = tqdm(range(epochs), desc=desc, unit="epoch",
               file=progress_file() if progress else sys.stdout,
               disable=not progress, ncols=90, mininterval=1.0)
    start = time.perf_counter()
    # numpy's overflow warnings would only repeat what the divergence check reports
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            for epoch in bar:
                perm = rng.permutation(N)
                total = _epoch(run, perm, batch_size, clip_norm, history, epoch)
                if total is None:
                    history.seconds = time.perf_counter() - start
                    if on_nonfinite == "raise":
                        raise NonFiniteLossError(history.message, epoch=epoch,
                                                 step=history.diverged_at,
                                                 history=history)
                    bar.close()
                    print(history.message)
                    return history
                history.epoch_loss.append(total / N)
                bar.set_postfix_str(f"loss {total / N:.4f}", refresh=False)
        finally:
            bar.close()
    history.seconds = time.perf_counter() - start
    return history


def _epoch(run, perm, batch_size, clip_norm, history, epoch):
    """One epoch: a step per batch of consecutive rows of ``perm``, each recorded in
    ``history``. Returns the sum of the batch losses weighted by batch size, or None at
    the first loss or gradient norm that is not finite (before its update; ``history``
    then says where)."""
    total = 0.0
    for batch, first in enumerate(range(0, len(perm), batch_size)):
        idx = perm[first:first + batch_size]
        loss, value = run.loss(idx)
        norm = run.backward(loss, clip_norm) if math.isfinite(value) else math.nan
        if not (math.isfinite(value) and math.isfinite(norm)):
            what, bad = (("loss", value) if not math.isfinite(value)
                         else ("gradient norm", norm))
            history.diverged_at = step = history.steps
            history.message = (f"{what} became {bad} at step {step} (epoch {epoch}, "
                               f"batch {batch}); try gradient clipping or a smaller "
                               f"learning rate")
            return None
        run.step()
        history.step_loss.append(value)
        history.grad_norm.append(norm)
        total += value * len(idx)
    return total


def evaluate(model, X, y, batch_size=10_000):
    """``{"log_loss": mean cross-entropy, "error": misclassification rate}`` of
    ``model`` on ``X: (N, P)``, ``y: (N,)``, computed in float64 from the logits,
    ``batch_size`` rows at a time."""
    _check_positive_int("batch_size", batch_size)
    X, y = _check_data(X, y)
    run = run_for(model)(model, X, y)
    nll, wrong, K = 0.0, 0, None
    for first in range(0, len(y), batch_size):
        rows = slice(first, first + batch_size)
        z = run.logits(rows)
        if K is None:
            K = z.shape[1]
            _check_labels(y, K)
        yb = y[rows]
        nll -= log_softmax(z, axis=1)[np.arange(len(yb)), yb].sum()
        wrong += int((z.argmax(axis=1) != yb).sum())
    return {"log_loss": float(nll / len(y)), "error": wrong / len(y)}


# ---- validation ----------------------------------------------------------------------
def _to_numpy(a):
    return a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)


def _check_data(X, y):
    """X: (N, P), y: (N,) integer labels; returns them as numpy arrays."""
    X, y = _to_numpy(X), _to_numpy(y)
    if X.ndim != 2:
        raise ValueError(f"X must be a matrix (N, P), one observation per row; got "
                         f"shape {X.shape}")
    if y.ndim != 1:
        raise ValueError(f"y must be a vector (N,) of integer labels; got shape "
                         f"{y.shape}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has N = {X.shape[0]} rows but y has {y.shape[0]} labels; "
                         f"they must match")
    if X.shape[0] == 0:
        raise ValueError("X and y are empty")
    if y.dtype.kind not in "iu":
        raise ValueError(f"y must hold integer class labels 0..K-1, got dtype "
                         f"{y.dtype}")
    return X, y


def _check_labels(y, K):
    bad = (y < 0) | (y >= K)
    if bad.any():
        raise ValueError(f"labels must lie in 0..{K - 1} (the model has K = {K} "
                         f"outputs); {int(bad.sum())} do not, the first is "
                         f"{int(y[bad][0])}")


def _check_options(optimizer, on_nonfinite, epochs, batch_size, lr, clip_norm):
    """fit's options, each with a message naming it."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if on_nonfinite not in ON_NONFINITE:
        raise ValueError(f"on_nonfinite must be one of {ON_NONFINITE}, got "
                         f"{on_nonfinite!r}")
    _check_positive_int("epochs", epochs)
    _check_positive_int("batch_size", batch_size)
    if not (isinstance(lr, (int, float, np.floating)) and lr > 0 and math.isfinite(lr)):
        raise ValueError(f"the learning rate must be a positive number, got lr={lr!r}")
    if clip_norm is not None and not clip_norm > 0:
        raise ValueError(f"clip_norm must be positive (or None for no clipping), got "
                         f"{clip_norm!r}")


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {name}={value!r}")


def _n_outputs(run):
    z = run.logits(slice(0, 1))
    if z.ndim != 2:
        raise ValueError(f"the model must output logits of shape (N, K); it gave shape "
                         f"{z.shape}")
    return z.shape[1]
