"""lecture_lib.train: one loop for torch and engine models, divergence detection,
clipping, evaluation and input validation, on small synthetic data (seconds).

Tolerances (tests/conftest.py): engine vs torch loss curves from the same weights and
batches agree to float64 1e-7 and float32 1e-4 (the same arithmetic up to rounding
order, over a few dozen Adam steps); evaluate vs sklearn / a manual count: 1e-10 (both
in float64 from the same probabilities).
"""
import math

import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss

from conftest import RTOL32, RTOL64
from lecture_lib import nn, progress, train
from lecture_lib.train import History, NonFiniteLossError, evaluate, fit

N, P, K = 240, 12, 4


def make_data(seed=0, n=N, dtype=np.float64):
    """Four Gaussian blobs in P dimensions: learnable, but not in one step."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n)
    centers = rng.normal(size=(K, P))
    X = centers[y] + rng.normal(size=(n, P))
    return X.astype(dtype), y


def torch_net(dtype=torch.float64, seed=0, hidden=(16,)):
    torch.manual_seed(seed)
    return train.softmax_network(list(hidden), n_inputs=P, n_classes=K).to(dtype)


# ---- the loop and its History --------------------------------------------------------

@pytest.mark.parametrize("kind", ["torch", "engine"])
def test_fit_records_one_entry_per_step_and_lowers_the_loss(kind):
    # A failure means the wrong number of steps per epoch (the last, shorter batch
    # dropped or doubled), epoch losses not the batch-size-weighted mean, or a loop that
    # does not learn.
    X, y = make_data()
    model = torch_net() if kind == "torch" else nn.from_torch(torch_net())
    h = fit(model, X, y, epochs=5, batch_size=50, lr=0.01, progress=False)
    assert h.batches_per_epoch == 5 and h.steps == 25 and h.epochs == 5   # 240 = 4 * 50 + 40
    assert len(h.grad_norm) == 25 and all(g > 0 for g in h.grad_norm)
    sizes = np.array([50, 50, 50, 50, 40])
    first = np.dot(h.step_loss[:5], sizes) / N
    assert math.isclose(h.epoch_loss[0], first, rel_tol=1e-12)
    assert h.epoch_loss[-1] < 0.5 * h.epoch_loss[0]
    assert h.diverged_at is None and h.message is None and h.seconds > 0
    frame = h.to_frame()
    assert list(frame.columns) == ["epoch", "batch", "loss", "grad_norm"] and len(frame) == 25
    assert frame["epoch"].iloc[-1] == 4 and frame["batch"].iloc[-1] == 4
    assert list(h.epoch_frame().index) == [1, 2, 3, 4, 5]
    assert "epochs=5" in repr(h)


def test_history_final_loss_and_seconds_per_epoch():
    # final_loss is the LAST epoch's mean loss (not the last step's, not the first
    # epoch's); seconds_per_epoch divides the run's wall time by the completed epochs.
    # Before any epoch completed, both are nan rather than a number that looks like a
    # result.
    h = fit(nn.from_torch(torch_net()), *make_data(), epochs=3, batch_size=50, lr=0.01,
            progress=False)
    assert h.final_loss == h.epoch_loss[-1] and h.final_loss != h.step_loss[-1]
    assert h.final_loss < h.epoch_loss[0]
    assert math.isclose(h.seconds_per_epoch, h.seconds / 3, rel_tol=1e-12)
    assert 0 < h.seconds_per_epoch < h.seconds
    made = History(epoch_loss=[2.0, 0.5], seconds=3.0)
    assert made.final_loss == 0.5 and made.seconds_per_epoch == 1.5
    empty = History(seconds=1.0)
    assert math.isnan(empty.final_loss) and math.isnan(empty.seconds_per_epoch)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_engine_and_torch_give_the_same_loss_curve_in_float64(optimizer):
    # Same weights (copied), same batches (the seed's permutations): the two curves may
    # differ only by rounding. A failure means the batches differ between frameworks, or
    # the engine's loss, gradients or optimizer differ from torch's.
    X, y = make_data()
    model = torch_net()
    engine = nn.from_torch(model)
    kw = dict(epochs=4, batch_size=64, lr=0.05, optimizer=optimizer, seed=3, progress=False)
    ht, he = fit(model, X, y, **kw), fit(engine, X, y, **kw)
    np.testing.assert_allclose(he.step_loss, ht.step_loss, rtol=RTOL64)
    np.testing.assert_allclose(he.grad_norm, ht.grad_norm, rtol=RTOL64)
    np.testing.assert_allclose(engine[0].W.data, model[0].weight.detach().numpy().T, rtol=0,
                               atol=RTOL64 * np.abs(engine[0].W.data).max())


def test_engine_and_torch_agree_in_float32():
    # The float32 path (the book's MNIST runs): a failure at 1e-4 means an upcast or a
    # different batch order, not rounding.
    X, y = make_data(dtype=np.float32)
    model = torch_net(torch.float32)
    engine = nn.from_torch(model)
    kw = dict(epochs=3, batch_size=80, lr=0.01, progress=False)
    ht, he = fit(model, X, y, **kw), fit(engine, X, y, **kw)
    np.testing.assert_allclose(he.step_loss, ht.step_loss, rtol=RTOL32)


def test_the_seed_fixes_the_batches():
    # Same seed: identical runs; another seed: other batches, so another curve.
    X, y = make_data()
    a = fit(nn.from_torch(torch_net()), X, y, epochs=2, batch_size=60, lr=0.01, seed=1, progress=False)
    b = fit(nn.from_torch(torch_net()), X, y, epochs=2, batch_size=60, lr=0.01, seed=1, progress=False)
    c = fit(nn.from_torch(torch_net()), X, y, epochs=2, batch_size=60, lr=0.01, seed=2, progress=False)
    assert a.step_loss == b.step_loss
    assert a.step_loss[0] != c.step_loss[0]


def test_progress_bar_goes_to_stdout_and_can_be_disabled(capsys):
    X, y = make_data()
    fit(torch_net(), X, y, epochs=2, batch_size=120, lr=0.01, desc="demo")
    out = capsys.readouterr().out
    assert "demo" in out and "2/2" in out and "loss" in out
    fit(torch_net(), X, y, epochs=2, batch_size=120, lr=0.01, progress=False)
    assert capsys.readouterr().out == ""


# ---- divergence ----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["torch", "engine"])
def test_infinite_inputs_raise_at_the_first_step(kind):
    # An inf pixel makes the very first loss nan: the error must name step 0, epoch 0,
    # batch 0 and carry the (empty) history.
    X, y = make_data()
    X[7, 3] = np.inf
    model = torch_net() if kind == "torch" else nn.from_torch(torch_net())
    message = r"loss became nan at step 0 \(epoch 0, batch 0\); try gradient clipping"
    with pytest.raises(NonFiniteLossError, match=message) as err:
        fit(model, X, y, epochs=3, batch_size=N, lr=0.01, progress=False)
    e = err.value
    assert isinstance(e, FloatingPointError)
    assert (e.step, e.epoch) == (0, 0)
    assert e.history.diverged_at == 0 and e.history.steps == 0 and e.history.message == str(e)


def huge_lr_run(kind, on_nonfinite):
    X, y = make_data()
    model = torch_net() if kind == "torch" else nn.from_torch(torch_net())
    return fit(model, X * 1e3, y, epochs=50, batch_size=40, lr=1e6, optimizer="sgd",
               on_nonfinite=on_nonfinite, progress=False)


@pytest.mark.parametrize("kind", ["torch", "engine"])
def test_huge_learning_rate_raises_naming_the_step(kind):
    # SGD with lr = 1e6 on inputs of size 1e3 overflows within a few steps. The step
    # named must be the first non-finite one, and the history must hold exactly the
    # finite steps before it.
    with pytest.raises(NonFiniteLossError) as err:
        huge_lr_run(kind, "raise")
    e, h = err.value, err.value.history
    assert e.step == h.diverged_at == h.steps >= 1
    assert e.epoch == e.step // h.batches_per_epoch
    assert f"at step {e.step} (epoch {e.epoch}, batch {e.step % h.batches_per_epoch})" in str(e)
    assert all(math.isfinite(v) for v in h.step_loss)


@pytest.mark.parametrize("kind", ["torch", "engine"])
def test_stop_mode_returns_the_history_and_prints_once(kind, capsys):
    h = huge_lr_run(kind, "stop")
    assert isinstance(h, History) and h.diverged
    assert h.steps == h.diverged_at and all(math.isfinite(v) for v in h.step_loss)
    assert f"at step {h.diverged_at}" in h.message and "smaller learning rate" in h.message
    assert capsys.readouterr().out.count(h.message) == 1


def test_torch_and_engine_diverge_at_the_same_step():
    # Both frameworks in float64 from the same weights: the same arithmetic blows up at
    # the same step.
    a, b = huge_lr_run("torch", "stop"), huge_lr_run("engine", "stop")
    assert a.diverged_at == b.diverged_at


# ---- clipping ------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["torch", "engine"])
def test_clipping_caps_the_norm_of_the_update(kind):
    # With clip_norm = c, every SGD step moves the parameters by lr * (clipped
    # gradient), whose norm is at most c (torch's 1e-6 guard puts it just below).
    # grad_norm records the norm before clipping, which here is far above c.
    X, y = make_data()
    model = torch_net() if kind == "torch" else nn.from_torch(torch_net())
    params = (lambda: [p.detach().numpy().copy() for p in model.parameters()]) if kind == "torch" \
        else (lambda: [p.data.copy() for p in model.parameters()])
    c, lr = 0.01, 1.0
    moved = []
    for step in range(3):
        before = params()
        h = fit(model, X * 50, y, epochs=1, batch_size=N, lr=lr, optimizer="sgd", clip_norm=c,
                seed=step, progress=False)
        after = params()
        moved.append(math.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(after, before))) / lr)
        assert h.grad_norm[0] > 10 * c, "the recorded norm must be the norm before clipping"
    assert all(c * (1 - 1e-4) < m <= c * (1 + 1e-9) for m in moved), moved


def test_clipping_leaves_small_gradients_alone():
    X, y = make_data()
    kw = dict(epochs=2, batch_size=60, lr=0.01, progress=False)
    a = fit(torch_net(), X, y, **kw)
    b = fit(torch_net(), X, y, clip_norm=1e6, **kw)
    assert a.step_loss == b.step_loss


# ---- evaluate ------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["torch", "engine"])
def test_evaluate_matches_sklearn_and_a_manual_count(kind):
    # Batched in chunks of 50 rows (not a divisor of 240): a failure means a batch lost
    # or counted twice, a sum where a mean belongs, or log-probabilities of the wrong
    # class.
    X, y = make_data()
    tmodel = torch_net()
    fit(tmodel, X, y, epochs=2, batch_size=60, lr=0.01, progress=False)
    model = tmodel if kind == "torch" else nn.from_torch(tmodel)
    with torch.no_grad():
        logits = tmodel(torch.from_numpy(X))
    proba = logits.softmax(dim=1).numpy()
    result = evaluate(model, X, y, batch_size=50)
    assert set(result) == {"log_loss", "error"}
    assert isinstance(result["log_loss"], float) and isinstance(result["error"], float)
    assert math.isclose(result["log_loss"], log_loss(y, proba, labels=range(K)), rel_tol=1e-10)
    assert result["error"] == np.mean(proba.argmax(axis=1) != y)


def test_evaluate_restores_the_training_mode():
    model = torch_net()
    model.train()
    evaluate(model, *make_data())
    assert model.training


# ---- validation ----------------------------------------------------------------------

@pytest.mark.parametrize("change, message", [
    (dict(X=np.zeros((N - 1, P))), r"X has N = 239 rows but y has 240 labels"),
    (dict(X=np.zeros(N)), r"X must be a matrix \(N, P\)"),
    (dict(y=np.zeros((N, 1), dtype=int)), r"y must be a vector \(N,\)"),
    (dict(y=np.full(N, 4)), r"labels must lie in 0..3 \(the model has K = 4 outputs\); "
                            r"240 do not, the first is 4"),
    (dict(y=-np.ones(N, dtype=int)), r"labels must lie in 0..3"),
    (dict(y=np.zeros(N)), r"integer class labels"),
    (dict(lr=0), r"learning rate must be a positive number, got lr=0"),
    (dict(lr=-0.1), r"learning rate must be a positive number"),
    (dict(batch_size=0), r"batch_size must be a positive integer, got batch_size=0"),
    (dict(batch_size=2.5), r"batch_size must be a positive integer"),
    (dict(epochs=0), r"epochs must be a positive integer"),
    (dict(optimizer="rmsprop"), r"optimizer must be one of \('adam', 'sgd'\)"),
    (dict(on_nonfinite="ignore"), r"on_nonfinite must be one of"),
    (dict(clip_norm=0), r"clip_norm must be positive"),
])
def test_fit_rejects_bad_inputs_with_clear_messages(change, message):
    X, y = make_data()
    args = dict(X=X, y=y, epochs=1, batch_size=32, lr=0.01, progress=False) | change
    with pytest.raises(ValueError, match=message):
        fit(torch_net(), **args)


def test_evaluate_validates_too():
    X, y = make_data()
    with pytest.raises(ValueError, match="rows but y has"):
        evaluate(torch_net(), X[:-1], y)
    with pytest.raises(ValueError, match=r"labels must lie in 0..3"):
        evaluate(nn.from_torch(torch_net()), X, y + 1)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        evaluate(torch_net(), X, y, batch_size=-1)


def test_other_models_are_refused():
    with pytest.raises(TypeError, match="torch.nn.Module or a lecture_lib.nn.Module"):
        fit(lambda x: x, *make_data(), epochs=1, batch_size=10, lr=0.1)


def test_softmax_network_has_the_lecture_parameter_counts():
    # The lecture's networks on MNIST: 101,770; 118,282; 134,794 parameters.
    counts = [sum(p.numel() for p in train.softmax_network(h).parameters())
              for h in ([128], [128, 128], [128, 128, 128])]
    assert counts == [101_770, 118_282, 134_794]


def test_in_jupyter_the_bar_is_one_display_updated_in_place():
    # In a kernel, tqdm writes "\r<state>" many times; the stored notebook (and the
    # book) must keep only the final state, not one line per update. A fake display
    # stands in for IPython's.
    class Handle:
        def __init__(self):
            self.shown = []

        def update(self, data, raw):
            self.shown.append(data["text/plain"])

    handle = Handle()
    line = progress._NotebookLine(display=lambda data, raw, display_id: handle)
    from tqdm import tqdm
    for _ in tqdm(range(3), file=line, desc="demo", ncols=60, mininterval=0):
        pass
    assert handle.shown and all("\r" not in s and "\n" not in s for s in handle.shown)
    assert "demo" in handle.shown[-1] and "3/3" in handle.shown[-1] and "█" in handle.shown[-1]
