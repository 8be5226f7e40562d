"""Public elementwise, activation and reduction functions (PyTorch names, NumPy keywords too)."""
from __future__ import annotations

import math
from collections import namedtuple

from ..autograd.tensor import Tensor
from ..backend import get_array_module
from . import elementwise as E
from . import reduce as R


def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def constant(fn, *args, **kwargs) -> Tensor:
    """Apply an array function with no gradient (comparisons, argmax, ...)."""
    out = fn(*(_data(a) for a in args), **kwargs)
    xp = get_array_module(*(_data(a) for a in args))
    return Tensor._make(xp.asarray(out), None)


# ---- arithmetic ----------------------------------------------------------------------------
def add(a, b, alpha=1) -> Tensor:
    return E.Add.apply(a, b if alpha == 1 else b * alpha)


def sub(a, b, alpha=1) -> Tensor:
    return E.Sub.apply(a, b if alpha == 1 else b * alpha)


def mul(a, b) -> Tensor:
    return E.Mul.apply(a, b)


def div(a, b) -> Tensor:
    return E.Div.apply(a, b)


def neg(a) -> Tensor:
    return E.Neg.apply(a)


def pow(a, b) -> Tensor:
    return E.Pow.apply(a, b)


def exp(x) -> Tensor:
    return E.Exp.apply(x)


def expm1(x) -> Tensor:
    return E.Expm1.apply(x)


def log(x) -> Tensor:
    return E.Log.apply(x)


def log1p(x) -> Tensor:
    return E.Log1p.apply(x)


def sqrt(x) -> Tensor:
    return E.Sqrt.apply(x)


def rsqrt(x) -> Tensor:
    return E.Rsqrt.apply(x)


def abs(x) -> Tensor:
    return E.Abs.apply(x)


def sign(x) -> Tensor:
    return constant(get_array_module(_data(x)).sign, x)


def sin(x) -> Tensor:
    return E.Sin.apply(x)


def cos(x) -> Tensor:
    return E.Cos.apply(x)


def tanh(x) -> Tensor:
    return E.Tanh.apply(x)


def sigmoid(x) -> Tensor:
    return E.Sigmoid.apply(x)


def erf(x) -> Tensor:
    return E.Erf.apply(x)


def square(x) -> Tensor:
    return E.Mul.apply(x, x)


def clamp(x, min=None, max=None) -> Tensor:
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    return E.Clamp.apply(x, lo=_data(min), hi=_data(max))


clip = clamp


def maximum(a, b) -> Tensor:
    return E.Maximum.apply(a, b)


def minimum(a, b) -> Tensor:
    return E.Minimum.apply(a, b)


def where(condition, a, b) -> Tensor:
    """``a`` where ``condition`` holds, else ``b``; the gradient flows to the chosen side."""
    cond = _data(condition)
    if getattr(cond, "dtype", None) is not None and cond.dtype.kind != "b":
        cond = cond.astype(bool)
    return E.Where.apply(cond, a, b)


# ---- activations ----------------------------------------------------------------------------
def relu(x) -> Tensor:
    return E.Relu.apply(x)


def leaky_relu(x, negative_slope: float = 0.01) -> Tensor:
    return E.LeakyRelu.apply(x, slope=negative_slope)


def elu(x, alpha: float = 1.0) -> Tensor:
    return E.Elu.apply(x, alpha=alpha)


def softplus(x, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return E.Softplus.apply(x, beta=beta, threshold=threshold)


def gelu(x, approximate: str = "none") -> Tensor:
    """x Φ(x) with the exact normal CDF, or the tanh approximation (``approximate='tanh'``)."""
    if approximate == "tanh":
        inner = (x + 0.044715 * x * x * x) * math.sqrt(2 / math.pi)
        return 0.5 * x * (1 + tanh(inner))
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return 0.5 * x * (1 + erf(x * (1 / math.sqrt(2))))


def silu(x) -> Tensor:
    return x * sigmoid(x)


# ---- reductions -----------------------------------------------------------------------------
def _axes(x, dim, axis):
    axes = R.normalize_axis(axis if dim is None else dim, _t(x).ndim)
    return axes if _t(x).ndim else ()  # dim 0 or -1 of a 0-d tensor reduces nothing (torch)


def sum(x, dim=None, keepdim=False, *, axis=None, keepdims=None) -> Tensor:
    return R.Sum.apply(x, axes=_axes(x, dim, axis), keepdims=keepdims or keepdim)


def mean(x, dim=None, keepdim=False, *, axis=None, keepdims=None) -> Tensor:
    if _t(x).dtype.kind not in "fc":
        raise RuntimeError(f"mean: expected a floating-point tensor, got dtype {_t(x).dtype}")
    return R.Mean.apply(x, axes=_axes(x, dim, axis), keepdims=keepdims or keepdim)


def prod(x, dim=None, keepdim=False, *, axis=None, keepdims=None) -> Tensor:
    return R.Prod.apply(x, axes=_axes(x, dim, axis), keepdims=keepdims or keepdim)


def var(x, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
        keepdims=None) -> Tensor:
    """Variance with Bessel's correction by default (``correction=1``), as PyTorch."""
    if isinstance(dim, bool):  # torch's var(unbiased) overload: x.var(False)
        dim, unbiased = None, dim
    axes = _axes(x, dim, axis)
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    count = 1
    for ax in axes:
        count *= x.shape[ax]
    centered = x - mean(x, axes, keepdim=True)
    return sum(centered * centered, axes, keepdim=keepdims or keepdim) / builtin_max(
        count - correction, 0)


def std(x, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
        keepdims=None) -> Tensor:
    return sqrt(var(x, dim, unbiased, keepdim, correction=correction, axis=axis,
                    keepdims=keepdims))


builtin_max, builtin_min = max, min
MaxResult = namedtuple("MaxResult", ["values", "indices"])


def _extreme(x, dim, keepdim, largest, axis=None):
    x = _t(x)
    if isinstance(dim, Tensor):  # torch.max(a, b) is the elementwise maximum
        return maximum(x, dim) if largest else minimum(x, dim)
    axes = _axes(x, dim, axis)
    with_index = dim is not None and not isinstance(dim, (tuple, list)) and axis is None
    values = R.Extreme.apply(x, axes=axes, keepdims=keepdim, largest=largest,
                             evenly=not with_index)
    if not with_index:
        return values
    index = (argmax if largest else argmin)(x, dim, keepdim)
    return MaxResult(values, index)


def max(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """Whole-tensor max, or (values, indices) along ``dim`` as PyTorch."""
    return _extreme(x, dim, keepdim or keepdims, True, axis)


def min(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    return _extreme(x, dim, keepdim or keepdims, False, axis)


def amax(x, dim=None, keepdim=False, *, axis=None, keepdims=None) -> Tensor:
    return R.Extreme.apply(x, axes=_axes(x, dim, axis), keepdims=keepdims or keepdim,
                           largest=True, evenly=True)


def amin(x, dim=None, keepdim=False, *, axis=None, keepdims=None) -> Tensor:
    return R.Extreme.apply(x, axes=_axes(x, dim, axis), keepdims=keepdims or keepdim,
                           largest=False, evenly=True)


def argmax(x, dim=None, keepdim=False, *, axis=None, keepdims=None) -> Tensor:
    dim = axis if dim is None else dim
    keep = bool(keepdims or keepdim)
    return constant(lambda a: a.argmax(axis=dim, keepdims=keep), x)


def argmin(x, dim=None, keepdim=False, *, axis=None, keepdims=None) -> Tensor:
    dim = axis if dim is None else dim
    keep = bool(keepdims or keepdim)
    return constant(lambda a: a.argmin(axis=dim, keepdims=keep), x)


def logsumexp(x, dim=None, keepdim=False, *, axis=None, keepdims=None) -> Tensor:
    return R.LogSumExp.apply(x, axes=_axes(x, dim, axis), keepdims=keepdims or keepdim)


def softmax(x, dim=-1) -> Tensor:
    return R.Softmax.apply(x, axis=R.normalize_axis(dim, _t(x).ndim)[0])


def log_softmax(x, dim=-1) -> Tensor:
    return R.LogSoftmax.apply(x, axis=R.normalize_axis(dim, _t(x).ndim)[0])


def cumsum(x, dim=0, *, axis=None) -> Tensor:
    axes = _axes(x, dim if axis is None else axis, None)
    if not axes:  # a 0-d tensor is its own cumulative sum
        return E.Copy.apply(x)
    return R.Cumsum.apply(x, axis=axes[0])


def all(x, dim=None, keepdim=False) -> Tensor:
    return constant(lambda a: a.all(axis=dim, keepdims=keepdim), x)


def any(x, dim=None, keepdim=False) -> Tensor:
    return constant(lambda a: a.any(axis=dim, keepdims=keepdim), x)


# ---- comparisons and logical ops: no gradient ------------------------------------------------
def _compare(name):
    def op(a, b) -> Tensor:
        xp = get_array_module(_data(a), _data(b))
        return constant(getattr(xp, name), a, b)

    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}`` (a bool tensor, never differentiable)."
    return op


eq, ne, lt, le, gt, ge = (_compare(n) for n in
                          ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal"))
logical_and, logical_or, logical_xor = (_compare(n) for n in
                                        ("logical_and", "logical_or", "logical_xor"))


def logical_not(x) -> Tensor:
    return constant(get_array_module(_data(x)).logical_not, x)


def isnan(x) -> Tensor:
    return constant(get_array_module(_data(x)).isnan, x)


def isinf(x) -> Tensor:
    return constant(get_array_module(_data(x)).isinf, x)


def isfinite(x) -> Tensor:
    return constant(get_array_module(_data(x)).isfinite, x)


def allclose(a, b, rtol=1e-5, atol=1e-8) -> bool:
    return bool(get_array_module(_data(a)).allclose(_data(a), _data(b), rtol=rtol, atol=atol))
