"""Pooling and upsampling layers (torch.nn signatures): ``MaxPool1d``, ``MaxPool2d``,
``AvgPool1d``, ``AvgPool2d``, ``AdaptiveAvgPool1d``, ``AdaptiveAvgPool2d``, ``MaxUnpool2d``,
``Upsample``. None has parameters; each accepts batched or unbatched input as PyTorch."""
from __future__ import annotations

from ..ops import pool
from .module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d",
           "AdaptiveAvgPool2d", "MaxUnpool2d", "Upsample"]


def _tuple(value, n):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


class _Pool(Module):
    """Checks the input's rank with an error that names the layer."""

    _nd = 2

    def _check_input(self, input):
        spatial = "L" if self._nd == 1 else "H, W"
        if getattr(input, "ndim", None) not in (self._nd + 1, self._nd + 2):
            got = tuple(input.shape) if hasattr(input, "shape") else type(input).__name__
            raise ValueError(f"{self!r}: expected a {self._nd + 2}-D input (N, C, {spatial}) or "
                             f"{self._nd + 1}-D (C, {spatial}), got {got}")


class MaxPool2d(_Pool):
    """Maximum over ``kernel_size`` windows (stride defaults to the kernel size). With
    ``return_indices`` the forward also returns each maximum's flat position in its input
    plane, for ``MaxUnpool2d``.

    >>> import nerve
    >>> MaxPool2d(2)(nerve.ones(1, 3, 8, 8)).shape
    (1, 3, 4, 4)
    """

    _function = staticmethod(pool.max_pool2d)

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input):
        self._check_input(input)
        return self._function(input, self.kernel_size, self.stride, self.padding, self.dilation,
                              self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(MaxPool2d):
    """Maximum over windows of ``(N, C, L)``; indices are positions along L."""

    _nd = 1
    _function = staticmethod(pool.max_pool1d)


class AvgPool2d(_Pool):
    """Mean over ``kernel_size`` windows with zero padding (counted in the divisor when
    ``count_include_pad``; ``divisor_override`` replaces the divisor).

    >>> import nerve
    >>> AvgPool2d(3, stride=2, padding=1)(nerve.ones(1, 3, 8, 8)).shape
    (1, 3, 4, 4)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input):
        self._check_input(input)
        return pool.avg_pool2d(input, self.kernel_size, self.stride, self.padding,
                               self.ceil_mode, self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_Pool):
    """Mean over windows of ``(N, C, L)``."""

    _nd = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__()
        self.kernel_size = _tuple(kernel_size, 1)
        self.stride = _tuple(stride if stride is not None else kernel_size, 1)
        self.padding = _tuple(padding, 1)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input):
        self._check_input(input)
        return pool.avg_pool1d(input, self.kernel_size, self.stride, self.padding,
                               self.ceil_mode, self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(_Pool):
    """Average pooling to a fixed output size (an int, or a pair where None keeps the input's
    size); ``AdaptiveAvgPool2d(1)`` is global average pooling.

    >>> import nerve
    >>> AdaptiveAvgPool2d((1, 1))(nerve.ones(2, 5, 7, 7)).shape
    (2, 5, 1, 1)
    """

    _function = staticmethod(pool.adaptive_avg_pool2d)

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        self._check_input(input)
        return self._function(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    """Average pooling of ``(N, C, L)`` to a fixed length."""

    _nd = 1
    _function = staticmethod(pool.adaptive_avg_pool1d)


class MaxUnpool2d(_Pool):
    """Partial inverse of ``MaxPool2d``: ``forward(input, indices, output_size=None)`` puts
    each value at the position its index names, zeros elsewhere (SegNet decoders).

    >>> import nerve
    >>> pooled, idx = MaxPool2d(2, return_indices=True)(nerve.randn(1, 2, 4, 4))
    >>> MaxUnpool2d(2)(pooled, idx).shape
    (1, 2, 4, 4)
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = _tuple(kernel_size, 2)
        self.stride = _tuple(stride if stride is not None else kernel_size, 2)
        self.padding = _tuple(padding, 2)

    def forward(self, input, indices, output_size=None):
        self._check_input(input)
        return pool.max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding,
                                 output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class Upsample(Module):
    """Resize by ``scale_factor`` or to ``size`` (``interpolate``): modes ``"nearest"``,
    ``"nearest-exact"``, ``"linear"`` (3-D input), ``"bilinear"`` (4-D input).

    >>> import nerve
    >>> Upsample(scale_factor=2, mode="bilinear")(nerve.ones(1, 3, 5, 5)).shape
    (1, 3, 10, 10)
    """

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest",
                 align_corners=None, recompute_scale_factor=None):
        super().__init__()
        self.size = size
        if isinstance(scale_factor, (tuple, list)):
            scale_factor = tuple(float(s) for s in scale_factor)
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, (int, float)) \
            else scale_factor
        self.mode, self.align_corners = mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        if getattr(input, "ndim", None) not in (3, 4):
            got = tuple(input.shape) if hasattr(input, "shape") else type(input).__name__
            raise ValueError(f"{self!r}: expected a 3-D (N, C, L) or 4-D (N, C, H, W) input, "
                             f"got {got}")
        return pool.interpolate(input, self.size, self.scale_factor, self.mode,
                                self.align_corners, self.recompute_scale_factor)

    def extra_repr(self) -> str:
        info = (f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None
                else f"size={self.size!r}")
        return info + f", mode={self.mode!r}"
