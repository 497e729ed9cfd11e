"""Write the self-checks' stored values, ``lecture_lib/check/expected.json``, from the
grader's references (``coursetools.references``).

    python -m coursetools.expected          # rewrite the file
    python -m coursetools.expected --check  # exit 1 if the file is stale

For each self-check: the expected answer for each of its fixed inputs, and the answers
of the typical mistakes it diagnoses. ``lecture_lib`` then holds values, not code.
"""
from __future__ import annotations

import argparse
import json
import sys

from lecture_lib.check import _twolayer as tl
from lecture_lib.check import _gradients as ch2
from lecture_lib.check._cases import (given, layer_steps, logistic_data, one_argument,
                                      tanh_nodes, twolayer_networks)
from lecture_lib.check._counting import COUNT_CASES
from lecture_lib.check._stored import EXPECTED_FILE

from .references import (MISTAKES, REFERENCES, parameter_count, stored_entries,
                         twolayer_backward)
from .references._entries import entry as _entry

__all__ = ["table", "main"]


def _twolayer(layer2):
    nets = twolayer_networks(tl.CASES, tl.SEED)
    mistakes = {name: (lambda a, f=f: f(a, layer2=layer2))
                for name, f in MISTAKES["twolayer"].items()
                if name != "relu network" or layer2 == "tanh"}
    return _entry(nets, lambda a: twolayer_backward(*a, layer2=layer2), mistakes)


def _bound(task):
    return {name: (lambda a, f=f: f(a)) for name, f in MISTAKES[task].items()}


def _steps(step, answer, mistakes=None):
    return _entry(layer_steps(tl.CASES, tl.SEED, step), lambda a: answer(*a), mistakes)


def table():
    """{self-check key: {"expected": [...], "mistakes": {...}}}, encoded: chapters 1
    to 3 here, the others from ``coursetools.references``."""
    relu = {"no mask": lambda a: a[0], "mask from dh": lambda a: a[0] * (a[0] > 0),
            "mask alone": lambda a: (a[1] > 0).astype(float),
            "relu of dh": lambda a: a[0].clip(min=0)}
    memory = {"outer product": lambda a: (a[0] * a[1] * a[2], 0),
              "K1 slices": lambda a: (a[0] * a[0] * a[1] * a[2], 0),
              "entries": lambda a: (a[1] * a[0] * a[1], 0),
              "bits": lambda a: (a[1] * a[0] * a[1] * a[2] * 8, 0)}
    return {
        "gradients/relu": _twolayer("relu"),
        "gradients/tanh": _twolayer("tanh"),
        "grad_W1": _steps("grad_W", lambda X, dq: X.T @ dq),
        "grad_W2": _steps("grad_W2", lambda h, dq: h.T @ dq),
        "grad_h1": _steps("grad_h", lambda dq, W: dq @ W.T),
        "grad_b1": _steps("grad_b", lambda dq: dq.sum(axis=0)),
        "relu_backward": _steps("relu_backward", lambda dh, q: dh * (q > 0), relu),
        "jacobian_memory": _entry(given(tl.MEMORY_CASES), lambda a: (
            a[1] * a[0] * a[1] * a[2], a[0] * a[1] * a[2]), memory),
        "logreg_grads": _entry(logistic_data(ch2.LOGREG_CASES, ch2.SEED),
                               REFERENCES["logreg"]),
        "tanh_backward": _entry(tanh_nodes(ch2.TANH_SHAPES, ch2.SEED),
                                REFERENCES["tanh_backward"], _bound("tanh_backward")),
        "reused_node": _entry(given(ch2.REUSE_POINTS), REFERENCES["reused_node"],
                              _bound("reused_node")),
        "parameter_count": _entry(one_argument(COUNT_CASES),
                                  lambda a: parameter_count(*a),
                                  {name: (lambda a, f=f: f(a)) for name, f in
                                   MISTAKES["parameter_count"].items()}),
    } | stored_entries()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m coursetools.expected",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if the stored file differs from the references")
    args = parser.parse_args(argv)
    text = json.dumps(table(), indent=0, sort_keys=True) + "\n"
    if args.check:
        same = EXPECTED_FILE.is_file() and EXPECTED_FILE.read_text() == text
        print(f"{EXPECTED_FILE}: {'up to date' if same else 'STALE'}")
        return 0 if same else 1
    EXPECTED_FILE.write_text(text)
    print(f"{EXPECTED_FILE}: {len(text)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
