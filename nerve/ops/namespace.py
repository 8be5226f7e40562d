"""The two namespaces that backward rules are written against (the ``F`` argument).

A rule such as ``g * F.cos(x)`` runs on raw arrays through ``ArrayOps`` in a first-order
backward, and on Tensors through ``TENSOR_OPS`` under ``create_graph=True``. Both expose the
same names (``NAMES``), which tests check.
"""
from __future__ import annotations

from types import SimpleNamespace

from ..autograd import engine
from ..backend import im2col, kernels, to_device
from . import conv, indexing, linalg, math, pool, shape

NAMES = ("exp", "log", "sin", "cos", "sign", "sigmoid", "where", "matmul", "swapaxes",
         "expand_dims", "broadcast_to", "transpose", "flip", "cumsum", "cast", "prod_others",
         "index_scatter", "gather", "scatter_add_zeros", "index_select", "index_add_zeros",
         "einsum", "to_device", "tanh", "concatenate", "stack",
         "conv2d", "conv_transpose2d", "conv2d_weight", "plane_gather", "plane_scatter",
         "window_sum", "window_spread")


def _exclusive_prod(xp, a, out, axes):
    """Product of all other elements along ``axes``, exact even where some are zero."""
    if not (a == 0).any():
        return out / a
    moved = xp.moveaxis(a, axes, tuple(range(-len(axes), 0)))
    flat = moved.reshape(moved.shape[:moved.ndim - len(axes)] + (-1,))
    ones = xp.ones(flat.shape[:-1] + (1,), dtype=a.dtype)
    left = xp.cumprod(xp.concatenate([ones, flat[..., :-1]], -1), -1)
    right = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(flat, -1)[..., :-1]], -1), -1), -1)
    others = (left * right).reshape(moved.shape)
    return xp.moveaxis(others, tuple(range(-len(axes), 0)), axes)


class ArrayOps:
    """``F`` for first-order backward: NumPy/CuPy functions and nerve's array kernels."""

    def __init__(self, xp):
        self.xp = xp
        for name in ("exp", "log", "sin", "cos", "sign", "where", "matmul", "swapaxes",
                     "expand_dims", "broadcast_to", "transpose", "flip", "tanh"):
            setattr(self, name, getattr(xp, name))
        self.sigmoid = kernels.sigmoid
        self.index_scatter = kernels.index_scatter
        self.gather = kernels.gather
        self.to_device = to_device
        for name in ("plane_gather", "plane_scatter", "window_sum", "window_spread",
                     "conv2d_weight"):
            setattr(self, name, getattr(im2col, name))
        self.conv_transpose2d = im2col.conv2d_input

    def conv2d(self, x, w, win):
        return im2col.conv2d(x, w, None, win)[0]

    def cumsum(self, a, axis):
        return self.xp.cumsum(a, axis=axis)

    def concatenate(self, arrays, axis):
        return self.xp.concatenate(arrays, axis=axis)

    def stack(self, arrays, axis):
        return self.xp.stack(arrays, axis=axis)

    def einsum(self, equation, *arrays):
        return linalg.einsum_arrays(self.xp, equation, *arrays)

    def cast(self, a, dtype):
        return a.astype(dtype, copy=False)

    def prod_others(self, a, out, axes):
        return _exclusive_prod(self.xp, a, out, axes)

    def scatter_add_zeros(self, src, shape, dim, index):
        return kernels.scatter_add_zeros(shape, dim, index, src)

    def index_select(self, a, dim, index):
        return self.xp.take(a, index, axis=dim)

    def index_add_zeros(self, src, shape, dim, index):
        return kernels.index_add_zeros(shape, dim, index, src)


def _tensor_prod_others(a, out, axes):
    # Differentiable through both a and out; where a == 0 this divides by zero, so the
    # second derivative of prod at an exact zero is not supported.
    return out / a


TENSOR_OPS = SimpleNamespace(
    exp=math.exp, log=math.log, sin=math.sin, cos=math.cos, sign=math.sign,
    sigmoid=math.sigmoid, where=math.where, matmul=linalg.matmul, swapaxes=shape.swapaxes,
    expand_dims=shape.unsqueeze, broadcast_to=shape.broadcast_to,
    transpose=lambda a, axes: shape.permute(a, axes), flip=shape.flip,
    cumsum=lambda a, axis: math.cumsum(a, axis), cast=lambda a, dtype: a.to(dtype),
    prod_others=_tensor_prod_others,
    index_scatter=lambda g, shp, index: indexing.IndexScatter.apply(g, shape=shp, index=index),
    gather=lambda a, dim, index: indexing.Gather.apply(a, dim=dim, index=index),
    scatter_add_zeros=lambda src, shp, dim, index: indexing.ScatterAddZeros.apply(
        src, shape=shp, dim=dim, index=index),
    index_select=lambda a, dim, index: indexing.IndexSelect.apply(a, dim=dim, index=index),
    index_add_zeros=lambda src, shp, dim, index: indexing.IndexAddZeros.apply(
        src, shape=shp, dim=dim, index=index),
    einsum=linalg.einsum,
    to_device=lambda g, device: g.to(device),
    tanh=math.tanh,
    concatenate=lambda tensors, axis: shape.cat(tensors, axis),
    stack=lambda tensors, axis: shape.stack(tensors, axis),
    conv2d=lambda x, w, win: conv.Conv2dFn.apply(x, w, None, win=win),
    conv_transpose2d=lambda g, w, x_shape, win: conv.ConvTranspose2dFn.apply(
        g, w, x_shape=x_shape, win=win),
    conv2d_weight=lambda x, g, w_shape, win, cols=None: conv.Conv2dWeightFn.apply(
        x, g, w_shape=w_shape, win=win, cols=cols),
    plane_gather=lambda x, index: pool.PlaneGather.apply(x, index=index),
    plane_scatter=lambda src, index, plane: pool.PlaneScatter.apply(src, index=index,
                                                                    plane=plane),
    window_sum=lambda x, win: pool.WindowSum.apply(x, win=win),
    window_spread=lambda g, x_shape, win: pool.WindowSpread.apply(g, x_shape=x_shape, win=win),
)


class _ArrayNamespaces(dict):
    """xp module -> ArrayOps, created on first use (so CuPy is touched only on a GPU)."""

    def __missing__(self, xp):
        ops = self[xp] = ArrayOps(xp)
        return ops


engine.ARRAY_NAMESPACES = _ArrayNamespaces()
engine.TENSOR_NAMESPACE = TENSOR_OPS
