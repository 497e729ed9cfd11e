r"""Layers for the autodiff engine, and weight exchange with torch.

A layer maps ``h: (N, n_in)`` to ``h @ W + b: (N, n_out)`` with ``W: (n_in, n_out)``,
the transpose of the lecture's $W^\top h$ for one column $h$ (and of torch, which stores
``weight: (n_out, n_in)``). For MNIST, ``mlp([784, 128, 10])`` is the lecture's network
with ``W1: (P, K1) = (784, 128)``, ``b1: (K1,)``, ``W2: (K1, K) = (128, 10)``,
``b2: (K,)``.
"""
import numpy as np

from .autodiff import Tensor, relu, tanh
from .init import INITIALIZERS, torch_default

__all__ = ["Module", "Linear", "ReLU", "Tanh", "Sequential", "mlp", "from_torch",
           "to_torch", "softmax_network"]


class Module:
    """A callable with parameters: ``module(x)`` runs ``forward(x)``."""

    def __call__(self, *args):
        return self.forward(*args)

    def parameters(self):
        return []

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None


class Linear(Module):
    r"""$q = h W + b$: ``h: (N, n_in)``, ``W: (n_in, n_out)``, ``b: (n_out,)``,
    ``q: (N, n_out)``.

    ``init`` is a name from :data:`lecture_lib.init.INITIALIZERS` or a function
    ``f(n_in, n_out, rng)``. With ``"torch"`` the bias is drawn like the weights, from
    $U(-1/\sqrt{n_\text{in}}, 1/\sqrt{n_\text{in}})$ (as ``torch.nn.Linear``); otherwise
    it starts at 0.
    """

    def __init__(self, n_in, n_out, init="torch", rng=None, dtype=np.float32):
        if isinstance(init, str):
            if init not in INITIALIZERS:
                raise ValueError(f"unknown init {init!r}; choose one of "
                                 f"{sorted(INITIALIZERS)} or pass a function")
            init = INITIALIZERS[init]
        rng = np.random.default_rng(rng)
        self.n_in, self.n_out = n_in, n_out
        W = np.asarray(init(n_in, n_out, rng), dtype=dtype)
        self.W = Tensor(W, requires_grad=True)
        if self.W.shape != (n_in, n_out):
            raise ValueError(f"init returned shape {self.W.shape}, expected (n_in, "
                             f"n_out) = {(n_in, n_out)}")
        if init is torch_default:
            b = rng.uniform(-1 / np.sqrt(n_in), 1 / np.sqrt(n_in), n_out)
        else:
            b = np.zeros(n_out)
        self.b = Tensor(np.asarray(b, dtype=dtype), requires_grad=True)

    @classmethod
    def from_arrays(cls, W, b):
        """A layer holding the arrays ``W: (n_in, n_out)`` and ``b: (n_out,)``
        themselves (not copies), drawing nothing."""
        W, b = np.asarray(W), np.asarray(b)
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(f"from_arrays needs W: (n_in, n_out) and b: (n_out,), got "
                             f"{W.shape} and {b.shape}")
        layer = cls.__new__(cls)
        layer.n_in, layer.n_out = W.shape
        layer.W = Tensor(W, requires_grad=True)
        layer.b = Tensor(b, requires_grad=True)
        return layer

    def forward(self, h):
        if not isinstance(h, Tensor):
            h = Tensor(np.asarray(h, dtype=self.W.dtype))
        if h.ndim not in (1, 2) or h.shape[-1] != self.n_in:
            raise ValueError(f"Linear expects inputs of width n_in = {self.n_in}, got "
                             f"{h.shape}")
        return h @ self.W + self.b

    def parameters(self):
        return [self.W, self.b]

    def __repr__(self):
        return f"Linear(n_in={self.n_in}, n_out={self.n_out}, dtype={self.W.dtype})"


class ReLU(Module):
    def forward(self, x):
        return relu(x)

    def __repr__(self):
        return "ReLU()"


class Tanh(Module):
    def forward(self, x):
        return tanh(x)

    def __repr__(self):
        return "Tanh()"


class Sequential(Module):
    """Layers applied in order; ``model[i]`` is ``model.layers[i]``."""

    def __init__(self, *layers):
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __repr__(self):
        body = "".join(f"  ({i}): {layer!r}\n" for i, layer in enumerate(self.layers))
        return "Sequential(\n" + body + ")"


def mlp(sizes, init="torch", rng=None, dtype=np.float32, activation=ReLU):
    """``Linear(sizes[0], sizes[1]), activation(), ..., Linear(sizes[-2], sizes[-1])``,
    with no activation after the last layer (it outputs logits). One ``rng`` draws all
    layers in order."""
    if len(sizes) < 2:
        raise ValueError(f"mlp needs at least an input and an output size, got "
                         f"sizes={sizes}")
    rng = np.random.default_rng(rng)
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [Linear(n_in, n_out, init=init, rng=rng, dtype=dtype), activation()]
    return Sequential(*layers[:-1])


# ---- weight exchange with torch (torch is imported only when these are called) -------
def from_torch(torch_module, dtype=None):
    """An engine copy of a ``torch.nn.Linear``, ``ReLU``, ``Tanh`` or a ``Sequential``
    of them, with the same weights (copied, transposed to ``W: (n_in, n_out)``).
    ``dtype`` defaults to the torch weights' dtype."""
    import torch.nn as tnn
    if isinstance(torch_module, tnn.Sequential):
        return Sequential(*(from_torch(m, dtype) for m in torch_module))
    if isinstance(torch_module, tnn.ReLU):
        return ReLU()
    if isinstance(torch_module, tnn.Tanh):
        return Tanh()
    if isinstance(torch_module, tnn.Linear):
        if torch_module.bias is None:
            raise ValueError("from_torch: a Linear without bias has no engine "
                             "equivalent")
        weight = torch_module.weight.detach().cpu().numpy()          # (n_out, n_in)
        bias = torch_module.bias.detach().cpu().numpy()
        W = np.array(weight.T, dtype=weight.dtype if dtype is None else dtype)  # a copy
        return Linear.from_arrays(W, np.array(bias, dtype=W.dtype))
    raise TypeError(f"from_torch: no engine equivalent for "
                    f"{type(torch_module).__name__}")


def to_torch(module):
    """A ``torch.nn`` copy of an engine ``Linear``, ``ReLU``, ``Tanh`` or ``Sequential``
    (weights copied and transposed to torch's ``weight: (n_out, n_in)``)."""
    import torch
    import torch.nn as tnn
    if isinstance(module, Sequential):
        return tnn.Sequential(*(to_torch(m) for m in module.layers))
    if isinstance(module, ReLU):
        return tnn.ReLU()
    if isinstance(module, Tanh):
        return tnn.Tanh()
    if isinstance(module, Linear):
        dtype = torch.from_numpy(np.zeros(0, module.W.dtype)).dtype
        layer = tnn.Linear(module.n_in, module.n_out, dtype=dtype)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(module.W.data.T.copy()))
            layer.bias.copy_(torch.from_numpy(module.b.data))
        return layer
    raise TypeError(f"to_torch: no torch equivalent for {type(module).__name__}")


def softmax_network(hidden_units, n_inputs=784, n_classes=10):
    """The lecture's softmax network as a ``torch.nn.Sequential``, the torch twin of
    :func:`mlp`: for each entry of ``hidden_units`` a ``Linear`` and a ``ReLU``, then a
    ``Linear`` to ``n_classes`` logits (softmax lives in the loss). ``[128]`` on MNIST:
    ``W1: (P, K1) = (784, 128)``, 101,770 parameters. Weights are drawn by torch's
    default initialization from torch's global seed."""
    from torch import nn as tnn
    layers, width = [], n_inputs
    for units in hidden_units:
        layers += [tnn.Linear(width, units), tnn.ReLU()]
        width = units
    layers.append(tnn.Linear(width, n_classes))
    return tnn.Sequential(*layers)
