"""Self-checks for the book's exercises.

Each check runs the student's function on fixed random inputs, compares it with the
expected values and, when it is wrong, says *what* is wrong in the lecture's terms (a
forgotten bias, a wrong shape and the transposition that would fix it, a missing ReLU
mask, a missing 1/N, the relative error per parameter) rather than only "wrong". A
passing check prints one line starting with a check mark; a failing one raises
:class:`CheckFailed` (an ``AssertionError``), so a notebook run stops there.

The checks compare with stored values (``expected.json``, written by ``python -m
coursetools.expected`` from the grader's references) and name a mistake by the stored
answers of the typical mistakes: the package holds no implementation of a graded
exercise's answer. ``check.record`` is what hidden tests call:
it records the student's answers on the task's inputs for the grader, and judges
nothing.

One submodule per topic; every public check is re-exported here, so notebooks write
``from lecture_lib import check`` and call ``check.parameter_count(...)``.
"""
from ._base import CheckFailed, ok
from ._counting import parameter_count
from ._gradcheck import numerical_gradient, softmax_cross_entropy_grad
from ._gradients import logreg_grads, tanh_backward, reused_node
from ._twolayer import (gradients, grad_W1, grad_W2, grad_h1, grad_b1, relu_backward,
                        jacobian_memory)
from ._record import record
from ._gradient_flow import depth_to_exceed, initializer, layer_grad_norms
from ._clipping import clip_by_global_norm
from ._engine import engine_op
from ._metrics import log_loss_and_error
from ._selection import best_of
