r"""Computational graphs of the autodiff engine: walk them, tabulate them, draw them.

An engine :class:`~lecture_lib.autodiff.Tensor` remembers the tensors it was computed
from (``_prev``) and the operation that combined them (``_op``). Starting from an output
(a loss), this module

- lists every node in topological order (:func:`graph_nodes`) and every edge
  (:func:`graph_edges`);
- tabulates each node's value and gradient (:func:`node_table`), and each gradient as
  *local gradient times upstream gradient* along every edge (:func:`chain_table`);
- draws the graph with matplotlib alone (:func:`draw_graph`): value boxes, operation
  circles, arrows, the inputs on the left and the loss on the right.

Names. The engine's tensors carry no names. Pass ``names``, a dict in either direction,
``{W: "W", b: "b"}`` or ``{"W": W, "b": b}`` (handy: ``names=dict(W=W, b=b)``); a tensor
given a ``.name`` attribute is also used. Unnamed nodes are labelled by their operation
and shape, unnamed scalar constants (the ``1`` of ``1 - p``) by their value.

Shapes follow the engine: a node's ``data`` and ``grad`` have the same shape, e.g.
W (P, 1).
"""
from __future__ import annotations

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
def _layout(nodes, align_leaves):
    """Columns and rows of the drawing.

    Items: ("v", node) a value box for every node, ("o", node) an operation circle for
    every node with inputs. A node of depth d has its value in column 2d and its
    operation in column 2d - 1; a leaf sits in column 0 if ``align_leaves``, else just
    left of its first user. Rows: barycentre ordering (each item near the mean row of
    its neighbours), a few sweeps.
    """
    depth = _depths(nodes)
    users = {id(n): [] for n in nodes}
    for n in nodes:
        for p in {id(q): q for q in n._prev}.values():
            users[id(p)].append(n)
    col = {}
    for n in nodes:
        if n._prev:
            col[("o", id(n))] = 2 * depth[id(n)] - 1
            col[("v", id(n))] = 2 * depth[id(n)]
        elif align_leaves or not users[id(n)]:
            col[("v", id(n))] = 0
        else:
            col[("v", id(n))] = 2 * (min(depth[id(u)] for u in users[id(n)]) - 1)
    # neighbours in the drawing: input value -> op, op -> its own value
    succ = {k: [] for k in col}
    pred = {k: [] for k in col}
    for n in nodes:
        if n._prev:
            for p in {id(q): q for q in n._prev}.values():
                succ[("v", id(p))].append(("o", id(n)))
                pred[("o", id(n))].append(("v", id(p)))
            succ[("o", id(n))].append(("v", id(n)))
            pred[("v", id(n))].append(("o", id(n)))
    n_cols = max(col.values()) + 1
    columns = [[] for _ in range(n_cols)]
    topo = {}
    for i, n in enumerate(nodes):
        topo[("v", id(n))] = 2 * i + 1
        topo[("o", id(n))] = 2 * i
    for k in sorted(col, key=topo.get):
        columns[col[k]].append(k)

    def rows_of(column):
        m = len(column)
        return {k: (m - 1) / 2 - i for i, k in enumerate(column)}

    row = {}
    for c in columns:
        row.update(rows_of(c))
    for _ in range(4):                                  # down then up sweeps
        for c_range, nbrs in ((range(n_cols), pred), (range(n_cols - 1, -1, -1), succ)):
            for c in c_range:
                def key(k):
                    ys = [row[j] for j in nbrs[k]]
                    return (-(sum(ys) / len(ys)) if ys else -row[k], topo[k])
                columns[c].sort(key=key)
                row.update(rows_of(columns[c]))
    return col, row, n_cols, max(len(c) for c in columns)


def _box_text(node, lookup, show_shape, show_values, show_grads, digits):
    lines = []
    name = _name_of(node, lookup)
    if name is not None:
        lines.append(name)
    elif not node._op and not node.requires_grad and node.data.size == 1:
        lines.append(_fmt_array(node.data, digits))     # a constant: its value names it
        return "\n".join(lines)
    if show_shape:
        lines.append(_fmt_shape(node.shape))
    if show_values:
        value = _fmt_array(node.data, digits, max_entries=3, one_line=False)
        lines.append(f"= {value}")
    if show_grads and node.grad is not None:
        lines.append(f"grad "
                     f"{_fmt_array(node.grad, digits, max_entries=3, one_line=False)}")
    return "\n".join(lines) if lines else " "


def draw_graph(output, names=None, show_values=False, show_grads=False,
               show_shapes=True, ax=None, title=None, align_leaves=False, digits=3,
               fontsize=9):
    """Draw the computational graph of ``output`` (an engine Tensor) with matplotlib.

    Value nodes are rounded boxes (labelled with the name from ``names`` if any, the
    shape, and optionally the value and the gradient); operations are circles (labelled
    with :data:`OP_SYMBOLS`); arrows go from inputs to operations to results. Columns
    follow the longest path from the leaves: inputs on the left, ``output`` on the
    right. Leaves that need a gradient (parameters) are drawn in a darker shade than
    constants.

    names: dict Tensor -> label or label -> Tensor (see the module docstring).
    show_values, show_grads: add the value / ``.grad`` (after ``backward()``) to each
    box (arrays with more than 3 entries are shown by shape only). ax: the Axes to draw
    on (a new figure sized to the graph if None). title: the Axes title. align_leaves:
    put every leaf in the first column (default: each leaf just left of the operation
    that first uses it, which keeps arrows short).

    Returns the Axes. Each node label is a Text with gid "value:<label>" or "op:<op>".
    """
    import matplotlib.pyplot as plt

    lookup = _name_lookup(names)
    nodes = graph_nodes(output)
    col, row, n_cols, n_rows = _layout(nodes, align_leaves)
    if ax is None:
        size = (max(4.0, 0.95 * n_cols + 1.0), max(2.0, 1.1 * n_rows + 0.8))
        _, ax = plt.subplots(figsize=size)
    artists = _draw_items(ax, output, nodes, col, row, lookup,
                          (show_shapes, show_values, show_grads, digits), fontsize)
    for n in nodes:
        if n._prev:
            for p in {id(q): q for q in n._prev}.values():
                src, dst = ("v", id(p)), ("o", id(n))
                _arrow(ax, artists, src, dst, _edge_style(col, row, src, dst))
            _arrow(ax, artists, ("o", id(n)), ("v", id(n)), "arc3,rad=0")

    ax.set_xlim(-0.6, n_cols - 0.4)
    half = max(0.5, (n_rows - 1) / 2) + 0.6
    ax.set_ylim(-half, half)
    ax.set_axis_off()
    ax.set_title(title if title is not None else "Computational graph")
    return ax


def _draw_items(ax, output, nodes, col, row, lookup, box_options, fontsize):
    """A circle for every operation, a box for every value; returns the Text artists by
    item."""
    by_id = {id(n): n for n in nodes}
    artists = {}
    for (kind, nid), c in sorted(col.items(), key=lambda kv: kv[1]):
        node, xy = by_id[nid], (c, row[(kind, nid)])
        if kind == "o":
            text = OP_SYMBOLS.get(node._op, node._op)
            style = dict(boxstyle="circle,pad=0.3", fc="#fde9c8", ec="#b5651d", lw=1.2)
            gid = f"op:{node._op}"
        else:
            text = _box_text(node, lookup, *box_options)
            leaf = not node._prev
            fc = ("#cfe2f3" if node.requires_grad else "#eeeeee") if leaf else "#ffffff"
            if node is output:
                fc = "#d9ead3"
            style = dict(boxstyle="round,pad=0.35", fc=fc,
                         ec="#3c4f76" if node.requires_grad else "#888888", lw=1.2)
            gid = f"value:{text.splitlines()[0]}"
        artists[(kind, nid)] = ax.text(*xy, text, ha="center", va="center",
                                       fontsize=fontsize, bbox=style, gid=gid, zorder=3)
    return artists


def _arrow(ax, artists, src, dst, style):
    ax.annotate("", xy=artists[dst].get_position(), xytext=artists[src].get_position(),
                arrowprops=dict(arrowstyle="-|>", color="#555555", lw=1.0, shrinkA=0,
                                shrinkB=0, patchA=artists[src].get_bbox_patch(),
                                patchB=artists[dst].get_bbox_patch(),
                                connectionstyle=style), zorder=4)


def _edge_style(col, row, src, dst):
    """How to route the edge src -> dst. An edge that skips columns is routed around the
    items in between: along the source's row and down (or up) into the operation if that
    row is free, else along the operation's row, else bowed away from the middle."""
    def free(r, c0, c1):
        """No item within 0.75 rows of row r in the columns strictly between c0 and
        c1."""
        return not any(c0 < col[k] < c1 and abs(row[k] - r) < 0.75 for k in col)

    (c0, r0), (c1, r1) = (col[src], row[src]), (col[dst], row[dst])
    if c1 - c0 <= 1 or r0 == r1 and free(r0, c0, c1):
        return "arc3,rad=0"
    if r0 != r1 and free(r0, c0, c1):
        return "angle,angleA=0,angleB=90,rad=8"
    if r0 != r1 and free(r1, c0, c1):
        return "angle,angleA=90,angleB=0,rad=8"
    return f"arc3,rad={-0.3 if r0 >= r1 else 0.3}"
