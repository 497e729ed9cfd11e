"""The gradient checker (lecture_lib.gradcheck): finite differences are right and leave
their input untouched, sampling and the relative error behave as documented, the
three-way table of the two-layer network passes on a correct network, and it FAILS on a
wrong backward pass.
"""
import numpy as np
import pandas as pd
import pytest

from lecture_lib import gradcheck as gc
from lecture_lib import twolayer as tl

# float64: finite differences of these smooth functions are good to ~1e-9 relative
# (rounding error eps |f| / h), so 1e-7 is a safe bound for a correct result; the floor
# gc.numeric_floor(h) holds entries too small to resolve to an absolute error instead.
TOL = 1e-7
H = 1e-6


def _fd_error(numeric, exact):
    return gc.rel_error(numeric, exact, floor=gc.numeric_floor(H))


# ------------------------------------------------------------------- numerical_gradient
def test_numerical_gradient_of_sum_of_squares():
    # d/dx sum(x^2) = 2x; a failure means the difference quotient (or its 1/(2h)) is
    # wrong.
    x = np.random.default_rng(0).normal(size=(3, 4))
    g = gc.numerical_gradient(lambda v: np.sum(v**2), x, h=H)
    assert g.shape == x.shape and g.dtype == np.float64
    assert _fd_error(g, 2 * x) < TOL


def test_numerical_gradient_of_a_matrix_product():
    # f(W) = sum(C * (A @ W)) has gradient A^T C; a failure means entries are perturbed
    # or stored at the wrong index (e.g. a transposition of the result).
    rng = np.random.default_rng(1)
    A, W, C = rng.normal(size=(5, 3)), rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
    g = gc.numerical_gradient(lambda W_: np.sum(C * (A @ W_)), W, h=H)
    assert _fd_error(g, A.T @ C) < TOL


def test_numerical_gradient_of_a_0d_array():
    # A scalar parameter (the lecture's a) is a 0-d array; it must be perturbed like any
    # other.
    a = np.array(0.3)
    g = gc.numerical_gradient(lambda v: float(v) ** 3, a, h=H)
    assert g.shape == () and _fd_error(g, 3 * 0.3**2) < TOL


def test_numerical_gradient_restores_x_byte_identical():
    # Values for which x + h - h != x in floating point: a failure means the function
    # "restored" x by arithmetic (or not at all), which silently changes the caller's
    # weights.
    x = np.array([0.1, 1e10, -1e-300, 3.0, -0.0, 1 / 3])
    before = x.tobytes()
    gc.numerical_gradient(lambda v: np.sum(np.sin(v)), x, h=H)
    assert x.tobytes() == before


@pytest.mark.parametrize("fail_at_call", [1, 2, 5])
def test_numerical_gradient_restores_x_when_f_raises(fail_at_call):
    # f raising during the + step (call 1), the - step (call 2) or a later coordinate: a
    # failure means the perturbed value stays in x after the exception.
    x = np.array([[0.1, 0.2], [0.7, 1 / 3]])
    before = x.tobytes()
    calls = []

    def f(v):
        calls.append(1)
        if len(calls) == fail_at_call:
            raise RuntimeError("boom")
        return np.sum(v**2)

    with pytest.raises(RuntimeError, match="boom"):
        gc.numerical_gradient(f, x, h=H)
    assert x.tobytes() == before


def test_numerical_gradient_refuses_float32_and_non_scalar_f():
    # Finite differences at h = 1e-6 in float32 are noise, and a cast copy would not be
    # seen by f: a failure means either is silently accepted.
    with pytest.raises(TypeError, match="float64"):
        gc.numerical_gradient(lambda v: np.sum(v), np.ones(3, dtype=np.float32))
    with pytest.raises(ValueError, match="f must return a scalar"):
        gc.numerical_gradient(lambda v: v * 2, np.ones(3))


def test_sampled_indices_leave_nan_elsewhere_and_rel_error_ignores_them():
    # Only the sampled coordinates are computed (the rest NaN), and rel_error skips the
    # NaN; a failure means big arrays are checked in full (too slow) or NaN poisons the
    # comparison.
    x = np.random.default_rng(2).normal(size=(4, 5))
    idx = gc.sample_indices(x.shape, 6, rng=0)
    assert len(idx) == len(set(idx)) == 6
    assert gc.sample_indices(x.shape, 6, rng=0) == idx                 # reproducible
    assert gc.sample_indices(x.shape, 100, rng=0) == list(np.ndindex(4, 5))

    g = gc.numerical_gradient(lambda v: np.sum(v**2), x, h=H, indices=idx)
    computed = ~np.isnan(g)
    assert computed.sum() == 6 and all(computed[i] for i in idx)
    assert _fd_error(g, 2 * x) < TOL
    wrong_elsewhere = np.where(computed, 2 * x, 999.0)                 # unsampled entries wrong
    assert _fd_error(g, wrong_elsewhere) < TOL                         # ... and not looked at
    assert np.isnan(gc.rel_error(np.full(3, np.nan), np.ones(3)))     # nothing compared: NaN


# ------------------------------------------------------------------- rel_error, compare
def test_rel_error_formula_on_hand_made_cases():
    # cs231n's max_j |a_j - b_j| / max(1e-8, |a_j| + |b_j|): a failure means a different
    # formula.
    assert gc.rel_error([1.0, 2.0], [1.0, 2.2]) == pytest.approx(0.2 / 4.2)
    assert gc.rel_error(np.zeros(3), np.zeros(3)) == 0.0               # no 0/0
    assert gc.rel_error([0.0], [1e-9]) == pytest.approx(0.1)          # floor 1e-8 applies
    assert gc.rel_error(2.0, -2.0) == 1.0                              # the largest possible
    # Elementwise, then the max: a wrong small entry is not hidden by a large correct
    # one.
    assert gc.rel_error([1000.0, 1e-3], [1000.0, 2e-3]) == pytest.approx(1 / 3)
    assert gc.rel_error([0.0], [1e-9], floor=1e-3) == pytest.approx(1e-6)
    assert np.isnan(gc.rel_error([np.nan, 1.0], [1.0, 1.0], ignore_nan=False))


def test_rel_error_refuses_different_shapes_naming_both():
    # A transposed gradient must not be compared by broadcasting.
    with pytest.raises(ValueError, match=r"\(3, 4\) and \(4, 3\)"):
        gc.rel_error(np.zeros((3, 4)), np.zeros((4, 3)))


def test_compare_common_keys_and_missing_keys():
    # A failure means a requested gradient could be silently left out of a check.
    a = {"W1": np.ones(2), "b1": np.ones(1), "only_a": np.ones(1)}
    b = {"W1": np.ones(2), "b1": 2 * np.ones(1)}
    assert gc.compare(a, b) == {"W1": 0.0, "b1": pytest.approx(1 / 3)}
    with pytest.raises(KeyError, match="missing in the second dict: only_a"):
        gc.compare(a, b, keys=["W1", "only_a"])


# ------------------------------------------------------------------ the two-layer check
@pytest.fixture(scope="module")
def small_net():
    rng = np.random.default_rng(0)
    params = tl.init_params(6, 5, 4, rng=rng)
    X, y = rng.normal(size=(5, 6)), np.array([0, 1, 1, 0, 1])
    assert gc.kink_margin(params, X) > 1e-3   # finite differences away from relu's kink
    return params, X, y


def test_check_twolayer_table_passes_on_the_hand_derived_network(small_net):
    # A failure means one of the four routes disagrees on a correct network (or the
    # table lost its documented layout, which the chapters print and assert on).
    df = gc.check_twolayer(*small_net)
    assert list(df.index) == ["a", "beta", "b2", "W2", "b1", "W1", "X"]
    assert df.index.name == "parameter"
    assert list(df.columns) == ["shape", "hand vs engine", "hand vs torch", "hand vs "
                                                                            "numeric"]
    assert df.loc["W1", "shape"] == "(P, K1) = (6, 5)"
    assert df.loc["b2", "shape"] == "(K2,) = (4,)" and df.loc["X", "shape"] == "(N, P) = (5, 6)"
    errors = df.drop(columns="shape")
    assert (errors < TOL).all().all(), df
    assert gc.errors_ok(df) is True


def test_errors_ok_fails_on_large_or_nan_errors(small_net):
    # NaN means nothing was compared; a failure means a notebook's assert would pass
    # anyway.
    df = gc.check_twolayer(*small_net, numeric_samples=3, rng=0)
    assert gc.errors_ok(df)
    bad = df.copy()
    bad.loc["W2", "hand vs torch"] = 1e-3
    assert not gc.errors_ok(bad)
    bad = df.copy()
    bad.loc["a", "hand vs numeric"] = np.nan
    assert not gc.errors_ok(bad)


def test_numeric_route_samples_and_leaves_the_caller_arrays_alone(small_net):
    # Sampling must give min(samples, size) computed entries per parameter; a failure in
    # the byte check means the caller's weights were perturbed or cast in place.
    params, X, y = small_net
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    before = {k: v.tobytes() for k, v in p32.items()}
    g = gc.twolayer_grads_numeric(p32, X, y, samples=4, rng=0)
    for k, v in g.items():
        size = np.size(X if k == "X" else params[k])
        assert v.dtype == np.float64 and (~np.isnan(v)).sum() == min(4, size), k
    assert all(p32[k].tobytes() == before[k] for k in p32)


def _wrong_backward(params, X, y, mistake):
    """The hand-derived backward with one classic mistake."""
    _, c = tl.forward(params, X)
    dz = (tl.sigmoid(c["z"]) - y) / len(y)
    dh2 = np.outer(dz, params["beta"])
    dq2 = dh2 * (c["q2"] > 0)
    dh1 = dq2 @ params["W2"].T
    dq1 = dh1 if mistake == "missing mask" else dh1 * (c["q1"] > 0)
    dW1 = dq1.T @ X if mistake == "transposed dW1" else X.T @ dq1
    return {"W1": dW1, "b1": dq1.sum(0), "W2": c["h1"].T @ dq2, "b2": dq2.sum(0),
            "beta": c["h2"].T @ dz, "a": np.asarray(dz.sum()), "X": dq1 @ params["W1"].T}


@pytest.mark.parametrize("mistake, broken", [("transposed dW1", ["W1"]),
                                             ("missing mask", ["W1", "b1", "X"])])
def test_compare_catches_a_wrong_backward(mistake, broken):
    # The checker must be able to FAIL: a failure here means a classic mistake goes
    # unnoticed. dW1 transposed keeps its shape only when P = K1, so this network is
    # square in layer 1.
    rng = np.random.default_rng(3)
    params = tl.init_params(5, 5, 3, rng=rng)
    X, y = rng.normal(size=(6, 5)), np.array([0, 1, 1, 0, 1, 0])
    _, cache = tl.forward(params, X)
    assert (cache["q1"] < 0).any()          # the mask matters somewhere
    errors = gc.compare(_wrong_backward(params, X, y, mistake),
                        gc.twolayer_grads_torch(params, X, y))
    for k in errors:
        assert (errors[k] > 1e-2) == (k in broken), (k, errors)
    # The same routine without the mistake passes: the large errors come from the
    # mistake.
    right = gc.compare(_wrong_backward(params, X, y, None), tl.backward(params, X, y))
    assert max(right.values()) < TOL


def test_rel_error_of_infinite_entries_is_nan_and_silent():
    # An inf in a student's answer must read as "not close" (NaN fails every tolerance),
    # and a failing self-check must not spill a numpy RuntimeWarning into the notebook.
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(gc.rel_error(np.array([np.inf, 1.0]), np.array([np.inf, 1.0])))
        assert np.isnan(gc.rel_error(np.inf, 2.0))
