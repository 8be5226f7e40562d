"""Shape primitives (reshape, transpose, broadcast, concatenate, pad, flip) and the
composites built on them (squeeze, unsqueeze, flatten, stack, split, chunk, tril, triu)."""
from __future__ import annotations

import builtins

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import get_array_module
from .reduce import normalize_axis


class Reshape(Function):
    def forward(self, a):
        self.in_shape = a.shape
        return a.reshape(self.shape)

    def backward(self, F, g):
        return g.reshape(self.in_shape)


class Transpose(Function):
    def forward(self, a):
        return self.xp.transpose(a, self.axes)

    def backward(self, F, g):
        inverse = [0] * len(self.axes)
        for i, ax in enumerate(self.axes):
            inverse[ax] = i
        return F.transpose(g, tuple(inverse))


class BroadcastTo(Function):
    def forward(self, a):
        return self.xp.broadcast_to(a, self.shape)

    def backward(self, F, g):
        return g  # the engine sums it back to the input's shape


class Concatenate(Function):
    def forward(self, *arrays):
        self.sizes = [a.shape[self.axis] for a in arrays]
        return self.xp.concatenate(arrays, axis=self.axis)

    def backward(self, F, g):
        grads, start = [], 0
        lead = (builtins.slice(None),) * self.axis
        for n in self.sizes:
            grads.append(g[lead + (builtins.slice(start, start + n),)])
            start += n
        return tuple(grads)


class Pad(Function):
    """Constant padding; ``widths`` is one (before, after) pair per axis, as numpy.pad."""

    def forward(self, a):
        return self.xp.pad(a, self.widths, constant_values=self.value)

    def backward(self, F, g):
        return g[tuple(builtins.slice(lo, g.shape[i] - hi)
                       for i, (lo, hi) in enumerate(self.widths))]


class Flip(Function):
    def forward(self, a):
        return self.xp.flip(a, self.axis)

    def backward(self, F, g):
        return F.flip(g, self.axis)


# ---- public functions -----------------------------------------------------------------------
def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def reshape(x: Tensor, *shape) -> Tensor:
    """View ``x`` with a new shape (one dimension may be -1)."""
    shape = _shape_arg(shape)
    size = x.data.size
    known = 1
    for s in shape:
        known *= s if s != -1 else 1
    if shape.count(-1) > 1 or (-1 not in shape and known != size) or (
            -1 in shape and (known == 0 or size % known)):
        raise RuntimeError(f"reshape: shape {list(shape)} is invalid for a tensor of shape "
                           f"{tuple(x.shape)} ({size} elements)")
    if shape == x.data.shape:
        return x
    return Reshape.apply(x, shape=shape)


def permute(x: Tensor, *dims) -> Tensor:
    dims = _shape_arg(dims)
    if sorted(d % x.ndim for d in dims) != list(range(x.ndim)):
        raise RuntimeError(f"permute: dims {list(dims)} are not a permutation of the "
                           f"{x.ndim} dimensions of a tensor of shape {tuple(x.shape)}")
    return Transpose.apply(x, axes=tuple(d % x.ndim for d in dims))


def transpose(x: Tensor, dim0: int = None, dim1: int = None) -> Tensor:
    """Swap two dimensions (PyTorch); with no dims, reverse them all (NumPy's ``.T``)."""
    nd = x.ndim
    if dim0 is None:
        return Transpose.apply(x, axes=tuple(range(nd))[::-1])
    axes = list(range(nd))
    d0, d1 = normalize_axis(dim0, nd)[0], normalize_axis(dim1, nd)[0]
    axes[d0], axes[d1] = axes[d1], axes[d0]
    return Transpose.apply(x, axes=tuple(axes))


def swapaxes(x: Tensor, a: int, b: int) -> Tensor:
    return transpose(x, a, b)


def broadcast_to(x: Tensor, *shape) -> Tensor:
    shape = _shape_arg(shape)
    if shape == x.shape:
        return x
    if len(shape) < x.ndim or any(s != t and s != 1
                                  for s, t in zip(x.shape[::-1], shape[::-1])):
        raise RuntimeError(f"broadcast_to: cannot broadcast shape {tuple(x.shape)} to "
                           f"{shape}")
    return BroadcastTo.apply(x, shape=shape)


def expand(x: Tensor, *sizes) -> Tensor:
    """``broadcast_to`` where -1 keeps that dimension (PyTorch's expand)."""
    sizes = _shape_arg(sizes)
    lead = len(sizes) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    return broadcast_to(x, shape)


def squeeze(x: Tensor, dim=None) -> Tensor:
    if dim is None:
        return reshape(x, tuple(n for n in x.shape if n != 1))
    axes = normalize_axis(dim, x.ndim)
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if not (i in axes and n == 1)))


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    nd = x.ndim + 1
    if not -nd <= dim < nd:
        raise IndexError(f"unsqueeze: dim {dim} out of range for a result with {nd} dims")
    dim %= nd
    return reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


def expand_dims(x: Tensor, axis: int) -> Tensor:
    return unsqueeze(x, axis)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = start_dim % x.ndim, end_dim % x.ndim
    size = 1
    for n in x.shape[s:e + 1]:
        size *= n
    return reshape(x, x.shape[:s] + (size,) + x.shape[e + 1:])


def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    ref = tensors[0]
    if ref.ndim == 0:
        raise RuntimeError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    axis = normalize_axis(dim, ref.ndim)[0]
    for i, t in enumerate(tensors):
        if t.ndim != ref.ndim or any(a != b for j, (a, b) in enumerate(zip(t.shape, ref.shape))
                                     if j != axis):
            raise RuntimeError(f"cat: tensor {i} has shape {tuple(t.shape)}, but tensor 0 has "
                               f"{tuple(ref.shape)}; sizes must match except in dim {dim}")
    return Concatenate.apply(*tensors, axis=axis)


concatenate = cat
concat = cat


def stack(tensors, dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dimension."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise RuntimeError(f"stack: tensor {i} has shape {tuple(t.shape)}, but tensor 0 has "
                               f"{tuple(tensors[0].shape)}; all must be equal")
    return cat([unsqueeze(t, dim) for t in tensors], dim)


def split(x: Tensor, split_size_or_sections, dim: int = 0):
    """Split into pieces of a given size (the last may be smaller) or of the listed sizes."""
    axis = normalize_axis(dim, x.ndim)[0]
    n = x.shape[axis]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise ValueError(f"split: split size must be positive, got {step}")
        sizes = [min(step, n - i) for i in range(0, n, step)] or [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise RuntimeError(f"split: sizes {sizes} do not add up to {n}, the size of dim "
                               f"{dim} of a tensor of shape {tuple(x.shape)}")
    lead = (builtins.slice(None),) * axis
    out, start = [], 0
    for s in sizes:
        out.append(x[lead + (builtins.slice(start, start + s),)])
        start += s
    return tuple(out)


def chunk(x: Tensor, chunks: int, dim: int = 0):
    n = x.shape[normalize_axis(dim, x.ndim)[0]]
    return split(x, max(1, -(-n // chunks)), dim)


def unbind(x: Tensor, dim: int = 0):
    return tuple(squeeze(p, dim) for p in split(x, 1, dim))


def pad(x: Tensor, pad, mode: str = "constant", value: float = 0.0) -> Tensor:
    """PyTorch-style padding: ``pad`` lists (before, after) pairs starting from the LAST dim."""
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} is not supported; only 'constant'")
    pad = list(pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: expected an even number of values, at most 2 per dimension of "
                         f"a {x.ndim}-d tensor, got {pad}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        lo, hi = pad[2 * i], pad[2 * i + 1]
        if lo < 0 or hi < 0:
            raise NotImplementedError("pad: negative padding is not supported; slice instead")
        widths[x.ndim - 1 - i] = (lo, hi)
    return Pad.apply(x, widths=tuple(widths), value=value)


def flip(x: Tensor, *dims) -> Tensor:
    """Reverse the order along ``dims``: ``flip(x, (0, 1))``, or ``x.flip(0, 1)`` as torch."""
    dims = dims[0] if len(dims) == 1 else dims
    return Flip.apply(x, axis=normalize_axis(dims, x.ndim))


def _triangle_mask(x: Tensor, diagonal: int, lower: bool):
    xp = get_array_module(x.data)
    rows, cols = x.shape[-2], x.shape[-1]
    mask = xp.tri(rows, cols, k=diagonal, dtype=bool)
    return mask if lower else ~xp.tri(rows, cols, k=diagonal - 1, dtype=bool)


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    """Keep the lower triangle of the last two dims (a masked ``where``, so differentiable)."""
    from .math import where

    return where(_triangle_mask(x, diagonal, True), x, 0)


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    from .math import where

    return where(_triangle_mask(x, diagonal, False), x, 0)
