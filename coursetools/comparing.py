"""How the grader compares a recorded answer with its reference.

Every function returns None when the answer passes and otherwise a short sentence
saying what differs first (it becomes the hidden test's verdict). A recorded answer
comes from the student's process and may be anything JSON can hold, forged included:
these functions never raise on a malformed answer and never pass a NaN.

- :func:`compare`: arrays, numbers, sequences and dicts of them to a relative error
  (``lecture_lib.gradcheck.rel_error``; a dict's keys are gradients ``d<key>``);
- :func:`labelled`: a pandas Series or DataFrame, by its labels, to a relative error;
- :func:`within_factor`: positive numbers, labelled or not, each within a factor of
  its reference (orders of magnitude, for quantities that depend on constants the
  exercise leaves out);
- :func:`close`: an array as ``np.allclose`` judges it (float32 results, whose
  entries near 0 carry an absolute rounding error);
- :func:`number`: one number, as a float, or why it is not one.
"""
from __future__ import annotations

import math

import numpy as np

from lecture_lib.gradcheck import REL_ERROR_FLOOR, rel_error

__all__ = ["TOL", "compare", "close", "labelled", "within_factor", "number",
           "is_frame"]

TOL = 1e-6              # float64 answers; the references agree with themselves to 1e-15


def number(value, name="the answer"):
    """(float, None) for a finite number (an array of one entry included), else
    (None, why)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None, f"{name} is not a number"
    if array.size != 1:
        return None, f"{name} has shape {array.shape}, expected one number"
    x = float(array.reshape(()))
    if not math.isfinite(x):
        return None, f"{name} is {x}"
    return x, None


def _compare_array(got, ref, name, tol, floor):
    ref = np.asarray(ref, dtype=np.float64)
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return f"{name} is not an array of numbers"
    if got.shape != ref.shape and not (ref.ndim == 0 and got.size == 1):
        return f"{name} has shape {got.shape}, expected {ref.shape}"
    err = rel_error(got.reshape(ref.shape), ref, floor=floor, ignore_nan=False)
    if not err < tol:
        return f"{name}: relative error {err:.1e}"
    return None


def close(got, ref, name="the answer", rtol=1e-5, atol=1e-6):
    """None when `got` has `ref`'s shape and ``|got - ref| <= atol + rtol |ref|``
    everywhere (NaN never passes)."""
    ref = np.asarray(ref, dtype=np.float64)
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return f"{name} is not an array of numbers"
    if got.shape != ref.shape:
        return f"{name} has shape {got.shape}, expected {ref.shape}"
    if not np.allclose(got, ref, rtol=rtol, atol=atol):
        worst = float(np.max(np.abs(got - ref) - rtol * np.abs(ref)))
        return f"{name}: off by up to {worst:.1e} beyond the rounding allowed"
    return None


def compare(got, ref, name="the answer", tol=TOL, floor=REL_ERROR_FLOOR):
    """None when `got` matches `ref` (dict keys of ref but 'X' required, arrays to
    `tol` relative error, None to None); else what differs first."""
    if ref is None:
        return None if got is None else f"{name} should be None"
    if isinstance(ref, dict):
        if not isinstance(got, dict):
            return f"{name} is not a dict"
        for key in ref:
            if key not in got:
                if key == "X":
                    continue
                return f"{name} lacks the key {key!r}"
            problem = _compare_array(got[key], ref[key], f"d{key}", tol, floor)
            if problem:
                return problem
        return None
    if isinstance(ref, (tuple, list)):
        if not isinstance(got, list) or len(got) != len(ref):
            return f"{name} is not a sequence of {len(ref)} values"
        for i, (g, r) in enumerate(zip(got, ref)):
            part = f"value {i + 1}" if name == "the answer" else f"{name}, {i + 1}"
            problem = compare(g, r, part, tol, floor)
            if problem:
                return problem
        return None
    if got is None or isinstance(got, (dict, list)):
        return f"{name} is not a number or an array"
    return _compare_array(got, ref, name, tol, floor)


def is_frame(value):
    """Whether `value` is a pandas Series or DataFrame."""
    return type(value).__name__ in ("Series", "DataFrame") and hasattr(value, "index")


def _cells(got, ref, name):
    """[(label, got value, ref value)] of every cell of the labelled `ref`, or a
    problem (a missing label)."""
    if not is_frame(got) or type(got).__name__ != type(ref).__name__:
        return f"{name} is not a {type(ref).__name__}"
    rows = list(ref.index)
    missing = [r for r in rows if r not in list(got.index)]
    if missing:
        return f"{name} lacks the row {missing[0]!r}"
    if type(ref).__name__ == "Series":
        return [(repr(r), got.loc[r], ref.loc[r]) for r in rows]
    missing = [c for c in ref.columns if c not in list(got.columns)]
    if missing:
        return f"{name} lacks the column {missing[0]!r}"
    return [(f"{r!r}, {c!r}", got.loc[r, c], ref.loc[r, c])
            for r in rows for c in ref.columns]


def labelled(got, ref, name="the answer", tol=TOL):
    """A Series or DataFrame: every label of `ref` present in `got` (more allowed),
    each value to `tol` relative error."""
    cells = _cells(got, ref, name)
    if isinstance(cells, str):
        return cells
    for where, g, r in cells:
        problem = _compare_array(g, r, f"{name} at {where}", tol, REL_ERROR_FLOOR)
        if problem:
            return problem
    return None


def within_factor(got, ref, factor, name="the answer"):
    """Positive numbers (arrays, or a labelled Series/DataFrame), each within a
    `factor` of its reference: ref / factor < got < ref * factor."""
    if is_frame(ref):
        cells = _cells(got, ref, name)
        if isinstance(cells, str):
            return cells
    else:
        try:
            g = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            return f"{name} is not an array of numbers"
        r = np.asarray(ref, dtype=np.float64)
        if g.shape != r.shape:
            return f"{name} has shape {g.shape}, expected {r.shape}"
        cells = [(str(i), g[i], r[i]) for i in np.ndindex(r.shape)]
    for where, g, r in cells:
        value, problem = number(g, f"{name} at {where}")
        if problem:
            return problem
        if not r / factor < value < r * factor:
            return (f"{name} at {where} is {value:.2g}, not within a factor {factor:g} "
                    f"of its order of magnitude")
    return None
