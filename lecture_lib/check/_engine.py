r"""Self-check for a new operation added to the autodiff engine (chapter 5, "The
autodiff engine").

The student writes an operation on :class:`lecture_lib.autodiff.Tensor` in the engine's
style: compute the output ``data``, define the backward rule ``_backward(g)``, which
receives the upstream gradient ``g`` $= \partial L/\partial\,\mathrm{out}$ and adds each
input's share into its gradient with ``x.add_grad(g * local gradient)``, and return
``autodiff.make_node(data, inputs, "name", _backward)``. The rule refers to the inputs,
never to the output (no ``out.grad``): otherwise output and rule form a reference cycle
that keeps every finished graph in memory until Python's cycle collector runs.

The check runs the operation on inputs, including inputs of different shapes that
broadcast and an input used twice, and compares its output and gradients with a
reference: for the chapter's exercise (``"maximum"``) the values stored for fixed inputs
(``expected.json``: no implementation of the exercise here), for any other operation
the same operation in torch (float64) on random inputs. It says whether the **forward**
or the **backward** pass is wrong, for which input, and by how much; last, it checks
that the output is freed as soon as nothing refers to it (no cycle through the rule).
"""
from __future__ import annotations

import gc
import weakref

import numpy as np

from ._base import CheckFailed, ok, rel_error
from ._stored import stored
from ._tasks import engine_pairs

__all__ = ["engine_op"]

# float64: the engine and torch do the same arithmetic up to summation order
TOL = 1e-7
LETTERS = ("x", "y")      # the operation's inputs, as messages name them

NODE_SIGNATURE = ("autodiff.make_node(data, inputs, op_name, backward), where "
                  "backward(g) receives the upstream gradient g = dL/d out and calls "
                  "x.add_grad(g * local gradient) for each input x")

# Input shapes: one op of one input, or of two inputs that broadcast against each other.
UNARY_SHAPES = (((5,),), ((3, 4),), ((),))
BINARY_SHAPES = (((5,), (5,)), ((3, 4), (4,)), ((3, 4), (3, 1)), ((2, 3), ()))
#: the operations whose reference values are stored, and their arity: inputs
#: ``engine_pairs(BINARY_SHAPES, rng=0)`` (U(-3, 3) with random upstream gradients)
STORED_OPS = {"maximum": 2}


def _shapes(shapes):
    return " and ".join(str(s) for s in shapes)


def _raised(where, what, err, in_backward=False):
    """The CheckFailed for an exception ``err`` raised while running ``what`` (the
    student's backward rule if ``in_backward``), with a hint when it is a typical slip
    in the engine's convention for backward rules."""
    text = f"{where}: {what} raised {type(err).__name__}: {err}"
    said = str(err)
    if isinstance(err, TypeError) and "make_node()" in said and "backward" in said:
        text += (f". Give make_node the backward rule as its fourth argument: "
                 f"{NODE_SIGNATURE}")
    elif in_backward and isinstance(err, TypeError) and "positional argument" in said:
        text += (". The engine calls the backward rule with one argument, the upstream "
                 "gradient: define it as def _backward(g): ..., and use g where "
                 "micrograd uses out.grad")
    elif in_backward and isinstance(err, NameError) and "'out'" in str(err):
        text += (". The backward rule must not refer to the output: it receives the "
                 "output's gradient as its argument g (def _backward(g): ..., then "
                 "x.add_grad(g * ...))")
    return CheckFailed(text)


def _backward(out, upstream, where, name):
    """``out.backward(upstream)``, with an exception in the student's rule explained."""
    try:
        out.backward(upstream)
    except Exception as err:
        raise _raised(where, f"backward() through {name}", err,
                      in_backward=True) from err


def _torch_values(torch_op, arrays, upstream):
    """(output, gradients with `upstream`, gradients of the output's sum) of torch's
    operation, float64."""
    import torch

    ts = _torch_leaves(arrays)
    out = torch_op(*ts)
    out.backward(torch.tensor(upstream))
    ones = _torch_leaves(arrays)
    torch_op(*ones).sum().backward()
    return (out.detach().numpy(), [t.grad.numpy() for t in ts],
            [t.grad.numpy() for t in ones])


def _cases(reference, arity, low, high, rng):
    """[(arrays, upstream, (output, gradients, local gradients))] for each input."""
    if isinstance(reference, str):
        if reference not in STORED_OPS:
            raise ValueError(f"no stored values for the operation {reference!r}; "
                             f"stored: {sorted(STORED_OPS)} (or pass a torch op)")
        table = stored(f"engine_op/{reference}")["expected"]
        inputs = engine_pairs(BINARY_SHAPES, rng=0)
        return [((x, y), g, (v[0], v[1:3], v[3:5]))
                for (x, y, g, _), v in zip(inputs, table)]
    if arity not in (1, 2):
        raise ValueError(f"arity must be 1 or 2, got {arity!r}")
    rng = np.random.default_rng(rng)
    out = []
    for shapes in UNARY_SHAPES if arity == 1 else BINARY_SHAPES:
        arrays = [rng.uniform(low, high, size=s) for s in shapes]
        upstream = rng.standard_normal(np.broadcast_shapes(*shapes))
        out.append((arrays, upstream, _torch_values(reference, arrays, upstream)))
    return out


def engine_op(student_op, reference="maximum", arity=1, low=-3.0, high=3.0, name=None,
              rng=0):
    """Check ``student_op(*tensors) -> Tensor`` against a reference.

    student_op: the student's engine operation taking engine Tensors. reference: the
    name of an operation whose values are stored (``"maximum"``, two inputs, fixed
    inputs), or the same operation in torch, e.g. ``torch.nn.functional.softplus``,
    taking ``arity`` tensors (1 or 2) drawn uniformly from [low, high] (float64), from
    ``rng`` (seed 0 unless given, so a failure is the same on every run). name: how to
    call the operation in messages (default: the student function's name).

    For two inputs the shapes broadcast: (5,) with (5,), (3, 4) with (4,), (3, 4) with
    (3, 1), (2, 3) with a scalar. The backward pass is driven by a random upstream
    gradient (so every output entry weighs differently) and compared input by input, by
    :func:`lecture_lib.gradcheck.rel_error`. Then the operation is used twice on the
    same inputs, whose gradients must add up, and last its output must be freed by
    reference counting alone (with the cycle collector off) once nothing refers to it.
    """
    name = name or getattr(student_op, "__name__", "your operation")
    cases = _cases(reference, arity, low, high, rng)
    for arrays, upstream, values in cases:
        _check_one_case(student_op, name, arrays, upstream, values)
    arrays, _, (_, _, local) = cases[0]
    _check_reuse(student_op, name, arrays, [3 * g for g in local])
    _check_freed(student_op, name, arrays)
    broadcasting = ", broadcasting included;" if len(arrays) == 2 else ";"
    ok(f"{name}: forward and backward agree with the reference (< {TOL:.0e}) on "
       f"{len(cases)} input shapes{broadcasting} gradients accumulate when it is used "
       f"twice, and no reference cycle keeps its output alive")


def _run(student_op, name, arrays, where):
    """The student's operation on fresh leaf Tensors of ``arrays``: (inputs, output)."""
    from lecture_lib.autodiff import Tensor

    xs = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    try:
        out = student_op(*xs)
    except Exception as err:
        raise _raised(where, name, err) from err
    if not isinstance(out, Tensor):
        raise CheckFailed(f"{where}: {name} returned {type(out).__name__}, not an "
                          f"engine Tensor; build the output with {NODE_SIGNATURE}")
    return xs, out


def _torch_leaves(arrays):
    import torch

    return [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]


def _check_one_case(student_op, name, arrays, upstream, values):
    """Forward, then backward with the upstream gradient, on inputs ``arrays``;
    ``values``: the reference's (output, gradients, gradients of the output's sum)."""
    ref, ref_grads, local = values
    shapes = [np.shape(a) for a in arrays]
    where = f"{name} on inputs of shape {_shapes(shapes)}"
    xs, out = _run(student_op, name, arrays, where)

    # ---- forward
    if out.shape != np.shape(ref):
        broadcast = " (the inputs broadcast to it)" if len(arrays) == 2 else ""
        raise CheckFailed(f"{where}: the FORWARD pass is wrong: the output has shape "
                          f"{out.shape}, the reference's has {np.shape(ref)}"
                          f"{broadcast}")
    forward_error = rel_error(out.data, ref)
    if not forward_error < TOL:
        raise CheckFailed(f"{where}: the FORWARD pass is wrong: its values differ from "
                          f"the reference's by a relative error of "
                          f"{forward_error:.1e}; the backward pass was not checked")

    # ---- backward, with a random upstream gradient
    if not out.requires_grad:
        raise CheckFailed(f"{where}: the output does not require a gradient, so "
                          f"backward() cannot reach the inputs. Create it with "
                          f"make_node, which links the output to its inputs and its "
                          f"backward rule: {NODE_SIGNATURE}")
    _backward(out, upstream, where, name)
    for letter, x, want, alone in zip(LETTERS, xs, ref_grads, local):
        _compare_grad(letter, x, want, out, where)
        error = rel_error(x.grad, want)
        if error < TOL:
            continue
        msg = (f"{where}: the BACKWARD pass is wrong for {letter}: {letter}.grad "
               f"differs from the reference's by a relative error of {error:.1e}; the "
               f"forward pass is right.")
        # Typical mistakes: the local gradient alone (no upstream factor), a flipped
        # sign.
        if rel_error(x.grad, alone) < 1e-6:
            msg += (" It equals the local gradient alone: multiply it by the upstream "
                    "gradient g, the backward rule's argument (the chain rule: local "
                    "times upstream)")
        elif rel_error(x.grad, -want) < 1e-6:
            msg += " It has the wrong sign"
        raise CheckFailed(msg)


def _compare_grad(letter, x, want, out, where):
    """The input ``x`` got a gradient of its own shape (its values are compared by the
    caller)."""
    if x.grad is None:
        rule = ("the output has no backward rule (make_node got None)"
                if out._grad_fn is None
                else f"its backward rule never calls {letter}.add_grad")
        raise CheckFailed(f"{where}: the BACKWARD pass is wrong: {letter}.grad is None "
                          f"after backward(): {rule}. Give make_node a rule def "
                          f"_backward(g): ... that calls {letter}.add_grad(g * local "
                          f"gradient)")
    got = np.asarray(x.grad)
    if got.shape != want.shape:
        raise CheckFailed(f"{where}: the BACKWARD pass is wrong: {letter}.grad has "
                          f"shape {got.shape}, but {letter} has shape {want.shape}. An "
                          f"input that was broadcast gets the SUM of the gradients of "
                          f"all the entries it was copied to: pass the gradient "
                          f"through {letter}.add_grad, which sums "
                          f"it back to {letter}'s shape (the engine's _unbroadcast)")


def _check_reuse(student_op, name, arrays, wants):
    """The same inputs in two operations: each adds its share of the gradient
    (``wants``: the reference gradients of (op + 2 op).sum())."""
    from lecture_lib.autodiff import Tensor

    where = (f"{name} used twice, L = (op(...) + 2 * op(...)).sum(), inputs of shape "
             f"{_shapes([np.shape(a) for a in arrays])}")
    xs = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    try:
        total = (student_op(*xs) + 2 * student_op(*xs)).sum()
    except Exception as err:
        raise _raised(where, name, err) from err
    _backward(total, None, where, name)
    for letter, x, want in zip(LETTERS, xs, wants):
        got = np.zeros_like(want) if x.grad is None else np.asarray(x.grad)
        error = rel_error(got, want)
        if error < TOL:
            continue
        if rel_error(got, want / 3) < 1e-6 or rel_error(got, 2 * want / 3) < 1e-6:
            raise CheckFailed(f"{where}: {letter}.grad holds only one of the two "
                              f"operations' contributions: gradients must ACCUMULATE. "
                              f"Use {letter}.add_grad(...) (which adds), never "
                              f"{letter}.grad = ...")
        raise CheckFailed(f"{where}: {letter}.grad differs from the reference's by a "
                          f"relative error of {error:.1e}")


def _check_freed(student_op, name, arrays):
    """The output must be freed as soon as the last name for it goes."""
    from lecture_lib.autodiff import Tensor

    xs = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    collector_was_on = gc.isenabled()
    gc.disable()                    # reference counting alone frees what no cycle holds
    try:
        out = student_op(*xs)
        alive = weakref.ref(out)
        del out
        kept_alive = alive() is not None
    finally:
        if collector_was_on:
            gc.enable()
    if kept_alive:
        raise CheckFailed(f"{name}: the gradients are right, but its output is not "
                          f"freed when the last name for it goes: something it refers "
                          f"to refers back to it, most likely the backward rule "
                          f"reading out.grad (or out.data). That reference cycle (out "
                          f"-> rule -> out) keeps every finished graph, activations "
                          f"included, in "
                          f"memory until Python's cycle collector runs. Use the rule's "
                          f"argument g "
                          f"instead of out.grad (and, if the rule needs the output's "
                          f"values, the data array, not the output Tensor)")
