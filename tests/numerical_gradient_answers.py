"""Answers a student might give to chapter 4's ``numerical_gradient(f, x, h)`` (x of any
shape, perturbed in place): a correct central difference and the typical mistakes, each
named by what it does wrong. Shared by tests/test_check_gradcheck.py (the self-check's
hints) and tests/test_references.py (the grader's verdicts)."""
import numpy as np


def central(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for j in np.ndindex(x.shape):
        old = x[j]
        x[j] = old + h
        fp = f(x)
        x[j] = old - h
        fm = f(x)
        x[j] = old
        grad[j] = (fp - fm) / (2 * h)
    return grad


def forward(f, x, h=1e-5):
    grad = np.zeros_like(x)
    f0 = f(x)
    for j in np.ndindex(x.shape):
        old = x[j]
        x[j] = old + h
        grad[j] = (f(x) - f0) / h
        x[j] = old
    return grad


def divide_by_h(f, x, h=1e-5):
    return 2 * central(f, x, h)


def copy_not_inplace(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for j in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[j] += h
        xm[j] -= h
        grad[j] = (f(xp) - f(xm)) / (2 * h)      # f reads the original x: sees no change
    return grad


def restore_by_arithmetic(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for j in np.ndindex(x.shape):
        x[j] += h
        fp = f(x)
        x[j] -= 2 * h
        fm = f(x)
        x[j] += h                                 # x + h - 2h + h is not always x
        grad[j] = (fp - fm) / (2 * h)
    return grad


def never_restore(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for j in np.ndindex(x.shape):
        x[j] += h
        fp = f(x)
        x[j] -= 2 * h
        fm = f(x)
        grad[j] = (fp - fm) / (2 * h)
    return grad


def all_at_once(f, x, h=1e-5):
    x += h
    fp = f(x)
    x -= 2 * h
    fm = f(x)
    x += h
    return np.full(x.shape, (fp - fm) / (2 * h))
