"""The autodiff engine against torch.autograd, op by op, on random shapes and values.

Each test runs the same expression through the engine and through torch in float64 and
compares values and gradients, with the tolerances of tests/conftest.py (float64 1e-7,
float32 1e-4, relative to the largest entry of the reference).
"""
import gc
import sys
import weakref

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from lecture_lib import autodiff as ad
from conftest import RTOL32, assert_close
from lecture_lib.autodiff import Tensor, no_grad

FAST = settings(max_examples=40, deadline=None)


def compare_with_torch(engine_fn, torch_fn, *arrays, seed=0):
    """Run f(*arrays) in both libraries, backpropagate the same random upstream gradient
    (so every output entry gets a different weight), and compare outputs and input
    gradients."""
    xs = [Tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out, tout = engine_fn(*xs), torch_fn(*ts)
    assert_close(out.data, tout)
    upstream = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(upstream)
    tout.backward(torch.tensor(upstream))
    for x, t in zip(xs, ts):
        assert x.grad is not None, "an input that requires grad got no gradient"
        assert_close(x.grad, t.grad)


def values(lo=-3.0, hi=3.0):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def away_from_zero():
    """Values with 0.5 <= |v| <= 3 (for divisors, where 1/v^2 must stay moderate)."""
    return st.builds(lambda s, m: s * m, st.sampled_from([-1.0, 1.0]), values(0.5, 3.0))


# ---- elementwise binary ops, with every broadcasting pattern -------------------------

BINARY = {"+": lambda a, b: a + b, "-": lambda a, b: a - b,
          "*": lambda a, b: a * b, "/": lambda a, b: a / b}


@FAST
@given(op=st.sampled_from(sorted(BINARY)),
       shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4),
       data=st.data())
def test_binary_ops_broadcast(op, shapes, data):
    # A failure means a wrong derivative or a gradient not summed back to the input's
    # shape (_unbroadcast), e.g. a bias (K,) added to (N, K), or (N, 1) * (1, K), or a
    # 0-d scalar.
    a = data.draw(hnp.arrays(np.float64, shapes.input_shapes[0], elements=values()))
    b = data.draw(hnp.arrays(np.float64, shapes.input_shapes[1],
                             elements=away_from_zero() if op == "/" else values()))
    compare_with_torch(BINARY[op], BINARY[op], a, b)


@pytest.mark.parametrize("shape_a, shape_b", [((5, 3), (3,)), ((5, 1), (1, 3)), ((4, 3), ()),
                                              ((), (2, 3)), ((2, 1, 3), (4, 1))])
@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary_ops_named_broadcasts(op, shape_a, shape_b):
    # The broadcasting patterns the book uses, named so a failure says which one is
    # wrong.
    rng = np.random.default_rng(1)
    a = rng.standard_normal(shape_a)
    b = rng.uniform(0.5, 2.0, shape_b) * rng.choice([-1, 1], shape_b)
    compare_with_torch(BINARY[op], BINARY[op], a, b)


@FAST
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), elements=values()),
       c=st.floats(-2, 2).filter(lambda c: abs(c) > 0.1))
def test_mixing_numbers_and_arrays(x, c):
    # Reflected operators (number on the left) and numpy arrays on the left: a failure
    # means numpy did not defer to the Tensor, or a reflected op has its operands
    # swapped.
    arr = np.full(x.shape, c)
    f = lambda t, a: (c - t) * c + c / (t * t + 1) + a * t - a / (t * t + 2) + t / c + (-t) ** 2
    compare_with_torch(lambda t: f(t, arr), lambda t: f(t, torch.tensor(arr)), x)


# ---- unary ops and functions ---------------------------------------------------------

UNARY = {  # name: (engine, torch, domain)
    "neg":     (lambda x: -x, lambda x: -x, values()),
    "pow2":    (lambda x: x ** 2, lambda x: x ** 2, values()),
    "pow3":    (lambda x: x ** 3, lambda x: x ** 3, values()),
    "pow0.5":  (lambda x: x ** 0.5, lambda x: x ** 0.5, values(0.1, 3)),
    "pow-1.5": (lambda x: x ** -1.5, lambda x: x ** -1.5, values(0.5, 3)),
    "exp":     (ad.exp, torch.exp, values()),
    "log":     (ad.log, torch.log, values(0.1, 5)),
    "relu":    (ad.relu, torch.relu, st.sampled_from([0.0, -1.5, 2.0]) | values()),  # incl. exact 0
    "sigmoid": (ad.sigmoid, torch.sigmoid, values(-30, 30)),
    "tanh":    (ad.tanh, torch.tanh, values()),
    "T":       (lambda x: x.T, lambda x: x.permute(*reversed(range(x.ndim))), values()),
    "reshape": (lambda x: x.reshape(-1), lambda x: x.reshape(-1), values()),
    "sum":     (lambda x: x.sum(), lambda x: x.sum(), values()),
    "mean":    (lambda x: x.mean(), lambda x: x.mean(), values()),
}


@FAST
@given(name=st.sampled_from(sorted(UNARY)), data=st.data())
def test_unary_ops(name, data):
    # A failure means that op's derivative (written under its forward) is wrong.
    engine_fn, torch_fn, domain = UNARY[name]
    shape = data.draw(hnp.array_shapes(min_dims=1 if name == "T" else 0, max_dims=2, max_side=5))
    compare_with_torch(engine_fn, torch_fn, data.draw(hnp.arrays(np.float64, shape, elements=domain)))


@FAST
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), elements=values()),
       data=st.data())
def test_reductions_along_axes(x, data):
    # sum/mean over one axis, several axes (negative ones too), with and without
    # keepdims: a failure means the gradient is broadcast back along the wrong axes.
    axes = data.draw(st.lists(st.integers(0, x.ndim - 1), min_size=1, max_size=x.ndim, unique=True))
    axis = tuple(a - x.ndim if data.draw(st.booleans()) else a for a in axes)
    keep = data.draw(st.booleans())
    compare_with_torch(lambda t: t.sum(axis=axis, keepdims=keep), lambda t: t.sum(dim=axis, keepdim=keep), x)
    compare_with_torch(lambda t: t.mean(axis=axis, keepdims=keep), lambda t: t.mean(dim=axis, keepdim=keep), x)


@FAST
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), elements=values(-20, 20)),
       data=st.data())
def test_log_softmax(x, data):
    # A failure means the log-softmax gradient g - softmax * sum(g) is wrong along some
    # axis.
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    compare_with_torch(lambda t: ad.log_softmax(t, axis=axis), lambda t: torch.log_softmax(t, dim=axis), x)


@FAST
@given(n=st.integers(1, 5), k=st.integers(1, 5), m=st.integers(1, 5),
       a_vec=st.booleans(), b_vec=st.booleans(), seed=st.integers(0, 2**16))
def test_matmul_2d_and_1d(n, k, m, a_vec, b_vec, seed):
    # dA = G B^T, dB = A^T G, with numpy's reading of 1-D operands (row on the left,
    # column on the right): a failure means a transposition or a 1-D case is wrong.
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k,) if a_vec else (n, k))
    b = rng.standard_normal((k,) if b_vec else (k, m))
    compare_with_torch(lambda x, y: x @ y, lambda x, y: x @ y, a, b)
    compare_with_torch(lambda x, y: x.T @ y.T, lambda x, y: x.T @ y.T,
                       rng.standard_normal((k, n)), rng.standard_normal((m, k)))


def test_getitem():
    # Slices and repeated fancy indices: a failure means a repeated row's gradient was
    # overwritten instead of added (np.add.at).
    x = np.random.default_rng(2).standard_normal((5, 4))
    for index in [(slice(1, 4), 2), ([0, 0, 3],), (slice(None), [1, 1, 2]), (np.array([True, False, True, False, True]),)]:
        compare_with_torch(lambda t: t[index], lambda t: t[index], x)


# ---- losses --------------------------------------------------------------------------

@FAST
@given(n=st.integers(1, 6), c=st.integers(2, 5), seed=st.integers(0, 2**16), scale=st.sampled_from([1.0, 10.0, 1e3]))
def test_softmax_cross_entropy(n, c, seed, scale):
    # The fused (softmax - onehot)/N gradient and the stable loss, up to logits of size
    # 1e3.
    rng = np.random.default_rng(seed)
    z, y = scale * rng.standard_normal((n, c)), rng.integers(0, c, n)
    compare_with_torch(lambda t: ad.softmax_cross_entropy(t, y),
                       lambda t: torch.nn.functional.cross_entropy(t, torch.tensor(y)), z)


@FAST
@given(shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=5), seed=st.integers(0, 2**16),
       scale=st.sampled_from([1.0, 10.0, 1e3]))
def test_binary_cross_entropy_with_logits(shape, seed, scale):
    # Loss and gradients in the logits z and in the targets y (soft targets in [0, 1]).
    rng = np.random.default_rng(seed)
    z, y = scale * rng.standard_normal(shape), rng.uniform(0, 1, shape)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    compare_with_torch(ad.binary_cross_entropy_with_logits, bce, z, y)


def test_losses_at_extreme_logits():
    # |z| = 1e3: a naive log(sigmoid(z)) or exp(z) overflows to inf/nan. Loss and
    # gradient must be finite and equal to torch's.
    z = np.array([[1e3, -1e3, 0.0], [-1e3, 1e3, 1e3], [1e3, 1e3, -1e3]])
    y = np.array([1, 0, 2])
    compare_with_torch(lambda t: ad.softmax_cross_entropy(t, y),
                       lambda t: torch.nn.functional.cross_entropy(t, torch.tensor(y)), z)
    zb, yb = np.array([1e3, -1e3, 1e3, -1e3, 0.0]), np.array([1.0, 0.0, 0.0, 1.0, 0.5])
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    compare_with_torch(lambda t: ad.binary_cross_entropy_with_logits(t, yb), lambda t: bce(t, torch.tensor(yb)), zb)
    for loss in (ad.softmax_cross_entropy(Tensor(z, requires_grad=True), y),
                 ad.binary_cross_entropy_with_logits(Tensor(zb, requires_grad=True), yb)):
        loss.backward()
        assert np.isfinite(loss.item()) and np.all(np.isfinite(loss._prev[0].grad))


def test_cross_entropy_rejects_bad_labels():
    # Labels out of 0..C-1, of the wrong length or not integers would index the wrong
    # entries silently (or raise an IndexError that does not say why); each must be a
    # clear error.
    z = Tensor(np.zeros((3, 4)), requires_grad=True)
    with pytest.raises(ValueError, match=r"0\.\.3"):
        ad.softmax_cross_entropy(z, [0, 4, 1])
    with pytest.raises(ValueError, match=r"0\.\.3"):
        ad.softmax_cross_entropy(z, [0, -1, 1])
    with pytest.raises(ValueError, match=r"\(3,\)"):
        ad.softmax_cross_entropy(z, [0, 1])
    with pytest.raises(TypeError, match="integer"):
        ad.softmax_cross_entropy(z, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        ad.softmax_cross_entropy(Tensor(np.zeros(4)), [0])


# ---- the graph: reuse, accumulation, no_grad, errors, depth, dtype -------------------

def test_reused_node():
    # x*x and a node feeding two branches: a failure means a gradient was overwritten
    # (=) instead of accumulated (+=), the bug of early tinygrad.
    x = np.random.default_rng(3).standard_normal((4, 3))
    w = np.random.default_rng(4).standard_normal((3,))
    compare_with_torch(lambda t: t * t, lambda t: t * t, x)

    def branches(lib_relu, lib_tanh):
        def f(t, v):
            a = t * v                      # a feeds three uses below
            return (lib_relu(a) + lib_tanh(a)) * a - a.sum(axis=0)
        return f
    compare_with_torch(branches(ad.relu, ad.tanh), branches(torch.relu, torch.tanh), x, w)


def test_every_node_keeps_its_gradient():
    # The book tabulates every node's gradient; compare intermediates with torch's
    # retain_grad.
    rng = np.random.default_rng(5)
    X, W, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    Wt, bt = Tensor(W, requires_grad=True), Tensor(b, requires_grad=True)
    q = Tensor(X) @ Wt + bt
    h = ad.tanh(q)
    L = (h * h).mean()
    L.backward()
    Wtt, btt = torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)
    qt = torch.tensor(X) @ Wtt + btt
    ht = torch.tanh(qt)
    qt.retain_grad(), ht.retain_grad()
    (ht * ht).mean().backward()
    assert_close(q.grad, qt.grad), assert_close(h.grad, ht.grad), assert_close(Wt.grad, Wtt.grad)


def test_gradients_accumulate_over_backward_calls():
    # Like torch: leaf gradients add up over backward() calls (until zero_grad), on the
    # same graph and on a new one; an intermediate holds only the latest pass's
    # gradient.
    x0 = np.array([0.5, -1.0, 2.0])
    x = Tensor(x0, requires_grad=True)
    y = ad.tanh(x) * x
    L = y.sum()
    L.backward()
    once = x.grad.copy()
    L.backward()
    assert_close(x.grad, 2 * once)
    np.testing.assert_array_equal(y.grad, np.ones(3))      # not 2: a fresh pass
    (ad.tanh(x) * x).sum().backward()
    assert_close(x.grad, 3 * once)
    xt = torch.tensor(x0, requires_grad=True)
    Lt = (torch.tanh(xt) * xt).sum()
    Lt.backward(retain_graph=True), Lt.backward()
    assert_close(x.grad / 3, xt.grad / 2)
    x.zero_grad()
    assert x.grad is None


def test_no_grad_builds_no_graph():
    # Inside no_grad, results must not require grad nor hold their inputs (no graph, no
    # memory); the previous state must come back afterwards, even after an exception.
    w = Tensor(np.ones(3), requires_grad=True)
    with no_grad():
        y = ad.relu(w * 2 + 1).sum()
    assert not y.requires_grad and y._prev == () and y._op == ""
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()
    with pytest.raises(ZeroDivisionError):
        with no_grad():
            raise ZeroDivisionError
    assert (w * 2).requires_grad


def test_finished_graph_is_freed_at_once():
    # With the cycle collector off, a graph must be freed as soon as the loss is
    # dropped: a backward rule that referred to its own output would make a reference
    # cycle, and every training step's activations would pile up in memory until the
    # collector ran (gigabytes for full-batch MNIST). Under no_grad, an output must not
    # keep its inputs alive either.
    gc.disable()
    try:
        x = Tensor(np.ones(3), requires_grad=True)
        h = ad.tanh(x * 2)
        loss = (h * h).sum()
        loss.backward()
        ref = weakref.ref(h)
        del h, loss
        assert ref() is None, "a finished graph stayed alive"
        with no_grad():
            a = x * 2
            ref = weakref.ref(a)
            y = ad.relu(a)
            del a
        assert ref() is None and y.data.shape == (3,), "a no_grad output kept its input alive"
    finally:
        gc.enable()


def test_requires_grad_only_if_some_input_does():
    # An op on constants must build no graph (no _prev, no gradient work in backward).
    a, b = Tensor(np.ones(3)), Tensor(np.ones(3), requires_grad=True)
    assert not (a * a).requires_grad and (a * a)._prev == ()
    c = a * b + a
    assert c.requires_grad
    c.sum().backward()
    assert a.grad is None and b.grad is not None


def test_non_scalar_backward_needs_a_gradient():
    # backward() on a (2, 3) output has no natural seed: the error must say so and give
    # the shape.
    y = Tensor(np.ones((2, 3)), requires_grad=True) * 2
    with pytest.raises(ValueError, match=r"scalar.*\(2, 3\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"\(3,\)"):
        y.backward(np.ones(3))


def test_deep_chain_needs_no_recursion():
    # 5,000 ops deep (above Python's default recursion limit of 1,000): a recursive
    # topological sort would raise RecursionError. d/dx of x * 1.001^n is 1.001^n.
    n = 5000
    assert n > sys.getrecursionlimit()
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.001
    y.backward()
    assert_close(x.grad, 1.001 ** n)
    del y  # freeing the chain must not crash either


def test_float32_preserved_through_mlp():
    # A float32 network must stay float32 in every node and gradient: one float64 upcast
    # (a 0-d float64 constant, a float64 seed) would double the cost of every later op.
    from lecture_lib import nn, optim
    rng = np.random.default_rng(6)
    model = nn.mlp([8, 5, 3], rng=0, dtype=np.float32)
    X, y = rng.random((7, 8), dtype=np.float32), rng.integers(0, 3, 7)
    z = model(X)
    loss = ad.softmax_cross_entropy(z, y) + 1e-3 * (model[0].W ** 2).sum() / 2.0 - np.float64(0.5)
    loss.backward()
    nodes, stack = [], [loss]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node._prev)
    assert len(nodes) > 10
    for node in nodes:
        assert node.dtype == np.float32, f"node {node._op or 'leaf'} is {node.dtype}"
        if node.requires_grad:
            assert node.grad.dtype == np.float32, f"grad of node {node._op or 'leaf'} is {node.grad.dtype}"
    # the float32 forward agrees with a float64 torch computation of the same network
    tz = nn.to_torch(model).double()(torch.tensor(X, dtype=torch.float64))
    assert_close(z.data, tz, RTOL32)
    optim.Adam(model.parameters(), lr=1e-3).step()
    assert all(p.dtype == np.float32 for p in model.parameters()), "Adam upcast a parameter"


def test_repr_is_readable():
    # The book prints tensors: no memory address, dtype and op shown.
    r = repr(Tensor(np.ones(2, np.float32), requires_grad=True) * 2)
    assert "0x" not in r and "float32" in r and "'*'" in r
    assert repr(Tensor([1, 2])) == "Tensor([1., 2.])"
