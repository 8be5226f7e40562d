"""Indexing ops (nerve/ops/indexing.py): getitem, gather/scatter_add, index_select/index_add,
one_hot, masked_fill. Repeated indices must accumulate their gradients."""
import numpy as np
import pytest

import nerve

from .opcheck import DTYPES, assert_close, check_grads, check_values, grads_of, leaf, sample

_A = sample((3, 4, 5), seed=7)

# name -> index into a (3, 4, 5) tensor (NumPy's meaning is the reference)
INDICES = {
    "int": 1, "negative_int": -1, "slice": slice(1, None),
    "step": (slice(None), slice(None, None, 2)),
    "negative_step": slice(None, None, -1), "ellipsis": (Ellipsis, 1), "none": (None, 0),
    "scalar": (0, 1, 2), "empty": slice(1, 1), "mixed_basic": (1, slice(0, 3), None, -2),
    "int_list": [0, 2], "repeated_array": np.array([2, 0, 2, 2]),
    "tensor_index": nerve.tensor([1, 1, 0]), "pair": ([0, 1, 2], [1, 2, 3]),
    "column_list": (slice(None), [0, 0, 3]), "split_advanced": ([1, 0], slice(None), [2, 2]),
    "broadcast_advanced": (np.array([[0], [2]]), np.array([1, 3, 3])),
    "bool_array": _A > 0, "bool_tensor": nerve.tensor(_A[:, 0, 0] > 0),
    "bool_axis": (slice(None), np.array([True, False, True, True])),
}


def _np_index(index):
    if isinstance(index, nerve.Tensor):
        return index.numpy()
    if isinstance(index, tuple):
        return tuple(_np_index(i) for i in index)
    return index


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", INDICES)
def test_getitem_values(name, dtype):
    index = INDICES[name]
    check_values(lambda x: x[index], lambda a: a[_np_index(index)], [_A], dtype)


@pytest.mark.parametrize("name", INDICES)
def test_getitem_gradients(name):
    index = INDICES[name]
    check_grads(lambda x: x[index], [_A])


@pytest.mark.parametrize("name", ["repeated_array", "tensor_index", "column_list",
                                  "broadcast_advanced", "bool_array"])
def test_getitem_gradient_accumulates(name):
    index = INDICES[name]
    (g,) = grads_of(lambda x: x[index], [_A])
    expected = np.zeros_like(_A)
    np.add.at(expected, _np_index(index), 1.0)
    assert_close(g, expected)


def test_getitem_out_of_range_names_shape():
    with pytest.raises(IndexError, match=r"invalid for a tensor of shape \(3, 4, 5\)"):
        leaf(_A)[3]


# ---- gather / scatter_add -------------------------------------------------------------------
def _np_gather(a, dim, index):
    grids = list(np.ogrid[tuple(slice(0, n) for n in index.shape)])
    grids[dim] = index
    return a[tuple(grids)]


def _np_scatter_add(a, dim, index, src):
    out = a.copy()
    grids = list(np.ogrid[tuple(slice(0, n) for n in index.shape)])
    grids[dim] = index
    np.add.at(out, tuple(grids), src[tuple(slice(0, n) for n in index.shape)])
    return out


GATHER_CASES = {  # (dim, index into a (3, 4) tensor), with repeats and a smaller index
    "dim1": (1, np.array([[0, 0], [3, 1], [2, 2]])),
    "dim0": (0, np.array([[2, 0, 0, 1], [2, 2, 1, 0]])),
    "negative_dim_smaller": (-1, np.array([[3], [3]])),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", GATHER_CASES)
def test_gather(case, dtype):
    dim, index = GATHER_CASES[case]
    a = sample((3, 4))
    check_values(lambda x: nerve.gather(x, dim, nerve.tensor(index)),
                 lambda b: _np_gather(b, dim % 2, index), [a], dtype)
    check_values(lambda x: x.gather(dim, index), lambda b: _np_gather(b, dim % 2, index),
                 [a], dtype)
    check_grads(lambda x: x.gather(dim, index), [a])
    (g,) = grads_of(lambda x: x.gather(dim, index), [a])
    assert_close(g, _np_scatter_add(np.zeros((3, 4)), dim % 2, index, np.ones(index.shape)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", GATHER_CASES)
def test_scatter_add(case, dtype):
    dim, index = GATHER_CASES[case]
    a, src = sample((3, 4)), sample(index.shape, seed=1)
    check_values(lambda x, s: nerve.scatter_add(x, dim, index, s),
                 lambda b, s: _np_scatter_add(b, dim % 2, index, s), [a, src], dtype)
    check_grads(lambda x, s: x.scatter_add(dim, nerve.tensor(index), s), [a, src])


@pytest.mark.parametrize("fn, error, match", [
    (lambda x: x.gather(1, np.array([0, 1])), RuntimeError,
     r"gather: index of shape \(2,\).*input of shape \(3, 4\)"),
    (lambda x: x.gather(1, np.zeros((4, 1), dtype=np.int64)), RuntimeError, "gather: index"),
    (lambda x: x.gather(1, np.array([[4], [0], [0]])), IndexError,
     r"gather: index values must be in \[0, 4\).*\[0, 4\]"),
    (lambda x: x.gather(0, np.array([[-1]])), IndexError, "gather: index values"),
    (lambda x: x.gather(1, np.array([[0.5]])), TypeError, "gather: index must be an integer"),
    (lambda x: x.gather(2, np.array([[0]])), IndexError, "axis 2 is out of range"),
    (lambda x: x.scatter_add(1, np.array([[9]]), x), IndexError, "scatter_add: index values"),
    (lambda x: x.index_select(0, np.array([3])), IndexError, "index_select: index values"),
    (lambda x: x.index_select(0, np.array([[0]])), RuntimeError, "index_select: index must be"),
    (lambda x: x.index_add(1, np.array([0, 5]), nerve.zeros(3, 2, dtype=x.dtype)), IndexError,
     "index_add: index values"),
    (lambda x: x.index_add(0, np.array([0]), nerve.zeros(1, 3, dtype=x.dtype)), RuntimeError,
     r"index_add: source of shape \(1, 3\).*expected.*\(1, 4\)"),
    (lambda x: x.scatter_add(0, np.array([[0, 1]]), nerve.zeros(1, 1, dtype=x.dtype)),
     RuntimeError, r"scatter_add: index of shape \(1, 2\) does not fit src"),
])
def test_index_errors(fn, error, match):
    with pytest.raises(error, match=match):
        fn(leaf(sample((3, 4))))


# ---- index_select / index_add ------------------------------------------------------------------
def _np_index_add(a, dim, index, src):
    out = a.copy()
    np.add.at(out, (slice(None),) * dim + (index,), src)
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_select(dim, dtype):
    a, index = sample((3, 4)), np.array([2, 0, 2])
    check_values(lambda x: nerve.index_select(x, dim, nerve.tensor(index)),
                 lambda b: np.take(b, index, axis=dim), [a], dtype)
    check_grads(lambda x: x.index_select(dim, index), [a])
    (g,) = grads_of(lambda x: x.index_select(dim, index), [a])
    expected = np.zeros((3, 4))
    np.add.at(expected, (slice(None),) * (dim % 2) + (index,), 1.0)
    assert_close(g, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1])
def test_index_add(dim, dtype):
    index = np.array([0, 2, 0])
    a = sample((3, 4))
    src = sample((3, 4)[:dim] + (3,) + (3, 4)[dim + 1:], seed=1)
    check_values(lambda x, s: nerve.index_add(x, dim, nerve.tensor(index), s),
                 lambda b, s: _np_index_add(b, dim, index, s), [a, src], dtype)
    check_grads(lambda x, s: x.index_add(dim, index, s), [a, src])


def test_index_add_middle_dim_of_3d_with_repeats():
    """The scatter runs on flat positions: leading and trailing dims both > 1 here."""
    index = np.array([2, 0, 2, 2])
    a, src = sample((2, 3, 4)), sample((2, 4, 4), seed=1)
    out = nerve.index_add(nerve.tensor(a), 1, nerve.tensor(index), nerve.tensor(src))
    assert_close(out.numpy(), _np_index_add(a, 1, index, src))
    check_grads(lambda x: x.index_select(1, index), [a])


# ---- one_hot, masked_fill -----------------------------------------------------------------------
@pytest.mark.parametrize("labels, num_classes", [([2, 0, 1, 2], -1), ([[1], [3]], 5), ([], 3)])
def test_one_hot(labels, num_classes):
    labels = np.array(labels, dtype=np.int64)
    out = nerve.one_hot(nerve.tensor(labels), num_classes)
    n = num_classes if num_classes > 0 else labels.max() + 1
    assert out.dtype == np.int64 and not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), np.eye(n, dtype=np.int64)[labels])


def test_one_hot_errors():
    with pytest.raises(RuntimeError, match=r"one_hot: class values must be in \[0, 3\)"):
        nerve.one_hot(nerve.tensor([0, 3]), 3)
    with pytest.raises(TypeError, match="one_hot: index must be an integer"):
        nerve.one_hot(nerve.tensor([0.0, 1.0]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask_kind", ["tensor", "array", "broadcast"])
def test_masked_fill(mask_kind, dtype):
    a = sample((2, 3))
    mask = {"tensor": nerve.tensor(a > 0), "array": a > 0,
            "broadcast": np.array([True, False, True])}[mask_kind]
    np_mask = mask.numpy() if isinstance(mask, nerve.Tensor) else mask
    check_values(lambda x: x.masked_fill(mask, -7.0), lambda b: np.where(np_mask, -7.0, b),
                 [a], dtype)
    (g,) = grads_of(lambda x: nerve.masked_fill(x, mask, 0.5), [a])
    assert_close(g, np.broadcast_to(~np_mask, (2, 3)) * 1.0)
    check_grads(lambda x: x.masked_fill(mask, 2.0), [a])
