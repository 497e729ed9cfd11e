"""What every self-check shares: the failure type, the one-line success message, and the
one relative error every check judges an answer by."""
import functools

from ..gradcheck import rel_error as _rel_error


class CheckFailed(AssertionError):
    """The student's answer is wrong; the message says how, in the lecture's terms."""


def ok(message: str) -> None:
    """Print the one line a passing check shows."""
    print(f"\u2713 {message}")


#: :func:`lecture_lib.gradcheck.rel_error`, the relative error chapter 4 teaches, with
#: nothing skipped: a NaN in a student's answer makes the error NaN, which no tolerance
#: accepts.
rel_error = functools.partial(_rel_error, ignore_nan=False)
