"""Every operation of the engine against torch: forward and backward, on random shapes.

tinygrad's ``test_ops.py`` and minitorch's property tests, in the book's style. For each
operation of :mod:`lecture_lib.autodiff` (and the layers of :mod:`lecture_lib.nn`),
hypothesis draws shapes (0-d and empty ones, both directions of broadcasting) and
entries (moderate numbers mixed with 0, -0, the operation's own edge points and, in half
the examples, inf, -inf and nan); the engine and torch compute the same expression in
the same dtype (float32 or float64), one random upstream gradient goes back through
both, and the output and every input's gradient are compared:

- where torch's entry is nan, inf or -inf, the engine's must be the same;
- the finite entries agree to RTOL64 (float64) or RTOL32 (float32), relative to the
  largest finite entry of torch's or to FLOOR, whichever is larger (tests/conftest.py
  says why);
- the engine's output and gradients keep the inputs' dtype.

The one place the engine differs from torch on purpose, ``x ** 0.5`` and ``x ** -0.5``
at x = -0 and x = -inf (numpy's power against torch's sqrt), has its own test. The
examples are derandomized: every run draws the same ones.
"""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from conftest import FLOOR, RTOL32, RTOL64, assert_close
from lecture_lib import autodiff as ad, nn
from lecture_lib.autodiff import Tensor

SOME = settings(max_examples=60, deadline=None, derandomize=True, database=None)
FEW = settings(max_examples=25, deadline=None, derandomize=True, database=None)
DTYPES = st.sampled_from([np.float32, np.float64])
NONFINITE = [np.inf, -np.inf, np.nan]


# ---- the comparison ------------------------------------------------------------------

def assert_matches(actual, expected, dtype):
    """The engine's array against torch's: same shape and dtype, nan and +-inf at the
    same entries, the finite entries within the dtype's tolerance."""
    assert actual is not None, "an input that requires grad got no gradient"
    expected = expected.detach().numpy()
    assert actual.dtype == dtype, f"dtype {actual.dtype}, expected {np.dtype(dtype)}"
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(actual[~finite], expected[~finite],
                                  err_msg="nan or +-inf where torch has another value")
    rtol = RTOL64 if dtype == np.float64 else RTOL32
    assert_close(actual[finite], expected[finite], rtol, floor=FLOOR)


def check(engine_fn, torch_fn, arrays, dtype, constant=(), upstream=None):
    """Compute ``engine_fn`` and ``torch_fn`` on ``arrays`` (in ``dtype``), propagate
    the same upstream gradient (random unless given), compare output and gradients.

    Arrays whose index is in ``constant`` need no gradient: the engine gets them as
    numpy arrays, so reflected operators (``ndarray + Tensor``) are exercised too.
    """
    arrays = [np.asarray(a, dtype) for a in arrays]
    xs = [a if i in constant else Tensor(a, requires_grad=True)
          for i, a in enumerate(arrays)]
    ts = [torch.from_numpy(a.copy()).requires_grad_(i not in constant)
          for i, a in enumerate(arrays)]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # nan, inf: what is tested
        out = engine_fn(*xs)
        if upstream is None:
            upstream = np.random.default_rng(0).standard_normal(out.shape)
        upstream = np.asarray(upstream, dtype)
        out.backward(upstream)
    tout = torch_fn(*ts)
    tout.backward(torch.from_numpy(upstream.copy()))
    assert_matches(out.data, tout, dtype)
    for x, t in zip(xs, ts):
        if t.requires_grad:
            assert_matches(x.grad, t.grad, dtype)


def entries(*edges, nonfinite=True, lo=-3.0, hi=3.0):
    """Array entries: a moderate number in [lo, hi] three times in four, otherwise 0,
    -0, one of the operation's ``edges`` or (if ``nonfinite``) inf, -inf, nan. The
    numbers are float32 ones, so both dtypes see the same values."""
    moderate = st.floats(lo, hi, width=32)
    points = [0.0, -0.0, *edges] + (NONFINITE if nonfinite else [])
    return st.one_of(moderate, moderate, moderate, st.sampled_from(points))


def shapes(min_dims=0, max_dims=3, min_side=0):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=4)


def arrays(data, shape, *edges, nonfinite=True, lo=-3.0, hi=3.0):
    elements = entries(*edges, nonfinite=nonfinite, lo=lo, hi=hi)
    return data.draw(hnp.arrays(np.float64, shape, elements=elements))


# ---- elementwise binary operations, broadcast both ways ------------------------------

BINARY = {"+": lambda a, b: a + b, "-": lambda a, b: a - b,
          "*": lambda a, b: a * b, "/": lambda a, b: a / b}


@SOME
@given(op=st.sampled_from(sorted(BINARY)), dtype=DTYPES, nonfinite=st.booleans(),
       shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, min_side=0,
                                                max_side=3),
       constant=st.sampled_from([(), (0,), (1,)]), data=st.data())
def test_binary_ops(op, dtype, nonfinite, shapes, constant, data):
    # +, -, *, / and, with a numpy array on the left, their reflected forms (__radd__,
    # __rsub__, __rmul__, __rtruediv__), on shapes that broadcast either operand (or
    # both, or neither; 0-d and empty ones included) and on 0, -0, inf and nan (a / 0).
    # A failure means a wrong local gradient, a gradient not summed back to its input's
    # shape (_unbroadcast), a constant taking the wrong dtype, or a nan or inf where
    # torch has a number (or the reverse).
    a, b = (arrays(data, s, nonfinite=nonfinite) for s in shapes.input_shapes)
    check(BINARY[op], BINARY[op], [a, b], dtype, constant)


@FEW
@given(op=st.sampled_from(sorted(BINARY)), dtype=DTYPES, shape=shapes(),
       c=st.sampled_from([2.0, -0.5, 0.0, np.inf]), left=st.booleans(), data=st.data())
def test_binary_ops_with_a_python_number(op, dtype, shape, c, left, data):
    # Tensor op number and number op Tensor: the number takes the tensor's dtype. A
    # failure means a reflected operator swapped its operands, or a number upcast a
    # float32 tensor.
    x = arrays(data, shape)
    f = (lambda t: BINARY[op](c, t)) if left else (lambda t: BINARY[op](t, c))
    check(f, f, [x], dtype)


@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary_ops_mixing_float32_and_float64(op):
    # A float32 tensor with a float64 one: the result is float64 (numpy's and torch's
    # promotion), and each input's gradient comes back in that input's dtype (add_grad
    # casts it), as torch's does. A failure means a float64 gradient reached a float32
    # parameter, or the values differ.
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 1)), rng.uniform(0.5, 2.0, 4)
    xa = Tensor(a.astype(np.float32), requires_grad=True)
    xb = Tensor(b, requires_grad=True)
    ta = torch.from_numpy(a.astype(np.float32)).requires_grad_()
    tb = torch.from_numpy(b).requires_grad_()
    out, tout = BINARY[op](xa, xb), BINARY[op](ta, tb)
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    tout.backward(torch.from_numpy(upstream))
    assert_matches(out.data, tout, np.float64)
    assert_matches(xa.grad, ta.grad, np.float32)
    assert_matches(xb.grad, tb.grad, np.float64)


# ---- elementwise functions and powers ------------------------------------------------

UNARY = {  # name: (engine, torch, edge points of the operation)
    "neg": (lambda x: -x, torch.neg, ()),
    "relu": (ad.relu, torch.relu, ()),
    "sigmoid": (ad.sigmoid, torch.sigmoid, (30.0, -30.0, 100.0, -100.0, 1e3, -1e3)),
    "tanh": (ad.tanh, torch.tanh, (20.0, -20.0, 1000.0, -1000.0)),
    "exp": (ad.exp, torch.exp, (80.0, 100.0, 1000.0, -100.0, -1000.0)),
    "log": (ad.log, torch.log, (1e-30, 1.0, -1.0, 1e30)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@SOME
@given(dtype=DTYPES, shape=shapes(), nonfinite=st.booleans(), data=st.data())
def test_elementwise_functions(name, dtype, shape, nonfinite, data):
    # relu at the kink 0, sigmoid and tanh saturated, exp overflowing (80 is finite in
    # float32, 100 is not; 1000 overflows float64), log at 0 (-inf), below 0 (nan) and
    # at 1e-30. A failure means a wrong derivative, an overflow where torch has none (an
    # unstable sigmoid), or a nan or inf where torch has a number.
    engine_fn, torch_fn, edges = UNARY[name]
    x = arrays(data, shape, *edges, nonfinite=nonfinite)
    check(engine_fn, torch_fn, [x], dtype)


EXPONENTS = [0, 1, 2, 3, -1, -2, 0.5, -0.5, 1.5, -1.5, 1 / 3, 2.0, -3.0]


@SOME
@given(c=st.sampled_from(EXPONENTS), dtype=DTYPES, shape=shapes(),
       nonfinite=st.booleans(), data=st.data())
def test_pow(c, dtype, shape, nonfinite, data):
    # x ** c for integer and fractional, positive and negative c, at x = 0 (0 ** -1 is
    # inf, 0 ** 0.5 has an infinite slope, x ** 0 has slope 0 everywhere), negative x
    # with a fractional c (nan) and large x. A failure means a wrong c x^(c-1), a nan or
    # inf where torch has a number, or an int exponent that changed the dtype.
    x = arrays(data, shape, 1e-3, 100.0, -100.0, nonfinite=nonfinite)
    if c in (0.5, -0.5):       # -0 and -inf: numpy's power, not torch's sqrt (own test)
        x = np.where(np.signbit(x) & ((x == 0) | np.isinf(x)), -x, x)
    check(lambda t: t ** c, lambda t: t ** c, [x], dtype)


def test_pow_half_at_minus_zero_and_minus_inf_is_numpys():
    # The one documented difference (Tensor.__pow__): for c = +-0.5 torch computes sqrt
    # and 1/sqrt, so at x = -0 and -inf its signs of infinity and its nans differ from
    # numpy's power, which the engine computes. A failure means the engine no longer
    # computes numpy's x ** c and c x ** (c - 1) there, or torch changed and the
    # docstring is out of date.
    x0 = np.array([-0.0, -np.inf])
    with np.errstate(all="ignore"):
        for c in (0.5, -0.5):
            x = Tensor(x0, requires_grad=True)
            y = x ** c
            y.backward(np.ones(2))
            np.testing.assert_array_equal(y.data, np.power(x0, c))
            np.testing.assert_array_equal(x.grad, c * np.power(x0, c - 1))
            t = torch.tensor(x0, requires_grad=True)
            (ty := t ** c).backward(torch.ones(2))
            same = [np.array_equal(a, b.detach().numpy(), equal_nan=True)
                    for a, b in [(y.data, ty), (x.grad, t.grad)]]
            assert not all(same), f"torch now agrees for c = {c}: update the docstring"


# ---- the matrix product --------------------------------------------------------------

@SOME
@given(n=st.integers(0, 4), k=st.integers(0, 4), m=st.integers(0, 4),
       left_vector=st.booleans(), right_vector=st.booleans(), dtype=DTYPES,
       nonfinite=st.booleans(), constant=st.sampled_from([(), (0,), (1,)]),
       data=st.data())
def test_matmul(n, k, m, left_vector, right_vector, dtype, nonfinite, constant, data):
    # (n, k) @ (k, m) with either side 1-D (a row on the left, a column on the right,
    # as numpy reads them; both 1-D gives a 0-d dot product), empty sides (k = 0 sums
    # nothing: zeros), inf and nan, and a numpy array on the left (__rmatmul__). A
    # failure means dA = G B^T or dB = A^T G is transposed, or a 1-D case is reshaped
    # wrongly.
    a = arrays(data, (k,) if left_vector else (n, k), nonfinite=nonfinite)
    b = arrays(data, (k,) if right_vector else (k, m), nonfinite=nonfinite)
    check(lambda x, y: x @ y, lambda x, y: x @ y, [a, b], dtype, constant)


def test_matmul_rejects_0d_and_3d_operands():
    # torch broadcasts batches of matrices; the engine has 1-D and 2-D only, and must
    # say so with both shapes instead of failing later in backward.
    for a, b in [(np.ones(()), np.ones(3)), (np.ones((2, 3, 4)), np.ones((4, 2)))]:
        with pytest.raises(ValueError, match=r"1-D and 2-D.*\(.*\) and \(.*\)"):
            Tensor(a, requires_grad=True) @ Tensor(b)


# ---- transpose, reshape, indexing ----------------------------------------------------

@FEW
@given(dtype=DTYPES, shape=shapes(max_dims=4), data=st.data())
def test_transpose(dtype, shape, data):
    # .T reverses all axes (numpy's meaning; 0-d and 1-D unchanged). A failure means the
    # gradient is not transposed back.
    x = arrays(data, shape)
    reverse = tuple(reversed(range(len(shape))))
    check(lambda t: t.T, lambda t: t.permute(reverse), [x], dtype)


@SOME
@given(dtype=DTYPES, shape=shapes(), ones=st.integers(0, 2), data=st.data())
def test_reshape(dtype, shape, ones, data):
    # To any shape of the same size: the sides permuted, 1s inserted or dropped, one
    # side given as -1, a size-1 array to 0-d, empty arrays. A failure means the
    # gradient does not get the input's shape back.
    x = arrays(data, shape)
    new = [n for n in data.draw(st.permutations(list(shape) + [1] * ones))
           if n != 1 or data.draw(st.booleans())]
    if x.size and new and data.draw(st.booleans()):
        new[data.draw(st.integers(0, len(new) - 1))] = -1
    check(lambda t: t.reshape(*new), lambda t: t.reshape(new), [x], dtype)
    check(lambda t: t.reshape(tuple(new)), lambda t: t.reshape(new), [x], dtype)


def index_strategy(shape):
    """numpy indices: basic ones (integers, slices with any step, Ellipsis, None),
    integer arrays (repeated entries included) and boolean masks."""
    masks = hnp.arrays(np.bool_, shape)
    return st.one_of(hnp.basic_indices(shape, allow_newaxis=True),
                     hnp.integer_array_indices(shape) if shape and all(shape)
                     else st.nothing(),
                     masks if shape else st.nothing())


@SOME
@given(dtype=DTYPES, shape=shapes(), data=st.data())
def test_getitem(dtype, shape, data):
    # Any numpy index. torch indexes the flat positions numpy's index selects (torch
    # has no negative steps), with torch's own gradient for gathered entries. A failure
    # means a repeated entry's gradient was overwritten instead of added (np.add.at), or
    # an index form is scattered back to the wrong place.
    x = arrays(data, shape, nonfinite=False)
    index = data.draw(index_strategy(shape))
    positions = torch.from_numpy(np.array(np.arange(x.size).reshape(shape)[index]))
    check(lambda t: t[index], lambda t: t.reshape(-1)[positions], [x], dtype)


# ---- reductions ----------------------------------------------------------------------

def axis_strategy(ndim):
    """None, one axis (negative ones too), or a tuple of distinct axes. A 0-d array has
    numpy's (and torch's) axes 0 and -1."""
    if ndim == 0:
        return st.sampled_from([None, 0, -1])
    one = st.integers(-ndim, ndim - 1)
    several = st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True)
    return st.none() | one | several.map(tuple)


@SOME
@given(reduction=st.sampled_from(["sum", "mean"]), dtype=DTYPES, shape=shapes(),
       keepdims=st.booleans(), nonfinite=st.booleans(), data=st.data())
def test_sum_and_mean(reduction, dtype, shape, keepdims, nonfinite, data):
    # Over everything, one axis or several, with and without keepdims, of 0-d arrays
    # (axis 0 and -1: the issue-21 cases) and empty ones (the mean of no numbers is
    # nan, as in torch). A failure means the gradient is broadcast back along the wrong
    # axes, or the mean divides by the wrong count.
    x = arrays(data, shape, 1000.0, nonfinite=nonfinite)
    axis = data.draw(axis_strategy(len(shape)))
    dims = tuple(range(len(shape))) if axis is None else axis

    def engine_fn(t):
        return getattr(t, reduction)(axis=axis, keepdims=keepdims)

    def torch_fn(t):
        return getattr(t, reduction)(dim=dims, keepdim=keepdims)
    check(engine_fn, torch_fn, [x], dtype)


# ---- softmax and losses --------------------------------------------------------------

@SOME
@given(dtype=DTYPES, shape=shapes(), nonfinite=st.booleans(), data=st.data())
def test_log_softmax(dtype, shape, nonfinite, data):
    # Along any axis, with logits of +-1000 (the shift by the maximum keeps them
    # finite), 0-d and empty arrays. A failure means g - softmax * sum(g) is wrong along
    # some axis, or a large logit overflowed.
    x = arrays(data, shape, 1000.0, -1000.0, nonfinite=nonfinite, lo=-20.0, hi=20.0)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1) if shape
                     else st.sampled_from([0, -1]))
    check(lambda t: ad.log_softmax(t, axis=axis), lambda t: torch.log_softmax(t, axis),
          [x], dtype)


def test_log_softmax_over_an_empty_axis():
    # torch returns an empty (3, 0) result; a maximum taken without an initial value
    # raises numpy's "zero-size array to reduction operation maximum".
    check(ad.log_softmax, lambda t: torch.log_softmax(t, -1), [np.zeros((3, 0))],
          np.float64)


@SOME
@given(n=st.integers(0, 5), c=st.integers(1, 5), dtype=DTYPES, nonfinite=st.booleans(),
       data=st.data())
def test_softmax_cross_entropy(n, c, dtype, nonfinite, data):
    # The fused loss and its (softmax - onehot)/N gradient, with logits of +-1000, one
    # class, an empty batch (nan, as torch), inf and nan logits. A failure means a wrong
    # fused gradient, a wrong 1/N, or an overflow.
    z = arrays(data, (n, c), 1000.0, -1000.0, nonfinite=nonfinite, lo=-20.0, hi=20.0)
    y = np.asarray(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)),
                   dtype=np.int64)
    check(lambda t: ad.softmax_cross_entropy(t, y),
          lambda t: F.cross_entropy(t, torch.from_numpy(y)), [z], dtype)


@SOME
@given(dtype=DTYPES, shape=shapes(), nonfinite=st.booleans(),
       constant=st.sampled_from([(), (1,)]), data=st.data())
def test_binary_cross_entropy_with_logits(dtype, shape, nonfinite, constant, data):
    # Loss and gradients in the logits z (+-100, +-1000, inf, nan) and in soft targets y
    # in [0, 1] (when they require a gradient), 0-d and empty (nan) inputs. A failure
    # means a wrong (sigmoid(z) - y)/n or -z/n, an overflow at a large logit, or a nan
    # or inf where torch has a number.
    z = arrays(data, shape, 100.0, -100.0, 1000.0, -1000.0, nonfinite=nonfinite,
               lo=-20.0, hi=20.0)
    targets = st.sampled_from([0.0, 1.0, 0.5]) | st.floats(0.0, 1.0, width=32)
    y = data.draw(hnp.arrays(np.float64, shape, elements=targets))
    check(ad.binary_cross_entropy_with_logits,
          F.binary_cross_entropy_with_logits, [z, y], dtype, constant)


# ---- the layers of lecture_lib.nn ----------------------------------------------------

@FEW
@given(n=st.integers(0, 4), n_in=st.integers(0, 4), n_out=st.integers(1, 4),
       vector=st.booleans(), dtype=DTYPES, data=st.data())
def test_linear(n, n_in, n_out, vector, dtype, data):
    # nn.Linear against torch.nn.functional.linear, whose weight is (n_out, n_in): one
    # observation (1-D), a batch, an empty batch, no inputs at all (n_in = 0: the
    # output is b). A failure means h W + b or its gradients went wrong in the layer.
    h = arrays(data, (n_in,) if vector else (n, n_in), nonfinite=False)
    W = arrays(data, (n_in, n_out), nonfinite=False)
    b = arrays(data, (n_out,), nonfinite=False)

    def engine_linear(h, W, b):
        layer = nn.Linear.from_arrays(W.data, b.data)
        layer.W, layer.b = W, b            # the tensors whose gradients check() reads
        return layer(h)

    check(engine_linear, lambda h, W, b: F.linear(h, W.T, b), [h, W, b], dtype)


@FEW
@given(sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4), n=st.integers(0, 4),
       activation=st.sampled_from([nn.ReLU, nn.Tanh]), dtype=DTYPES,
       seed=st.integers(0, 100), data=st.data())
def test_sequential_network(sizes, n, activation, dtype, seed, data):
    # An engine MLP (Linear, ReLU or Tanh, Sequential) and its copy nn.to_torch: the
    # outputs and every weight's and bias's gradient agree. A failure means a layer, an
    # activation module or the weight transposition between the two went wrong.
    model = nn.mlp(sizes, rng=seed, dtype=dtype, activation=activation)
    tmodel = nn.to_torch(model)
    X = arrays(data, (n, sizes[0]), nonfinite=False).astype(dtype)
    out, tout = model(X), tmodel(torch.from_numpy(X))
    upstream = np.random.default_rng(0).standard_normal(out.shape).astype(dtype)
    out.backward(upstream)
    tout.backward(torch.from_numpy(upstream))
    assert_matches(out.data, tout, dtype)
    for p, tp in zip(model.parameters(), tmodel.parameters()):
        assert_matches(p.grad, tp.grad.T if tp.ndim == 2 else tp.grad, dtype)


# ---- the edge points, named ----------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_at_its_edges(dtype):
    # The kink 0 and -0 (gradient 0), nan (gradient g, as torch: it masks x <= 0),
    # +-inf, and an inf or nan upstream gradient at a masked entry, which must give
    # exactly 0 (0 * inf would be nan). A failure means relu's mask is not torch's.
    x = [0.0, -0.0, np.nan, np.inf, -np.inf, -1.0, 0.0, -2.0, 0.0, 3.0]
    g = [1.5, 1.5, 1.5, 1.5, 1.5, 1.5, np.inf, np.nan, -np.inf, np.nan]
    check(ad.relu, torch.relu, [x], dtype, upstream=g)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("c", [0, 1, 2, 3, 0.5, 1.5, -1, -2, -0.5])
def test_pow_at_zero(c, dtype):
    # 0 ** c and its slope c 0^(c-1): x ** 0 has slope 0 even at 0 (not 0 * inf = nan),
    # x ** 1 slope 1, x ** 0.5 an infinite one, 0 ** -1 is inf. A failure names c.
    check(lambda t: t ** c, lambda t: t ** c, [[0.0, 0.0]], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_at_zero_and_below(dtype):
    # log 0 = -inf with slope inf, log(-0) too, log of a negative number is nan with
    # slope 1/x, log inf = inf with slope 0. A failure means log's 1/x is not torch's.
    check(ad.log, torch.log, [[0.0, -0.0, -1.0, np.inf, 1e-30]], dtype)


@pytest.mark.parametrize("dtype, x", [(np.float32, [80.0, 89.0, 100.0, -100.0, -1e3]),
                                      (np.float64, [700.0, 710.0, 1e3, -800.0, -1e3])])
def test_exp_overflow(dtype, x):
    # exp overflows to inf past about 88.7 in float32 and 709.8 in float64 (and its
    # slope with it) and underflows to 0: the engine must overflow exactly where torch
    # does, in the dtype it computes in.
    check(ad.exp, torch.exp, [x], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logits_of_a_thousand(dtype):
    # Logits of +-1000: exp(1000) overflows, so a loss computed naively is inf or nan.
    # log_softmax, the softmax cross-entropy and the logistic loss must all be finite
    # and torch's, gradients too.
    z = [[1e3, -1e3, 0.0], [-1e3, 1e3, 1e3], [1e3, 1e3, -1e3]]
    y = np.array([1, 0, 2])
    check(ad.log_softmax, lambda t: torch.log_softmax(t, -1), [z], dtype)
    check(lambda t: ad.softmax_cross_entropy(t, y),
          lambda t: F.cross_entropy(t, torch.from_numpy(y)), [z], dtype)
    zb, yb = [1e3, -1e3, 1e3, -1e3, 0.0], [1.0, 0.0, 0.0, 1.0, 0.5]
    check(ad.binary_cross_entropy_with_logits,
          F.binary_cross_entropy_with_logits, [zb, yb], dtype)
    loss = ad.softmax_cross_entropy(Tensor(np.array(z, dtype), requires_grad=True), y)
    assert np.isfinite(loss.item())


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("axis, keepdims",
                         [(0, False), (-1, False), (0, True), (None, True)])
def test_reductions_of_a_0d_tensor(reduction, axis, keepdims):
    # Issue 21, items 1 and 2: numpy (and torch) allow axis 0 and -1 on a 0-d array;
    # Tensor(2.0).sum(0) raised in backward and .mean(0) in forward. Value 2, slope 1.
    check(lambda t: getattr(t, reduction)(axis=axis, keepdims=keepdims),
          lambda t: getattr(t, reduction)(dim=axis if axis is not None else (),
                                          keepdim=keepdims),
          [2.0], np.float64)
