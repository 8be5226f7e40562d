"""Matrix products (nerve/ops/linalg.py): matmul with every 1-D and batched case, and einsum."""
import numpy as np
import pytest

import nerve

from .opcheck import DTYPES, assert_close, check_grads, check_values, grads_of, leaf, sample

MATMUL_SHAPES = [
    ((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((5, 2, 3), (3,)),
    ((3,), (5, 3, 4)), ((5, 2, 3), (5, 3, 4)), ((2, 1, 2, 3), (5, 3, 4)), ((5, 2, 3), (3, 4)),
    ((1, 3), (2, 3, 1)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", MATMUL_SHAPES)
def test_matmul_values(shapes, dtype):
    arrays = [sample(shapes[0]), sample(shapes[1], seed=1)]
    check_values(nerve.matmul, np.matmul, arrays, dtype)
    check_values(lambda a, b: a @ b, np.matmul, arrays, dtype)


@pytest.mark.parametrize("shapes", MATMUL_SHAPES)
def test_matmul_gradients(shapes):
    check_grads(nerve.matmul, [sample(shapes[0], seed=2), sample(shapes[1], seed=3)])


def test_matmul_gradient_formula():
    a, b = sample((2, 3)), sample((3, 4), seed=1)
    ga, gb = grads_of(nerve.matmul, [a, b], seed=4)
    w = np.random.default_rng(4).standard_normal((2, 4))
    assert_close(ga, w @ b.T)
    assert_close(gb, a.T @ w)


@pytest.mark.parametrize("method", ["matmul", "mm", "dot", "bmm"])
def test_matmul_methods_and_numpy_operands(method):
    a, b = sample((2, 3)), sample((3, 2), seed=1)
    if method == "dot":
        a, b = a[0], b[:, 0]
    elif method == "bmm":
        a, b = a[None], b[None]
    assert_close(getattr(leaf(a), method)(leaf(b)), a @ b)
    reflected = a @ leaf(b)  # ndarray @ Tensor defers to Tensor.__rmatmul__
    assert isinstance(reflected, nerve.Tensor)
    assert_close(reflected, a @ b)
    assert_close(leaf(a) @ b, a @ b)


@pytest.mark.parametrize("shapes, match", [
    (((2, 3), (4, 5)), r"matmul: shapes \(2, 3\) and \(4, 5\) cannot be multiplied"),
    (((3,), (4,)), r"matmul: shapes \(3,\) and \(4,\)"),
    (((2, 3), (2,)), r"matmul: shapes \(2, 3\) and \(2,\)"),
    (((2, 2, 3), (3, 3, 4)), r"matmul: batch dimensions of shapes \(2, 2, 3\) and \(3, 3, 4\)"),
    (((), (3,)), r"matmul: both operands need at least 1 dimension.*\(\) and \(3,\)"),
])
def test_matmul_errors(shapes, match):
    a, b = leaf(np.ones(shapes[0])), leaf(np.ones(shapes[1]))
    with pytest.raises(RuntimeError, match=match):
        a @ b


# ---- einsum ---------------------------------------------------------------------------------
# equation -> (operand shapes, NumPy reference or None for np.einsum of the same equation)
EINSUM = {
    "ij,jk->ik": ([(2, 3), (3, 4)], None),
    "ij,jk": ([(2, 3), (3, 4)], None),
    "bij,bjk->bik": ([(2, 2, 3), (2, 3, 4)], None),
    "ij,kj->ik": ([(2, 3), (4, 3)], None),
    "i,j->ij": ([(2,), (3,)], None),
    "i,i": ([(3,), (3,)], None),
    "ij,ij->": ([(2, 3), (2, 3)], None),
    "ij->ji": ([(2, 3)], None),
    "ba": ([(2, 3)], None),
    "ij->": ([(2, 3)], None),
    "ijk->j": ([(2, 3, 4)], None),
    "ijk,kl->il": ([(2, 3, 4), (4, 2)], None),
    "ii->i": ([(3, 3)], None),
    "ii->": ([(3, 3)], None),
    "ii": ([(3, 3)], None),
    "iii->i": ([(2, 2, 2)], None),
    "iij->ji": ([(2, 2, 3)], None),
    "ii,ij->j": ([(3, 3), (3, 2)], None),
    "ij,jk,kl->il": ([(2, 3), (3, 4), (4, 2)], None),
    ",ij->ij": ([(), (2, 3)], None),
    "->": ([()], None),
    "...ij,...jk->...ik": ([(5, 1, 2, 3), (4, 3, 4)], None),
    "...ij,jk": ([(2, 2, 3), (3, 4)], None),
    "i...->...": ([(2, 3, 4)], None),
    "...,...": ([(2, 1), (3,)], None),
    "...i->i": ([(2, 3, 4)], lambda a: a.sum((0, 1))),  # omitted '...' is summed (torch)
    "b i j , b j -> b i": ([(2, 3, 4), (2, 4)], None),
}


def _einsum_reference(equation, arrays):
    ref = EINSUM[equation][1]
    return ref(*arrays) if ref else np.einsum(equation, *arrays)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("equation", EINSUM)
def test_einsum_values(equation, dtype):
    shapes = EINSUM[equation][0]
    arrays = [sample(s, seed=i) for i, s in enumerate(shapes)]
    check_values(lambda *xs: nerve.einsum(equation, *xs),
                 lambda *a: _einsum_reference(equation, a), arrays, dtype)


@pytest.mark.parametrize("equation", EINSUM)
def test_einsum_gradients(equation):
    """First and second derivatives (the backward of einsum is itself an einsum)."""
    shapes = EINSUM[equation][0]
    check_grads(lambda *xs: nerve.einsum(equation, *xs),
                [sample(s, seed=i + 5) for i, s in enumerate(shapes)])


def test_einsum_diagonal_gradients_are_placed_on_the_diagonal():
    a = sample((3, 3))
    (g,) = grads_of(lambda x: nerve.einsum("ii->i", x), [a], seed=1)
    assert_close(g, np.diag(np.random.default_rng(1).standard_normal(3)))
    (g,) = grads_of(lambda x: nerve.einsum("ii", x), [a])
    assert_close(g, np.eye(3))
    (g,) = grads_of(lambda x: nerve.einsum("ij->j", x), [sample((2, 3))])
    assert_close(g, np.ones((2, 3)))  # a letter summed away broadcasts back


def test_einsum_operand_forms():
    a, b = sample((2, 3)), sample((3, 4), seed=1)
    expected = a @ b
    assert_close(nerve.einsum("ij,jk->ik", [leaf(a), leaf(b)]), expected)
    assert_close(nerve.einsum("ij,jk->ik", a, leaf(b)), expected)  # NumPy constants
    x = leaf(a)
    nerve.einsum("ij,jk->ik", x, b).sum().backward()
    assert_close(x.grad, np.broadcast_to(b.sum(1), (2, 3)))
    assert nerve.ops.namespace.TENSOR_OPS.einsum is nerve.einsum


@pytest.mark.parametrize("equation, shapes, match", [
    ("ij,jk", [(2, 3)], "names 2 operand"),
    ("ij", [(2, 3), (3,)], "names 1 operand"),
    ("ij,jk->ik", [(2, 3), (4, 5)], "letter 'j' has size 3 in one place and 4"),
    ("ii->i", [(2, 3)], "letter 'i' has size 2 in one place and 3"),
    ("ijk", [(2, 3)], "subscripts 'ijk' name 3 dimension"),
    ("i", [(2, 3)], "subscripts 'i' name 1 dimension"),
    ("i...j", [(2,)], r"subscripts 'i...j' name 2 dimension"),
    ("i1", [(2, 3)], "must be letters"),
    ("......", [(2, 3)], "must be letters"),
    ("ij->ik", [(2, 3)], "output letter 'k' does not appear"),
    ("ij->ii", [(2, 3)], "output letter 'i' appears more than once"),
    ("i->j->k", [(2,)], "more than one '->'"),
    ("...i,...i", [(2, 3), (4, 3)], r"'\.\.\.' do not broadcast \(2 vs 4\)"),
])
def test_einsum_errors_name_equation_and_shapes(equation, shapes, match):
    ops = [leaf(np.ones(s)) for s in shapes]
    with pytest.raises(ValueError, match=match) as info:
        nerve.einsum(equation, *ops)
    assert repr(equation) in str(info.value) and str(shapes) in str(info.value)


def test_einsum_equation_must_be_a_string():
    with pytest.raises(TypeError, match="einsum: equation must be a string"):
        nerve.einsum(leaf(np.ones(2)), leaf(np.ones(2)))
