"""Normalization: one fused primitive (normalize over some axes, then scale and shift) behind
``batch_norm``, ``layer_norm``, ``rms_norm`` and ``group_norm`` (``torch.nn.functional`` names).

``Normalize`` computes ``(x - mean) / sqrt(var + eps) * weight + bias`` with the (biased)
statistics taken over ``axes``; its backward is the closed form, a few passes over the data
instead of the dozen that the composite of mean/var/sqrt/div would record.
"""
from __future__ import annotations

import math

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import dtypes, get_array_module
from .elementwise import _requires_grad

__all__ = ["batch_norm", "layer_norm", "rms_norm", "group_norm"]

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _sum_prod(a, b, axes):
    """``(a * b).sum(axes, keepdims=True)``; on arrays an einsum, without the temporary."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return (a * b).sum(axis=axes, keepdims=True)
    sub = _LETTERS[:a.ndim]
    kept = "".join(c for i, c in enumerate(sub) if i not in axes)
    out = get_array_module(a).einsum(f"{sub},{sub}->{kept}", a, b)
    return out.reshape(tuple(1 if i in axes else n for i, n in enumerate(a.shape)))


def _moments(x, axes, count, eps, center):
    """Centered input, 1/sqrt(var + eps), mean and biased variance over ``axes`` (keepdims).
    Written with operators only, so it runs on arrays (forward) and on Tensors (the
    differentiable recomputation of a create_graph backward)."""
    mean = x.sum(axis=axes, keepdims=True) / count if center else None
    xc = x - mean if center else x
    var = _sum_prod(xc, xc, axes) / count
    return xc, (var + eps) ** -0.5, mean, var


class Normalize(Function):
    """``(x - mean) * invstd * weight + bias`` over ``axes`` (no centering when ``center`` is
    false: RMS normalization). ``weight``/``bias`` (or None) broadcast against ``x``.
    ``stats_hook(mean, var)`` receives the batch statistics (batch norm's running stats).

    Like PyTorch it keeps x, mean and invstd (not the centered copy) for backward, and the
    centered temporary becomes the output in place: one full-size allocation forward."""

    stats_hook = None

    def forward(self, x, weight, bias):
        self.count = math.prod(x.shape[a] for a in self.axes)
        xc, invstd, mean, var = _moments(x, self.axes, self.count, self.eps, self.center)
        if self.stats_hook is not None:
            self.stats_hook(mean, var)
        # weight constant along the normalized axes (batch norm): per-channel coefficients
        self.per_channel = weight is None or all(
            a < x.ndim - weight.ndim or weight.shape[a - x.ndim + weight.ndim] == 1
            for a in self.axes)
        factor = invstd * weight if weight is not None and self.per_channel else invstd
        out = _times(xc, factor, in_place=self.center)
        if weight is not None and not self.per_channel:
            out *= weight
        if bias is not None:
            out += bias
        self.save(x, weight, mean, invstd)
        return out

    def backward(self, F, g):
        x, weight, mean, invstd = self.saved
        own = self.center and not isinstance(x, Tensor)  # xc below is a temporary of ours
        if isinstance(x, Tensor):  # create_graph: the statistics are functions of x too
            xc, invstd, _, _ = _moments(x, self.axes, self.count, self.eps, self.center)
        else:
            xc = x - mean if self.center else x
        axes, n = self.axes, self.count
        need_w, need_b = _requires_grad(self.inputs[1]), _requires_grad(self.inputs[2])
        # gx = invstd w (g - mean(g) - xhat mean(g xhat)), with g * w for g when w varies
        # along the axes. ``-=``/``*=`` update fresh arrays in place (fewer large temporaries)
        # and simply rebind on Tensors, so the rule stays differentiable.
        if self.per_channel:
            s1 = g.sum(axis=axes, keepdims=True)
            t = _sum_prod(g, xc, axes)  # sum of g * xhat, divided by invstd
            k = invstd if weight is None else invstd * weight
            gx = g * k
            gx -= _times(xc, k * invstd * invstd * t / n, own)
            if self.center:
                gx -= k * s1 / n
            return gx, (t * invstd if need_w else None), (s1 if need_b else None)
        gw = g * (xc * invstd) if need_w else None  # before xc is reused below
        gx = g * weight  # weight varies along the normalized axes (layer/group norm)
        t = _sum_prod(gx, xc, axes)
        s1 = gx.sum(axis=axes, keepdims=True) if self.center else None
        gx -= _times(xc, invstd * invstd * t / n, own)
        if self.center:
            gx -= s1 / n
        gx *= invstd
        return gx, gw, (g if need_b else None)


def _times(a, c, in_place):
    """``a * c``, written into ``a`` when it is a temporary array nobody else holds."""
    if in_place:
        a *= c
        return a
    return a * c


# ---- public functions ---------------------------------------------------------------------------
def _tensor(x, what):
    if isinstance(x, Tensor):
        return x
    if x is None:
        raise TypeError(f"{what}: expected a Tensor, got None")
    return Tensor(x)


def _check_affine(name, x, param, what, shape):
    """``weight``/``bias`` as a Tensor of ``shape`` and of x's dtype, or None."""
    if param is None:
        return None
    param = _tensor(param, name)
    if tuple(param.shape) != tuple(shape):
        raise RuntimeError(f"{name}: {what} must have shape {tuple(shape)} for input of shape "
                           f"{tuple(x.shape)}, got {tuple(param.shape)}")
    if param.dtype != x.dtype:
        raise RuntimeError(f"{name}: {what} has dtype {param.dtype} but the input has dtype "
                           f"{x.dtype}; they must match")
    return param


def _check_floating(name, x):
    if not dtypes.is_floating(x.dtype):
        raise TypeError(f"{name}: expected a floating-point input, got dtype {x.dtype}")


def batch_norm(input, running_mean, running_var, weight=None, bias=None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalization over (N, C, *) with statistics per channel C (as PyTorch).

    Training: batch mean and biased variance over all axes but C normalize the input, and the
    running stats (when given) are updated in place with ``momentum`` using the unbiased
    variance. Evaluation: the running statistics normalize the input.

    >>> x = nerve.randn(8, 3, 4, 4)
    >>> rm, rv = nerve.zeros(3), nerve.ones(3)
    >>> batch_norm(x, rm, rv, training=True).shape
    (8, 3, 4, 4)
    """
    x = _tensor(input, "batch_norm")
    _check_floating("batch_norm", x)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C, *) with at least 2 "
                         f"dimensions, got shape {tuple(x.shape)}")
    c = x.shape[1]
    shape3 = (x.shape[0], c, x.data.size // max(x.shape[0] * c, 1))
    w = _check_affine("batch_norm", x, weight, "weight", (c,))
    b = _check_affine("batch_norm", x, bias, "bias", (c,))
    for what, stat in (("running_mean", running_mean), ("running_var", running_var)):
        if stat is not None and not isinstance(stat, Tensor):
            raise TypeError(f"batch_norm: {what} must be a Tensor (updated in place) or None, "
                            f"got {type(stat).__name__}")
        if stat is not None and tuple(stat.shape) != (c,):
            raise RuntimeError(f"batch_norm: {what} must have shape ({c},) for input of shape "
                               f"{tuple(x.shape)} (C = {c}), got {tuple(stat.shape)}")
    w3 = None if w is None else w.reshape(1, c, 1)
    b3 = None if b is None else b.reshape(1, c, 1)
    if training:
        count = shape3[0] * shape3[2]
        if count <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {tuple(x.shape)}")
        hook = None
        if running_mean is not None or running_var is not None:
            hook = _running_update(running_mean, running_var, momentum, count)
        out = Normalize.apply(x.reshape(shape3), w3, b3, axes=(0, 2), eps=eps, center=True,
                              stats_hook=hook)
        return out.reshape(x.shape)
    if running_mean is None or running_var is None:
        raise RuntimeError("batch_norm: running_mean and running_var must be given in "
                           "evaluation mode (training=False)")
    # evaluation is a per-channel affine map: x * scale + shift, differentiable as composed
    rm, rv = (s.data.reshape(1, c, 1).astype(x.dtype, copy=False)
              for s in (running_mean, running_var))
    scale = (rv + eps) ** -0.5
    if w3 is not None:
        scale = w3 * scale
    shift = -rm * scale
    if b3 is not None:
        shift = shift + b3
    return (x.reshape(shape3) * scale + shift).reshape(x.shape)


def _running_update(running_mean, running_var, momentum, count):
    """Blend the batch statistics into the running ones: the mean as is, the variance with
    Bessel's correction (unbiased), as PyTorch; the arrays are replaced, never mutated."""
    def hook(mean, var):
        for stat, value in ((running_mean, mean), (running_var, var)):
            if stat is None:
                continue
            value = value.reshape(stat.shape)
            if stat is running_var:
                value = value * (count / (count - 1))
            stat.data = ((1 - momentum) * stat.data + momentum * value).astype(
                stat.dtype, copy=False)
    return hook


def _normalized_axes(name, x, normalized_shape):
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(int(n) for n in normalized_shape)
    k = len(normalized_shape)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k:]) != normalized_shape:
        raise RuntimeError(f"{name}: expected input with shape (*, "
                           f"{', '.join(map(str, normalized_shape))}) (normalized_shape "
                           f"{normalized_shape}), got input of shape {tuple(x.shape)}")
    return normalized_shape, tuple(range(x.ndim - k, x.ndim))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Normalize over the last ``len(normalized_shape)`` dimensions, then scale and shift
    elementwise by ``weight``/``bias`` of shape ``normalized_shape`` (as PyTorch).

    >>> layer_norm(nerve.randn(2, 5, 8), (8,)).shape
    (2, 5, 8)
    """
    x = _tensor(input, "layer_norm")
    _check_floating("layer_norm", x)
    shape, axes = _normalized_axes("layer_norm", x, normalized_shape)
    w = _check_affine("layer_norm", x, weight, "weight", shape)
    b = _check_affine("layer_norm", x, bias, "bias", shape)
    return Normalize.apply(x, w, b, axes=axes, eps=eps, center=True)


def rms_norm(input, normalized_shape, weight=None, eps: float | None = None) -> Tensor:
    """``x / sqrt(mean(x**2) + eps) * weight`` over the last dimensions (torch's RMSNorm);
    ``eps=None`` means the machine epsilon of the input's dtype.

    >>> rms_norm(nerve.randn(2, 8), (8,)).shape
    (2, 8)
    """
    x = _tensor(input, "rms_norm")
    _check_floating("rms_norm", x)
    shape, axes = _normalized_axes("rms_norm", x, normalized_shape)
    w = _check_affine("rms_norm", x, weight, "weight", shape)
    if eps is None:
        import numpy

        eps = float(numpy.finfo(x.dtype).eps)
    return Normalize.apply(x, w, None, axes=axes, eps=eps, center=False)


def group_norm(input, num_groups: int, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Normalize (N, C, *) over each group of C/num_groups channels (and all of *), then scale
    and shift per channel (as PyTorch).

    >>> group_norm(nerve.randn(2, 6, 4), 3).shape
    (2, 6, 4)
    """
    x = _tensor(input, "group_norm")
    _check_floating("group_norm", x)
    if x.ndim < 2:
        raise ValueError(f"group_norm: expected input of shape (N, C, *), got shape "
                         f"{tuple(x.shape)}")
    n, c = x.shape[0], x.shape[1]
    if num_groups <= 0 or c % num_groups:
        raise ValueError(f"group_norm: the number of channels ({c}, input shape "
                         f"{tuple(x.shape)}) must be divisible by num_groups ({num_groups})")
    w = _check_affine("group_norm", x, weight, "weight", (c,))
    b = _check_affine("group_norm", x, bias, "bias", (c,))
    per = c // num_groups
    shape4 = (n, num_groups, per, x.data.size // max(n * c, 1))
    w4 = None if w is None else w.reshape(1, num_groups, per, 1)
    b4 = None if b is None else b.reshape(1, num_groups, per, 1)
    out = Normalize.apply(x.reshape(shape4), w4, b4, axes=(2, 3), eps=eps, center=True)
    return out.reshape(x.shape)
