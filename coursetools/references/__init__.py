r"""The grader's references: the answers of the graded exercises, outside
``lecture_lib``.

Students install ``lecture_lib`` and can read it; this package is the instructor's and
is never visible in the sandbox. One module per group of chapters, each with:

``REFERENCES[task](args, **options)``
    the correct answer of the task (see ``lecture_lib.check._cases``) for one argument
    tuple (references that train a network are computed once per grading process);
``COMPARATORS[task](got, ref, args, options)``
    where an answer is not judged by ``coursetools.comparing.compare``: None if
    right, else what is wrong (tables, answers that depend on the machine: bands);
``TOLERANCES[task]``
    the relative tolerance of ``compare`` where it is not ``comparing.TOL``;
``MISTAKES[task]``
    ``{mistake: function(args, **options)}``, the answers of typical wrong solutions;
``stored_entries()``
    the self-checks' stored values of its chapters (``python -m coursetools.expected``
    writes them to ``lecture_lib/check/expected.json``).

Here they are merged; a task named twice is an error.
"""
from __future__ import annotations

from . import (_basics, _clipping, _engine, _flow, _gradcheck, _residual,
               _training)
from ._basics import (descent, initial_losses, input_grad, logreg_grads,
                      parameter_count, twolayer_backward)

__all__ = ["REFERENCES", "COMPARATORS", "TOLERANCES", "MISTAKES", "stored_entries",
           "twolayer_backward", "parameter_count", "initial_losses", "input_grad",
           "logreg_grads", "descent"]

_MODULES = (_basics, _gradcheck, _engine, _flow, _clipping, _training, _residual)


def _merged(attribute):
    merged = {}
    for module in _MODULES:
        table = getattr(module, attribute, {})
        twice = set(merged) & set(table)
        if twice:
            raise RuntimeError(f"{module.__name__}.{attribute}: {sorted(twice)} "
                               f"defined twice")
        merged.update(table)
    return merged


REFERENCES = _merged("REFERENCES")
COMPARATORS = _merged("COMPARATORS")
TOLERANCES = _merged("TOLERANCES")
MISTAKES = _merged("MISTAKES")


def stored_entries():
    """{self-check key: {"expected": [...], "mistakes": {...}}} of chapters 4 to 11,
    encoded (chapters 1 to 3's are made by ``coursetools.expected``)."""
    entries = {}
    for module in _MODULES:
        if hasattr(module, "stored_entries"):
            for key, entry in module.stored_entries().items():
                if key in entries:
                    raise RuntimeError(f"stored entry {key!r} made twice")
                entries[key] = entry
    return entries
