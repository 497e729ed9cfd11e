"""The stored expected values of the self-checks (``expected.json`` beside this file).

The self-checks hold no implementation of an exercise's answer: for their fixed inputs
they compare with stored values, and they diagnose a wrong answer by comparing it with
the stored outputs of the typical mistakes. The grader's references
(``coursetools.references``, not installed for students) produce them:
``python -m coursetools.expected`` rewrites the file, and a test fails when it is stale.

``stored(key)`` -> {"expected": [answer per input], "mistakes": {name: [answer per
input]}}, decoded (arrays as float64).
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

from ._codec import decode

__all__ = ["EXPECTED_FILE", "stored", "decode"]

EXPECTED_FILE = Path(__file__).with_name("expected.json")


@functools.lru_cache(maxsize=None)
def _table():
    return json.loads(EXPECTED_FILE.read_text())


def stored(key):
    """The stored expected values and mistakes of the self-check `key`."""
    entry = _table()[key]
    return {"expected": [decode(e) for e in entry["expected"]],
            "mistakes": {name: [decode(e) for e in values]
                         for name, values in entry.get("mistakes", {}).items()}}
