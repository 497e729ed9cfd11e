"""lecture_lib: the small, readable library behind the course book
*Backpropagation and Gradient Problems*.

Notation (used in every docstring of the package)
--------------------------------------------------
N   number of observations (rows of X)
P   number of input features (784 for MNIST)
K1  units in the first hidden layer
K2  units in the second hidden layer
K   number of classes (10 for MNIST); the lecture's K, in prose and in code

Modules
-------
data         real MNIST from ``data/mnist`` (checksummed IDX files)
notation     how shapes are written in the lecture's letters; the two-layer network's
             tables
functional   the numpy formulas shared by the rest: sigmoid, softmax, softmax
             cross-entropy
autodiff     a reverse-mode autodiff engine on numpy arrays
nn, init, optim  layers, initializers, optimizers and gradient clipping for the engine
twolayer     the lecture's two-layer ReLU network, differentiated by hand
gradcheck    finite differences, THE relative error, and the three-way gradient check
graph        draw an engine expression's computational graph; tabulate its nodes and
             gradients
diagnostics  activations and gradients layer by layer in deep MLPs (exploding,
             vanishing, dead units)
train        one training loop for engine and torch models, with divergence detection
             and clipping (``frameworks``: what differs per framework; ``progress``: its
             bar)
plotting     the grid of MNIST digits
check        self-checks for the exercises, with hints in the lecture's terms
bench        ``python -m lecture_lib.bench``: engine vs numpy vs torch step times

torch is imported only by the functions that need it (``pip install
lecture_lib[torch]``).

The tools that instructors and maintainers run (regenerating outputs, student notebooks,
the student edition of the book, the nbgrader course) live in the separate package
``coursetools``.
"""
__version__ = "0.1.0"
