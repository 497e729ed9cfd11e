r"""Computational graphs of the autodiff engine: walk them, tabulate them, draw them.

An engine :class:`~lecture_lib.autodiff.Tensor` remembers the tensors it was computed
from (``_prev``) and the operation that combined them (``_op``). Starting from an output
(a loss), this module

- lists every node in topological order (:func:`graph_nodes`) and every edge
  (:func:`graph_edges`);
- tabulates each node's value and gradient (:func:`node_table`), and each gradient as
  *local gradient times upstream gradient* along every edge (:func:`chain_table`);
- draws the graph with matplotlib alone (:func:`draw_graph`): value boxes, operation
  circles, arrows, the leaves at the bottom and the loss at the top, drawn for the
  book's column with legible values and gradients.

Names. The engine's tensors carry no names. Pass ``names``, a dict in either direction,
``{W: "W", b: "b"}`` or ``{"W": W, "b": b}`` (handy: ``names=dict(W=W, b=b)``); a tensor
given a ``.name`` attribute is also used. Unnamed nodes are labelled by their operation
and shape, unnamed scalar constants (the ``1`` of ``1 - p``) by their value.

Shapes follow the engine: a node's ``data`` and ``grad`` have the same shape, e.g.
W (P, 1).
"""
from __future__ import annotations

import textwrap
import warnings

import numpy as np
import pandas as pd

from .autodiff import topological_order
from .notation import shape_str

__all__ = ["graph_nodes", "graph_edges", "local_gradient", "node_table", "chain_table",
           "draw_graph", "OP_SYMBOLS"]

# How an operation is written inside its circle (anything not listed is shown as its
# name).
OP_SYMBOLS = {"+": "+", "-": "\u2212", "*": "\u00d7", "/": "\u00f7", "@": "@",
              "neg": "\u2212", "sigmoid": "\u03c3", "tanh": "tanh", "relu": "relu",
              "exp": "exp", "log": "log",
              "T": "\u1d40", "sum": "\u03a3", "bce_with_logits": "BCE",
              "cross_entropy": "CE", "log_softmax": "log sm"}


# -------------------------------------------------------------------- walking the graph
def graph_nodes(output):
    """Every node ``output`` was computed from, and ``output`` itself, in topological
    order.

    Each node comes after all the nodes in its ``_prev`` (its inputs), so the leaves
    (inputs, parameters, constants) come first and ``output`` last; the first input of a
    node is listed before its second. Constants that need no gradient are included. It
    is the order ``backward`` walks (:func:`lecture_lib.autodiff.topological_order`),
    constants added.

    output: an engine Tensor. Returns a list of Tensors, each once.
    """
    return topological_order(output)


def graph_edges(output):
    """The edges ``(input, node)`` of the graph of ``output``, one per distinct pair.

    An input used twice by the same operation (``x * x``) is one edge; an input used by
    two operations (``x * y + x``) has two edges. Ordered by ``node`` in topological
    order, then by the position of the input in ``node._prev``.
    """
    edges = []
    for node in graph_nodes(output):
        seen = set()
        for p in node._prev:
            if id(p) not in seen:
                seen.add(id(p))
                edges.append((p, node))
    return edges


def _depths(nodes):
    """Longest path from a leaf: leaves 0, every other node 1 + the largest depth of its
    inputs."""
    depth = {}
    for n in nodes:                     # topological order: inputs first
        depth[id(n)] = 1 + max((depth[id(p)] for p in n._prev), default=-1)
    return depth


# --------------------------------------------------------------------- names and labels
def _name_lookup(names):
    """A dict id(tensor) -> name, from {Tensor: str} or {str: Tensor}."""
    lookup = {}
    for k, v in (names or {}).items():
        tensor, name = (v, k) if isinstance(k, str) else (k, v)
        if not hasattr(tensor, "_prev"):
            raise TypeError(f"names must map engine Tensors to labels (or labels to "
                            f"Tensors); got a {type(tensor).__name__} for {name!r}")
        lookup[id(tensor)] = str(name)
    return lookup


def _name_of(node, lookup):
    name = lookup.get(id(node), getattr(node, "name", None))
    return None if name is None else str(name)


def _fmt_shape(shape):
    return "scalar" if shape == () else shape_str(shape)


def _fmt_array(a, digits=4, max_entries=4, one_line=True):
    """A short, deterministic string for a value or gradient (None -> '\u2014')."""
    if a is None:
        return "\u2014"
    a = np.asarray(a, dtype=np.float64)
    fmt = lambda v: f"{v:.{digits}g}" if v != 0 else "0"      # noqa: E731
    if a.size == 1:
        return fmt(a.item())
    if a.size > max_entries:
        return f"{_fmt_shape(a.shape)} array"
    text = np.array2string(a, separator=", ", formatter={"float_kind": fmt})
    return " ".join(text.split()) if one_line else text


def _label(node, lookup):
    """What a node is called in tables: its name, else op + shape, else (constant) its
    value."""
    name = _name_of(node, lookup)
    if name is not None:
        return name
    if node._op:
        return f"{node._op} {_fmt_shape(node.shape)}"
    if not node.requires_grad and node.data.size == 1:
        return _fmt_array(node.data)                            # the 1 of 1 - p
    return f"input {_fmt_shape(node.shape)}"


# ---------------------------------------------------------------------- local gradients
def _vjp(node, seed):
    """Run ``node``'s own ``_backward`` with ``node.grad = seed`` and return what it
    adds to each input, as a dict id(input) -> array (inputs that need no gradient are
    absent).

    Every ``.grad`` it touches is restored afterwards, so the graph is left as it was.
    """
    inputs = {id(p): p for p in node._prev}
    saved = {i: p.grad for i, p in inputs.items()}
    saved_node = node.grad
    try:
        for p in inputs.values():
            p.grad = None
        node.grad = np.asarray(seed, dtype=node.dtype).reshape(node.shape)
        node._backward()
        return {i: p.grad for i, p in inputs.items() if p.grad is not None}
    finally:
        for i, p in inputs.items():
            p.grad = saved[i]
        node.grad = saved_node


def local_gradient(node, inp):
    r"""The local gradient $\partial\,\mathrm{node}/\partial\,\mathrm{inp}$ of one edge.

    Computed by the engine itself: ``node``'s ``_backward`` run with upstream gradient
    1. For a node with a single entry (shape () or (1,)) this is exactly the derivative,
    an array of ``inp``'s shape (for ``z = x @ W`` with x (2,), W (2, 1): the local
    gradient with respect to W is x as a (2, 1) column). For a node with several entries
    it is the sum of the rows of the Jacobian (for elementwise operations: the
    diagonal), i.e. $\mathbf{1}^\top J$.

    If ``inp`` is used twice by ``node`` (``x * x``) the two uses add up ($2x$).
    Returns None when ``inp`` needs no gradient (a constant, the label y).
    """
    if not any(p is inp for p in node._prev):
        raise ValueError("inp is not an input of node")
    if not node.requires_grad:
        return None
    return _vjp(node, np.ones(node.shape)).get(id(inp))


# --------------------------------------------------------------------------- tables
def node_table(output, names=None, digits=4, max_entries=4):
    """One row per node of the graph of ``output``, in topological order (leaves first).

    Columns: "node" (its label), "op" (the operation that made it, "" for a leaf),
    "shape", "value", "gradient dL/dnode" (the node's ``.grad``: run
    ``output.backward()`` first; "\u2014" where there is none, e.g. a constant). Values
    are formatted to ``digits`` significant digits; arrays with more than
    ``max_entries`` entries are shown as their shape.
    """
    lookup = _name_lookup(names)
    rows = [{"node": _label(n, lookup), "op": n._op, "shape": _fmt_shape(n.shape),
             "value": _fmt_array(n.data, digits, max_entries),
             "gradient dL/dnode": _fmt_array(n.grad, digits, max_entries)}
            for n in graph_nodes(output)]
    return pd.DataFrame(rows)


def chain_table(output, names=None, digits=4, max_entries=4):
    r"""The backward pass of ``output`` as a table: every gradient as local times
    upstream.

    One row per edge (input -> node) whose input needs a gradient, from the output
    backwards (reverse topological order of the node). Columns:

    - "gradient of": the input; "through": the node it feeds, with its operation;
    - "local gradient": $\partial\,\mathrm{node}/\partial\,\mathrm{input}$
      (:func:`local_gradient`; "(Jacobian)" where the node has several entries);
    - "upstream": $\partial L/\partial\,\mathrm{node}$, the node's ``.grad``;
    - "= gradient": what this edge contributes to $\partial L/\partial\,\mathrm{input}$,
      computed by the node's own backward from the upstream gradient.

    An input used by several nodes has several rows, and its gradient is their sum (the
    ``"gradient dL/dnode"`` of :func:`node_table`). Call ``output.backward()`` first.
    """
    if output.grad is None:
        raise ValueError("no gradients yet: call output.backward() before "
                         "chain_table(output)")
    lookup = _name_lookup(names)
    rows = []
    for node in reversed(graph_nodes(output)):
        if not node._prev or node.grad is None:
            continue
        contributions = _vjp(node, node.grad)
        seen = set()
        for p in node._prev:
            if id(p) in seen or id(p) not in contributions:
                continue
            seen.add(id(p))
            local = local_gradient(node, p) if node.data.size == 1 else None
            rows.append({
                "gradient of": _label(p, lookup),
                "through": f"{_label(node, lookup)} = {node._op}(\u2026)",
                "local gradient": ("(Jacobian)" if node.data.size != 1
                                   else _fmt_array(local, digits, max_entries)),
                "upstream": _fmt_array(node.grad, digits, max_entries),
                "= gradient": _fmt_array(contributions[id(p)], digits, max_entries),
            })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- drawing
# The drawing is laid out in inches, as matplotlib renders it: every box and circle is
# measured first, then the levels are stacked with the leaves at the bottom and the loss
# at the top, as the lecture reads its graphs ("From the bottom of the graph to the top,
# fill in any values!"). An operation's circle sits just left of the box of its result.
MAX_HEIGHT_IN = 8.0          # a taller drawing gets the least space between its levels
_LEVEL_GAP_IN = (0.22, 0.5)  # vertical space between two levels: least, most
_ITEM_GAP_IN = 0.2           # horizontal space between two neighbours in a level
_OP_GAP_IN = 0.14            # between an operation's circle and its result's box
_MARGIN_IN = 0.06
_SLACK = 1.06                # text renders a few per cent wider at 2x than measured


def _users(nodes):
    """id(node) -> the nodes that use it as an input (each once)."""
    users = {id(n): [] for n in nodes}
    for n in nodes:
        for p in {id(q): q for q in n._prev}.values():
            users[id(p)].append(n)
    return users


def _levels(nodes, users, align_leaves):
    """id(node) -> level: an operation's result one above its highest input (its depth);
    a leaf at level 0 if ``align_leaves`` or unused, else just below its lowest user."""
    depth = _depths(nodes)
    level = {}
    for n in nodes:
        if n._prev or align_leaves or not users[id(n)]:
            level[id(n)] = depth[id(n)]
        else:
            level[id(n)] = min(depth[id(u)] for u in users[id(n)]) - 1
    return level


def _pack(desired, widths, gap):
    """Centres in the given order, as close to ``desired`` as least squares allows,
    with neighbours ``gap`` apart at least (items of ``widths``)."""
    offset = [0.0]
    for w0, w1 in zip(widths[:-1], widths[1:]):
        offset.append(offset[-1] + (w0 + w1) / 2 + gap)
    blocks = []                                   # [first, last, sum of shifts, count]
    for i, d in enumerate(desired):
        blocks.append([i, i, d - offset[i], 1])
        while len(blocks) > 1 and (blocks[-2][2] / blocks[-2][3]
                                   > blocks[-1][2] / blocks[-1][3]):
            first, last, total, count = blocks.pop()   # overlaps its left neighbour
            blocks[-1][1:] = [last, blocks[-1][2] + total, blocks[-1][3] + count]
    return [total / count + offset[i]
            for first, last, total, count in blocks for i in range(first, last + 1)]


def _place(nodes, level, slot_w, box_dx, op_dx):
    """Slot centres x (inches) per node, by sweeps: each operation's slot is centred
    over its inputs (the chain counts, a leaf beside it little), each leaf is put under
    the circle of the lowest operation it feeds, and every level is packed without
    overlap."""
    users = _users(nodes)
    topo = {id(n): i for i, n in enumerate(nodes)}
    rows = [[] for _ in range(max(level.values()) + 1)]
    for n in nodes:
        rows[level[id(n)]].append(id(n))
    inputs = {id(n): [(id(p), 1.0 if p._prev else 0.25)
                      for p in {id(q): q for q in n._prev}.values()] for n in nodes}
    leaf_users = {}                     # a leaf goes under its lowest users' circles
    for n in nodes:
        if not n._prev and users[id(n)]:
            lowest = min(level[id(u)] for u in users[id(n)])
            leaf_users[id(n)] = [id(u) for u in users[id(n)] if level[id(u)] == lowest]
    x = {}

    def pack(row, desired):
        row.sort(key=lambda k: (desired[k], topo[k]))
        xs = _pack([desired[k] for k in row], [slot_w[k] for k in row], _ITEM_GAP_IN)
        x.update(zip(row, xs))

    def over_inputs(k):
        weights = sum(w for _, w in inputs[k])
        return sum(w * (x[p] + box_dx[p]) for p, w in inputs[k]) / weights

    def under_users(k):
        if not leaf_users.get(k):
            return x[k]
        return sum(x[u] + op_dx[u] for u in leaf_users[k]) / len(leaf_users[k])

    for row in rows:
        pack(row, {k: 0.0 for k in row})
    for _ in range(4):
        for r in range(1, len(rows)):
            pack(rows[r], {k: over_inputs(k) if inputs[k] else under_users(k)
                           for k in rows[r]})
        for r in range(len(rows) - 2, -1, -1):
            pack(rows[r], {k: under_users(k) for k in rows[r]})
    return x


def _box_text(node, lookup, show_shape, show_values, show_grads, digits):
    lines = []
    name = _name_of(node, lookup)
    if name is not None:
        lines.append(name)
    elif not node._op and not node.requires_grad and node.data.size == 1:
        return _fmt_drawn(node.data, digits)            # a constant: its value names it
    if show_shape:
        lines.append(_fmt_shape(node.shape))
    if show_values:
        lines.append(f"= {_fmt_drawn(node.data, digits)}")
    if show_grads and node.grad is not None:
        lines.append(f"grad {_fmt_drawn(node.grad, digits)}")
    return "\n".join(lines) if lines else " "


def _fmt_drawn(a, digits):
    """A value in a box: a column (n, 1) written as a transposed row, a true minus."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 2 and a.shape[1] == 1 and 1 < a.size <= 3:
        text = _fmt_array(a[:, 0], digits, max_entries=3) + "\u1d40"
    else:
        text = _fmt_array(a, digits, max_entries=3)
    return text.replace("-", "\u2212")


def draw_graph(output, names=None, show_values=False, show_grads=False,
               show_shapes=True, ax=None, title=None, align_leaves=False, digits=3,
               fontsize=9):
    """Draw the computational graph of ``output`` (an engine Tensor) with matplotlib,
    from the leaves at the bottom to ``output`` at the top.

    Value nodes are rounded boxes (labelled with the name from ``names`` if any, the
    shape, and optionally the value and the gradient); operations are circles (labelled
    with :data:`OP_SYMBOLS`), each just left of the box of its result; arrows go from
    inputs up to operations and on to results. A node sits one level above its highest
    input. Leaves that need a gradient (parameters) are blue with a solid border, data
    and constants grey with a dashed one; ``output`` is green.

    The drawing is measured as it renders, so its text keeps ``fontsize`` (at least
    :data:`lecture_lib.plotting.TEXT_PT`) at the figure's own size: a new figure is at
    most :data:`lecture_lib.plotting.COLUMN_IN` wide (a wider graph warns) and, when the
    graph allows, at most :data:`MAX_HEIGHT_IN` tall.

    names: dict Tensor -> label or label -> Tensor (see the module docstring).
    show_values, show_grads: add the value / ``.grad`` (after ``backward()``) to each
    box (arrays with more than 3 entries are shown by shape only). ax: the Axes to draw
    on (a new figure sized to the graph if None). title: the Axes title. align_leaves:
    put every leaf on the bottom level (default: each leaf just below the operation
    that first uses it, which keeps arrows short).

    Returns the Axes. Each node label is a Text with gid "value:<label>" or "op:<op>".
    """
    import matplotlib.pyplot as plt

    from .plotting import COLUMN_IN, TEXT_PT
    if fontsize < TEXT_PT:
        raise ValueError(f"fontsize {fontsize} is below the book's smallest text, "
                         f"{TEXT_PT} pt: node values would be illegible")
    lookup = _name_lookup(names)
    nodes = graph_nodes(output)
    new_figure = ax is None
    if new_figure:
        fig = plt.figure(figsize=(COLUMN_IN, MAX_HEIGHT_IN), layout="none")
        ax = fig.add_axes((0, 0, 1, 1))
    artists = _draw_items(ax, output, nodes, lookup,
                          (show_shapes, show_values, show_grads, digits), fontsize)
    width, height, rects = _arrange(ax, nodes, artists, align_leaves)
    _connect(ax, nodes, artists, rects)
    ax.set_axis_off()
    ax.set_title(title if title is not None else "Computational graph")
    if new_figure:
        _fit_figure(ax, width, height)
    else:
        ax.set_xlim(0, width)
        ax.set_ylim(0, height)
        ax.set_aspect("equal")
    return ax


def _draw_items(ax, output, nodes, lookup, box_options, fontsize):
    """A circle for every operation, a box for every value, all at (0, 0) until
    :func:`_arrange` moves them; returns the Text artists by item ("o"/"v", id)."""
    artists = {}
    for node in nodes:
        items = [("o", node)] if node._prev else []
        for kind, n in items + [("v", node)]:
            if kind == "o":
                text = OP_SYMBOLS.get(n._op, n._op)
                style = dict(boxstyle="circle,pad=0.3", fc="#fde9c8", ec="#b5651d",
                             lw=1.2)
                gid = f"op:{n._op}"
            else:
                text = _box_text(n, lookup, *box_options)
                fc = "#ffffff" if n._prev else ("#cfe2f3" if n.requires_grad
                                                 else "#eeeeee")
                style = dict(boxstyle="round,pad=0.35",
                             fc="#d9ead3" if n is output else fc,
                             ec="#3c4f76" if n.requires_grad else "#777777", lw=1.2,
                             ls="-" if n.requires_grad or n._prev else "--")
                gid = f"value:{text.splitlines()[0]}"
            artists[(kind, id(n))] = ax.text(0, 0, text, ha="center", va="center",
                                             fontsize=fontsize, bbox=style, gid=gid,
                                             zorder=3)
    return artists


def _measure(fig, artists):
    """(width, height) in inches of every item as it renders, its box or circle
    included."""
    renderer = fig.canvas.get_renderer()
    sizes = {}
    for key, t in artists.items():
        t.update_bbox_position_size(renderer)
        extent = t.get_bbox_patch().get_window_extent(renderer)
        sizes[key] = (_SLACK * extent.width / fig.dpi, _SLACK * extent.height / fig.dpi)
    return sizes


def _arrange(ax, nodes, artists, align_leaves):
    """Move every box and circle to its place, in inches from the lower left corner.

    Returns (width, height, rects): the drawing's size and, per item, its rectangle
    (centre x, centre y, width, height), for routing the arrows around it."""
    size = _measure(ax.figure, artists)
    level = _levels(nodes, _users(nodes), align_leaves)
    slot_w, box_dx, op_dx = {}, {}, {}
    for n in nodes:
        k, box_w = id(n), size[("v", id(n))][0]
        op_w = size[("o", k)][0] if n._prev else 0.0
        slot_w[k] = box_w + (op_w + _OP_GAP_IN if n._prev else 0.0)
        op_dx[k] = (op_w - slot_w[k]) / 2
        box_dx[k] = (slot_w[k] - box_w) / 2
    x = _place(nodes, level, slot_w, box_dx, op_dx)
    n_levels = max(level.values()) + 1
    tall = [max(max(size[key][1] for key in artists if key[1] == id(n))
                for n in nodes if level[id(n)] == r) for r in range(n_levels)]
    free = (MAX_HEIGHT_IN - 0.4 - sum(tall)) / max(1, n_levels - 1)
    gap = min(max(free, _LEVEL_GAP_IN[0]), _LEVEL_GAP_IN[1])
    y_of = [_MARGIN_IN + tall[0] / 2]
    for r in range(1, n_levels):
        y_of.append(y_of[-1] + (tall[r - 1] + tall[r]) / 2 + gap)
    left = min(x[k] - slot_w[k] / 2 for k in x) - _MARGIN_IN
    right = max(x[k] + slot_w[k] / 2 for k in x) + _MARGIN_IN
    rects = {}
    for (kind, k), t in artists.items():
        cx = x[k] - left + (op_dx[k] if kind == "o" else box_dx[k])
        t.set_position((cx, y_of[level[k]]))
        rects[(kind, k)] = (cx, y_of[level[k]], *size[(kind, k)])
    return right - left, y_of[-1] + tall[-1] / 2 + _MARGIN_IN, rects


def _route(rects, src, dst):
    """How to draw the arrow src -> dst: straight if it misses every other item, else
    the least bowed arc that does (or, if none does, the one that touches least)."""
    (x0, y0), (x1, y1) = rects[src][:2], rects[dst][:2]
    others = np.array([r for key, r in rects.items() if key not in (src, dst)]
                      or np.empty((0, 4)))
    t = np.linspace(0.0, 1.0, 81)[:, None]
    hits = {}
    for rad in (0.0, 0.2, -0.2, 0.35, -0.35, 0.5, -0.5, 0.7, -0.7):
        cx, cy = (x0 + x1) / 2 + rad * (y1 - y0), (y0 + y1) / 2 - rad * (x1 - x0)
        px = (1 - t) ** 2 * x0 + 2 * (1 - t) * t * cx + t ** 2 * x1      # (81, 1)
        py = (1 - t) ** 2 * y0 + 2 * (1 - t) * t * cy + t ** 2 * y1
        hits[rad] = np.sum((np.abs(px - others[:, 0]) < others[:, 2] / 2 + 0.03)
                           & (np.abs(py - others[:, 1]) < others[:, 3] / 2 + 0.03))
        if hits[rad] == 0:
            break
    return f"arc3,rad={min(hits, key=hits.get)}"


def _connect(ax, nodes, artists, rects):
    """An arrow from every input to its operation, and from the operation to its
    result."""
    for n in nodes:
        if n._prev:
            for p in {id(q): q for q in n._prev}.values():
                src, dst = ("v", id(p)), ("o", id(n))
                _arrow(ax, artists, src, dst, _route(rects, src, dst))
            _arrow(ax, artists, ("o", id(n)), ("v", id(n)), "arc3,rad=0")


def _arrow(ax, artists, src, dst, style):
    ax.annotate("", xy=artists[dst].get_position(), xytext=artists[src].get_position(),
                arrowprops=dict(arrowstyle="-|>", color="#555555", lw=1.0, shrinkA=0,
                                shrinkB=0, patchA=artists[src].get_bbox_patch(),
                                patchB=artists[dst].get_bbox_patch(),
                                connectionstyle=style), zorder=4)


def _fit_figure(ax, width, height):
    """Size the figure to the drawing (data units are inches), widened for the title up
    to the column, the title wrapped if it is wider still; a drawing wider than the
    column warns."""
    from .plotting import COLUMN_IN
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    title_w = _SLACK * ax.title.get_window_extent(renderer).width / fig.dpi
    fig_w = max(width, min(COLUMN_IN, title_w + 2 * _MARGIN_IN))
    if title_w > fig_w - 2 * _MARGIN_IN:
        chars = int(len(ax.title.get_text()) * (fig_w - 2 * _MARGIN_IN) / title_w)
        ax.set_title(textwrap.fill(ax.title.get_text(), max(chars, 10)))
    band = ax.title.get_window_extent(renderer).height / fig.dpi + 0.2
    fig.set_size_inches(fig_w, height + band)
    ax.set_position((0, 0, 1, height / (height + band)))
    ax.set_xlim(-(fig_w - width) / 2, width + (fig_w - width) / 2)
    ax.set_ylim(0, height)
    if width > COLUMN_IN + 1e-6:
        warnings.warn(f"the graph is {width:.1f} in wide, wider than the book's column "
                      f"({COLUMN_IN} in): shorten its names or leave out shapes or "
                      f"values", stacklevel=3)
