"""Tensor factories: ``tensor``, ``zeros``, ``arange``, ``randn``, ... and their ``*_like`` forms.

Python floats become the default dtype (float32), Python ints int64, NumPy arrays keep theirs.
"""
from __future__ import annotations

import builtins

import numpy

from ..autograd.tensor import Tensor
from ..backend import device as as_device
from ..backend import device_of, dtypes, random, to_device


def _finish(data, device, requires_grad) -> Tensor:
    dev = as_device(device)
    if dev.type != "cpu":
        data = to_device(data, dev)
    return Tensor(data, requires_grad=requires_grad)


def _default_dtype_for(data):
    """PyTorch's inference: Python floats -> default float dtype, ints -> int64."""
    arr = numpy.asarray(data)
    if arr.dtype == numpy.float64 and not isinstance(data, (numpy.ndarray, numpy.generic)):
        return dtypes.get_default_dtype()
    if arr.dtype.kind in "iu" and not isinstance(data, (numpy.ndarray, numpy.generic)):
        return dtypes.int64
    return None


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (a number, nested lists, an array or a tensor).

    >>> tensor([[1, 2], [3, 4]]).shape
    (2, 2)
    """
    if isinstance(data, Tensor):
        data = data.data
    dtype = dtypes.as_dtype(dtype)
    if hasattr(data, "__cuda_array_interface__"):
        arr = data.copy() if dtype is None else data.astype(dtype)
        if device is None:
            device = device_of(arr)
    else:
        if isinstance(data, (list, tuple)) and builtins.any(isinstance(d, Tensor) for d in data):
            data = [d.data if isinstance(d, Tensor) else d for d in data]
        arr = numpy.array(data, dtype=dtype or _default_dtype_for(data))
    return _finish(arr, device, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a NumPy array when dtype and device allow."""
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    if isinstance(data, numpy.ndarray) and (dtype is None or dtypes.as_dtype(dtype) ==
                                            data.dtype) and as_device(device).type == "cpu":
        return Tensor(data)
    return tensor(data, dtype, device)


def from_numpy(array: numpy.ndarray) -> Tensor:
    if not isinstance(array, numpy.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)


def _shape(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, numpy.integer)) or s < 0:
            raise ValueError(f"size must be non-negative integers, got {tuple(size)}")
    return tuple(int(s) for s in size)


def _xp(device):
    return as_device(device).xp


def _float(dtype):
    return dtypes.as_dtype(dtype) or dtypes.get_default_dtype()


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return Tensor(_xp(device).zeros(_shape(size), dtype=_float(dtype)), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return Tensor(_xp(device).ones(_shape(size), dtype=_float(dtype)), requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return Tensor(_xp(device).empty(_shape(size), dtype=_float(dtype)), requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    if dtype is None:
        dtype = _default_dtype_for(fill_value) or numpy.asarray(fill_value).dtype
    return Tensor(_xp(device).full(_shape((size,)), fill_value, dtype=dtypes.as_dtype(dtype)),
                  requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    if end is None:
        start, end = 0, start
    if dtype is None:
        floats = builtins.any(isinstance(v, float) for v in (start, end, step))
        dtype = dtypes.get_default_dtype() if floats else dtypes.int64
    return Tensor(_xp(device).arange(start, end, step, dtype=dtypes.as_dtype(dtype)),
                  requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    return Tensor(_xp(device).linspace(start, end, steps, dtype=_float(dtype)), requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    return Tensor(_xp(device).eye(n, m, dtype=_float(dtype)), requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform on [0, 1), from the seeded generator (``nerve.manual_seed``)."""
    dev = as_device(device)
    data = random.generator(dev).random(_shape(size), dtype=numpy.float64).astype(_float(dtype))
    return Tensor(data, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal, from the seeded generator (``nerve.manual_seed``)."""
    dev = as_device(device)
    data = random.generator(dev).standard_normal(_shape(size)).astype(_float(dtype))
    return Tensor(data, requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None) -> Tensor:
    """Integers in [low, high); ``randint(high, size)`` as in PyTorch."""
    if isinstance(high, (tuple, list)):  # randint(high, size)
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    dev = as_device(device)
    data = random.generator(dev).integers(low, high, size=_shape((size,)))
    return Tensor(data.astype(dtypes.as_dtype(dtype) or dtypes.int64))


def randperm(n, dtype=None, device=None) -> Tensor:
    data = random.generator(as_device(device)).permutation(n)
    return Tensor(data.astype(dtypes.as_dtype(dtype) or dtypes.int64))


def _like(fn):
    def like(x, dtype=None, device=None, requires_grad=False) -> Tensor:
        dtype = dtype or x.dtype
        device = device or x.device
        return fn(*x.shape, dtype=dtype, device=device, requires_grad=requires_grad)

    like.__name__ = fn.__name__ + "_like"
    like.__doc__ = f"``{fn.__name__}`` with the shape, dtype and device of ``x``."
    return like


zeros_like, ones_like, empty_like, rand_like, randn_like = (
    _like(f) for f in (zeros, ones, empty, rand, randn))


def full_like(x, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    return full(x.shape, fill_value, dtype=dtype or x.dtype, device=device or x.device,
                requires_grad=requires_grad)
