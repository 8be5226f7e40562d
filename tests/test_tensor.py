"""The Tensor data model (nerve/autograd/tensor.py) and its in-place methods
(nerve/ops/methods.py): requires_grad rules, detach, conversions, and in-place updates that are
allowed only where no graph records them."""
import numpy as np
import pytest

import nerve


def leaf(values):
    return nerve.tensor(np.asarray(values, dtype=np.float32), requires_grad=True)


# ---- requires_grad ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [nerve.int64, nerve.int32, nerve.bool])
def test_requires_grad_on_integer_tensor_raises(dtype):
    t = nerve.zeros(2, dtype=dtype)
    with pytest.raises(RuntimeError, match="floating"):
        t.requires_grad_()
    with pytest.raises(RuntimeError, match="floating"):
        t.requires_grad = True
    assert not t.requires_grad


def test_requires_grad_on_non_leaf():
    y = leaf([1.0]) * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)
    assert y.requires_grad_(True) is y  # asking for what is already true is fine


def test_requires_grad_toggles_on_a_leaf():
    t = nerve.tensor([1.0])
    assert t.requires_grad_() is t and t.requires_grad
    t.requires_grad = False
    assert not t.requires_grad and not (t * 2).requires_grad


def test_requires_grad_propagates_through_ops():
    a, b = leaf([1.0]), nerve.tensor([2.0])
    assert (a + b).requires_grad and (b * a).requires_grad
    assert not (b * b).requires_grad
    assert not (a > b).requires_grad  # comparisons are not differentiable


# ---- detach, conversions ----------------------------------------------------------------------
def test_detach_shares_data_and_cuts_the_graph():
    x = leaf([1.0, 2.0])
    y = x * 2
    d = y.detach()
    assert d.data is y.data and not d.requires_grad and d.grad_fn is None and d.is_leaf
    (d * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])  # d counts as a constant


def test_detach_in_place():
    y = leaf([1.0]) * 2
    assert y.detach_() is y
    assert y.is_leaf and not y.requires_grad


def test_item():
    assert nerve.tensor(3.5).item() == 3.5 and isinstance(nerve.tensor(3.5).item(), float)
    assert nerve.tensor([7]).item() == 7 and isinstance(nerve.tensor([7]).item(), int)
    assert leaf([2.0]).item() == 2.0  # allowed on tensors that require grad
    with pytest.raises(ValueError, match="one element"):
        nerve.tensor([1.0, 2.0]).item()


def test_numpy_refuses_tensors_that_require_grad():
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        x.numpy()
    np.testing.assert_array_equal(x.detach().numpy(), [1.0])
    np.testing.assert_array_equal(x.numpy(force=True), [1.0])


def test_python_conversions():
    t = nerve.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert len(t) == 2 and [r.tolist() for r in t] == [[1.0, 2.0], [3.0, 4.0]]
    assert float(nerve.tensor(2.5)) == 2.5 and int(nerve.tensor(3)) == 3
    assert bool(nerve.tensor([1.0])) and not bool(nerve.tensor(0.0))
    assert [10, 20, 30][nerve.tensor(1)] == 20
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(t)
    with pytest.raises(TypeError):
        len(nerve.tensor(1.0))


def test_shape_facts():
    t = nerve.zeros(2, 3, dtype=nerve.float64)
    assert t.shape == (2, 3) and t.ndim == 2 and t.dim() == 2
    assert t.size() == (2, 3) and t.size(1) == 3 and t.numel() == 6 and t.element_size() == 8


def test_repr():
    assert repr(nerve.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "requires_grad=True" in repr(leaf([1.0]))
    assert "grad_fn=<MulBackward>" in repr(leaf([1.0]) * 2)
    assert "dtype=nerve.float64" in repr(nerve.tensor([1.0], dtype=nerve.float64))


def test_numpy_arrays_on_the_left_defer_to_tensor():
    x = leaf([1.0, 2.0])
    y = np.array([3.0, 4.0], dtype=np.float32) * x
    assert isinstance(y, nerve.Tensor) and y.requires_grad
    np.testing.assert_allclose(y.detach().numpy(), [3.0, 8.0])


# ---- in-place methods --------------------------------------------------------------------------
INPLACE = [
    ("add_", (nerve.tensor([1.0, 1.0]),), [2.0, 3.0]),
    ("add_", (2.0,), [3.0, 4.0]),
    ("sub_", (0.5,), [0.5, 1.5]),
    ("mul_", (3.0,), [3.0, 6.0]),
    ("div_", (2.0,), [0.5, 1.0]),
    ("zero_", (), [0.0, 0.0]),
    ("fill_", (7.0,), [7.0, 7.0]),
    ("copy_", (nerve.tensor([5.0, 6.0]),), [5.0, 6.0]),
    ("clamp_", (1.5,), [1.5, 2.0]),
]


@pytest.mark.parametrize("name, args, expected", INPLACE)
def test_inplace_methods(name, args, expected):
    t = nerve.tensor([1.0, 2.0])
    assert getattr(t, name)(*args) is t
    assert t.dtype == nerve.float32
    np.testing.assert_allclose(t.numpy(), expected)


@pytest.mark.parametrize("name, args, expected", INPLACE)
def test_inplace_on_leaf_needing_grad_works_under_no_grad(name, args, expected):
    x = leaf([1.0, 2.0])
    with nerve.no_grad():
        getattr(x, name)(*args)
    assert x.requires_grad and x.is_leaf
    np.testing.assert_allclose(x.detach().numpy(), expected)


@pytest.mark.parametrize("name, args, expected", INPLACE)
def test_inplace_on_leaf_needing_grad_raises_in_grad_mode(name, args, expected):
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=f"{name}: in-place operation on a leaf"):
        getattr(x, name)(*args)
    np.testing.assert_array_equal(x.detach().numpy(), [1.0, 2.0])  # unchanged


def test_inplace_on_graph_tensor_raises():
    y = leaf([1.0]) * 2
    with pytest.raises(RuntimeError, match="part of a graph"):
        y.add_(1.0)


def test_inplace_cannot_change_shape():
    t = nerve.zeros(2)
    with pytest.raises(RuntimeError, match=r"shape \(3, 2\)"):
        t.add_(nerve.ones(3, 2))
    np.testing.assert_array_equal(t.numpy(), [0.0, 0.0])


def test_inplace_keeps_dtype():
    t = nerve.tensor([1, 2])
    t.mul_(2.7)
    assert t.dtype == nerve.int64
    np.testing.assert_array_equal(t.numpy(), [2, 5])


def test_setitem():
    t = nerve.zeros(2, 3)
    t[0] = 1.0
    t[1, 1:] = nerve.tensor([2.0, 3.0])
    np.testing.assert_array_equal(t.numpy(), [[1, 1, 1], [0, 2, 3]])
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="__setitem__"):
        x[0] = 5.0
    with nerve.no_grad():
        x[0] = 5.0
    np.testing.assert_array_equal(x.detach().numpy(), [5.0, 2.0])


def test_inplace_does_not_disturb_recorded_graph():
    # in-place updates rebind the tensor's array (copy-on-write), so a graph that saved the
    # old values still differentiates correctly: what an optimizer step needs
    w = leaf([2.0])
    loss = (w * w).sum()
    with nerve.no_grad():
        w.sub_(1.0)
    loss.backward()
    np.testing.assert_allclose(w.grad.numpy(), [4.0])
    np.testing.assert_allclose(w.detach().numpy(), [1.0])


def test_parameter_update_loop():
    w = leaf([0.0])
    for _ in range(50):
        loss = ((w - 3.0) ** 2).sum()
        loss.backward()
        with nerve.no_grad():
            w.sub_(w.grad * 0.1)
        w.grad = None
    np.testing.assert_allclose(w.detach().numpy(), [3.0], atol=1e-3)
