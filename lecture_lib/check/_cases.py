r"""The inputs of the graded tasks: made from seeds, the same in the student's kernel
and in the grader.

A hidden test calls :func:`lecture_lib.check.record`, which runs the student's function
on the inputs of one task and shows the answers; the grader (``coursetools.verdicts``,
outside the student's process) makes the same inputs from the same options with this
module, computes its own references and compares. Nothing here is an answer: only
random arrays and the chapters' data.

``TASKS[name](**options)`` returns the list of argument tuples of the task ``name``
(chapters 4 to 11's are made in ``_tasks``).
Shapes in the lecture's letters: X (N, P), W1 (P, K1), W2 (K1, K2), beta (K2,), y (N,).
"""
from __future__ import annotations

import functools

import numpy as np

from . import _tasks

__all__ = ["TASKS", "inputs", "mnist_train"]


def _network(N, P, K1, K2, rng):
    """params (W1 (P, K1), b1, W2 (K1, K2), b2, beta (K2,), a), X (N, P), y (N,)."""
    from lecture_lib import twolayer
    params = twolayer.init_params(P, K1, K2, rng=rng)
    X = rng.normal(size=(N, P))
    y = np.tile([0.0, 1.0], N)[:N]
    rng.shuffle(y)
    return params, X, y


def twolayer_networks(cases, rng, **_):
    """(params, X, y) of a random network per (N, P, K1, K2) in `cases`."""
    rng = np.random.default_rng(rng)
    return [_network(*case, rng) for case in cases]


@functools.lru_cache(maxsize=1)
def mnist_train():
    """MNIST's training images and labels, read once per process (the grader judges a
    whole class in one)."""
    from lecture_lib.data import load_mnist
    return load_mnist("train")


@functools.lru_cache(maxsize=1)
def _chapter_batch():
    from lecture_lib import twolayer
    from lecture_lib.data import binary_task
    X_all, digits = mnist_train()
    X, y = binary_task(X_all, digits, n=8)
    return twolayer.init_params(X.shape[1], 32, 16, rng=0), X, y


def twolayer_chapter_batch(**_):
    """Chapter 3's network and batch: the first 8 threes and fives of MNIST's training
    set, X (8, 784), and init_params(784, 32, 16, rng=0)."""
    params, X, y = _chapter_batch()
    return [({k: v.copy() for k, v in params.items()}, X.copy(), y.copy())]


def layer_steps(cases, rng, step, **_):
    """The arguments of one backward step per (N, P, K1, K2) in `cases`: ``grad_W``
    (X (N, P), dq1 (N, K1)), ``grad_W2`` (h1 (N, K1) >= 0, dq2 (N, K2)), ``grad_h``
    (dq2 (N, K2), W2 (K1, K2)), ``grad_b`` (dq1 (N, K1),), ``relu_backward``
    (dh (N, K1), q (N, K1))."""
    rng = np.random.default_rng(rng)
    out = []
    for N, P, K1, K2 in cases:
        if step == "grad_W":
            out.append((rng.normal(size=(N, P)), rng.normal(size=(N, K1)) / N))
        elif step == "grad_W2":
            out.append((np.maximum(rng.normal(size=(N, K1)), 0),
                        rng.normal(size=(N, K2)) / N))
        elif step == "grad_h":
            out.append((rng.normal(size=(N, K2)), rng.normal(size=(K1, K2))))
        elif step == "grad_b":
            out.append((rng.normal(size=(N, K1)) / N,))
        elif step == "relu_backward":
            out.append((rng.normal(size=(N, K1)), rng.normal(size=(N, K1))))
        else:
            raise ValueError(f"unknown step {step!r}")
    return out


def given(cases, **_):
    """The cases themselves, as argument tuples (integer inputs, e.g. sizes)."""
    return [tuple(case) for case in cases]


def one_argument(cases, **_):
    """Each case as the one argument of the call (a list: e.g. layer sizes)."""
    return [(list(case),) for case in cases]


def no_input(**_):
    """One call without arguments (the recorded thing is a value, not a function)."""
    return [()]


def logistic_points(cases, rng, **_):
    """(W (P, 1), b, x (P,), y) per (P, y) in `cases`: one observation of logistic
    regression."""
    rng = np.random.default_rng(rng)
    return [(rng.normal(size=(P, 1)), float(rng.normal()), rng.normal(size=P), float(y))
            for P, y in cases]


def logistic_data(cases, rng, **_):
    """(W (P, 1), b, X (N, P), y (N,)) per (N, P) in `cases`, y half ones."""
    rng = np.random.default_rng(rng)
    out = []
    for N, P in cases:
        W, b = rng.normal(size=(P, 1)), float(rng.normal())
        X = rng.normal(size=(N, P))
        y = np.tile([0.0, 1.0], N)[:N]
        rng.shuffle(y)
        out.append((W, b, X, y))
    return out


def logistic_mnist(n, rng, **_):
    """(W (784, 1) ~ N(0, 0.01^2), b = 0.1, X (n, 784), y (n,)): the first n threes and
    fives of MNIST's training set."""
    from lecture_lib.data import binary_task
    X_all, digits = mnist_train()
    X, y = binary_task(X_all, digits, n=n)
    return [(np.random.default_rng(rng).normal(0, 0.01, size=(784, 1)), 0.1, X, y)]


def tanh_nodes(shapes, rng, **_):
    """(out = tanh(u), upstream) of each shape, u ~ N(0, 1.5^2)."""
    rng = np.random.default_rng(rng)
    return [(np.tanh(rng.normal(size=shape) * 1.5), rng.normal(size=shape))
            for shape in shapes]


def grids(grids, **_):
    """Each grid (of learning rates, say) as the one argument of a call."""
    return [(tuple(grid),) for grid in grids]


def rows_of(rows, **_):
    """The row indices to record of arrays too big to record whole."""
    return [(tuple(rows),)]


TASKS = {"twolayer": twolayer_networks,
         "twolayer_chapter_batch": twolayer_chapter_batch,
         "layer_step": layer_steps, "jacobian_memory": given,
         "parameter_count": one_argument, "n_256_64": no_input,
         "initial_losses": given, "input_grad": logistic_points,
         "logreg": logistic_data, "logreg_mnist": logistic_mnist,
         "tanh_backward": tanh_nodes, "reused_node": given, "descent": given,
         # chapter 4
         "numerical_gradient": _tasks.functions_at,
         "softmax_ce": _tasks.logit_batches, "softmax_ce_grad": _tasks.logit_batches,
         "predicted_bottoms": no_input,
         # chapter 5
         "engine_maximum": _tasks.engine_pairs, "step_work": given,
         # chapter 6
         "depth_to_exceed": given, "layer_grad_norms": _tasks.engine_mlps,
         "layer_grad_norms_mnist": _tasks.mnist_engine_mlp, "measured_growth": given,
         # chapter 7
         "clip_by_global_norm": _tasks.gradient_lists, "lr_table": grids,
         "lr_outcomes": no_input,
         "standardized_rows": rows_of, "std_floor_errors": no_input,
         # chapter 8
         "predicted_var_q5": no_input, "measured_var_q5": given,
         "initializer": _tasks.initializer_draws,
         # chapters 9 and 10
         "log_loss_and_error": _tasks.probabilities, "batch_runs": no_input,
         "sgd_runs": no_input, "best_of": _tasks.binomial_draws,
         "scaled_copy": _tasks.torch_networks, "lr_choice": no_input,
         # chapter 11
         "residual_backward": _tasks.residual_problems,
         "block_mean_squares": _tasks.residual_networks}


def inputs(task, **options):
    """The argument tuples of `task` for `options` (ValueError for an unknown task)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    return TASKS[task](**options)
