"""lecture_lib.graph: walking, tabulating and drawing the engine's computational graphs."""
import matplotlib

matplotlib.use("Agg")   # headless: the book is built and tested without a display

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.text import Annotation

from lecture_lib import twolayer
from lecture_lib.autodiff import Tensor, binary_cross_entropy_with_logits, log, relu, sigmoid
from lecture_lib.graph import (chain_table, draw_graph, graph_edges, graph_nodes,
                               local_gradient, node_table)


def logistic_graph():
    """The lecture's logistic regression with the loss written out op by op."""
    x = Tensor([1.0, 2.0])
    W = Tensor([[0.5], [0.25]], requires_grad=True)
    b = Tensor(-1.0, requires_grad=True)
    y = Tensor(1.0)
    z = x @ W + b                                  # nodes: x@W, z
    p = sigmoid(z)
    L = -(y * log(p) + (1 - y) * log(1 - p))       # 1 - y is a constant: no graph is built for it
    return dict(x=x, W=W, b=b, y=y, z=z, p=p, L=L)


def reuse_graph():
    x = Tensor(3.0, requires_grad=True)
    y = Tensor(-2.0, requires_grad=True)
    f = x * y + x
    return dict(x=x, y=y, f=f)


def node_labels(ax):
    return [t for t in ax.texts if not isinstance(t, Annotation) and (t.get_gid() or "")[:2] in ("va", "op")]


def test_counts_of_a_known_expression():
    # f = x*y + x: leaves x, y; ops * and +. Edges: x->*, y->*, x->+, (x*y)->+.
    # A wrong count means a reused node was listed twice or an edge was lost.
    g = reuse_graph()
    assert len(graph_nodes(g["f"])) == 4
    assert len(graph_edges(g["f"])) == 4


def test_logistic_graph_counts():
    g = logistic_graph()
    nodes = graph_nodes(g["L"])
    ops = [n._op for n in nodes if n._op]
    # x@W, +b, sigmoid, log, y*, 1-p, log, (1-y)*, +, neg
    assert sorted(ops) == sorted(["@", "+", "sigmoid", "log", "*", "-", "log", "*", "+", "neg"])
    # leaves: x, W, b, y, the constant 1 of 1 - p, the constant 1 - y
    assert sum(1 for n in nodes if not n._prev) == 6
    # @: 2, +b: 2, sigmoid: 1, log: 1, y*: 2, 1-p: 2, log: 1, (1-y)*: 2, +: 2, neg: 1
    assert len(graph_edges(g["L"])) == 16


def test_same_input_twice_in_one_op_is_one_edge():
    x = Tensor(2.0, requires_grad=True)
    f = x * x
    assert len(graph_nodes(f)) == 2 and len(graph_edges(f)) == 1
    assert local_gradient(f, x) == pytest.approx(4.0)     # the two uses add up: 2x


def test_topological_order():
    # Every node comes after all its inputs, the output last, each node once.
    params = twolayer.init_params(5, 4, 3, rng=0)
    t = {k: Tensor(v, requires_grad=True) for k, v in params.items()}
    X = Tensor(np.random.default_rng(1).normal(size=(6, 5)))
    z = relu(relu(X @ t["W1"] + t["b1"]) @ t["W2"] + t["b2"]) @ t["beta"] + t["a"]
    L = binary_cross_entropy_with_logits(z, Tensor(np.array([0, 1, 0, 1, 1, 0.0])))
    order = graph_nodes(L)
    position = {id(n): i for i, n in enumerate(order)}
    assert len(position) == len(order)
    assert order[-1] is L
    for n in order:
        for p in n._prev:
            assert position[id(p)] < position[id(n)]
    assert sum(1 for n in order if not n._prev) == 8      # X, y and the six parameters


def test_local_gradients_and_chain_table():
    g = logistic_graph()
    g["L"].backward()
    # z = 0, p = 1/2: dL/dp = -1/p = -2, dp/dz = p(1-p) = 1/4, dL/dz = p - y = -1/2
    assert local_gradient(g["p"], g["z"]).item() == pytest.approx(0.25)
    assert g["z"].grad.item() == pytest.approx(-0.5)
    np.testing.assert_allclose(local_gradient(g["z"]._prev[0], g["W"]), [[1.0], [2.0]])
    # local_gradient restores every .grad it touched
    np.testing.assert_allclose(g["W"].grad, [[-0.5], [-1.0]])
    table = chain_table(g["L"], g)
    assert list(table.columns) == ["gradient of", "through", "local gradient", "upstream", "= gradient"]
    rows = table[table["gradient of"] == "p"]
    assert len(rows) == 2        # p feeds log(p) and 1 - p: two contributions that add up
    row_z = table[table["gradient of"] == "z"].iloc[0]
    assert (row_z["local gradient"], row_z["upstream"], row_z["= gradient"]) == ("0.25", "-2", "-0.5")


def test_node_table_values_and_grads():
    g = reuse_graph()
    g["f"].backward()
    table = node_table(g["f"], g).set_index("node")
    assert table.loc["x", "gradient dL/dnode"] == "-1"      # y + 1 = -2 + 1: both uses add up
    assert table.loc["y", "gradient dL/dnode"] == "3"
    assert table.loc["f", "value"] == "-3"


def test_names_in_both_directions():
    g = reuse_graph()
    by_tensor = node_table(g["f"], {v: k for k, v in g.items()})
    by_name = node_table(g["f"], g)
    assert by_tensor.equals(by_name)
    with pytest.raises(TypeError):
        node_table(g["f"], {"x": 3.0})


def test_chain_table_needs_backward():
    with pytest.raises(ValueError, match="backward"):
        chain_table(reuse_graph()["f"])


def test_draw_headless_returns_axes_with_one_label_per_node():
    g = logistic_graph()
    g["L"].backward()
    ax = draw_graph(g["L"], g, show_values=True, show_grads=True, title="logistic regression")
    nodes = graph_nodes(g["L"])
    n_ops = sum(1 for n in nodes if n._prev)
    labels = node_labels(ax)
    assert len(labels) == len(nodes) + n_ops           # a box per node, a circle per operation
    assert sum(1 for t in labels if t.get_gid().startswith("op:")) == n_ops
    assert ax.get_title() == "logistic regression"
    arrows = [t for t in ax.texts if isinstance(t, Annotation)]
    assert len(arrows) == len(graph_edges(g["L"])) + n_ops
    ax.figure.canvas.draw()                             # the arrows clip against the boxes at draw time
    plt.close(ax.figure)


def test_draw_on_given_axes_and_layout_bottom_to_top():
    # The lecture reads its graphs "From the bottom of the graph to the top": leaves at
    # the bottom, the output at the top, every operation above its inputs.
    g = reuse_graph()
    fig, ax = plt.subplots()
    assert draw_graph(g["f"], g, ax=ax) is ax
    x_of = {t.get_gid(): t.get_position()[0] for t in node_labels(ax)}
    y_of = {t.get_gid(): t.get_position()[1] for t in node_labels(ax)}
    assert y_of["value:x"] < y_of["op:*"] < y_of["op:+"]
    assert y_of["value:y"] < y_of["op:*"]
    # an operation's circle sits just left of its result's box, on the same level
    assert y_of["op:+"] == y_of["value:f"] and x_of["op:+"] < x_of["value:f"]
    plt.close(fig)


def drawn_boxes(ax):
    """The window extents (pixels) of every box and circle, after a draw."""
    ax.figure.canvas.draw()
    return [t.get_bbox_patch().get_window_extent() for t in node_labels(ax)]


@pytest.mark.parametrize("options", [dict(), dict(show_values=True, show_grads=True,
                                                  show_shapes=False)])
def test_drawing_fits_the_column_with_legible_text(options):
    # The logistic loss with every value and gradient (chapter 2's figure): a new
    # figure no wider than the column, about 8 in tall at most, text at 9 pt or more,
    # and no box or circle overlapping another (else values hide each other).
    from lecture_lib.plotting import COLUMN_IN, TEXT_PT
    g = logistic_graph()
    g["L"].backward()
    names = {k: v for k, v in g.items() if k != "y"}
    ax = draw_graph(g["L"], names, title="the logistic loss", **options)
    width, height = ax.figure.get_size_inches()
    assert width <= COLUMN_IN and height <= 8.5, (width, height)
    assert all(t.get_fontsize() >= TEXT_PT for t in node_labels(ax))
    boxes = drawn_boxes(ax)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (a, b)
    fig_box = ax.figure.bbox
    assert all(fig_box.x0 <= b.x0 and b.x1 <= fig_box.x1 and fig_box.y0 <= b.y0
               and b.y1 <= fig_box.y1 for b in boxes), "a box is cut off at the edge"
    plt.close(ax.figure)


def test_values_in_boxes_and_the_leaves_drawn_apart():
    # A (2, 1) column is written as a transposed row with a true minus; a parameter
    # has a solid border, a constant a dashed one (not colour alone).
    g = logistic_graph()
    g["L"].backward()
    ax = draw_graph(g["L"], g, show_values=True, show_grads=True, show_shapes=False)
    text = {t.get_gid(): t for t in node_labels(ax)}
    assert text["value:W"].get_text() == ("W\n= [0.5, 0.25]\u1d40\n"
                                          "grad [\u22120.5, \u22121]\u1d40")
    assert text["value:W"].get_bbox_patch().get_linestyle() == "-"
    assert text["value:y"].get_bbox_patch().get_linestyle() == "--"
    plt.close(ax.figure)


def test_too_small_text_and_too_wide_graphs_are_refused_or_flagged():
    g = reuse_graph()
    with pytest.raises(ValueError, match="9 pt"):
        draw_graph(g["f"], g, fontsize=7)
    wide = sum((Tensor(float(i), requires_grad=True) for i in range(12)),
               Tensor(0.0))
    leaves = {f"a long leaf name {i}": n for i, n in enumerate(graph_nodes(wide))
              if not n._prev}
    with pytest.warns(UserWarning, match="wider than the book's column"):
        ax = draw_graph(wide * wide, leaves, align_leaves=True)
    plt.close(ax.figure)
