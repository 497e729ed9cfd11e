"""plotting.show_digits: the grid of MNIST digits chapter 1 shows."""
import matplotlib
import numpy as np
import pytest

from lecture_lib import plotting
from lecture_lib.data import load_mnist

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def test_set():
    X, y = load_mnist("test")
    return X[:2000], y[:2000]


def test_one_row_per_class_and_only_images_of_that_class(test_set):
    # Each row must show per_class images of its own digit, labelled with it; a wrong
    # mask or a swapped index would put other digits in the row.
    X, y = test_set
    fig = plotting.show_digits(X, y, per_class=4, classes=[3, 5, 8], rng=1, title="t")
    axes = np.array(fig.axes[:12]).reshape(3, 4)
    images = X.reshape(-1, 28, 28)
    for row, digit in zip(axes, [3, 5, 8]):
        assert row[0].get_ylabel() == str(digit)
        for ax in row:
            shown = ax.images[0].get_array()
            matches = np.flatnonzero((images == shown).all(axis=(1, 2)))
            assert matches.size and set(y[matches]) == {digit}
    assert fig._suptitle.get_text() == "t"


def test_the_seed_picks_the_images(test_set):
    # Same rng: the same figure (the stored notebook output depends on it); another:
    # others.
    X, y = test_set
    def pick(rng):
        fig = plotting.show_digits(X, y, per_class=3, rng=rng)
        return [ax.images[0].get_array().sum() for ax in fig.axes if ax.images]
    assert pick(0) == pick(0) and pick(0) != pick(1)
    assert pick(None) == pick(0)


def test_accepts_28_by_28_images_and_refuses_other_widths(test_set):
    X, y = test_set
    fig = plotting.show_digits(X.reshape(-1, 28, 28), y, per_class=2)
    assert len([ax for ax in fig.axes if ax.images]) == 20
    with pytest.raises(ValueError, match="P = 784"):
        plotting.show_digits(X[:, :700], y)
    with pytest.raises(ValueError, match="rows but y has"):
        plotting.show_digits(X, y[:-1])


def test_book_style_reads_in_the_column():
    # After use_book_style every text is at least TEXT_PT and figures are the column's
    # width: a smaller default would be shrunk below legibility on the page.
    import matplotlib.pyplot as plt
    from matplotlib import rcParams
    with matplotlib.rc_context():
        plotting.use_book_style()
        assert rcParams["figure.figsize"][0] == plotting.COLUMN_IN <= 6.5
        for key in ("font.size", "axes.labelsize", "axes.titlesize"):
            assert rcParams[key] >= plotting.LABEL_PT >= 10
        for key in ("xtick.labelsize", "ytick.labelsize", "legend.fontsize"):
            assert rcParams[key] >= plotting.TEXT_PT >= 9
        fig, axes = plotting.column_figure(2, 1)
        assert fig.get_size_inches()[0] == plotting.COLUMN_IN and len(axes) == 2
        plt.close(fig)


def test_series_differ_by_line_style_as_well_as_colour():
    # Colour alone must not tell curves apart (colour-blind readers, grey print).
    with matplotlib.rc_context():
        plotting.use_book_style()
        cycle = list(matplotlib.rcParams["axes.prop_cycle"])
        styles = [c["linestyle"] for c in cycle]
        colours = [c["color"] for c in cycle]
        assert len(set(map(str, styles))) == len(styles) == len(set(colours)) >= 6


def test_digit_grid_fits_the_column(test_set):
    X, y = test_set
    fig = plotting.show_digits(X, y, per_class=10)
    assert fig.get_size_inches()[0] <= plotting.COLUMN_IN


# ------------------------------------------------ chapter 3: Jacobians, cell by cell
def _gids(fig):
    return {p.get_gid(): p for ax in fig.axes for p in ax.patches if p.get_gid()}


def _text_at(ax, patch):
    """The text drawn in the middle of a cell, or None."""
    x, y = patch.get_x() + 0.5, patch.get_y() + 0.5
    found = [t.get_text() for t in ax.texts if t.get_position() == (x, y)]
    return found[0] if found else None


def test_relu_jacobian_is_the_mask_on_the_diagonal():
    # The mask and the diagonal must show 1 exactly where q > 0 (0 at q = 0, as torch),
    # in the same rows; a shifted row or a mask of q >= 0 would break it.
    import matplotlib.pyplot as plt
    q = np.array([0.5, -1.0, 0.0, 2.0, -0.1])
    fig = plotting.show_relu_jacobian(q, layer=2)
    ax_m, ax_j = fig.axes
    cells = _gids(fig)
    assert set(cells) == {f"mask[{k}]" for k in range(5)} | {f"J[{k},{k}]"
                                                             for k in range(5)}
    for k, on in enumerate(q > 0):
        assert _text_at(ax_m, cells[f"mask[{k}]"]) == ("1" if on else "0")
        assert _text_at(ax_j, cells[f"J[{k},{k}]"]) == ("1" if on else "0")
        assert cells[f"J[{k},{k}]"].get_y() == cells[f"mask[{k}]"].get_y() == k
    labels = [t.get_text() for t in ax_m.get_yticklabels()]
    assert labels[1] == "$q_{2,2} = -1.00$"
    assert fig.get_size_inches()[0] <= plotting.COLUMN_IN
    plt.close(fig)


def test_relu_jacobian_refuses_a_batch():
    with pytest.raises(ValueError, match="ONE observation"):
        plotting.show_relu_jacobian(np.ones((2, 3)))
    with pytest.raises(ValueError, match="K <= 24"):
        plotting.show_relu_jacobian(np.ones(25))


def test_weight_jacobian_shades_exactly_the_non_zero_entries():
    # Every shaded cell is a non-zero entry of J and shows its input h_{1,i} and
    # value; a transposed grouping (by i instead of j) would shade other cells.
    import matplotlib.pyplot as plt
    from lecture_lib.twolayer import jacobian_q2_wrt_W2
    h1 = np.array([0.5, 1.5, 2.0])
    J = jacobian_q2_wrt_W2(h1, 2)                       # (K2, K1, K2) = (2, 3, 2)
    fig = plotting.show_weight_jacobian(J, layer=2)
    (ax,) = fig.axes
    cells = _gids(fig)
    assert set(cells) == {f"J[{k},{i},{j}]" for k, i, j in zip(*np.nonzero(J))}
    for k, i, j in zip(*np.nonzero(J)):
        patch = cells[f"J[{k},{i},{j}]"]
        assert patch.get_y() == k                       # the row of its output q_{2,k}
        assert _text_at(ax, patch) == f"$h_{{1,{i + 1}}}$\n{h1[i]:.3g}"
    assert fig.get_size_inches()[0] <= plotting.COLUMN_IN
    plt.close(fig)


def test_weight_jacobian_refuses_other_shapes():
    with pytest.raises(ValueError, match="K_out, K_in, K_out"):
        plotting.show_weight_jacobian(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="at most 40"):
        plotting.show_weight_jacobian(np.zeros((7, 6, 7)))


# ------------------------------------------------ chapter 7: runs with and without clipping
def _history(loss, norm, diverged_at=None):
    from lecture_lib.train import History
    return History(step_loss=list(loss), grad_norm=list(norm), diverged_at=diverged_at)


def test_loss_and_grad_norm_draws_each_run_its_threshold_and_its_stop():
    # One loss line (the running mean) and one norm line per run, in the same colour; a
    # cross at the last step of the run that diverged only; one dotted line at each
    # threshold c. A wrong mean, a missing cross or a threshold at the wrong height
    # would show the reader another run than the one trained.
    import matplotlib.pyplot as plt
    clipped = _history([4.0, 2.0, 6.0, 1.0], [10.0, 8.0, 6.0, 4.0])
    blown = _history([4.0, 40.0, 400.0], [10.0, 1e3, 1e5], diverged_at=3)
    fig = plotting.loss_and_grad_norm({"clipped": (clipped, 3), "none": (blown, None)},
                                      title="t", smooth=2)
    ax_l, ax_g = fig.axes[:2]
    lines = [l for l in ax_l.get_lines() if l.get_label() in ("clipped", "none")]
    assert [l.get_label() for l in lines] == ["clipped", "none"]
    np.testing.assert_allclose(lines[0].get_ydata(), [4.0, 3.0, 4.0, 3.5])
    crosses = [l for l in ax_l.get_lines() if l.get_marker() == "x"]
    assert len(crosses) == 1 and list(crosses[0].get_xdata()) == [3]
    norms = [l for l in ax_g.get_lines() if len(l.get_xdata()) > 2]
    assert [list(l.get_ydata()) for l in norms] == [clipped.grad_norm, blown.grad_norm]
    assert norms[0].get_color() == lines[0].get_color()
    dotted = [l for l in ax_g.get_lines() if l.get_linestyle() == ":"]
    assert len(dotted) == 1 and list(dotted[0].get_ydata()) == [3, 3]
    assert [t.get_text() for t in ax_g.texts] == ["c = 3"]
    assert ax_g.get_ylim()[0] <= 1.5                       # the threshold stays in view
    assert fig.get_size_inches()[0] <= plotting.COLUMN_IN
    plt.close(fig)


def test_loss_and_grad_norm_refuses_bad_input():
    h = _history([1.0], [1.0])
    with pytest.raises(ValueError, match="runs is empty"):
        plotting.loss_and_grad_norm({}, title="t")
    with pytest.raises(ValueError, match="smooth must be"):
        plotting.loss_and_grad_norm({"a": (h, None)}, title="t", smooth=0)
