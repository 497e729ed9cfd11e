"""lecture_lib.check.engine_op: passes a correct new engine operation and says, for each
typical mistake, whether the forward or the backward pass is wrong and why. If a test
fails, students of chapter 5 get a wrong verdict or a misleading hint."""
import numpy as np
import pytest
import torch

from lecture_lib.autodiff import Tensor, make_node, _unbroadcast
from lecture_lib import check
from lecture_lib.functional import sigmoid
from check_failures import check_fails


# The engine's convention: the backward rule receives the upstream gradient g = dL/d out
# and adds into the inputs; it never refers to the output (no reference cycle out ->
# rule -> out).
def maximum(x, y):
    def _backward(g):
        if x.requires_grad: x.add_grad(g * (x.data >= y.data))
        if y.requires_grad: y.add_grad(g * (x.data < y.data))
    return make_node(np.maximum(x.data, y.data), (x, y), "maximum", _backward)


def softplus(x):
    data = np.maximum(x.data, 0) + np.log1p(np.exp(-np.abs(x.data)))
    def _backward(g):
        x.add_grad(g * sigmoid(x.data))
    return make_node(data, (x,), "softplus", _backward)


def test_passes_correct_ops(capsys):
    check.engine_op(maximum, "maximum")                 # the stored values
    check.engine_op(maximum, torch.maximum, arity=2)    # torch on random inputs
    check.engine_op(softplus, torch.nn.functional.softplus)
    assert capsys.readouterr().out.count("\u2713") == 3


def test_restores_the_cycle_collector(capsys):
    import gc
    assert gc.isenabled()
    check.engine_op(maximum, torch.maximum, arity=2)
    assert gc.isenabled()


def wrong_forward(x, y):
    return make_node(np.minimum(x.data, y.data), (x, y), "maximum", lambda g: None)


def no_node(x, y):                       # no graph: a plain Tensor has no inputs and no rule
    return Tensor(np.maximum(x.data, y.data))


def no_backward(x, y):                   # a node, but its rule is missing
    return make_node(np.maximum(x.data, y.data), (x, y), "maximum", None)


def rule_does_nothing(x, y):
    return make_node(np.maximum(x.data, y.data), (x, y), "maximum", lambda g: None)


def old_node_call(x, y):                 # micrograd's convention: make_node without the rule
    out = make_node(np.maximum(x.data, y.data), (x, y), "maximum")
    def _backward():
        x.add_grad(out.grad * (x.data >= y.data))
        y.add_grad(out.grad * (x.data < y.data))
    out._backward = _backward
    return out


def rule_without_g(x, y):                # a rule that takes no argument
    def _backward():
        x.add_grad(x.data >= y.data)
        y.add_grad(x.data < y.data)
    return make_node(np.maximum(x.data, y.data), (x, y), "maximum", _backward)


def rule_reads_undefined_out(x, y):      # out.grad in a rule whose output has no name
    def _backward(g):
        x.add_grad(out.grad * (x.data >= y.data))  # noqa: F821
        y.add_grad(out.grad * (x.data < y.data))   # noqa: F821
    return make_node(np.maximum(x.data, y.data), (x, y), "maximum", _backward)


def rule_reads_out(x, y):                # right gradients, but out -> rule -> out is a cycle
    def _backward(g):
        x.add_grad(out.grad * (x.data >= y.data))
        y.add_grad(out.grad * (x.data < y.data))
    out = make_node(np.maximum(x.data, y.data), (x, y), "maximum", _backward)
    return out


def no_upstream(x, y):
    def _backward(g):
        x.add_grad(np.broadcast_to(x.data >= y.data, g.shape).astype(float))
        y.add_grad(np.broadcast_to(x.data < y.data, g.shape).astype(float))
    return make_node(np.maximum(x.data, y.data), (x, y), "maximum", _backward)


def no_unbroadcast(x, y):                # assigns g * mask, of the output's shape
    def _backward(g):
        x.grad = g * (x.data >= y.data)
        y.grad = g * (x.data < y.data)
    return make_node(np.maximum(x.data, y.data), (x, y), "maximum", _backward)


def overwrite(x, y):                     # right shape, but assigns instead of adding
    def _backward(g):
        x.grad = _unbroadcast(g * (x.data >= y.data), x.shape)
        y.grad = _unbroadcast(g * (x.data < y.data), y.shape)
    return make_node(np.maximum(x.data, y.data), (x, y), "maximum", _backward)


def swapped_masks(x, y):                 # the gradient goes to the smaller input
    def _backward(g):
        x.add_grad(g * (x.data < y.data))
        y.add_grad(g * (x.data >= y.data))
    return make_node(np.maximum(x.data, y.data), (x, y), "maximum", _backward)


def softplus_wrong_sign(x):
    def _backward(g):
        x.add_grad(-g * sigmoid(x.data))
    return make_node(np.logaddexp(0, x.data), (x,), "softplus", _backward)


@pytest.mark.parametrize("student, arity, hint", [
    (wrong_forward, 2, "the FORWARD pass is wrong"),
    (no_node, 2, "does not require a gradient"),
    (no_backward, 2, r"x.grad is None .*no backward rule \(make_node got None\)"),
    (rule_does_nothing, 2, "x.grad is None .*never calls x.add_grad"),
    (old_node_call, 2, "Give make_node the backward rule as its fourth argument"),
    (rule_without_g, 2, "calls the backward rule with one argument"),
    (rule_reads_undefined_out, 2, "must not refer to the output"),
    (rule_reads_out, 2, r"not freed .*out\.grad"),
    (no_upstream, 2, "multiply it by the upstream gradient"),
    (no_unbroadcast, 2, "SUM of the gradients"),
    (overwrite, 2, "must ACCUMULATE"),
    (swapped_masks, 2, "BACKWARD pass is wrong for x"),
    (softplus_wrong_sign, 1, "wrong sign"),
    (lambda x, y: np.maximum(x.data, y.data), 2, "not an engine Tensor"),
])
def test_names_the_mistake(student, arity, hint):
    # Against the stored values of the chapter's maximum, and against torch.
    references = (["maximum", torch.maximum] if arity == 2
                  else [torch.nn.functional.softplus])
    for op in references:
        with check_fails(hint):
            check.engine_op(student, op, arity=arity, name="op")


def test_an_unknown_stored_operation_is_refused():
    with pytest.raises(ValueError, match="no stored values for the operation 'minimum'"):
        check.engine_op(maximum, "minimum")


def cube_slightly_off(x):
    # Right up to 1e-6 * g everywhere: invisible next to the large entries 3 x^2 (up to
    # 27), but a relative error of about 1e-3 where x is near 0 and the gradient is
    # small.
    def _backward(g):
        x.add_grad(g * 3 * x.data ** 2 + 1e-6 * g)
    return make_node(x.data ** 3, (x,), "cube", _backward)


def test_a_wrong_small_entry_is_not_hidden_by_large_ones():
    # The check judges each entry against its own size (gradcheck.rel_error, chapter 4's
    # formula); a measure relative to the largest entry would pass this wrong gradient.
    with check_fails("BACKWARD pass is wrong for x"):
        check.engine_op(cube_slightly_off, lambda t: t ** 3)
    from lecture_lib.gradcheck import rel_error
    x = np.array([3.0, 0.01])
    right, off = 3 * x ** 2, 3 * x ** 2 + 1e-6
    largest_relative = np.max(np.abs(off - right)) / np.max(np.abs(right))
    assert largest_relative < 1e-7 < rel_error(off, right)
