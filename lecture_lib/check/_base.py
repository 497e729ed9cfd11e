"""What every self-check shares: the failure type and the one-line success message."""


class CheckFailed(AssertionError):
    """The student's answer is wrong; the message says how, in the lecture's terms."""


def ok(message: str) -> None:
    """Print the one line a passing check shows."""
    print(f"\u2713 {message}")
