"""The dtype table and default dtype (nerve/backend/dtypes.py), seeded generators
(nerve/backend/random.py) and the tensor factories built on them (nerve/ops/creation.py)."""
import importlib.util

import numpy as np
import pytest

import nerve
from nerve.backend import dtypes


@pytest.fixture
def default_float64():
    nerve.set_default_dtype(nerve.float64)
    try:
        yield
    finally:
        nerve.set_default_dtype(nerve.float32)


# ---- the dtype table ------------------------------------------------------------------------
@pytest.mark.parametrize("name, numpy_dtype", [
    ("float16", np.float16), ("float32", np.float32), ("float64", np.float64),
    ("int32", np.int32), ("int64", np.int64), ("bool", np.bool_),
    ("half", np.float16), ("double", np.float64), ("long", np.int64)])
def test_dtype_table(name, numpy_dtype):
    dt = getattr(nerve, name)
    assert dt == np.dtype(numpy_dtype)
    assert nerve.zeros(2, dtype=dt).dtype == dt
    assert nerve.zeros(2, dtype=dt).numpy().dtype == np.dtype(numpy_dtype)


def test_bfloat16_needs_ml_dtypes():
    if importlib.util.find_spec("ml_dtypes") is None:
        assert nerve.bfloat16 is None
        with pytest.raises(TypeError, match="ml_dtypes"):
            dtypes.as_dtype("bfloat16")
    else:
        assert nerve.bfloat16 == dtypes.as_dtype("bfloat16")


@pytest.mark.parametrize("spec, expected", [
    ("float32", np.float32), ("int", np.int64), (float, np.float32), (int, np.int64),
    (bool, np.bool_), (np.float64, np.float64), (None, None)])
def test_as_dtype(spec, expected):
    assert dtypes.as_dtype(spec) == (None if expected is None else np.dtype(expected))


@pytest.mark.parametrize("spec", ["float31", object()])
def test_as_dtype_rejects_unknown(spec):
    with pytest.raises(TypeError):
        dtypes.as_dtype(spec)


# ---- dtype inference of nerve.tensor -----------------------------------------------------------
@pytest.mark.parametrize("data, expected", [
    (1.5, np.float32), ([1.0, 2.0], np.float32), ([1, 2.5], np.float32), (3, np.int64),
    ([[1, 2], [3, 4]], np.int64), (True, np.bool_), ([True, False], np.bool_),
    (np.array([1.0], dtype=np.float64), np.float64), (np.array([1], dtype=np.int32), np.int32),
    (np.float64(2.0), np.float64), (np.array([1.0], dtype=np.float16), np.float16)])
def test_tensor_dtype_inference(data, expected):
    t = nerve.tensor(data)
    assert t.dtype == np.dtype(expected)
    np.testing.assert_array_equal(t.numpy(), np.asarray(data).astype(expected))


def test_tensor_copies_its_input():
    a = np.array([1.0, 2.0])
    t = nerve.tensor(a)
    a[0] = 5.0
    assert t.numpy()[0] == 1.0


def test_tensor_from_list_of_tensors_and_explicit_dtype():
    t = nerve.tensor([nerve.tensor(1.0), nerve.tensor(2.0)])
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])
    assert nerve.tensor([1, 2], dtype=nerve.float64).dtype == nerve.float64
    assert nerve.tensor([1.7], dtype="int32").numpy()[0] == 1


def test_set_default_dtype(default_float64):
    assert nerve.get_default_dtype() == nerve.float64
    assert nerve.tensor(1.5).dtype == nerve.float64
    assert nerve.zeros(2).dtype == nerve.float64 and nerve.randn(2).dtype == nerve.float64
    assert nerve.tensor(1).dtype == nerve.int64  # integers are unaffected


def test_set_default_dtype_rejects_integers():
    with pytest.raises(TypeError, match="floating"):
        nerve.set_default_dtype(nerve.int32)
    assert nerve.get_default_dtype() == nerve.float32


# ---- factories ----------------------------------------------------------------------------
@pytest.mark.parametrize("factory, fill", [(nerve.zeros, 0.0), (nerve.ones, 1.0)])
@pytest.mark.parametrize("size", [(), (3,), ((2, 3),), (2, 3, 4)])
def test_zeros_ones(factory, fill, size):
    t = factory(*size)
    shape = size[0] if size and isinstance(size[0], tuple) else size
    assert t.shape == shape and t.dtype == nerve.float32
    np.testing.assert_array_equal(t.numpy(), np.full(shape, fill, dtype=np.float32))
    assert factory(*size, dtype=nerve.int64).dtype == nerve.int64


def test_factory_requires_grad():
    t = nerve.zeros(2, requires_grad=True)
    assert t.requires_grad and t.is_leaf
    with pytest.raises(RuntimeError, match="floating"):
        nerve.zeros(2, dtype=nerve.int64, requires_grad=True)


@pytest.mark.parametrize("size", [(-1,), (2.5,)])
def test_bad_sizes(size):
    with pytest.raises(ValueError, match="size"):
        nerve.zeros(*size)


@pytest.mark.parametrize("value, dtype", [(1.5, np.float32), (7, np.int64), (True, np.bool_)])
def test_full(value, dtype):
    t = nerve.full((2, 3), value)
    assert t.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(t.numpy(), np.full((2, 3), value, dtype=dtype))
    assert nerve.full((2,), 3, dtype=nerve.float64).dtype == nerve.float64


@pytest.mark.parametrize("args, expected, dtype", [
    ((5,), np.arange(5), np.int64), ((2, 7, 2), np.arange(2, 7, 2), np.int64),
    ((0.0, 1.0, 0.25), np.arange(0, 1, 0.25), np.float32),
    ((1, 2.5, 0.5), np.array([1.0, 1.5, 2.0]), np.float32), ((3.0,), np.arange(3.0), np.float32),
    ((5, 0, -2), np.array([5, 3, 1]), np.int64)])
def test_arange(args, expected, dtype):
    t = nerve.arange(*args)
    assert t.dtype == np.dtype(dtype)
    np.testing.assert_allclose(t.numpy(), expected)


def test_linspace_and_eye():
    t = nerve.linspace(0, 1, 5)
    assert t.dtype == nerve.float32
    np.testing.assert_allclose(t.numpy(), [0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(nerve.eye(3).numpy(), np.eye(3, dtype=np.float32))
    np.testing.assert_array_equal(nerve.eye(2, 3).numpy(), np.eye(2, 3))
    assert nerve.eye(2, dtype=nerve.float64).dtype == nerve.float64


def test_rand_randn():
    nerve.manual_seed(0)
    u = nerve.rand(1000)
    n = nerve.randn(2, 500)
    assert u.shape == (1000,) and u.dtype == nerve.float32
    assert n.shape == (2, 500) and n.dtype == nerve.float32
    assert 0.0 <= u.numpy().min() and u.numpy().max() < 1.0
    assert abs(u.numpy().mean() - 0.5) < 0.05  # loose: 1000 samples, std of mean ~0.009
    assert abs(n.numpy().mean()) < 0.15 and abs(n.numpy().std() - 1.0) < 0.1
    assert nerve.randn(3, dtype=nerve.float64).dtype == nerve.float64


@pytest.mark.parametrize("args, low, high", [((0, 10, (50,)), 0, 10), ((5, (50,)), 0, 5),
                                             ((-3, 3, (5, 10)), -3, 3)])
def test_randint(args, low, high):
    nerve.manual_seed(1)
    t = nerve.randint(*args)
    assert t.dtype == nerve.int64 and t.shape == args[-1]
    assert low <= t.numpy().min() and t.numpy().max() < high
    assert len(np.unique(t.numpy())) > 1
    assert nerve.randint(0, 3, (2,), dtype=nerve.int32).dtype == nerve.int32


@pytest.mark.parametrize("name", ["zeros_like", "ones_like", "rand_like", "randn_like"])
def test_like_factories(name):
    x = nerve.tensor(np.ones((2, 3), dtype=np.float64))
    t = getattr(nerve, name)(x)
    assert t.shape == (2, 3) and t.dtype == nerve.float64 and not t.requires_grad
    assert getattr(nerve, name)(x, dtype=nerve.float32).dtype == nerve.float32
    if name in ("zeros_like", "ones_like"):
        np.testing.assert_array_equal(t.numpy(), np.full((2, 3), name == "ones_like"))


def test_full_like():
    x = nerve.zeros(2, 2, dtype=nerve.int32)
    t = nerve.full_like(x, 4)
    assert t.dtype == nerve.int32
    np.testing.assert_array_equal(t.numpy(), np.full((2, 2), 4))


# ---- seeds ----------------------------------------------------------------------------------
@pytest.mark.parametrize("factory", [lambda: nerve.randn(4, 3), lambda: nerve.rand(5),
                                     lambda: nerve.randint(0, 100, (6,)),
                                     lambda: nerve.randperm(8)])
def test_manual_seed_reproduces(factory):
    nerve.manual_seed(123)
    first, second = factory().numpy(), factory().numpy()
    nerve.manual_seed(123)
    np.testing.assert_array_equal(factory().numpy(), first)
    np.testing.assert_array_equal(factory().numpy(), second)
    assert not np.array_equal(first, second)  # the stream moves on between calls


def test_different_seeds_differ():
    nerve.manual_seed(1)
    a = nerve.randn(10).numpy()
    nerve.manual_seed(2)
    b = nerve.randn(10).numpy()
    assert not np.array_equal(a, b)


def test_manual_seed_rejects_non_integers():
    with pytest.raises(TypeError, match="integer"):
        nerve.manual_seed(1.5)


def test_rng_state_round_trip():
    from nerve.backend import random

    nerve.manual_seed(7)
    state = random.get_rng_state()
    a = nerve.randn(5).numpy()
    random.set_rng_state(state)
    np.testing.assert_array_equal(nerve.randn(5).numpy(), a)
