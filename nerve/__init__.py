"""nerve: a deep-learning framework for learning, teaching and prototyping.

NumPy on the CPU, CuPy on NVIDIA GPUs, PyTorch's API. See README.md.
"""
from . import autograd, backend, data, func, io, nn, ops, optim, viz
from .autograd import Function, Tensor, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .backend import Device, device, manual_seed
from .backend.dtypes import (
    bfloat16,
    bool_,
    complex64,
    complex128,
    double,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int8,
    int16,
    int32,
    int64,
    long,
    set_default_dtype,
    uint8,
)
from .io import load, save
from .ops import *  # noqa: F401,F403

bool = bool_  # noqa: A001  (nerve.bool, as torch.bool)
__version__ = "0.1.0"


class cuda:  # noqa: N801  (mirrors torch.cuda's two most used questions)
    is_available = staticmethod(backend.is_available)
    device_count = staticmethod(backend.device_count)
