"""The hand-derived two-layer network (lecture_lib.twolayer): its gradients agree with
torch.autograd and with finite differences on random networks, relu's kink is handled as torch
handles it, the loss survives huge logits, the 3-D Jacobian contracts to the outer product, and
every bad input is refused with a message in the lecture's letters.
"""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from lecture_lib import gradcheck as gc
from lecture_lib import twolayer as tl

# float64 throughout. Hand vs torch differ only by summation order (~1e-14 relative); finite
# differences (h = 1e-5) are good to ~1e-9 relative, and entries too small for them to resolve
# are held to an absolute error instead (gc.numeric_floor). 1e-7 leaves a wide margin to both,
# and a real mistake (a missing mask, a transposition, a wrong 1/N) is of order 1e-2 to 1.
TOL = 1e-7
H = 1e-5
# Finite differences are kept away from relu's kink: a step of H that moves an entry of q1 or
# q2 across 0 straddles the kink and gives neither one-sided derivative (see
# test_relu_derivative_at_exact_zero_matches_torch). A step moves q by H times a weight or an
# input (order 1), so networks with every |q| >= 100 H are safe.
KINK_MARGIN = 100 * H

SHAPES = [  # (P, K1, K2, N): single units, a single observation, wide and narrow layers
    (1, 1, 1, 1),
    (3, 4, 2, 1),
    (7, 5, 3, 4),
    (5, 3, 9, 2),
    (10, 8, 6, 16),
]


def make_net(P, K1, K2, N, seed):
    """params, X (N, P), y (N,) in {0, 1} with every |q1|, |q2| >= KINK_MARGIN."""
    rng = np.random.default_rng(seed)
    for _ in range(100):
        params = tl.init_params(P, K1, K2, rng=rng)
        X = rng.normal(size=(N, P))
        y = rng.integers(0, 2, size=N)
        if gc.kink_margin(params, X) >= KINK_MARGIN:
            return params, X, y
    raise AssertionError("no network away from the kink in 100 draws")


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "P{}-K1{}-K2{}-N{}".format(*s))
def test_backward_matches_torch(shape):
    # A failure means a step of the hand-derived chain is wrong (or returns a wrong shape).
    params, X, y = make_net(*shape, seed=sum(shape))
    hand = tl.backward(params, X, y)
    assert set(hand) == set(tl.PARAM_KEYS) | {"X"}
    for k, g in hand.items():
        assert g.shape == np.shape(X if k == "X" else params[k]), k
    errors = gc.compare(hand, gc.twolayer_grads_torch(params, X, y), keys=list(hand))
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "P{}-K1{}-K2{}-N{}".format(*s))
def test_backward_matches_finite_differences(shape):
    # A failure means the hand-derived gradient is not the derivative of loss() itself (the
    # referee that uses no chain rule at all), e.g. a wrong 1/N or a sign.
    params, X, y = make_net(*shape, seed=100 + sum(shape))
    hand = tl.backward(params, X, y)
    numeric = gc.twolayer_grads_numeric(params, X, y, h=H)
    errors = gc.compare(hand, numeric, floor=gc.numeric_floor(H))
    assert set(errors) == set(hand) and max(errors.values()) < TOL, errors


@settings(max_examples=25, deadline=None, database=None)
@given(P=st.integers(1, 6), K1=st.integers(1, 6), K2=st.integers(1, 6), N=st.integers(1, 6),
       seed=st.integers(0, 2**32 - 1))
def test_backward_matches_torch_random_shapes(P, K1, K2, N, seed):
    # As above over random shapes: a failure means some shape (a 1 somewhere) breaks the chain,
    # e.g. a squeeze or a sum over the wrong axis.
    rng = np.random.default_rng(seed)
    params = tl.init_params(P, K1, K2, rng=rng)
    X, y = rng.normal(size=(N, P)), rng.integers(0, 2, size=N)
    errors = gc.compare(tl.backward(params, X, y), gc.twolayer_grads_torch(params, X, y))
    assert max(errors.values()) < TOL, errors


def test_relu_derivative_at_exact_zero_matches_torch():
    # Units sitting exactly on the kink (q = 0) must get derivative 0, as torch.relu gives;
    # a failure means the mask is q >= 0 (or something else) instead of q > 0.
    params, X, y = make_net(4, 3, 3, 5, seed=7)
    params["W1"][:, 0] = 0.0
    params["b1"][0] = 0.0          # q1[:, 0] = X @ 0 + 0 = 0 exactly, for every observation
    params["W2"][:, 1] = 0.0
    params["b2"][1] = 0.0          # q2[:, 1] = 0 exactly
    _, cache = tl.forward(params, X)
    assert np.all(cache["q1"][:, 0] == 0) and np.all(cache["q2"][:, 1] == 0)

    hand = tl.backward(params, X, y)
    torch_ = gc.twolayer_grads_torch(params, X, y)
    engine = gc.twolayer_grads_engine(params, X, y)
    for route, g in {"hand": hand, "torch": torch_, "engine": engine}.items():
        assert g["b1"][0] == 0 and np.all(g["W1"][:, 0] == 0), route
        assert g["b2"][1] == 0 and np.all(g["W2"][:, 1] == 0), route
    assert max(gc.compare(hand, torch_).values()) < TOL
    assert max(gc.compare(hand, engine).values()) < TOL

    # Why finite differences stay away from the kink: b1[0] +- h switches unit 0 on for +h and
    # off for -h, so the central difference is half the right-hand derivative, neither 0 nor it.
    numeric = gc.twolayer_grads_numeric(params, X, y, h=H)["b1"][0]
    right = tl.backward(dict(params, b1=params["b1"] + np.r_[1e-12, 0, 0]), X, y)["b1"][0]
    assert abs(right) > 1e-3 and abs(numeric - right / 2) < 1e-4 * abs(right)


@pytest.mark.parametrize("z0", [1e3, -1e3])
def test_loss_and_gradients_stable_at_huge_logits(z0):
    # |z| = 1000 overflows exp(-z) or exp(z); a failure means log(0) = -inf or exp overflow
    # leaked into the loss (inf/NaN) or the gradients.
    params, X, _ = make_net(3, 4, 2, 4, seed=3)
    params["beta"][:] = 0.0
    params["a"] = np.asarray(z0)             # z = h2 @ 0 + a = z0 for every observation
    y = np.array([1, 0, 1, 1])
    n_wrong = int(np.sum(y != (z0 > 0)))     # confidently wrong rows cost |z0| each
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # not underflow: exp(-1000) = 0 is fine
        L = tl.loss(params, X, y)
        g = tl.backward(params, X, y)
        p = tl.predict_proba(params, X)
    assert L == pytest.approx(n_wrong * abs(z0) / 4, rel=1e-12)
    assert L == pytest.approx(torch.nn.functional.binary_cross_entropy_with_logits(
        torch.full((4,), z0, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)).item())
    assert all(np.all(np.isfinite(v)) for v in g.values())
    assert float(g["a"]) == pytest.approx(np.mean((z0 > 0) - y))   # sigma(z0) is 0 or 1
    assert np.all((p == 0) | (p == 1))


def test_loss_and_predict_proba_values():
    # The loss must be the mean binary cross-entropy of sigma(z) as the lecture writes it; a
    # failure means a wrong sign, a sum instead of a mean, or probabilities of the wrong class.
    params, X, y = make_net(6, 5, 4, 8, seed=11)
    z, cache = tl.forward(params, X)
    assert z.shape == (8,) and set(cache) == {"X", "q1", "h1", "q2", "h2", "z"}
    s = 1 / (1 + np.exp(-z))
    expected = -np.mean(y * np.log(s) + (1 - y) * np.log(1 - s))
    assert tl.loss(params, X, y) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(tl.predict_proba(params, X), s, rtol=1e-12)


def test_init_params_shapes_dtype_and_seed():
    # Wrong shapes or dtype break every chapter; a seed that does not reproduce breaks nbval.
    p = tl.init_params(784, 128, 64, rng=0, dtype=np.float32)
    assert {k: v.shape for k, v in p.items()} == {
        "W1": (784, 128), "b1": (128,), "W2": (128, 64), "b2": (64,), "beta": (64,), "a": ()}
    assert all(v.dtype == np.float32 for v in p.values())
    assert np.all(p["b1"] != 0)                                   # small random, not zero
    assert abs(p["W1"].std() - np.sqrt(2 / (784 + 128))) < 2e-3   # Glorot-normal scale
    q = tl.init_params(784, 128, 64, rng=0, dtype=np.float32)
    assert all(np.array_equal(p[k], q[k]) for k in p)


def test_jacobian_contracts_to_the_outer_product():
    # The 3-D Jacobian J[k, i, j] = h1_i delta_kj: a failure means J is laid out differently
    # from the docstring, or that summing u_k J[k] is not the outer product the backward uses.
    rng = np.random.default_rng(0)
    K1, K2 = 5, 3
    h1, u = rng.normal(size=K1), rng.normal(size=K2)
    J = tl.jacobian_q2_wrt_W2(h1, K2)
    assert J.shape == (K2, K1, K2) and J.size == K2 * K1 * K2
    for k in range(K2):
        for j in range(K2):
            np.testing.assert_array_equal(J[k, :, j], h1 if k == j else 0)
    np.testing.assert_allclose(tl.contract_jacobian(u, J), np.outer(h1, u), rtol=1e-15)

    # Summed over observations, the contractions are dW2 of the backward pass.
    params, X, y = make_net(4, K1, K2, 6, seed=5)
    _, cache = tl.forward(params, X)
    g = tl.backward(params, X, y)
    dz = (tl.sigmoid(cache["z"]) - y) / len(y)
    dq2 = np.outer(dz, params["beta"]) * (cache["q2"] > 0)
    dW2 = sum(tl.contract_jacobian(dq2[i], tl.jacobian_q2_wrt_W2(cache["h1"][i], K2))
              for i in range(len(y)))
    np.testing.assert_allclose(dW2, g["W2"], rtol=1e-12, atol=1e-15)


def test_jacobian_memory_is_cubic():
    # The docstring's memory figure: 128^3 float32 numbers are 8.4 MB for ONE observation.
    J = tl.jacobian_q2_wrt_W2(np.ones(128, dtype=np.float32), 128)
    assert J.dtype == np.float32 and J.nbytes == 128**3 * 4 == 8_388_608


def test_jacobian_and_contraction_refuse_bad_shapes():
    # A batch passed as one observation must not silently produce a 4-D array.
    with pytest.raises(ValueError, match=r"h1 must be ONE observation of shape \(K1,\)"):
        tl.jacobian_q2_wrt_W2(np.ones((2, 3)), 4)
    with pytest.raises(ValueError, match=r"u must have shape \(K2,\) = \(4,\)"):
        tl.contract_jacobian(np.ones(3), tl.jacobian_q2_wrt_W2(np.ones(2), 4))


# ------------------------------------------------------------------------- bad inputs
P, K1, K2, N = 7, 5, 3, 4


def _good():
    rng = np.random.default_rng(0)
    return tl.init_params(P, K1, K2, rng=rng), rng.normal(size=(N, P)), np.array([0, 1, 1, 0])


def _without(d, key):
    return {k: v for k, v in d.items() if k != key}


def _nan_X(X):
    X = X.copy()
    X[1, 2] = np.nan
    return X


# (what is wrong, function (params, X, y) -> bad (params, X, y), substrings of the message)
BAD_INPUTS = [
    ("W1 transposed", lambda p, X, y: (dict(p, W1=p["W1"].T), X, y),
     ["W1", "(P, K1) = (7, 5)", "got (5, 7)", "transposed"]),
    ("b1 wrong length", lambda p, X, y: (dict(p, b1=np.zeros(4)), X, y),
     ["b1", "(K1,) = (5,)", "got (4,)"]),
    ("W2 inconsistent with W1", lambda p, X, y: (dict(p, W2=np.zeros((6, K2))), X, y),
     ["W2", "(K1, K2) = (5, 3)", "got (6, 3)"]),
    ("b2 inconsistent with W2", lambda p, X, y: (dict(p, b2=np.zeros(2)), X, y),
     ["b2", "(K2,) = (3,)", "got (2,)"]),
    ("beta a matrix", lambda p, X, y: (dict(p, beta=np.zeros((K2, 1))), X, y),
     ["beta", "(K2,) = (3,)", "got (3, 1)"]),
    ("a not a scalar", lambda p, X, y: (dict(p, a=np.zeros(1)), X, y),
     ["a must be a scalar", "(1,)"]),
    ("y with the value 2", lambda p, X, y: (p, X, np.array([0, 2, 1, 0])),
     ["y", "0 and 1", "got 2"]),
    ("y with -1 and 0.5", lambda p, X, y: (p, X, np.array([0, -1, 1, 0.5])),
     ["y", "got -1.0, 0.5"]),
    ("y wrong length", lambda p, X, y: (p, X, np.array([0, 1, 1])),
     ["y", "(N,) = (4,)", "got (3,)"]),
    ("y a column", lambda p, X, y: (p, X, y[:, None]),
     ["y", "(N,) = (4,)", "got (4, 1)"]),
    ("X 1-D", lambda p, X, y: (p, X[0], y),
     ["X", "(N, P)", "got shape (7,)"]),
    ("X with P not matching W1", lambda p, X, y: (p, X[:, :6], y),
     ["W1", "(P, K1) = (6, 5)", "got (7, 5)", "X (N, P) = (4, 6)"]),
    ("NaN in X", lambda p, X, y: (p, _nan_X(X), y),
     ["X", "1 NaN", "X[1, 2]"]),
    ("missing key", lambda p, X, y: (_without(p, "beta"), X, y),
     ["missing", "beta"]),
    ("extra key", lambda p, X, y: (dict(p, W3=np.zeros(2)), X, y),
     ["unexpected", "W3"]),
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
@pytest.mark.parametrize("entry", ["loss", "backward"])
def test_bad_inputs_are_refused_in_lecture_letters(case, entry):
    # A failure means a bad input either went through (a wrong-shaped gradient, a broadcasted
    # nonsense loss) or was refused with a message that does not say what to fix.
    _, make_bad, needles = case
    params, X, y = make_bad(*_good())
    with pytest.raises(ValueError) as info:
        getattr(tl, entry)(params, X, y)
    for needle in needles:
        assert needle in str(info.value), (needle, str(info.value))


def test_forward_and_predict_proba_check_their_inputs_too():
    # Entry points without y must still refuse a transposed W1 rather than broadcast.
    params, X, _ = _good()
    for fn in (tl.forward, tl.predict_proba):
        with pytest.raises(ValueError, match=r"W1 must have shape \(P, K1\) = \(7, 5\)"):
            fn(dict(params, W1=params["W1"].T), X)
