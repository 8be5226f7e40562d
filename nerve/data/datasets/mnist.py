"""MNIST and Fashion-MNIST from the official IDX files (gzipped or not).

``MNIST(root)`` looks for the four official files in ``root/mnist``, ``root/MNIST/raw``
(torchvision's layout), ``root/MNIST`` and ``root`` itself; ``root`` defaults to the cache
(``~/.cache/nerve`` or ``$NERVE_DATA``). Gzipped files are checked against the official md5s.

>>> ds = MNIST(root, train=False, transform=ToTensor())   # doctest: +SKIP
>>> ds[0][0].shape, ds.data.shape                         # doctest: +SKIP
((1, 28, 28), (10000, 28, 28))
"""
from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy

from ..dataset import ArrayDataset
from .download import (
    CorruptDataError,
    download_files,
    find_folder,
    missing_error,
    resolve_root,
    verify_file,
)

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_bytes(path: Path, who: str) -> bytes:
    data = path.read_bytes()
    if path.suffix != ".gz":
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as exc:
        raise CorruptDataError(f"{who}: {path} is not a complete gzip file ({exc}); it is "
                               f"truncated or corrupt. Delete it and download it again.") from exc


def read_idx(path, who: str = "read_idx") -> numpy.ndarray:
    """An IDX file (``.gz`` or raw) as an array, checking the magic number and the size."""
    path = Path(path)
    raw = _read_bytes(path, who)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise CorruptDataError(f"{who}: {path} is not an IDX file (magic bytes "
                               f"{raw[:4].hex() or 'missing'}); it is corrupt or another format")
    ndim, header = raw[3], 4 + 4 * raw[3]
    if len(raw) < header:
        raise CorruptDataError(f"{who}: {path} is truncated inside its header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = numpy.dtype(_IDX_TYPES[raw[2]])
    count = math.prod(dims)
    if len(raw) - header != count * dtype.itemsize:
        raise CorruptDataError(
            f"{who}: {path} is truncated or has trailing data: its header promises shape "
            f"{dims} ({count * dtype.itemsize} bytes of data) but it holds {len(raw) - header}")
    arr = numpy.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))  # native byte order, and a writable copy


def write_idx(path, array) -> None:
    """Write ``array`` as an IDX file (gzipped when ``path`` ends in ``.gz``)."""
    array = numpy.asarray(array)
    codes = {numpy.dtype(v).newbyteorder("="): k for k, v in _IDX_TYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(f"write_idx: IDX cannot hold dtype {array.dtype}")
    payload = (bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
               + array.astype(_IDX_TYPES[code]).tobytes())
    path = Path(path)
    path.write_bytes(gzip.compress(payload, mtime=0) if path.suffix == ".gz" else payload)


class MNIST(ArrayDataset):
    """The MNIST digits: ``data`` uint8 (N, 28, 28), ``targets`` int64 (N,).

    Samples are ``(image, label)``; pass ``transform=ToTensor()`` for float (1, 28, 28)
    images in [0, 1]. ``download=True`` fetches missing files into ``root/mnist`` and checks
    them; ``verify=False`` skips the md5 check (for files that are not the official ones).
    """

    name = "MNIST"
    folder = "mnist"
    subdirs = ("mnist", "MNIST/raw", "MNIST", "")
    mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/",)
    resources = {
        "train": (("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                  ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432")),
        "test": (("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
                 ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")),
    }
    classes = [str(d) for d in range(10)]

    def __init__(self, root=None, train: bool = True, transform=None, target_transform=None,
                 download: bool = False, verify: bool = True):
        self.root = resolve_root(root)
        self.train = bool(train)
        files = self.resources["train" if train else "test"]
        names = [n for n, _ in files]
        folder = find_folder(self.root, self.subdirs, names)
        if folder is None:
            target = self.root / self.folder
            if not download:
                raise missing_error(self.name, names, target,
                                    [self.root / s for s in self.subdirs], self.mirrors)
            download_files(self.name, target, [(n, {"md5": m}) for n, m in files], self.mirrors)
            folder = target
        paths = []
        for name, md5 in files:
            path = folder / name
            if path.is_file():
                if verify:
                    verify_file(path, md5=md5, who=self.name)
            else:  # the uncompressed file: its structure is still checked by read_idx
                path = folder / name[:-3]
            paths.append(path)
        images, labels = (read_idx(p, self.name) for p in paths)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise CorruptDataError(f"{self.name}: {paths[0]} and {paths[1]} do not fit together: "
                                   f"images {images.shape}, labels {labels.shape}")
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise CorruptDataError(f"{self.name}: {paths[1]} has labels outside 0.."
                                   f"{len(self.classes) - 1}")
        self.files = paths
        super().__init__(images, labels.astype(numpy.int64), transform, target_transform)

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"{self.name}({split}, {len(self)} images, from {self.files[0].parent})"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: MNIST's format and sizes, ten kinds of clothing."""

    name = "FashionMNIST"
    folder = "fashion-mnist"
    subdirs = ("fashion-mnist", "FashionMNIST/raw", "FashionMNIST", "")
    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    resources = {
        "train": (("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                  ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe")),
        "test": (("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
                 ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310")),
    }
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
