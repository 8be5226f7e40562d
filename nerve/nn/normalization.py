"""Normalization layers shaped like ``torch.nn``'s: BatchNorm1d/2d, LayerNorm, RMSNorm,
GroupNorm, with PyTorch's parameter and buffer names (``weight``, ``bias``, ``running_mean``,
``running_var``, ``num_batches_tracked``) and so the same ``state_dict`` keys."""
from __future__ import annotations

import numpy

from ..autograd.tensor import Tensor
from ..backend import device as as_device
from ..backend import dtypes
from ..ops import norm as N
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "RMSNorm", "GroupNorm"]


def _filled(shape, value, device, dtype) -> Tensor:
    dtype = dtypes.as_dtype(dtype) or dtypes.get_default_dtype()
    return Tensor(as_device(device).xp.full(shape, value, dtype=dtype))


def _affine(module, shape, enabled, device, dtype, bias=True):
    """``weight`` (ones) and ``bias`` (zeros) of ``shape``, or None when not ``enabled``."""
    module.register_parameter(
        "weight", Parameter(_filled(shape, 1.0, device, dtype)) if enabled else None)
    module.register_parameter(
        "bias", Parameter(_filled(shape, 0.0, device, dtype)) if enabled and bias else None)


def _reset_affine(module):
    """weight = 1, bias = 0 (PyTorch's init for every normalization layer)."""
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _BatchNorm(Module):
    """Shared by BatchNorm1d/2d: ``weight`` ones and ``bias`` zeros (shape (C,)) when
    ``affine``; buffers ``running_mean`` zeros, ``running_var`` ones and the int64
    ``num_batches_tracked`` when ``track_running_stats``. ``momentum=None`` uses the
    cumulative average of all batches seen."""

    _expected_dims: tuple = ()
    _layout: str = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=None):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _affine(self, (num_features,), affine, device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", _filled((num_features,), 0.0, device, dtype))
            self.register_buffer("running_var", _filled((num_features,), 1.0, device, dtype))
            self.register_buffer("num_batches_tracked",
                                 _filled((), 0, device, dtypes.int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            for name, value in (("running_mean", 0), ("running_var", 1),
                                ("num_batches_tracked", 0)):
                getattr(self, name).fill_(value)

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        _reset_affine(self)

    def _check_input(self, x: Tensor) -> None:
        name = f"{type(self).__name__}({self.num_features})"
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
        if x.ndim not in self._expected_dims:
            raise ValueError(f"{name}: expected {self._layout} input, got a {x.ndim}-D input "
                             f"of shape {tuple(x.shape)}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{name}: expected {self.num_features} channels (dim 1) in a "
                             f"{self._layout} input, got shape {tuple(x.shape)}")

    def forward(self, input):
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked)
        batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        use_running = not self.training or self.track_running_stats
        return N.batch_norm(input, self.running_mean if use_running else None,
                            self.running_var if use_running else None, self.weight,
                            self.bias, batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs over N (and L), per channel C.

    >>> bn = BatchNorm1d(3)
    >>> bn(nerve.randn(8, 3)).shape
    (8, 3)
    """

    _expected_dims = (2, 3)
    _layout = "2-D (N, C) or 3-D (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) inputs over N, H, W, per channel C.

    >>> bn = BatchNorm2d(4)
    >>> bn(nerve.randn(2, 4, 5, 5)).shape
    (2, 4, 5, 5)
    """

    _expected_dims = (4,)
    _layout = "4-D (N, C, H, W)"


def _shape_tuple(normalized_shape):
    if isinstance(normalized_shape, (int, numpy.integer)):
        return (int(normalized_shape),)
    return tuple(int(n) for n in normalized_shape)


class LayerNorm(Module):
    """Normalize over the last ``len(normalized_shape)`` dims; ``weight`` ones and ``bias``
    zeros of ``normalized_shape`` when ``elementwise_affine`` (``bias=False`` drops the bias).

    >>> LayerNorm(8)(nerve.randn(2, 5, 8)).shape
    (2, 5, 8)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _shape_tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        _affine(self, self.normalized_shape, elementwise_affine, device, dtype, bias)

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input):
        _check_trailing(self, input)
        return N.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class RMSNorm(Module):
    """``x / sqrt(mean(x**2) + eps) * weight`` over the last dims (``eps=None``: the machine
    epsilon of the input's dtype); ``weight`` ones of ``normalized_shape``.

    >>> RMSNorm(8)(nerve.randn(2, 8)).shape
    (2, 8)
    """

    def __init__(self, normalized_shape, eps: float | None = None,
                 elementwise_affine: bool = True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _shape_tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        _affine(self, self.normalized_shape, elementwise_affine, device, dtype, bias=False)

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input):
        _check_trailing(self, input)
        return N.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


def _check_trailing(layer, x) -> None:
    shape = layer.normalized_shape
    if not isinstance(x, Tensor) or tuple(x.shape[max(x.ndim - len(shape), 0):]) != shape \
            or x.ndim < len(shape):
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{type(layer).__name__}({shape}): expected input of shape "
                         f"(*, {', '.join(map(str, shape))}), got {got}")


class GroupNorm(Module):
    """Normalize (N, C, *) over groups of C/num_groups channels; per-channel ``weight`` ones
    and ``bias`` zeros (shape (C,)) when ``affine``.

    >>> GroupNorm(2, 6)(nerve.randn(3, 6, 4, 4)).shape
    (3, 6, 4, 4)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device=None, dtype=None):
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups, self.num_channels = num_groups, num_channels
        self.eps, self.affine = eps, affine
        _affine(self, (num_channels,), affine, device, dtype)

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input):
        if not isinstance(input, Tensor) or input.ndim < 2 or \
                input.shape[1] != self.num_channels:
            got = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(f"GroupNorm({self.num_groups}, {self.num_channels}): expected "
                             f"input of shape (N, {self.num_channels}, *), got {got}")
        return N.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
