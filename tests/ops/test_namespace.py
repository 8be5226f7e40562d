"""The contract of nerve/ops/namespace.py: backward rules see the same names, with the same
meaning, on arrays (ArrayOps, first-order) and on Tensors (TENSOR_OPS, create_graph)."""
import numpy as np
import pytest

import nerve
from nerve.backend.im2col import Window
from nerve.ops.namespace import NAMES, TENSOR_OPS, ArrayOps

from .opcheck import assert_close, sample

_IDX = np.array([[0, 0], [3, 1], [2, 2]])
_CONV = Window((3, 3), (1, 2), (1, 1, 0, 2), (1, 1), 2)  # (2, 4, 5, 5) -> (2, 6, 5, 3)
_POOL = Window((3, 3), (2, 2), (1, 1, 1, 1))  # (2, 3, 5, 5) -> (2, 3, 3, 3)
_PLANE = np.array([[[0, 3, 3], [1, 2, 0]]] * 2)  # flat positions in 2x2 planes, repeats

# name -> (call(F, *operands), operand arrays); every name in NAMES needs an entry
PARITY = {
    "exp": (lambda F, x: F.exp(x), [sample((3, 4))]),
    "log": (lambda F, x: F.log(x), [sample((3, 4), "positive")]),
    "sin": (lambda F, x: F.sin(x), [sample((3, 4))]),
    "cos": (lambda F, x: F.cos(x), [sample((3, 4))]),
    "sign": (lambda F, x: F.sign(x), [np.array([-2.0, 0.0, 3.0])]),
    "sigmoid": (lambda F, x: F.sigmoid(x), [sample((3, 4))]),
    "where": (lambda F, x, y: F.where(x > 0, x, y), [sample((3, 4)), sample((4,), seed=1)]),
    "matmul": (lambda F, a, b: F.matmul(a, b), [sample((2, 3, 4)), sample((4, 2), seed=1)]),
    "swapaxes": (lambda F, x: F.swapaxes(x, 0, -1), [sample((2, 3, 4))]),
    "expand_dims": (lambda F, x: F.expand_dims(x, 1), [sample((3, 4))]),
    "broadcast_to": (lambda F, x: F.broadcast_to(x, (2, 3, 4)), [sample((3, 1))]),
    "transpose": (lambda F, x: F.transpose(x, (2, 0, 1)), [sample((2, 3, 4))]),
    "flip": (lambda F, x: F.flip(x, 1), [sample((3, 4))]),
    "cumsum": (lambda F, x: F.cumsum(x, 1), [sample((3, 4))]),
    "cast": (lambda F, x: F.cast(x, np.dtype(np.float32)), [sample((3, 4))]),
    "prod_others": (lambda F, x, out: F.prod_others(x, out, (1,)),
                    [sample((3, 4), "nonzero"),
                     sample((3, 4), "nonzero").prod(1, keepdims=True)]),
    "index_scatter": (lambda F, g: F.index_scatter(g, (3, 4), (np.array([0, 0, 2]),)),
                      [sample((3, 4))]),
    "gather": (lambda F, x: F.gather(x, 1, _IDX), [sample((3, 4))]),
    "scatter_add_zeros": (lambda F, s: F.scatter_add_zeros(s, (3, 4), 1, _IDX),
                          [sample((3, 2))]),
    "index_select": (lambda F, x: F.index_select(x, 0, np.array([2, 0, 2])), [sample((3, 4))]),
    "index_add_zeros": (lambda F, s: F.index_add_zeros(s, (3, 4), 0, np.array([2, 0, 2])),
                        [sample((3, 4))]),
    "einsum": (lambda F, a, b: F.einsum("ij,jk->ik", a, b),
               [sample((2, 3)), sample((3, 4), seed=1)]),
    "to_device": (lambda F, x: F.to_device(x, nerve.device("cpu")), [sample((3, 4))]),
    "tanh": (lambda F, x: F.tanh(x), [sample((3, 4))]),
    "concatenate": (lambda F, a, b: F.concatenate([a, b], 1), [sample((3, 4)), sample((3, 2))]),
    "stack": (lambda F, a, b: F.stack([a, b], -1), [sample((3, 4)), sample((3, 4), seed=1)]),
    "conv2d": (lambda F, x, w: F.conv2d(x, w, _CONV),
               [sample((2, 4, 5, 5)), sample((6, 2, 3, 3), seed=1)]),
    "conv_transpose2d": (lambda F, g, w: F.conv_transpose2d(g, w, (2, 4, 5, 5), _CONV),
                         [sample((2, 6, 5, 3)), sample((6, 2, 3, 3), seed=1)]),
    "conv2d_weight": (lambda F, x, g: F.conv2d_weight(x, g, (6, 2, 3, 3), _CONV),
                      [sample((2, 4, 5, 5)), sample((2, 6, 5, 3), seed=1)]),
    "plane_gather": (lambda F, x: F.plane_gather(x, _PLANE), [sample((2, 2, 2, 2))]),
    "plane_scatter": (lambda F, s: F.plane_scatter(s, _PLANE, (2, 2)), [sample((2, 2, 3))]),
    "window_sum": (lambda F, x: F.window_sum(x, _POOL), [sample((2, 3, 5, 5))]),
    "window_spread": (lambda F, g: F.window_spread(g, (2, 3, 5, 5), _POOL),
                      [sample((2, 3, 3, 3))]),
}


def test_every_name_is_exposed_by_both_namespaces():
    array_ops = ArrayOps(np)
    for name in NAMES:
        assert callable(getattr(array_ops, name, None)), f"ArrayOps lacks {name}"
        assert callable(getattr(TENSOR_OPS, name, None)), f"TENSOR_OPS lacks {name}"
    assert set(vars(TENSOR_OPS)) == set(NAMES)
    assert set(PARITY) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_array_and_tensor_namespaces_agree(name):
    call, arrays = PARITY[name]
    on_arrays = call(ArrayOps(np), *arrays)
    on_tensors = call(TENSOR_OPS, *[nerve.tensor(a, requires_grad=True) for a in arrays])
    assert isinstance(on_tensors, nerve.Tensor)
    assert on_tensors.dtype == np.asarray(on_arrays).dtype
    assert_close(on_tensors, np.asarray(on_arrays))
    if nerve.is_grad_enabled() and on_tensors.dtype.kind == "f" and name != "sign":
        assert on_tensors.requires_grad  # recorded, so second derivatives can flow
