"""CIFAR-10 from its official python-pickle batches, its binary layout, or a JPEG tarball.

``CIFAR10(root)`` uses the first layout it finds under ``root`` (also ``root/cifar10``):

1. ``cifar-10-batches-py/data_batch_1..5`` / ``test_batch`` (md5-checked; the download),
2. ``cifar-10-batches-bin/data_batch_1..5.bin`` / ``test_batch.bin`` (or ``.bin.gz``),
3. ``data_batch_1_first4000.bin.gz`` (the first 4,000 training images, lossless) and
   ``cifar10_test_jpg.tar.gz`` (the 10,000 test images as JPEG q75; needs Pillow), as in the
   project's ``shared/data/cifar10``; both sha256-checked.

The pickles are read by an unpickler that builds only dicts, lists, strings, numbers and
byte arrays: any class or function named in the file is refused, so a file cannot run code.
Images are stored like torchvision's: ``data`` uint8 (N, 32, 32, 3), ``targets`` int64.
"""
from __future__ import annotations

import codecs
import gzip
import io
import pickle
import re
import tarfile
import zlib
from pathlib import Path

import numpy

from ..dataset import ArrayDataset
from .download import (
    CorruptDataError,
    MissingDataError,
    download_url,
    extract_tar,
    missing_error,
    resolve_root,
    verify_file,
)

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck"]
_RECORD = 1 + 3 * 32 * 32


# ---- a pickle reader that refuses every class ------------------------------------------------
class _ArrayStub:
    """Stands in for numpy's ``_reconstruct``/``ndarray``: records shape, dtype and bytes."""

    def __init__(self, *args):
        self.state = None

    def __setstate__(self, state):
        self.state = state


class _DtypeStub:
    def __init__(self, spec, align=False, copy=True):
        self.spec, self.order = spec, "|"

    def __setstate__(self, state):
        self.order = state[1] if len(state) > 1 and state[1] in "<>|=" else "|"


def _encode_latin1(text, encoding="latin1"):  # how protocol-2 pickles spell bytes
    if codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError(f"refusing _codecs.encode with {encoding!r}")
    return codecs.encode(text, "latin1")


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _ArrayStub,
    ("numpy._core.multiarray", "_reconstruct"): _ArrayStub,
    ("numpy", "ndarray"): _ArrayStub,
    ("numpy", "dtype"): _DtypeStub,
    ("_codecs", "encode"): _encode_latin1,
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        stub = _ALLOWED.get((module, name))
        if stub is None:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: CIFAR batches hold "
                                         f"only plain data")
        return stub


def _to_plain(obj):
    """Replace array stubs by numeric numpy arrays (object arrays are refused)."""
    if isinstance(obj, _ArrayStub):
        _, shape, dtype, fortran, raw = obj.state
        if not isinstance(dtype, _DtypeStub) or not isinstance(raw, (bytes, bytearray)):
            raise pickle.UnpicklingError("refusing an array without a plain numeric dtype")
        dt = numpy.dtype(dtype.order + dtype.spec if dtype.order in "<>" else dtype.spec)
        if dt.kind not in "biuf":
            raise pickle.UnpicklingError(f"refusing an array of dtype {dt}")
        arr = numpy.frombuffer(raw, dtype=dt).reshape(shape, order="F" if fortran else "C")
        return arr.copy()
    if isinstance(obj, dict):
        return {(k.decode("latin1") if isinstance(k, bytes) else k): _to_plain(v)
                for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_plain(v) for v in obj)
    return obj


def safe_unpickle(data: bytes):
    return _to_plain(_SafeUnpickler(io.BytesIO(data), encoding="bytes").load())


# ---- the three layouts -----------------------------------------------------------------------
def _chw_to_hwc(flat: numpy.ndarray) -> numpy.ndarray:
    return numpy.ascontiguousarray(flat.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))


def read_cifar_pickle(path, who: str = "CIFAR10"):
    """One python-pickle batch -> (images uint8 (N, 32, 32, 3), labels int64 (N,))."""
    path = Path(path)
    try:
        batch = safe_unpickle(path.read_bytes())
        data = numpy.asarray(batch["data"], dtype=numpy.uint8)
        labels = numpy.asarray(batch.get("labels", batch.get("fine_labels")), dtype=numpy.int64)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError,
            IndexError, AttributeError) as exc:
        raise CorruptDataError(f"{who}: {path} is not a readable CIFAR python batch ({exc}); it "
                               f"is truncated, corrupt or unsafe") from exc
    if data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (len(data),):
        raise CorruptDataError(f"{who}: {path} has data of shape {data.shape} and "
                               f"{labels.size} labels; expected (N, 3072) and N")
    return _chw_to_hwc(data), labels


def read_cifar_binary(path, who: str = "CIFAR10"):
    """A binary batch (``.bin`` or ``.bin.gz``: records of 1 label byte + 3072 pixel bytes)."""
    path = Path(path)
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise CorruptDataError(f"{who}: {path} is not a complete gzip file ({exc}); it is "
                                   f"truncated or corrupt") from exc
    if not raw or len(raw) % _RECORD:
        raise CorruptDataError(f"{who}: {path} holds {len(raw)} bytes, not a whole number of "
                               f"{_RECORD}-byte CIFAR records: it is truncated or corrupt")
    records = numpy.frombuffer(raw, dtype=numpy.uint8).reshape(-1, _RECORD)
    labels = records[:, 0].astype(numpy.int64)
    if labels.max() >= len(CLASSES):
        raise CorruptDataError(f"{who}: {path} has labels above {len(CLASSES) - 1}: not CIFAR-10")
    return _chw_to_hwc(records[:, 1:]), labels


def read_cifar_jpeg_tar(path, who: str = "CIFAR10"):
    """A tar of ``<split>/<classname>/<n>.jpg`` images (decoded with Pillow)."""
    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError(f"{who}: reading {path} (JPEG images) needs Pillow: pip install "
                          f"pillow") from exc
    found = []
    pattern = re.compile(r"(?:^|/)([a-z]+)/(\d+)\.jpe?g$")
    try:
        with tarfile.open(path) as tar:
            for member in tar:
                m = pattern.search(member.name)
                if not member.isfile() or not m or m.group(1) not in CLASSES:
                    continue
                with Image.open(io.BytesIO(tar.extractfile(member).read())) as img:
                    pixels = numpy.asarray(img.convert("RGB"))
                if pixels.shape != (32, 32, 3):
                    raise CorruptDataError(f"{who}: {path}:{member.name} is {pixels.shape}, "
                                           f"not a 32x32 RGB image")
                found.append((CLASSES.index(m.group(1)), int(m.group(2)), pixels))
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise CorruptDataError(f"{who}: {path} is not a readable tar of JPEGs ({exc}); it is "
                               f"truncated or corrupt") from exc
    if not found:
        raise CorruptDataError(f"{who}: {path} holds no <classname>/<n>.jpg images")
    found.sort(key=lambda f: f[:2])
    return (numpy.stack([f[2] for f in found]),
            numpy.asarray([f[0] for f in found], dtype=numpy.int64))


class CIFAR10(ArrayDataset):
    """CIFAR-10: 32x32 colour images in ten classes (see the module doc for the layouts).

    ``files`` lists what was read; ``download=True`` fetches and unpacks the official python
    archive into ``root``. ``verify=False`` skips the checksums of known files.
    """

    archive = ("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a",
               "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz")
    pickle_md5 = {"data_batch_1": "c99cafc152244af753f735de768cd75f",
                  "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
                  "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
                  "data_batch_4": "634d18415352ddfa80567beed471001a",
                  "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
                  "test_batch": "40351d587109b95175f43aff81a1287e"}
    shared_sha256 = {
        "data_batch_1_first4000.bin.gz":
            "d4fcfde6a2da4c80690f2ccfa903dfde5b39e57a2d0afa7e29f58b407c397713",
        "cifar10_test_jpg.tar.gz":
            "f225cabdd5279430dd56749e356119671fe0cd2bf543e78d20c27af441d80951"}
    classes = CLASSES

    def __init__(self, root=None, train: bool = True, transform=None, target_transform=None,
                 download: bool = False, verify: bool = True):
        self.root = resolve_root(root)
        self.train = bool(train)
        found = self._find()
        if found is None:
            if not download:
                names = self._batch_names()
                raise missing_error("CIFAR10", names, self.root / "cifar-10-batches-py",
                                    [self.root / "cifar10"], [self.archive[2]],
                                    note="The binary layout (cifar-10-batches-bin/*.bin) "
                                         "works too.")
            name, md5, url = self.archive
            download_url(url, self.root / name, md5=md5, who="CIFAR10")
            extract_tar(self.root / name, self.root, who="CIFAR10")
            found = self._find()
            if found is None:
                raise CorruptDataError(f"CIFAR10: {self.root / name} did not unpack to "
                                       f"cifar-10-batches-py/")
        reader, paths, sums = found
        images, labels = [], []
        for path in paths:
            if verify and path.name in sums:
                verify_file(path, who="CIFAR10", **sums[path.name])
            x, y = reader(path)
            images.append(x)
            labels.append(y)
        self.files = paths
        super().__init__(numpy.concatenate(images), numpy.concatenate(labels), transform,
                         target_transform)

    def _batch_names(self):
        return [f"data_batch_{i}" for i in range(1, 6)] if self.train else ["test_batch"]

    def _find(self):
        """(reader, paths, checksums) of the first complete layout, else None."""
        names = self._batch_names()
        py_sums = {n: {"md5": m} for n, m in self.pickle_md5.items()}
        for base in (self.root, self.root / "cifar10"):
            layouts = [(read_cifar_pickle, [base / "cifar-10-batches-py" / n for n in names],
                        py_sums),
                       (read_cifar_pickle, [base / n for n in names], py_sums),
                       (read_cifar_binary, [base / "cifar-10-batches-bin" / f"{n}.bin"
                                            for n in names], {}),
                       (read_cifar_binary, [base / f"{n}.bin" for n in names], {})]
            for reader, paths, sums in layouts:
                paths = [p if p.is_file() else p.with_name(p.name + ".gz") for p in paths]
                present = [p.is_file() for p in paths]
                if all(present):
                    return reader, paths, sums
                if any(present):
                    missing = [p.name for p, ok in zip(paths, present) if not ok]
                    raise MissingDataError(f"CIFAR10: {paths[0].parent} is incomplete: "
                                           f"missing {', '.join(missing)}")
            shared = "data_batch_1_first4000.bin.gz" if self.train else "cifar10_test_jpg.tar.gz"
            if (base / shared).is_file():
                reader = read_cifar_binary if self.train else read_cifar_jpeg_tar
                sums = {k: {"sha256": v} for k, v in self.shared_sha256.items()}
                return reader, [base / shared], sums
        return None

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        files = ", ".join(p.name for p in self.files)
        return f"CIFAR10({split}, {len(self)} images, from {self.files[0].parent}: {files})"
