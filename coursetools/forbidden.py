"""The grader's static check of derivations by hand: which solution cells call an
automatic route to the answer.

An exercise that asks for an answer derived or written by hand earns nothing for one
the computer derived, or for the book's own code that is the answer
(``twolayer.backward`` for a backward pass, ``gradcheck.numerical_gradient`` for central
differences, ``diagnostics.weight_grad_norms`` for per-layer norms). After grading, the
solution cells of those exercises (``<label>-code``) are parsed (never run) and every
use of a name the exercise forbids (``HAND_DERIVED[label]``) is listed, imports under
another name included (``from lecture_lib import gradcheck as g; g.numerical_gradient``
is ``lecture_lib.gradcheck.numerical_gradient``). The instructor's report flags the
student (``flagged``); the score is not changed, so a false alarm costs nothing and a
real one is looked at by a person.
"""
from __future__ import annotations

import ast

__all__ = ["HAND_DERIVED", "AUTODIFF", "forbidden_uses"]

#: a dotted name is forbidden if one of its parts is one of these, or if it ends with
#: one (``x.backward()`` included): torch (its autograd), the book's autodiff engine
#: (``Tensor``), ``lecture_lib.frameworks``, the book's own network code and the
#: gradient checker's engine and torch routes
AUTODIFF = ("torch", "autograd", "autodiff", "Tensor", "frameworks",
            "twolayer.backward", "twolayer_grads_engine", "twolayer_grads_torch",
            ".backward")
#: exercise label -> the names its solution cells must not use
HAND_DERIVED = {
    **{label: AUTODIFF for label in (
        "ex-twolayer-tanh", "ex-twolayer-bug", "ex-twolayer-steps", "ex-graphs-dx",
        "ex-graphs-logreg", "ex-graphs-tanh", "ex-graphs-reuse", "ex-feature-count",
        "ex-gradcheck-findbug", "ex-residual-backward")},
    # chapter 4: central differences by hand, not the book's checker
    "ex-gradcheck-central": ("gradcheck.numerical_gradient", "twolayer_grads_numeric"),
    # chapter 4: the softmax cross-entropy and its gradient by hand
    "ex-gradcheck-own": AUTODIFF + ("functional", "scipy"),
    # chapter 6: the norms from the engine's backward(), not from diagnostics
    "ex-products-norms": ("torch", "diagnostics.weight_grad_norms",
                          "diagnostics.backprop"),
    # chapter 7: the global norm by hand, not torch's clip_grad_norm_ or the engine's
    "ex-clip-global-norm": ("torch", "optim.clip_grad_norm"),
    # chapter 8: the draws by hand, not the book's initializers
    "ex-init-implement": ("torch", "init.he_normal", "init.glorot_uniform",
                          "INITIALIZERS"),
}


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _aliases(tree):
    """{local name: the full dotted name it was imported as}."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    found[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                found[alias.asname or alias.name] = (
                    f"{node.module or ''}.{alias.name}".strip("."))
    return found


def _names(tree):
    aliases = _aliases(tree)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            module = getattr(node, "module", None) or ""
            for alias in node.names:
                yield f"{module}.{alias.name}".strip(".")
        elif isinstance(node, (ast.Attribute, ast.Name)):
            name = _dotted(node)
            if not name:
                yield "." + node.attr
                continue
            first, _, rest = name.partition(".")
            if first in aliases:
                name = aliases[first] + ("." + rest if rest else "")
            yield name


def _forbidden(name, bad):
    parts = name.split(".")
    if bad.startswith("."):
        return name.endswith(bad) and len(parts) > 1
    return bad in parts or name.endswith(bad)


def forbidden_uses(source, names=AUTODIFF):
    """Sorted forbidden `names` used in the code `source` (a cell that does not parse
    yields nothing: it scores what it scores)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return sorted({name for name in _names(tree)
                   if any(_forbidden(name, bad) for bad in names)})
