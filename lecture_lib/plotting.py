"""The book's figure style, and plotting helpers shared by the chapters (matplotlib).

Every chapter calls :func:`use_book_style` once, in its import cell: figures are then
drawn for the book's column (at most :data:`COLUMN_IN` inches wide), with text a reader can
read there (:data:`TEXT_PT` and up), in a colour-blind-safe palette whose series also
differ by line style, and stored as PNGs at twice the screen resolution. Multi-panel
figures are stacked (``plt.subplots(2, 1)``), not set three abreast.

Every helper returns the matplotlib ``Figure`` (or ``Axes``) it drew, gives it a title
and labelled axes, and leaves showing it to the notebook.
"""
from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler

__all__ = ["COLUMN_IN", "TEXT_PT", "LABEL_PT", "PALETTE", "LINESTYLES", "use_book_style",
           "column_figure", "show_digits"]

COLUMN_IN = 6.5        # the widest figure: the column at 1280 px shows 650 CSS px of it
TEXT_PT = 9            # the smallest text (ticks, legends, annotations)
LABEL_PT = 10          # axis labels; titles are larger
# Okabe & Ito's palette, distinguishable with the common colour-vision deficiencies
# (blue, vermillion, bluish green, reddish purple, orange, sky blue, black, yellow).
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
           "#000000", "#F0E442"]
# The n-th series differs from the others by its line style too, not by colour alone.
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)),
              (0, (1, 3)), (0, (8, 3))]

BOOK_RC = {
    "figure.figsize": (COLUMN_IN, 3.6),
    "figure.dpi": 100,
    "figure.constrained_layout.use": True,
    "font.size": LABEL_PT,
    "axes.titlesize": LABEL_PT + 1,
    "axes.labelsize": LABEL_PT,
    "figure.titlesize": LABEL_PT + 1,
    "xtick.labelsize": TEXT_PT,
    "ytick.labelsize": TEXT_PT,
    "legend.fontsize": TEXT_PT,
    "legend.title_fontsize": TEXT_PT,
    "axes.prop_cycle": cycler(color=PALETTE) + cycler(linestyle=LINESTYLES),
    "lines.linewidth": 1.8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "image.cmap": "viridis",
}


def use_book_style():
    """Set matplotlib up for the book: :data:`BOOK_RC`, and (in a notebook) figures
    stored as PNG at 2x resolution, shown at their size in inches."""
    mpl.rcParams.update(BOOK_RC)
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:                        # plain Python: nothing more to set
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


def column_figure(nrows=1, ncols=1, height=None, **subplots):
    """``plt.subplots`` for the column: :data:`COLUMN_IN` wide; ``height`` in inches
    (default 3.6 a row, less for several). Returns ``(fig, axes)``."""
    if height is None:
        height = 3.6 if nrows == 1 else 2.6 * nrows
    return plt.subplots(nrows, ncols, figsize=(COLUMN_IN, height), **subplots)


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
    width = min(COLUMN_IN, per_class * 0.6 + 0.5)
    fig, axes = plt.subplots(len(classes), per_class, squeeze=False,
                             figsize=(width, len(classes) * (width - 0.5) / per_class),
                             gridspec_kw=dict(wspace=0.05, hspace=0.05))
    for row, k in enumerate(classes):
        idx = rng.choice(np.flatnonzero(y == k), size=per_class, replace=False)
        for col, i in enumerate(idx):
            ax = axes[row, col]
            ax.imshow(images[i], cmap="gray_r")
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(str(k), rotation=0, labelpad=10, va="center")
    fig.suptitle(title or f"{per_class} random training images per digit")
    fig.supylabel("label")
    return fig
