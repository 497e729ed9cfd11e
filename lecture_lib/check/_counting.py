"""Self-check for counting the parameters of a fully connected network (chapter 1)."""
from __future__ import annotations

from ._base import CheckFailed, ok

__all__ = ["parameter_count"]


def _reference_count(sizes) -> int:
    return sum((n_in + 1) * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def parameter_count(student_fn,
                    cases=((784, 128, 10), (784, 128, 128, 10), (3, 5, 2), (10, 1))):
    """Check ``student_fn(sizes) -> int``: the number of parameters of a fully connected
    network with layer widths ``sizes = (P, K1, ..., K)``, weights and biases included.
    """
    for sizes in cases:
        expected = _reference_count(sizes)
        got = student_fn(list(sizes))
        if got == expected:
            continue
        weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
        biases = sum(sizes[1:])
        hint = ""
        if got == weights:
            hint = (" That is the number of weights alone: each layer also has one bias"
                    " per output unit.")
        elif got == weights + sum(sizes[:-1]):
            hint = (" The biases belong to the layer's outputs (n_out per layer), not "
                    "its inputs.")
        elif got == expected - biases + sizes[-1] or got == expected - sizes[-1]:
            hint = " The output layer has weights and biases too."
        raise CheckFailed(f"sizes {list(sizes)}: expected {expected:,} parameters, got "
                          f"{got!r}.{hint}")
    ok(f"parameter counts correct for {len(cases)} networks, e.g. {list(cases[0])}: "
       f"{_reference_count(cases[0]):,}")
