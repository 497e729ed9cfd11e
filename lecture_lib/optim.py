r"""Optimizers and gradient clipping for the engine's parameters, step for
step as torch.

Each works on a list of :class:`~lecture_lib.autodiff.Tensor` parameters
$\theta$ (for the lecture's network ``[W1, b1, W2, b2]``) with gradients
$g = \partial L/\partial\theta$ filled by ``loss.backward()``. Parameters
whose ``grad`` is None are skipped. Updates write into ``p.data`` in place and
keep its dtype; gradients are never modified in place.
"""
import math

import numpy as np

__all__ = ["SGD", "Adam", "clip_grad_norm", "clip_grad_value"]


def _as_list(params):
    one = hasattr(params, "data") and hasattr(params, "grad")
    params = [params] if one else list(params)
    if not params:
        raise ValueError("the optimizer got an empty parameter list")
    return params


class _Optimizer:
    def __init__(self, params, lr):
        if not lr > 0:
            raise ValueError(f"learning rate must be positive, got lr={lr}")
        self.params, self.lr = _as_list(params), lr

    def zero_grad(self):
        for p in self.params:
            p.grad = None


class SGD(_Optimizer):
    r"""$v \leftarrow \mu v + g$, $\theta \leftarrow \theta - \eta v$ (torch's
    form; $v = g$ at the first step). With momentum $\mu = 0$ this is plain
    $\theta \leftarrow \theta - \eta g$."""

    def __init__(self, params, lr, momentum=0.0):
        super().__init__(params, lr)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
        self.momentum = momentum
        self.velocity = [None] * len(self.params)

    def step(self):
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad
            if self.momentum:
                v = self.velocity[i]
                g = self.velocity[i] = (g.copy() if v is None
                                        else self.momentum * v + g)
            p.data -= self.lr * g


class Adam(_Optimizer):
    r"""Adam (Kingma and Ba, 2015), with torch's arithmetic. At step $t$ of a
    parameter:

    $m \leftarrow \beta_1 m + (1-\beta_1) g$,
    $v \leftarrow \beta_2 v + (1-\beta_2) g^2$,

    $\theta \leftarrow \theta - \dfrac{\eta}{1-\beta_1^t}\,
    \dfrac{m}{\sqrt{v}/\sqrt{1-\beta_2^t} + \epsilon}$.

    (The bias corrections divide out the zero start of $m$ and $v$; as torch,
    $\epsilon$ is added after the correction of $\sqrt{v}$.)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, lr)
        if not all(0 <= b < 1 for b in betas):
            raise ValueError(f"betas must lie in [0, 1), got {betas}")
        if not eps >= 0:
            raise ValueError(f"eps must be non-negative, got {eps}")
        self.betas, self.eps = betas, eps
        n = len(self.params)
        self.t, self.m, self.v = [0] * n, [None] * n, [None] * n

    def step(self):
        beta1, beta2 = self.betas
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None:
                continue
            if self.m[i] is None:
                self.m[i], self.v[i] = (np.zeros_like(p.data),
                                        np.zeros_like(p.data))
            self.t[i] += 1
            m, v, t = self.m[i], self.v[i], self.t[i]
            m += (1 - beta1) * (g - m)  # = beta1 m + (1-beta1) g: torch's lerp
            v *= beta2
            v += (1 - beta2) * g * g
            step_size = self.lr / (1 - beta1 ** t)
            denom = np.sqrt(v) / math.sqrt(1 - beta2 ** t) + self.eps
            p.data -= step_size * (m / denom)


def _grads(params):
    return [p for p in _as_list(params) if p.grad is not None]


def clip_grad_norm(params, max_norm):
    r"""Rescale all gradients jointly, $g \leftarrow \min(1, c/\|g\|)\, g$,
    where $\|g\|$ is the 2-norm of all parameters' gradients stacked into one
    vector and $c$ = ``max_norm``.

    As ``torch.nn.utils.clip_grad_norm_``, the factor is $c/(\|g\| + 10^{-6})$
    (the $10^{-6}$ avoids dividing by zero, so a clipped norm lands just below
    $c$) and the norm *before* clipping is returned (here as a float).
    Gradients are replaced, not modified in place. As in torch, a non-finite
    norm clips too: a nan entry makes every entry of every gradient nan; an inf
    entry makes the finite entries 0 and itself nan. So a step taken after it
    is never an unclipped one: it makes parameters nan.
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    params = _grads(params)
    total = math.sqrt(sum(float(np.vdot(p.grad, p.grad)) for p in params))
    coef = max_norm / (total + 1e-6)
    if not coef >= 1:                       # a nan coef (a nan norm) clips too
        for p in params:
            p.grad = p.grad * coef
    return total


def clip_grad_value(params, clip_value):
    """Clip every gradient entry to [-clip_value, clip_value]
    (``torch.nn.utils.clip_grad_value_``)."""
    if not clip_value > 0:
        raise ValueError(f"clip_value must be positive, got {clip_value}")
    for p in _grads(params):
        p.grad = np.clip(p.grad, -clip_value, clip_value)
