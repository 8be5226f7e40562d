"""DataLoader: batching, per-epoch shuffling, reproducibility, drop_last, prefetch, collate."""
import collections
import gc
import threading

import numpy
import pytest

import nerve
from nerve.data import (
    DataLoader,
    Dataset,
    IterableDataset,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
)
from nerve.data import transforms as T


def labels(loader):
    return [b[-1].tolist() for b in loader]


def flat(epoch):
    return [i for batch in epoch for i in batch]


def make(n=10):
    return TensorDataset(numpy.arange(n, dtype=numpy.float32).reshape(n, 1) * 2,
                         numpy.arange(n))


def prefetch_threads():
    gc.collect()
    return [t for t in threading.enumerate() if t.name == "nerve-data-prefetch" and t.is_alive()]


@pytest.mark.parametrize("drop_last, sizes", [(False, [4, 4, 2]), (True, [4, 4])])
def test_sequential_batches_and_len(drop_last, sizes):
    loader = DataLoader(make(), batch_size=4, drop_last=drop_last)
    batches = list(loader)
    assert [len(y) for _, y in batches] == sizes and len(loader) == len(sizes)
    x, y = batches[0]
    assert isinstance(x, nerve.Tensor) and x.dtype == numpy.float32 and x.shape == (4, 1)
    assert y.dtype == numpy.int64 and y.tolist() == [0, 1, 2, 3]
    numpy.testing.assert_array_equal(x.numpy().ravel(), [0, 2, 4, 6])


def test_shuffle_is_a_new_permutation_every_epoch():
    loader = DataLoader(make(50), batch_size=8, shuffle=True, seed=0)
    epochs = [flat(labels(loader)) for _ in range(3)]
    for e in epochs:
        assert sorted(e) == list(range(50))
    assert epochs[0] != epochs[1] != epochs[2] and epochs[0] != list(range(50))


def test_same_seed_same_epochs_other_seed_differs():
    a = DataLoader(make(40), batch_size=8, shuffle=True, seed=7)
    b = DataLoader(make(40), batch_size=8, shuffle=True, seed=7)
    c = DataLoader(make(40), batch_size=8, shuffle=True, seed=8)
    for _ in range(3):
        ea = labels(a)
        assert ea == labels(b)
        assert ea != labels(c)


def test_seed_from_manual_seed():
    nerve.manual_seed(3)
    a = DataLoader(make(40), batch_size=8, shuffle=True)
    nerve.manual_seed(3)
    b = DataLoader(make(40), batch_size=8, shuffle=True)
    assert a.seed == b.seed and labels(a) == labels(b)


def test_epoch_k_can_be_resumed():
    full = DataLoader(make(30), batch_size=4, shuffle=True, seed=5)
    epochs = [labels(full) for _ in range(3)]
    resumed = DataLoader(make(30), batch_size=4, shuffle=True, seed=123)
    resumed.load_state_dict({"seed": 5, "epoch": 2})
    assert labels(resumed) == epochs[2]
    resumed.set_epoch(1)
    assert labels(resumed) == epochs[1]
    assert resumed.state_dict() == {"seed": 5, "epoch": 2}


def test_prefetch_gives_the_same_batches_including_random_transforms():
    data = numpy.random.default_rng(0).integers(0, 256, size=(20, 6, 6), dtype=numpy.uint8)
    aug = T.Compose([T.ToTensor(), T.RandomCrop(4, padding=1), T.RandomHorizontalFlip(),
                     T.GaussianNoise(0.1)])
    ds = nerve.data.ArrayDataset(data, numpy.arange(20), transform=aug)
    plain = DataLoader(ds, batch_size=6, shuffle=True, seed=9)
    pre = DataLoader(ds, batch_size=6, shuffle=True, seed=9, prefetch=True)
    for _ in range(2):
        for (xa, ya), (xb, yb) in zip(plain, pre, strict=True):
            numpy.testing.assert_array_equal(ya.numpy(), yb.numpy())
            numpy.testing.assert_array_equal(xa.numpy(), xb.numpy())
    # the transforms really are random: two epochs of an unshuffled loader differ
    ordered = DataLoader(ds, batch_size=20, seed=1)
    (x0, y0), (x1, y1) = next(iter(ordered)), next(iter(ordered))
    assert y0.tolist() == y1.tolist() and not numpy.array_equal(x0.numpy(), x1.numpy())


def test_prefetch_thread_stops_when_the_iterator_is_dropped():
    loader = DataLoader(make(200), batch_size=2, prefetch=True, prefetch_factor=2)
    for i, _ in enumerate(loader):
        if i == 1:
            break
    assert prefetch_threads() == []
    it = iter(loader)
    next(it)
    it.close()
    assert prefetch_threads() == []
    assert len(list(loader)) == 100 and prefetch_threads() == []


def test_prefetch_reraises_errors_from_the_dataset():
    class Broken(Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            if i == 3:
                raise KeyError("sample 3 is broken")
            return numpy.float32(i)

    with pytest.raises(KeyError, match="sample 3 is broken"):
        list(DataLoader(Broken(), batch_size=2, prefetch=True))
    assert prefetch_threads() == []


def test_num_workers_turns_on_prefetch():
    assert DataLoader(make(), num_workers=2).prefetch


def test_fast_path_equals_per_sample_collate():
    ds = make(13)
    fast = DataLoader(ds, batch_size=5, shuffle=True, seed=2)
    slow = DataLoader(ds, batch_size=5, shuffle=True, seed=2,
                      collate_fn=lambda samples: default_collate(samples))
    assert fast._fast and not slow._fast
    for (xf, yf), (xs, ys) in zip(fast, slow, strict=True):
        numpy.testing.assert_array_equal(xf.numpy(), xs.numpy())
        numpy.testing.assert_array_equal(yf.numpy(), ys.numpy())
        assert xf.dtype == xs.dtype and yf.dtype == ys.dtype


def test_batch_size_none_yields_converted_samples():
    out = list(DataLoader(make(3), batch_size=None))
    assert len(out) == 3 and out[2][1].tolist() == 2 and out[2][0].shape == (1,)


def test_loader_with_a_random_sampler_is_reproducible_from_its_seed():
    sampler = WeightedRandomSampler([1.0] * 10, num_samples=10)
    a = labels(DataLoader(make(), batch_size=5, sampler=sampler, seed=4))
    b = labels(DataLoader(make(), batch_size=5, sampler=sampler, seed=4))
    assert a == b and sampler._epoch_generator is None


def test_getitems_protocol_is_used():
    class Batched(Dataset):
        calls = []

        def __len__(self):
            return 4

        def __getitem__(self, i):
            raise AssertionError("per-sample access not expected")

        def __getitems__(self, indices):
            self.calls.append(list(indices))
            return [numpy.float32(i) for i in indices]

    ds = Batched()
    assert [b.tolist() for b in DataLoader(ds, batch_size=3)] == [[0.0, 1.0, 2.0], [3.0]]
    assert ds.calls == [[0, 1, 2], [3]]


class Count(IterableDataset):
    def __init__(self, n, with_len=True):
        self.n, self.with_len = n, with_len

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        if not self.with_len:
            raise TypeError("no length")
        return self.n


@pytest.mark.parametrize("drop_last, expected", [(False, [[0, 1, 2], [3, 4, 5], [6]]),
                                                 (True, [[0, 1, 2], [3, 4, 5]])])
def test_iterable_dataset(drop_last, expected):
    loader = DataLoader(Count(7), batch_size=3, drop_last=drop_last)
    assert [b.tolist() for b in loader] == expected and len(loader) == len(expected)
    assert list(DataLoader(Count(2), batch_size=None)) == [0, 1]
    with pytest.raises(TypeError):
        len(DataLoader(Count(2, with_len=False), batch_size=2))
    assert [b.tolist() for b in DataLoader(Count(5), batch_size=2, prefetch=True)] == \
        [[0, 1], [2, 3], [4]]


@pytest.mark.parametrize("kwargs, err, match", [
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"shuffle": True, "sampler": [0, 1]}, ValueError, "mutually exclusive"),
    ({"batch_sampler": [[0]], "batch_size": 2}, ValueError, "batch_sampler"),
    ({"batch_sampler": [[0]], "drop_last": True}, ValueError, "batch_sampler"),
    ({"batch_size": None, "drop_last": True}, ValueError, "drop_last"),
    ({"prefetch_factor": 0}, ValueError, "prefetch_factor"),
    ({"seed": 1.5}, TypeError, "seed")])
def test_argument_errors(kwargs, err, match):
    with pytest.raises(err, match=match):
        DataLoader(make(), **kwargs)


def test_iterable_dataset_rejects_shuffle():
    with pytest.raises(ValueError, match="IterableDataset"):
        DataLoader(Count(3), shuffle=True)


def test_batch_sampler_argument():
    loader = DataLoader(make(), batch_sampler=[[3, 1], [0]])
    assert labels(loader) == [[3, 1], [0]]


# ---- collate ---------------------------------------------------------------------------------
Point = collections.namedtuple("Point", "x y")


def test_default_collate_structures_and_dtypes():
    batch = [{"img": numpy.zeros((2, 2), numpy.uint8), "label": 1, "w": 0.5, "name": "a",
              "p": Point(1, 2.0), "t": nerve.tensor([1.0, 2.0]), "flag": True},
             {"img": numpy.ones((2, 2), numpy.uint8), "label": 2, "w": 1.5, "name": "b",
              "p": Point(3, 4.0), "t": nerve.tensor([3.0, 4.0]), "flag": False}]
    out = default_collate(batch)
    assert out["img"].shape == (2, 2, 2) and out["img"].dtype == numpy.uint8
    assert out["label"].dtype == numpy.int64 and out["label"].tolist() == [1, 2]
    assert out["w"].dtype == numpy.float32 and out["w"].tolist() == [0.5, 1.5]
    assert out["name"] == ["a", "b"]
    assert isinstance(out["p"], Point) and out["p"].x.tolist() == [1, 3]
    assert out["t"].tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert out["flag"].dtype == numpy.bool_
    pair = default_collate([(numpy.float64(1.0), [1, 2]), (numpy.float64(2.0), [3, 4])])
    assert isinstance(pair, tuple) and pair[0].dtype == numpy.float64
    assert isinstance(pair[1], list) and [p.tolist() for p in pair[1]] == [[1, 3], [2, 4]]


@pytest.mark.parametrize("batch, err, match", [
    ([numpy.zeros(2), numpy.zeros(3)], RuntimeError, "pad_sequence"),
    ([(1, 2), (1,)], RuntimeError, "same number of fields"),
    ([object(), object()], TypeError, "collate_fn"),
    ([], ValueError, "non-empty")])
def test_default_collate_errors(batch, err, match):
    with pytest.raises(err, match=match):
        default_collate(batch)


def test_default_convert():
    out = default_convert({"a": numpy.arange(3), "b": (numpy.int64(4), "s", 2)})
    assert isinstance(out["a"], nerve.Tensor) and isinstance(out["b"][0], nerve.Tensor)
    assert out["b"][1:] == ("s", 2)
