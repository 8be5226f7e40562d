"""Weight initialization, as ``torch.nn.init``: each function fills a tensor in place (outside
any graph) and returns it.

Random numbers come from the tensor's device generator (``nerve.backend.random.generator``,
seeded by ``nerve.manual_seed``) unless a ``generator`` (a NumPy/CuPy ``Generator``) is given.
Fans follow PyTorch: for a weight of shape ``(out, in, *kernel)``, ``fan_in = in * prod(kernel)``
and ``fan_out = out * prod(kernel)`` (a grouped convolution's weight already holds
``in_channels / groups``).

>>> import nerve
>>> w = nerve.empty(256, 128)
>>> _ = kaiming_normal_(w, nonlinearity="relu")   # Var(w) = 2 / 128
"""
from __future__ import annotations

import math

import numpy

from ..autograd import grad_mode
from ..autograd.tensor import Tensor
from ..backend import random

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "zeros_",
           "ones_", "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
           "kaiming_normal_", "lecun_normal_", "orthogonal_"]


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity (as ``torch.nn.init.calculate_gain``).

    ====================  ===============================
    linear, conv*, sigmoid  1
    tanh                    5/3
    relu                    sqrt(2)
    leaky_relu              sqrt(2 / (1 + slope^2)), slope = param or 0.01
    selu                    3/4
    ====================  ===============================
    """
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d")
    if nonlinearity in linear or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shaped ``(out, in, *receptive_field)``."""
    shape = tuple(tensor.shape)
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out can not be computed for a tensor with fewer than "
                         f"2 dimensions (got shape {shape})")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _calculate_correct_fan(tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} is not supported; use 'fan_in' or 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


# ---- the in-place fill everything goes through ------------------------------------------
def _check(tensor, name: str) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init.{name}: expected a Tensor, got {type(tensor).__name__}")


def _fill(tensor: Tensor, values) -> Tensor:
    """Replace the tensor's array (same shape, dtype and device) without recording a graph."""
    xp = tensor.device.xp
    with grad_mode.no_grad():
        tensor.data = xp.asarray(values, dtype=tensor.dtype).reshape(tensor.shape)
    return tensor


def _gen(tensor, generator):
    return random.generator(tensor.device) if generator is None else generator


def _uniform01(tensor, generator):
    return _gen(tensor, generator).random(tensor.shape, dtype=numpy.float64)


def _standard_normal(tensor, generator):
    return _gen(tensor, generator).standard_normal(tensor.shape)


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with U(a, b)."""
    _check(tensor, "uniform_")
    return _fill(tensor, a + (b - a) * _uniform01(tensor, generator))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with N(mean, std^2)."""
    _check(tensor, "normal_")
    return _fill(tensor, mean + std * _standard_normal(tensor, generator))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator=None) -> Tensor:
    """Fill with N(mean, std^2) restricted to [a, b] (absolute bounds, as torch), by
    redrawing the values that fall outside."""
    _check(tensor, "trunc_normal_")
    if not a < b:
        raise ValueError(f"init.trunc_normal_: need a < b, got a={a}, b={b}")
    lo, hi = (a - mean) / std, (b - mean) / std
    if max(lo, -hi) > 5:  # acceptance below ~3e-7: the bounds exclude almost all the mass
        raise ValueError(f"init.trunc_normal_: [a, b] = [{a}, {b}] lies too far in a tail of "
                         f"N({mean}, {std}^2)")
    gen = _gen(tensor, generator)
    values = gen.standard_normal(tensor.shape)
    bad = (values < lo) | (values > hi)
    while bool(bad.any()):
        values[bad] = gen.standard_normal(int(bad.sum()))
        bad = (values < lo) | (values > hi)
    return _fill(tensor, mean + std * values)


def constant_(tensor: Tensor, val: float) -> Tensor:
    _check(tensor, "constant_")
    return _fill(tensor, tensor.device.xp.full(tensor.shape, val))


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1)


def eye_(tensor: Tensor) -> Tensor:
    """The identity on a 2-D tensor (ones on the diagonal of a rectangle)."""
    _check(tensor, "eye_")
    if tensor.ndim != 2:
        raise ValueError(f"init.eye_: only 2-D tensors are supported, got shape "
                         f"{tuple(tensor.shape)}")
    return _fill(tensor, tensor.device.xp.eye(*tensor.shape))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """A convolution kernel (3-D to 5-D) that passes its input through (identity), per group."""
    _check(tensor, "dirac_")
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(f"init.dirac_: only 3-D to 5-D tensors are supported, got shape "
                         f"{tuple(tensor.shape)}")
    shape = tuple(tensor.shape)
    if shape[0] % groups:
        raise ValueError(f"init.dirac_: dim 0 ({shape[0]}) must be divisible by groups={groups}")
    per_group = shape[0] // groups
    values = numpy.zeros(shape)
    centre = tuple(k // 2 for k in shape[2:])
    for g in range(groups):
        for d in range(min(per_group, shape[1])):
            values[(g * per_group + d, d) + centre] = 1
    return _fill(tensor, tensor.device.xp.asarray(values))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot & Bengio (2010): U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)), so that
    Var = gain^2 * 2 / (fan_in + fan_out)."""
    _check(tensor, "xavier_uniform_")
    if tensor.numel() == 0:
        return tensor
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot & Bengio (2010): N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    _check(tensor, "xavier_normal_")
    if tensor.numel() == 0:
        return tensor
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(tensor, a, mode, nonlinearity) -> float:
    fan = _calculate_correct_fan(tensor, mode)
    if fan == 0:
        raise ValueError(f"kaiming init: {mode} of a tensor of shape {tuple(tensor.shape)} is 0")
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He et al. (2015): U(-b, b), b = sqrt(3) * gain / sqrt(fan), gain from
    ``calculate_gain(nonlinearity, a)`` (sqrt(2 / (1 + a^2)) for leaky_relu), so that
    Var = gain^2 / fan. ``a=sqrt(5)`` gives PyTorch's Linear/Conv default U(-1/sqrt(fan_in),
    1/sqrt(fan_in))."""
    _check(tensor, "kaiming_uniform_")
    if tensor.numel() == 0:
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He et al. (2015): N(0, gain^2 / fan), gain as in ``kaiming_uniform_``."""
    _check(tensor, "kaiming_normal_")
    if tensor.numel() == 0:
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def lecun_normal_(tensor: Tensor, generator=None) -> Tensor:
    """LeCun et al. (1998): N(0, 1 / fan_in) (plain, untruncated normal), the init that SELU
    networks assume."""
    _check(tensor, "lecun_normal_")
    if tensor.numel() == 0:
        return tensor
    fan_in, _ = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, 1.0 / math.sqrt(fan_in), generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Saxe et al. (2013): a (semi-)orthogonal matrix from the QR decomposition of a normal
    matrix, the signs of R's diagonal folded into Q so the result is uniformly (Haar)
    distributed. Dimensions after the first are flattened: rows = shape[0]."""
    _check(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError(f"init.orthogonal_: only tensors with 2 or more dimensions are "
                         f"supported, got shape {tuple(tensor.shape)}")
    if tensor.numel() == 0:
        return tensor
    xp = tensor.device.xp
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = xp.asarray(_gen(tensor, generator).standard_normal((rows, cols)))
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)
    q = q * xp.sign(xp.diagonal(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q)
