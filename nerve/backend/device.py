"""Device objects and the `xp` idiom: every array call in nerve goes through here."""
from __future__ import annotations

import numpy

from . import cuda


class Device:
    """Where a tensor's array lives: ``cpu`` (NumPy) or ``cuda:N`` (CuPy).

    >>> device("cpu")
    device(type='cpu')
    """

    __slots__ = ("type", "index")

    def __init__(self, type: str, index: int | None = None):
        self.type = type
        self.index = index

    @property
    def xp(self):
        """The array module (numpy or cupy) for this device."""
        if self.type == "cpu":
            return numpy
        return cuda.require_cupy(f"device {self}")

    def __eq__(self, other):
        if isinstance(other, str):  # parsed without CuPy: comparing never raises
            name, _, num = other.partition(":")
            index = int(num) if num.isdigit() else 0 if name == "cuda" and not num else None
            return (self.type, self.index) == (name, index)
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __enter__(self):  # ``with nerve.device("cuda:1"):`` selects the CuPy device
        if self.type == "cuda":
            self._ctx = self.xp.cuda.Device(self.index)
            self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        if self.type == "cuda":
            self._ctx.__exit__(*exc)


CPU = Device("cpu")
_cuda_devices: dict[int, Device] = {}


def cuda_device(index: int) -> Device:
    dev = _cuda_devices.get(index)
    if dev is None:
        dev = _cuda_devices[index] = Device("cuda", index)
    return dev


def device(spec: str | Device | None = None, index: int | None = None) -> Device:
    """Parse ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a Device; CUDA without CuPy raises."""
    if spec is None:
        return CPU
    if isinstance(spec, Device):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"device: expected a string like 'cpu' or 'cuda:0', got {spec!r}")
    name, _, num = spec.partition(":")
    if name == "cpu" and not num:
        return CPU
    if name == "cuda":
        if num and not num.isdigit():
            raise ValueError(f"device: bad CUDA index in {spec!r}; expected 'cuda' or 'cuda:N'")
        idx = int(num) if num else (index or 0)
        cp = cuda.require_cupy(f"device({spec!r})")
        count = cp.cuda.runtime.getDeviceCount()
        if idx >= count:
            raise ValueError(f"device({spec!r}): only {count} CUDA device(s) present")
        return cuda_device(idx)
    raise ValueError(f"device: unknown device {spec!r}; expected 'cpu', 'cuda' or 'cuda:N'")


def device_of(array) -> Device:
    """The Device that holds ``array``."""
    if type(array) is numpy.ndarray or isinstance(array, (numpy.ndarray, numpy.generic)):
        return CPU
    return cuda_device(array.device.id)


def get_array_module(*arrays):
    """numpy or cupy, whichever holds the given arrays (numpy for plain Python values)."""
    for a in arrays:
        if not isinstance(a, (numpy.ndarray, numpy.generic, int, float, bool, complex)):
            data = getattr(a, "data", a)
            if type(data).__module__.startswith("cupy"):
                return cuda.get_cupy()
    return numpy


def to_device(array, dev: Device):
    """Copy ``array`` to ``dev`` (no copy when it is already there)."""
    src = device_of(array)
    if src == dev:
        return array
    if dev.type == "cpu":
        return array.get()
    cp = dev.xp
    with cp.cuda.Device(dev.index):
        return cp.asarray(array)


def is_available() -> bool:
    return cuda.is_available()


def device_count() -> int:
    cp = cuda.get_cupy()
    return cp.cuda.runtime.getDeviceCount() if cp is not None else 0
