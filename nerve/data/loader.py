"""``DataLoader``: batches from a dataset, reshuffled every epoch, optionally prefetched.

Reproducibility: a loader has a ``seed`` (given, or drawn from nerve's generator when it is
created, so ``nerve.manual_seed`` fixes it). Epoch k's sample order and the random transforms
applied in it come from a generator seeded with (seed, k) alone: the same every run, whether
or not batches are prefetched, and ``set_epoch``/``load_state_dict`` resume it exactly.
"""
from __future__ import annotations

import itertools
import queue
import threading
import weakref
from collections.abc import Mapping

import numpy

from ..autograd.tensor import Tensor
from ..backend import dtypes, get_array_module
from . import _rng
from .dataset import IterableDataset
from .sampler import (
    BatchSampler,
    RandomSampler,
    SequentialSampler,
    install_epoch_generator,
    restore_epoch_generators,
)

_END, _ITEM, _ERROR = object(), object(), object()  # markers in the prefetch queue


def _is_array(x) -> bool:
    return isinstance(x, numpy.ndarray) or hasattr(x, "__cuda_array_interface__")


def _stack(arrays, what: str):
    shapes = {tuple(a.shape) for a in arrays}
    if len(shapes) > 1:
        raise RuntimeError(f"default_collate: cannot stack {what} of different shapes "
                           f"{sorted(shapes)}; pass a collate_fn that pads them (for sequences, "
                           f"nerve.data.pad_sequence)")
    if arrays[0].dtype == object:
        raise TypeError("default_collate: cannot make a tensor of object arrays")
    return Tensor(get_array_module(arrays[0]).stack(arrays))


def default_collate(batch):
    """Stack a list of samples into tensors, keeping the samples' structure.

    Arrays and tensors are stacked on a new first axis, numbers become 1-D tensors (ints as
    int64, floats in the default dtype), tuples/lists/dicts/namedtuples are collated field by
    field, strings are kept as lists.

    >>> x, y = default_collate([(numpy.zeros(3), 1), (numpy.ones(3), 0)])
    >>> x.shape, y.tolist()
    ((2, 3), [1, 0])
    """
    if not isinstance(batch, (list, tuple)) or not batch:
        raise ValueError(f"default_collate: expected a non-empty list of samples, got {batch!r}")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack([b.data for b in batch], "tensors")
    if _is_array(elem):
        return _stack(batch, "arrays")
    if isinstance(elem, (bool, numpy.bool_)):
        return Tensor(numpy.array(batch, dtype=numpy.bool_))
    if isinstance(elem, numpy.generic):
        return Tensor(numpy.array(batch))
    if isinstance(elem, int):
        return Tensor(numpy.array(batch, dtype=numpy.int64))
    if isinstance(elem, float):
        return Tensor(numpy.array(batch, dtype=dtypes.get_default_dtype()))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, (tuple, list)):
        if len({len(b) for b in batch}) > 1:
            raise RuntimeError("default_collate: every sample must have the same number of "
                               f"fields, got lengths {sorted({len(b) for b in batch})}")
        fields = [default_collate(list(f)) for f in zip(*batch)]
        if hasattr(elem, "_fields"):  # namedtuple
            return type(elem)(*fields)
        return tuple(fields) if isinstance(elem, tuple) else fields
    raise TypeError(f"default_collate: don't know how to batch samples of type "
                    f"{type(elem).__name__}; pass a collate_fn")


def default_convert(data):
    """Arrays (at any depth in tuples/lists/dicts) to Tensors without copying; rest unchanged."""
    if _is_array(data) or isinstance(data, numpy.generic):
        return Tensor(data if _is_array(data) else numpy.asarray(data))
    if isinstance(data, Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(v) for v in data))
    if isinstance(data, (tuple, list)):
        return type(data)(default_convert(v) for v in data)
    return data


class DataLoader:
    """Iterate over a dataset in batches.

    Args: ``batch_size`` (None yields single samples), ``shuffle`` (a new order every epoch),
    ``sampler`` / ``batch_sampler`` (custom orders), ``drop_last`` (skip a short last batch),
    ``collate_fn`` (list of samples -> batch; default ``default_collate``, with a fast path
    for datasets that define ``get_batch``), ``seed``, ``prefetch`` (prepare the next
    ``prefetch_factor`` batches in a background thread; ``num_workers > 0`` turns it on).

    >>> from nerve.data import TensorDataset
    >>> loader = DataLoader(TensorDataset(numpy.arange(10.0)), batch_size=4, shuffle=True,
    ...                     seed=0)
    >>> [len(b[0]) for b in loader], len(loader)
    ([4, 4, 2], 3)
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool = False, sampler=None,
                 batch_sampler=None, drop_last: bool = False, collate_fn=None,
                 seed: int | None = None, prefetch: bool = False, prefetch_factor: int = 2,
                 num_workers: int = 0):
        if batch_size is not None and (not isinstance(batch_size, (int, numpy.integer))
                                       or isinstance(batch_size, bool) or batch_size <= 0):
            raise ValueError(f"DataLoader: batch_size must be a positive integer or None, got "
                             f"{batch_size!r}")
        if not isinstance(prefetch_factor, int) or prefetch_factor <= 0:
            raise ValueError(f"DataLoader: prefetch_factor must be a positive integer, got "
                             f"{prefetch_factor!r}")
        if seed is not None and (not isinstance(seed, (int, numpy.integer))
                                 or isinstance(seed, bool)):
            raise TypeError(f"DataLoader: seed must be an integer, got {seed!r}")
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable and (shuffle or sampler is not None or batch_sampler is not None):
            raise ValueError("DataLoader: an IterableDataset has no indices, so shuffle, "
                             "sampler and batch_sampler cannot be used with it")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None
                                          or drop_last):
            raise ValueError("DataLoader: batch_sampler is mutually exclusive with batch_size, "
                             "shuffle, sampler and drop_last")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True are mutually exclusive "
                             "(the sampler decides the order)")
        if batch_size is None and drop_last:
            raise ValueError("DataLoader: drop_last needs a batch_size")
        self.dataset = dataset
        self.batch_size = None if batch_sampler is not None else batch_size
        self.drop_last = bool(drop_last)
        if self._iterable:
            self.sampler = self.batch_sampler = None
        else:
            if sampler is None and batch_sampler is None:
                sampler = RandomSampler(dataset) if shuffle else SequentialSampler(dataset)
            self.sampler = sampler
            if batch_sampler is None and batch_size is not None:
                batch_sampler = BatchSampler(sampler, batch_size, drop_last)
            self.batch_sampler = batch_sampler
        # without batching (batch_size=None) each sample is only converted, as in PyTorch
        self._auto_collate = self.batch_sampler is not None or (self._iterable and
                                                                 batch_size is not None)
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collate else default_convert
        self._fast = (collate_fn is default_collate and self._auto_collate
                      and hasattr(dataset, "get_batch"))
        self.collate_fn = collate_fn
        self.seed = int(seed) if seed is not None else _rng.draw_seed()
        self.epoch = 0
        self.prefetch = bool(prefetch) or num_workers > 0
        self.prefetch_factor = prefetch_factor

    # ---- epochs ---------------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration epoch ``epoch`` (to resume a run where it stopped)."""
        self.epoch = int(epoch)

    def state_dict(self) -> dict:
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        self.seed = int(state["seed"])
        self.epoch = int(state["epoch"])

    def _epoch_generators(self, epoch: int):
        seq = numpy.random.SeedSequence([self.seed % 2**64, epoch])
        return [numpy.random.default_rng(s) for s in seq.spawn(2)]

    # ---- iteration ------------------------------------------------------------------------
    def __iter__(self):
        order_rng, transform_rng = self._epoch_generators(self.epoch)
        self.epoch += 1
        if self._iterable:
            batches = self._iterable_batches(transform_rng)
        else:
            source = self.batch_sampler if self.batch_sampler is not None else self.sampler
            saved = install_epoch_generator(source, order_rng)
            try:
                indices = iter(source)  # our samplers draw the whole epoch's order here
            finally:
                restore_epoch_generators(saved)
            batches = self._index_batches(indices, transform_rng)
        return _PrefetchIterator(batches, self.prefetch_factor) if self.prefetch else batches

    def _fetch(self, indices):
        if not self._auto_collate:
            return self.collate_fn(self.dataset[indices])
        if self._fast:
            return default_convert(self.dataset.get_batch(numpy.asarray(indices,
                                                                        dtype=numpy.int64)))
        getitems = getattr(self.dataset, "__getitems__", None)
        samples = getitems(indices) if getitems is not None else [self.dataset[i]
                                                                  for i in indices]
        return self.collate_fn(samples)

    def _index_batches(self, indices, rng):
        for index in indices:
            with _rng.using(rng):
                batch = self._fetch(index)
            yield batch

    def _iterable_batches(self, rng):
        it = iter(self.dataset)
        while True:
            with _rng.using(rng):
                if self.batch_size is None:
                    sample = next(it, _END)
                    if sample is _END:
                        return
                    batch = self.collate_fn(sample)
                else:
                    samples = list(itertools.islice(it, self.batch_size))
                    if not samples or (self.drop_last and len(samples) < self.batch_size):
                        return
                    batch = self.collate_fn(samples)
            yield batch

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)  # TypeError (as in PyTorch) when the stream has no length
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    def __repr__(self) -> str:
        return (f"DataLoader({type(self.dataset).__name__}, batch_size={self.batch_size}, "
                f"sampler={type(self.sampler).__name__}, drop_last={self.drop_last}, "
                f"seed={self.seed}, epoch={self.epoch}, prefetch={self.prefetch})")



def _put(q, stop, item) -> bool:
    """Put unless asked to stop; the timeout lets a blocked producer notice ``stop``."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def _produce(batches, q, stop) -> None:
    try:
        for batch in batches:
            if not _put(q, stop, (_ITEM, batch)):
                return
        _put(q, stop, (_END, None))
    except BaseException as exc:  # handed to the consumer, which re-raises it
        _put(q, stop, (_ERROR, exc))
    finally:
        batches.close()


def _shutdown(stop, q, thread) -> None:
    stop.set()
    try:
        while True:
            q.get_nowait()
    except queue.Empty:
        pass
    if thread is not threading.current_thread():
        thread.join(timeout=5.0)


class _PrefetchIterator:
    """Batches made by one background thread, at most ``depth`` ahead of the consumer.

    The thread holds no reference to this object, so dropping the iterator early (``break``)
    finalizes it: the thread is told to stop, unblocked and joined.
    """

    def __init__(self, batches, depth: int):
        self._queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        thread = threading.Thread(target=_produce, args=(batches, self._queue, self._stop),
                                  name="nerve-data-prefetch", daemon=True)
        self._thread = thread
        self._finalizer = weakref.finalize(self, _shutdown, self._stop, self._queue, thread)
        self._done = False
        thread.start()

    def __iter__(self):
        return self

    def __next__(self):
        if self._done:
            raise StopIteration
        kind, item = self._queue.get()
        if kind is _ITEM:
            return item
        self._done = True
        self.close()
        if kind is _ERROR:
            raise item
        raise StopIteration

    def close(self) -> None:
        """Stop the background thread now (also happens when the iterator is dropped)."""
        self._finalizer()
