"""Small synthetic classification sets for teaching and tests.

Each returns ``(X, y)`` (float32 features, int64 labels), or a ``TensorDataset`` of them with
``as_dataset=True``, drawn from ``numpy.random.default_rng(seed)``: the same arrays for the
same arguments, on every machine.

>>> X, y = xor()
>>> X.tolist(), y.tolist()
([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])
"""
from __future__ import annotations

import numpy

from ..dataset import TensorDataset


def _finish(X, y, as_dataset: bool, rng=None):
    X = numpy.ascontiguousarray(X, dtype=numpy.float32)
    y = numpy.ascontiguousarray(y, dtype=numpy.int64)
    if rng is not None:  # interleave the classes
        order = rng.permutation(len(y))
        X, y = X[order], y[order]
    return TensorDataset(X, y) if as_dataset else (X, y)


def _split_count(n: int, k: int) -> list[int]:
    if n < k:
        raise ValueError(f"expected at least {k} samples (one per class), got {n}")
    return [n // k + (i < n % k) for i in range(k)]


def xor(n_per_corner: int = 1, noise: float = 0.0, seed: int = 0, as_dataset: bool = False):
    """The XOR truth table: corners of the unit square, label ``x0 xor x1``; with
    ``n_per_corner > 1`` and ``noise`` > 0, Gaussian clouds around each corner."""
    corners = numpy.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=numpy.float64)
    X = numpy.repeat(corners, n_per_corner, axis=0)
    y = numpy.repeat(numpy.array([0, 1, 1, 0]), n_per_corner)
    if noise:
        X = X + numpy.random.default_rng(seed).normal(0.0, noise, size=X.shape)
    return _finish(X, y, as_dataset)


def two_spirals(n: int = 200, noise: float = 0.0, turns: float = 1.5, seed: int = 0,
                as_dataset: bool = False):
    """Two interleaved spirals (``n`` points in all), coordinates within about [-1, 1]."""
    rng = numpy.random.default_rng(seed)
    n0, n1 = _split_count(n, 2)
    parts = []
    for label, count in ((0, n0), (1, n1)):
        t = numpy.sqrt(rng.uniform(0.0, 1.0, count)) * turns * 2 * numpy.pi
        r = t / (turns * 2 * numpy.pi)
        sign = 1.0 if label == 0 else -1.0
        pts = sign * numpy.stack([r * numpy.cos(t), r * numpy.sin(t)], axis=1)
        parts.append((pts + rng.normal(0.0, noise, pts.shape), numpy.full(count, label)))
    return _finish(numpy.concatenate([p[0] for p in parts]),
                   numpy.concatenate([p[1] for p in parts]), as_dataset, rng)


def gaussian_blobs(n: int = 300, centers=3, dim: int = 2, std: float = 1.0,
                   box: float = 10.0, seed: int = 0, as_dataset: bool = False):
    """Isotropic Gaussian clusters, one class each: ``centers`` is a count (drawn uniformly in
    [-box, box]^dim) or an array of centres (k, dim)."""
    rng = numpy.random.default_rng(seed)
    if isinstance(centers, (int, numpy.integer)):
        centers = rng.uniform(-box, box, size=(int(centers), dim))
    centers = numpy.asarray(centers, dtype=numpy.float64)
    if centers.ndim != 2:
        raise ValueError(f"gaussian_blobs: centers must be a count or a (k, dim) array, got "
                         f"shape {centers.shape}")
    counts = _split_count(n, len(centers))
    X = numpy.concatenate([c + rng.normal(0.0, std, (k, centers.shape[1]))
                           for c, k in zip(centers, counts)])
    y = numpy.repeat(numpy.arange(len(centers)), counts)
    return _finish(X, y, as_dataset, rng)


def two_moons(n: int = 200, noise: float = 0.1, seed: int = 0, as_dataset: bool = False):
    """Two interleaving half circles (as scikit-learn's ``make_moons``)."""
    rng = numpy.random.default_rng(seed)
    n0, n1 = _split_count(n, 2)
    t0, t1 = numpy.linspace(0, numpy.pi, n0), numpy.linspace(0, numpy.pi, n1)
    X = numpy.concatenate([numpy.stack([numpy.cos(t0), numpy.sin(t0)], axis=1),
                           numpy.stack([1 - numpy.cos(t1), 0.5 - numpy.sin(t1)], axis=1)])
    X = X + rng.normal(0.0, noise, X.shape)
    y = numpy.concatenate([numpy.zeros(n0), numpy.ones(n1)])
    return _finish(X, y, as_dataset, rng)


def linearly_separable(n: int = 200, dim: int = 2, margin: float = 0.1, seed: int = 0,
                       as_dataset: bool = False):
    """Points in [-1, 1]^dim labelled by a random hyperplane through the origin, every point
    at least ``margin`` away from it (so a linear classifier reaches 100%)."""
    rng = numpy.random.default_rng(seed)
    w = rng.normal(size=dim)
    w /= numpy.linalg.norm(w)
    X = rng.uniform(-1.0, 1.0, size=(n, dim))
    side = X @ w
    y = (side > 0).astype(numpy.int64)
    X = X + numpy.outer(numpy.where(y == 1, 1.0, -1.0) * margin, w)  # push away from the plane
    return _finish(X, y, as_dataset)
