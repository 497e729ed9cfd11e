r"""The grader's references of chapters 9 and 10, "MNIST end to end" and "Validation
and test": the log loss and error rate, the first steps of the chapters' training
runs, the winner's curse, scaling a network's last layer, a learning rate chosen on
validation.

Shapes: probs (N, C) rows summing to 1, y (N,) labels; X (N, P) images, P = 784.
"""
from __future__ import annotations

import copy
import functools
import math

import numpy as np

from lecture_lib.check import _metrics as metrics_check
from lecture_lib.check import _selection as selection_check
from lecture_lib.check._cases import given, mnist_train
from lecture_lib.check._tasks import chapter7_data, chapter_start_128, probabilities

from ..comparing import close, compare, number
from ._entries import entry

__all__ = ["log_loss_and_error", "first_losses", "expected_best_of",
           "lr_0_01_scores"]


# ---- chapter 9: the lecture's aggregation ------------------------------------------
def log_loss_and_error(probs, y):
    """(mean -log p_true clipped to [eps, 1 - eps] of probs' dtype, error rate)."""
    eps = np.finfo(probs.dtype).eps
    p_true = np.clip(probs[np.arange(len(y)), y], eps, 1 - eps).astype(np.float64)
    return float(-np.log(p_true).mean()), float(np.mean(probs.argmax(axis=1) != y))


def _loss_mistakes():
    """{mistake: function(probs, y) -> log loss}: the typical wrong log losses."""
    def true_p(p, y, low=None, high=None):
        eps = np.finfo(p.dtype).eps
        return np.clip(p[np.arange(len(y)), y].astype(np.float64), low or eps,
                       high or 1)

    def binary(p, y):
        eps = np.finfo(p.dtype).eps
        onehot, c = np.eye(p.shape[1])[y], np.clip(p, eps, 1 - eps)
        return float(-(onehot * np.log(c) + (1 - onehot) * np.log(1 - c))
                     .sum(axis=1).mean())
    loss = lambda p, y: log_loss_and_error(p, y)[0]                # noqa: E731
    return {"no minus": lambda p, y: -loss(p, y),
            "summed": lambda p, y: loss(p, y) * len(y),
            "over all entries": lambda p, y: loss(p, y) / p.shape[1],
            "predicted class": lambda p, y: float(-np.log(np.clip(
                p.max(axis=1).astype(np.float64), np.finfo(p.dtype).eps, 1)).mean()),
            "binary": binary,
            "log10": lambda p, y: float(-np.log10(true_p(p, y)).mean()),
            "clip 1e-15": lambda p, y: float(-np.log(true_p(
                p, y, 1e-15, 1 - 1e-15)).mean())}


# ---- chapter 9: the first steps of the training runs -------------------------------
SETUP_SEED = 0                   # chapter 9's SETUP: seed 0, batches of 10,000


@functools.lru_cache(maxsize=None)
def first_losses(batch_size, optimizer=None, lr=None):
    """The first step loss of start_128 on X_scaled (MNIST / 255) with the batches of
    ``default_rng(0).permutation``; with an optimizer and lr, the second: the loss on
    the second batch after one step on the first (torch.optim, as train.fit)."""
    import torch
    X, y = mnist_train()
    perm = np.random.default_rng(SETUP_SEED).permutation(len(y))
    batches = [(torch.from_numpy(X[perm[i:i + batch_size]]),
                torch.from_numpy(y[perm[i:i + batch_size]].astype(np.int64)))
               for i in (0, batch_size)]
    net = copy.deepcopy(chapter_start_128())
    loss = torch.nn.functional.cross_entropy(net(batches[0][0]), batches[0][1])
    if optimizer is None:
        return loss.item()
    opt = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[optimizer](
        net.parameters(), lr=lr)
    opt.zero_grad()
    loss.backward()
    opt.step()
    with torch.no_grad():
        return torch.nn.functional.cross_entropy(net(batches[1][0]),
                                                 batches[1][1]).item()


def _history(got, name, batches, steps, epochs):
    """The first loss of a recorded History ([batches per epoch, steps, epochs, first
    two step losses, last epoch's loss]) and the last epoch's, or a problem."""
    if not (isinstance(got, list) and len(got) == 5 and isinstance(got[3], list)
            and len(got[3]) == 2):
        return f"{name} is not a training history"
    counts = [number(v, name)[0] for v in got[:3]]
    if counts != [batches, steps, epochs]:
        return (f"{name}: {counts[0]} steps per epoch, {counts[1]} steps, {counts[2]} "
                f"epochs; expected {batches}, {steps} and {epochs}")
    values = [number(v, name) for v in (got[3][0], got[3][1], got[4])]
    for _, problem in values:
        if problem:
            return problem
    return [v for v, _ in values]


def _judge_batch_runs(got, ref, args, options):
    """(history_100, reference): 600 and 6 steps per epoch, 2 epochs, the first loss
    start_128's on the first batch of the seed-0 permutation; 1,200 small steps lower
    the loss far more than 12 large ones."""
    if not (isinstance(got, list) and len(got) == 2):
        return "the record is not (history_100, reference)"
    runs = []
    for h, name, size, batches in zip(got, ("history_100", "reference"),
                                      (100, 10_000), (600, 6)):
        run = _history(h, name, batches, 2 * batches, 2)
        if isinstance(run, str):
            return run
        if not abs(run[0] / ref[name] - 1) < 1e-4:
            return (f"{name}: first loss {run[0]:.5f}, expected {ref[name]:.5f}: train a "
                    f"copy of start_128 on X_scaled with SETUP's seed and batches of "
                    f"{size:,}")
        runs.append(run)
    if not runs[0][2] < 0.5 * runs[1][2]:
        return "1,200 small steps should lower the loss far more than 12 large ones"
    return None


SGD_RUNS = {"SGD, lr 0.01": ("sgd", 0.01), "SGD, lr 0.5": ("sgd", 0.5),
            "Adam, lr 0.01": ("adam", 0.01)}


def _judge_sgd_runs(got, ref, args, options):
    """runs: each of 10 epochs, its second loss the grader's one step of that
    optimizer; Adam < SGD (lr 0.5) < SGD (lr 0.01) > 1.5 after 10 epochs."""
    if not isinstance(got, dict) or set(got) != set(ref):
        return f"runs should have the keys {sorted(ref)}"
    last = {}
    for name, second in ref.items():
        run = _history(got[name], name, 6, 60, 10)
        if isinstance(run, str):
            return run
        if not abs(run[1] / second - 1) < 1e-4:
            return (f"{name}: second loss {run[1]:.5f}, expected {second:.5f}: train a "
                    f"copy of start_128 on X_scaled with this optimizer and rate")
        last[name] = run[2]
    if not last["SGD, lr 0.01"] > 1.5:
        return "SGD with lr 0.01 should barely move in 60 steps"
    if not last["Adam, lr 0.01"] < last["SGD, lr 0.5"] < last["SGD, lr 0.01"]:
        return "after 10 epochs the losses should be Adam < SGD (0.5) < SGD (0.01)"
    return None


# ---- chapter 10: the winner's curse ------------------------------------------------
def expected_best_of(p, k, n):
    r"""$\mathbb{E}[\min_j X_j] / n$ for k independent $X_j \sim \text{Binomial}(n,
    p)$, exactly: $\frac1n \sum_{c=0}^{n-1} \Pr(X > c)^k$ (the binomial
    probabilities in log space, so n may be large)."""
    c = np.arange(n + 1)
    log_factorial = np.array([math.lgamma(i + 1) for i in c])     # log c!, c = 0..n
    log_pmf = (log_factorial[n] - log_factorial - log_factorial[::-1]
               + c * math.log(p) + (n - c) * math.log1p(-p))
    pmf = np.exp(log_pmf - log_pmf.max())
    pmf /= pmf.sum()
    survival = np.clip(1.0 - np.cumsum(pmf), 0.0, 1.0)        # Pr(X > c), c = 0..n
    return float((survival[:-1] ** k).sum() / n)


def _judge_best_of(got, ref, args, options):
    """(repeats,) best scores whose mean lies within five Monte Carlo standard errors
    of the exact expectation (the draws depend on how the generator is called)."""
    p, k, n, repeats, _ = args
    where = f"best_of({p}, {k}, {n:,}, {repeats:,}, rng)"
    try:
        values = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return f"{where} is not an array of numbers"
    if values.shape != (repeats,):
        return f"{where} has shape {values.shape}, expected ({repeats},)"
    if not (np.all(np.isfinite(values)) and np.all(values >= 0)):
        return f"{where}: error rates are finite and at least 0"
    sd = max(float(np.std(values)), 1.0 / n) / math.sqrt(repeats)
    if not abs(float(np.mean(values)) - ref) < 5 * sd:
        return f"{where}: the mean best score is not the best of {k} models' scores"
    return None


# ---- chapter 10: confident and correct, a learning rate chosen on validation -------
def _judge_scaled_copy(got, ref, args, options):
    """[the copy's logits, the network's after the call, the copy is another object]:
    the logits c times the network's, as np.allclose judges float32 (rtol 1e-5, atol
    1e-6); the network unchanged."""
    if not (isinstance(got, list) and len(got) == 3):
        return "the record is not [the copy's logits, the network's, another object]"
    if number(got[2])[0] != 1.0:
        return "scaled_copy returned the network it was given: return a copy"
    return (close(got[1], ref[1], "the network's logits after the call")
            and "scaled_copy changed the network it was given"
            or close(got[0], ref[0], "the copy's logits"))


def _scaled_logits(args, **_):
    import torch
    net, c, xb = args
    with torch.no_grad():
        z = net(xb).double().numpy()
    return [c * z, z, 1.0]


@functools.lru_cache(maxsize=1)
def lr_0_01_scores():
    """train.evaluate on the validation images of a copy of start_128 trained on the
    first 10,000 fit images for 5 epochs, batches of 1,000, Adam at 0.01, seed 0."""
    from lecture_lib import train
    data, net = chapter7_data(), copy.deepcopy(chapter_start_128())
    train.fit(net, data["X_fit"][:10_000], data["y_fit"][:10_000], epochs=5,
              batch_size=1_000, lr=0.01, optimizer="adam", seed=0, progress=False)
    return train.evaluate(net, data["X_val"], data["y_val"])


def _judge_lr_choice(got, ref, args, options):
    """(lr_scores, chosen_lr): train.evaluate's dict per learning rate, lr 0.01's as
    the grader's run (error within 0.002, log loss within 1%), the choice the lowest
    validation error."""
    if not (isinstance(got, list) and len(got) == 2 and isinstance(got[0], dict)):
        return "the record is not (lr_scores, chosen_lr)"
    scores, chosen = got
    keys = {0.001: "0.001", 0.01: "0.01", 0.1: "0.1"}
    if set(scores) != set(keys.values()):
        return f"lr_scores should be keyed by the learning rates {sorted(keys)}"
    errors = {}
    for lr, key in keys.items():
        if not (isinstance(scores[key], dict)
                and set(scores[key]) == {"log_loss", "error"}):
            return f"lr_scores[{lr}] is not what train.evaluate returns"
        errors[lr], problem = number(scores[key]["error"], f"lr {lr}: the error")
        if problem or not 0 < errors[lr] < 0.9:
            return problem or f"lr {lr}: a validation error of {errors[lr]}"
    loss, problem = number(scores["0.01"]["log_loss"], "lr 0.01: the log loss")
    if problem:
        return problem
    if not (abs(errors[0.01] - ref["error"]) <= 0.002
            and abs(loss / ref["log_loss"] - 1) < 0.01):
        return (f"lr 0.01: validation error {errors[0.01]:.4f}, log loss {loss:.4f}; "
                f"the grader's run gives {ref['error']:.4f}, {ref['log_loss']:.4f}")
    if compare(chosen, min(errors, key=errors.get), "chosen_lr") is not None:
        return "chosen_lr is not the learning rate with the lowest validation error"
    return None


REFERENCES = {
    "log_loss_and_error": lambda args, **_: log_loss_and_error(*args),
    "batch_runs": lambda args, **_: {"history_100": first_losses(100),
                                     "reference": first_losses(10_000)},
    "sgd_runs": lambda args, **_: {name: first_losses(10_000, *how)
                                   for name, how in SGD_RUNS.items()},
    "best_of": lambda args, **_: expected_best_of(*args[:3]),
    "scaled_copy": _scaled_logits,
    "lr_choice": lambda args, **_: lr_0_01_scores(),
}
COMPARATORS = {"batch_runs": _judge_batch_runs, "sgd_runs": _judge_sgd_runs,
               "best_of": _judge_best_of, "lr_choice": _judge_lr_choice,
               "scaled_copy": _judge_scaled_copy}
TOLERANCES = {"log_loss_and_error": 1e-5}     # float32 probabilities, logs in float32


def stored_entries():
    cases = probabilities(metrics_check.CASES, metrics_check.SEED)
    return {
        "log_loss_and_error": entry(cases, lambda a: log_loss_and_error(*a), {
            name: (lambda a, f=f: f(*a)) for name, f in _loss_mistakes().items()}),
        "best_of": entry(given(selection_check.DEFAULT_CASES),
                         lambda a: expected_best_of(*a[:3]),
                         {"largest": lambda a: 1 - expected_best_of(1 - a[0], a[1],
                                                                    a[2])}),
    }
