"""Dataset, TensorDataset, ArrayDataset, Subset, ConcatDataset, ChainDataset, random_split."""
import numpy
import pytest

import nerve
from nerve.data import (
    ArrayDataset,
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    random_split,
)
from nerve.data import transforms as T


class Squares(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        return numpy.float32(i * i)


class Stream(IterableDataset):
    def __init__(self, values):
        self.values = values

    def __iter__(self):
        return iter(self.values)


def test_tensor_dataset_rows_and_types():
    x = numpy.arange(12.0).reshape(6, 2)
    y = numpy.arange(6)
    ds = TensorDataset(nerve.tensor(x), y)
    assert len(ds) == 6
    a, b = ds[-1]
    assert isinstance(a, nerve.Tensor) and a.tolist() == [10.0, 11.0]
    assert isinstance(b, numpy.integer) and b == 5
    xb, yb = ds.get_batch(numpy.array([4, 0]))
    numpy.testing.assert_array_equal(xb, x[[4, 0]])
    numpy.testing.assert_array_equal(yb, [4, 0])


@pytest.mark.parametrize("args, match", [((), "at least one"),
                                         ((numpy.zeros(3), numpy.zeros(4)), "same first"),
                                         ((numpy.float32(1.0),), "same first")])
def test_tensor_dataset_rejects_bad_inputs(args, match):
    with pytest.raises(ValueError, match=match):
        TensorDataset(*args)


@pytest.mark.parametrize("index, err", [(6, IndexError), (-7, IndexError), (1.0, TypeError)])
def test_index_errors_name_the_dataset(index, err):
    with pytest.raises(err, match="TensorDataset"):
        TensorDataset(numpy.zeros(6))[index]


def test_array_dataset_batch_equals_per_sample():
    rng = numpy.random.default_rng(0)
    data = rng.integers(0, 256, size=(10, 4, 5), dtype=numpy.uint8)
    ds = ArrayDataset(data, numpy.arange(10), transform=T.Compose([T.ToTensor(), T.Flatten()]),
                      target_transform=lambda t: t * 2)
    idx = numpy.array([3, 7, 1])
    xb, yb = ds.get_batch(idx)
    xs = numpy.stack([ds[int(i)][0] for i in idx])
    numpy.testing.assert_array_equal(xb, xs)
    numpy.testing.assert_array_equal(yb, [6, 14, 2])
    assert xb.dtype == numpy.float32 and xb.shape == (3, 20)
    with pytest.raises(ValueError, match="10 inputs but 9 targets"):
        ArrayDataset(data, numpy.arange(9))


def test_subset_maps_indices_and_keeps_fast_path():
    base = TensorDataset(numpy.arange(10) * 10)
    sub = Subset(base, [9, 2, 5])
    assert len(sub) == 3 and int(sub[0][0]) == 90 and int(sub[-1][0]) == 50
    numpy.testing.assert_array_equal(sub.get_batch([2, 0])[0], [50, 90])
    assert not hasattr(Subset(Squares(), [1]), "get_batch")


def test_concat_dataset_indexing_and_batched_order():
    a = TensorDataset(numpy.arange(3), numpy.zeros(3))
    b = TensorDataset(numpy.arange(100, 104), numpy.ones(4))
    cat = a + b
    assert isinstance(cat, ConcatDataset) and len(cat) == 7
    assert [int(cat[i][0]) for i in range(7)] == [0, 1, 2, 100, 101, 102, 103]
    assert int(cat[-1][0]) == 103
    idx = [5, 0, 3, 2, 6]
    xb, yb = cat.get_batch(idx)
    numpy.testing.assert_array_equal(xb, [102, 0, 100, 2, 103])
    numpy.testing.assert_array_equal(yb, [1, 0, 1, 0, 1])
    mixed = ConcatDataset([Squares(), a])
    assert not hasattr(mixed, "get_batch") and float(mixed[2]) == 4.0
    with pytest.raises(TypeError, match="ChainDataset"):
        ConcatDataset([Stream([1])])


def test_chain_dataset():
    assert list(Stream([1, 2]) + Stream([3])) == [1, 2, 3]
    assert list(ChainDataset([Stream([]), Stream([4])])) == [4]


def test_random_split_lengths_and_fractions():
    ds = TensorDataset(numpy.arange(10))
    parts = random_split(ds, [3, 7], seed=1)
    assert [len(p) for p in parts] == [3, 7]
    values = sorted(int(p[i][0]) for p in parts for i in range(len(p)))
    assert values == list(range(10))  # disjoint and complete
    again = random_split(ds, [3, 7], seed=1)
    assert parts[0].indices == again[0].indices
    assert random_split(ds, [3, 7], seed=2)[0].indices != parts[0].indices
    # fractions: floor, then the remainder round-robin (as PyTorch)
    assert [len(p) for p in random_split(TensorDataset(numpy.arange(11)), [0.5, 0.3, 0.2],
                                         seed=0)] == [6, 3, 2]


@pytest.mark.parametrize("n, fractions", [(11, [0.5, 0.3, 0.2]), (7, [0.25, 0.25, 0.5]),
                                          (3, [0.1, 0.9]), (9, [0.6, 0.4])])
def test_random_split_fraction_lengths_match_torch(n, fractions):
    torch = pytest.importorskip("torch")
    ours = [len(p) for p in random_split(TensorDataset(numpy.arange(n)), fractions, seed=0)]
    theirs = [len(p) for p in torch.utils.data.random_split(range(n), fractions)]
    assert ours == theirs


def test_random_split_uses_nerve_seed_by_default():
    ds = TensorDataset(numpy.arange(20))
    nerve.manual_seed(5)
    first = random_split(ds, [10, 10])[0].indices
    nerve.manual_seed(5)
    assert random_split(ds, [10, 10])[0].indices == first


@pytest.mark.parametrize("lengths, match", [([3, 3], "sum to 6"), ([0.5, 0.6], "fractions"),
                                            ([-1, 11], "non-negative")])
def test_random_split_errors(lengths, match):
    with pytest.raises(ValueError, match=match):
        random_split(TensorDataset(numpy.arange(10)), lengths, seed=0)


def test_abstract_datasets_say_what_is_missing():
    with pytest.raises(NotImplementedError, match="__getitem__"):
        Dataset()[0]
    with pytest.raises(NotImplementedError, match="__iter__"):
        iter(IterableDataset())
