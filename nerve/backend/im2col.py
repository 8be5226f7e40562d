"""Convolution and pooling kernels on arrays: im2col/col2im, window sums and max windows.

Layout: inputs are ``(N, C, H, W)``. A window geometry (``Window``) gives the kernel size,
stride, dilation, groups and the padding of each side ``(top, bottom, left, right)`` (sides may
differ: ``padding="same"`` with an even kernel, ``ceil_mode`` pooling; a negative side crops).
``im2col`` lays the padded input out as ``(groups, C/groups * kh * kw, N * Ho * Wo)`` so that a
convolution is one matrix product per group over the whole batch (BLAS). ``col2im`` is its
adjoint: it adds back one strided slice per kernel offset, a loop of ``kh * kw`` array adds.
With stride 1 and few output channels, ``im2col_wide``/``col2im_wide`` do the same over whole
padded rows (some garbage columns), so that each offset's copy or add runs over long contiguous
stretches instead of ``Wo``-long rows; with many output channels, ``im2col_two_stage`` gets
long runs for short rows without the garbage columns.
"""
from __future__ import annotations

import os
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


# The wide-row layout (``im2col_wide``) makes the matrix products longer by (Wp - Wo) / Wo, and
# the copies of im2col and the strided adds of col2im 2-3x faster. It pays where a column costs
# little in BLAS, that is where there are few output channels per group and short rows. Limits
# on (O / G) * (Wp - Wo), in units of Wo, from timings on a 2-core AMD EPYC: LeNet's 1->6 conv
# on 28x28 (24 / 28) gains a little (forward -15%, weight gradient +5%), its 6->16 conv on
# 10x10 (64 / 10) loses in im2col (its products grow by 40%) and gains 15% in col2im, VGG's 3x3
# convs with 64 or more channels lose in both. An add of col2im costs about twice a copy of
# im2col, and its product is done once, im2col's columns twice (forward and weight gradient).
WIDE_IM2COL, WIDE_COL2IM = 2, 8


def _wide_width(win: Window, x_shape, channels, limit):
    """``Wp`` where the wide-row layout applies to a product with ``channels`` (O) on the far
    side (stride 1, cheap enough by ``limit``), else None."""
    if win.stride != (1, 1):
        return None
    extra = win.dilation[1] * (win.kernel[1] - 1)  # Wp - Wo
    wo = x_shape[3] + win.pads[2] + win.pads[3] - extra
    return wo + extra if channels // win.groups * extra <= limit * wo else None


def _pad_with_slack(x, pads, slack):
    """``pad2d(x, pads)`` in a fresh buffer followed by ``slack`` zeros, which strided views
    may read past the last plane."""
    xp = get_array_module(x)
    n, c, h, w = x.shape
    pt, pb, pl, pr = pads
    size = n * c * (h + pt + pb) * (w + pl + pr)
    buf = xp.zeros(size + slack, dtype=x.dtype)
    xpad = buf[:size].reshape(n, c, h + pt + pb, w + pl + pr)
    src = x[..., max(-pt, 0):h - max(-pb, 0), max(-pl, 0):w - max(-pr, 0)]
    xpad[..., max(pt, 0):max(pt, 0) + src.shape[-2], max(pl, 0):max(pl, 0) + src.shape[-1]] = src
    return xpad


def im2col_wide(x, win: Window):
    """Columns ``(G, Cg * kh * kw, N * Ho * Wp)`` of ``x`` for a window of stride 1, with each
    output row computed over the whole padded width ``Wp`` (a copy). Only the first ``Wo`` of
    every ``Wp`` columns are windows; the others read across the row's end and are garbage. In
    exchange, a kernel offset's entries are runs of ``Ho * Wp`` consecutive input values, which
    copy several times faster than ``Wo``-long rows."""
    n, c = x.shape[:2]
    (kh, kw), (dh, dw), g = win.kernel, win.dilation, win.groups
    ho = win.out_hw(*x.shape[2:])[0]
    xpad = _pad_with_slack(x, win.pads, dw * (kw - 1))
    wp = xpad.shape[3]
    s_n, s_c, s_h, s_w = xpad.strides
    view = get_array_module(x).lib.stride_tricks.as_strided(
        xpad, (g, c // g, kh, kw, n, ho * wp), (s_c * (c // g), s_c, dh * s_h, dw * s_w, s_n, s_w))
    return view.reshape(g, -1, n * ho * wp)


# Rows at most this long make im2col's copy slow (a short run per output row); with stride 1
# ``im2col_two_stage`` copies them in two passes of longer runs instead. Measured on a 2-core
# AMD EPYC: 1.3-2.2x faster for output widths 4-10 (LeNet's 6->16 conv, VGG's 8x8 and 4x4
# layers), slower from 16 up.
TWO_STAGE_MAX_WIDTH = 12


def im2col_two_stage(x, win: Window):
    """im2col's columns for a window of stride 1, copied in two passes: first the ``kw``
    column shifts of every padded row, ``(C, kw, N, Hp, Wo)``; then each kernel offset's
    block, in which a sample's ``Ho * Wo`` outputs are consecutive values of that copy."""
    xp = get_array_module(x)
    n, c = x.shape[:2]
    (kh, kw), (dh, dw), g = win.kernel, win.dilation, win.groups
    ho, wo = win.out_hw(*x.shape[2:])
    xpad = pad2d(x, win.pads)
    s_n, s_c, s_h, s_w = xpad.strides
    shifts = xp.ascontiguousarray(xp.lib.stride_tricks.as_strided(
        xpad, (c, kw, n, xpad.shape[2], wo), (s_c, dw * s_w, s_n, s_h, s_w)))
    t_c, t_j, t_n, t_h, t_w = shifts.strides
    view = xp.lib.stride_tricks.as_strided(shifts, (c, kh, kw, n, ho * wo),
                                           (t_c, dh * t_h, t_j, t_n, t_w))
    return view.reshape(g, -1, n * ho * wo)


def _columns(x, win: Window, wide):
    """im2col's columns, in the wide-row layout when ``wide`` (the padded width) is given."""
    if wide:
        return im2col_wide(x, win)
    if win.stride == (1, 1) and win.out_hw(*x.shape[2:])[1] <= TWO_STAGE_MAX_WIDTH:
        return im2col_two_stage(x, win)
    return im2col(x, win)[0]


def _blas_threads() -> int:
    """Threads NumPy's BLAS uses: its environment variables, else the usable CPUs."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# Large batches are processed in chunks of samples whose im2col columns take about
# CHUNK_BYTES: the columns (kh * kw times the input's size) are then written and read back
# while they sit in the cache, instead of going to memory and back (a VGG-style training step
# on 32x32 images runs 1.7x faster so). Each BLAS thread works on its share of a chunk, so the
# best size grows with their number: 4 MiB per thread (measured on a 2-core AMD EPYC: 2-4 MiB
# best with one thread, 8 MiB with two). Columns under twice that size stay one chunk (one
# matrix product, and Conv2dFn can keep them for backward). NumPy only: a GPU gains nothing.
CHUNK_BYTES = 4 * 2 ** 20 * min(_blas_threads(), 8)


def _chunks(x, per_sample_bytes):
    """Slices of the batch axis, each holding about CHUNK_BYTES of columns."""
    n = x.shape[0]
    count = 1 if get_array_module(x) is not numpy else max(
        1, min(n, n * per_sample_bytes // max(CHUNK_BYTES, 1)))
    step = -(-n // count)
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def _cols_bytes(x_shape, w_shape, win: Window, itemsize, wide=None):
    """Bytes of one sample's im2col columns (rows of width ``wide`` if given)."""
    ho, wo = win.out_hw(*x_shape[2:])
    return x_shape[1] * w_shape[2] * w_shape[3] * ho * (wide or wo) * itemsize


def _channels_first(y, groups):
    """``(N, C, Ho, Wo)`` -> ``(G, C/G, N * Ho * Wo)`` (a copy, the matrix-product layout)."""
    xp = get_array_module(y)
    return xp.ascontiguousarray(y.transpose(1, 0, 2, 3)).reshape(groups, y.shape[1] // groups, -1)


def _channels_first_wide(y, groups, wp):
    """``(N, C, Ho, Wo)`` -> ``(G, C/G, N * Ho * Wp)``, each row zero-padded to width ``Wp``
    (the layout of ``im2col_wide``'s columns, with zeros where they hold garbage)."""
    xp = get_array_module(y)
    n, c, ho, wo = y.shape
    out = xp.empty((c, n, ho, wp), dtype=y.dtype)
    out[..., :wo] = y.transpose(1, 0, 2, 3)
    out[..., wo:] = 0
    return out.reshape(groups, c // groups, -1)


def _spans(k, pad, stride, dilation, n_out, n_in):
    """Where kernel offset ``k`` of the windows lands: the slice of the input axis it reads and
    the slice of the output positions whose window is inside the (unpadded) input there."""
    first = max(0, -(-(pad - k * dilation) // stride))  # first output inside the input
    last = min(n_out, (n_in - 1 + pad - k * dilation) // stride + 1)
    if last <= first:
        return None
    start = first * stride + k * dilation - pad
    return slice(start, start + (last - first - 1) * stride + 1, stride), slice(first, last)


def col2im(cols, x_shape, win: Window, out_hw):
    """Adjoint of ``im2col`` for columns in kernel-offset-major order ``(G, kh, kw, Cg, N, Ho,
    Wo)`` (any equivalent reshape): each offset's block, contiguous, is added to the part of
    the input it read (padding dropped on the way), giving ``(N, C, H, W)``."""
    xp = get_array_module(cols)
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (pt, _, pl, _), (dh, dw) = win.kernel, win.stride, win.pads, win.dilation
    grp = win.groups
    cols = cols.reshape((grp, kh, kw, c // grp, n) + tuple(out_hw))
    acc = xp.zeros((grp, c // grp, n, h, w), dtype=cols.dtype)
    for i in range(kh):
        rows = _spans(i, pt, sh, dh, out_hw[0], h)
        for j in range(kw):
            cols_ = _spans(j, pl, sw, dw, out_hw[1], w)
            if rows is not None and cols_ is not None:
                acc[..., rows[0], cols_[0]] += cols[:, i, j, ..., rows[1], cols_[1]]
    return acc.reshape(c, n, h, w).transpose(1, 0, 2, 3)


def col2im_wide(cols, x_shape, win: Window, out_hw):
    """Adjoint of ``im2col_wide`` for columns ``(G, kh, kw, Cg, N, Ho, Wp)`` that are zero
    where ``im2col_wide``'s are garbage: each offset's block is added to the padded input as
    runs of ``Ho * Wp`` consecutive values, then the padding is dropped."""
    xp = get_array_module(cols)
    n, c, h, w = x_shape
    (kh, kw), (pt, pb, pl, pr), (dh, dw), grp = win.kernel, win.pads, win.dilation, win.groups
    hp, wp = h + pt + pb, w + pl + pr
    run = out_hw[0] * wp
    cols = cols.reshape((grp, kh, kw, c // grp, n, run))
    # each plane followed by the slack that the garbage of its last row spills into
    acc = xp.zeros((grp, c // grp, n, hp * wp + dw * (kw - 1)), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            start = i * dh * wp + j * dw
            acc[..., start:start + run] += cols[:, i, j]
    acc = acc[..., :hp * wp].reshape(c, n, hp, wp)
    if min(win.pads) < 0:
        acc = unpad2d(acc, win.pads)
    else:  # a view: the caller's copy into the gradient drops the padding
        acc = acc[..., pt:pt + h, pl:pl + w]
    return acc.transpose(1, 0, 2, 3)


def conv2d(x, w, b, win: Window):
    """Cross-correlation of ``x (N, C, H, W)`` with ``w (O, C/G, kh, kw)`` plus bias ``b``.

    Returns ``(y, cols)``; ``cols`` (im2col of ``x`` when the batch fit in one chunk, else
    None) can be handed to ``conv2d_weight``.
    """
    xp = get_array_module(x)
    o, grp = w.shape[0], win.groups
    if _depthwise(w.shape, win):
        y = _depthwise_forward(x, w, win)
        if b is not None:
            y += b.reshape(o, 1, 1)
        return y, None
    ho, wo = win.out_hw(*x.shape[2:])
    wm = w.reshape(grp, o // grp, -1)
    y = xp.empty((x.shape[0], o, ho, wo), dtype=x.dtype)
    wide = _wide_width(win, x.shape, o, WIDE_IM2COL)
    chunks = _chunks(x, _cols_bytes(x.shape, w.shape, win, x.dtype.itemsize, wide))
    for part in chunks:
        cols = _columns(x[part], win, wide)
        yc = xp.matmul(wm, cols).reshape(o, -1, ho, wide or wo)[..., :wo].transpose(1, 0, 2, 3)
        if b is None:
            y[part] = yc
        else:  # the bias added on the way into y: one pass
            xp.add(yc, b.reshape(o, 1, 1), out=y[part])
    return y, (cols if len(chunks) == 1 else None)


def _grad_rows(g, groups, wide):
    """``g`` in the layout of the columns' products: channels first, rows of width ``wide``
    (zero-padded) if given."""
    return _channels_first_wide(g, groups, wide) if wide else _channels_first(g, groups)


def conv2d_input(g, w, x_shape, win: Window):
    """Gradient of ``conv2d`` with respect to its input (= transposed convolution of ``g``)."""
    if _depthwise(w.shape, win):
        return _depthwise_input(g, w, x_shape, win)
    if (win.stride == (1, 1) and w.shape[0] <= x_shape[1]
            and tuple(win.out_hw(*x_shape[2:])) == tuple(g.shape[2:])):
        return _conv2d_input_stride1(g, w, win)
    xp = get_array_module(g)
    grp = win.groups
    o, cg, kh, kw = w.shape
    # rows ordered (kernel offset, channel), so that each offset's columns are one block
    wk = w.reshape(grp, o // grp, cg, kh, kw).transpose(0, 3, 4, 2, 1).reshape(grp, -1, o // grp)
    gx = xp.empty(x_shape, dtype=g.dtype)
    wide = _wide_width(win, x_shape, o, WIDE_COL2IM)
    fold = col2im_wide if wide else col2im
    for part in _chunks(g, _cols_bytes(x_shape, w.shape, win, g.dtype.itemsize, wide)):
        cols = xp.matmul(wk, _grad_rows(g[part], grp, wide))
        n = part.stop - part.start
        gx[part] = fold(cols, (n,) + tuple(x_shape[1:]), win, g.shape[2:])
    return gx


def _conv2d_input_stride1(g, w, win: Window):
    """With stride 1 the transposed convolution is a plain one: ``g`` correlated with the
    kernel flipped in both axes, input and output channels swapped within each group, padded so
    that the result has the input's size. Where g has no more channels than the input, im2col's
    copy of g is cheaper than col2im's strided adds."""
    grp = win.groups
    o, cg, kh, kw = w.shape
    wt = w.reshape(grp, o // grp, cg, kh, kw).transpose(0, 2, 1, 3, 4)[..., ::-1, ::-1]
    (dh, dw), (pt, pb, pl, pr) = win.dilation, win.pads
    eh, ew = dh * (kh - 1), dw * (kw - 1)  # extent of the dilated kernel, less one
    flipped = Window(win.kernel, (1, 1), (eh - pt, eh - pb, ew - pl, ew - pr), win.dilation, grp)
    return conv2d(g, wt.reshape(grp * cg, o // grp, kh, kw), None, flipped)[0]


def conv2d_weight(x, g, w_shape, win: Window, cols=None):
    """Gradient of ``conv2d`` with respect to its weight (``cols``: im2col of ``x`` if known)."""
    if _depthwise(w_shape, win):
        return _depthwise_weight(x, g, w_shape, win)
    xp = get_array_module(g)
    wide = _wide_width(win, x.shape, w_shape[0], WIDE_IM2COL)  # the layout conv2d chose
    parts = ([slice(0, x.shape[0])] if cols is not None else
             _chunks(x, _cols_bytes(x.shape, w_shape, win, x.dtype.itemsize, wide)))
    gwt = None  # transposed, (G, Cg * kh * kw, O/G): this product order runs faster in BLAS
    for part in parts:
        c = _columns(x[part], win, wide) if cols is None else cols
        term = xp.matmul(c, _grad_rows(g[part], win.groups, wide).transpose(0, 2, 1))
        gwt = term if gwt is None else xp.add(gwt, term, out=gwt)
    return xp.ascontiguousarray(gwt.transpose(0, 2, 1)).reshape(w_shape)


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
    kernel); padding (filled with the lowest value) is never chosen. Works on one strided view
    of the input per kernel offset: no copy of the windows.
    """
    xp = get_array_module(x)
    h, w = x.shape[2:]
    (kh, kw), (sh, sw), (dh, dw) = win.kernel, win.stride, win.dilation
    out_hw = win.out_hw(h, w)
    low = -numpy.inf if x.dtype.kind in "fc" else numpy.iinfo(x.dtype).min
    xpad = pad2d(x, win.pads, low)
    views = [xpad[index] for _, _, index in win.offsets(out_hw)]
    best = views[0].copy()
    for v in views[1:]:
        xp.maximum(best, v, out=best)
    row0 = xp.arange(out_hw[0]) * sh - win.pads[0]  # top-left corner of each window
    col0 = xp.arange(out_hw[1]) * sw - win.pads[2]
    # arg = the first offset holding the maximum: offsets backwards, arg = k where it holds it,
    # written as arg += hit * (k - arg) (uint8 wraps around exactly): masked assignment
    # (copyto with where=) is many times slower than this plain arithmetic
    arg = xp.zeros(best.shape, dtype=xp.uint8 if kh * kw <= 256 else xp.int32)
    hit = xp.empty(best.shape, dtype=bool)
    step = xp.empty_like(arg)
    padded = any(win.pads)
    for k in range(kh * kw - 1, -1, -1):
        xp.equal(views[k], best, out=hit)
        if padded:  # padding never wins
            i, j = divmod(k, kw)
            r, q = row0 + i * dh, col0 + j * dw
            hit &= ((r >= 0) & (r < h))[:, None] & ((q >= 0) & (q < w))[None, :]
        xp.subtract(k, arg, out=step)
        step *= hit
        arg += step
    if x.dtype.kind in "fc" and xp.isnan(best).any():  # max propagated a NaN
        for k in range(kh * kw):
            xp.copyto(arg, k, where=xp.isnan(views[k]))
    # flat position = corner of the window + the chosen offset's displacement in the plane
    shift = xp.asarray([i * dh * w + j * dw for i in range(kh) for j in range(kw)],
                       dtype=xp.int64)
    index = xp.take(shift, arg)  # several times faster than shift[arg] with a small array
    index += row0[:, None] * w + col0[None, :]
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
