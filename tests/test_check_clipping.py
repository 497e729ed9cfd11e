"""lecture_lib.check.clip_by_global_norm: passes correct clipping (with or without torch's
epsilon) and names each typical mistake. If a test fails, students get a wrong verdict or a
misleading hint in chapter 7."""
import numpy as np
import pytest

from lecture_lib import check
from check_failures import check_fails


def _norm(grads):
    return float(np.sqrt(sum(np.sum(g ** 2) for g in grads)))


def reference(grads, c):
    norm = _norm(grads)
    factor = min(1.0, c / norm)
    return [g * factor for g in grads], norm


def torch_style(grads, c):
    # torch's arithmetic: c / (norm + 1e-6), applied only when that factor is below 1
    norm = _norm(grads)
    coef = c / (norm + 1e-6)
    return ([g * coef for g in grads] if coef < 1 else [g.copy() for g in grads]), norm


def per_parameter(grads, c):
    out = [g * min(1.0, c / np.linalg.norm(g)) for g in grads]
    return out, _norm(grads)


def no_min(grads, c):
    norm = _norm(grads)
    return [g * (c / norm) for g in grads], norm


def post_clip_norm(grads, c):
    clipped, _ = reference(grads, c)
    return clipped, _norm(clipped)


def sum_of_norms(grads, c):
    total = sum(np.linalg.norm(g) for g in grads)
    return [g * min(1.0, c / total) for g in grads], total


def in_place(grads, c):
    norm = _norm(grads)
    for g in grads:
        g *= min(1.0, c / norm)
    return grads, norm


def squared_norm(grads, c):
    clipped, norm = reference(grads, c)
    return clipped, norm ** 2


def clipped_only(grads, c):
    return reference(grads, c)[0]


def swapped(grads, c):
    clipped, norm = reference(grads, c)
    return norm, clipped


def flattened(grads, c):
    clipped, norm = reference(grads, c)
    return [g.ravel() for g in clipped], norm


def value_clipping(grads, c):
    return [np.clip(g, -c, c) for g in grads], _norm(grads)


@pytest.mark.parametrize("fn", [reference, torch_style])
def test_correct_clipping_passes(fn, capsys):
    # A failure means the check rejects a correct answer (or torch's own epsilon convention).
    check.clip_by_global_norm(fn)
    assert capsys.readouterr().out.startswith("\u2713")


def test_the_third_case_is_above_c_only_jointly():
    # Its c lies above every parameter's norm and below the joint norm, so that clipping
    # each parameter by its own norm changes nothing there while the right answer does.
    from lecture_lib.check._clipping import CASES, SEED
    from lecture_lib.check._tasks import gradient_lists
    grads, c = gradient_lists([case for _, case in CASES], SEED)[2]
    assert max(np.linalg.norm(g) for g in grads) < c < _norm(grads)


@pytest.mark.parametrize("fn, hint", [
    (per_parameter, "each parameter by its own norm"),
    (no_min, "scaled the gradient UP"),
    (post_clip_norm, "norm after clipping"),
    (sum_of_norms, "sum of the parameters' norms"),
    (in_place, "changed the gradients it was given"),
    (squared_norm, "squared norm"),
    (clipped_only, "return a pair (clipped, norm)"),
    (swapped, "wrong order"),
    (flattened, "keep the parameter's shape"),
    (value_clipping, "points in another direction"),
])
def test_typical_mistakes_get_their_hint(fn, hint):
    # A failure means a wrong answer passes, or its hint does not name the mistake.
    with check_fails(None) as info:
        check.clip_by_global_norm(fn)
    assert hint in info.value.message, info.value.message


def test_student_exception_is_reported():
    def broken(grads, c):
        raise ZeroDivisionError("oops")
    with check_fails("raised ZeroDivisionError"):
        check.clip_by_global_norm(broken)
