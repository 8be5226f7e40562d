"""Convolution and pooling kernels on arrays: im2col/col2im, window sums and max windows.

Layout: inputs are ``(N, C, H, W)``. A window geometry (``Window``) gives the kernel size,
stride, dilation, groups and the padding of each side ``(top, bottom, left, right)`` (sides may
differ: ``padding="same"`` with an even kernel, ``ceil_mode`` pooling; a negative side crops).
``im2col`` lays the padded input out as ``(groups, C/groups * kh * kw, N * Ho * Wo)`` so that a
convolution is one matrix product per group over the whole batch (BLAS). ``col2im`` is its
adjoint: it adds back one strided slice per kernel offset, a loop of ``kh * kw`` array adds.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy

from .device import get_array_module
from .kernels import add_at


class Window(NamedTuple):
    """Where the windows of a convolution or pooling lie in a 2-D input plane."""

    kernel: tuple  # (kh, kw)
    stride: tuple  # (sh, sw)
    pads: tuple  # (top, bottom, left, right)
    dilation: tuple = (1, 1)
    groups: int = 1

    def out_hw(self, h: int, w: int) -> tuple:
        """Output size for an ``h x w`` input (may be < 1 when the kernel does not fit)."""
        (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw) = (self.kernel, self.stride, self.pads,
                                                          self.dilation)
        return ((h + pt + pb - dh * (kh - 1) - 1) // sh + 1,
                (w + pl + pr - dw * (kw - 1) - 1) // sw + 1)

    def offsets(self, out_hw):
        """``(i, j, index)`` per kernel offset: ``index`` selects the ``(..., Ho, Wo)`` entries of
        the padded plane that this offset of every window reads."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        ho, wo = out_hw
        for i in range(kh):
            for j in range(kw):
                yield i, j, (..., slice(i * dh, i * dh + sh * (ho - 1) + 1, sh),
                             slice(j * dw, j * dw + sw * (wo - 1) + 1, sw))


def pad2d(x, pads, value=0):
    """``x`` with its last two axes padded by ``(top, bottom, left, right)`` (negative crops)."""
    if not any(pads):
        return x
    xp = get_array_module(x)
    pt, pb, pl, pr = pads
    h, w = x.shape[-2:]
    out = xp.full(x.shape[:-2] + (h + pt + pb, w + pl + pr), value, dtype=x.dtype)
    src = x[..., max(-pt, 0):h - max(-pb, 0), max(-pl, 0):w - max(-pr, 0)]
    out[..., max(pt, 0):max(pt, 0) + src.shape[-2], max(pl, 0):max(pl, 0) + src.shape[-1]] = src
    return out


def unpad2d(x, pads):
    """The inverse of ``pad2d``'s placement: crop the padding (zero-fill cropped sides)."""
    return pad2d(x, tuple(-p for p in pads), 0)


def _plane_windows(xpad, win: Window, out_hw, lead=(), mid=()):
    """A strided view ``(*lead, kh, kw, *mid, Ho, Wo)`` of a padded input, no copy. ``lead`` and
    ``mid`` list ``(size, byte stride)`` of the other axes (from ``xpad``'s own strides)."""
    xp = get_array_module(xpad)
    (kh, kw), (sh, sw), (dh, dw) = win.kernel, win.stride, win.dilation
    s_h, s_w = xpad.strides[-2:]
    shape = (tuple(n for n, _ in lead) + (kh, kw) + tuple(n for n, _ in mid) + tuple(out_hw))
    strides = (tuple(s for _, s in lead) + (dh * s_h, dw * s_w) + tuple(s for _, s in mid)
               + (sh * s_h, sw * s_w))
    return xp.lib.stride_tricks.as_strided(xpad, shape, strides)


def im2col(x, win: Window):
    """Columns ``(G, Cg * kh * kw, N * Ho * Wo)`` of ``x`` for a convolution (a copy)."""
    n, c = x.shape[:2]
    out_hw = win.out_hw(*x.shape[2:])
    xpad = pad2d(x, win.pads)
    g = win.groups
    s_n, s_c = xpad.strides[:2]
    view = _plane_windows(xpad, win, out_hw, lead=[(g, s_c * (c // g)), (c // g, s_c)],
                          mid=[(n, s_n)])  # (G, Cg, kh, kw, N, Ho, Wo)
    return view.reshape(g, -1, n * out_hw[0] * out_hw[1]), out_hw


def col2im(cols, x_shape, win: Window, out_hw):
    """Adjoint of ``im2col``: sum columns ``(G, Cg * kh * kw, N * Ho * Wo)`` into ``x_shape``."""
    xp = get_array_module(cols)
    n, c, h, w = x_shape
    kh, kw = win.kernel
    pt, pb, pl, pr = win.pads
    cols = cols.reshape(c, kh, kw, n, *out_hw)
    out = xp.zeros((c, n, h + pt + pb, w + pl + pr), dtype=cols.dtype)
    for i, j, index in win.offsets(out_hw):
        out[index] += cols[:, i, j]
    return xp.ascontiguousarray(unpad2d(out, win.pads).transpose(1, 0, 2, 3))


def _channels_first(y, groups):
    """``(N, C, Ho, Wo)`` -> ``(G, C/G, N * Ho * Wo)`` (a copy, the matrix-product layout)."""
    n, c = y.shape[:2]
    xp = get_array_module(y)
    return xp.ascontiguousarray(y.transpose(1, 0, 2, 3)).reshape(groups, c // groups, -1)


def conv2d(x, w, b, win: Window):
    """Cross-correlation of ``x (N, C, H, W)`` with ``w (O, C/G, kh, kw)`` plus bias ``b``.

    Returns ``(y, cols)``; ``cols`` (im2col of ``x``, None for depthwise) can be handed to
    ``conv2d_weight``.
    """
    xp = get_array_module(x)
    o = w.shape[0]
    if _depthwise(w.shape, win):
        y, cols = _depthwise_forward(x, w, win), None
        if b is not None:
            y += b.reshape(o, 1, 1)
        return y, cols
    cols, (ho, wo) = im2col(x, win)
    y = xp.matmul(w.reshape(win.groups, o // win.groups, -1), cols).reshape(o, x.shape[0], ho, wo)
    if b is not None:
        y += b.reshape(o, 1, 1, 1)
    return xp.ascontiguousarray(y.transpose(1, 0, 2, 3)), cols


def conv2d_input(g, w, x_shape, win: Window):
    """Gradient of ``conv2d`` with respect to its input (= transposed convolution of ``g``)."""
    if _depthwise(w.shape, win):
        return _depthwise_input(g, w, x_shape, win)
    xp = get_array_module(g)
    grp = win.groups
    wm = w.reshape(grp, w.shape[0] // grp, -1)
    cols = xp.matmul(wm.transpose(0, 2, 1), _channels_first(g, grp))
    return col2im(cols, x_shape, win, g.shape[2:])


def conv2d_weight(x, g, w_shape, win: Window, cols=None):
    """Gradient of ``conv2d`` with respect to its weight (``cols``: im2col of ``x`` if known)."""
    if _depthwise(w_shape, win):
        return _depthwise_weight(x, g, w_shape, win)
    xp = get_array_module(g)
    if cols is None:
        cols, _ = im2col(x, win)
    gw = xp.matmul(_channels_first(g, win.groups), cols.transpose(0, 2, 1))
    return gw.reshape(w_shape)


# Depthwise convolutions (one input channel per group) would be rank-1 matrix products, which
# waste BLAS; they run as one broadcast multiply-add per kernel offset instead.
def _depthwise(w_shape, win: Window) -> bool:
    return win.groups > 1 and w_shape[1] == 1


def _per_group(a, groups):
    """``(N, G*m, H, W)`` -> ``(N, G, m, H, W)``."""
    return a.reshape((a.shape[0], groups, -1) + a.shape[2:])


def _depthwise_forward(x, w, win: Window):
    xp = get_array_module(x)
    n, grp = x.shape[:2]
    out_hw = win.out_hw(*x.shape[2:])
    xpad = pad2d(x, win.pads)[:, :, None]  # (N, G, 1, Hp, Wp)
    wk = w.reshape((grp, -1) + tuple(win.kernel))
    y = xp.zeros((n, grp, wk.shape[1]) + tuple(out_hw), dtype=x.dtype)
    term = xp.empty_like(y)
    for i, j, index in win.offsets(out_hw):
        xp.multiply(xpad[index], wk[:, :, i, j, None, None], out=term)
        y += term
    return y.reshape((n, w.shape[0]) + tuple(out_hw))


def _depthwise_input(g, w, x_shape, win: Window):
    xp = get_array_module(g)
    n, grp, h, wd = x_shape
    pt, pb, pl, pr = win.pads
    g5 = _per_group(g, grp)
    wk = w.reshape((grp, -1) + tuple(win.kernel))
    out = xp.zeros((n, grp, h + pt + pb, wd + pl + pr), dtype=g.dtype)
    for i, j, index in win.offsets(g.shape[2:]):
        out[index] += (g5 * wk[:, :, i, j, None, None]).sum(axis=2)
    return unpad2d(out, win.pads)


def _depthwise_weight(x, g, w_shape, win: Window):
    xp = get_array_module(g)
    grp = x.shape[1]
    xpad = pad2d(x, win.pads)
    g5 = _per_group(g, grp)
    gw = xp.empty((grp, g5.shape[2]) + tuple(win.kernel), dtype=g.dtype)
    for i, j, index in win.offsets(g.shape[2:]):
        gw[:, :, i, j] = xp.einsum("ngmhw,nghw->gm", g5, xpad[index])
    return gw.reshape(w_shape)


# ---- pooling --------------------------------------------------------------------------------
def window_sum(x, win: Window):
    """Sum of each (zero-padded) window: ``(N, C, H, W)`` -> ``(N, C, Ho, Wo)``."""
    out_hw = win.out_hw(*x.shape[2:])
    xpad = pad2d(x, win.pads)
    out = None
    for _, _, index in win.offsets(out_hw):
        if out is None:
            out = xpad[index].copy()
        else:
            out += xpad[index]
    return out


def window_spread(g, x_shape, win: Window):
    """Adjoint of ``window_sum``: each output value added to every input of its window."""
    xp = get_array_module(g)
    pt, pb, pl, pr = win.pads
    out = xp.zeros(tuple(x_shape[:2]) + (x_shape[2] + pt + pb, x_shape[3] + pl + pr),
                   dtype=g.dtype)
    for _, _, index in win.offsets(g.shape[2:]):
        out[index] += g
    return unpad2d(out, win.pads)


def max_pool2d(x, win: Window):
    """Window maxima and their flat positions ``h * W + w`` in each input plane (as PyTorch).

    Ties go to the first maximum in window order; a NaN wins (the last NaN, as PyTorch's CPU
    kernel); padding (filled with the lowest value) is never chosen.
    """
    xp = get_array_module(x)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (dh, dw) = win.kernel, win.stride, win.dilation
    ho, wo = out_hw = win.out_hw(h, w)
    low = -numpy.inf if x.dtype.kind in "fc" else numpy.iinfo(x.dtype).min
    xpad = pad2d(x, win.pads, low)
    s_n, s_c = xpad.strides[:2]
    # (kh*kw, N, C, Ho, Wo): every window's values at one kernel offset per row (a copy)
    wins = _plane_windows(xpad, win, out_hw, mid=[(n, s_n), (c, s_c)])
    wins = wins.reshape(kh * kw, n, c, ho, wo)
    best = wins.max(axis=0)
    row0 = xp.arange(ho) * sh - win.pads[0]  # top-left corner of each window
    col0 = xp.arange(wo) * sw - win.pads[2]
    arg = xp.zeros(best.shape, dtype=xp.int64)
    padded = any(win.pads)
    for k in range(kh * kw - 1, -1, -1):  # backwards, so the first maximum is written last
        hit = wins[k] == best
        if padded:
            i, j = divmod(k, kw)
            r, q = row0 + i * dh, col0 + j * dw
            hit &= ((r >= 0) & (r < h))[:, None] & ((q >= 0) & (q < w))[None, :]
        xp.copyto(arg, k, where=hit)
    if x.dtype.kind in "fc" and xp.isnan(best).any():  # max propagated a NaN
        for k in range(kh * kw):
            xp.copyto(arg, k, where=xp.isnan(wins[k]))
    ki, kj = xp.divmod(arg, kw)
    index = (row0[:, None] + ki * dh) * w + col0[None, :] + kj * dw
    return best, index


def plane_gather(x, index):
    """``out[n, c, i] = x[n, c].flat[index[n, c, i]]`` (index of any trailing shape)."""
    xp = get_array_module(x)
    n, c = x.shape[:2]
    flat = xp.take_along_axis(x.reshape(n, c, -1), index.reshape(n, c, -1), axis=2)
    return flat.reshape(index.shape)


def plane_scatter(src, index, plane):
    """Adjoint of ``plane_gather``: zeros ``(N, C, *plane)`` with ``src`` added at ``index``
    (repeated positions add up)."""
    xp = get_array_module(src)
    n, c = src.shape[:2]
    size = int(numpy.prod(plane))
    flat = index.reshape(n * c, -1) + xp.arange(n * c, dtype=index.dtype)[:, None] * size
    out = xp.zeros(n * c * size, dtype=src.dtype)
    add_at(out, flat.reshape(-1), src.reshape(-1))
    return out.reshape((n, c) + tuple(plane))
