"""check.parameter_count (chapter 1): right answers pass with the one success line, each
typical miscount fails with the hint that names it (from the stored counts)."""
import pytest

from lecture_lib import check
from check_failures import check_fails


def right(sizes):
    return sum((n_in + 1) * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def test_the_right_count_passes(capsys):
    check.parameter_count(right)
    assert capsys.readouterr().out.startswith("\u2713 ")


def test_the_lecture_network_is_101770():
    # A reference off by one layer's biases would pass a wrong student answer here.
    with check_fails("expected 101,770 parameters, got 101769"):
        check.parameter_count(lambda s: 101_769)


@pytest.mark.parametrize("wrong, hint", [
    (lambda s: sum(a * b for a, b in zip(s[:-1], s[1:])), "number of weights alone"),
    (lambda s: right(s) - sum(s[1:]) + sum(s[:-1]),
     "biases belong to the layer's outputs"),
    (lambda s: right(s) - s[-1], "output layer has weights and biases too"),
])
def test_typical_miscounts_are_named(wrong, hint):
    with check_fails(hint):
        check.parameter_count(wrong)


def test_a_wrong_count_names_the_sizes_and_both_numbers():
    with check_fails(r"sizes \[3, 5, 2\]: expected 32 parameters, "
                                          r"got 7"):
        check.parameter_count(lambda s: 7 if s == [3, 5, 2] else right(s))
