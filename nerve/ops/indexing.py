"""Indexing primitives: ``__getitem__`` (basic and advanced), gather/scatter_add,
index_select/index_add, with scatter-add adjoints so repeated indices accumulate."""
from __future__ import annotations

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import get_array_module, kernels
from .reduce import normalize_axis


class GetItem(Function):
    def forward(self, a):
        self.in_shape = a.shape
        return a[self.index]

    def backward(self, F, g):
        return F.index_scatter(g, self.in_shape, self.index)


class IndexScatter(Function):
    """Zeros of ``shape`` with the input scatter-added at ``index`` (GetItem's adjoint)."""

    def forward(self, a):
        return kernels.index_scatter(a, self.shape, self.index)

    def backward(self, F, g):
        return g[self.index]


class Gather(Function):
    def forward(self, a):
        self.in_shape = a.shape
        return kernels.gather(a, self.dim, self.index)

    def backward(self, F, g):
        return F.scatter_add_zeros(g, self.in_shape, self.dim, self.index)


class ScatterAddZeros(Function):
    """Zeros of ``shape`` with the input added along ``dim`` at ``index`` (Gather's adjoint)."""

    def forward(self, src):
        return kernels.scatter_add_zeros(self.shape, self.dim, self.index, src)

    def backward(self, F, g):
        return F.gather(g, self.dim, self.index)


class IndexSelect(Function):
    def forward(self, a):
        self.in_shape = a.shape
        return self.xp.take(a, self.index, axis=self.dim)

    def backward(self, F, g):
        return F.index_add_zeros(g, self.in_shape, self.dim, self.index)


class IndexAddZeros(Function):
    """Zeros of ``shape`` with slices of the input added at ``index`` along ``dim``."""

    def forward(self, src):
        return kernels.index_add_zeros(self.shape, self.dim, self.index, src)

    def backward(self, F, g):
        return F.index_select(g, self.dim, self.index)


# ---- public functions -----------------------------------------------------------------------
def _as_index(index):
    """Turn Tensors inside an index into arrays; lists become integer/bool arrays."""
    if isinstance(index, tuple):
        return tuple(_as_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        import numpy

        return numpy.asarray(index)
    return index


def getitem(x: Tensor, index) -> Tensor:
    index = _as_index(index)
    try:
        return GetItem.apply(x, index=index)
    except IndexError as exc:
        raise IndexError(f"index {index!r} is invalid for a tensor of shape "
                         f"{tuple(x.shape)}: {exc}") from None


def _index_array(index, what, noun="index"):
    """``index`` (a Tensor or array-like) as an integer array, else a TypeError naming ``what``
    and calling the argument ``noun``."""
    data = index.data if isinstance(index, Tensor) else index
    xp = get_array_module(data)
    data = xp.asarray(data)
    if data.dtype.kind not in "iu":
        raise TypeError(f"{what}: {noun} must be an integer tensor, got dtype {data.dtype}")
    return data


def _check_range(index, size, dim, what):
    """Index values must address dim ``dim`` (of size ``size``): ``0 <= i < size``."""
    if index.size and (int(index.min()) < 0 or int(index.max()) >= size):
        raise IndexError(f"{what}: index values must be in [0, {size}) for dim {dim}, got range "
                         f"[{int(index.min())}, {int(index.max())}]")


def gather(x: Tensor, dim: int, index) -> Tensor:
    """``out[i][j] = x[i][index[i][j]]`` for dim=1 (as torch.gather)."""
    index = _index_array(index, "gather")
    dim = normalize_axis(dim, x.ndim)[0]
    if index.ndim != x.ndim or any(n > m for d, (n, m) in enumerate(zip(index.shape, x.shape))
                                   if d != dim):
        raise RuntimeError(f"gather: index of shape {tuple(index.shape)} does not fit input of "
                           f"shape {tuple(x.shape)} (same ndim, no larger off dim {dim})")
    _check_range(index, x.shape[dim], dim, "gather")
    return Gather.apply(x, dim=dim, index=index)


def scatter_add(x: Tensor, dim: int, index, src: Tensor) -> Tensor:
    """``x`` with ``src`` added at ``index`` along ``dim`` (repeated indices accumulate)."""
    index = _index_array(index, "scatter_add")
    dim = normalize_axis(dim, x.ndim)[0]
    if not isinstance(src, Tensor):
        src = Tensor(src)
    if index.ndim != x.ndim or src.ndim != x.ndim or any(
            n > m or (n > k and d != dim)
            for d, (n, m, k) in enumerate(zip(index.shape, src.shape, x.shape))):
        raise RuntimeError(f"scatter_add: index of shape {tuple(index.shape)} does not fit src "
                           f"of shape {tuple(src.shape)} and input of shape {tuple(x.shape)} "
                           f"(same ndim; index no larger than src, nor than input off dim {dim})")
    _check_range(index, x.shape[dim], dim, "scatter_add")
    return x + ScatterAddZeros.apply(src, shape=x.shape, dim=dim, index=index)


def index_select(x: Tensor, dim: int, index) -> Tensor:
    index = _index_array(index, "index_select")
    if index.ndim != 1:
        raise RuntimeError(f"index_select: index must be 1-D, got shape {tuple(index.shape)}")
    dim = normalize_axis(dim, x.ndim)[0]
    _check_range(index, x.shape[dim], dim, "index_select")
    return IndexSelect.apply(x, dim=dim, index=index)


def index_add(x: Tensor, dim: int, index, source: Tensor, *, alpha=1) -> Tensor:
    """``x`` with ``alpha * source[i]`` added to slice ``index[i]`` along ``dim``."""
    index = _index_array(index, "index_add")
    dim = normalize_axis(dim, x.ndim)[0]
    if not isinstance(source, Tensor):
        source = Tensor(source)
    expected = x.shape[:dim] + (index.size,) + x.shape[dim + 1:]
    if index.ndim != 1 or source.shape != expected:
        raise RuntimeError(f"index_add: source of shape {tuple(source.shape)} and index of "
                           f"shape {tuple(index.shape)} do not fit input of shape "
                           f"{tuple(x.shape)} along dim {dim} (expected a 1-D index and source "
                           f"of shape {expected})")
    _check_range(index, x.shape[dim], dim, "index_add")
    if alpha != 1:
        source = source * alpha
    return x + IndexAddZeros.apply(source, shape=x.shape, dim=dim, index=index)


def one_hot(index, num_classes: int = -1) -> Tensor:
    """Integer class indices -> int64 one-hot vectors in a new last dimension."""
    data = _index_array(index, "one_hot")
    xp = get_array_module(data)
    if num_classes < 0:
        num_classes = int(data.max()) + 1 if data.size else 0
    if data.size and (data.min() < 0 or data.max() >= num_classes):
        raise RuntimeError(f"one_hot: class values must be in [0, {num_classes}), got range "
                           f"[{int(data.min())}, {int(data.max())}]")
    return Tensor._make((data[..., None] == xp.arange(num_classes)).astype(xp.int64), None)


def masked_fill(x: Tensor, mask, value) -> Tensor:
    """``x`` with ``value`` where ``mask`` is true (the gradient is zero there)."""
    from .math import where

    return where(mask, value, x)
