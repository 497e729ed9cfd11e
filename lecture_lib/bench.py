r"""How fast is the engine? One training step of the lecture's MNIST network, three
ways.

    python -m lecture_lib.bench [--steps 20] [--batch 10000] [--threads T]

A step is forward, backward and an Adam update of the 784-128-10 softmax network
(``X: (N, P) = (10000, 784)`` float32 rows of the real MNIST, ``W1: (P, K1)``,
``W2: (K1, K)``), by

(a) the autodiff engine (``lecture_lib.autodiff`` + ``nn`` + ``optim``); (b) numpy by
hand: the lecture's backward pass written out, and the same Adam arithmetic; (c) torch
on the CPU (``nn.Sequential``, ``F.cross_entropy``, ``torch.optim.Adam``).

All three start from the same weights (torch's initialization), use the same number of
threads, and run in alternating blocks of 5 steps, so that a busy machine slows them
alike. The median over ``--steps`` steps after warm-up is reported, with the achieved
rate of the matrix products, $4NPK_1 + 6NK_1C$ floating-point operations per step (the
forward products $XW_1$, $h_1W_2$ and the backward $h_1^\top dz$, $dz\,W_2^\top$,
$X^\top dq_1$; $\partial L/\partial X$ is not needed), against numpy's rate on those
five products alone. The last line printed is one JSON object (times in ms, ratios =
time / torch's time).

torch is imported by the functions that use it, so importing this module does not load
it.
"""
import argparse
import copy
import json
import math
import os
import time

import numpy as np

from . import autodiff as ad
from . import nn, optim
from .data import load_mnist
from .functional import softmax_cross_entropy

SIZES = (784, 128, 10)   # P, K1, K
LR, BETAS, EPS = 1e-3, (0.9, 0.999), 1e-8
BLOCK = 5                # timed steps in a row of one implementation


def set_threads(n):
    """Use ``n`` threads in torch and in numpy's BLAS; return a description of the
    latter."""
    import torch
    torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    threadpool_limits(limits=n, user_api="blas")
    blas = [f"{d['num_threads']} ({d['internal_api']})" for d in threadpool_info()
            if d["user_api"] == "blas"]
    return ", ".join(blas) or "unknown (no BLAS found by threadpoolctl)"


def cpu_seconds():
    """(CPU seconds used by all processes, by this one) so far; the first is None off
    Linux."""
    own = sum(os.times()[:2])
    try:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]
    except OSError:
        return None, own
    busy = sum(ticks) - ticks[3] - ticks[4]                 # minus idle and iowait
    return busy / os.sysconf("SC_CLK_TCK"), own


def engine_stepper(torch_model, X, y):
    model = nn.from_torch(torch_model)
    opt = optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)
    X = ad.Tensor(X)

    def step():
        opt.zero_grad()
        loss = ad.softmax_cross_entropy(model(X), y)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def numpy_stepper(torch_model, X, y):
    """The lecture's forward and backward pass, written out; Adam as torch computes
    it."""
    # W1: (P, K1), W2: (K1, K)
    W1, W2 = (torch_model[i].weight.detach().numpy().T.copy() for i in (0, 2))
    b1, b2 = (torch_model[i].bias.detach().numpy().copy() for i in (0, 2))
    params = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    N, rows, t = X.shape[0], np.arange(X.shape[0]), [0]

    def step():
        # forward: q1 = X W1 + b1, h1 = relu(q1), z = h1 W2 + b2, L = mean cross-entropy
        q1 = X @ W1
        q1 += b1
        h1 = np.maximum(q1, 0)
        z = h1 @ W2
        z += b2
        loss, dz = softmax_cross_entropy(z, y)          # dz = softmax(z), a fresh array
        # backward: dz = (softmax - onehot)/N, then the chain rule layer by layer
        dz[rows, y] -= 1
        dz /= N
        grads = {"W2": h1.T @ dz, "b2": dz.sum(axis=0)}
        dq1 = dz @ W2.T
        dq1 *= q1 > 0                                   # relu': 1 where q1 > 0, else 0
        grads["W1"], grads["b1"] = X.T @ dq1, dq1.sum(axis=0)
        # Adam
        t[0] += 1
        step_size = LR / (1 - BETAS[0] ** t[0])
        root_bc2 = math.sqrt(1 - BETAS[1] ** t[0])
        for k, p in params.items():
            g = grads[k]
            m[k] += (1 - BETAS[0]) * (g - m[k])
            v[k] *= BETAS[1]
            v[k] += (1 - BETAS[1]) * g * g
            p -= step_size * (m[k] / (np.sqrt(v[k]) / root_bc2 + EPS))
        return float(loss)
    return step


def torch_stepper(torch_model, X, y):
    import torch
    model = copy.deepcopy(torch_model)
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)
    X, y = torch.from_numpy(X), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def matmul_only(X):
    """numpy's five float32 products of one step, nothing else: the floor for (a) and
    (b)."""
    rng = np.random.default_rng(0)
    P, K1, K = SIZES
    draw = lambda *shape: rng.standard_normal(shape, np.float32)            # noqa: E731
    W1, W2 = draw(P, K1), draw(K1, K)
    h1, dz = draw(X.shape[0], K1), draw(X.shape[0], K)

    def step():
        X @ W1, h1 @ W2, h1.T @ dz, dz @ W2.T, X.T @ h1
    return step


def main(argv=None):
    import torch
    args = _parse(argv, torch.get_num_threads())
    blas = set_threads(args.threads)
    (X, y), load_ms = _timed_load()
    X, y = np.ascontiguousarray(X[:args.batch]), y[:args.batch]
    _ = torch.manual_seed(0)
    init = torch.nn.Sequential(torch.nn.Linear(SIZES[0], SIZES[1]), torch.nn.ReLU(),
                               torch.nn.Linear(SIZES[1], SIZES[2]))
    steppers = {"engine": engine_stepper(init, X, y),
                "numpy": numpy_stepper(init, X, y),
                "torch": torch_stepper(init, X, y), "matmul": matmul_only(X)}

    # Same weights, same data: the first step's losses must agree (float32 rounding
    # only).
    first = {name: steppers[name]() for name in ("engine", "numpy", "torch")}
    if max(first.values()) - min(first.values()) > 1e-4 * max(1.0, abs(first["torch"])):
        raise RuntimeError(f"the three implementations disagree on the first loss: "
                           f"{first}")
    for _ in range(args.warmup):
        for step in steppers.values():
            step()
    (all_before, own_before), wall_before = cpu_seconds(), time.perf_counter()
    ms = _time_in_blocks(steppers, args.steps)
    (all_after, own_after), wall = cpu_seconds(), time.perf_counter() - wall_before
    others = "unknown"
    if all_before is not None:
        busy = max(0.0, (all_after - all_before) - (own_after - own_before))
        others = f"{busy / (wall * os.cpu_count()):.0%}"
    _report(args, ms, first, load_ms, blas, others, torch.get_num_threads())


def _parse(argv, default_threads):
    parser = argparse.ArgumentParser(prog="python -m lecture_lib.bench",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20,
                        help="timed steps per implementation (default 20)")
    parser.add_argument("--batch", type=int, default=10_000,
                        help="rows N of MNIST per step (default 10000)")
    parser.add_argument("--warmup", type=int, default=3,
                        help="untimed steps first (default 3)")
    parser.add_argument("--threads", type=int, default=default_threads,
                        help="threads for torch and numpy's BLAS (default: torch's "
                             "default)")
    args = parser.parse_args(argv)
    if not 1 <= args.batch <= 60_000:
        parser.error(f"--batch must lie in 1..60000 (MNIST's training set), got "
                     f"{args.batch}")
    if args.steps < 1 or args.warmup < 0:
        parser.error("--steps must be at least 1 and --warmup at least 0")
    return args


def _timed_load():
    """The training set, and the median of 3 times (ms) to load its 60,000 images:
    checksum, gunzip and parse."""
    load_times = []
    for _ in range(3):
        start = time.perf_counter()
        data = load_mnist("train")
        load_times.append(time.perf_counter() - start)
    return data, 1e3 * float(np.median(load_times))


def _time_in_blocks(steppers, steps):
    """Median milliseconds per step of each stepper. Blocks of BLOCK timed steps,
    implementations in turn (in a rotating order), each block after one untimed step
    that lets the previous library's idle worker threads, still spinning for a while,
    get out of the way."""
    times = {name: [] for name in steppers}
    for i in range(math.ceil(steps / BLOCK)):
        for name in list(steppers)[i % 4:] + list(steppers)[:i % 4]:
            steppers[name]()
            for _ in range(min(BLOCK, steps - i * BLOCK)):
                start = time.perf_counter()
                steppers[name]()
                times[name].append(time.perf_counter() - start)
    return {name: 1e3 * float(np.median(t)) for name, t in times.items()}


def _report(args, ms, first, load_ms, blas, others, torch_threads):
    N, (P, K1, K) = args.batch, SIZES
    gflop = (4 * N * P * K1 + 6 * N * K1 * K) / 1e9
    labels = {"engine": "(a) autodiff engine", "numpy": "(b) numpy by hand",
              "torch": "(c) torch, CPU",
              "matmul": "numpy's 5 matmuls only"}
    print(f"One training step (forward, backward, Adam) of the {P}-{K1}-{K} softmax "
          f"network, N = {N} MNIST rows, float32")
    print(f"threads: torch {torch_threads}, numpy BLAS {blas}; other processes used "
          f"{others} of the {os.cpu_count()} CPUs while timing (more than a few % "
          f"skews the figures)")
    print(f"median of {args.steps} steps after {args.warmup} warm-up, in alternating "
          f"blocks of {BLOCK}; "
          f"first loss {first['torch']:.4f} (all three agree)")
    print(f"matrix products: {gflop:.3f} GFLOP per step")
    print(f"loading MNIST's training set (load_mnist('train'), checksums included): "
          f"{load_ms:.0f} ms, median of 3")
    print(f"{'implementation':<24}{'median ms':>10}{'vs torch':>10}{'GFLOP/s':>9}"
          f"{'of matmul rate':>16}")
    for name, label in labels.items():
        print(f"{label:<24}{ms[name]:>10.2f}{ms[name] / ms['torch']:>9.2f}x"
              f"{gflop / ms[name] * 1e3:>9.1f}{ms['matmul'] / ms[name]:>15.0%}")
    print(json.dumps({"engine_vs_torch": round(ms["engine"] / ms["torch"], 3),
                      "numpy_vs_torch": round(ms["numpy"] / ms["torch"], 3),
                      "engine_ms": round(ms["engine"], 2),
                      "torch_ms": round(ms["torch"], 2),
                      "numpy_ms": round(ms["numpy"], 2),
                      "load_train_ms": round(load_ms, 1)}))


if __name__ == "__main__":
    main()
