"""What every self-check shares: the failure type, the one-line success message, and the
one relative error every check judges an answer by."""
import functools
import textwrap

from ..gradcheck import rel_error as _rel_error


class CheckFailed(AssertionError):
    """The student's answer is wrong; the message says how, in the lecture's terms."""


#: Width of a check's message: the book's column shows 80 characters of output.
MESSAGE_WIDTH = 78


def ok(message: str) -> None:
    """Print what a passing check shows: one line, folded at :data:`MESSAGE_WIDTH`."""
    print(textwrap.fill(f"\u2713 {message}", width=MESSAGE_WIDTH, subsequent_indent="  ",
                        break_on_hyphens=False))


#: :func:`lecture_lib.gradcheck.rel_error`, the relative error chapter 4 teaches, with
#: nothing skipped: a NaN in a student's answer makes the error NaN, which no tolerance
#: accepts.
rel_error = functools.partial(_rel_error, ignore_nan=False)
