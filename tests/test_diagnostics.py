"""lecture_lib.diagnostics: the hand-written chain of a deep MLP against the engine and
torch.

Tolerances: float64 1e-7 relative to the largest entry of the reference
(tests/conftest.py); statistics of random draws are not tested here (see
test_nn_optim.py for the initializers).
"""
import matplotlib
import numpy as np
import pytest
import torch

from conftest import RTOL64, assert_close
from lecture_lib import diagnostics as dg
from lecture_lib import nn
from lecture_lib.autodiff import Tensor, softmax_cross_entropy

matplotlib.use("Agg")


def small_problem(activation="relu", seed=0):
    rng = np.random.default_rng(seed)
    model = dg.deep_mlp(3, 7, "he_normal", n_in=6, n_out=4, seed=seed, activation=activation)
    for layer in model.layers:
        if hasattr(layer, "b"):
            layer.b.data = 0.3 * rng.standard_normal(layer.b.shape)  # biases matter in the chain
    X = rng.standard_normal((9, 6))
    y = rng.integers(0, 4, 9)
    return model, X, y


def engine_grads(model, X, y):
    """Loss, every q_d (in order) and every parameter gradient, by the engine's
    autograd."""
    model.zero_grad()
    h, qs = Tensor(X), []
    for layer in model.layers:
        h = layer(h)
        if isinstance(layer, nn.Linear):
            qs.append(h)
    loss = softmax_cross_entropy(h, y)
    loss.backward()
    linears = [m for m in model.layers if isinstance(m, nn.Linear)]
    return loss.item(), [q.grad for q in qs], [m.W.grad for m in linears], [m.b.grad for m in linears]


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_backprop_matches_the_engine(activation):
    # A failure means the hand-written chain is wrong: a missing mask or g', a
    # transposed W_d, a gradient assigned to the wrong layer, or a loss gradient without
    # its 1/N.
    model, X, y = small_problem(activation)
    t = dg.backprop(model, X, y)
    loss, dqs, dWs, dbs = engine_grads(model, X, y)
    assert t.depth == 3 and len(t.q) == len(t.dq) == len(t.dW) == len(t.db) == 4 and len(t.dh) == 3
    assert abs(t.loss - loss) <= RTOL64 * abs(loss)
    for d in range(4):
        assert_close(t.dq[d], dqs[d])
        assert_close(t.dW[d], dWs[d])
        assert_close(t.db[d], dbs[d])
    assert t.first_nonfinite is None


def test_backprop_matches_torch_autograd_on_a_torch_model():
    # A failure means layers_of misreads torch's (out, in) weight layout or its layer
    # order.
    _ = torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.ReLU(), torch.nn.Linear(6, 6),
                                torch.nn.Tanh(), torch.nn.Linear(6, 3)).double()
    X = torch.randn(8, 5, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 0, 1, 2, 2, 1])
    torch.nn.functional.cross_entropy(model(X), y).backward()
    t = dg.backprop(model, X.numpy(), y.numpy())
    for d, m in enumerate([model[0], model[2], model[4]]):
        assert_close(t.dW[d], m.weight.grad.numpy().T)
        assert_close(t.db[d], m.bias.grad.numpy())


def test_layers_of_a_list_of_pairs_and_errors():
    # A failure means a plain (W, b) list is not read as a ReLU network, or a bad model
    # passes.
    model, X, y = small_problem()
    pairs = [(m.W.data, m.b.data) for m in model.layers if isinstance(m, nn.Linear)]
    layers, acts = dg.layers_of(pairs)
    assert acts == ["relu"] * 3 and [W.shape for W, _ in layers] == [(6, 7), (7, 7), (7, 7), (7, 4)]
    assert_close(dg.backprop(pairs, X, y).dW[0], dg.backprop(model, X, y).dW[0])
    with pytest.raises(ValueError, match="activations"):
        dg.layers_of(nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2)))
    with pytest.raises(ValueError, match=r"\(N, P\)"):
        dg.backprop(model, X[:, :5], y)


def test_layers_of_reads_layers_by_their_type_not_their_name():
    # A subclass of torch's Linear (another class name) is still a Linear; an engine
    # module is told from a torch one by its type. Anything else is refused naming what
    # it got.
    class Dense(torch.nn.Linear):
        pass

    _ = torch.manual_seed(0)
    tmodel = torch.nn.Sequential(Dense(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 4))
    layers, acts = dg.layers_of(tmodel)
    assert acts == ["tanh"] and [W.shape for W, _ in layers] == [(6, 5), (5, 4)]
    np.testing.assert_array_equal(layers[0][0], tmodel[0].weight.detach().numpy().T)
    with pytest.raises(TypeError, match="no support for a Sigmoid layer"):
        dg.layers_of(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Sigmoid(),
                                         torch.nn.Linear(2, 2)))
    with pytest.raises(TypeError, match="got Linear"):
        dg.layers_of(nn.Linear(3, 2))


def test_weight_grad_norms_and_layer_table():
    # A failure means the norms are not Frobenius norms of dL/dW_d in layer order, or
    # the table reports something other than mean squares per layer.
    model, X, y = small_problem()
    t = dg.backprop(model, X, y)
    norms = dg.weight_grad_norms(model, X, y)
    assert norms.shape == (4,)
    assert_close(norms, [np.sqrt((dW ** 2).sum()) for dW in t.dW])
    table = dg.layer_table(t)
    assert list(table.index) == [1, 2, 3, 4]
    assert_close(table["var q"].to_numpy(), [np.mean(q ** 2) for q in t.q])
    assert_close(table["|dW|"].to_numpy(), norms)
    assert np.isnan(table.loc[4, "var h"]) and np.isnan(table.loc[4, "|dh|"])
    assert_close(table.loc[1:3, "active"].to_numpy(), [np.mean(q > 0) for q in t.q[:3]])


def test_standard_normal_overflows_in_float32_but_not_float64():
    # A failure means overflow is not reported (or float64 is not the default): the
    # chapters rely on both to explain the inf/nan of a 50-layer N(0, 1) network.
    rng = np.random.default_rng(0)
    X, y = rng.random((16, 784)), rng.integers(0, 10, 16)
    model = dg.deep_mlp(50, 256, "standard_normal", seed=0, dtype=np.float32)
    t32 = dg.backprop(model, X, y, dtype=None)
    assert t32.first_nonfinite is not None and t32.first_nonfinite.startswith("q_")
    assert t32.dW[0].dtype == np.float32
    t64 = dg.backprop(model, X, y)
    assert t64.first_nonfinite is None and np.isfinite(t64.loss) and t64.loss > 1e40


def test_deep_mlp_is_reproducible():
    # A failure means the same seed does not give the same network (the chapters'
    # figures would change from run to run).
    a = dg.deep_mlp(4, 8, "glorot_normal", n_in=5, n_out=3, seed=7)
    b = dg.deep_mlp(4, 8, "glorot_normal", n_in=5, n_out=3, seed=7)
    assert len(a.layers) == 9
    for (Wa, ba), (Wb, bb) in zip(dg.layers_of(a)[0], dg.layers_of(b)[0]):
        assert np.array_equal(Wa, Wb) and np.array_equal(ba, bb)


def test_dead_units():
    # A failure means a unit is called dead although it activates on some row, or the
    # reverse.
    model = dg.deep_mlp(2, 4, "he_normal", n_in=3, n_out=2, seed=0)
    model.layers[0].b.data = np.array([-100.0, 100.0, 0.0, 0.0])    # unit 0 dead, unit 1 alive
    model.layers[2].b.data = np.full(4, -100.0)                     # the whole second layer dead
    X = np.random.default_rng(1).standard_normal((50, 3))
    dead = dg.dead_units(model, X, chunk=7)                         # chunks must not matter
    assert all(np.array_equal(a, b) for a, b in zip(dead, dg.dead_units(model, X, dtype=np.float32)))
    assert [d.shape for d in dead] == [(4,), (4,)]
    assert dead[0][0] and not dead[0][1] and dead[1].all()
    q1 = X @ model.layers[0].W.data + model.layers[0].b.data
    assert np.array_equal(dead[0], ~(q1 > 0).any(axis=0))
    assert np.allclose(dg.dead_fraction(model, X), [dead[0].mean(), 1.0])


def test_plot_layer_histograms():
    # A failure means a layer is missing from the figure or its labels are not set.
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(100) * 10.0 ** d for d in range(3)] + [np.zeros(5)]
    ax = dg.plot_layer_histograms(values[:3], title="t", xlabel="x", log_abs=True)
    assert len(ax.patches) == 3 and ax.get_title() == "t" and ax.get_xlabel() == "x"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["layer 1", "layer 2", "layer 3"]
