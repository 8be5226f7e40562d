"""Convolutions: ``conv1d``, ``conv2d``, ``conv_transpose2d`` (torch.nn.functional).

Three bilinear primitives close under differentiation, so every order of derivative is again
one of them (each is the adjoint of another in one argument):

- ``Conv2dFn(x, w)``          y  = x (*) w          (im2col + one matrix product per group)
- ``ConvTranspose2dFn(g, w)`` gx = conv2d's input gradient = the transposed convolution
- ``Conv2dWeightFn(x, g)``    gw = conv2d's weight gradient

Conv2d's backward is ``(ConvTranspose2d(g, w), Conv2dWeight(x, g))``, ConvTranspose2d's is
``(Conv2d(gg, w), Conv2dWeight(gg, g))`` and Conv2dWeight's ``(ConvTranspose2d(g, gw),
Conv2d(x, gw))``. 1-D convolutions run as 2-D ones over a plane of height 1.
"""
from __future__ import annotations

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import dtypes, im2col
from ..backend.im2col import Window
from .shape import squeeze, unsqueeze

__all__ = ["conv1d", "conv2d", "conv_transpose2d"]

# Conv2dFn keeps its im2col matrix for the weight gradient when it is at most this large
# (saves redoing im2col in backward); larger ones are rebuilt there to bound memory.
COLS_CACHE_BYTES = 256 * 2 ** 20


def _needs_grad(node, k) -> bool:
    """Whether input ``k`` wants a gradient (first-order backward may skip the others)."""
    return node.inputs is None or getattr(node.inputs[k], "_rg", False)


class Conv2dFn(Function):
    """``y = x (*) w + b`` with ``x (N, C, H, W)``, ``w (O, C/groups, kh, kw)``."""

    def forward(self, x, w, b=None):
        y, cols = im2col.conv2d(x, w, b, self.win)
        self.save(x, w)
        self.has_bias = b is not None
        if cols is not None and cols.nbytes <= COLS_CACHE_BYTES:
            self.cols = cols
        return y

    def backward(self, F, g):
        x, w = self.saved
        cols = self.__dict__.pop("cols", None)
        gx = F.conv_transpose2d(g, w, x.shape, self.win) if _needs_grad(self, 0) else None
        gw = F.conv2d_weight(x, g, w.shape, self.win, cols) if _needs_grad(self, 1) else None
        gb = g.sum(axis=(0, 2, 3)) if self.has_bias and _needs_grad(self, 2) else None
        return gx, gw, gb


class ConvTranspose2dFn(Function):
    """``gx`` of shape ``x_shape`` from ``g (N, O, Ho, Wo)``: conv2d's input gradient."""

    def forward(self, g, w):
        self.save(g, w)
        return im2col.conv2d_input(g, w, self.x_shape, self.win)

    def backward(self, F, gg):
        g, w = self.saved
        gg_g = F.conv2d(gg, w, self.win) if _needs_grad(self, 0) else None
        gg_w = F.conv2d_weight(gg, g, w.shape, self.win) if _needs_grad(self, 1) else None
        return gg_g, gg_w


class Conv2dWeightFn(Function):
    """``gw`` of shape ``w_shape`` from ``x`` and ``g``: conv2d's weight gradient."""

    def forward(self, x, g):
        self.save(x, g)
        return im2col.conv2d_weight(x, g, self.w_shape, self.win,
                                    self.__dict__.pop("cols", None))

    def backward(self, F, gw):
        x, g = self.saved
        gx = F.conv_transpose2d(g, gw, x.shape, self.win) if _needs_grad(self, 0) else None
        gg = F.conv2d(x, gw, self.win) if _needs_grad(self, 1) else None
        return gx, gg


# ---- argument checks ------------------------------------------------------------------------
def _tuple(value, n, what, op):
    """An int or a length-``n`` sequence of ints -> a tuple of ``n`` ints."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(items) != n or any(isinstance(v, bool) or not hasattr(v, "__index__")
                              for v in items):
        raise TypeError(f"{op}: {what} must be an int or {n} ints, got {value!r}")
    return tuple(int(v) for v in items)


def _positive(values, what, op):
    if any(v < 1 for v in values):
        raise ValueError(f"{op}: {what} must be positive, got {values}")
    return values


def _check_tensors(op, input, weight, bias, nd):
    spatial = ("L",) if nd == 1 else ("H", "W")
    for name, t, dims in (("input", input, ("N", "C_in") + spatial),
                          ("weight", weight, ("C_out", "C_in/groups") + spatial)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
        if t.ndim != nd + 2:
            raise ValueError(f"{op}: expected a {nd + 2}-D {name} ({', '.join(dims)}), got "
                             f"shape {tuple(t.shape)}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"{op}: bias must be a Tensor or None, got {type(bias).__name__}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != input.dtype:
            raise TypeError(f"{op}: input dtype {input.dtype} and {name} dtype {t.dtype} "
                            "must be the same")
    if not dtypes.is_floating(input.dtype):
        raise TypeError(f"{op}: expected a floating-point input, got dtype {input.dtype}")


def _check_groups(op, groups, channels, what):
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    if channels % groups:
        raise ValueError(f"{op}: {what} ({channels}) must be divisible by groups={groups}")


def _check_bias(op, bias, channels):
    if bias is not None and tuple(bias.shape) != (channels,):
        raise ValueError(f"{op}: expected bias of shape ({channels},), got "
                         f"{tuple(bias.shape)}")


def _check_fits(op, window, plane, kernel):
    """The dilated kernel must fit in the padded input (at least one output position)."""
    if min(window.out_hw(*plane)) < 1:
        (pt, pb, pl, pr), (dh, dw) = window.pads, window.dilation
        raise ValueError(f"{op}: the dilated kernel ({dh * (kernel[0] - 1) + 1}, "
                         f"{dw * (kernel[1] - 1) + 1}) is larger than the padded input "
                         f"({plane[0] + pt + pb}, {plane[1] + pl + pr})")


def _as_planes(nd, *tensors):
    """1-D tensors ``(N, C, L)`` -> 2-D ``(N, C, 1, L)`` (None stays None)."""
    return [t if t is None or nd == 2 else unsqueeze(t, 2) for t in tensors]


def _lift(nd, values, fill=1):
    """Per-dimension values of a 1-D op -> the 2-D op's (a trivial height in front)."""
    return tuple(values) if nd == 2 else (fill,) + tuple(values)


def _conv_window(op, input, weight, bias, stride, padding, dilation, groups, nd):
    _check_tensors(op, input, weight, bias, nd)
    c_in, c_out, cg = input.shape[1], weight.shape[0], weight.shape[1]
    _check_groups(op, groups, c_out, "out_channels (weight.shape[0])")
    if c_in != cg * groups:
        raise ValueError(f"{op}: input of shape {tuple(input.shape)} has {c_in} channels, but "
                         f"weight of shape {tuple(weight.shape)} with groups={groups} expects "
                         f"{cg * groups} (weight.shape[1] * groups)")
    _check_bias(op, bias, c_out)
    kernel = tuple(weight.shape[2:])
    stride = _positive(_tuple(stride, nd, "stride", op), "stride", op)
    dilation = _positive(_tuple(dilation, nd, "dilation", op), "dilation", op)
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided "
                                 f"convolutions (stride={stride})")
            total = [d * (k - 1) for d, k in zip(dilation, kernel)]
            pads = tuple((t // 2, t - t // 2) for t in total)  # extra on the far side, as torch
        else:
            raise ValueError(f"{op}: padding must be 'same', 'valid', an int or {nd} ints, "
                             f"got {padding!r}")
    else:
        pads = tuple((p, p) for p in _tuple(padding, nd, "padding", op))
        if any(p < 0 for p, _ in pads):
            raise ValueError(f"{op}: padding must be non-negative, got {padding!r}")
    pads = _lift(nd, pads, (0, 0))
    window = Window(_lift(nd, kernel), _lift(nd, stride), pads[0] + pads[1],
                    _lift(nd, dilation), groups)
    _check_fits(op, window, _lift(nd, tuple(input.shape[2:])), window.kernel)
    return window


# ---- public functions -----------------------------------------------------------------------
def _conv(op, nd, input, weight, bias, stride, padding, dilation, groups):
    window = _conv_window(op, input, weight, bias, stride, padding, dilation, groups, nd)
    x, w = _as_planes(nd, input, weight)
    out = Conv2dFn.apply(x, w, bias, win=window)
    return out if nd == 2 else squeeze(out, 2)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D cross-correlation of ``input (N, C_in, H, W)`` with ``weight (C_out, C_in/groups,
    kH, kW)``, as ``torch.nn.functional.conv2d``. ``padding`` is an int, a pair, ``"valid"``
    (none) or ``"same"`` (output size = input size; stride 1 only).

    >>> import nerve
    >>> conv2d(nerve.ones(1, 3, 8, 8), nerve.ones(4, 3, 3, 3), padding=1).shape
    (1, 4, 8, 8)
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-D cross-correlation of ``input (N, C_in, L)`` with ``weight (C_out, C_in/groups, k)``,
    as ``torch.nn.functional.conv1d``.

    >>> import nerve
    >>> conv1d(nerve.ones(2, 3, 10), nerve.ones(5, 3, 3)).shape
    (2, 5, 8)
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose_output_size(in_size, kernel, stride, padding, output_padding, dilation):
    """``(in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1``."""
    return tuple((n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, k, s, p, op, d in
                 zip(in_size, kernel, stride, padding, output_padding, dilation))


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """Transposed convolution ("deconvolution") of ``input (N, C_in, H, W)`` with ``weight
    (C_in, C_out/groups, kH, kW)``, as ``torch.nn.functional.conv_transpose2d``: the gradient
    of ``conv2d`` with respect to its input. The output has size ``(H - 1) * stride - 2 *
    padding + dilation * (kH - 1) + output_padding + 1`` (likewise for the width).

    >>> import nerve
    >>> conv_transpose2d(nerve.ones(1, 4, 5, 5), nerve.ones(4, 2, 4, 4), stride=2,
    ...                  padding=1).shape
    (1, 2, 10, 10)
    """
    op = "conv_transpose2d"
    _check_tensors(op, input, weight, bias, 2)
    c_in = input.shape[1]
    _check_groups(op, groups, c_in, "in_channels")
    if weight.shape[0] != c_in:
        raise ValueError(f"{op}: input of shape {tuple(input.shape)} has {c_in} channels, but "
                         f"weight of shape {tuple(weight.shape)} expects {weight.shape[0]} "
                         "(weight.shape[0])")
    c_out = weight.shape[1] * groups
    _check_bias(op, bias, c_out)
    kernel = tuple(weight.shape[2:])
    stride = _positive(_tuple(stride, 2, "stride", op), "stride", op)
    dilation = _positive(_tuple(dilation, 2, "dilation", op), "dilation", op)
    padding = _tuple(padding, 2, "padding", op)
    output_padding = _tuple(output_padding, 2, "output_padding", op)
    if any(p < 0 for p in padding + output_padding):
        raise ValueError(f"{op}: padding and output_padding must be non-negative, got "
                         f"{padding} and {output_padding}")
    if any(op_ >= s and op_ >= d for op_, s, d in zip(output_padding, stride, dilation)):
        raise ValueError(f"{op}: output_padding {output_padding} must be smaller than either "
                         f"stride {stride} or dilation {dilation}")
    out_hw = conv_transpose_output_size(input.shape[2:], kernel, stride, padding,
                                        output_padding, dilation)
    if min(out_hw) < 1:
        raise ValueError(f"{op}: input of shape {tuple(input.shape)} with kernel {kernel}, "
                         f"stride {stride}, padding {padding} gives an empty output {out_hw}")
    # The equivalent conv2d maps an out_hw plane onto the input's plane; where output_padding
    # reaches past the stride, its far side is cropped so that conv2d's size matches again.
    crop = [max(0, op_ - s + 1) for op_, s in zip(output_padding, stride)]
    pads = (padding[0], padding[0] - crop[0], padding[1], padding[1] - crop[1])
    window = Window(kernel, stride, pads, dilation, groups)
    x_shape = (input.shape[0], c_out) + out_hw
    out = ConvTranspose2dFn.apply(input, weight, x_shape=x_shape, win=window)
    if bias is not None:
        out = out + bias.reshape(1, c_out, 1, 1)
    return out
