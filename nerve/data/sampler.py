"""Samplers: which indices a ``DataLoader`` visits, in which order, and how they are batched.

Random samplers draw from their own generator when given ``generator=``/``seed=`` (a fresh
order each pass, reproducible from the seed); otherwise inside a ``DataLoader`` from the
loader's per-epoch generator, and outside one from nerve's generator (``nerve.manual_seed``).
"""
from __future__ import annotations

import numpy

from . import _rng


class Sampler:
    """Iterates over dataset indices; subclasses define ``__iter__`` (and usually ``__len__``)."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def index_array(self) -> numpy.ndarray:
        """This pass's indices as one int64 array (overridden where that is cheaper)."""
        return numpy.fromiter(iter(self), dtype=numpy.int64)


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source):
        self.data_source = data_source

    def index_array(self) -> numpy.ndarray:
        return numpy.arange(len(self.data_source), dtype=numpy.int64)

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class _RandomMixin:
    """Holds the optional own generator and the one a DataLoader epoch installs."""

    def _init_rng(self, generator, seed):
        self.generator = _rng.as_generator(generator, seed)
        self._epoch_generator = None

    def _rng(self) -> numpy.random.Generator:
        if self.generator is not None:
            return self.generator
        return self._epoch_generator if self._epoch_generator is not None else _rng.current()

    def __iter__(self):
        return iter(self.index_array().tolist())


def _check_count(value, name: str, who: str) -> int:
    if not isinstance(value, (int, numpy.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{who}: {name} must be a positive integer, got {value!r}")
    return int(value)


class RandomSampler(_RandomMixin, Sampler):
    """A random permutation each pass; ``replacement=True`` draws ``num_samples`` with repeats.

    Without replacement, ``num_samples`` larger than the dataset chains several permutations.

    >>> list(RandomSampler(range(5), seed=0)) != list(range(5))
    True
    """

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None,
                 generator=None, seed=None):
        self.data_source = data_source
        self.replacement = bool(replacement)
        self._num_samples = num_samples
        if num_samples is not None:
            _check_count(num_samples, "num_samples", "RandomSampler")
        self._init_rng(generator, seed)

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def __len__(self) -> int:
        return self.num_samples

    def index_array(self) -> numpy.ndarray:
        n, k, rng = len(self.data_source), self.num_samples, self._rng()
        if n == 0:
            return numpy.zeros(0, dtype=numpy.int64)
        if self.replacement:
            return rng.integers(0, n, size=k, dtype=numpy.int64)
        reps = -(-k // n)
        return numpy.concatenate([rng.permutation(n) for _ in range(reps)])[:k].astype(
            numpy.int64, copy=False)


class SubsetRandomSampler(_RandomMixin, Sampler):
    """The given indices in a random order each pass."""

    def __init__(self, indices, generator=None, seed=None):
        self.indices = numpy.asarray(list(indices), dtype=numpy.int64)
        self._init_rng(generator, seed)

    def __len__(self) -> int:
        return len(self.indices)

    def index_array(self) -> numpy.ndarray:
        return self.indices[self._rng().permutation(len(self.indices))]


class WeightedRandomSampler(_RandomMixin, Sampler):
    """``num_samples`` indices drawn with probability proportional to ``weights``.

    >>> s = WeightedRandomSampler([0.0, 1.0, 0.0], num_samples=3, seed=0)
    >>> list(s)
    [1, 1, 1]
    """

    def __init__(self, weights, num_samples: int, replacement: bool = True, generator=None,
                 seed=None):
        w = numpy.asarray(weights, dtype=numpy.float64)
        if w.ndim != 1 or w.size == 0:
            raise ValueError(f"WeightedRandomSampler: weights must be a non-empty 1-D sequence, "
                             f"got shape {w.shape}")
        if not numpy.all(numpy.isfinite(w)) or numpy.any(w < 0) or w.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, non-negative and "
                             "not all zero")
        self.num_samples = _check_count(num_samples, "num_samples", "WeightedRandomSampler")
        self.replacement = bool(replacement)
        if not self.replacement and self.num_samples > numpy.count_nonzero(w):
            raise ValueError(f"WeightedRandomSampler: cannot draw {self.num_samples} samples "
                             f"without replacement from {numpy.count_nonzero(w)} non-zero weights")
        self.weights = w
        self._init_rng(generator, seed)

    def __len__(self) -> int:
        return self.num_samples

    def index_array(self) -> numpy.ndarray:
        p = self.weights / self.weights.sum()
        return self._rng().choice(len(p), size=self.num_samples, replace=self.replacement,
                                  p=p).astype(numpy.int64, copy=False)


class BatchSampler(Sampler):
    """Groups another sampler's indices into lists of ``batch_size``.

    >>> list(BatchSampler(SequentialSampler(range(5)), 2, drop_last=False))
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool = False):
        self.sampler = sampler
        self.batch_size = _check_count(batch_size, "batch_size", "BatchSampler")
        self.drop_last = bool(drop_last)

    def __iter__(self):
        # the order is drawn now, not at the first next(), so an iterator's epoch is fixed
        # when it is created
        if isinstance(self.sampler, Sampler):
            return self._slices(self.sampler.index_array())
        return self._group(iter(self.sampler))

    def _slices(self, idx):  # slicing one index array is much faster than a Python loop
        stop = len(idx) - len(idx) % self.batch_size if self.drop_last else len(idx)
        for start in range(0, stop, self.batch_size):
            yield idx[start:start + self.batch_size].tolist()

    def _group(self, it):
        batch = []
        for i in it:
            batch.append(int(i))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def install_epoch_generator(sampler, generator) -> list:
    """Give every random sampler reachable from ``sampler`` (via ``.sampler``) this generator;
    returns what was there, for ``restore_epoch_generators``."""
    seen, saved = set(), []
    while sampler is not None and id(sampler) not in seen:
        seen.add(id(sampler))
        if isinstance(sampler, _RandomMixin):
            saved.append((sampler, sampler._epoch_generator))
            sampler._epoch_generator = generator
        sampler = getattr(sampler, "sampler", None)
    return saved


def restore_epoch_generators(saved: list) -> None:
    for sampler, generator in saved:
        sampler._epoch_generator = generator
