"""Attach operators and methods to ``Tensor`` (PyTorch names), keeping tensor.py small."""
from __future__ import annotations

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import device as as_device
from ..backend import device_of, dtypes, get_array_module, random, to_device
from . import elementwise as E
from . import indexing, linalg, math, shape
from .reduce import normalize_axis

Add, Sub, Mul, Div, Pow = E.Add.apply, E.Sub.apply, E.Mul.apply, E.Div.apply, E.Pow.apply


class ToDevice(Function):
    def forward(self, a):
        self.source = device_of(a)
        return to_device(a, self.target)

    def backward(self, F, g):
        return F.to_device(g, self.source)


def parse_to_args(where: str, args, kwargs: dict, ignored=("non_blocking",)):
    """The (device, dtype) that ``Tensor.to`` and ``Module.to`` were given, either possibly
    None: keywords, then positional devices, dtypes and Tensors (a Tensor gives both). The
    keywords in ``ignored`` are accepted and dropped; any other is a TypeError."""
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    for key in ignored:
        kwargs.pop(key, None)
    if kwargs:
        raise TypeError(f"{where}: unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, str) and (a.startswith("cuda") or a == "cpu") or hasattr(a, "xp"):
            device = a
        else:
            dtype = a
    return device, dtype


def to(self, *args, **kwargs) -> Tensor:
    """``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(other_tensor)``."""
    device, dtype = parse_to_args("to", args, kwargs, ignored=("non_blocking", "copy"))
    out = self
    if dtype is not None and dtypes.as_dtype(dtype) != self.dtype:
        dtype = dtypes.as_dtype(dtype)
        if not (dtypes.is_floating(dtype) or dtype.kind == "c"):  # ints, bools: no grad
            out = out.detach()
        out = E.Cast.apply(out, dtype=dtype)
    if device is not None and as_device(device) != self.device:
        out = ToDevice.apply(out, target=as_device(device))
    return out


def _cast(dtype):
    return lambda self: to(self, dtype)


def _comparison(op):
    return lambda self, other: op(self, other)


def _reflected(fn):
    return lambda self, other: fn(other, self)


def view(self, *shape_or_dtype) -> Tensor:
    return shape.reshape(self, *shape_or_dtype)


def setitem(self, index, value) -> None:
    """``x[index] = value`` on a tensor that no graph is recording (copy-on-write)."""
    self._check_inplace("__setitem__")
    data = self.data.copy()
    data[indexing._as_index(index)] = value.data if isinstance(value, Tensor) else value
    self.data = data


def _inplace(name, compute):
    def method(self, *args, **kwargs):
        self._check_inplace(name)
        result = compute(self, *args, **kwargs)
        result = result.data if isinstance(result, Tensor) else result
        xp = get_array_module(self.data)
        result = xp.asarray(result, dtype=self.data.dtype)
        if result.shape != self.data.shape:  # a scalar (fill_, zero_) or a broadcast operand
            try:
                result = xp.broadcast_to(result, self.data.shape).copy()
            except ValueError:
                raise RuntimeError(f"{name}: the result has shape {tuple(result.shape)} but the "
                                   f"tensor has shape {tuple(self.data.shape)}; an in-place "
                                   "operation cannot change a tensor's shape") from None
        self.data = result
        return self

    method.__name__ = name
    method.__doc__ = f"In-place ``{name}`` (only on tensors no graph is recording)."
    return method


def _data(v):
    return v.data if isinstance(v, Tensor) else v


def _uniform(self, a=0.0, b=1.0):
    gen = random.generator(self.device)
    return gen.uniform(a, b, self.shape)


def _normal(self, mean=0.0, std=1.0):
    gen = random.generator(self.device)
    return gen.normal(mean, std, self.shape)


METHODS = {
    # operators
    "__add__": lambda s, o: Add(s, o), "__radd__": lambda s, o: Add(o, s),
    "__sub__": lambda s, o: Sub(s, o), "__rsub__": lambda s, o: Sub(o, s),
    "__mul__": lambda s, o: Mul(s, o), "__rmul__": lambda s, o: Mul(o, s),
    "__truediv__": lambda s, o: Div(s, o), "__rtruediv__": lambda s, o: Div(o, s),
    "__pow__": lambda s, o: Pow(s, o), "__rpow__": lambda s, o: Pow(o, s),
    "__matmul__": linalg.matmul, "__rmatmul__": _reflected(linalg.matmul),
    "__neg__": lambda s: E.Neg.apply(s), "__pos__": lambda s: s, "__abs__": math.abs,
    "__eq__": math.eq, "__ne__": math.ne, "__lt__": math.lt, "__le__": math.le,
    "__gt__": math.gt, "__ge__": math.ge,
    "__and__": math.logical_and, "__or__": math.logical_or, "__xor__": math.logical_xor,
    "__invert__": math.logical_not,
    "__floordiv__": lambda s, o: math.constant(lambda a, b: a // b, s, o),
    "__rfloordiv__": lambda s, o: math.constant(lambda a, b: b // a, s, o),
    "__mod__": lambda s, o: math.constant(lambda a, b: a % b, s, o),
    "__getitem__": indexing.getitem, "__setitem__": setitem,
    # arithmetic and math
    "add": math.add, "sub": math.sub, "mul": math.mul, "div": math.div,
    "multiply": math.mul, "divide": math.div, "pow": math.pow, "neg": math.neg,
    "exp": math.exp, "expm1": math.expm1, "log": math.log, "log1p": math.log1p,
    "sqrt": math.sqrt, "rsqrt": math.rsqrt, "abs": math.abs, "sign": math.sign,
    "sin": math.sin, "cos": math.cos, "tanh": math.tanh, "sigmoid": math.sigmoid,
    "relu": math.relu, "square": math.square, "clamp": math.clamp, "clip": math.clamp,
    "maximum": math.maximum, "minimum": math.minimum, "erf": math.erf,
    "eq": math.eq, "ne": math.ne, "lt": math.lt, "le": math.le, "gt": math.gt,
    "ge": math.ge, "isnan": math.isnan, "isinf": math.isinf, "isfinite": math.isfinite,
    "logical_not": math.logical_not, "allclose": math.allclose,
    # reductions
    "sum": math.sum, "mean": math.mean, "prod": math.prod, "var": math.var,
    "std": math.std, "max": math.max, "min": math.min, "amax": math.amax,
    "amin": math.amin, "argmax": math.argmax, "argmin": math.argmin,
    "logsumexp": math.logsumexp, "softmax": math.softmax, "log_softmax": math.log_softmax,
    "cumsum": math.cumsum, "all": math.all, "any": math.any,
    # shape
    "reshape": shape.reshape, "view": view, "permute": shape.permute,
    "transpose": shape.transpose, "swapaxes": shape.swapaxes, "expand": shape.expand,
    "broadcast_to": shape.broadcast_to, "squeeze": shape.squeeze,
    "unsqueeze": shape.unsqueeze, "flatten": shape.flatten, "split": shape.split,
    "chunk": shape.chunk, "unbind": shape.unbind, "flip": shape.flip,
    "tril": shape.tril, "triu": shape.triu,
    "t": lambda s: shape.transpose(s, 0, 1) if s.ndim == 2 else s,
    "reshape_as": lambda s, o: shape.reshape(s, o.shape),
    "view_as": lambda s, o: shape.reshape(s, o.shape),
    "expand_as": lambda s, o: shape.broadcast_to(s, o.shape),
    "contiguous": lambda s: s,
    # indexing
    "gather": indexing.gather, "scatter_add": indexing.scatter_add,
    "index_select": indexing.index_select, "index_add": indexing.index_add,
    "masked_fill": indexing.masked_fill,
    # linear algebra
    "matmul": linalg.matmul, "mm": linalg.matmul, "bmm": linalg.matmul,
    "dot": linalg.matmul,
    # dtype and device
    "to": to, "cpu": lambda s: to(s, "cpu"),
    "cuda": lambda s, device=None: to(s, "cuda" if device is None else f"cuda:{device}"),
    "float": _cast("float32"), "double": _cast("float64"), "half": _cast("float16"),
    "long": _cast("int64"), "int": _cast("int32"), "bool": _cast("bool"),
    "type": lambda s, dtype=None: str(s.dtype) if dtype is None else to(s, dtype),
    "clone": lambda s: E.Copy.apply(s),
    "astype": lambda s, dtype: to(s, dtype),
    # in-place (only outside recorded graphs)
    "zero_": _inplace("zero_", lambda s: 0),
    "fill_": _inplace("fill_", lambda s, v: _data(v)),
    "add_": _inplace("add_", lambda s, o, alpha=1: s.data + _data(o) * alpha),
    "sub_": _inplace("sub_", lambda s, o, alpha=1: s.data - _data(o) * alpha),
    "mul_": _inplace("mul_", lambda s, o: s.data * _data(o)),
    "div_": _inplace("div_", lambda s, o: s.data / _data(o)),
    "copy_": _inplace("copy_", lambda s, o: _data(o)),
    "clamp_": _inplace("clamp_", lambda s, min=None, max=None: get_array_module(s.data).clip(
        s.data, _data(min), _data(max))),
    "masked_fill_": _inplace("masked_fill_", lambda s, m, v: get_array_module(s.data).where(
        _data(m), _data(v), s.data)),
    "uniform_": _inplace("uniform_", _uniform),
    "normal_": _inplace("normal_", _normal),
}

PROPERTIES = {
    "T": lambda s: shape.transpose(s),
    "mT": lambda s: shape.transpose(s, -2, -1),
}


def install() -> None:
    for name, fn in METHODS.items():
        setattr(Tensor, name, fn)
    for name, fn in PROPERTIES.items():
        setattr(Tensor, name, property(fn))


__all__ = ["install", "normalize_axis"]
