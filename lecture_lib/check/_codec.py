"""How an answer travels as JSON: from the student's kernel to the grader (a hidden
test's record) and from ``coursetools`` to the self-checks (``expected.json``).

``encode(value)`` -> a JSON-able dict:

- arrays and numbers (bools included): ``{"shape": [...], "f8": base64 of float64}``;
- ``None``: ``{"none": true}``;
- dicts and sequences, element by element: ``{"dict": {...}}``, ``{"list": [...]}``;
- a pandas DataFrame or Series: its labels and its values as float64 (``None`` in a
  column becomes NaN): ``{"frame": {"index", "columns", "values"}}``,
  ``{"series": {"index", "values"}}``;
- anything else: ``{"unsupported": type name}``.

``decode(encoded)`` gives it back (arrays as float64, a frame as a DataFrame) and
raises ValueError for anything it did not write: the grader decodes what a student's
kernel recorded, which may be forged.
"""
from __future__ import annotations

import base64
import numbers

import numpy as np

__all__ = ["encode", "decode"]

_MAX_DEPTH = 4


def _label(value):
    """A frame's label as JSON keeps it: numbers and strings as they are."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return str(value)


def _array(value):
    array = np.asarray(value, dtype=np.float64)
    return {"shape": list(array.shape),
            "f8": base64.b64encode(np.ascontiguousarray(array).tobytes()).decode()}


def _pandas(value):
    """The encoded frame or series, or None when `value` is neither."""
    kind = type(value).__name__
    if kind not in ("DataFrame", "Series") or "pandas" not in type(value).__module__:
        return None
    values = _array(value.to_numpy(dtype=np.float64, na_value=np.nan))
    index = [_label(v) for v in value.index]
    if kind == "Series":
        return {"series": {"index": index, "values": values}}
    return {"frame": {"index": index, "columns": [_label(c) for c in value.columns],
                      "values": values}}


def encode(value, depth=0):
    """A JSON-able form of an answer (see the module's docstring)."""
    if depth > _MAX_DEPTH:
        return {"unsupported": "nested too deep"}
    if value is None:
        return {"none": True}
    if isinstance(value, dict):
        return {"dict": {str(k): encode(v, depth + 1) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"list": [encode(v, depth + 1) for v in value]}
    try:
        return _pandas(value) or _array(value)
    except (TypeError, ValueError):
        return {"unsupported": type(value).__name__}


def _decode_array(enc):
    if not (isinstance(enc, dict) and isinstance(enc.get("f8"), str)
            and isinstance(enc.get("shape"), list)):
        raise ValueError("not an encoded array")
    try:
        raw = base64.b64decode(enc["f8"], validate=True)
        return np.frombuffer(raw, dtype=np.float64).reshape(enc["shape"])
    except (ValueError, TypeError) as err:
        raise ValueError(f"malformed array: {err}") from err


def _labels(labels, n):
    if not (isinstance(labels, list) and len(labels) == n and all(
            isinstance(v, (str, int, float, bool)) for v in labels)):
        raise ValueError("malformed labels")
    return labels


def _decode_pandas(enc):
    import pandas as pd
    if "series" in enc:
        part = enc["series"]
        values = _decode_array(part.get("values"))
        if values.ndim != 1:
            raise ValueError("a series of more than one dimension")
        return pd.Series(values, index=_labels(part.get("index"), len(values)))
    part = enc["frame"]
    values = _decode_array(part.get("values"))
    if values.ndim != 2:
        raise ValueError("a frame of other than two dimensions")
    return pd.DataFrame(values, index=_labels(part.get("index"), values.shape[0]),
                        columns=_labels(part.get("columns"), values.shape[1]))


def decode(enc, depth=0):
    """An answer as :func:`encode` wrote it; ValueError for anything else."""
    if not isinstance(enc, dict) or depth > _MAX_DEPTH + 1:
        raise ValueError("not an encoded answer")
    if enc.get("none") is True:
        return None
    if isinstance(enc.get("dict"), dict):
        return {str(k): decode(v, depth + 1) for k, v in enc["dict"].items()}
    if isinstance(enc.get("list"), list):
        return [decode(v, depth + 1) for v in enc["list"]]
    if isinstance(enc.get("series"), dict) or isinstance(enc.get("frame"), dict):
        return _decode_pandas(enc)
    if "f8" in enc:
        return _decode_array(enc)
    raise ValueError(f"unsupported answer ({enc.get('unsupported', 'unknown')})")
