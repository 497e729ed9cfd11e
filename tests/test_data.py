"""The MNIST data layer: the real files load with the published statistics, and every
kind of bad file is refused with a DataError that names the file and the problem.

Bad-file cases run on temporary copies of data/mnist; the committed files are never
touched.
"""
import gzip
import hashlib
import shutil

import numpy as np
import pytest

from lecture_lib.data import DEFAULT_DATA_DIR, DataError, load_mnist

# Published MNIST label counts (LeCun et al.); a different file would not match them.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def train():
    return load_mnist("train")


def test_train_split_shapes_types_and_statistics(train):
    # Wrong shape/dtype/range would break every chapter; wrong counts or mean mean wrong
    # data.
    X, y = train
    assert X.shape == (60_000, 784) and X.dtype == np.float32
    assert y.shape == (60_000,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert np.bincount(y).tolist() == TRAIN_COUNTS
    assert abs(float(X.mean()) - 0.1307) < 1e-4 and abs(float(X.std()) - 0.3081) < 1e-4


def test_test_split_and_raw_unflattened_pixels(train):
    # normalize=False must give the raw bytes, flatten=False the 28 x 28 images, of the
    # same data.
    X, y = load_mnist("test")
    assert X.shape == (10_000, 784) and np.bincount(y).tolist() == TEST_COUNTS
    raw, y_raw = load_mnist("train", normalize=False, flatten=False)
    assert raw.shape == (60_000, 28, 28) and raw.dtype == np.uint8 and raw.max() == 255
    np.testing.assert_array_equal(raw.reshape(60_000, 784) / np.float32(255), train[0])
    np.testing.assert_array_equal(y_raw, train[1])


@pytest.mark.parametrize("normalize", [False, True])
def test_returned_arrays_are_writable_copies(normalize):
    # A read-only view of the decompressed buffer would make in-place preprocessing
    # fail; a view shared between calls would let one chapter's edit leak into the next
    # load.
    X, y = load_mnist("test", normalize=normalize)
    assert X.flags.writeable and y.flags.writeable
    assert X.flags.owndata and y.flags.owndata
    X[0, 0], y[0] = 1, 1
    X2, y2 = load_mnist("test", normalize=normalize)
    assert X2[0, 0] == 0 and y2[0] == 7   # the first test image: a 7, its corner blank


def test_unknown_split_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown MNIST split 'validation'.*'train', "
                                         r"'test'"):
        load_mnist("validation")


@pytest.fixture
def copy_dir(tmp_path):
    """A temporary, writable copy of data/mnist."""
    d = tmp_path / "mnist"
    shutil.copytree(DEFAULT_DATA_DIR, d)
    return d


def _rewrite(d, name, payload: bytes, fix_checksum: bool):
    """Replace the gzipped file `name` by gzip(payload); optionally update SHA256SUMS to
    match."""
    blob = gzip.compress(payload)
    (d / name).write_bytes(blob)
    if fix_checksum:
        sums = d / "SHA256SUMS"
        lines = [l for l in sums.read_text().splitlines() if not l.endswith(name)]
        lines.append(f"{hashlib.sha256(blob).hexdigest()}  {name}")
        sums.write_text("\n".join(lines) + "\n")


def test_data_dir_argument_is_used(copy_dir):
    # A data_dir that were ignored would read the repository files instead.
    (copy_dir / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: file not found"):
        load_mnist("test", data_dir=copy_dir)


def test_the_environment_variable_points_elsewhere(copy_dir, monkeypatch):
    # An installed wheel has no data/mnist beside it: LECTURE_LIB_DATA must be read, and
    # a data_dir argument must still win over it.
    (copy_dir / "t10k-labels-idx1-ubyte.gz").unlink()
    monkeypatch.setenv("LECTURE_LIB_DATA", str(copy_dir))
    with pytest.raises(DataError, match=f"{copy_dir}.*t10k-labels-idx1-ubyte.gz: file "
                                        f"not found"):
        load_mnist("test")
    X, _ = load_mnist("test", data_dir=DEFAULT_DATA_DIR)
    assert X.shape == (10_000, 784)


@pytest.mark.parametrize("where", ["default", "environment", "argument"])
def test_a_missing_folder_says_where_it_looked_and_how_to_point_elsewhere(
        tmp_path, monkeypatch, where):
    # What a student with a non-editable install sees: the folder tried, where that
    # folder came from, and both ways to name the right one.
    import lecture_lib.data as data
    nowhere = tmp_path / "nowhere"
    monkeypatch.delenv("LECTURE_LIB_DATA", raising=False)
    kwargs = {}
    if where == "default":
        monkeypatch.setattr(data, "DEFAULT_DATA_DIR", nowhere)
        source = "the repository's data/mnist next to lecture_lib"
    elif where == "environment":
        monkeypatch.setenv("LECTURE_LIB_DATA", str(nowhere))
        source = "the environment variable LECTURE_LIB_DATA"
    else:
        kwargs["data_dir"] = nowhere
        source = "the data_dir argument"
    with pytest.raises(DataError) as err:
        load_mnist("test", **kwargs)
    message = str(err.value)
    assert message.startswith(f"{nowhere}: MNIST directory not found (taken from "
                              f"{source})")
    assert "data_dir=" in message and "LECTURE_LIB_DATA=" in message
    assert "SHA256SUMS" in message


def test_missing_directory(tmp_path):
    with pytest.raises(DataError, match="MNIST directory not found"):
        load_mnist("train", data_dir=tmp_path / "nowhere")


def test_missing_checksum_file(copy_dir):
    (copy_dir / "SHA256SUMS").unlink()
    with pytest.raises(DataError, match="SHA256SUMS: checksum file not found"):
        load_mnist("test", data_dir=copy_dir)


def test_truncated_file_fails_its_checksum(copy_dir):
    # A download cut short must not be parsed into fewer images.
    f = copy_dir / "t10k-images-idx3-ubyte.gz"
    f.write_bytes(f.read_bytes()[:100_000])
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.gz: SHA-256 "
                                        r"mismatch.*100,000 bytes"):
        load_mnist("test", data_dir=copy_dir)


def test_corrupted_byte_fails_its_checksum(copy_dir):
    f = copy_dir / "train-labels-idx1-ubyte.gz"
    blob = bytearray(f.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    f.write_bytes(bytes(blob))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: SHA-256 mismatch"):
        load_mnist("train", data_dir=copy_dir)


def test_swapped_files_fail(copy_dir):
    # The test images stored under the training images' name: checksum catches it.
    shutil.copy(copy_dir / "t10k-images-idx3-ubyte.gz", copy_dir / "train-images-idx3-ubyte.gz")
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: SHA-256 mismatch"):
        load_mnist("train", data_dir=copy_dir)


def test_wrong_magic_number_with_matching_checksum(copy_dir):
    # A labels file in the images' place passes a recomputed checksum but not the IDX
    # header.
    labels = gzip.decompress((copy_dir / "t10k-labels-idx1-ubyte.gz").read_bytes())
    _rewrite(copy_dir, "t10k-images-idx3-ubyte.gz", labels, fix_checksum=True)
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.gz: IDX magic number "
                                        r"is 0x00000801, expected 0x00000803"):
        load_mnist("test", data_dir=copy_dir)


def test_wrong_sizes_in_header(copy_dir):
    header = np.array([0x0801, 9_999], dtype=">u4").tobytes()
    _rewrite(copy_dir, "t10k-labels-idx1-ubyte.gz", header + bytes(9_999), fix_checksum=True)
    with pytest.raises(DataError, match=r"IDX sizes are \(9999,\), expected \(10000,\)"):
        load_mnist("test", data_dir=copy_dir)


def test_short_payload_after_a_valid_header(copy_dir):
    header = np.array([0x0801, 10_000], dtype=">u4").tobytes()
    _rewrite(copy_dir, "t10k-labels-idx1-ubyte.gz", header + bytes(5_000), fix_checksum=True)
    with pytest.raises(DataError, match=r"expected 10,000 data bytes after the header, "
                                        r"found 5,000"):
        load_mnist("test", data_dir=copy_dir)


def test_labels_outside_digits(copy_dir):
    header = np.array([0x0801, 10_000], dtype=">u4").tobytes()
    _rewrite(copy_dir, "t10k-labels-idx1-ubyte.gz", header + bytes([12]) * 10_000, fix_checksum=True)
    with pytest.raises(DataError, match="labels must be digits 0-9, found 12"):
        load_mnist("test", data_dir=copy_dir)


def test_not_gzip_with_matching_checksum(copy_dir):
    name = "t10k-labels-idx1-ubyte.gz"
    blob = b"this is not gzip"
    (copy_dir / name).write_bytes(blob)
    sums = copy_dir / "SHA256SUMS"
    text = "\n".join(l for l in sums.read_text().splitlines() if not l.endswith(name))
    sums.write_text(text + f"\n{hashlib.sha256(blob).hexdigest()}  {name}\n")
    with pytest.raises(DataError, match=f"{name}: not a valid gzip file"):
        load_mnist("test", data_dir=copy_dir)


def test_a_damaged_file_can_be_caught_as_a_value_error(copy_dir):
    # Callers that guard loading with `except ValueError` (bad input, as for a wrong
    # split) must also catch a damaged file; a DataError outside ValueError would escape
    # them.
    (copy_dir / "t10k-images-idx3-ubyte.gz").write_bytes(b"damaged")
    with pytest.raises(ValueError,
                       match="t10k-images-idx3-ubyte.gz: SHA-256 mismatch") as info:
        load_mnist("test", data_dir=copy_dir)
    assert type(info.value) is DataError


def test_binary_task_keeps_threes_and_fives_in_file_order(train):
    # The one binary task of chapters 2-5: a wrong filter or label convention changes
    # every gradient those chapters show.
    from lecture_lib.data import binary_task
    X, digits = train
    Xb, yb = binary_task(X, digits, n=50)
    rows = np.flatnonzero((digits == 3) | (digits == 5))[:50]
    np.testing.assert_array_equal(Xb, X[rows].astype(np.float64))
    assert Xb.dtype == np.float64 and yb.tolist() == (digits[rows] == 3).astype(float).tolist()
    assert 0 < yb.sum() < 50
    with pytest.raises(ValueError, match=r"asked for n = 100000 images"):
        binary_task(X, digits, n=100_000)
    with pytest.raises(ValueError, match=r"X: \(N, P\)"):
        binary_task(X[:, :5].ravel(), digits)


def test_validation_split_is_fixed_disjoint_and_covers_the_training_set(train):
    # A split that moved between calls, overlapped, or dropped images would let choices
    # leak information or change between chapters.
    from lecture_lib.data import train_validation_split, validation_indices
    X, y = train
    (Xf, yf), (Xv, yv) = train_validation_split(X, y)
    assert Xf.shape == (50_000, 784) and Xv.shape == (10_000, 784)
    val = validation_indices()
    np.testing.assert_array_equal(val, validation_indices())
    np.testing.assert_array_equal(Xv, X[val])
    fit = np.setdiff1d(np.arange(60_000), val)
    np.testing.assert_array_equal(yf, y[fit])
    assert len(np.intersect1d(fit, val)) == 0 and len(fit) + len(val) == 60_000
    # Random, not a block: every digit appears in about its training proportion.
    share = np.bincount(yv, minlength=10) / 10_000
    assert np.all(np.abs(share - np.bincount(y) / 60_000) < 0.01)
    with pytest.raises(ValueError, match="X has N = 60000 rows but y has 5"):
        train_validation_split(X, y[:5])
