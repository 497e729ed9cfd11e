"""The lecture's letters in code: how every message and table of the package writes a
shape.

The two-layer network of :mod:`lecture_lib.twolayer` has the arrays below; a gradient
has the shape of what it differentiates, so ``dW1`` is (P, K1) like ``W1``.
"""

#: The shape of each array of the two-layer network, in the lecture's letters.
SHAPE_LETTERS = {"a": (), "beta": ("K2",), "b2": ("K2",), "W2": ("K1", "K2"),
                 "b1": ("K1",), "W1": ("P", "K1"), "X": ("N", "P")}
#: The same arrays from the top of the chain (the loss end) down to the input: the order
#: in which backpropagation reaches them, and in which a wrong gradient spoils those
#: below it.
CHAIN_ORDER = ("a", "beta", "b2", "W2", "b1", "W1", "X")


def shape_str(shape):
    """A shape as numpy prints it, for sizes or letters: ``(3,)``, ``(P, K1)``,
    ``()``."""
    shape = tuple(shape)
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def lettered(name, shape):
    """The shape of the array ``name`` in letters and in numbers, e.g.
    ``(P, K1) = (784, 128)``; ``()`` for the scalar ``a``."""
    letters = SHAPE_LETTERS[name]
    return f"{shape_str(letters)} = {shape_str(shape)}" if letters else "()"
