"""Dropout as one fused primitive: ``dropout`` (elementwise) and ``dropout1d/2d/3d`` (whole
channels), as ``torch.nn.functional``.

In training the input is multiplied by a mask of kept entries scaled by ``1 / (1 - p)``
("inverted" dropout, so evaluation needs no rescaling). The mask is drawn once from the
device's generator (``nerve.manual_seed``), saved, and reused by backward: the gradient is
``g * mask``. ``p = 0`` or ``training=False`` returns the input itself; ``p = 1`` gives zeros.
"""
from __future__ import annotations

import numbers

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import device_of, dtypes, random

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d"]


class Dropout(Function):
    """``x * mask``; ``mask_shape`` equals x's shape or broadcasts to it (feature dropout)."""

    def forward(self, x):
        gen = random.generator(device_of(x))
        keep = gen.random(self.mask_shape, dtype=self.xp.float32) >= self.p
        mask = keep.astype(x.dtype)
        if self.p < 1:
            mask *= x.dtype.type(1.0 / (1.0 - self.p))
        self.save(mask)  # released with the graph after backward
        return x * mask

    def backward(self, F, g):
        return g * self.saved[0]


def _check_p(p, what: str) -> None:
    if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0 <= p <= 1:
        raise ValueError(f"{what}: dropout probability has to be between 0 and 1, got {p!r}")


def _check(input, p, what: str) -> Tensor:
    _check_p(p, what)
    if not isinstance(input, Tensor):
        input = Tensor(input)
    if not dtypes.is_floating(input.dtype):
        raise TypeError(f"{what}: expected a floating-point input, got dtype {input.dtype}")
    return input


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each entry with probability ``p`` and scale the rest by ``1 / (1 - p)``
    (``inplace`` is accepted and ignored).

    >>> import nerve
    >>> dropout(nerve.ones(4), p=0.5, training=False).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    input = _check(input, p, "dropout")
    if not training or p == 0:
        return input
    return Dropout.apply(input, p=float(p), mask_shape=input.shape)


def _feature_dropout(input, p, training, spatial: int, what: str) -> Tensor:
    input = _check(input, p, what)
    if input.ndim not in (spatial + 1, spatial + 2):
        letters = "DHW"[-spatial:] if spatial > 1 else "L"
        raise ValueError(f"{what}: expected a {spatial + 2}-D input (N, C, {', '.join(letters)}) "
                         f"or a {spatial + 1}-D one without the batch dimension, got shape "
                         f"{tuple(input.shape)}")
    if not training or p == 0:
        return input
    mask_shape = input.shape[:-spatial] + (1,) * spatial
    return Dropout.apply(input, p=float(p), mask_shape=mask_shape)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of an (N, C, L) or (C, L) input with probability ``p``."""
    return _feature_dropout(input, p, training, 1, "dropout1d")


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels (feature maps) of an (N, C, H, W) or (C, H, W) input with
    probability ``p`` (Tompson et al., 2015); kept channels are scaled by ``1 / (1 - p)``."""
    return _feature_dropout(input, p, training, 2, "dropout2d")


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of an (N, C, D, H, W) or (C, D, H, W) input with probability ``p``."""
    return _feature_dropout(input, p, training, 3, "dropout3d")
