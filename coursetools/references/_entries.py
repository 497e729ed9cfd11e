"""A self-check's stored entry: the expected answer for each of its fixed inputs and
the answers of the typical mistakes it diagnoses, encoded as ``expected.json`` holds
them (``lecture_lib.check._stored`` reads them back)."""
from __future__ import annotations

from lecture_lib.check._codec import encode

__all__ = ["entry"]


def entry(inputs, answer, mistakes=None):
    """{"expected": [answer(a) for a in inputs], "mistakes": {name: [...]}}, encoded;
    `mistakes` maps a mistake's name to a function of one input."""
    return {"expected": [encode(answer(a)) for a in inputs],
            "mistakes": {name: [encode(fn(a)) for a in inputs]
                         for name, fn in (mistakes or {}).items()}}
