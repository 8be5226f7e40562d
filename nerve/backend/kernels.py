"""Array kernels the array libraries lack or spell differently between NumPy and CuPy.

Each takes and returns plain arrays; the autograd layer wraps them in Functions.
"""
from __future__ import annotations

import math

import numpy

from .device import get_array_module


def add_at(out, index, values):
    """``out[index] += values`` with repeated indices accumulating (unbuffered scatter-add)."""
    if type(out) is numpy.ndarray:
        numpy.add.at(out, index, values)
    else:
        import cupyx

        cupyx.scatter_add(out, index, values)
    return out


def index_scatter(values, shape, index):
    """A zero array of ``shape`` with ``values`` scatter-added at ``index`` (any NumPy index)."""
    xp = get_array_module(values)
    out = xp.zeros(shape, dtype=values.dtype)
    if _is_basic_index(index):
        out[index] = values  # basic indexing never repeats an element
        return out
    return add_at(out, index, values)


def _is_basic_index(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice)) for i in items)


def _along_axis_index(index, dim):
    """The full tuple index that addresses ``x[..., index, ...]`` along ``dim`` (torch.gather)."""
    xp = get_array_module(index)
    grids = list(xp.ogrid[tuple(slice(0, n) for n in index.shape)])
    grids[dim] = index
    return tuple(grids)


def gather(x, dim, index):
    """``out[i][j] = x[i][index[i][j]]`` along ``dim``, index no larger than x off ``dim``."""
    return x[_along_axis_index(index, dim)]


def scatter_add_zeros(shape, dim, index, src, dtype=None):
    """Zeros of ``shape``, ``src`` scatter-added along ``dim`` at ``index`` (gather's adjoint)."""
    xp = get_array_module(src)
    out = xp.zeros(shape, dtype=dtype or src.dtype)
    src = src[tuple(slice(0, n) for n in index.shape)]
    return add_at(out, _along_axis_index(index, dim), src)


def index_add_zeros(shape, dim, index, src):
    """Zeros of ``shape`` with slices of ``src`` added at positions ``index`` (1-D) along
    ``dim``. The scatter runs on flat positions: NumPy's unbuffered add is several times
    faster on a 1-D array than on rows of a 2-D one (an embedding's backward)."""
    xp = get_array_module(src)
    dim %= len(shape)
    outer, inner = math.prod(shape[:dim]), math.prod(shape[dim + 1:])
    flat = ((xp.arange(outer)[:, None, None] * shape[dim] + index.reshape(1, -1, 1)) * inner
            + xp.arange(inner)[None, None, :])
    out = xp.zeros(math.prod(shape), dtype=src.dtype)
    return add_at(out, flat.reshape(-1), src.reshape(-1)).reshape(shape)


def erf(x):
    """The error function, elementwise, to full precision (SciPy when installed)."""
    xp = get_array_module(x)
    if xp is numpy:
        try:
            from scipy.special import erf as scipy_erf
        except ImportError:
            return numpy.vectorize(math.erf, otypes=[x.dtype])(x)
        return scipy_erf(x).astype(x.dtype, copy=False)
    from cupyx.scipy.special import erf as cupy_erf

    return cupy_erf(x)


def sigmoid(x):
    """Logistic function without overflow for large negative inputs."""
    xp = get_array_module(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
