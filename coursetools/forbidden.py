"""The grader's static check of derivations by hand: which solution cells call an
automatic route to the answer.

An exercise that asks for gradients derived by hand (``HAND_DERIVED``) earns nothing
for gradients the computer derived. After grading, the solution cells of those
exercises (``<label>-code``) are parsed (never run) and every use of a name below is
listed: torch (its autograd), the book's autodiff engine (``Tensor``),
``lecture_lib.frameworks``,
the book's own network code (``twolayer.backward``) and the gradient checker's engine
and torch routes. The instructor's report flags the student (``flagged``); the score is
not changed, so a false alarm costs nothing and a real one is looked at by a person.
"""
from __future__ import annotations

import ast

__all__ = ["HAND_DERIVED", "FORBIDDEN_NAMES", "forbidden_uses"]

#: exercise labels whose gradients must be derived by hand
HAND_DERIVED = {"ex-twolayer-tanh", "ex-twolayer-bug", "ex-twolayer-steps",
                "ex-graphs-dx", "ex-graphs-logreg", "ex-graphs-tanh", "ex-graphs-reuse",
                "ex-feature-count"}
#: a dotted name is forbidden if it ends with one of these (``x.backward()`` included)
FORBIDDEN_NAMES = ("torch", "autograd", "autodiff", "Tensor", "frameworks",
                   "twolayer.backward", "twolayer_grads_engine", "twolayer_grads_torch",
                   ".backward")


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _names(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            module = getattr(node, "module", None) or ""
            for alias in node.names:
                yield f"{module}.{alias.name}".strip(".")
        elif isinstance(node, ast.Attribute):
            yield "." + node.attr if not _dotted(node) else _dotted(node)
        elif isinstance(node, ast.Name):
            yield node.id


def forbidden_uses(source):
    """Sorted forbidden names used in the code `source` (a cell that does not parse
    yields nothing: it scores what it scores)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = set()
    for name in _names(tree):
        for bad in FORBIDDEN_NAMES:
            parts = name.split(".")
            if (bad.startswith(".") and name.endswith(bad) and len(parts) > 1) or (
                    not bad.startswith(".") and (bad in parts or name.endswith(bad))):
                found.add(name)
    return sorted(found)
