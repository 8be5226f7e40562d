"""A semantic-segmentation set composed from real MNIST digits: 1 to 3 digits on a larger
canvas, with a class for every pixel (0 background, 1 + d for a pixel of digit d).

Everything follows from a seed, so the same arguments give the same canvases on any machine.
Training canvases take their digits from MNIST's training images, test canvases from its test
images, so no test digit was ever seen in training.

>>> import numpy
>>> digits = numpy.zeros((2, 28, 28), numpy.uint8)
>>> digits[:, 10:18, 12:16] = 255
>>> x, y, layout = compose_canvases(digits, numpy.array([3, 7]), count=2, size=40, seed=0)
>>> x.shape, y.shape, sorted(set(numpy.unique(y)) - {0}) <= [4, 8]
((2, 40, 40), (2, 40, 40), True)
"""
from __future__ import annotations

from pathlib import Path

import numpy

from ..dataset import Dataset
from .download import MissingDataError, data_home, find_shared_data

__all__ = ["CANVAS_CLASSES", "MNISTCanvas", "compose_canvases", "load_mnist_digits"]

CANVAS_CLASSES = ["background"] + [str(d) for d in range(10)]


def _ink_box(tile: numpy.ndarray, threshold: int) -> tuple:
    """(top, left, bottom, right), exclusive, of the pixels of ``tile`` above ``threshold``."""
    rows = numpy.flatnonzero((tile > threshold).any(axis=1))
    cols = numpy.flatnonzero((tile > threshold).any(axis=0))
    if rows.size == 0:
        return (0, 0, 0, 0)
    return (rows[0], cols[0], rows[-1] + 1, cols[-1] + 1)


def _overlaps(a: tuple, b: tuple) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def compose_canvases(images, labels, count: int, size: int = 64, digits=(1, 3),
                     threshold: float = 0.5, seed=0, tries: int = 20):
    """``(canvases, masks, layout)``: ``count`` canvases composed from ``images``.

    ``images``: uint8 (N, h, w) digits (MNIST: 28x28) with class ``labels`` (N,). Each canvas
    of ``size`` x ``size`` gets between ``digits[0]`` and ``digits[1]`` digits (uniformly),
    drawn at random from ``images``, each pasted at a random position. A position is redrawn
    (up to ``tries`` times) while the bounding box of the digit's ink (its pixels above the
    threshold) would overlap that of a digit already placed; after that, overlap is allowed.
    Pixels combine by maximum. The mask holds, per pixel, ``1 + label`` of the digit
    brightest there (the later one on a tie) when that brightness is above
    ``threshold * 255``, else 0 (background).

    Returns uint8 ``canvases`` (count, size, size), uint8 ``masks`` (count, size, size) and
    ``layout``: per canvas a list of ``(image index, label, row, col)`` in pasting order.
    ``seed`` is anything ``numpy.random.default_rng`` takes (an int, a tuple of ints).
    """
    images = numpy.asarray(images)
    labels = numpy.asarray(labels)
    if images.ndim != 3 or images.dtype != numpy.uint8 or len(images) != len(labels):
        raise ValueError(f"compose_canvases: expected uint8 images (N, h, w) and N labels, got "
                         f"images {images.shape} {images.dtype} and labels {labels.shape}")
    h, w = images.shape[1:]
    lo, hi = (int(d) for d in digits)
    if not 1 <= lo <= hi or size < max(h, w) or not 0.0 <= threshold < 1.0 or count < 0:
        raise ValueError(f"compose_canvases: need 1 <= digits[0] <= digits[1], size >= the "
                         f"digit size {h}x{w}, 0 <= threshold < 1 and count >= 0; got "
                         f"digits={digits}, size={size}, threshold={threshold}, count={count}")
    cut = threshold * 255.0
    rng = numpy.random.default_rng(seed)
    canvases = numpy.zeros((count, size, size), numpy.uint8)
    masks = numpy.zeros((count, size, size), numpy.uint8)
    layout = []
    for n in range(count):
        placed, boxes = [], []
        for index in rng.integers(0, len(images), size=rng.integers(lo, hi + 1)):
            tile = images[index]
            ink = _ink_box(tile, cut)
            for _ in range(max(1, tries)):
                r, c = (int(v) for v in rng.integers(0, (size - h + 1, size - w + 1)))
                box = (r + ink[0], c + ink[1], r + ink[2], c + ink[3])
                if not any(_overlaps(box, b) for b in boxes):
                    break
            boxes.append(box)
            placed.append((int(index), int(labels[index]), r, c))
            region = canvases[n, r:r + h, c:c + w]
            wins = (tile >= region) & (tile > cut)  # this digit is now the brightest here
            # (where it outshines an older digit without reaching the threshold, that one was
            # below the threshold too, so the mask is background there already)
            masks[n, r:r + h, c:c + w][wins] = 1 + int(labels[index])
            numpy.maximum(region, tile, out=region)
        layout.append(placed)
    return canvases, masks, layout


def load_mnist_digits(train: bool = True, root=None):
    """``(images, labels, source, embedded)``: real MNIST from ``root`` when given, else from
    the data folder (``$NERVE_DATA`` or ``~/.cache/nerve``), else from the shared data folder
    beside the repository; without any of them, the MNIST subset shipped with nerve
    (``embedded`` True). Never downloads."""
    from .embedded import embedded_mnist
    from .mnist import MNIST

    folders = [Path(root).expanduser()] if root is not None else [data_home()]
    if root is None and find_shared_data() is not None:
        folders.append(find_shared_data())
    for folder in folders:
        try:
            ds = MNIST(folder, train=train)
        except MissingDataError:
            continue
        return ds.data, ds.targets, str(ds.files[0].parent), False
    ds = embedded_mnist(train)
    return ds.data, ds.targets, f"the MNIST subset shipped with nerve ({ds.files[0]})", True


class MNISTCanvas(Dataset):
    """Samples ``(image, mask)``: a float32 (1, size, size) canvas in [0, 1] and its int64
    (size, size) mask of classes ``CANVAS_CLASSES`` (0 background, 1 + digit). Built by
    ``compose_canvases`` from MNIST's training digits (``train=True``) or its test digits,
    found by ``load_mnist_digits(train, root)``; ``count`` canvases (default 6,000 for
    training, 1,000 for testing). The canvases are stored as uint8 (``canvases``, ``masks``,
    ``layout``) and converted batch by batch.

    The random stream depends on ``seed`` and the split, so the training and test canvases
    differ even for the same seed.
    """

    classes = CANVAS_CLASSES

    def __init__(self, train: bool = True, count: int | None = None, size: int = 64,
                 digits=(1, 3), threshold: float = 0.5, seed: int = 0, root=None,
                 source_digits=None):
        self.train = bool(train)
        if source_digits is None:
            images, labels, self.source, self.embedded = load_mnist_digits(train, root)
        else:  # (images, labels) given directly, e.g. by tests
            (images, labels), self.source, self.embedded = source_digits, "given digits", False
        count = (6000 if train else 1000) if count is None else int(count)
        self.size, self.digits, self.threshold, self.seed = size, tuple(digits), threshold, seed
        self.canvases, self.masks, self.layout = compose_canvases(
            images, labels, count, size, digits, threshold, seed=(seed, int(self.train)))

    def __len__(self) -> int:
        return len(self.canvases)

    def __getitem__(self, index):
        x, y = self.get_batch(numpy.asarray([index]))
        return x[0], y[0]

    def get_batch(self, indices):
        indices = numpy.asarray(indices, dtype=numpy.int64)
        x = self.canvases[indices][:, None].astype(numpy.float32) / 255.0
        return x, self.masks[indices].astype(numpy.int64)

    @property
    def images(self) -> numpy.ndarray:
        """All canvases as float32 (N, 1, size, size) in [0, 1]."""
        return self.get_batch(numpy.arange(len(self)))[0]

    @property
    def targets(self) -> numpy.ndarray:
        """All masks as int64 (N, size, size)."""
        return self.masks.astype(numpy.int64)

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return (f"MNISTCanvas({split}, {len(self)} canvases of {self.size}x{self.size}, "
                f"{self.digits[0]}-{self.digits[1]} digits, from {self.source})")
