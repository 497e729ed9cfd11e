"""The real MNIST, read from the four gzipped IDX files in ``data/mnist``.

MNIST (LeCun, Cortes and Burges) has 60,000 training and 10,000 test images of
28 x 28 grey-scale pixels. In the lecture's notation one image is an observation
``x_i`` in R^P with P = 784, and the design matrix is ``X: (N, P)``.

Where the files are: the ``data_dir`` argument if given, else the folder named by the
environment variable ``LECTURE_LIB_DATA`` if set, else the repository's ``data/mnist``
next to this package (which exists in a clone and an editable install, not in an
installed wheel: the data are not part of the package).

Nothing here downloads, substitutes or silently repairs data: each file's SHA-256
is checked against ``SHA256SUMS`` before it is parsed, and the IDX header (magic
number and sizes) is checked after. Anything wrong raises :class:`DataError`
naming the file and what is wrong.

The IDX format: a big-endian header ``0x00 0x00 <dtype=0x08 (uint8)> <ndim>``,
then ``ndim`` big-endian uint32 sizes, then the data, row-major.
"""
from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np

__all__ = ["DataError", "load_mnist", "DEFAULT_DATA_DIR", "DATA_ENV", "FILES", "SPLITS",
           "BINARY_DIGITS",
           "binary_task", "N_VALIDATION", "VALIDATION_SEED", "validation_indices",
           "train_validation_split"]

#: ``data/mnist`` of the repository this package lives in.
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "mnist"
#: The environment variable naming another folder with the four files and
#: ``SHA256SUMS``.
DATA_ENV = "LECTURE_LIB_DATA"

#: split -> (images file, labels file, number of images)
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60_000),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10_000),
}
SPLITS = tuple(FILES)

_IMAGE_MAGIC = 0x00000803  # uint8 data, 3 dimensions (N, 28, 28)
_LABEL_MAGIC = 0x00000801  # uint8 data, 1 dimension (N,)
_ROWS = _COLS = 28


class DataError(ValueError):
    """A data file is missing, truncated, corrupted or not what it claims to be."""


def _expected_checksums(data_dir: Path) -> dict[str, str]:
    """Read ``SHA256SUMS`` (lines ``<hex digest>  <file name>``) from ``data_dir``."""
    sums = data_dir / "SHA256SUMS"
    if not sums.is_file():
        raise DataError(
            f"{sums}: checksum file not found; the MNIST directory must hold the four "
            f"IDX files and their SHA256SUMS"
        )
    expected = {}
    for n, line in enumerate(sums.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or len(parts[0]) != 64:
            raise DataError(f"{sums}, line {n}: expected '<sha256>  <file name>', got "
                            f"{line!r}")
        expected[parts[1].lstrip("*")] = parts[0].lower()
    return expected


def _read_verified(path: Path, expected: dict[str, str]) -> bytes:
    """Return the decompressed bytes of ``path`` after checking its SHA-256."""
    if not path.is_file():
        raise DataError(f"{path}: file not found (MNIST is committed in data/mnist; "
                        f"restore it with `git checkout -- data/mnist`)")
    if path.name not in expected:
        raise DataError(f"{path}: no checksum for this file in "
                        f"{path.parent / 'SHA256SUMS'}")
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected[path.name]:
        raise DataError(
            f"{path}: SHA-256 mismatch (the file is corrupted, truncated or not the "
            f"MNIST file of that name): expected {expected[path.name]}, got {digest}, "
            f"size {len(raw):,} bytes"
        )
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError) as err:  # a checksum recomputed after the damage
        raise DataError(f"{path}: not a valid gzip file ({err})") from err


def _parse_idx(path: Path, buf: bytes, magic: int,
               shape: tuple[int, ...]) -> np.ndarray:
    """Check the IDX header of ``buf`` against ``magic`` and ``shape``; return the uint8
    data."""
    header_len = 4 + 4 * len(shape)
    if len(buf) < header_len:
        raise DataError(f"{path}: truncated IDX header ({len(buf)} bytes)")
    header = np.frombuffer(buf, dtype=">u4", count=1 + len(shape))
    if int(header[0]) != magic:
        raise DataError(
            f"{path}: IDX magic number is {int(header[0]):#010x}, expected "
            f"{magic:#010x} "
            f"({'images' if magic == _IMAGE_MAGIC else 'labels'} file)"
        )
    sizes = tuple(int(s) for s in header[1:])
    if sizes != shape:
        raise DataError(f"{path}: IDX sizes are {sizes}, expected {shape}")
    n_bytes = int(np.prod(shape))
    if len(buf) != header_len + n_bytes:
        raise DataError(
            f"{path}: expected {n_bytes:,} data bytes after the header, found "
            f"{len(buf) - header_len:,}"
        )
    return np.frombuffer(buf, dtype=np.uint8, offset=header_len).reshape(shape)


def _find_data_dir(data_dir) -> Path:
    """The MNIST folder to read: ``data_dir``, else ``$LECTURE_LIB_DATA``, else the
    repository's ``data/mnist``. Raises DataError saying where it looked and how to
    point it elsewhere."""
    env = os.environ.get(DATA_ENV)
    if data_dir is not None:
        path, source = Path(data_dir), "the data_dir argument"
    elif env:
        path, source = Path(env), f"the environment variable {DATA_ENV}"
    else:
        path = DEFAULT_DATA_DIR
        source = "the repository's data/mnist next to lecture_lib"
    if path.is_dir():
        return path
    raise DataError(
        f"{path}: MNIST directory not found (taken from {source}). It must hold the "
        f"four *-ubyte.gz files and SHA256SUMS, as data/mnist of the course repository "
        f"does; an installed wheel (pip install ., pip install git+...) does not "
        f"contain them. Point "
        f"lecture_lib at them with load_mnist(..., data_dir='/path/to/data/mnist') or "
        f"the environment variable {DATA_ENV}=/path/to/data/mnist"
    )


def load_mnist(split: str = "train", *, data_dir=None, normalize: bool = True,
               flatten: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Load one split of the real MNIST.

    Parameters
    ----------
    split : ``"train"`` (N = 60,000) or ``"test"`` (N = 10,000).
    data_dir : directory holding the four ``*-ubyte.gz`` files and ``SHA256SUMS``;
        defaults to ``$LECTURE_LIB_DATA`` if that is set, else the repository's
        ``data/mnist``.
    normalize : if True, pixels are float32 in [0, 1] (the lecture's ``X / 255``);
        if False, the raw uint8 values 0-255.
    flatten : if True, ``X: (N, P)`` with P = 784; if False, ``X: (N, 28, 28)``.

    Returns
    -------
    X : ``(N, P)`` or ``(N, 28, 28)``, float32 or uint8.
    y : ``(N,)`` int64 digit labels 0-9.

    Raises
    ------
    DataError
        a file is missing, fails its checksum, or has a wrong IDX header.
    ValueError
        ``split`` is not one of ``"train"``, ``"test"``.
    """
    if split not in FILES:
        raise ValueError(f"unknown MNIST split {split!r}; valid splits are "
                         f"{', '.join(map(repr, SPLITS))}")
    data_dir = _find_data_dir(data_dir)
    expected = _expected_checksums(data_dir)
    images_name, labels_name, n = FILES[split]

    images_path, labels_path = data_dir / images_name, data_dir / labels_name
    images = _parse_idx(images_path, _read_verified(images_path, expected),
                        _IMAGE_MAGIC, (n, _ROWS, _COLS))
    labels = _parse_idx(labels_path, _read_verified(labels_path, expected),
                        _LABEL_MAGIC, (n,))
    if labels.max() > 9:
        raise DataError(f"{labels_path}: labels must be digits 0-9, found "
                        f"{int(labels.max())}")

    X = images.reshape(n, _ROWS * _COLS) if flatten else images
    X = (X.astype(np.float32) / np.float32(255.0)) if normalize else X.copy()
    return X, labels.astype(np.int64)


# ---------------------------------------------------------------------- the binary task
#: The book's binary task (chapters 2-5), the book's own choice (the lecture has none):
#: tell a 3 (y = 1) from a 5 (y = 0). The two digits share most of their strokes, so the
#: task is not trivial, yet a small network learns it.
BINARY_DIGITS = (3, 5)


def binary_task(X: np.ndarray, digits: np.ndarray, n: int | None = None,
                dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """The images of ``X`` that show a 3 or a 5, in file order, with binary labels.

    Parameters
    ----------
    X : ``(N, P)`` images, as :func:`load_mnist` returns them.
    digits : ``(N,)`` digit labels 0-9.
    n : keep the first ``n`` such images (all of them if None).
    dtype : dtype of the returned arrays (float64 for gradient checks).

    Returns
    -------
    Xb : ``(n, P)`` images of 3s and 5s.
    yb : ``(n,)`` labels, 1.0 for a 3 and 0.0 for a 5.
    """
    X, digits = np.asarray(X), np.asarray(digits)
    if X.ndim != 2 or digits.shape != (X.shape[0],):
        raise ValueError(f"binary_task needs X: (N, P) and digits: (N,), got X "
                         f"{X.shape} and digits {digits.shape}")
    positive, negative = BINARY_DIGITS
    rows = np.flatnonzero((digits == positive) | (digits == negative))
    if n is not None:
        if n > len(rows):
            raise ValueError(f"binary_task: asked for n = {n} images, only {len(rows)} "
                             f"show a {positive} or a {negative}")
        rows = rows[:n]
    return X[rows].astype(dtype), (digits[rows] == positive).astype(dtype)


# --------------------------------------------------------------------- validation split
#: Images held out of the 60,000 training images for every choice the book makes (a
#: threshold, a learning rate, the best network). 10,000, the size of the test set: the
#: standard error of an error rate near 2% is then about 0.14 percentage points, small
#: enough to tell apart choices that differ by half a point, and 50,000 images are left
#: to fit on.
N_VALIDATION = 10_000
#: Seed of the permutation that picks them (numpy's PCG64 ``default_rng``).
VALIDATION_SEED = 0


def validation_indices(n_train: int = 60_000, n_validation: int = N_VALIDATION,
                       seed: int = VALIDATION_SEED) -> np.ndarray:
    """Sorted indices, into the training file, of the validation images.

    They are the first ``n_validation`` entries of
    ``default_rng(seed).permutation(n_train)``: a uniformly random subset, fixed once
    for the whole book.
    """
    if not 0 < n_validation < n_train:
        raise ValueError(f"n_validation must lie strictly between 0 and n_train = "
                         f"{n_train}, got {n_validation}")
    return np.sort(np.random.default_rng(seed).permutation(n_train)[:n_validation])


def train_validation_split(X: np.ndarray, y: np.ndarray,
                           n_validation: int = N_VALIDATION,
                           seed: int = VALIDATION_SEED):
    """Split the training set into a part to fit on and a validation part to choose
    with.

    Parameters
    ----------
    X : ``(N, P)`` the training images (N = 60,000 for MNIST).
    y : ``(N,)`` their labels.

    Returns
    -------
    ``(X_fit, y_fit), (X_val, y_val)``: ``(N - n_validation, P)`` and
    ``(n_validation, P)`` images with their labels, each in file order. The test set is
    not touched: score it once, at the end.
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has N = {X.shape[0]} rows but y has {y.shape[0]} labels")
    val = validation_indices(X.shape[0], n_validation, seed)
    fit = np.setdiff1d(np.arange(X.shape[0]), val, assume_unique=True)
    return (X[fit], y[fit]), (X[val], y[val])
