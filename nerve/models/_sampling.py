"""Drawing the next token from a language model's logits (char_rnn, transformer_lm).

>>> import numpy
>>> sample_index(numpy.array([0.1, 2.0, -1.0]), temperature=0.0, rng=None)
1
"""
from __future__ import annotations

import numpy

__all__ = ["sample_index", "as_rng"]


def as_rng(seed=None) -> numpy.random.Generator:
    """A NumPy generator: ``seed`` may be a Generator, an int or None (then a fresh one
    drawn from nerve's seeded CPU generator, so ``nerve.manual_seed`` makes it repeatable)."""
    if isinstance(seed, numpy.random.Generator):
        return seed
    if seed is None:
        from ..backend import random as backend_random

        seed = int(backend_random.generator().integers(0, 2**63 - 1))
    return numpy.random.default_rng(int(seed))


def sample_index(logits, temperature: float, rng) -> int:
    """One token id from 1-D ``logits``: softmax(logits / T) sampled; ``T <= 0`` (or a T so
    small that one token has all the mass) is greedy decoding, the argmax."""
    z = numpy.asarray(logits, dtype=numpy.float64).reshape(-1)
    if temperature <= 0:
        return int(z.argmax())
    z = (z - z.max()) / temperature
    p = numpy.exp(z)
    p /= p.sum()
    return int(rng.choice(len(p), p=p))
