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

import base64
import functools
import json
from pathlib import Path

import numpy as np

__all__ = ["EXPECTED_FILE", "stored", "decode"]

EXPECTED_FILE = Path(__file__).with_name("expected.json")


def decode(enc):
    """An answer as ``lecture_lib.check._record.encode`` wrote it; ValueError for
    anything else (the grader decodes what a student's kernel recorded)."""
    if not isinstance(enc, dict):
        raise ValueError("not an encoded answer")
    if isinstance(enc.get("dict"), dict):
        return {str(k): decode(v) for k, v in enc["dict"].items()}
    if isinstance(enc.get("list"), list):
        return [decode(v) for v in enc["list"]]
    if isinstance(enc.get("f8"), str) and isinstance(enc.get("shape"), list):
        try:
            raw = base64.b64decode(enc["f8"], validate=True)
            return np.frombuffer(raw, dtype=np.float64).reshape(enc["shape"])
        except (ValueError, TypeError) as err:
            raise ValueError(f"malformed array: {err}") from err
    raise ValueError(f"unsupported answer ({enc.get('unsupported', 'unknown')})")


@functools.lru_cache(maxsize=None)
def _table():
    return json.loads(EXPECTED_FILE.read_text())


def stored(key):
    """The stored expected values and mistakes of the self-check `key`."""
    entry = _table()[key]
    return {"expected": [decode(e) for e in entry["expected"]],
            "mistakes": {name: [decode(e) for e in values]
                         for name, values in entry.get("mistakes", {}).items()}}
