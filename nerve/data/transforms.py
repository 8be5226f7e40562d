"""Transforms for samples and whole batches of NumPy (or CuPy) arrays.

Each transform is a callable on one sample and has ``batch(xs)`` for a stack of samples (a
leading batch axis); datasets with ``get_batch`` call the batch form, so augmentation costs a
few array operations per batch instead of a Python loop per image. Images follow PyTorch's
layout after ``ToTensor``: channels first, spatial transforms act on the last two axes.
Random transforms draw from their own generator (``generator=``/``seed=``), else from the
running ``DataLoader`` epoch's, else from nerve's (``nerve.manual_seed``); never from NumPy's
global generator.

>>> import numpy
>>> t = Compose([ToTensor(), Normalize(0.5, 0.5)])
>>> t(numpy.full((2, 2), 255, dtype=numpy.uint8)).tolist()
[[[1.0, 1.0], [1.0, 1.0]]]
"""
from __future__ import annotations

import numpy

from ..backend import dtypes, get_array_module
from . import _rng


def _stack(items, like):
    """Stack per-sample results; Python numbers get default_collate's dtypes."""
    if not items:
        return like
    first = items[0]
    if isinstance(first, bool):
        return numpy.array(items, dtype=numpy.bool_)
    if isinstance(first, int):
        return numpy.array(items, dtype=numpy.int64)
    if isinstance(first, float):
        return numpy.array(items, dtype=dtypes.get_default_dtype())
    return get_array_module(like).stack(items)


def apply_batch(transform, xs):
    """``transform`` applied to a batch: its ``batch`` method, else sample by sample."""
    if transform is None:
        return xs
    if isinstance(transform, Transform):
        return transform.batch(xs)
    return _stack([transform(x) for x in xs], xs)


class Transform:
    """Base class: define ``__call__`` (one sample) and, for speed, ``batch`` (a stack)."""

    def __call__(self, x):
        raise NotImplementedError(f"{type(self).__name__} must implement __call__")

    def batch(self, xs):
        return _stack([self(x) for x in xs], xs)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_")
                         and k != "generator")
        return f"{type(self).__name__}({args})"


class Compose(Transform):
    """Apply transforms in order."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def batch(self, xs):
        for t in self.transforms:
            xs = apply_batch(t, xs)
        return xs

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"


class Lambda(Transform):
    """A user function as a transform; ``batch_fn`` (optional) does the same to a batch."""

    def __init__(self, fn, batch_fn=None):
        if not callable(fn) or (batch_fn is not None and not callable(batch_fn)):
            raise TypeError("Lambda: fn and batch_fn must be callable")
        self.fn = fn
        self.batch_fn = batch_fn

    def __call__(self, x):
        return self.fn(x)

    def batch(self, xs):
        return self.batch_fn(xs) if self.batch_fn is not None else super().batch(xs)


def _to_float_chw(x, batched: bool):
    """uint8 (N)HW or (N)HWC -> float32 (N)CHW, uint8 scaled to [0, 1] as torchvision does."""
    xp = get_array_module(x)
    x = xp.asarray(x)
    lead = 1 if batched else 0
    if x.ndim == lead + 2:
        x = x[:, None] if batched else x[None]
    elif x.ndim == lead + 3:
        x = x.transpose((0, 3, 1, 2) if batched else (2, 0, 1))
    else:
        kind = "batch of images (N, H, W) or (N, H, W, C)" if batched else \
            "image (H, W) or (H, W, C)"
        raise ValueError(f"ToTensor: expected an {kind}, got shape {tuple(x.shape)}")
    out = xp.empty(x.shape, dtype=xp.float32)
    if x.dtype == xp.uint8:
        xp.divide(x, 255, out=out, dtype=xp.float32)
    else:
        out[...] = x
    return out


class ToTensor(Transform):
    """uint8 HW / HWC images to float32 CHW arrays in [0, 1] (other dtypes: cast, not scaled).

    The result stays an array so later transforms run in NumPy; ``DataLoader``'s collate makes
    the nerve Tensor.
    """

    def __call__(self, x):
        return _to_float_chw(x, batched=False)

    def batch(self, xs):
        return _to_float_chw(xs, batched=True)


class Flatten(Transform):
    """A sample to a 1-D vector (a batch to ``(N, -1)``), e.g. images for an MLP."""

    def __call__(self, x):
        return x.reshape(-1)

    def batch(self, xs):
        return xs.reshape(len(xs), -1)


class Normalize(Transform):
    """``(x - mean) / std`` per channel (channels first) or with scalars: "whitening".

    ``Normalize.from_data(data)`` measures the mean and std of a dataset first.
    """

    def __init__(self, mean, std):
        self.mean = numpy.asarray(mean, dtype=numpy.float64).reshape(-1)
        self.std = numpy.asarray(std, dtype=numpy.float64).reshape(-1)
        if self.mean.size == 0 or self.std.size == 0:
            raise ValueError("Normalize: mean and std must not be empty")
        if numpy.any(self.std == 0) or not numpy.all(numpy.isfinite(self.std)):
            raise ValueError(f"Normalize: std must be finite and non-zero, got {self.std}")

    @classmethod
    def from_data(cls, data, channel_axis: int | None = 1) -> Normalize:
        return cls(*compute_mean_std(data, channel_axis=channel_axis))

    def _apply(self, x, channel_axis: int):
        xp = get_array_module(x)
        if not xp.issubdtype(x.dtype, xp.floating):
            raise TypeError(f"Normalize: expected a floating-point array, got {x.dtype}; "
                            "apply ToTensor first")
        c = max(self.mean.size, self.std.size)
        shape = [1] * x.ndim
        if c > 1:
            if x.ndim <= channel_axis or x.shape[channel_axis] != c:
                raise ValueError(f"Normalize: {c} channel statistics but the input has shape "
                                 f"{tuple(x.shape)} (channels on axis {channel_axis})")
            shape[channel_axis] = c
        mean = xp.asarray(self.mean.astype(x.dtype)).reshape(shape)
        inv_std = xp.asarray((1.0 / self.std).astype(x.dtype)).reshape(shape)
        return (x - mean) * inv_std

    def __call__(self, x):
        return self._apply(x, 0)

    def batch(self, xs):
        return self._apply(xs, 1)


class _Random(Transform):
    def _init_rng(self, generator, seed):
        self.generator = _rng.as_generator(generator, seed)

    def _rng(self) -> numpy.random.Generator:
        return _rng.current(self.generator)


def _pair(value, name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, (int, numpy.integer)) else tuple(value)
    if len(pair) != 2 or any(not isinstance(v, (int, numpy.integer)) or v <= 0 for v in pair):
        raise ValueError(f"RandomCrop: {name} must be a positive int or (height, width), "
                         f"got {value!r}")
    return int(pair[0]), int(pair[1])


class RandomCrop(_Random):
    """A random ``size`` window of the last two axes, after optional ``padding`` on each side.

    ``padding``: int (all sides), (horizontal, vertical), or (left, top, right, bottom) as in
    torchvision; ``padding_mode``: "constant" (with ``fill``), "edge", "reflect", "symmetric".
    """

    def __init__(self, size, padding=None, fill=0, padding_mode: str = "constant",
                 generator=None, seed=None):
        self.size = _pair(size, "size")
        p = 0 if padding is None else padding
        p = (p,) * 4 if isinstance(p, (int, numpy.integer)) else tuple(p)
        p = p * 2 if len(p) == 2 else p
        if len(p) != 4 or any(v < 0 for v in p):
            raise ValueError(f"RandomCrop: padding must be an int, 2 or 4 non-negative ints, "
                             f"got {padding!r}")
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError(f"RandomCrop: unknown padding_mode {padding_mode!r}")
        self.padding = tuple(int(v) for v in p)  # left, top, right, bottom
        self.fill = fill
        self.padding_mode = padding_mode
        self._init_rng(generator, seed)

    def _pad(self, x):
        left, top, right, bottom = self.padding
        if not any(self.padding):
            return x
        widths = [(0, 0)] * (x.ndim - 2) + [(top, bottom), (left, right)]
        kw = {"constant_values": self.fill} if self.padding_mode == "constant" else {}
        return get_array_module(x).pad(x, widths, mode=self.padding_mode, **kw)

    def _ranges(self, x):
        if x.ndim < 2:
            raise ValueError(f"RandomCrop: expected at least 2 dimensions (..., H, W), got shape "
                             f"{tuple(x.shape)}")
        (h, w), (H, W) = self.size, x.shape[-2:]
        if h > H or w > W:
            raise ValueError(f"RandomCrop: crop size {(h, w)} is larger than the padded input "
                             f"{(H, W)}")
        return H - h + 1, W - w + 1

    def __call__(self, x):
        x = self._pad(x)
        rows, cols = self._ranges(x)
        i, j = (int(v) for v in self._rng().integers(0, (rows, cols)))
        h, w = self.size
        return x[..., i:i + h, j:j + w]

    def batch(self, xs):
        xs = self._pad(xs)
        rows, cols = self._ranges(xs[0])
        n = len(xs)
        offsets = self._rng().integers(0, (rows, cols), size=(n, 2))
        xp = get_array_module(xs)
        windows = xp.lib.stride_tricks.sliding_window_view(xs, self.size, axis=(-2, -1))
        # windows[n, ..., i, j, :, :] is sample n's (h, w) window at (i, j); the advanced
        # indices put the batch axis first, so the result is (N, ..., h, w)
        rows, cols = xp.asarray(offsets[:, 0]), xp.asarray(offsets[:, 1])
        picked = windows[xp.arange(n), ..., rows, cols, :, :]
        return xp.ascontiguousarray(picked)


class RandomHorizontalFlip(_Random):
    """Mirror the last axis with probability ``p``."""

    def __init__(self, p: float = 0.5, generator=None, seed=None):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must lie in [0, 1], got {p}")
        self.p = float(p)
        self._init_rng(generator, seed)

    def __call__(self, x):
        return x[..., ::-1].copy() if self._rng().random() < self.p else x

    def batch(self, xs):
        flip = get_array_module(xs).asarray(self._rng().random(len(xs)) < self.p)
        out = xs.copy()
        out[flip] = xs[flip][..., ::-1]
        return out


class GaussianNoise(_Random):
    """Add N(mean, std^2) noise to float inputs ("artificial data expansion"); ``clip=(lo, hi)``
    optionally keeps values in range."""

    def __init__(self, std: float, mean: float = 0.0, clip=None, generator=None, seed=None):
        if std < 0:
            raise ValueError(f"GaussianNoise: std must be non-negative, got {std}")
        self.std = float(std)
        self.mean = float(mean)
        self.clip = None if clip is None else (float(clip[0]), float(clip[1]))
        self._init_rng(generator, seed)

    def __call__(self, x):
        xp = get_array_module(x)
        if not xp.issubdtype(x.dtype, xp.floating):
            raise TypeError(f"GaussianNoise: expected a floating-point array, got {x.dtype}; "
                            "apply ToTensor first")
        noise = self._rng().normal(self.mean, self.std, size=x.shape).astype(x.dtype)
        out = x + xp.asarray(noise)
        return out if self.clip is None else xp.clip(out, *self.clip)

    def batch(self, xs):
        return self(xs)


def _as_batches(data, batch_size: int):
    """Yield float64 input batches from an array or a dataset (inputs = first tuple item)."""
    if hasattr(data, "shape"):
        for start in range(0, len(data), batch_size):
            yield numpy.asarray(data[start:start + batch_size], dtype=numpy.float64)
        return
    get_batch = getattr(data, "get_batch", None)
    for start in range(0, len(data), batch_size):
        idx = numpy.arange(start, min(start + batch_size, len(data)))
        if get_batch is not None:
            batch = get_batch(idx)
        else:
            batch = [data[int(i)] for i in idx]
            batch = [s[0] if isinstance(s, (tuple, list)) else s for s in batch]
            batch = numpy.stack([numpy.asarray(s) for s in batch])
        if isinstance(batch, (tuple, list)):
            batch = batch[0]
        yield numpy.asarray(batch, dtype=numpy.float64)


def compute_mean_std(data, channel_axis: int | None = 1, batch_size: int = 4096):
    """Per-channel mean and (population) std of a dataset's inputs or an array of samples.

    ``data`` is an array with samples on axis 0, or a dataset whose samples are inputs or
    ``(input, target)`` pairs. ``channel_axis`` counts the batch axis (1 = channels first);
    None gives one mean and std over every value. Batches are merged with Chan's parallel
    update in float64, so large datasets are neither loaded twice nor summed unstably.

    >>> m, s = compute_mean_std(numpy.array([[0.0, 10.0], [2.0, 10.0]]))
    >>> m.tolist(), s.tolist()
    ([1.0, 10.0], [1.0, 0.0])
    """
    count, mean, m2 = 0, None, None
    for x in _as_batches(data, batch_size):
        if channel_axis is None:
            x = x.reshape(-1, 1)
        else:
            x = numpy.moveaxis(x, channel_axis, -1).reshape(-1, x.shape[channel_axis])
        n, bmean = x.shape[0], x.mean(axis=0)
        bm2 = ((x - bmean) ** 2).sum(axis=0)
        if mean is None:
            count, mean, m2 = n, bmean, bm2
            continue
        delta, total = bmean - mean, count + n
        mean = mean + delta * (n / total)
        m2 = m2 + bm2 + delta ** 2 * (count * n / total)
        count = total
    if mean is None:
        raise ValueError("compute_mean_std: the data is empty")
    std = numpy.sqrt(m2 / count)
    if channel_axis is None:
        return float(mean[0]), float(std[0])
    return mean, std
