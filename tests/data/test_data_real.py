"""The loaders on the real dataset files in ../shared/data (skipped when they are absent)."""
from pathlib import Path

import numpy
import pytest

from nerve.data import DataLoader, compute_mean_std
from nerve.data import transforms as T
from nerve.data.datasets import (
    CIFAR10,
    MNIST,
    FashionMNIST,
    SentencePairs,
    TinyShakespeare,
    find_shared_data,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def needs(*parts):
    path = SHARED.joinpath(*parts)
    return pytest.mark.skipif(not path.exists(), reason=f"real data not found at {path}")


def test_find_shared_data_locates_the_folder_beside_the_repo(monkeypatch):
    monkeypatch.delenv("NERVE_SHARED_DATA", raising=False)
    found = find_shared_data()
    assert found == (SHARED.resolve() if SHARED.is_dir() else found)


@needs("mnist")
@pytest.mark.parametrize("cls, folder, train_mean", [(MNIST, "mnist", 0.1307),
                                                     (FashionMNIST, "fashion-mnist", 0.2860)])
def test_mnist_family_full_files(cls, folder, train_mean):
    train = cls(SHARED, train=True, transform=T.ToTensor())  # official md5s checked
    test = cls(SHARED / folder, train=False)
    assert train.data.shape == (60000, 28, 28) and test.data.shape == (10000, 28, 28)
    mean, std = compute_mean_std(train, channel_axis=None)
    assert mean == pytest.approx(train_mean, abs=5e-4)
    counts = numpy.bincount(test.targets, minlength=10)
    assert counts.sum() == 10000 and counts.min() > 850
    x, y = next(iter(DataLoader(train, batch_size=256, shuffle=True, seed=0)))
    assert x.shape == (256, 1, 28, 28) and y.dtype == numpy.int64


@needs("cifar10", "data_batch_1_first4000.bin.gz")
def test_cifar_lossless_training_subset():
    ds = CIFAR10(SHARED)  # sha256 checked
    assert ds.data.shape == (4000, 32, 32, 3)
    assert ds.targets[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert numpy.bincount(ds.targets).tolist() == [396, 366, 420, 384, 422, 393, 414, 385,
                                                   407, 413]
    labels = (SHARED / "cifar10" / "data_batch_1_first4000_labels.txt").read_text().split()
    assert ds.targets.tolist() == [int(v) for v in labels]


@needs("cifar10", "cifar10_test_jpg.tar.gz")
def test_cifar_jpeg_test_set():
    pytest.importorskip("PIL", reason="Pillow is needed to decode the JPEG test set")
    ds = CIFAR10(SHARED / "cifar10", train=False)
    assert ds.data.shape == (10000, 32, 32, 3)
    assert numpy.bincount(ds.targets).tolist() == [1000] * 10
    mean = (ds.data.reshape(-1, 3) / 255.0).mean(0)
    numpy.testing.assert_allclose(mean, [0.4941, 0.4851, 0.4504], atol=2e-4)


@needs("tinyshakespeare", "input.txt")
def test_tiny_shakespeare():
    train = TinyShakespeare(SHARED, seq_len=256)  # sha256 checked
    val = TinyShakespeare(SHARED, seq_len=256, split="val")
    assert train.vocab_size == 65 and len(train.ids) + len(val.ids) == 1_115_394
    assert train.decode(train[0][0]).startswith("First Citizen:")


@needs("tatoeba-fra-eng", "fra.txt")
def test_tatoeba_pairs():
    ds = SentencePairs(root=SHARED, split="all")
    assert len(ds) == 51976
    assert all("\u202f" not in t and "\u00a0" not in t for a, b in ds.pairs[:2000]
               for t in a + b)
    sources = {split: {" ".join(a) for a, _ in SentencePairs(root=SHARED, max_len=10,
                                                              split=split).pairs}
               for split in ("train", "val", "test")}
    assert not sources["train"] & sources["test"] and not sources["val"] & sources["test"]
    total = sum(len(v) for v in sources.values())
    assert len(sources["train"]) / total == pytest.approx(0.8, abs=1e-3)
