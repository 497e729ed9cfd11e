"""The self-checks of chapters 6 and 8 (lecture_lib/check/_gradient_flow.py).

Each check must pass the reference answer and, for each typical mistake, fail with the hint that
names that mistake. A failure of a "hint" test means a student making that mistake would get a
generic or misleading message.
"""
import math

import numpy as np
import pytest

from lecture_lib import check, init
from lecture_lib.autodiff import softmax_cross_entropy
from lecture_lib.nn import Linear
from check_failures import check_fails


# ---- depth_to_exceed ---------------------------------------------------------------------------
def depth_ok(factor, threshold):
    return math.floor(math.log(threshold) / math.log(factor)) + 1


def test_depth_to_exceed_passes_the_reference(capsys):
    check.depth_to_exceed(depth_ok)
    assert "D = 145" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda f, T: math.floor(math.log(T) / math.log(f)), "round up"),
    (lambda f, T: math.log(T) / math.log(f), "whole"),
    (lambda f, T: math.ceil(math.log10(T) / math.log(f)), "same base"),
    (lambda f, T: math.ceil(T / (f - 1)), "geometrically"),
])
def test_depth_to_exceed_hints(wrong, hint):
    with check_fails(hint):
        check.depth_to_exceed(wrong)


# ---- layer_grad_norms --------------------------------------------------------------------------
def linears(model):
    return [m for m in model.layers if isinstance(m, Linear)]


def norms_ok(model, X, y):
    model.zero_grad()
    softmax_cross_entropy(model(X), y).backward()
    return np.array([np.linalg.norm(m.W.grad) for m in linears(model)])


def norms_squared(model, X, y):
    return norms_ok(model, X, y) ** 2


def norms_reversed(model, X, y):
    return norms_ok(model, X, y)[::-1]


def norms_with_bias(model, X, y):
    norms_ok(model, X, y)
    return np.array([np.sqrt(np.sum(m.W.grad ** 2) + np.sum(m.b.grad ** 2)) for m in linears(model)])


def norms_no_zero_grad(model, X, y):
    softmax_cross_entropy(model(X), y).backward()
    return np.array([np.linalg.norm(m.W.grad) for m in linears(model)])


def norms_sum_loss(model, X, y):
    return norms_ok(model, X, y) * len(X)


def norms_every_parameter(model, X, y):
    norms_ok(model, X, y)
    return np.array([np.linalg.norm(p.grad) for p in model.parameters()])


def norms_hidden_only(model, X, y):
    return norms_ok(model, X, y)[:-1]


def norms_max(model, X, y):
    norms_ok(model, X, y)
    return np.array([np.abs(m.W.grad).max() for m in linears(model)])


def test_layer_grad_norms_passes_the_reference(capsys):
    check.layer_grad_norms(norms_ok)
    assert capsys.readouterr().out.startswith("\u2713")


@pytest.mark.parametrize("wrong, hint", [
    (norms_squared, "square root"),
    (norms_reversed, "reverse order"),
    (norms_with_bias, "bias gradients"),
    (norms_no_zero_grad, "zero_grad"),
    (norms_sum_loss, "MEAN"),
    (norms_every_parameter, "not the biases"),
    (norms_hidden_only, "output layer"),
    (norms_max, "Frobenius"),
])
def test_layer_grad_norms_hints(wrong, hint):
    with check_fails(hint):
        check.layer_grad_norms(wrong)


# ---- initializer -------------------------------------------------------------------------------
def test_initializer_passes_the_library_initializers(capsys):
    check.initializer(init.he_normal, "he_normal")
    check.initializer(init.glorot_uniform, "glorot_uniform")
    # Two passing messages (each folded to the column: continuation lines are indented).
    out = [line for line in capsys.readouterr().out.splitlines()
           if not line.startswith("  ")]
    assert len(out) == 2 and all(line.startswith("\u2713") for line in out)


@pytest.mark.parametrize("kind, wrong, hint", [
    ("he_normal", lambda i, o, rng: rng.normal(0, np.sqrt(2 / o), (i, o)), "swapped fan-in and fan-out"),
    ("he_normal", lambda i, o, rng: rng.normal(0, 2 / i, (i, o)), "std vs variance"),
    ("he_normal", lambda i, o, rng: rng.normal(0, np.sqrt(1 / i), (i, o)), "factor 2"),
    ("he_normal", lambda i, o, rng: rng.normal(0, np.sqrt(2 / i), (o, i)), "torch's layout"),
    ("he_normal", lambda i, o, rng: np.random.normal(0, np.sqrt(2 / i), (i, o)), "rng argument"),
    ("he_normal", lambda i, o, rng: rng.uniform(-np.sqrt(6 / i), np.sqrt(6 / i), (i, o)), "uniform"),
    ("glorot_uniform", lambda i, o, rng: rng.uniform(-np.sqrt(2 / (i + o)), np.sqrt(2 / (i + o)), (i, o)),
     "sqrt\\(3\\) times larger"),
    ("glorot_uniform", lambda i, o, rng: rng.uniform(-6 / (i + o), 6 / (i + o), (i, o)), "square root is missing"),
    ("glorot_uniform", lambda i, o, rng: rng.uniform(0, np.sqrt(6 / (i + o)), (i, o)), "U\\(0, a\\)"),
    ("glorot_uniform", lambda i, o, rng: rng.normal(0, np.sqrt(2 / (i + o)), (i, o)), "exceed the bound"),
    ("glorot_uniform", lambda i, o, rng: rng.uniform(-np.sqrt(6 / i), np.sqrt(6 / i), (i, o)), "both fans"),
])
def test_initializer_hints(kind, wrong, hint):
    with check_fails(hint):
        check.initializer(wrong, kind)


def test_initializer_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        check.initializer(init.he_normal, "lecun")


def test_a_passing_message_fits_the_books_column(capsys):
    # The column shows 80 characters of output; a longer line scrolls off the page.
    from lecture_lib.check._base import MESSAGE_WIDTH, ok
    ok("word " * 40)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) > 1 and all(len(line) <= MESSAGE_WIDTH for line in lines)
    assert lines[0].startswith("\u2713") and lines[1].startswith("  ")


def test_a_failure_message_fits_the_books_column():
    # A traceback shows "CheckFailed: " before the message; a table's lines keep their
    # indent and a short line is left as it is.
    from lecture_lib.check._base import MESSAGE_WIDTH, CheckFailed
    message = "x of shape (3,): " + "a long explanation " * 12 + "\n  dW1  1.0e-01"
    err = CheckFailed(message)
    lines = f"CheckFailed: {err}".splitlines()
    assert len(lines) > 2 and all(len(line) <= MESSAGE_WIDTH for line in lines)
    assert lines[-1] == "  dW1  1.0e-01" and err.message == message
    assert " ".join(str(err).split()) == " ".join(message.split())
