"""Plotting helpers shared by the chapters (matplotlib only).

Every helper returns the matplotlib ``Figure`` (or ``Axes``) it drew, gives it a title
and labelled axes, and leaves showing it to the notebook.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["show_digits"]


def show_digits(X, y, per_class: int = 8, classes=range(10), rng=None, title=None):
    """A grid of MNIST digits: one row per class, ``per_class`` random examples each.

    X : ``(N, P)`` with P = 784, or ``(N, 28, 28)``; any scale (shown in grey levels).
    y : ``(N,)`` integer labels.
    rng : numpy Generator or seed used to pick the examples (default: seed 0).
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim == 2 and X.shape[1] != 784:
        raise ValueError(f"show_digits expects X of shape (N, P) with P = 784 or (N, "
                         f"28, 28), got {X.shape}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has N = {X.shape[0]} rows but y has {y.shape[0]} labels")
    images = X.reshape(-1, 28, 28)
    rng = np.random.default_rng(0 if rng is None else rng)
    classes = list(classes)
    fig, axes = plt.subplots(len(classes), per_class, squeeze=False,
                             figsize=(per_class * 0.75, len(classes) * 0.8))
    for row, k in enumerate(classes):
        idx = rng.choice(np.flatnonzero(y == k), size=per_class, replace=False)
        for col, i in enumerate(idx):
            ax = axes[row, col]
            ax.imshow(images[i], cmap="gray_r")
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(str(k), rotation=0, labelpad=10, fontsize=11, va="center")
    fig.suptitle(title or f"{per_class} random training images per digit", y=1.0)
    fig.supylabel("label")
    fig.tight_layout()
    return fig
