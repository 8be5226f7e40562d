"""The backend layer: the only place that names numpy/cupy. See docs/design.md."""
from . import dtypes, kernels, memory, random
from .device import (
    CPU,
    Device,
    cuda_device,
    device,
    device_count,
    device_of,
    get_array_module,
    is_available,
    to_device,
)
from .random import manual_seed

memory.on_import()

__all__ = ["CPU", "Device", "cuda_device", "device", "device_count", "device_of", "dtypes",
           "get_array_module", "is_available", "kernels", "manual_seed", "random", "to_device"]
