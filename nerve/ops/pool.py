"""Pooling and resampling (torch.nn.functional): ``max_pool1d``, ``max_pool2d``,
``avg_pool1d``, ``avg_pool2d``, ``adaptive_avg_pool1d``, ``adaptive_avg_pool2d``,
``max_unpool2d``, ``interpolate`` / ``upsample``.

Two adjoint pairs of primitives carry the gradients, so every order of derivative is again
one of them:

- ``PlaneGather`` (values at flat positions of each input plane: max pooling, the backward of
  max unpooling) and ``PlaneScatter`` (scatter-add of values to those positions: max pooling's
  backward, max unpooling);
- ``WindowSum`` (sum over each window: average pooling) and ``WindowSpread`` (each value added
  to its whole window: its backward).

Adaptive average pooling and linear interpolation are separable linear maps: one small
matrix product per spatial axis. Nearest upsampling by an integer factor is a broadcast.
"""
from __future__ import annotations

import math as _math

import numpy

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import im2col, to_device
from ..backend.im2col import Window
from . import indexing, linalg, math, shape
from .conv import _lift, _positive, _tuple

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "max_unpool2d", "interpolate", "upsample"]


class PlaneGather(Function):
    """``out[n, c, ...] = x[n, c].flat[index[n, c, ...]]`` (``values``: the result when the
    caller already has it, as max pooling does)."""

    def forward(self, x):
        self.plane = x.shape[2:]
        values = self.__dict__.pop("values", None)
        return im2col.plane_gather(x, self.index) if values is None else values

    def backward(self, F, g):
        return F.plane_scatter(g, self.index, self.plane)


class PlaneScatter(Function):
    """Zeros ``(N, C, *plane)`` with the input added at the flat positions ``index``."""

    def forward(self, src):
        return im2col.plane_scatter(src, self.index, self.plane)

    def backward(self, F, g):
        return F.plane_gather(g, self.index)


class WindowSum(Function):
    """The sum over each (zero-padded) window of ``win``."""

    def forward(self, x):
        self.x_shape = x.shape
        return im2col.window_sum(x, self.win)

    def backward(self, F, g):
        return F.window_spread(g, self.x_shape, self.win)


class WindowSpread(Function):
    """Each value added to every position of its window in a zero plane of ``x_shape``."""

    def forward(self, g):
        return im2col.window_spread(g, self.x_shape, self.win)

    def backward(self, F, gg):
        return F.window_sum(gg, self.win)


# ---- argument handling ----------------------------------------------------------------------
def _planes(op, input, nd):
    """``input`` as ``(N, C, H, W)`` (1-D: height 1; unbatched: batch 1) and a function that
    gives a result of that layout back the input's layout."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    spatial = "L" if nd == 1 else "H, W"
    if input.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{op}: expected a {nd + 2}-D input (N, C, {spatial}) or {nd + 1}-D "
                         f"(C, {spatial}), got shape {tuple(input.shape)}")
    if 0 in input.shape[-nd - 1:]:
        raise ValueError(f"{op}: expected non-empty channel and spatial dimensions, got shape "
                         f"{tuple(input.shape)}")
    lead = input.shape[:-nd]
    x = shape.reshape(input, (-1, lead[-1]) + _lift(nd, tuple(input.shape[-nd:])))

    def restore(out):
        return shape.reshape(out, lead + tuple(out.shape[4 - nd:]))

    return x, restore


def _pool_size(n, k, s, p, d, ceil_mode):
    """Output length of a pooling window (PyTorch's rule: with ceil_mode the last window must
    start inside the input or its left padding)."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _pool_window(op, x, nd, kernel_size, stride, padding, dilation, ceil_mode, max_pad):
    """The Window of a pooling op; ``max_pad(k, d)`` is the largest padding allowed."""
    kernel = _positive(_tuple(kernel_size, nd, "kernel_size", op), "kernel_size", op)
    stride = kernel if stride is None or stride == [] or stride == () else stride
    stride = _positive(_tuple(stride, nd, "stride", op), "stride", op)
    padding = _tuple(padding, nd, "padding", op)
    dilation = _positive(_tuple(dilation, nd, "dilation", op), "dilation", op)
    for p, k, d in zip(padding, kernel, dilation):
        if not 0 <= p <= max_pad(k, d):
            raise ValueError(f"{op}: padding should be non-negative and at most half of the "
                             f"(dilated) kernel size, got padding={padding}, "
                             f"kernel_size={kernel}, dilation={dilation}")
    kernel, stride, padding, dilation = (_lift(nd, v, f) for v, f in
                                         ((kernel, 1), (stride, 1), (padding, 0),
                                          (dilation, 1)))
    plane = x.shape[2:]
    out = [_pool_size(n, k, s, p, d, ceil_mode)
           for n, k, s, p, d in zip(plane, kernel, stride, padding, dilation)]
    if min(out) < 1:
        raise ValueError(f"{op}: input of spatial size {tuple(plane)[2 - nd:]} is too small for "
                         f"kernel_size={kernel[2 - nd:]}, padding={padding[2 - nd:]}, "
                         f"dilation={dilation[2 - nd:]} (output size {tuple(out)[2 - nd:]})")
    # far-side padding that makes the windows reach exactly as far as the last output needs
    far = [(o - 1) * s + d * (k - 1) + 1 - n - p
           for o, n, k, s, p, d in zip(out, plane, kernel, stride, padding, dilation)]
    pads = (padding[0], far[0], padding[1], far[1])
    return Window(kernel, stride, pads, dilation)


# ---- max pooling ----------------------------------------------------------------------------
def _max_pool(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x, restore = _planes(op, input, nd)
    win = _pool_window(op, x, nd, kernel_size, stride, padding, dilation, ceil_mode,
                       lambda k, d: (d * (k - 1) + 1) // 2)
    values, index = im2col.max_pool2d(x.data, win)
    out = restore(PlaneGather.apply(x, index=index, values=values))
    if return_indices:
        return out, restore(Tensor(index))
    return out


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Maximum over each window of ``input (N, C, H, W)``, as
    ``torch.nn.functional.max_pool2d``. Padding is implicit negative infinity; ties go to the
    first maximum in window order. With ``return_indices`` also returns the flat position
    ``h * W + w`` of each maximum in its input plane (what ``max_unpool2d`` takes).

    >>> import nerve
    >>> max_pool2d(nerve.arange(16.).reshape(1, 1, 4, 4), 2)
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Maximum over each window of ``input (N, C, L)`` (indices are positions along L), as
    ``torch.nn.functional.max_pool1d``."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_unpool2d(input: Tensor, indices, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """Partial inverse of ``max_pool2d``: each value of ``input`` goes to the position
    ``indices`` names in its output plane, zeros elsewhere (SegNet-style upsampling). The
    default output size is ``(H - 1) * stride - 2 * padding + kernel_size``.

    It is the adjoint of gathering at ``indices`` (max pooling's forward): where ``indices``
    repeat (overlapping windows that share a maximum) the values add up, whereas PyTorch keeps
    an unspecified one of them.
    """
    op = "max_unpool2d"
    x, restore = _planes(op, input, 2)
    index = indices.data if isinstance(indices, Tensor) else numpy.asarray(indices)
    if tuple(index.shape) != tuple(input.shape):
        raise ValueError(f"{op}: indices of shape {tuple(index.shape)} must have the input's "
                         f"shape {tuple(input.shape)}")
    if index.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be an integer tensor, got dtype {index.dtype}")
    kernel = _positive(_tuple(kernel_size, 2, "kernel_size", op), "kernel_size", op)
    stride = kernel if stride is None else _positive(_tuple(stride, 2, "stride", op),
                                                     "stride", op)
    padding = _tuple(padding, 2, "padding", op)
    if output_size is None:
        plane = tuple((n - 1) * s - 2 * p + k for n, s, p, k in
                      zip(x.shape[2:], stride, padding, kernel))
    else:
        plane = tuple(int(n) for n in tuple(output_size)[-2:])
        if len(tuple(output_size)) not in (2, input.ndim):
            raise ValueError(f"{op}: output_size must be (H, W) or the full output shape, got "
                             f"{tuple(output_size)}")
    if min(plane) < 1:
        raise ValueError(f"{op}: output size {plane} must be positive")
    if index.size and (int(index.min()) < 0 or int(index.max()) >= plane[0] * plane[1]):
        raise ValueError(f"{op}: indices must lie in [0, {plane[0] * plane[1]}) for an output "
                         f"plane of size {plane}, got range [{int(index.min())}, "
                         f"{int(index.max())}]")
    index = index.reshape(x.shape).astype("int64", copy=False)
    index = to_device(index, x.device)
    return restore(PlaneScatter.apply(x, index=index, plane=plane))


# ---- average pooling ------------------------------------------------------------------------
def _window_counts(n, k, s, p, out, include_pad):
    """Per-output divisor along one axis: the window's length inside the input (and its
    padding, up to ``n + p``, when ``include_pad``), as PyTorch."""
    start = numpy.arange(out) * s - p
    end = numpy.minimum(start + k, n + p)
    if include_pad:
        return end - start
    return numpy.minimum(end, n) - numpy.maximum(start, 0)


def _avg_pool(op, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override=None):
    x, restore = _planes(op, input, nd)
    win = _pool_window(op, x, nd, kernel_size, stride, padding, 1, ceil_mode,
                       lambda k, d: k // 2)
    total = WindowSum.apply(x, win=win)
    if divisor_override is not None:
        if not divisor_override:
            raise ValueError(f"{op}: divisor_override must be non-zero")
        return restore(total / divisor_override)
    (ho, wo), (kh, kw), (sh, sw) = total.shape[2:], win.kernel, win.stride
    rows = _window_counts(x.shape[2], kh, sh, win.pads[0], ho, count_include_pad)
    cols = _window_counts(x.shape[3], kw, sw, win.pads[2], wo, count_include_pad)
    if rows.min() == rows.max() and cols.min() == cols.max():
        return restore(total / float(rows[0] * cols[0]))
    divisor = numpy.outer(rows, cols).astype(x.dtype)
    return restore(total / Tensor(to_device(divisor, x.device)))


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """Mean over each window of ``input (N, C, H, W)``, as ``torch.nn.functional.avg_pool2d``
    (zero padding, counted in the divisor when ``count_include_pad``).

    >>> import nerve
    >>> avg_pool2d(nerve.ones(1, 1, 4, 4), 2).shape
    (1, 1, 2, 2)
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over each window of ``input (N, C, L)``, as ``torch.nn.functional.avg_pool1d``."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad)


# ---- separable linear resampling ------------------------------------------------------------
def _apply_axis(x, matrix, axis):
    """``matrix (out, in)`` applied along ``axis`` (-1 or -2) of ``x``, as a matrix product."""
    m = Tensor(to_device(matrix.astype(x.dtype), x.device))
    if axis == -1:
        return linalg.matmul(x, m.transpose(0, 1))
    return linalg.matmul(m, x)


def _adaptive_matrix(n, out):
    """Row i averages input positions floor(i * n / out) .. ceil((i + 1) * n / out) - 1."""
    matrix = numpy.zeros((out, n))
    for i in range(out):  # one row per output position (small: the output size)
        lo, hi = (i * n) // out, -((-(i + 1) * n) // out)
        matrix[i, lo:hi] = 1.0 / (hi - lo)
    return matrix


def _adaptive_avg(op, nd, input, output_size):
    x, restore = _planes(op, input, nd)
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else \
        (output_size,) * nd
    if len(sizes) != nd or not all(s is None or (isinstance(s, int) and s > 0) for s in sizes):
        raise ValueError(f"{op}: output_size must be a positive int or {nd} positive ints "
                         f"(None keeps that size), got {output_size!r}")
    plane = tuple(x.shape[4 - nd:])
    sizes = tuple(n if s is None else s for s, n in zip(sizes, plane))
    if all(s == 1 for s in sizes):  # global average pooling
        return restore(math.mean(x, dim=(2, 3), keepdim=True))
    out = x
    for axis, n, s in zip((-1, -2)[:nd], plane[::-1], sizes[::-1]):
        if s != n:
            out = _apply_axis(out, _adaptive_matrix(n, s), axis)
    return restore(out)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed output size ``(Ho, Wo)``, as
    ``torch.nn.functional.adaptive_avg_pool2d`` (window i spans floor(i*H/Ho) to
    ceil((i+1)*H/Ho)).

    >>> import nerve
    >>> adaptive_avg_pool2d(nerve.ones(2, 3, 7, 9), (2, 4)).shape
    (2, 3, 2, 4)
    """
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Average pooling of ``input (N, C, L)`` to a fixed length."""
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


# ---- interpolation --------------------------------------------------------------------------
_LINEAR = {1: "linear", 2: "bilinear"}


def _coordinate_scale(n, out, scale, align_corners, dtype):
    """PyTorch's source/destination scale, in the input's precision (as its CPU kernels)."""
    if align_corners:
        return dtype.type((n - 1) / (out - 1)) if out > 1 else dtype.type(0)
    if scale is not None and scale > 0:
        return dtype.type(1.0 / scale)
    return dtype.type(n) / dtype.type(out)


def _nearest_index(n, out, scale, exact, dtype):
    if out == n:
        return numpy.arange(n)
    if out == 2 * n and not exact:
        return numpy.arange(out) // 2
    ratio = _coordinate_scale(n, out, scale, False, dtype)
    dst = numpy.arange(out, dtype=dtype) + (dtype.type(0.5) if exact else 0)
    return numpy.minimum(numpy.floor(dst * ratio).astype(numpy.int64), n - 1)


def _linear_matrix(n, out, scale, align_corners, dtype):
    ratio = _coordinate_scale(n, out, scale, align_corners, dtype)
    dst = numpy.arange(out, dtype=dtype)
    src = dst * ratio if align_corners else numpy.maximum(
        ratio * (dst + dtype.type(0.5)) - dtype.type(0.5), 0)
    lo = numpy.minimum(numpy.floor(src).astype(numpy.int64), n - 1)
    frac = numpy.clip(src - lo, 0, 1)
    hi = lo + (lo < n - 1)
    matrix = numpy.zeros((out, n))
    rows = numpy.arange(out)
    numpy.add.at(matrix, (rows, lo), 1 - frac.astype(numpy.float64))
    numpy.add.at(matrix, (rows, hi), frac.astype(numpy.float64))
    return matrix


def _repeat(x, axis, factor):
    """Each entry repeated ``factor`` times along ``axis`` (-1 or -2): a broadcast."""
    lead, n, tail = x.shape[:axis], x.shape[axis], x.shape[axis:][1:]
    y = shape.reshape(x, lead + (n, 1) + tail)
    y = shape.broadcast_to(y, lead + (n, factor) + tail)
    return shape.reshape(y, lead + (n * factor,) + tail)


def _output_sizes(op, plane, size, scale_factor):
    nd = len(plane)
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor")
    if size is not None:
        sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,) * nd
        if len(sizes) != nd or not all(isinstance(s, int) and s > 0 for s in sizes):
            raise ValueError(f"{op}: size must be a positive int or {nd} positive ints for a "
                             f"{nd + 2}-D input, got {size!r}")
        return sizes, (None,) * nd
    scales = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else \
        (scale_factor,) * nd
    if len(scales) != nd or not all(float(s) > 0 for s in scales):
        raise ValueError(f"{op}: scale_factor must be a positive number or {nd} of them for a "
                         f"{nd + 2}-D input, got {scale_factor!r}")
    sizes = tuple(int(_math.floor(n * float(s))) for n, s in zip(plane, scales))
    if min(sizes) < 1:
        raise ValueError(f"{op}: scale_factor {scale_factor!r} gives an empty output {sizes} "
                         f"for input size {plane}")
    return sizes, tuple(float(s) for s in scales)


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners=None, recompute_scale_factor=None, antialias: bool = False):
    """Resize ``input (N, C, L)`` or ``(N, C, H, W)``, as ``torch.nn.functional.interpolate``.

    Modes: ``"nearest"``, ``"nearest-exact"``, and ``"linear"`` (3-D) / ``"bilinear"`` (4-D)
    with ``align_corners`` False (default: pixel centres, edges clamped) or True (corner pixels
    aligned). Exactly one of ``size`` and ``scale_factor``.

    >>> import nerve
    >>> interpolate(nerve.ones(1, 3, 4, 4), scale_factor=2, mode="bilinear").shape
    (1, 3, 8, 8)
    """
    op = "interpolate"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (3, 4):
        raise NotImplementedError(f"{op}: supports 3-D (N, C, L) and 4-D (N, C, H, W) inputs, "
                                  f"got shape {tuple(input.shape)}")
    nd = input.ndim - 2
    linear = _LINEAR[nd]
    if mode not in ("nearest", "nearest-exact", linear):
        raise NotImplementedError(f"{op}: mode {mode!r} is not supported for a {input.ndim}-D "
                                  f"input; choose 'nearest', 'nearest-exact' or {linear!r}")
    if antialias:
        raise NotImplementedError(f"{op}: antialias=True is not supported")
    if mode != linear and align_corners is not None:
        raise ValueError(f"{op}: align_corners can only be set with mode {linear!r}")
    plane = tuple(input.shape[2:])
    sizes, scales = _output_sizes(op, plane, size, scale_factor)
    if recompute_scale_factor:
        scales = (None,) * nd
    dtype = input.dtype if input.dtype.kind == "f" else numpy.dtype(numpy.float32)
    out = input
    for axis, n, s, scale in zip((-1, -2)[:nd], plane[::-1], sizes[::-1], scales[::-1]):
        if mode == linear:
            if s != n or align_corners or scale not in (None, 1.0):
                out = _apply_axis(out, _linear_matrix(n, s, scale, bool(align_corners), dtype),
                                  axis)
            continue
        index = _nearest_index(n, s, scale, mode == "nearest-exact", dtype)
        if s % n == 0 and numpy.array_equal(index, numpy.arange(s) // (s // n)):
            if s != n:
                out = _repeat(out, axis, s // n)
        else:
            out = indexing.index_select(out, out.ndim + axis, to_device(index, input.device))
    return out


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners=None) -> Tensor:
    """Alias of ``interpolate`` (as the deprecated ``torch.nn.functional.upsample``)."""
    return interpolate(input, size, scale_factor, mode, align_corners)
