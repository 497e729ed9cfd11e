r"""Weight initializers: each draws a weight matrix ``W: (n_in, n_out)``.

A layer computes $q = h W + b$ with $W$: (n_in, n_out), so in the lecture's letters the
first layer's ``W1: (P, K1)`` is ``f(P, K1, rng)``. Every function has the signature
``f(n_in, n_out, rng) -> ndarray (n_in, n_out)`` (float64), where ``rng`` is a
``numpy.random.Generator``, an integer seed, or None for a fresh unseeded generator.

The variances, and why (with $n_\text{in}$ = fan-in, $n_\text{out}$ = fan-out):

- ``standard_normal``: $\operatorname{Var} W_{jk} = 1$. Each layer multiplies the
  activations' variance by about $n_\text{in}$, so a deep network's signal explodes.
- ``glorot_normal`` (Glorot and Bengio, 2010):
  $\operatorname{Var} W_{jk} = 2/(n_\text{in} + n_\text{out})$, a compromise between
  keeping the forward variance ($1/n_\text{in}$) and the backward variance
  ($1/n_\text{out}$) constant for tanh-like units.
- ``glorot_uniform``: $U(-a, a)$ with $a = \sqrt{6/(n_\text{in} + n_\text{out})}$, the
  same variance $a^2/3 = 2/(n_\text{in} + n_\text{out})$.
- ``he_normal`` (He et al., 2015): $\operatorname{Var} W_{jk} = 2/n_\text{in}$; a ReLU
  zeroes half of its inputs, and the factor 2 makes up for it.
- ``torch_default``: $U(-1/\sqrt{n_\text{in}}, 1/\sqrt{n_\text{in}})$, variance
  $1/(3 n_\text{in})$, what ``torch.nn.Linear`` draws for its weights and its biases.
"""
import numpy as np

__all__ = ["standard_normal", "glorot_normal", "glorot_uniform", "he_normal",
           "torch_default", "INITIALIZERS"]


def standard_normal(n_in, n_out, rng=None):
    r"""$W_{jk} \sim N(0, 1)$; ``W: (n_in, n_out)``."""
    return np.random.default_rng(rng).standard_normal((n_in, n_out))


def glorot_normal(n_in, n_out, rng=None):
    r"""$W_{jk} \sim N(0, 2/(n_\text{in} + n_\text{out}))$; ``W: (n_in, n_out)``."""
    std = np.sqrt(2.0 / (n_in + n_out))
    return std * np.random.default_rng(rng).standard_normal((n_in, n_out))


def glorot_uniform(n_in, n_out, rng=None):
    r"""$W_{jk} \sim U(-a, a)$, $a = \sqrt{6/(n_\text{in} + n_\text{out})}$;
    ``W: (n_in, n_out)``."""
    bound = np.sqrt(6.0 / (n_in + n_out))
    return np.random.default_rng(rng).uniform(-bound, bound, (n_in, n_out))


def he_normal(n_in, n_out, rng=None):
    r"""$W_{jk} \sim N(0, 2/n_\text{in})$; ``W: (n_in, n_out)``."""
    std = np.sqrt(2.0 / n_in)
    return std * np.random.default_rng(rng).standard_normal((n_in, n_out))


def torch_default(n_in, n_out, rng=None):
    r"""$W_{jk} \sim U(-1/\sqrt{n_\text{in}}, 1/\sqrt{n_\text{in}})$, as
    ``torch.nn.Linear``; ``W: (n_in, n_out)``."""
    bound = 1.0 / np.sqrt(n_in)
    return np.random.default_rng(rng).uniform(-bound, bound, (n_in, n_out))


#: name -> initializer; ``Linear(..., init=name)`` looks names up here. PyTorch's
#: default is ``"torch"`` (the function :func:`torch_default`).
INITIALIZERS = {
    "standard_normal": standard_normal,
    "glorot_normal": glorot_normal,
    "glorot_uniform": glorot_uniform,
    "he_normal": he_normal,
    "torch": torch_default,
}
