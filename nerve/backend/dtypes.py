"""The dtype table. nerve dtypes are NumPy dtype objects, so ``x.dtype == nerve.float32`` and
``x.numpy().dtype == x.dtype`` both hold; CuPy uses the same dtype objects."""
from __future__ import annotations

import builtins

import numpy

float16 = half = numpy.dtype("float16")
float32 = float = numpy.dtype("float32")
float64 = double = numpy.dtype("float64")
int8 = numpy.dtype("int8")
uint8 = numpy.dtype("uint8")
int16 = short = numpy.dtype("int16")
int32 = int = numpy.dtype("int32")
int64 = long = numpy.dtype("int64")
bool_ = numpy.dtype("bool")
complex64 = numpy.dtype("complex64")
complex128 = numpy.dtype("complex128")

try:  # bfloat16 exists for NumPy only through the optional ml_dtypes package
    import ml_dtypes

    bfloat16 = numpy.dtype(ml_dtypes.bfloat16)
except ImportError:
    bfloat16 = None

_NAMES = {
    "float16": float16, "half": float16, "float32": float32, "float": float32,
    "float64": float64, "double": float64, "int8": int8, "uint8": uint8, "int16": int16,
    "int32": int32, "int64": int64, "long": int64, "int": int64, "bool": bool_,
    "complex64": complex64, "complex128": complex128,
}
if bfloat16 is not None:
    _NAMES["bfloat16"] = bfloat16

_default_float = float32


def as_dtype(dtype) -> numpy.dtype | None:
    """Turn a nerve/NumPy dtype, a Python type or a name into a NumPy dtype (None stays None)."""
    if dtype is None or isinstance(dtype, numpy.dtype):
        return dtype
    if isinstance(dtype, str):
        if dtype == "bfloat16" and bfloat16 is None:
            raise TypeError("bfloat16 needs the optional package ml_dtypes (pip install ml_dtypes)")
        if dtype not in _NAMES:
            raise TypeError(f"unknown dtype {dtype!r}; expected one of {sorted(_NAMES)}")
        return _NAMES[dtype]
    if dtype is builtins.float:
        return _default_float
    if dtype is builtins.int:
        return int64
    if dtype is builtins.bool:
        return bool_
    try:
        return numpy.dtype(dtype)
    except TypeError:
        raise TypeError(f"not a dtype: {dtype!r}") from None


def is_floating(dtype) -> bool:
    return numpy.dtype(dtype).kind == "f" or dtype == bfloat16


def get_default_dtype() -> numpy.dtype:
    return _default_float


def set_default_dtype(dtype) -> None:
    """Set the dtype of tensors created from Python floats (float32 unless changed)."""
    global _default_float
    dtype = as_dtype(dtype)
    if not is_floating(dtype):
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {dtype}")
    _default_float = dtype
