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
- ``FLOOR = 1.0``, only where the engine is compared with torch on inputs of order 1
  (tests/test_autodiff_ops.py): the measure is then at least 1, so entries all below 1
  are held to 1e-7 (float64) or 1e-4 (float32) absolute. Rounding is a fraction of the
  *terms* a result is made of, however small the result, and the engine and torch do
  not always compute the same terms: sigmoid(z) - y at y = 0.5 and z = -8e-14 is about
  2e-14 in both but they differ by 0.3% of it (their sigmoids differ in the last bit);
  in float32 torch's logistic loss at z = -7 is 9.1124e-4 where the engine's is the
  correctly rounded 9.1147e-4, and it flushes ``torch.sigmoid(-100.)`` to 0 where the
  engine gives 3.8e-44.

The measure is the largest entry of the reference rather than each entry, because a
gradient's small entries are the sums that cancel most, where rounding weighs most.
"""
import numpy as np

RTOL64 = 1e-7
RTOL32 = 1e-4
FLOOR = 1.0


def assert_close(actual, expected, rtol=RTOL64, floor=0.0):
    """``|actual - expected| <= rtol * max(max|expected|, floor)``, entry by entry,
    shapes equal.

    ``expected`` may be a torch tensor (it is detached). Without a floor, an all-zero
    reference must be matched exactly.
    """
    if hasattr(expected, "detach"):
        expected = expected.detach().cpu().numpy()
    expected, actual = np.asarray(expected), np.asarray(actual)
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    scale = max(float(np.max(np.abs(expected), initial=0.0)), floor)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale)
