"""Shape ops (nerve/ops/shape.py): values against NumPy, gradients, and clear shape errors."""
import numpy as np
import pytest

import nerve

from .opcheck import DTYPES, assert_close, check_grads, check_values, leaf, sample


def _np_pad(a, widths, value=0.0):
    return np.pad(a, widths, constant_values=value)


# name -> (nerve function, NumPy reference, input shape)
UNARY_SHAPE = {
    "reshape": (lambda x: x.reshape(3, -1), lambda a: a.reshape(3, -1), (2, 3, 4)),
    "reshape_tuple": (lambda x: nerve.reshape(x, (4, 6)), lambda a: a.reshape(4, 6), (2, 3, 4)),
    "reshape_to_scalar": (lambda x: x.reshape(()), lambda a: a.reshape(()), (1, 1)),
    "reshape_scalar": (lambda x: x.reshape(1, 1), lambda a: a.reshape(1, 1), ()),
    "view": (lambda x: x.view(-1), lambda a: a.reshape(-1), (2, 3, 4)),
    "view_as": (lambda x: x.view_as(nerve.zeros(6, 4)), lambda a: a.reshape(6, 4), (2, 3, 4)),
    "transpose": (lambda x: x.transpose(0, 2), lambda a: a.swapaxes(0, 2), (2, 3, 4)),
    "transpose_neg": (lambda x: nerve.transpose(x, -1, 0), lambda a: a.swapaxes(-1, 0),
                      (2, 3, 4)),
    "swapaxes": (lambda x: nerve.swapaxes(x, 0, 1), lambda a: a.swapaxes(0, 1), (2, 3, 4)),
    "permute": (lambda x: x.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1), (2, 3, 4)),
    "permute_list": (lambda x: nerve.permute(x, [1, -1, 0]), lambda a: a.transpose(1, 2, 0),
                     (2, 3, 4)),
    "T": (lambda x: x.T, lambda a: a.T, (2, 3, 4)),
    "mT": (lambda x: x.mT, lambda a: a.swapaxes(-1, -2), (2, 3, 4)),
    "t": (lambda x: x.t(), lambda a: a.T, (2, 3)),
    "expand": (lambda x: x.expand(2, -1, 4), lambda a: np.broadcast_to(a, (2, 3, 4)), (3, 1)),
    "broadcast_to": (lambda x: nerve.broadcast_to(x, (2, 3, 4)),
                     lambda a: np.broadcast_to(a, (2, 3, 4)), (1, 4)),
    "broadcast_scalar": (lambda x: x.broadcast_to(2, 3), lambda a: np.broadcast_to(a, (2, 3)),
                         ()),
    "expand_as": (lambda x: x.expand_as(nerve.zeros(2, 3)),
                  lambda a: np.broadcast_to(a, (2, 3)), (3,)),
    "squeeze": (lambda x: x.squeeze(), np.squeeze, (1, 3, 1)),
    "squeeze_dim": (lambda x: x.squeeze(-1), lambda a: a.squeeze(-1), (1, 3, 1)),
    "squeeze_non_one": (lambda x: x.squeeze(1), lambda a: a, (1, 3, 1)),
    "unsqueeze": (lambda x: x.unsqueeze(0), lambda a: a[None], (2, 3)),
    "unsqueeze_last": (lambda x: nerve.unsqueeze(x, -1), lambda a: a[..., None], (2, 3)),
    "expand_dims": (lambda x: nerve.expand_dims(x, 1), lambda a: a[:, None], (2, 3)),
    "flatten": (lambda x: x.flatten(), np.ravel, (2, 3, 4)),
    "flatten_from": (lambda x: x.flatten(1), lambda a: a.reshape(2, 12), (2, 3, 4)),
    "flatten_range": (lambda x: nerve.flatten(x, 0, 1), lambda a: a.reshape(6, 4), (2, 3, 4)),
    "flatten_scalar": (lambda x: x.flatten(), lambda a: a.reshape(1), ()),
    "flip": (lambda x: x.flip(0), lambda a: np.flip(a, 0), (2, 3, 4)),
    "flip_dims": (lambda x: nerve.flip(x, (0, -1)), lambda a: np.flip(a, (0, 2)), (2, 3, 4)),
    "pad_last": (lambda x: nerve.pad(x, (1, 2)), lambda a: _np_pad(a, [(0, 0), (1, 2)]), (2, 3)),
    "pad_two": (lambda x: nerve.pad(x, (1, 0, 0, 2), value=1.5),
                lambda a: _np_pad(a, [(0, 0), (0, 2), (1, 0)], 1.5), (2, 3, 4)),
    "tril": (lambda x: x.tril(), np.tril, (2, 3, 4)),
    "tril_offset": (lambda x: nerve.tril(x, -1), lambda a: np.tril(a, -1), (3, 4)),
    "triu": (lambda x: nerve.triu(x), np.triu, (2, 4, 3)),
    "triu_offset": (lambda x: x.triu(1), lambda a: np.triu(a, 1), (3, 4)),
    "contiguous": (lambda x: x.contiguous(), lambda a: a, (2, 3)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", UNARY_SHAPE)
def test_shape_values(name, dtype):
    fn, ref, shape = UNARY_SHAPE[name]
    check_values(fn, ref, [sample(shape)], dtype)


@pytest.mark.parametrize("name", UNARY_SHAPE)
def test_shape_gradients(name):
    fn, _, shape = UNARY_SHAPE[name]
    check_grads(fn, [sample(shape, seed=1)])


# ---- joining and splitting --------------------------------------------------------------------
JOIN = {
    "cat0": (lambda *xs: nerve.cat(xs, 0), lambda *a: np.concatenate(a, 0),
             [(2, 3), (1, 3), (4, 3)]),
    "cat_last": (lambda *xs: nerve.cat(list(xs), dim=-1), lambda *a: np.concatenate(a, -1),
                 [(2, 1), (2, 3)]),
    "concatenate": (lambda *xs: nerve.concatenate(xs, 1), lambda *a: np.concatenate(a, 1),
                    [(2, 2, 2), (2, 3, 2)]),
    "stack0": (lambda *xs: nerve.stack(xs), lambda *a: np.stack(a), [(2, 3), (2, 3), (2, 3)]),
    "stack_last": (lambda *xs: nerve.stack(xs, -1), lambda *a: np.stack(a, -1), [(2, 3)] * 2),
    "stack_scalars": (lambda *xs: nerve.stack(xs), lambda *a: np.stack(a), [(), ()]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", JOIN)
def test_join_values(name, dtype):
    fn, ref, shapes = JOIN[name]
    check_values(fn, ref, [sample(s, seed=i) for i, s in enumerate(shapes)], dtype)


@pytest.mark.parametrize("name", JOIN)
def test_join_gradients(name):
    fn, _, shapes = JOIN[name]
    check_grads(fn, [sample(s, seed=i) for i, s in enumerate(shapes)])


def test_cat_gradient_goes_to_each_piece():
    a, b = leaf(np.ones((2, 3))), leaf(np.ones((1, 3)))
    w = np.arange(9.0).reshape(3, 3)
    (nerve.cat([a, b]) * nerve.tensor(w)).sum().backward()
    assert_close(a.grad, w[:2])
    assert_close(b.grad, w[2:])


SPLIT = {
    "split_size": (lambda x: nerve.split(x, 2, 1), lambda a: np.split(a, [2, 4], 1)),
    "split_sections": (lambda x: x.split([1, 4], dim=1), lambda a: np.split(a, [1], 1)),
    "chunk": (lambda x: x.chunk(3, 1), lambda a: np.split(a, [2, 4], 1)),
    "chunk_dim0": (lambda x: nerve.chunk(x, 2), lambda a: np.split(a, 2, 0)),
    "unbind": (lambda x: x.unbind(1), lambda a: [a[:, i] for i in range(5)]),
    "unbind0": (lambda x: nerve.unbind(x), lambda a: list(a)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", SPLIT)
def test_split_values(name, dtype):
    fn, ref = SPLIT[name]
    a = sample((2, 5)).astype(dtype)
    pieces = fn(nerve.tensor(a))
    expected = ref(a)
    assert isinstance(pieces, tuple) and len(pieces) == len(expected)
    for p, e in zip(pieces, expected):
        assert p.dtype == dtype
        assert_close(p, e)


@pytest.mark.parametrize("name", SPLIT)
def test_split_gradients(name):
    fn, _ = SPLIT[name]
    check_grads(fn, [sample((2, 5), seed=2)])


def test_unused_split_pieces_get_zero_gradient():
    x = leaf(sample((2, 5)))
    first, _ = x.split([2, 3], 1)
    first.sum().backward()
    assert_close(x.grad, np.concatenate([np.ones((2, 2)), np.zeros((2, 3))], 1))


# ---- errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize("fn, error, match", [
    (lambda x: x.reshape(5, 5), RuntimeError, r"reshape: shape \[5, 5\].*\(2, 3, 4\)"),
    (lambda x: x.reshape(-1, -1), RuntimeError, r"reshape: shape \[-1, -1\] is invalid"),
    (lambda x: x.view(5, -1), RuntimeError, r"reshape: shape \[5, -1\] is invalid"),
    (lambda x: x.permute(0, 0, 1), RuntimeError, "permute: dims"),
    (lambda x: x.broadcast_to(3, 3, 4), RuntimeError, r"broadcast_to.*\(2, 3, 4\)"),
    (lambda x: nerve.cat([x, nerve.zeros(2, 4, 4, dtype=x.dtype)]), RuntimeError,
     r"cat: tensor 1 has shape \(2, 4, 4\).*\(2, 3, 4\)"),
    (lambda x: nerve.cat([x, nerve.zeros(2, 3)]), RuntimeError, r"cat: tensor 1 has shape"),
    (lambda x: nerve.cat([]), ValueError, "non-empty"),
    (lambda x: nerve.cat([x[0, 0, 0], x[0, 0, 1]]), RuntimeError, "zero-dimensional"),
    (lambda x: nerve.stack([x, x[0]]), RuntimeError, r"stack: tensor 1 has shape \(3, 4\)"),
    (lambda x: x.split([1, 1], 1), RuntimeError, r"split: sizes \[1, 1\] do not add up to 3"),
    (lambda x: nerve.pad(x, (1,)), ValueError, "pad: expected an even number"),
    (lambda x: x.unsqueeze(4), IndexError, "unsqueeze: dim 4 out of range"),
    (lambda x: x.transpose(0, 3), IndexError, "axis 3 is out of range"),
])
def test_shape_errors(fn, error, match):
    with pytest.raises(error, match=match):
        fn(leaf(np.zeros((2, 3, 4))))
