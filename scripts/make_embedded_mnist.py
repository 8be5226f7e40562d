"""Regenerate nerve/data/embedded/mnist_subset.npz, the MNIST subset shipped inside nerve.

    python scripts/make_embedded_mnist.py [--source ../shared/data/mnist] [--out PATH]

Selection: for each digit 0-9, ``numpy.random.default_rng(SEED)`` draws ``TRAIN_PER_CLASS``
images of that digit without replacement from the official training set (and
``TEST_PER_CLASS`` from the test set) — one generator, the classes in order 0..9, training
set first; the chosen indices are then sorted so the subset keeps the official order. The
file stores uint8 images and labels plus the original indices (``train_index``,
``test_index``). It is written as a ``.npz`` (what ``numpy.savez_compressed`` writes) with
fixed ZIP timestamps, so the same inputs give the same bytes with the same zlib.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import zipfile
from pathlib import Path

import numpy
from numpy.lib import format as npy_format

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nerve.data.datasets.mnist import MNIST  # noqa: E402

SEED = 0
TRAIN_PER_CLASS = 600
TEST_PER_CLASS = 100
DEFAULT_OUT = REPO / "nerve" / "data" / "embedded" / "mnist_subset.npz"


def select(labels: numpy.ndarray, per_class: int, rng: numpy.random.Generator) -> numpy.ndarray:
    chosen = [rng.choice(numpy.flatnonzero(labels == c), per_class, replace=False)
              for c in range(10)]
    return numpy.sort(numpy.concatenate(chosen))


def make(source) -> dict:
    """The subset's arrays, read from the official MNIST files in ``source`` (md5-checked)."""
    train, test = MNIST(source, train=True), MNIST(source, train=False)
    rng = numpy.random.default_rng(SEED)
    arrays = {}
    for split, ds, k in (("train", train, TRAIN_PER_CLASS), ("test", test, TEST_PER_CLASS)):
        idx = select(ds.targets, k, rng)
        arrays[f"x_{split}"] = ds.data[idx].astype(numpy.uint8)
        arrays[f"y_{split}"] = ds.targets[idx].astype(numpy.uint8)
        arrays[f"{split}_index"] = idx.astype(numpy.uint16)
    return arrays


def write_npz(path, arrays: dict) -> None:
    """A compressed .npz with fixed member timestamps, written atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            npy_format.write_array(buf, numpy.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compresslevel=9)
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(REPO.parent / "shared" / "data" / "mnist"),
                        help="folder with the four official MNIST .gz files")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    args = parser.parse_args(argv)
    arrays = make(args.source)
    write_npz(args.out, arrays)
    digest = hashlib.sha256(Path(args.out).read_bytes()).hexdigest()
    print(f"wrote {args.out}: {Path(args.out).stat().st_size} bytes, sha256 {digest}")
    for split in ("train", "test"):
        counts = numpy.bincount(arrays[f"y_{split}"], minlength=10).tolist()
        print(f"  {split}: {len(arrays[f'y_{split}'])} images, per class {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
