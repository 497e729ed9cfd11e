"""The grader's references and comparators of chapters 4 to 11 (coursetools.references):
the instructor's answers pass, typical wrong answers fail with a verdict that says what
is wrong, and forged or malformed records fail without crashing the grader. Answers are
recorded as the student's kernel records them (tests/recorded.py), without a kernel;
the references that train a network are tested through their comparators with
stand-in references (the bench grades the real ones)."""
import copy
import math

import numpy as np
import pandas as pd

from coursetools.references import COMPARATORS, REFERENCES
from coursetools.references._gradcheck import predicted_bottoms
from lecture_lib.train import History
from numerical_gradient_answers import central, forward, restore_by_arithmetic
from recorded import judge


def passes(source, **functions):
    passed, lines, tampering = judge(source, **functions)
    assert passed and tampering is None, lines
    return lines


def fails(source, hint, **functions):
    passed, lines, _ = judge(source, **functions)
    assert not passed and hint in lines[-1], lines
    return lines[-1]


# ---- chapter 4 ---------------------------------------------------------------------
CENTRAL = ('check.record("numerical_gradient", numerical_gradient,\n'
           '             shapes=((), (2, 3, 4), (300,)), h=1e-5, rng=11)')


def test_central_differences():
    passes(CENTRAL, numerical_gradient=central)
    fails(CENTRAL, "against central differences", numerical_gradient=forward)
    fails(CENTRAL, "x is not restored exactly", numerical_gradient=restore_by_arithmetic)
    fails(CENTRAL, "shape", numerical_gradient=lambda f, x, h: np.zeros(3))


def test_predicted_bottoms_within_an_order_of_magnitude():
    src = 'check.record("predicted_bottoms", predicted_bottoms)'
    passes(src, predicted_bottoms=predicted_bottoms)
    passes(src, predicted_bottoms=lambda: 3 * predicted_bottoms())     # constants
    wrong = predicted_bottoms()
    wrong.loc["central, float64", "smallest relative error"] = 2.0 ** -26
    fails(src, "'central, float64', 'smallest relative error'",
          predicted_bottoms=lambda: wrong)
    nan = predicted_bottoms()
    nan.loc["forward, float32", "best h"] = np.nan
    fails(src, "is nan", predicted_bottoms=lambda: nan)
    fails(src, "lacks the row", predicted_bottoms=lambda: predicted_bottoms().iloc[:3])
    fails(src, "is not a DataFrame",
          predicted_bottoms=lambda: predicted_bottoms().to_numpy())
    fails(src, "unsupported",
          predicted_bottoms=lambda: predicted_bottoms().map(lambda v: "small"))


# ---- chapter 5 ---------------------------------------------------------------------
def maximum_with(tie_to_x):
    from lecture_lib.autodiff import make_node

    def maximum(x, y):
        def _backward(g):
            wins = x.data >= y.data if tie_to_x else x.data > y.data
            if x.requires_grad:
                x.add_grad(g * wins)
            if y.requires_grad:
                y.add_grad(g * ~wins)
        return make_node(np.maximum(x.data, y.data), (x, y), "maximum", _backward)
    return maximum


def test_engine_maximum_and_the_counts_of_a_step():
    src = ('check.record("engine_maximum", maximum, rng=7, ties=True, relu=True,\n'
           '             shapes=(((3, 4), (4,)), ((2, 3), ())))')
    passes(src, maximum=maximum_with(tie_to_x=True))
    fails(src, "input 3 of 4", maximum=maximum_with(tie_to_x=False))   # the ties
    work = REFERENCES["step_work"]((100,))
    src = 'check.record("step_work", step_work, cases=((100,), (7,)))'
    passes(src, step_work=lambda N: REFERENCES["step_work"]((N,)))
    fails(src, "step_work(7)", step_work=lambda N: work)                # N ignored
    fails(src, "is not a Series", step_work=lambda N: dict(work))


# ---- chapters 6 and 8 --------------------------------------------------------------
def test_depths_and_norms():
    src = 'check.record("depth_to_exceed", d, cases=((2.0, 1024.0), (1.1, 1e6)))'
    passes(src, d=lambda f, T: math.floor(math.log(T) / math.log(f)) + 1)
    fails(src, "which is wrong", d=lambda f, T: math.ceil(math.log(T) / math.log(f)))
    fails(src, "is nan", d=lambda f, T: math.nan)
    from lecture_lib.autodiff import Tensor, softmax_cross_entropy

    def norms(model, X, y, reset=True):
        if reset:
            model.zero_grad()
        softmax_cross_entropy(model(Tensor(np.asarray(X, np.float64))), y).backward()
        return np.array([np.linalg.norm(m.W.grad) for m in model.layers
                         if hasattr(m, "W")])
    src = 'check.record("layer_grad_norms", norms, seeds=(5, 6))'
    passes(src, norms=norms)
    fails(src, "reset the gradients", norms=lambda m, X, y: norms(m, X, y, False))


def test_initializer_statistics():
    src = ('check.record("initializer", he, kind="he_normal",\n'
           '             cases=((200, 700, 3), (400, 400, 5)))')
    passes(src, he=lambda i, o, rng: rng.normal(0, np.sqrt(2 / i), (i, o)))
    fails(src, "variance of W", he=lambda i, o, rng: rng.normal(0, np.sqrt(2 / o), (i, o)))
    fails(src, "rng argument",
          he=lambda i, o, rng: np.random.normal(0, np.sqrt(2 / i), (i, o)))
    fails(src, "shape", he=lambda i, o, rng: rng.normal(0, np.sqrt(2 / i), (o, i)))
    src = src.replace("he_normal", "glorot_uniform")
    a = lambda i, o: np.sqrt(6 / (i + o))                                  # noqa: E731
    passes(src, he=lambda i, o, rng: rng.uniform(-a(i, o), a(i, o), (i, o)))
    fails(src, "distribution", he=lambda i, o, rng: rng.normal(0, a(i, o) / np.sqrt(3),
                                                              (i, o)))


# ---- chapter 7 ---------------------------------------------------------------------
def clip(grads, c):
    norm = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads))
    factor = min(1.0, c / norm) if norm > 0 else 1.0
    return [g * factor for g in grads], norm


def test_clipping():
    src = ('check.record("clip_by_global_norm", clip, dtype="float32", rng=7,\n'
           '             cases=((((30, 8), (8,)), 1.0, 3.0), (((3, 2),), 0.0, 1.0)))')
    passes(src, clip=clip)

    def in_place(grads, c):
        clipped, norm = clip(grads, c)
        for g, h in zip(grads, clipped):
            g[...] = h
        return grads, norm
    fails(src, "were modified", clip=in_place)
    fails(src, "the norm", clip=lambda g, c: (clip(g, c)[0], clip(g, c)[1] ** 2))
    fails(src, "not a sequence", clip=lambda g, c: clip(g, c)[0])


LR_COLUMNS = ["diverged at", "training loss, epoch 1", "validation error", "trained"]


def lr_frame(rows):
    return pd.DataFrame(rows, columns=LR_COLUMNS,
                        index=pd.Index([0.001, 0.003, 0.01, 0.03, 0.1], name="lr"))


def test_the_learning_rate_table_is_judged_row_by_row():
    right = lr_frame([[None, 517.0, 0.27, True], [None, 392.0, 0.28, True],
                      [None, 900.0, 0.7, False], [3, math.nan, 0.9, False],
                      [1, math.nan, 0.9, False]])
    src = 'check.record("lr_outcomes", lrs)'
    passes(src, lrs=right)
    forged = right.copy()
    forged["trained"] = [True, True, True, False, False]               # 0.01 "trains"
    fails(src, "lr 0.01", lrs=forged)
    unrun = right.copy()
    unrun.loc[0.003, "validation error"] = 0.9                          # not trained
    fails(src, "lr 0.003", lrs=unrun)
    fails(src, "the columns", lrs=right.rename(columns={"trained": "ok"}))
    fails(src, "unsupported", lrs=right.map(lambda v: "yes"))


def test_a_grid_the_grader_runs_is_compared_with_its_run():
    from coursetools.verdicts import decode
    from lecture_lib.check._codec import encode
    ref = lr_frame([[None, 517.0, 0.27, True]] * 5).iloc[:1]
    got = decode(encode(ref))
    judge_table = COMPARATORS["lr_table"]
    assert judge_table(got, ref, ((0.001,),), {}) is None
    got.loc[0.001, "validation error"] = 0.4
    assert "the grader's run" in judge_table(got, ref, ((0.001,),), {})


def test_the_floor_errors_are_judged_in_a_band():
    src = 'check.record("std_floor_errors", (floored_error, plain_error))'
    passes(src, floored_error=0.1, plain_error=0.11)
    fails(src, "changes little", floored_error=0.1, plain_error=0.2)
    fails(src, "below 30%", floored_error=0.5, plain_error=0.51)
    fails(src, "is nan", floored_error=math.nan, plain_error=0.1)


# ---- chapters 9 and 10 -------------------------------------------------------------
def test_log_loss_clips_at_the_dtypes_eps():
    src = ('check.record("log_loss_and_error", f, cases=((30, 10), (1, 4)),\n'
           '             dtype="float32", rng=7)')

    def f(probs, y, eps=None):
        eps = eps or np.finfo(probs.dtype).eps
        p = np.clip(probs[np.arange(len(y)), y], eps, 1 - eps)
        return float(-np.log(p).mean()), float(np.mean(probs.argmax(1) != y))
    passes(src, f=f)
    fails(src, "input 3 of 3", f=lambda p, y: f(p, y, eps=1e-15))


def history(first, second, last, batches, epochs):
    steps = [first, second] + [1.0] * (batches * epochs - 2)
    return History(step_loss=steps, epoch_loss=[2.0] * (epochs - 1) + [last],
                   batches_per_epoch=batches)


def test_training_histories_start_where_the_grader_says():
    judge_runs = COMPARATORS["batch_runs"]
    ref = {"history_100": 2.31, "reference": 2.30}
    from lecture_lib.check._drivers import drive
    from coursetools.verdicts import decode
    from lecture_lib.check._codec import encode

    def recorded(*runs):
        return decode(encode(drive("batch_runs", runs, ())))
    right = recorded(history(2.31, 2.0, 0.3, 600, 2), history(2.30, 2.2, 1.9, 6, 2))
    assert judge_runs(right, ref, (), {}) is None
    other_start = recorded(history(2.5, 2.0, 0.3, 600, 2), history(2.3, 2.2, 1.9, 6, 2))
    assert "first loss" in judge_runs(other_start, ref, (), {})
    one_epoch = recorded(history(2.31, 2.0, 0.3, 600, 1), history(2.3, 2.2, 1.9, 6, 2))
    assert "epochs" in judge_runs(one_epoch, ref, (), {})
    assert "not (history_100" in judge_runs([1.0], ref, (), {})

    judge_sgd = COMPARATORS["sgd_runs"]
    ref = {"SGD, lr 0.01": 2.29, "SGD, lr 0.5": 2.0, "Adam, lr 0.01": 1.8}
    lasts = {"SGD, lr 0.01": 2.2, "SGD, lr 0.5": 0.8, "Adam, lr 0.01": 0.3}
    runs = {n: history(2.3, ref[n], lasts[n], 6, 10) for n in ref}
    got = decode(encode(drive("sgd_runs", runs, ())))
    assert judge_sgd(got, ref, (), {}) is None
    runs["SGD, lr 0.5"] = history(2.3, 2.1, 0.8, 6, 10)
    assert "SGD, lr 0.5: second loss" in judge_sgd(
        decode(encode(drive("sgd_runs", runs, ()))), ref, (), {})


def test_scaled_copies():
    import torch

    def scaled_copy(net, c, in_place=False):
        out = net if in_place else copy.deepcopy(net)
        with torch.no_grad():
            out[-1].weight.mul_(c)
            out[-1].bias.mul_(c)
        return out
    src = 'check.record("scaled_copy", s, seed=1, cases=(((64, 32), 3.0),))'
    passes(src, s=scaled_copy)
    fails(src, "return a copy", s=lambda n, c: scaled_copy(n, c, in_place=True))


def test_the_learning_rate_choice():
    judge_choice = COMPARATORS["lr_choice"]
    ref = {"log_loss": 0.28, "error": 0.08}
    scores = {"0.001": {"log_loss": 0.5, "error": 0.15}, "0.01": dict(ref),
              "0.1": {"log_loss": 0.4, "error": 0.12}}
    assert judge_choice([scores, 0.01], ref, (), {}) is None
    assert "lowest validation error" in judge_choice([scores, 0.1], ref, (), {})
    other = dict(scores, **{"0.01": {"log_loss": 0.28, "error": 0.09}})
    assert "the grader's run" in judge_choice([other, 0.01], ref, (), {})
    assert "keyed" in judge_choice([{"0.01": ref}, 0.01], ref, (), {})


# ---- chapter 11 --------------------------------------------------------------------
def test_residual_networks():
    from coursetools.references._residual import residual_backward
    src = ('check.record("residual_backward", rb,\n'
           '             cases=((2, 7, 9, 5, 10, 4), (6, 12, 25, 8, 10, 4)))')
    passes(src, rb=residual_backward)

    def plain(layers, X, y):                # without the skip's identity term
        import torch
        ts = [(torch.tensor(W, requires_grad=True), torch.tensor(b)) for W, b in layers]
        q = torch.from_numpy(X) @ ts[0][0] + ts[0][1]
        for W, b in ts[1:-1]:
            q = torch.relu(q) @ W + b
        z = torch.relu(q) @ ts[-1][0] + ts[-1][1]
        torch.nn.functional.cross_entropy(z, torch.from_numpy(y)).backward()
        return [W.grad.numpy() for W, _ in ts]
    fails(src, "relative error", rb=plain)
    src = ('check.record("block_mean_squares", bms,\n'
           '             cases=((3, 24, 4, True, 300), (5, 32, 9, False, 300)))')
    from coursetools.references._residual import block_mean_squares
    passes(src, bms=block_mean_squares)
    fails(src, "changed the network", bms=lambda net, X: block_mean_squares(
        net.double(), X))
