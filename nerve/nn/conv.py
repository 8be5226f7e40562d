"""Convolution layers: ``Conv1d``, ``Conv2d``, ``ConvTranspose2d`` (torch.nn signatures).

Default init, as PyTorch: ``kaiming_uniform_(weight, a=sqrt(5))``, i.e. U(-1/sqrt(fan_in),
1/sqrt(fan_in)) with ``fan_in = weight.shape[1] * kh * kw``, and the bias from the same
interval.
"""
from __future__ import annotations

import math

from ..ops import creation
from ..ops.conv import _tuple, conv1d, conv2d, conv_transpose2d, conv_transpose_output_size
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "ConvTranspose2d"]


class _ConvNd(Module):
    """Shared constructor, init, checks and repr of the convolution layers."""

    _nd = 2
    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 groups, bias, padding_mode, output_padding=0, device=None, dtype=None):
        super().__init__()
        name, nd = type(self).__name__, self._nd
        if not isinstance(groups, int) or groups < 1:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups!r}")
        for what, channels in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(channels, int) or channels < 1:
                raise ValueError(f"{name}: {what} must be a positive integer, got {channels!r}")
            if channels % groups:
                raise ValueError(f"{name}: {what} ({channels}) must be divisible by "
                                 f"groups ({groups})")
        if padding_mode != "zeros":
            raise NotImplementedError(f"{name}: padding_mode={padding_mode!r} is not supported; "
                                      "only 'zeros' (pad the input with nerve.nn.functional.pad "
                                      "for other modes)")
        if isinstance(padding, str):
            if self.transposed or padding not in ("same", "valid"):
                allowed = "" if self.transposed else "'same', 'valid', "
                raise ValueError(f"{name}: padding must be {allowed}an int or {nd} ints, got "
                                 f"{padding!r}")
        else:
            padding = _tuple(padding, nd, "padding", name)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _tuple(kernel_size, nd, "kernel_size", name)
        self.stride = _tuple(stride, nd, "stride", name)
        self.padding = padding
        self.dilation = _tuple(dilation, nd, "dilation", name)
        self.output_padding = _tuple(output_padding, nd, "output_padding", name)
        self.padding_mode = padding_mode
        if padding == "same" and any(s != 1 for s in self.stride):
            raise ValueError(f"{name}: padding='same' is not supported for strided "
                             f"convolutions (stride={self.stride})")
        shape = ((in_channels, out_channels // groups) if self.transposed
                 else (out_channels, in_channels // groups)) + self.kernel_size
        self.weight = Parameter(creation.empty(*shape, dtype=dtype, device=device))
        self.bias = (Parameter(creation.empty(out_channels, dtype=dtype, device=device))
                     if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def _check_input(self, input):
        """A batched input with ``in_channels`` channels, else an error naming this layer."""
        dims = "(N, {}, L)" if self._nd == 1 else "(N, {}, H, W)"
        expected = dims.format(self.in_channels)
        if getattr(input, "ndim", None) != self._nd + 2 or input.shape[1] != self.in_channels:
            got = tuple(input.shape) if hasattr(input, "shape") else type(input).__name__
            raise ValueError(f"{self!r}: expected a {self._nd + 2}-D input of shape {expected}, "
                             f"got {got}")

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self._nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class _Conv(_ConvNd):
    """The (non-transposed) convolutions: one signature, and ``forward`` through ``_conv``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device=device, dtype=dtype)

    def forward(self, input):
        self._check_input(input)
        return self._conv(input, self.weight, self.bias, self.stride, self.padding,
                          self.dilation, self.groups)


class Conv2d(_Conv):
    """2-D convolution over ``(N, C_in, H, W)`` -> ``(N, C_out, H_out, W_out)``.

    ``weight``: ``(out_channels, in_channels / groups, kH, kW)``; ``bias``: ``(out_channels,)``.
    ``padding``: int, pair, ``"valid"`` or ``"same"``; only ``padding_mode="zeros"``. Only
    batched 4-D input is accepted. Default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight
    and bias (kaiming_uniform with a=sqrt(5), as PyTorch).

    >>> import nerve
    >>> Conv2d(3, 8, 3, padding=1)(nerve.ones(2, 3, 16, 16)).shape
    (2, 8, 16, 16)
    """

    _conv = staticmethod(conv2d)


class Conv1d(_Conv):
    """1-D convolution over ``(N, C_in, L)`` -> ``(N, C_out, L_out)``; ``weight``:
    ``(out_channels, in_channels / groups, k)``. Same init as ``Conv2d``.

    >>> import nerve
    >>> Conv1d(4, 6, 5, stride=2)(nerve.ones(3, 4, 21)).shape
    (3, 6, 9)
    """

    _nd = 1
    _conv = staticmethod(conv1d)


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution ("deconvolution"), the upsampling layer of decoders and
    DCGAN generators: the gradient of ``Conv2d`` with respect to its input. The output size is
    ``(H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1``, or pick it
    with ``forward(input, output_size=...)``.

    ``weight``: ``(in_channels, out_channels / groups, kH, kW)``; ``bias``: ``(out_channels,)``.
    Default init as PyTorch: kaiming_uniform with a=sqrt(5) over ``fan_in = weight.shape[1] *
    kH * kW``, the bias from the same interval.

    >>> import nerve
    >>> ConvTranspose2d(8, 3, 4, stride=2, padding=1)(nerve.ones(1, 8, 16, 16)).shape
    (1, 3, 32, 32)
    """

    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, output_padding, device=device, dtype=dtype)

    def _output_padding(self, input, output_size):
        if output_size is None:
            return self.output_padding
        size = tuple(output_size)[-2:]
        if len(tuple(output_size)) not in (2, 4):
            raise ValueError(f"{self!r}: output_size must be (H, W) or (N, C, H, W), got "
                             f"{tuple(output_size)}")
        smallest = conv_transpose_output_size(input.shape[2:], self.kernel_size, self.stride,
                                              self.padding, (0, 0), self.dilation)
        largest = tuple(lo + s - 1 for lo, s in zip(smallest, self.stride))
        if not all(lo <= n <= hi for n, lo, hi in zip(size, smallest, largest)):
            raise ValueError(f"{self!r}: requested output size {size} is not reachable from "
                             f"input {tuple(input.shape)}: it must lie between {smallest} and "
                             f"{largest}")
        return tuple(n - lo for n, lo in zip(size, smallest))

    def forward(self, input, output_size=None):
        self._check_input(input)
        return conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                self._output_padding(input, output_size), self.groups,
                                self.dilation)
