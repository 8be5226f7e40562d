"""Where the data layer's random numbers come from.

Samplers, ``random_split`` and random transforms never touch NumPy's global generator. Each
asks ``current(explicit)``: its own generator when the user gave one, else the generator that
the running ``DataLoader`` epoch installed for this thread (so epoch k of a loader with seed s
is always the same, even when batches are prepared in a background thread), else nerve's CPU
generator (``nerve.manual_seed``).
"""
from __future__ import annotations

import contextlib
import threading

import numpy

from ..backend import random as backend_random

_local = threading.local()


def as_generator(generator=None, seed=None):
    """A ``numpy.random.Generator`` from a generator or an integer seed, or None for neither."""
    if generator is not None and seed is not None:
        raise ValueError("give either generator= or seed=, not both")
    if generator is None:
        generator = seed
    if generator is None or isinstance(generator, numpy.random.Generator):
        return generator
    if isinstance(generator, (int, numpy.integer)) and not isinstance(generator, bool):
        return numpy.random.default_rng(int(generator))
    raise TypeError(f"expected a numpy.random.Generator or an integer seed, got {generator!r}")


def current(explicit=None) -> numpy.random.Generator:
    if explicit is not None:
        return explicit
    installed = getattr(_local, "generator", None)
    return installed if installed is not None else backend_random.generator()


@contextlib.contextmanager
def using(generator):
    """Install ``generator`` for this thread's random transforms while the block runs."""
    previous = getattr(_local, "generator", None)
    _local.generator = generator
    try:
        yield generator
    finally:
        _local.generator = previous


def draw_seed() -> int:
    """A fresh 63-bit seed from nerve's CPU generator (reproducible under manual_seed)."""
    return int(backend_random.generator().integers(0, 2**63 - 1))
