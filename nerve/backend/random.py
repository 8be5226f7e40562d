"""Seeded random generators, one per device, reset together by ``manual_seed``."""
from __future__ import annotations

import numpy

from .device import CPU, Device

_seed = None
_generators: dict[Device, object] = {}


def manual_seed(seed: int) -> None:
    """Seed every device's generator (as ``torch.manual_seed``), making runs reproducible."""
    global _seed
    if not isinstance(seed, (int, numpy.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed: expected an integer seed, got {seed!r}")
    _seed = int(seed)
    _generators.clear()


def generator(dev: Device = CPU):
    """The generator of ``dev``: a numpy.random.Generator, or CuPy's on a GPU."""
    gen = _generators.get(dev)
    if gen is None:
        if dev.type == "cpu":
            gen = numpy.random.default_rng(_seed)
        else:
            seed = _seed if _seed is not None else numpy.random.SeedSequence().entropy % 2**63
            gen = dev.xp.random.default_rng(seed + (dev.index or 0))
        _generators[dev] = gen
    return gen


def get_rng_state() -> dict:
    """The CPU generator's state, for checkpoints."""
    return {"seed": _seed, "cpu": generator(CPU).bit_generator.state}


def set_rng_state(state: dict) -> None:
    global _seed
    _seed = state["seed"]
    generator(CPU).bit_generator.state = state["cpu"]
