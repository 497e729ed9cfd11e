"""What differs between training a torch model and an engine model, written once per
framework.

:func:`lecture_lib.train.fit` and :func:`~lecture_lib.train.evaluate` are written once;
a run object per framework does the forward pass, the backward pass, the gradient norm
and the update on the design matrix ``X: (N, P)`` and the labels ``y: (N,)``:

- :class:`TorchRun`: a ``torch.nn.Module`` on its own device and dtype, with
  ``torch.optim``;
- :class:`EngineRun`: a :class:`lecture_lib.nn.Module` on numpy arrays, with
  :mod:`lecture_lib.optim`.

torch is imported only for a torch model: an engine model trains without it.
"""
import math
import sys

import numpy as np

from . import nn as enn
from . import optim as eoptim
from .autodiff import Tensor, no_grad, softmax_cross_entropy

__all__ = ["is_torch_module", "run_for", "TorchRun", "EngineRun"]


def is_torch_module(obj):
    """True for a ``torch.nn.Module``. Asks torch only if it was imported: a torch model
    cannot exist otherwise, so an engine model never pulls torch in."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def run_for(model):
    """The run class for ``model``: :class:`TorchRun` or :class:`EngineRun`."""
    if is_torch_module(model):
        return TorchRun
    if isinstance(model, enn.Module):
        return EngineRun
    raise TypeError(f"expected a torch.nn.Module or a lecture_lib.nn.Module, "
                    f"got {type(model).__name__}")


class TorchRun:
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
        """Logits of the rows ``rows`` (a slice or an index array) as float64 numpy, no
        graph."""
        was_training = self.model.training
        self.model.eval()
        try:
            with self.torch.no_grad():
                return self.model(self.X[rows]).double().cpu().numpy()
        finally:
            self.model.train(was_training)

    def loss(self, idx):
        """The mean cross-entropy of the rows ``idx`` (a graph to backpropagate, and a
        float)."""
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
        norms = [self.torch.linalg.vector_norm(p.grad) for p in self.params
                 if p.grad is not None]
        return float(self.torch.linalg.vector_norm(self.torch.stack(norms)))

    def step(self):
        self.opt.step()


class EngineRun:
    """A :class:`lecture_lib.nn.Module` on numpy arrays of its parameters' dtype, with
    :mod:`lecture_lib.optim`."""

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
        """Logits of the rows ``rows`` as float64 numpy, no graph."""
        with no_grad():
            return np.asarray(self.model(Tensor(self.X[rows])).data, dtype=np.float64)

    def loss(self, idx):
        """The mean cross-entropy of the rows ``idx`` (a graph to backpropagate, and a
        float)."""
        loss = softmax_cross_entropy(self.model(Tensor(self.X[idx])), self.y[idx])
        return loss, float(loss.data)

    def backward(self, loss, clip_norm):
        """Fill the gradients; clip them if asked; return their norm before clipping."""
        self.opt.zero_grad()
        loss.backward()
        if clip_norm is not None:
            return eoptim.clip_grad_norm(self.params, clip_norm)
        return math.sqrt(sum(float(np.vdot(p.grad, p.grad)) for p in self.params
                             if p.grad is not None))

    def step(self):
        self.opt.step()
