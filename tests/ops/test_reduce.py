"""Reductions, softmax/log_softmax and cumsum (nerve/ops/reduce.py and nerve/ops/math.py)."""
import math

import numpy as np
import pytest

import nerve

from .opcheck import DTYPES, assert_close, check_grads, check_values, distinct, grads_of, leaf


def _values(result):
    return result.values if isinstance(result, tuple) else result


def _np_logsumexp(a, axis=None, keepdims=False):
    m = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


# name -> (nerve fn(x, dim, keepdim), NumPy reference(a, axis, keepdims)); inputs are distinct
# nonzero values, so max/min have no ties and prod no zeros
REDUCTIONS = {
    "sum": (nerve.sum, np.sum),
    "mean": (nerve.mean, np.mean),
    "prod": (nerve.prod, np.prod),
    "var": (lambda x, d=None, k=False: nerve.var(x, d, keepdim=k),
            lambda a, axis, keepdims: np.var(a, axis, ddof=1, keepdims=keepdims)),
    "std": (lambda x, d=None, k=False: nerve.std(x, d, keepdim=k),
            lambda a, axis, keepdims: np.std(a, axis, ddof=1, keepdims=keepdims)),
    "var_biased": (lambda x, d=None, k=False: nerve.var(x, d, keepdim=k, unbiased=False),
                   np.var),
    "std_correction0": (lambda x, d=None, k=False: nerve.std(x, d, keepdim=k, correction=0),
                        np.std),
    "max": (lambda x, d=None, k=False: _values(nerve.max(x, d, k)), np.max),
    "min": (lambda x, d=None, k=False: _values(nerve.min(x, d, k)), np.min),
    "amax": (nerve.amax, np.amax),
    "amin": (nerve.amin, np.amin),
    "logsumexp": (nerve.logsumexp, _np_logsumexp),
}
DIMS = [None, 0, -1, (0, 2), (2, 0, 1)]


def _inputs(shape, seed=0):
    """Values with distinct |x| in [0.5, 1.5) and random signs: no ties, no zeros."""
    r = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return (r.choice([-1.0, 1.0], n) * (0.5 + r.permutation(n) / n)).reshape(shape)


def _call(fn, x, dim, keepdim):
    return fn(x) if dim is None and not keepdim else fn(x, dim, keepdim)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("name", REDUCTIONS)
def test_reduction_values(name, dim, keepdim, dtype):
    fn, ref = REDUCTIONS[name]
    axis = tuple(dim) if isinstance(dim, tuple) else dim
    check_values(lambda x: _call(fn, x, dim, keepdim),
                 lambda a: ref(a, axis=axis, keepdims=keepdim), [_inputs((2, 3, 4))], dtype)


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [None, 1, (0, 2)])
@pytest.mark.parametrize("name", REDUCTIONS)
def test_reduction_gradients(name, dim, keepdim):
    fn, _ = REDUCTIONS[name]
    check_grads(lambda x: _call(fn, x, dim, keepdim), [_inputs((2, 3, 2), seed=1)])


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [None, 0, -1])
@pytest.mark.parametrize("name", ["sum", "mean", "prod", "max", "min", "amax", "amin",
                                  "logsumexp"])
def test_reductions_on_scalars(name, dim, keepdim):
    fn, _ = REDUCTIONS[name]
    x = leaf(1.5)
    out = _call(fn, x, dim, keepdim)
    assert out.shape == ()
    expected = math.log(math.exp(1.5)) if name == "logsumexp" else 1.5
    assert_close(out, np.array(expected))
    out.backward()
    assert_close(x.grad, np.array(1.0))


def test_numpy_keywords_and_methods():
    a = _inputs((2, 3, 4))
    x = leaf(a)
    assert_close(nerve.sum(x, axis=(0, 2), keepdims=True), a.sum((0, 2), keepdims=True))
    assert_close(nerve.mean(x, axis=1), a.mean(1))
    assert_close(x.sum(1, keepdim=True), a.sum(1, keepdims=True))
    assert_close(x.var(-1), a.var(-1, ddof=1))
    assert_close(x.logsumexp(0), _np_logsumexp(a, 0))
    assert_close(nerve.max(x, axis=1), a.max(1))
    assert_close(nerve.amax(x, axis=(0, 1), keepdims=True), a.max((0, 1), keepdims=True))
    assert_close(nerve.amin(x, axis=-1), a.min(-1))
    np.testing.assert_array_equal(nerve.argmax(x, axis=2, keepdims=True).numpy(),
                                  a.argmax(2, keepdims=True))
    np.testing.assert_array_equal(x.argmin(axis=0).numpy(), a.argmin(0))


def test_mean_of_integers_is_an_error():
    with pytest.raises(RuntimeError, match="mean.*int64"):
        nerve.mean(nerve.tensor([1, 2, 3]))


def test_reduction_axis_out_of_range():
    with pytest.raises(IndexError, match="axis 3 is out of range"):
        nerve.sum(leaf(np.ones((2, 3))), 3)


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("largest", [True, False])
def test_argmax_argmin(largest, dim, keepdim):
    a = distinct((3, 4))
    x = leaf(a)
    fn, ref = (nerve.argmax, np.argmax) if largest else (nerve.argmin, np.argmin)
    out = fn(x) if dim is None else fn(x, dim, keepdim)
    expected = ref(a) if dim is None else ref(a, axis=dim, keepdims=keepdim)
    assert out.dtype == np.int64 and not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), expected)
    method = getattr(x, "argmax" if largest else "argmin")
    np.testing.assert_array_equal(method(dim=dim).numpy(), ref(a, axis=dim))


@pytest.mark.parametrize("largest", [True, False])
def test_max_min_with_dim_return_values_and_indices(largest):
    a = distinct((3, 4))
    fn = nerve.max if largest else nerve.min
    values, indices = fn(leaf(a), 1)
    assert_close(values, a.max(1) if largest else a.min(1))
    np.testing.assert_array_equal(indices.numpy(), a.argmax(1) if largest else a.argmin(1))
    result = fn(leaf(a), dim=0, keepdim=True)
    assert result.values.shape == (1, 4) and result.indices.shape == (1, 4)


# As PyTorch: max(dim) routes a tie's gradient to the index it returns (the first);
# amax/amin and whole-tensor max/min share it evenly among the tied elements.
@pytest.mark.parametrize("fn, a, expected", [
    (nerve.max, [3.0, 1.0, 3.0], [0.5, 0.0, 0.5]),
    (nerve.min, [1.0, 2.0, 1.0], [0.5, 0.0, 0.5]),
    (lambda x: nerve.max(x, 1).values, [[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]],
     [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]),
    (lambda x: nerve.amax(x, 0), [[2.0, 1.0], [2.0, 5.0]], [[0.5, 0.0], [0.5, 1.0]]),
    (lambda x: nerve.amin(x, (0, 1)), [[0.0, 1.0], [0.0, 5.0]], [[0.5, 0.0], [0.5, 0.0]]),
])
def test_max_ties_share_or_route_gradient(fn, a, expected):
    (g,) = grads_of(fn, [np.array(a)])
    assert_close(g, np.array(expected))


@pytest.mark.parametrize("a, expected", [
    ([2.0, 0.0, 3.0], [0.0, 6.0, 0.0]),
    ([0.0, 0.0, 3.0], [0.0, 0.0, 0.0]),
    ([2.0, 4.0, 3.0], [12.0, 6.0, 8.0]),
])
def test_prod_gradient_with_zeros_is_exact(a, expected):
    (g,) = grads_of(nerve.prod, [np.array(a)])
    assert_close(g, np.array(expected))
    (g,) = grads_of(lambda x: nerve.prod(x, 1), [np.array([a, a[::-1]])])
    assert_close(g, np.array([expected, expected[::-1]]))


# ---- softmax family, cumsum -----------------------------------------------------------------
def _np_softmax(a, axis):
    e = np.exp(a - a.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


SOFTMAX = {
    "softmax": (nerve.softmax, _np_softmax),
    "log_softmax": (nerve.log_softmax, lambda a, axis: np.log(_np_softmax(a, axis))),
    "cumsum": (nerve.cumsum, lambda a, axis: np.cumsum(a, axis)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("name", SOFTMAX)
def test_softmax_family_values(name, dim, dtype):
    fn, ref = SOFTMAX[name]
    a = np.random.default_rng(0).standard_normal((2, 3, 4))
    check_values(lambda x: fn(x, dim), lambda b: ref(b, dim), [a], dtype)


@pytest.mark.parametrize("dim", [0, -1])
@pytest.mark.parametrize("name", SOFTMAX)
def test_softmax_family_gradients(name, dim):
    fn, _ = SOFTMAX[name]
    check_grads(lambda x: fn(x, dim), [np.random.default_rng(1).standard_normal((3, 4))])


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_stable_for_huge_inputs(dtype):
    a = np.array([[-1e4, 0.0, 1e4], [1e4, 1e4, -1e4]])
    x = leaf(a, dtype)
    log2 = math.log(2)
    assert_close(nerve.softmax(x, -1), np.array([[0, 0, 1], [0.5, 0.5, 0]], dtype=dtype))
    assert_close(nerve.log_softmax(x, -1),
                 np.array([[-2e4, -1e4, 0], [-log2, -log2, -2e4 - log2]], dtype=dtype))
    assert_close(nerve.logsumexp(x, -1), np.array([1e4, 1e4 + log2], dtype=dtype))
    nerve.log_softmax(x, -1)[:, 0].sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    assert_close(x.grad, np.array([[1, 0, -1], [0.5, -0.5, 0]], dtype=dtype))


def test_softmax_of_scalar_and_default_dim():
    assert_close(nerve.softmax(leaf(3.0)), np.array(1.0))
    a = np.random.default_rng(2).standard_normal((2, 5))
    assert_close(nerve.softmax(leaf(a)), _np_softmax(a, -1))
    assert_close(leaf(a).log_softmax(0), np.log(_np_softmax(a, 0)))
