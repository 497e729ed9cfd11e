"""Initializers, layers, optimizers and gradient clipping, against their definitions and
torch.

Tolerances: float64 1e-7 and float32 1e-4 relative to the largest entry of the reference
(tests/conftest.py); optimizer trajectories are compared as displacements from the
starting point, so that an error in a step of size lr is not hidden by the size of the
parameters; sample variances: 5% relative, more than 10 standard errors for 120,000
draws (the standard error of a normal sample variance is sqrt(2/n) = 0.4%).
"""
import numpy as np
import pytest
import torch

from conftest import RTOL32, assert_close
from lecture_lib import init, nn, optim
from lecture_lib.autodiff import Tensor, softmax_cross_entropy

VAR_RTOL = 0.05


# ---- initializers --------------------------------------------------------------------

N_IN, N_OUT = 400, 300
VARIANCES = {
    "standard_normal": 1.0,
    "glorot_normal": 2 / (N_IN + N_OUT),
    "glorot_uniform": 2 / (N_IN + N_OUT),
    "he_normal": 2 / N_IN,
    "torch_default": 1 / (3 * N_IN),
}


@pytest.mark.parametrize("name", sorted(VARIANCES))
def test_initializer_shape_mean_and_variance(name):
    # A failure means the wrong variance formula (e.g. fan-out for fan-in, or a std used
    # as a variance), the wrong shape, or a biased draw.
    W = getattr(init, name)(N_IN, N_OUT, np.random.default_rng(0))
    assert W.shape == (N_IN, N_OUT)
    var = VARIANCES[name]
    assert abs(W.var() / var - 1) < VAR_RTOL, f"variance {W.var():.3g}, expected {var:.3g}"
    assert abs(W.mean()) < 5 * np.sqrt(var / W.size), "the mean should be 0 (5 standard errors)"


def test_uniform_initializers_respect_their_bounds():
    # glorot_uniform draws from U(-a, a) with a = sqrt(6/(n_in + n_out)); torch_default
    # from U(-1/sqrt(n_in), 1/sqrt(n_in)). A wrong bound shows here before it shows in a
    # variance.
    for f, bound in [(init.glorot_uniform, np.sqrt(6 / (N_IN + N_OUT))), (init.torch_default, 1 / np.sqrt(N_IN))]:
        W = f(N_IN, N_OUT, 1)
        assert np.abs(W).max() <= bound and np.abs(W).max() > 0.99 * bound


def test_initializer_rng_arguments():
    # An int seed reproduces, a Generator is used (advanced) rather than reseeded, None
    # is fresh.
    f = init.he_normal
    np.testing.assert_array_equal(f(3, 2, 7), f(3, 2, 7))
    rng = np.random.default_rng(7)
    first, second = f(3, 2, rng), f(3, 2, rng)
    np.testing.assert_array_equal(first, f(3, 2, 7))
    assert not np.array_equal(first, second)
    assert f(3, 2, None).shape == (3, 2)
    assert set(init.INITIALIZERS) >= {"standard_normal", "glorot_normal", "glorot_uniform", "he_normal", "torch"}


def test_each_initializer_has_one_name():
    # Two names for one initializer (an alias) would make a table of initializers list
    # it twice; every name must lead to its own function.
    functions = list(init.INITIALIZERS.values())
    assert len(set(functions)) == len(functions)
    assert init.INITIALIZERS["torch"] is init.torch_default


# ---- layers --------------------------------------------------------------------------

def test_linear_shapes_dtype_and_bias():
    # W: (n_in, n_out), b: (n_out,), in the requested dtype; torch init draws the bias
    # from U(-1/sqrt(n_in), 1/sqrt(n_in)), the other inits start it at 0.
    layer = nn.Linear(784, 128, rng=0)
    assert layer.W.shape == (784, 128) and layer.b.shape == (128,)
    assert layer.W.dtype == layer.b.dtype == np.float32
    assert 0 < np.abs(layer.b.data).max() <= 1 / np.sqrt(784)
    zero_bias = nn.Linear(5, 3, init="he_normal", rng=0, dtype=np.float64)
    assert zero_bias.W.dtype == np.float64 and not zero_bias.b.data.any()
    custom = nn.Linear(5, 3, init=lambda n_in, n_out, rng: np.ones((n_in, n_out)))
    assert custom.W.data.sum() == 15
    assert nn.Linear(5, 3)(np.ones(5)).shape == (3,)          # one observation, 1-D
    with pytest.raises(ValueError, match="unknown init 'xavier'"):
        nn.Linear(5, 3, init="xavier")


def test_linear_rejects_the_wrong_input_width():
    # The error must name the expected width and the shape received.
    with pytest.raises(ValueError, match=r"Linear expects inputs of width n_in = 784, "
                                         r"got \(32, 100\)"):
        nn.Linear(784, 128)(np.zeros((32, 100), np.float32))


def test_mlp_structure_and_parameter_count():
    # [784, 128, 10]: 784*128 + 128 + 128*10 + 10 = 101,770 parameters; Linear, ReLU,
    # Linear (no activation after the logits).
    model = nn.mlp([784, 128, 10], rng=0)
    assert sum(p.data.size for p in model.parameters()) == 101_770
    assert [type(m).__name__ for m in model.layers] == ["Linear", "ReLU", "Linear"]
    assert isinstance(nn.mlp([4, 3, 3, 2], activation=nn.Tanh)[3], nn.Tanh)
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_torch_round_trip_and_gradients():
    # from_torch must transpose torch's weight (n_out, n_in) into W (n_in, n_out) and
    # copy it: the engine then computes torch's outputs and torch's gradients, and
    # to_torch(from_torch(m)) is m again, weight for weight.
    _ = torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(20, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3)).double()
    model = nn.from_torch(tmodel)
    X, y = np.random.default_rng(0).standard_normal((8, 20)), np.random.default_rng(1).integers(0, 3, 8)
    loss = softmax_cross_entropy(model(X), y)
    loss.backward()
    tloss = torch.nn.functional.cross_entropy(tmodel(torch.tensor(X)), torch.tensor(y))
    tloss.backward()
    assert_close(loss.data, tloss)
    for p, (name, tp) in zip(model.parameters(), tmodel.named_parameters()):
        assert_close(p.grad, tp.grad.T if tp.ndim == 2 else tp.grad), name
    back = nn.to_torch(model)
    for (name, a), b in zip(tmodel.state_dict().items(), back.state_dict().values()):
        assert torch.equal(a, b), f"{name} changed in the round trip"
    assert torch.equal(back(torch.tensor(X)), tmodel(torch.tensor(X)))
    model[0].W.data[0, 0] += 1.0
    assert tmodel[0].weight[0, 0] != model[0].W.data[0, 0], "from_torch must copy, not share, the weights"


def test_from_torch_copies_the_weights_and_draws_nothing(monkeypatch):
    # The engine copy holds torch's own weight (transposed) and bias, as copies;
    # building it draws no random numbers (a drawn bias overwritten afterwards would
    # waste a generator).
    _ = torch.manual_seed(3)
    layer = torch.nn.Linear(4, 3)

    def no_drawing(*args, **kwargs):
        raise AssertionError("from_torch drew random numbers")
    monkeypatch.setattr(nn.np.random, "default_rng", no_drawing)
    copy = nn.from_torch(layer)
    np.testing.assert_array_equal(copy.W.data, layer.weight.detach().numpy().T)
    np.testing.assert_array_equal(copy.b.data, layer.bias.detach().numpy())
    with torch.no_grad():
        layer.bias += 1
    assert not np.array_equal(copy.b.data, layer.bias.detach().numpy())
    assert (copy.n_in, copy.n_out) == (4, 3)
    assert copy.W.requires_grad and copy.b.requires_grad
    with pytest.raises(ValueError, match=r"W: \(n_in, n_out\) and b: \(n_out,\)"):
        nn.Linear.from_arrays(np.zeros((4, 3)), np.zeros(4))


def test_from_torch_float32():
    # A float32 torch model becomes a float32 engine model with the same outputs
    # (float32 tolerance).
    _ = torch.manual_seed(1)
    tmodel = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    model = nn.from_torch(tmodel)
    X = np.random.default_rng(0).random((32, 784), dtype=np.float32)
    out = model(X)
    assert out.dtype == np.float32
    assert_close(out.data, tmodel(torch.from_numpy(X)), RTOL32)


# ---- optimizers ----------------------------------------------------------------------

def run_both(make_ours, make_torch, steps=10, seed=0):
    """Apply the same random gradients for ``steps`` steps to the same float64
    parameters in both optimizers (the last parameter never gets a gradient and must not
    move), then compare displacements from the start."""
    rng = np.random.default_rng(seed)
    starts = [rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal(2)]
    ours = [Tensor(s.copy(), requires_grad=True) for s in starts]
    theirs = [torch.tensor(s, requires_grad=True) for s in starts]
    opt, topt = make_ours(ours), make_torch(theirs)
    for _ in range(steps):
        opt.zero_grad(), topt.zero_grad()
        for p, tp in zip(ours[:2], theirs[:2]):
            g = rng.standard_normal(p.shape) * rng.choice([1e-3, 1.0, 30.0])
            p.grad, tp.grad = g, torch.tensor(g)
        opt.step(), topt.step()
    for p, tp, s in zip(ours, theirs, starts):
        assert_close(p.data - s, tp.detach().numpy() - s)
    np.testing.assert_array_equal(ours[2].data, starts[2])


@pytest.mark.parametrize("lr, betas, eps", [(1e-3, (0.9, 0.999), 1e-8), (0.1, (0.5, 0.9), 1e-2)])
def test_adam_matches_torch(lr, betas, eps):
    # 10 steps: a failure means a wrong moment update, bias correction (1 - beta^t with
    # t counted per parameter), or eps placement (visible with the large eps of the
    # second case).
    run_both(lambda ps: optim.Adam(ps, lr=lr, betas=betas, eps=eps),
             lambda ps: torch.optim.Adam(ps, lr=lr, betas=betas, eps=eps))


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_torch(momentum):
    # A failure means the momentum buffer is not torch's v <- mu v + g (starting at v =
    # g).
    run_both(lambda ps: optim.SGD(ps, lr=0.05, momentum=momentum),
             lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=momentum))


def test_optimizers_validate_their_arguments():
    # A zero or negative learning rate or clipping threshold is a mistake: say so.
    p = [Tensor(np.ones(2), requires_grad=True)]
    for bad in [lambda: optim.SGD(p, lr=0), lambda: optim.Adam(p, lr=-1e-3),
                lambda: optim.clip_grad_norm(p, 0.0), lambda: optim.clip_grad_value(p, -1)]:
        with pytest.raises(ValueError, match="positive"):
            bad()
    with pytest.raises(ValueError, match="momentum"):
        optim.SGD(p, lr=0.1, momentum=1.0)


# ---- gradient clipping ---------------------------------------------------------------

def grads_pair(scale, seed=0):
    rng = np.random.default_rng(seed)
    grads = [scale * rng.standard_normal((5, 4)), scale * rng.standard_normal(4), None]
    ours = [Tensor(np.zeros(s.shape if s is not None else 3), requires_grad=True) for s in grads]
    theirs = [torch.zeros(p.shape, dtype=torch.float64, requires_grad=True) for p in ours]
    for p, tp, g in zip(ours, theirs, grads):
        if g is not None:
            p.grad, tp.grad = g.copy(), torch.tensor(g)
    return ours, theirs


@pytest.mark.parametrize("scale, max_norm", [(10.0, 1.0), (0.01, 1.0), (1e-7, 1e-6)])
def test_clip_grad_norm_matches_torch(scale, max_norm):
    # One joint norm over all parameters, factor min(1, c/(||g|| + 1e-6)), norm before
    # clipping returned. Norms ~45 (clipped), ~0.045 (untouched) and ~4.5e-7 with c =
    # 1e-6, where torch's + 1e-6 still scales by ~0.7: a per-parameter norm, a missing
    # 1e-6 or the wrong return value fails here.
    ours, theirs = grads_pair(scale)
    total = optim.clip_grad_norm(ours, max_norm=max_norm)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm=max_norm)
    assert isinstance(total, float)
    assert_close(total, ttotal)
    for p, tp in zip(ours, theirs):
        assert (p.grad is None) == (tp.grad is None)
        if p.grad is not None:
            assert_close(p.grad, tp.grad)
    clipped_norm = np.sqrt(sum((p.grad ** 2).sum() for p in ours[:2]))
    assert clipped_norm <= max_norm


def test_clip_grad_value_matches_torch():
    # Every entry clipped to [-c, c], independently.
    ours, theirs = grads_pair(1.0)
    optim.clip_grad_value(ours, 0.5)
    torch.nn.utils.clip_grad_value_(theirs, 0.5)
    for p, tp in zip(ours[:2], theirs[:2]):
        assert_close(p.grad, tp.grad)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_clip_grad_norm_with_a_nan_or_inf_gradient(bad):
    # One nan (or inf) gradient entry makes the norm nan (inf). torch then scales every
    # gradient by nan (by 0: finite entries 0, the inf one nan) and so must the engine:
    # before issue 21 it left the gradients as they were (coef < 1 is False for nan),
    # and the step after the clip was an unclipped one. A failure means the norm, a
    # gradient or the step after the clip is not torch's.
    ours, theirs = grads_pair(10.0)
    ours[0].grad[1, 2] = theirs[0].grad[1, 2] = bad
    starts = [p.data.copy() for p in ours]
    with np.errstate(invalid="ignore"):                  # inf * 0: nan, as meant
        total = optim.clip_grad_norm(ours, max_norm=1.0)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm=1.0)
    np.testing.assert_array_equal(total, ttotal.item())
    for p, tp in zip(ours[:2], theirs[:2]):
        np.testing.assert_array_equal(p.grad, tp.grad.numpy())
    optim.SGD(ours, lr=0.1).step()
    torch.optim.SGD(theirs, lr=0.1).step()
    for p, tp, start in zip(ours, theirs, starts):
        np.testing.assert_array_equal(p.data, tp.detach().numpy())
        moved = p.data != start
        assert np.all(np.isnan(p.data[moved])), "an unclipped step moved a parameter"
