"""Self-check for counting the parameters of a fully connected network (chapter 1).

It compares with stored counts for its fixed networks (``expected.json``, no counting
code here) and names the typical mistake by the stored counts of the mistakes."""
from __future__ import annotations

from ._base import CheckFailed, ok
from ._stored import stored

__all__ = ["parameter_count", "COUNT_CASES"]

#: the self-check's networks, widths (P, K1, ..., K)
COUNT_CASES = ((784, 128, 10), (784, 128, 128, 10), (3, 5, 2), (10, 1))
_HINTS = {
    "weights only": "That is the number of weights alone: each layer also has one bias "
                    "per output unit.",
    "input biases": "The biases belong to the layer's outputs (n_out per layer), not "
                    "its inputs.",
    "no output layer": "The output layer has weights and biases too.",
    "no output bias": "The output layer has weights and biases too.",
}


def parameter_count(student_fn):
    """Check ``student_fn(sizes) -> int``: the number of parameters of a fully connected
    network with layer widths ``sizes = (P, K1, ..., K)``, weights and biases included.
    """
    table = stored("parameter_count")
    for n, sizes in enumerate(COUNT_CASES):
        expected = int(table["expected"][n])
        got = student_fn(list(sizes))
        if got == expected:
            continue
        hint = next((" " + h for m, h in _HINTS.items()
                     if got == int(table["mistakes"][m][n])), "")
        raise CheckFailed(f"sizes {list(sizes)}: expected {expected:,} parameters, got "
                          f"{got!r}.{hint}")
    ok(f"parameter counts correct for {len(COUNT_CASES)} networks, e.g. "
       f"{list(COUNT_CASES[0])}: {int(table['expected'][0]):,}")
