"""What every self-check shares: the failure type, the one-line success message, and the
one relative error every check judges an answer by."""
import functools
import textwrap

from ..gradcheck import rel_error as _rel_error

#: Width of a check's message: the book's column shows 80 characters of output.
MESSAGE_WIDTH = 78


def fold(text: str, first: int = 0) -> str:
    """`text` with every line longer than :data:`MESSAGE_WIDTH` folded at spaces (a
    folded line keeps its indent); `first` characters of the first line are taken
    already (e.g. by ``CheckFailed: `` in a traceback)."""
    out = []
    for n, line in enumerate(text.split("\n")):
        taken = first if n == 0 else 0
        if len(line) + taken <= MESSAGE_WIDTH:
            out.append(line)
            continue
        indent = line[:len(line) - len(line.lstrip())]
        out.append(textwrap.fill(" " * taken + line, width=MESSAGE_WIDTH,
                                 subsequent_indent=indent, break_on_hyphens=False,
                                 break_long_words=False)[taken:])
    return "\n".join(out)


class CheckFailed(AssertionError):
    """The student's answer is wrong; the message says how, in the lecture's terms.

    The message is folded to the book's column (a traceback shows it after
    ``CheckFailed: ``); ``.message`` keeps it unfolded."""

    def __init__(self, message=""):
        self.message = str(message)
        super().__init__(fold(self.message, first=len("CheckFailed: ")))


def ok(message: str) -> None:
    """Print what a passing check shows: one line, folded at :data:`MESSAGE_WIDTH`."""
    print(textwrap.fill(f"\u2713 {message}", width=MESSAGE_WIDTH, subsequent_indent="  ",
                        break_on_hyphens=False))


#: :func:`lecture_lib.gradcheck.rel_error`, the relative error chapter 4 teaches, with
#: nothing skipped: a NaN in a student's answer makes the error NaN, which no tolerance
#: accepts.
rel_error = functools.partial(_rel_error, ignore_nan=False)
