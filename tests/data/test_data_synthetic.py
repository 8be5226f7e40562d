"""Synthetic sets: shapes, dtypes, balance, seeding and the geometry each promises."""
import numpy
import pytest

from nerve.data import TensorDataset
from nerve.data.datasets import gaussian_blobs, linearly_separable, two_moons, two_spirals, xor

MAKERS = [lambda **k: xor(n_per_corner=25, noise=0.1, **k), two_spirals, gaussian_blobs,
          two_moons, linearly_separable]


@pytest.mark.parametrize("make", MAKERS)
def test_types_seeding_and_dataset_form(make):
    X, y = make(seed=3)
    assert X.dtype == numpy.float32 and y.dtype == numpy.int64 and X.ndim == 2
    assert len(X) == len(y) and len(numpy.unique(y)) >= 2
    X2, y2 = make(seed=3)
    numpy.testing.assert_array_equal(X, X2)
    numpy.testing.assert_array_equal(y, y2)
    assert not numpy.array_equal(make(seed=4)[0], X)
    ds = make(seed=3, as_dataset=True)
    assert isinstance(ds, TensorDataset) and len(ds) == len(y)
    numpy.testing.assert_array_equal(ds.get_batch(numpy.arange(len(y)))[0], X)


def test_xor_truth_table():
    X, y = xor()
    assert X.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]] and y.tolist() == [0, 1, 1, 0]
    Xn, yn = xor(n_per_corner=10, noise=0.05, seed=0)
    assert len(yn) == 40
    numpy.testing.assert_array_equal(yn, (Xn[:, 0] > 0.5) ^ (Xn[:, 1] > 0.5))


def test_two_spirals_radius_tracks_angle():
    X, y = two_spirals(n=301, turns=1.5, seed=0)
    assert numpy.bincount(y).tolist() == [151, 150]
    X = X.astype(numpy.float64)
    r = numpy.linalg.norm(X, axis=1)
    assert r.max() <= 1.0 + 1e-6
    angle = r * 1.5 * 2 * numpy.pi  # noise-free: the angle grows with the radius
    on_spiral = numpy.stack([r * numpy.cos(angle), r * numpy.sin(angle)], axis=1)
    sign = numpy.where(y == 0, 1.0, -1.0)[:, None]  # class 1 is class 0 turned by pi
    numpy.testing.assert_allclose(X, sign * on_spiral, atol=1e-5)


def test_gaussian_blobs_given_centers():
    centers = numpy.array([[0.0, 0.0, 0.0], [10.0, 10.0, 10.0]])
    X, y = gaussian_blobs(n=1001, centers=centers, std=0.5, seed=0)
    assert X.shape == (1001, 3) and numpy.bincount(y).tolist() == [501, 500]
    for k in range(2):
        numpy.testing.assert_allclose(X[y == k].mean(0), centers[k], atol=0.1)
        numpy.testing.assert_allclose(X[y == k].std(0), 0.5, atol=0.05)
    with pytest.raises(ValueError, match="centers"):
        gaussian_blobs(centers=numpy.zeros(3))
    with pytest.raises(ValueError, match="one per class"):
        gaussian_blobs(n=2, centers=3)


def test_two_moons_without_noise_lie_on_the_half_circles():
    X, y = two_moons(n=100, noise=0.0)
    upper, lower = X[y == 0].astype(float), X[y == 1].astype(float)
    numpy.testing.assert_allclose(numpy.linalg.norm(upper, axis=1), 1.0, atol=1e-6)
    numpy.testing.assert_allclose(numpy.linalg.norm(lower - [1.0, 0.5], axis=1), 1.0, atol=1e-6)


def test_linearly_separable_keeps_its_margin():
    X, y = linearly_separable(n=500, dim=3, margin=0.2, seed=1)
    # recover the hyperplane with the same generator draw the function makes
    w = numpy.random.default_rng(1).normal(size=3)
    w /= numpy.linalg.norm(w)
    side = X.astype(numpy.float64) @ w
    assert numpy.all(side[y == 1] >= 0.2 - 1e-6) and numpy.all(side[y == 0] <= -0.2 + 1e-6)
