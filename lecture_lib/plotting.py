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
from matplotlib import cycler

__all__ = ["COLUMN_IN", "TEXT_PT", "LABEL_PT", "PALETTE", "LINESTYLES", "use_book_style",
           "column_figure", "show_digits", "show_relu_jacobian",
           "show_weight_jacobian", "loss_and_grad_norm"]

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
    side = (min(COLUMN_IN, per_class * 0.6 + 0.5) - 0.5) / per_class   # one image, in
    fig, axes = plt.subplots(len(classes), per_class, squeeze=False,
                             figsize=(min(COLUMN_IN, per_class * side + 0.5),
                                      len(classes) * side),
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


# ------------------------------------------------ chapter 3: Jacobians, cell by cell
# Two pictures of Jacobians the backward pass never builds: the ReLU's diagonal one
# beside its mask, and the sparse 3-D Jacobian of a linear layer's output with respect
# to its weights. Cells are drawn as squares; every non-zero cell also shows its value
# as text, so colour is never the only difference.
_ON, _OFF = PALETTE[0], "#E8E8E8"     # cells that pass the gradient, cells that do not


def _cell(ax, x, y, on, text=None, gid=None):
    """One unit square cell with its lower left corner at (x, y)."""
    ax.add_patch(mpl.patches.Rectangle((x, y), 1, 1, gid=gid,
                                       facecolor=_ON if on else _OFF,
                                       edgecolor="white", linewidth=1.0))
    if text is not None:
        ax.text(x + 0.5, y + 0.5, text, ha="center", va="center",
                fontsize=TEXT_PT, color="white" if on else "black")


def _blank_grid(ax, n_rows, n_cols, x0=0.0):
    """A light grid of empty (zero) cells, n_rows x n_cols, starting at column x0."""
    for r in range(n_rows):
        for c in range(n_cols):
            ax.add_patch(mpl.patches.Rectangle((x0 + c, r), 1, 1, facecolor="white",
                                               edgecolor="#D0D0D0", linewidth=0.6))


def _grid_axes(ax, n_rows, width):
    """Data limits of a grid of cells: x in [0, width], rows from the top."""
    ax.set_xlim(0, width)
    ax.set_ylim(n_rows, 0)                              # row 0 at the top
    ax.grid(False)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)


def show_relu_jacobian(q, layer=2, title=None):
    r"""The ReLU's Jacobian $\partial h/\partial q = \mathrm{diag}(\mathbb 1[q > 0])$
    of ONE observation, drawn beside the mask vector $\mathbb 1[q > 0]$.

    q : ``(K,)``, one observation's pre-activation (a row of q (N, K)), K <= 24 so that
        every cell can be labelled. layer : d of $q_d$ in the labels.

    Left: the mask, a column of K cells, each row labelled with $q_{d,k}$ and its value;
    right: the K x K Jacobian (row k: $h_{d,k}$, column k: $q_{d,k}$), blank (zero) off
    the diagonal. Cells that pass the gradient are blue and show 1, the others grey and
    show 0. Returns the Figure.
    """
    q = np.asarray(q, dtype=float)
    if q.ndim != 1 or not 1 <= q.size <= 24:
        raise ValueError(f"q must be ONE observation's pre-activation, shape (K,) "
                         f"with 1 <= K <= 24; got shape {q.shape} (take a row q[i] "
                         f"of q (N, K))")
    K, mask = q.size, q > 0
    cell = min(0.26, 4.2 / K)                           # inches a cell
    fig = plt.figure(figsize=(COLUMN_IN, K * cell + 1.2), layout="none")
    H = fig.get_figheight()
    rect = dict(bottom=0.45 / H, height=K * cell / H)
    ax_m = fig.add_axes((1.45 / COLUMN_IN, rect["bottom"], cell / COLUMN_IN,
                         rect["height"]))
    ax_j = fig.add_axes(((1.45 + cell + 0.55) / COLUMN_IN, rect["bottom"],
                         K * cell / COLUMN_IN, rect["height"]))
    _blank_grid(ax_j, K, K)
    for k in range(K):
        text = "1" if mask[k] else "0"
        _cell(ax_m, 0, k, mask[k], text, gid=f"mask[{k}]")
        _cell(ax_j, k, k, mask[k], text, gid=f"J[{k},{k}]")
    _grid_axes(ax_m, K, 1)
    _grid_axes(ax_j, K, K)
    ax_m.set_xticks([])
    ax_m.set_yticks(np.arange(K) + 0.5,
                    [rf"$q_{{{layer},{k + 1}}} = {v:.2f}$" for k, v in enumerate(q)])
    ax_m.set_title(rf"$1[q_{layer} > 0]$", pad=6)
    ax_j.set_yticks([])
    ax_j.set_xticks(np.arange(K) + 0.5, [str(k + 1) for k in range(K)])
    ax_j.set_xlabel(rf"column $k$: $q_{{{layer},k}}$ (row $k$: $h_{{{layer},k}}$); "
                    rf"blank entries are 0")
    ax_j.set_title(rf"$\partial h_{layer}/\partial q_{layer} = "
                   rf"\mathrm{{diag}}(1[q_{layer} > 0])$", pad=6)
    fig.suptitle(title or "The ReLU's mask and its Jacobian, one observation",
                 y=1 - 0.08 / H, va="top")
    return fig


def show_weight_jacobian(J, layer=2, title=None):
    r"""The 3-D Jacobian $J[k, i, j] = \partial q_k/\partial W[i, j]$ of a linear layer
    $q = W^\top h + b$ with respect to its weights W (K_in, K_out), for ONE observation,
    drawn as a grid: a row per output $q_{d,k}$ and a column per weight $W_d[i, j]$,
    the columns grouped by the weight's output j (column j of $W_d$).

    J : ``(K_out, K_in, K_out)``, e.g. from
        :func:`lecture_lib.twolayer.jacobian_q2_wrt_W2`, with K_in * K_out <= 40 so
        that every column can be labelled.
    layer : d of $q_d$ and $W_d$ in the labels (the inputs are $h_{d-1}$, or $x$ for
        d = 1).

    Non-zero entries are blue and show the input on the weight's wire, $h_{d-1,i}$,
    and their value; zero entries are blank. Returns the Figure.
    """
    J = np.asarray(J, dtype=float)
    if J.ndim != 3 or J.shape[0] != J.shape[2]:
        raise ValueError(f"J must have shape (K_out, K_in, K_out), the Jacobian of q "
                         f"(K_out,) with respect to W (K_in, K_out); got {J.shape}")
    K_out, K_in, _ = J.shape
    if K_in * K_out > 40:
        raise ValueError(f"J has K_in * K_out = {K_in * K_out} weights; at most 40 "
                         f"columns can be labelled (take a smaller layer)")
    gap = 0.6
    width = K_out * K_in + (K_out - 1) * gap
    cell = min(0.42, (COLUMN_IN - 1.1) / width)
    fig = plt.figure(figsize=(COLUMN_IN, K_out * cell + 1.3), layout="none")
    ax = fig.add_axes((0.95 / COLUMN_IN, 0.55 / fig.get_figheight(),
                       width * cell / COLUMN_IN, K_out * cell / fig.get_figheight()))
    wire = "x" if layer == 1 else f"h_{{{layer - 1},"
    xticks = []
    for j in range(K_out):
        x0 = j * (K_in + gap)
        _blank_grid(ax, K_out, K_in, x0=x0)
        for i in range(K_in):
            xticks.append(x0 + i + 0.5)
            for k in range(K_out):
                if J[k, i, j] != 0:
                    name = f"x_{{{i + 1}}}" if layer == 1 else f"{wire}{i + 1}}}"
                    _cell(ax, x0 + i, k, True, f"${name}$\n{J[k, i, j]:.3g}",
                          gid=f"J[{k},{i},{j}]")
        ax.text(x0 + K_in / 2, -0.25, rf"column {j + 1} of $W_{layer}$", ha="center",
                va="bottom", fontsize=TEXT_PT)
    _grid_axes(ax, K_out, width)
    ax.set_yticks(np.arange(K_out) + 0.5,
                  [rf"$q_{{{layer},{k + 1}}}$" for k in range(K_out)])
    ax.set_xticks(xticks, [str(i % K_in + 1) for i in range(K_in * K_out)])
    ax.tick_params(length=0)
    ax.set_xlabel(rf"the weight $W_{layer}[i, j]$: its input $i$ (ticks), grouped by "
                  rf"its output $j$")
    fig.suptitle(title or rf"$\partial q_{layer}/\partial W_{layer}$: one non-zero "
                 rf"entry per weight", y=1 - 0.1 / fig.get_figheight(), va="top")
    return fig


# ------------------------------------------------ chapter 7: runs with and without clipping
def loss_and_grad_norm(runs, title, smooth=1):
    r"""Training loss and gradient norm of several runs against the optimizer step,
    stacked (top: loss, bottom: the norm $\|g\|$ before clipping), both log-log.

    runs : ``{label: (history, c)}``: a :class:`lecture_lib.train.History` (its
        ``step_loss`` and ``grad_norm``, one value per step, and ``diverged_at``) and
        the run's clipping threshold c, or None for a run without clipping.
    smooth : the loss is drawn as a running mean over this many steps (1: as is).

    A run that stopped at a non-finite value ends in a cross; each threshold is a
    dotted line in its run's colour, labelled "c = ..." at its right end, so that
    colour is never the only clue. Returns the Figure.
    """
    if not runs:
        raise ValueError("runs is empty: give {label: (history, c)} for at least one run")
    if int(smooth) != smooth or smooth < 1:
        raise ValueError(f"smooth must be a whole number of steps >= 1, got {smooth}")
    fig, (ax_l, ax_g) = column_figure(2, 1, height=6.2, sharex=True)
    for label, (history, c) in runs.items():
        step = np.arange(1, len(history.step_loss) + 1)
        loss = np.convolve(history.step_loss, np.ones(int(smooth)), "full")[:len(step)]
        loss = loss / np.minimum(step, smooth)          # running mean of <= smooth
        line, = ax_l.plot(step, loss, label=label, lw=1.2)
        ax_g.plot(step, history.grad_norm, lw=1.2, color=line.get_color(),
                  ls=line.get_linestyle())
        if history.diverged_at is not None:
            ax_l.plot(step[-1], loss[-1], "x", color=line.get_color(), ms=9, mew=2)
        if c is not None:
            ax_g.axhline(c, ls=":", lw=1.2, color=line.get_color())
            ax_g.annotate(f"c = {c:g}", (1, c), xycoords=("axes fraction", "data"),
                          xytext=(3, 0), textcoords="offset points", va="center",
                          color=line.get_color(), fontsize=TEXT_PT)
    thresholds = [c for _, c in runs.values() if c is not None]
    for ax in (ax_l, ax_g):
        ax.set_xscale("log")
        ax.set_yscale("log")
    if thresholds:                                       # keep every threshold in view
        ax_g.set_ylim(bottom=min(ax_g.get_ylim()[0], min(thresholds) / 2))
    ax_l.set_ylabel("minibatch loss" + (f"\n(mean of {smooth} steps)"
                                          if smooth > 1 else ""))
    ax_g.set_ylabel(r"$\|g\|$ before clipping")
    ax_g.set_xlabel("optimizer step (log scale)")
    ax_l.set_title("Training loss")
    ax_g.set_title("Gradient norm (dotted: the threshold c)")
    fig.legend(loc="outside lower center", ncol=min(len(runs), 4))
    fig.suptitle(title)
    return fig
