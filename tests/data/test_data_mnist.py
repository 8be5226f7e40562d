"""IDX reading/writing and the MNIST / Fashion-MNIST loaders on files the tests write."""
import gzip
import hashlib

import numpy
import pytest

from nerve.data import DataLoader
from nerve.data import transforms as T
from nerve.data.datasets import (
    MNIST,
    CorruptDataError,
    FashionMNIST,
    MissingDataError,
    read_idx,
    write_idx,
)

NAMES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


def write_split(folder, split="train", n=12, gz=True, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = numpy.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=numpy.uint8)
    labels = rng.integers(0, 10, size=n).astype(numpy.uint8)
    img_name, lbl_name = NAMES[split]
    if not gz:
        img_name, lbl_name = img_name[:-3], lbl_name[:-3]
    write_idx(folder / img_name, images)
    write_idx(folder / lbl_name, labels)
    return images, labels


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("suffix", [".idx", ".idx.gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    arr = (numpy.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    path = tmp_path / f"a{suffix}"
    write_idx(path, arr)
    out = read_idx(path)
    assert out.dtype == numpy.dtype(dtype) and out.flags.writeable
    numpy.testing.assert_array_equal(out, arr)


def test_idx_header_is_the_official_layout(tmp_path):
    write_idx(tmp_path / "l.idx", numpy.array([7, 2], numpy.uint8))
    assert (tmp_path / "l.idx").read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 2])
    with pytest.raises(TypeError, match="IDX cannot hold"):
        write_idx(tmp_path / "x.idx", numpy.zeros(2, numpy.complex64))


@pytest.mark.parametrize("payload, match", [
    (bytes([1, 2, 3, 4]), "not an IDX file"), (b"", "not an IDX file"),
    (bytes([0, 0, 8, 3, 0, 0]), "header"),
    (bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]), "truncated"),
    (bytes([0, 0, 8, 1, 0, 0, 0, 1, 1, 2]), "trailing")])
def test_idx_corrupt_payloads_name_the_file(tmp_path, payload, match):
    path = tmp_path / "bad-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(payload))
    with pytest.raises(CorruptDataError, match=match) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_truncated_gzip_is_a_clear_error(tmp_path):
    write_split(tmp_path / "mnist", n=50)
    path = tmp_path / "mnist" / NAMES["train"][0]
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CorruptDataError, match="truncated or corrupt") as info:
        MNIST(tmp_path, verify=False)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("layout", ["mnist", "MNIST/raw", ""])
def test_mnist_reads_each_layout(tmp_path, layout):
    images, labels = write_split(tmp_path / layout if layout else tmp_path, "test")
    ds = MNIST(tmp_path, train=False, verify=False)
    assert len(ds) == 12 and ds.data.dtype == numpy.uint8 and ds.targets.dtype == numpy.int64
    numpy.testing.assert_array_equal(ds.data, images)
    numpy.testing.assert_array_equal(ds.targets, labels)
    x, y = ds[3]
    numpy.testing.assert_array_equal(x, images[3])
    assert y == labels[3]


def test_mnist_uncompressed_files_and_transform(tmp_path):
    images, labels = write_split(tmp_path / "mnist", gz=False)
    ds = MNIST(tmp_path, transform=T.ToTensor())
    x, y = next(iter(DataLoader(ds, batch_size=5)))
    assert x.shape == (5, 1, 28, 28) and x.dtype == numpy.float32
    numpy.testing.assert_allclose(x.numpy()[:, 0], images[:5] / 255.0, rtol=1e-6)
    assert y.tolist() == labels[:5].tolist()


def test_checksum_mismatch_is_refused(tmp_path):
    write_split(tmp_path / "mnist")
    with pytest.raises(CorruptDataError, match="md5 check") as info:
        MNIST(tmp_path)
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message and "verify=False" in message
    with pytest.raises(CorruptDataError, match="md5"):
        FashionMNIST(tmp_path / "mnist")


@pytest.mark.parametrize("images_n, labels, match", [
    (12, numpy.zeros(11, numpy.uint8), "do not fit together"),
    (3, numpy.array([1, 2, 10], numpy.uint8), "labels outside")])
def test_inconsistent_files(tmp_path, images_n, labels, match):
    folder = tmp_path / "mnist"
    write_split(folder, n=images_n)
    write_idx(folder / NAMES["train"][1], labels)
    with pytest.raises(CorruptDataError, match=match):
        MNIST(tmp_path, verify=False)


def test_missing_files_say_what_to_put_where(tmp_path, monkeypatch):
    with pytest.raises(MissingDataError) as info:
        MNIST(tmp_path / "nowhere", train=False)
    message = str(info.value)
    for needed in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                   str(tmp_path / "nowhere" / "mnist"), "download=True",
                   "https://ossci-datasets.s3.amazonaws.com/mnist/"):
        assert needed in message
    monkeypatch.setenv("NERVE_DATA", str(tmp_path / "cache"))
    with pytest.raises(MissingDataError, match=str(tmp_path / "cache" / "fashion-mnist")):
        FashionMNIST()


def test_download_from_a_local_mirror(tmp_path):
    mirror = tmp_path / "mirror"
    images, labels = write_split(mirror, "test")
    sums = {n: hashlib.md5((mirror / n).read_bytes()).hexdigest() for n in NAMES["test"]}

    class LocalMNIST(MNIST):
        mirrors = ("file:///nonexistent-mirror/", mirror.as_uri() + "/")
        resources = {"test": tuple((n, sums[n]) for n in NAMES["test"])}

    root = tmp_path / "root"
    ds = LocalMNIST(root, train=False, download=True)
    numpy.testing.assert_array_equal(ds.data, images)
    assert sorted(p.name for p in (root / "mnist").iterdir()) == sorted(NAMES["test"])
    # a corrupt mirror file is rejected and leaves nothing behind
    (mirror / NAMES["test"][0]).write_bytes(b"not the file")
    with pytest.raises(OSError, match="could not fetch"):
        LocalMNIST(tmp_path / "root2", train=False, download=True)
    assert not any((tmp_path / "root2" / "mnist").iterdir())
