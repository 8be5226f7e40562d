"""Samplers: orders, lengths, seeding and validation."""
import numpy
import pytest

import nerve
from nerve.data import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)


def test_sequential_sampler():
    s = SequentialSampler(range(5))
    assert list(s) == [0, 1, 2, 3, 4] and len(s) == 5


def test_random_sampler_is_a_fresh_permutation_each_pass():
    s = RandomSampler(range(50), seed=0)
    a, b = list(s), list(s)
    assert sorted(a) == list(range(50)) and sorted(b) == list(range(50))
    assert a != b and a != list(range(50))
    assert all(isinstance(i, int) for i in a)
    t = RandomSampler(range(50), seed=0)
    assert list(t) == a and list(t) == b  # reproducible from the seed


def test_random_sampler_default_follows_manual_seed():
    nerve.manual_seed(11)
    a = list(RandomSampler(range(30)))
    nerve.manual_seed(11)
    assert list(RandomSampler(range(30))) == a


def test_random_sampler_num_samples_and_replacement():
    chained = list(RandomSampler(range(4), num_samples=10, seed=1))
    assert len(chained) == 10
    assert sorted(chained[:4]) == [0, 1, 2, 3] and sorted(chained[4:8]) == [0, 1, 2, 3]
    drawn = list(RandomSampler(range(3), replacement=True, num_samples=300, seed=2))
    assert len(drawn) == 300 and set(drawn) == {0, 1, 2}
    assert len(RandomSampler(range(3), num_samples=7)) == 7
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(range(3), num_samples=0)


def test_subset_random_sampler():
    s = SubsetRandomSampler([10, 20, 30, 40], seed=3)
    order = list(s)
    assert sorted(order) == [10, 20, 30, 40] and len(s) == 4


def test_weighted_random_sampler_follows_weights():
    s = WeightedRandomSampler([1.0, 3.0, 0.0], num_samples=40000, seed=0)
    counts = numpy.bincount(list(s), minlength=3)
    assert counts[2] == 0
    assert abs(counts[1] / counts.sum() - 0.75) < 0.01
    no_repeat = list(WeightedRandomSampler([1, 1, 1, 0], 3, replacement=False, seed=0))
    assert sorted(no_repeat) == [0, 1, 2]


@pytest.mark.parametrize("weights, n, replacement, match", [
    ([], 1, True, "non-empty"), ([1.0, -1.0], 1, True, "non-negative"),
    ([0.0, 0.0], 1, True, "not all zero"), ([1.0, float("nan")], 1, True, "finite"),
    ([1.0, 0.0], 2, False, "without replacement"), ([1.0], 0, True, "num_samples")])
def test_weighted_random_sampler_errors(weights, n, replacement, match):
    with pytest.raises(ValueError, match=match):
        WeightedRandomSampler(weights, n, replacement=replacement)


@pytest.mark.parametrize("n, size, drop_last, expected", [
    (7, 3, False, [[0, 1, 2], [3, 4, 5], [6]]), (7, 3, True, [[0, 1, 2], [3, 4, 5]]),
    (6, 3, True, [[0, 1, 2], [3, 4, 5]]), (2, 5, True, [])])
def test_batch_sampler(n, size, drop_last, expected):
    b = BatchSampler(SequentialSampler(range(n)), size, drop_last)
    assert list(b) == expected and len(b) == len(expected)
    # the same grouping for any iterable of indices (the generic path)
    assert list(BatchSampler(list(range(n)), size, drop_last)) == expected


def test_batch_sampler_rejects_bad_sizes():
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(SequentialSampler(range(3)), 0)


def test_custom_sampler_index_array_default():
    class Evens(Sampler):
        def __iter__(self):
            return iter([0, 2, 4])

        def __len__(self):
            return 3

    assert Evens().index_array().tolist() == [0, 2, 4]
    assert list(BatchSampler(Evens(), 2)) == [[0, 2], [4]]


def test_sampler_generator_and_seed_are_exclusive():
    with pytest.raises(ValueError, match="not both"):
        RandomSampler(range(3), generator=numpy.random.default_rng(0), seed=1)
    with pytest.raises(TypeError, match="Generator"):
        RandomSampler(range(3), generator="0")
