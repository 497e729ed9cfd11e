r"""One training loop for the book's softmax networks, in torch or in the book's engine.

``fit`` minimises the mean softmax cross-entropy of a model's logits ``z: (N, C)`` against
integer labels ``y: (N,)`` by minibatch Adam or SGD; ``evaluate`` reports the log loss and the
misclassification rate. Both take either a ``torch.nn.Module`` or a
:class:`lecture_lib.nn.Module`; the loop is written once and a small adapter per framework
does the forward pass, the backward pass, the gradient norm and the update.

Letters as in the rest of the package: ``X: (N, P)`` the design matrix (P = 784 for MNIST),
``y: (N,)`` labels in ``0..C-1`` (C = 10 classes), ``B`` the batch size.

What makes runs comparable across frameworks: the batches. Each epoch shuffles with
``np.random.default_rng(seed).permutation(N)`` (one generator per call of ``fit``), and the
batches are consecutive slices of that permutation, the last one possibly shorter. A torch
model and an engine model started from the same weights therefore see the same batches in the
same order, and their loss curves differ only by floating-point rounding.

Divergence: the loss (and the gradient norm) is checked at every step, *before* the update,
so a model whose loss became nan or inf keeps the parameters that produced it. Steps, epochs and
batches are counted from 0: ``diverged_at`` is the index the failing step's loss would have had,
and ``history.step_loss`` holds the ``diverged_at`` finite losses before it.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from . import nn as enn
from . import optim as eoptim
from .autodiff import Tensor, no_grad, softmax_cross_entropy

__all__ = ["NonFiniteLossError", "History", "fit", "evaluate", "softmax_network"]

OPTIMIZERS = ("adam", "sgd")
ON_NONFINITE = ("raise", "stop")


class NonFiniteLossError(FloatingPointError):
    """The training loss (or the gradient norm) became nan or inf.

    ``step``, ``epoch`` (counted from 0) say where; ``history`` holds what was recorded up to
    that step, with ``diverged_at`` and ``message`` set.
    """

    def __init__(self, message, *, step, epoch, history):
        super().__init__(message)
        self.step, self.epoch, self.history = step, epoch, history


@dataclass
class History:
    """What ``fit`` recorded.

    step_loss   mean cross-entropy of each minibatch, one per optimizer step
    epoch_loss  mean training loss over each epoch (the step losses weighted by batch size)
    grad_norm   2-norm of all gradients stacked into one vector, per step, BEFORE clipping
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
        """One row per step: ``step`` (index), ``epoch``, ``batch``, ``loss``, ``grad_norm``."""
        import pandas as pd
        n = self.steps
        per = max(self.batches_per_epoch, 1)
        steps = np.arange(n)
        return pd.DataFrame({"epoch": steps // per, "batch": steps % per,
                             "loss": self.step_loss, "grad_norm": self.grad_norm[:n]},
                            index=pd.Index(steps, name="step"))

    def epoch_frame(self):
        """One row per completed epoch (from 1): mean ``loss``, largest ``max_grad_norm``."""
        import pandas as pd
        frame = self.to_frame()
        frame = frame[frame["epoch"] < self.epochs]
        out = frame.groupby("epoch").agg(max_grad_norm=("grad_norm", "max"))
        out.insert(0, "loss", self.epoch_loss)
        out.index = pd.Index(out.index + 1, name="epoch")
        return out

    def __repr__(self):
        state = f"diverged at step {self.diverged_at}" if self.diverged else f"final loss {self.final_loss:.4g}"
        return f"History(epochs={self.epochs}, steps={self.steps}, {state}, seconds={self.seconds:.1f})"


# ---- adapters: everything framework-specific --------------------------------------------------
def _torch():
    """The torch module if it was imported (a torch model cannot exist otherwise), else None."""
    return sys.modules.get("torch")


def _is_torch_model(model):
    torch = _torch()
    return torch is not None and isinstance(model, torch.nn.Module)


def _to_numpy(a):
    return a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)


class _TorchRun:
    """A ``torch.nn.Module`` on its own device and dtype, with ``torch.optim``."""

    def __init__(self, model, X, y, optimizer=None, lr=None):
        import torch
        params = list(model.parameters())
        if not params:
            raise ValueError("the model has no parameters")
        self.torch, self.model = torch, model
        self.device, dtype = params[0].device, params[0].dtype
        self.X = torch.as_tensor(X, dtype=dtype, device=self.device)
        self.y = torch.as_tensor(y, dtype=torch.long, device=self.device)
        self.params = [p for p in params if p.requires_grad]
        if optimizer is not None:
            cls = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}[optimizer]
            self.opt = cls(self.params, lr=lr)

    def logits(self, rows):
        """Logits of the rows ``rows`` (a slice or an index array) as float64 numpy, no graph."""
        was_training = self.model.training
        self.model.eval()
        try:
            with self.torch.no_grad():
                return self.model(self.X[rows]).double().cpu().numpy()
        finally:
            self.model.train(was_training)

    def loss(self, idx):
        self.model.train()
        i = self.torch.from_numpy(idx).to(self.device)
        loss = self.torch.nn.functional.cross_entropy(self.model(self.X[i]), self.y[i])
        return loss, loss.item()

    def backward(self, loss, clip_norm):
        """Fill the gradients; clip them if asked; return their norm before clipping."""
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip_norm is not None:
            return float(self.torch.nn.utils.clip_grad_norm_(self.params, clip_norm))
        norms = [self.torch.linalg.vector_norm(p.grad) for p in self.params if p.grad is not None]
        return float(self.torch.linalg.vector_norm(self.torch.stack(norms)))

    def step(self):
        self.opt.step()


class _EngineRun:
    """A :class:`lecture_lib.nn.Module` on numpy arrays of its parameters' dtype, with ``lecture_lib.optim``."""

    def __init__(self, model, X, y, optimizer=None, lr=None):
        self.model, self.params = model, list(model.parameters())
        if not self.params:
            raise ValueError("the model has no parameters")
        self.X = np.asarray(X, dtype=self.params[0].dtype)
        self.y = np.asarray(y)
        if optimizer is not None:
            cls = {"adam": eoptim.Adam, "sgd": eoptim.SGD}[optimizer]
            self.opt = cls(self.params, lr=lr)

    def logits(self, rows):
        with no_grad():
            return np.asarray(self.model(Tensor(self.X[rows])).data, dtype=np.float64)

    def loss(self, idx):
        loss = softmax_cross_entropy(self.model(Tensor(self.X[idx])), self.y[idx])
        return loss, float(loss.data)

    def backward(self, loss, clip_norm):
        self.opt.zero_grad()
        loss.backward()
        if clip_norm is not None:
            return eoptim.clip_grad_norm(self.params, clip_norm)
        return math.sqrt(sum(float(np.vdot(p.grad, p.grad)) for p in self.params if p.grad is not None))

    def step(self):
        self.opt.step()


def _adapter(model):
    if _is_torch_model(model):
        return _TorchRun
    if isinstance(model, enn.Module):
        return _EngineRun
    raise TypeError(f"expected a torch.nn.Module or a lecture_lib.nn.Module, got {type(model).__name__}")


# ---- validation ---------------------------------------------------------------------------------
def _check_data(X, y):
    """X: (N, P), y: (N,) integer labels; returns them as numpy arrays."""
    X, y = _to_numpy(X), _to_numpy(y)
    if X.ndim != 2:
        raise ValueError(f"X must be a matrix (N, P), one observation per row; got shape {X.shape}")
    if y.ndim != 1:
        raise ValueError(f"y must be a vector (N,) of integer labels; got shape {y.shape}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has N = {X.shape[0]} rows but y has {y.shape[0]} labels; they must match")
    if X.shape[0] == 0:
        raise ValueError("X and y are empty")
    if y.dtype.kind not in "iu":
        raise ValueError(f"y must hold integer class labels 0..C-1, got dtype {y.dtype}")
    return X, y


def _check_labels(y, C):
    bad = (y < 0) | (y >= C)
    if bad.any():
        raise ValueError(f"labels must lie in 0..{C - 1} (the model has C = {C} outputs); "
                         f"{int(bad.sum())} do not, the first is {int(y[bad][0])}")


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {name}={value!r}")


def _n_outputs(run):
    z = run.logits(slice(0, 1))
    if z.ndim != 2:
        raise ValueError(f"the model must output logits of shape (N, C); it gave shape {z.shape}")
    return z.shape[1]


class _NotebookLine:
    """A file for tqdm inside a Jupyter kernel: it keeps only the bar's latest state and shows it
    as one display that is updated in place. A plain stream would store every state, and the
    rendered book would show each as a line of its own."""

    encoding = "utf-8"                      # tqdm draws unicode blocks only for a unicode file

    def __init__(self, display=None):
        if display is None:
            from IPython.display import display
        self._text = ""
        self._handle = display({"text/plain": ""}, raw=True, display_id=True)

    def write(self, s):
        state = s.split("\r")[-1].rstrip()
        if state:
            self._text = state

    def flush(self):
        self._handle.update({"text/plain": self._text}, raw=True)


def _progress_file():
    """Where the progress bar goes: a display updated in place in Jupyter, else stdout."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if type(shell).__name__ == "ZMQInteractiveShell":
        return _NotebookLine()
    return sys.stdout


# ---- the loop -----------------------------------------------------------------------------------
def fit(model, X, y, *, epochs, batch_size, lr, optimizer="adam", clip_norm=None, seed=0,
        on_nonfinite="raise", progress=True, desc=None):
    r"""Train ``model`` in place by minibatch ``optimizer`` on the mean softmax cross-entropy.

    model : ``torch.nn.Module`` (trained on its own device, in its own dtype) or
        :class:`lecture_lib.nn.Module`; either maps ``X: (B, P)`` to logits ``z: (B, C)``.
    X : ``(N, P)`` array (numpy or torch); y : ``(N,)`` integer labels in ``0..C-1``.
    epochs, batch_size : positive integers; each epoch makes ``ceil(N / batch_size)`` steps
        over the batches of one ``np.random.default_rng(seed)`` permutation.
    lr : learning rate $\eta > 0$; optimizer : ``"adam"`` or ``"sgd"`` (``torch.optim`` for a
        torch model, :mod:`lecture_lib.optim` for an engine model, with their defaults).
    clip_norm : if given, rescale the gradients jointly so that their global 2-norm is at most
        ``clip_norm`` before each update (``History.grad_norm`` records the norm before).
    on_nonfinite : at the first nan or inf loss (or gradient norm), ``"raise"`` raises
        :class:`NonFiniteLossError`; ``"stop"`` prints the message and returns the history
        so far. Either way no update is made with the non-finite gradient.
    progress : show a tqdm bar over epochs with the epoch's loss (on stdout; in Jupyter as one
        display updated in place); ``desc`` labels it.

    Returns a :class:`History`.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if on_nonfinite not in ON_NONFINITE:
        raise ValueError(f"on_nonfinite must be one of {ON_NONFINITE}, got {on_nonfinite!r}")
    _check_positive_int("epochs", epochs)
    _check_positive_int("batch_size", batch_size)
    if not (isinstance(lr, (int, float, np.floating)) and lr > 0 and math.isfinite(lr)):
        raise ValueError(f"the learning rate must be a positive number, got lr={lr!r}")
    if clip_norm is not None and not clip_norm > 0:
        raise ValueError(f"clip_norm must be positive (or None for no clipping), got {clip_norm!r}")
    X, y = _check_data(X, y)
    run = _adapter(model)(model, X, y, optimizer, lr)
    _check_labels(y, _n_outputs(run))

    N = len(y)
    rng = np.random.default_rng(seed)
    history = History(batches_per_epoch=math.ceil(N / batch_size))
    bar = tqdm(range(epochs), desc=desc, unit="epoch", file=_progress_file() if progress else sys.stdout,
               disable=not progress, ncols=90, mininterval=1.0)
    start = time.perf_counter()
    # numpy's overflow warnings would only repeat what the divergence check below reports
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            for epoch in bar:
                perm = rng.permutation(N)
                total = 0.0
                for batch, first in enumerate(range(0, N, batch_size)):
                    idx = perm[first:first + batch_size]
                    loss, value = run.loss(idx)
                    norm = run.backward(loss, clip_norm) if math.isfinite(value) else math.nan
                    if not (math.isfinite(value) and math.isfinite(norm)):
                        what, bad = ("loss", value) if not math.isfinite(value) else ("gradient norm", norm)
                        history.seconds = time.perf_counter() - start
                        history.diverged_at = step = history.steps
                        history.message = (f"{what} became {bad} at step {step} (epoch {epoch}, batch {batch}); "
                                           f"try gradient clipping or a smaller learning rate")
                        if on_nonfinite == "raise":
                            raise NonFiniteLossError(history.message, step=step, epoch=epoch, history=history)
                        bar.close()
                        print(history.message)
                        return history
                    run.step()
                    history.step_loss.append(value)
                    history.grad_norm.append(norm)
                    total += value * len(idx)
                history.epoch_loss.append(total / N)
                bar.set_postfix_str(f"loss {total / N:.4f}", refresh=False)
        finally:
            bar.close()
    history.seconds = time.perf_counter() - start
    return history


def evaluate(model, X, y, batch_size=10_000):
    """``{"log_loss": mean cross-entropy, "error": misclassification rate}`` of ``model`` on
    ``X: (N, P)``, ``y: (N,)``, computed in float64 from the logits, ``batch_size`` rows at a time."""
    _check_positive_int("batch_size", batch_size)
    X, y = _check_data(X, y)
    run = _adapter(model)(model, X, y)
    nll, wrong, C = 0.0, 0, None
    for first in range(0, len(y), batch_size):
        rows = slice(first, first + batch_size)
        z = run.logits(rows)
        if C is None:
            C = z.shape[1]
            _check_labels(y, C)
        yb = y[rows]
        shifted = z - z.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        nll -= log_p[np.arange(len(yb)), yb].sum()
        wrong += int((z.argmax(axis=1) != yb).sum())
    return {"log_loss": float(nll / len(y)), "error": wrong / len(y)}


def softmax_network(hidden_units, n_inputs=784, n_classes=10):
    """The lecture's softmax network as a ``torch.nn.Sequential``: for each entry of
    ``hidden_units`` a ``Linear`` and a ``ReLU``, then a ``Linear`` to ``n_classes`` logits
    (softmax lives in the loss). ``[128]`` on MNIST: ``W1: (P, K1) = (784, 128)``, 101,770
    parameters. Weights are drawn by torch's default initialization from torch's global seed."""
    from torch import nn as tnn
    layers, width = [], n_inputs
    for units in hidden_units:
        layers += [tnn.Linear(width, units), tnn.ReLU()]
        width = units
    layers.append(tnn.Linear(width, n_classes))
    return tnn.Sequential(*layers)
