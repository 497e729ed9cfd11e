"""What the unit tests of lecture_lib share: the tolerances, stated once, and the
comparison.

Tolerances, relative to the largest entry of the reference:

- ``RTOL64 = 1e-7`` for float64. Two routes that do the same float64 arithmetic (the
  engine and torch, the hand-written chain and autograd) differ only by the order of
  their sums, about 1e-15 relative; 1e-7 leaves room for that and for nothing else: a
  wrong formula, a missing term or a transposed product is off by far more. It is also the
  course's own tolerance for a gradient check (``lecture_lib.gradcheck.DEFAULT_TOL``).
- ``RTOL32 = 1e-4`` for float32: rounding is about 6e-8 per operation and grows with the
  length of the sums (a 784-term product, a few optimizer steps); 1e-4 still catches an
  upcast or a wrong batch, which differ at the 1e-2 level.

The measure is the largest entry of the reference rather than each entry, because a
gradient's small entries are the sums that cancel most, where rounding weighs most.
"""
import numpy as np

RTOL64 = 1e-7
RTOL32 = 1e-4


def assert_close(actual, expected, rtol=RTOL64):
    """``|actual - expected| <= rtol * max|expected|``, entry by entry, shapes equal.

    ``expected`` may be a torch tensor (it is detached). An all-zero reference must be
    matched exactly.
    """
    if hasattr(expected, "detach"):
        expected = expected.detach().cpu().numpy()
    expected, actual = np.asarray(expected), np.asarray(actual)
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    scale = float(np.max(np.abs(expected), initial=0.0))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale)
