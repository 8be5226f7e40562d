"""The MNIST subset shipped inside nerve: contents, balance, provenance, packaging."""
import fnmatch
import hashlib
import importlib.util
from pathlib import Path

import numpy
import pytest

from nerve.data import DataLoader
from nerve.data import transforms as T
from nerve.data.datasets import MNIST, CorruptDataError, embedded, embedded_mnist

REPO = Path(__file__).resolve().parents[2]
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"
needs_mnist = pytest.mark.skipif(not SHARED_MNIST.is_dir(),
                                 reason=f"real MNIST not found at {SHARED_MNIST}")


@pytest.mark.parametrize("train, per_class", [(True, 600), (False, 100)])
def test_shape_dtype_and_label_balance(train, per_class):
    ds = embedded_mnist(train=train)
    n = 10 * per_class
    assert ds.data.shape == (n, 28, 28) and ds.data.dtype == numpy.uint8
    assert ds.targets.shape == (n,) and ds.targets.dtype == numpy.int64
    assert numpy.bincount(ds.targets, minlength=10).tolist() == [per_class] * 10
    assert numpy.all(numpy.diff(ds.indices) > 0)  # distinct, in the official order
    assert 0.10 < ds.data.mean() / 255 < 0.16  # MNIST's mean pixel is about 0.13
    x, y = next(iter(DataLoader(embedded_mnist(train, transform=T.ToTensor()), batch_size=8)))
    assert x.shape == (8, 1, 28, 28) and float(x.numpy().max()) <= 1.0


def test_file_is_small_and_documented():
    path = embedded.MNIST_SUBSET
    assert path.stat().st_size < 2 * 2**20
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == embedded.MNIST_SUBSET_SHA256
    readme = (path.parent / "README.md").read_text()
    assert digest in readme and "CC BY-SA 3.0" in readme


def test_pyproject_ships_the_embedded_files():
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["nerve.data"]
    for name in ("mnist_subset.npz", "README.md"):
        assert any(fnmatch.fnmatch(f"embedded/{name}", p) for p in patterns)


def test_corrupt_embedded_file_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / "mnist_subset.npz"
    bad.write_bytes(embedded.MNIST_SUBSET.read_bytes()[:1000])
    monkeypatch.setattr(embedded, "MNIST_SUBSET", bad)
    monkeypatch.setattr(embedded, "_cache", {})
    with pytest.raises(CorruptDataError, match="sha256"):
        embedded_mnist()


@needs_mnist
@pytest.mark.parametrize("train", [True, False])
def test_images_are_the_official_ones(train):
    official = MNIST(SHARED_MNIST, train=train)
    ds = embedded_mnist(train=train)
    numpy.testing.assert_array_equal(ds.data, official.data[ds.indices])
    numpy.testing.assert_array_equal(ds.targets, official.targets[ds.indices])


@needs_mnist
def test_script_regenerates_the_same_arrays(tmp_path):
    spec = importlib.util.spec_from_file_location("make_embedded_mnist",
                                                  REPO / "scripts" / "make_embedded_mnist.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "subset.npz"
    script.write_npz(out, script.make(SHARED_MNIST))
    with numpy.load(out) as fresh, numpy.load(embedded.MNIST_SUBSET) as shipped:
        assert sorted(fresh.files) == sorted(shipped.files)
        for key in fresh.files:
            numpy.testing.assert_array_equal(fresh[key], shipped[key])
            assert fresh[key].dtype == shipped[key].dtype
