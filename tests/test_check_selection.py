"""lecture_lib.check.best_of (chapter 10's winner's curse) and the grader's exact
expectation it stores (coursetools.references). If a test fails, the exact expectation is
wrong, or students get a wrong verdict or a misleading hint."""
import numpy as np
import pytest

from coursetools.references._training import expected_best_of
from lecture_lib import check
from check_failures import check_fails


def reference(p, k, n, repeats, rng):
    return rng.binomial(n, p, size=(repeats, k)).min(axis=1) / n


def test_expected_best_of_matches_brute_force():
    # small n: E[min] by summing over all k-tuples' distribution, via Pr(min > c) = Pr(X > c)^k
    from math import comb
    p, k, n = 0.3, 3, 12
    pmf = np.array([comb(n, c) * p**c * (1 - p) ** (n - c) for c in range(n + 1)])
    sf = 1 - np.cumsum(pmf)
    exact = sum(sf[c] ** k for c in range(n)) / n
    assert expected_best_of(p, k, n) == pytest.approx(exact, rel=1e-12)


def test_expected_best_of_one_model_is_p_and_falls_with_k():
    assert expected_best_of(0.02, 1, 10_000) == pytest.approx(0.02, rel=1e-9)
    values = [expected_best_of(0.02, k, 10_000) for k in (1, 2, 5, 20)]
    assert all(a > b for a, b in zip(values, values[1:])), values


def test_expected_best_of_agrees_with_simulation():
    rng = np.random.default_rng(1)
    sim = reference(0.05, 4, 2_000, 200_000, rng).mean()
    assert expected_best_of(0.05, 4, 2_000) == pytest.approx(sim, abs=2e-5)


def test_reference_passes(capsys):
    check.best_of(reference)
    assert capsys.readouterr().out.startswith("\u2713")


MISTAKES = {
    "max": (lambda p, k, n, r, rng: rng.binomial(n, p, size=(r, k)).max(axis=1) / n, "largest"),
    "counts": (lambda p, k, n, r, rng: rng.binomial(n, p, size=(r, k)).min(axis=1), "counts"),
    "mean over models": (lambda p, k, n, r, rng: rng.binomial(n, p, size=(r, k)).mean(axis=1) / n,
                         "mean over the k models"),
    "one model": (lambda p, k, n, r, rng: rng.binomial(n, p, size=r) / n, "one model's score"),
    "transposed": (lambda p, k, n, r, rng: rng.binomial(n, p, size=(r, k)).min(axis=0) / n,
                   "shape"),
}


@pytest.mark.parametrize("name", MISTAKES)
def test_mistakes_fail_with_their_hint(name):
    fn, hint = MISTAKES[name]
    with check_fails(hint):
        check.best_of(fn)


def test_hard_coded_k_or_n_pass_the_self_check_only():
    # chapter 10's hidden test relies on this: k = 10 or n = 10,000 written into the answer
    # passes the self-check's case, and fails the grader's on cases with another k or n
    from recorded import judge

    def fixed_k(p, k, n, repeats, rng):
        return rng.binomial(n, p, size=(repeats, 10)).min(axis=1) / n

    def fixed_n(p, k, n, repeats, rng):
        return rng.binomial(n, p, size=(repeats, k)).min(axis=1) / 10_000
    hidden = ('check.record("best_of", best_of, seed=11,\n'
              '             cases=((0.02, 1, 10_000, 4_000), (0.03, 3, 1_000, 4_000)))')
    assert judge(hidden, best_of=reference)[0]
    for fn in (fixed_k, fixed_n):
        check.best_of(fn)
        assert not judge(hidden, best_of=fn)[0]
