"""A stratified MNIST subset shipped inside nerve, so examples and the CLI work offline.

6,000 training images (600 per digit) and 1,000 test images (100 per digit) of the official
MNIST files, stored as uint8 in ``nerve/data/embedded/mnist_subset.npz`` (about 1 MB); see the
README there for the source, license (CC BY-SA 3.0) and how the subset was chosen
(``scripts/make_embedded_mnist.py`` regenerates it).

>>> train = embedded_mnist(train=True)
>>> train.data.shape, train.data.dtype.name, train.targets.dtype.name
((6000, 28, 28), 'uint8', 'int64')
"""
from __future__ import annotations

from pathlib import Path

import numpy

from ..dataset import ArrayDataset
from .download import CorruptDataError, verify_file

MNIST_SUBSET = Path(__file__).resolve().parents[1] / "embedded" / "mnist_subset.npz"
MNIST_SUBSET_SHA256 = "5c3ee84ab51a6ff6a2ec1482ec4139446bf7bb8f4708dc67603a53ac0436074a"

_cache: dict = {}


def _load(verify: bool) -> dict:
    if "arrays" not in _cache:
        if not MNIST_SUBSET.is_file():
            raise FileNotFoundError(f"embedded_mnist: {MNIST_SUBSET} is missing: the nerve "
                                    f"installation is incomplete (reinstall nerve)")
        if verify:
            verify_file(MNIST_SUBSET, sha256=MNIST_SUBSET_SHA256, who="embedded_mnist",
                        hint=" (reinstall nerve)")
        try:
            with numpy.load(MNIST_SUBSET, allow_pickle=False) as npz:
                _cache["arrays"] = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, KeyError) as exc:
            raise CorruptDataError(f"embedded_mnist: {MNIST_SUBSET} is unreadable ({exc}); "
                                   f"reinstall nerve") from exc
    return _cache["arrays"]


class EmbeddedMNIST(ArrayDataset):
    """The shipped subset as an MNIST-like dataset (``data`` uint8 (N, 28, 28), ``targets``
    int64); ``indices`` are the images' positions in the official files."""

    classes = [str(d) for d in range(10)]

    def __init__(self, train: bool = True, transform=None, target_transform=None,
                 verify: bool = True):
        arrays = _load(verify)
        split = "train" if train else "test"
        self.train = bool(train)
        self.indices = arrays[f"{split}_index"].astype(numpy.int64)
        self.files = [MNIST_SUBSET]
        super().__init__(arrays[f"x_{split}"], arrays[f"y_{split}"].astype(numpy.int64),
                         transform, target_transform)

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"EmbeddedMNIST({split}, {len(self)} images, subset of MNIST shipped with nerve)"


def embedded_mnist(train: bool = True, transform=None, target_transform=None) -> EmbeddedMNIST:
    """The MNIST subset shipped with nerve (6,000 train / 1,000 test images)."""
    return EmbeddedMNIST(train, transform, target_transform)
