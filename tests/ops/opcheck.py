"""Shared helpers for the op tests: seeded inputs, NumPy comparisons and gradient checks."""
from __future__ import annotations

import numpy as np

import nerve
from nerve.autograd import gradcheck, gradgradcheck

DTYPES = (np.float32, np.float64)
TOL = {np.dtype(np.float32): dict(rtol=2e-5, atol=1e-6),
       np.dtype(np.float64): dict(rtol=1e-10, atol=1e-12)}


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def sample(shape, domain: str = "real", seed: int = 0) -> np.ndarray:
    """float64 inputs from ``domain``: 'real' (normal), 'positive' ([0.5, 2], for log/sqrt),
    'nonzero' (|x| in [0.2, 2], away from kinks at 0) or 'unit' ((-0.9, 0.9), for log1p)."""
    r = rng(seed)
    if domain == "real":
        return r.standard_normal(shape)
    if domain == "positive":
        return r.uniform(0.5, 2.0, shape)
    if domain == "nonzero":
        return r.uniform(0.2, 2.0, shape) * r.choice([-1.0, 1.0], shape)
    if domain == "unit":
        return r.uniform(-0.9, 0.9, shape)
    raise ValueError(domain)


def distinct(shape, seed: int = 0) -> np.ndarray:
    """float64 values at least 0.1 apart, so max/min/sort have no ties."""
    n = int(np.prod(shape))
    return (rng(seed).permutation(n) * 0.1 - n * 0.05).reshape(shape)


def leaf(array, dtype=np.float64, requires_grad: bool = True) -> nerve.Tensor:
    return nerve.tensor(np.asarray(array, dtype=dtype), requires_grad=requires_grad)


def assert_close(actual, expected, dtype=None) -> None:
    """``actual`` (Tensor or array) equals the NumPy reference within ``dtype``'s tolerance."""
    if isinstance(actual, nerve.Tensor):
        actual = actual.detach().numpy()
    expected = np.asarray(expected)
    dtype = np.dtype(dtype or np.asarray(actual).dtype)
    assert np.shape(actual) == expected.shape, (np.shape(actual), expected.shape)
    np.testing.assert_allclose(actual, expected, **TOL.get(dtype, TOL[np.dtype(np.float64)]))


def check_values(fn, ref, arrays, dtype, **kwargs) -> None:
    """``fn`` on tensors of ``dtype`` matches ``ref`` on the same arrays, dtype included."""
    arrays = [np.asarray(a, dtype=dtype) for a in arrays]
    out = fn(*[nerve.tensor(a) for a in arrays], **kwargs)
    expected = np.asarray(ref(*arrays, **kwargs))
    assert out.dtype == np.dtype(dtype), (out.dtype, dtype)
    assert_close(out, expected.astype(dtype), dtype)


def check_grads(fn, arrays, second: bool = True, **kwargs) -> None:
    """float64 gradcheck (and gradgradcheck) of ``fn`` at ``arrays``; kwargs go to ``fn``."""
    inputs = [leaf(a) for a in arrays]

    def call(*xs):
        return fn(*xs, **kwargs)

    assert gradcheck(call, inputs)
    if second:
        assert gradgradcheck(call, inputs)


def grads_of(fn, arrays, seed=None, dtype=np.float64):
    """Gradients of ``sum(fn(*xs) * w)`` (``w`` = ones, or random with ``seed``) as arrays."""
    xs = [leaf(a, dtype) for a in arrays]
    out = fn(*xs)
    w = np.ones(out.shape) if seed is None else rng(seed).standard_normal(out.shape)
    (out * nerve.tensor(w.astype(dtype))).sum().backward()
    return [x.grad.numpy() for x in xs]


def unbroadcast(g: np.ndarray, shape) -> np.ndarray:
    """NumPy reference: sum a broadcast gradient back to ``shape``."""
    while g.ndim > len(shape):
        g = g.sum(0)
    for i, n in enumerate(shape):
        if n == 1 and g.shape[i] != 1:
            g = g.sum(i, keepdims=True)
    return g
