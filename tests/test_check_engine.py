"""lecture_lib.check.engine_op: passes a correct new engine operation and says, for each typical
mistake, whether the forward or the backward pass is wrong and why. If a test fails, students of
chapter 5 get a wrong verdict or a misleading hint."""
import numpy as np
import pytest
import torch

from lecture_lib import autodiff
from lecture_lib.autodiff import Tensor, _node, _unbroadcast
from lecture_lib import check
from lecture_lib.check import CheckFailed


def maximum(x, y):
    out = _node(np.maximum(x.data, y.data), (x, y), "maximum")
    def _backward():
        if x.requires_grad: x._add_grad(out.grad * (x.data >= y.data))
        if y.requires_grad: y._add_grad(out.grad * (x.data < y.data))
    out._backward = _backward
    return out


def softplus(x):
    data = np.maximum(x.data, 0) + np.log1p(np.exp(-np.abs(x.data)))
    out = _node(data, (x,), "softplus")
    def _backward():
        x._add_grad(out.grad * autodiff._sigmoid(x.data))
    out._backward = _backward
    return out


def test_passes_correct_ops(capsys):
    check.engine_op(maximum, torch.maximum, arity=2)
    check.engine_op(softplus, torch.nn.functional.softplus)
    assert capsys.readouterr().out.count("\u2713") == 2


def wrong_forward(x, y):
    out = _node(np.minimum(x.data, y.data), (x, y), "maximum")
    out._backward = lambda: None
    return out


def no_node(x, y):
    return Tensor(np.maximum(x.data, y.data))


def no_backward(x, y):
    return _node(np.maximum(x.data, y.data), (x, y), "maximum")


def no_upstream(x, y):
    out = _node(np.maximum(x.data, y.data), (x, y), "maximum")
    def _backward():
        x._add_grad(np.broadcast_to(x.data >= y.data, out.shape).astype(float))
        y._add_grad(np.broadcast_to(x.data < y.data, out.shape).astype(float))
    out._backward = _backward
    return out


def no_unbroadcast(x, y):
    out = _node(np.maximum(x.data, y.data), (x, y), "maximum")
    def _backward():
        x.grad = out.grad * (x.data >= y.data)
        y.grad = out.grad * (x.data < y.data)
    out._backward = _backward
    return out


def overwrite(x, y):
    out = _node(np.maximum(x.data, y.data), (x, y), "maximum")
    def _backward():
        x.grad = _unbroadcast(out.grad * (x.data >= y.data), x.shape)
        y.grad = _unbroadcast(out.grad * (x.data < y.data), y.shape)
    out._backward = _backward
    return out


def swapped_masks(x, y):
    out = _node(np.maximum(x.data, y.data), (x, y), "maximum")
    def _backward():
        x._add_grad(out.grad * (x.data < y.data))
        y._add_grad(out.grad * (x.data >= y.data))
    out._backward = _backward
    return out


def softplus_wrong_sign(x):
    out = _node(np.logaddexp(0, x.data), (x,), "softplus")
    def _backward():
        x._add_grad(-out.grad * autodiff._sigmoid(x.data))
    out._backward = _backward
    return out


@pytest.mark.parametrize("student, arity, hint", [
    (wrong_forward, 2, "the FORWARD pass is wrong"),
    (no_node, 2, "does not require a gradient"),
    (no_backward, 2, "x.grad is None"),
    (no_upstream, 2, "multiply it by the upstream gradient"),
    (no_unbroadcast, 2, "SUM of the gradients"),
    (overwrite, 2, "must ACCUMULATE"),
    (swapped_masks, 2, "BACKWARD pass is wrong for x"),
    (softplus_wrong_sign, 1, "wrong sign"),
    (lambda x, y: np.maximum(x.data, y.data), 2, "not an engine Tensor"),
])
def test_names_the_mistake(student, arity, hint):
    op = torch.maximum if arity == 2 else torch.nn.functional.softplus
    with pytest.raises(CheckFailed, match=hint):
        check.engine_op(student, op, arity=arity, name="op")
