"""Datasets: map-style (``Dataset``) and iterable, plus the usual wrappers and ``random_split``.

A map-style dataset may also define ``get_batch(indices) -> batch`` returning a whole batch at
once (arrays with a leading batch axis); ``DataLoader`` then indexes the batch in one NumPy call
instead of collating sample by sample, which is what makes array-backed datasets fast.
``TensorDataset``, ``ArrayDataset`` (and the MNIST/CIFAR loaders built on it), ``Subset`` and
``ConcatDataset`` of such datasets all do.
"""
from __future__ import annotations

import bisect
import itertools
import math

import numpy

from ..autograd.tensor import Tensor
from ..backend import get_array_module
from . import _rng
from .transforms import apply_batch


class Dataset:
    """A map from indices ``0 .. len-1`` to samples: define ``__getitem__`` and ``__len__``.

    >>> class Squares(Dataset):
    ...     def __len__(self): return 4
    ...     def __getitem__(self, i): return i * i
    >>> Squares()[3]
    9
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset:
    """A stream of samples: define ``__iter__`` (for data that cannot be indexed)."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __add__(self, other: IterableDataset) -> ChainDataset:
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """Several iterable datasets, one after the other."""

    def __init__(self, datasets):
        self.datasets = list(datasets)

    def __iter__(self):
        return itertools.chain.from_iterable(self.datasets)


def _check_index(index, n: int, who: str) -> int:
    if not isinstance(index, (int, numpy.integer)) or isinstance(index, bool):
        raise TypeError(f"{who}: indices must be integers, got {type(index).__name__}")
    i = int(index)
    if not -n <= i < n:
        raise IndexError(f"{who}: index {i} is out of range for a dataset of length {n}")
    return i + n if i < 0 else i


def _as_array(x):
    if isinstance(x, Tensor):
        return x.data
    return x if hasattr(x, "__cuda_array_interface__") else numpy.asarray(x)


class TensorDataset(Dataset):
    """Samples are the i-th rows of tensors (or arrays) that share their first dimension.

    >>> ds = TensorDataset(numpy.zeros((5, 3)), numpy.arange(5))
    >>> x, y = ds[2]
    >>> x.shape, int(y)
    ((3,), 2)
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor or array")
        self.tensors = tensors
        self._arrays = [_as_array(t) for t in tensors]
        self._wrap = [isinstance(t, Tensor) for t in tensors]
        shapes = [tuple(a.shape) for a in self._arrays]
        if any(len(s) == 0 for s in shapes) or len({s[0] for s in shapes}) != 1:
            raise ValueError(f"TensorDataset: every tensor needs the same first dimension (the "
                             f"number of samples), got shapes {shapes}")

    def __len__(self) -> int:
        return int(self._arrays[0].shape[0])

    def __getitem__(self, index):
        i = _check_index(index, len(self), "TensorDataset")
        return tuple(Tensor(a[i]) if wrap else a[i] for a, wrap in zip(self._arrays, self._wrap))

    def get_batch(self, indices):
        return tuple(a[indices] for a in self._arrays)


class ArrayDataset(Dataset):
    """Inputs ``data[i]`` (and targets ``targets[i]``) with optional per-sample transforms.

    Transforms from ``nerve.data.transforms`` also work on whole batches, so ``get_batch``
    applies them to the stacked batch at once; any other callable is applied per sample.
    """

    def __init__(self, data, targets=None, transform=None, target_transform=None):
        self.data = _as_array(data)
        self.targets = None if targets is None else _as_array(targets)
        if self.targets is not None and len(self.targets) != len(self.data):
            raise ValueError(f"{type(self).__name__}: {len(self.data)} inputs but "
                             f"{len(self.targets)} targets")
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __getitem__(self, index):
        i = _check_index(index, len(self), type(self).__name__)
        x = self.data[i]
        if self.transform is not None:
            x = self.transform(x)
        if self.targets is None:
            return x
        y = self.targets[i]
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y

    def get_batch(self, indices):
        x = apply_batch(self.transform, self.data[indices])
        if self.targets is None:
            return x
        return x, apply_batch(self.target_transform, self.targets[indices])

    def __repr__(self) -> str:
        shape = "x".join(str(d) for d in self.data.shape[1:])
        return f"{type(self).__name__}({len(self)} samples of {shape} {self.data.dtype})"


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = list(indices)
        self._idx = numpy.asarray(self.indices, dtype=numpy.int64).reshape(-1)
        if hasattr(dataset, "get_batch"):
            self.get_batch = self._get_batch

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[int(self._idx[_check_index(index, len(self), "Subset")])]

    def _get_batch(self, indices):
        return self.dataset.get_batch(self._idx[numpy.asarray(indices, dtype=numpy.int64)])


def _map_structure(fn, parts):
    """Apply ``fn`` leafwise across batches of the same structure (tuples, lists, dicts)."""
    first = parts[0]
    if isinstance(first, dict):
        return {k: _map_structure(fn, [p[k] for p in parts]) for k in first}
    if isinstance(first, (tuple, list)):
        return type(first)(_map_structure(fn, list(col)) for col in zip(*parts))
    return fn(*parts)


class ConcatDataset(Dataset):
    """Map-style datasets joined end to end (``ds1 + ds2`` makes one)."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: expected at least one dataset")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset: iterable datasets cannot be indexed; "
                                "use ChainDataset")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))
        if all(hasattr(d, "get_batch") for d in self.datasets):
            self.get_batch = self._get_batch

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def _locate(self, i: int):
        d = bisect.bisect_right(self.cumulative_sizes, i)
        return d, i - (self.cumulative_sizes[d - 1] if d else 0)

    def __getitem__(self, index):
        d, j = self._locate(_check_index(index, len(self), "ConcatDataset"))
        return self.datasets[d][j]

    def _get_batch(self, indices):
        idx = numpy.asarray(indices, dtype=numpy.int64)
        which = numpy.searchsorted(self.cumulative_sizes, idx, side="right")
        starts = numpy.asarray([0] + self.cumulative_sizes[:-1])
        parts, positions = [], []
        for d in numpy.unique(which):
            pos = numpy.nonzero(which == d)[0]
            parts.append(self.datasets[d].get_batch(idx[pos] - starts[d]))
            positions.append(pos)
        if len(parts) == 1:
            return parts[0]
        order = numpy.argsort(numpy.concatenate(positions), kind="stable")
        return _map_structure(lambda *arrs: get_array_module(arrs[0]).concatenate(arrs)[order],
                              parts)


def _split_lengths(n: int, lengths) -> list[int]:
    lengths = list(lengths)
    if lengths and all(isinstance(f, float) for f in lengths) and math.isclose(sum(lengths), 1.0):
        if any(not 0.0 <= f <= 1.0 for f in lengths):
            raise ValueError(f"random_split: fractions must lie in [0, 1], got {lengths}")
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):  # hand out the remainder round-robin, as PyTorch does
            counts[i % len(counts)] += 1
        return counts
    if not all(isinstance(k, (int, numpy.integer)) and k >= 0 for k in lengths):
        raise ValueError(f"random_split: lengths must be non-negative integers or fractions "
                         f"summing to 1, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: the lengths {lengths} sum to {sum(lengths)}, but the "
                         f"dataset has {n} samples")
    return [int(k) for k in lengths]


def random_split(dataset, lengths, generator=None, seed=None) -> list[Subset]:
    """Split ``dataset`` into random non-overlapping ``Subset``s of the given lengths.

    ``lengths`` are sample counts summing to ``len(dataset)`` or fractions summing to 1.
    The permutation comes from ``generator``/``seed`` when given, else nerve's generator.

    >>> a, b = random_split(TensorDataset(numpy.arange(10)), [0.8, 0.2], seed=0)
    >>> len(a), len(b)
    (8, 2)
    """
    counts = _split_lengths(len(dataset), lengths)
    perm = _rng.current(_rng.as_generator(generator, seed)).permutation(len(dataset))
    ends = list(itertools.accumulate(counts))
    return [Subset(dataset, perm[end - k:end].tolist()) for k, end in zip(counts, ends)]
