"""The backward engine (nerve/autograd/engine.py) and grad mode (nerve/autograd/grad_mode.py):
leaf semantics, accumulation, hooks, retain_graph, ``inputs=``, ``autograd.grad``, deep and
diamond graphs, all checked against hand-derived NumPy values (PyTorch's semantics)."""
import numpy as np
import pytest

import nerve
from nerve.autograd import grad


def leaf(values, dtype=np.float64):
    return nerve.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def values(t):
    return t.detach().numpy()


# ---- leaves, non-leaves and .grad -----------------------------------------------------------
def test_leaf_and_non_leaf_flags():
    x = leaf([1.0, 2.0])
    c = nerve.tensor([3.0, 4.0])
    y = x * c
    assert x.is_leaf and x.requires_grad and x.grad_fn is None
    assert c.is_leaf and not c.requires_grad
    assert not y.is_leaf and y.requires_grad and y.grad_fn is not None
    z = c * 2  # no input requires grad: a leaf that does not require grad, as in PyTorch
    assert z.is_leaf and not z.requires_grad and z.grad_fn is None


def test_grad_only_on_leaves_unless_retained():
    x = leaf([1.0, 2.0])
    y = x * 3
    w = x * 5
    w.retain_grad()
    (y * y + w).sum().backward()
    np.testing.assert_allclose(values(x.grad), 18 * np.array([1.0, 2.0]) + 5)
    assert y.grad is None
    np.testing.assert_allclose(values(w.grad), [1.0, 1.0])
    assert x.grad.grad_fn is None and not x.grad.requires_grad


def test_gradients_accumulate_across_backward_calls_and_reset_with_none():
    x = leaf([1.0, -2.0])
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(values(x.grad), 2 * np.array([1.0, -2.0]) + 3)
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(values(x.grad), [3.0, 3.0])


def test_grad_owns_its_array():
    # sum's gradient is a broadcast view and Add hands one array to both inputs; each .grad
    # must still be a writable array of its own
    x, a, b = leaf([1.0, 2.0]), leaf([1.0]), leaf([2.0])
    x.sum().backward()
    (a + b).sum().backward()
    for t in (x, a, b):
        arr = t.grad.numpy()
        assert arr.flags.writeable and arr.flags.c_contiguous
    a.grad.numpy()[0] = 10.0
    np.testing.assert_allclose(values(b.grad), [1.0])
    seed = nerve.tensor([5.0, 6.0], dtype=nerve.float64)
    c = leaf([0.0, 0.0])
    (c + 0).backward(gradient=seed)  # the caller's gradient is copied, not adopted
    c.grad.numpy()[0] = -1.0
    np.testing.assert_allclose(values(seed), [5.0, 6.0])


def test_diamond_graph_accumulates_both_paths():
    x = leaf([0.5, -1.5])
    a = x * 2  # x feeds two branches that meet again
    y = (a.sin() * a.cos() + a * x).sum()
    y.backward()
    xv = np.array([0.5, -1.5])
    av = 2 * xv
    expected = 2 * np.cos(2 * av) + 2 * xv + av  # d/dx [sin(a)cos(a) + a x], a = 2x
    np.testing.assert_allclose(values(x.grad), expected)


def test_same_tensor_twice_in_one_op():
    x = leaf([3.0])
    (x * x * x).sum().backward()
    np.testing.assert_allclose(values(x.grad), [27.0])


# ---- non-scalar outputs and retain_graph -------------------------------------------------------
def test_backward_of_non_scalar_needs_a_gradient():
    x = leaf([1.0, 2.0])
    y = x * x
    with pytest.raises(RuntimeError, match="scalar outputs"):
        y.backward()
    y.backward(gradient=nerve.tensor([1.0, 0.5], dtype=nerve.float64))
    np.testing.assert_allclose(values(x.grad), [2.0, 2.0])


def test_gradient_of_wrong_shape_is_rejected():
    y = leaf([1.0, 2.0]) * 2
    with pytest.raises(RuntimeError, match=r"shape \(3,\)"):
        y.backward(gradient=nerve.ones(3, dtype=nerve.float64))


def test_second_backward_through_freed_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x.sin() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (x.sin() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    xv = np.array([1.0, 2.0])
    np.testing.assert_allclose(values(x.grad), 2 * (np.cos(xv) * xv + np.sin(xv)))


def test_backward_without_requires_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (nerve.tensor([1.0]) * 2).sum().backward()


# ---- backward(inputs=...) and autograd.grad -------------------------------------------------
def test_backward_inputs_accumulates_only_into_those():
    a, b = leaf([2.0]), leaf([3.0])
    m = a * b
    (m * a).sum().backward(inputs=[a])
    np.testing.assert_allclose(values(a.grad), [2 * 2.0 * 3.0])
    assert b.grad is None


def test_backward_inputs_may_name_a_non_leaf():
    a, b = leaf([2.0]), leaf([3.0])
    m = a * b
    (m * m).sum().backward(inputs=m)
    np.testing.assert_allclose(values(m.grad), [12.0])
    assert a.grad is None and b.grad is None


@pytest.mark.parametrize("inputs, match", [([], "cannot be empty"),
                                           ([nerve.tensor([1.0])], "requires grad")])
def test_backward_inputs_errors(inputs, match):
    with pytest.raises(RuntimeError, match=match):
        (leaf([1.0]) * 2).sum().backward(inputs=inputs)


def test_grad_returns_without_accumulating():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    gx, gy = grad((x * y).sum(), [x, y])
    np.testing.assert_allclose(values(gx), [3.0, 4.0])
    np.testing.assert_allclose(values(gy), [1.0, 2.0])
    assert x.grad is None and y.grad is None


def test_grad_unused_input_errors_unless_allowed():
    x, unused = leaf([1.0]), leaf([5.0])
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        grad((x * 2).sum(), [x, unused])
    gx, gu = grad((x * 2).sum(), [x, unused], allow_unused=True)
    np.testing.assert_allclose(values(gx), [2.0])
    assert gu is None


def test_grad_of_intermediate_tensor():
    x = leaf([1.0, 2.0])
    h = x * 3
    (gh,) = grad((h * h).sum(), [h])
    np.testing.assert_allclose(values(gh), [6.0, 12.0])


def test_grad_without_create_graph_records_nothing():
    x = leaf([1.0, 2.0])
    (gx,) = grad((x * x * x).sum(), [x])
    assert gx.grad_fn is None and not gx.requires_grad
    np.testing.assert_allclose(values(gx), [3.0, 12.0])


def test_grad_with_create_graph_is_differentiable():
    x = leaf([1.0, 2.0])
    (gx,) = grad((x * x * x).sum(), [x], create_graph=True)
    assert gx.requires_grad and gx.grad_fn is not None
    (ggx,) = grad(gx.sum(), [x])
    np.testing.assert_allclose(values(ggx), [6.0, 12.0])


# ---- hooks ----------------------------------------------------------------------------------
def test_leaf_hook_modifies_gradient_and_can_be_removed():
    x = leaf([1.0, 2.0])
    seen = []
    handle = x.register_hook(lambda g: (seen.append(values(g).copy()), g * 10)[1])
    (x * x).sum().backward()
    np.testing.assert_allclose(seen[0], [2.0, 4.0])
    np.testing.assert_allclose(values(x.grad), [20.0, 40.0])
    handle.remove()
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(values(x.grad), [2.0, 4.0])
    assert len(seen) == 1


def test_non_leaf_hook_changes_what_flows_upstream():
    x = leaf([1.0, 2.0])
    y = x * 3
    handle = y.register_hook(lambda g: g * 2)
    (y * y).sum().backward()
    np.testing.assert_allclose(values(x.grad), 3 * 2 * 2 * 3 * np.array([1.0, 2.0]))
    handle.remove()
    x.grad = None
    y = x * 3
    (y * y).sum().backward()
    np.testing.assert_allclose(values(x.grad), 18 * np.array([1.0, 2.0]))


def test_grad_runs_hooks_of_its_inputs_only():
    x, w = leaf([1.0]), leaf([2.0])
    calls = []
    x.register_hook(lambda g: calls.append("x"))
    w.register_hook(lambda g: calls.append("w"))
    grad((x * w).sum(), [x])
    assert calls == ["x"]
    (x * w).sum().backward()
    assert sorted(calls) == ["w", "x", "x"]


def test_hook_returning_none_leaves_gradient_unchanged():
    x = leaf([1.0])
    x.register_hook(lambda g: None)
    (x * 4).sum().backward()
    np.testing.assert_allclose(values(x.grad), [4.0])


def test_retain_grad_sees_gradient_after_other_hooks():
    x = leaf([1.0, 2.0])
    y = x * 3
    y.retain_grad()
    y.register_hook(lambda g: g * 2)  # registered after retain_grad, still runs before it
    (y * y).sum().backward()
    np.testing.assert_allclose(values(y.grad), 2 * 2 * np.array([3.0, 6.0]))


def test_retain_grad_accumulates_and_is_a_copy():
    x = leaf([1.0])
    y = x + 0
    y.retain_grad()
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    np.testing.assert_allclose(values(y.grad), [2.0])
    np.testing.assert_allclose(values(x.grad), [2.0])
    assert y.grad.data is not x.grad.data


def test_hooks_need_requires_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        nerve.tensor([1.0]).register_hook(lambda g: g)
    with pytest.raises(RuntimeError, match="does not require grad"):
        nerve.tensor([1.0]).retain_grad()


def test_hook_must_return_tensor_or_none():
    x = leaf([1.0])
    x.register_hook(lambda g: 3.0)
    with pytest.raises(TypeError, match="must return a Tensor or None"):
        (x * 2).sum().backward()


# ---- deep graphs ----------------------------------------------------------------------------
def test_chain_of_100k_ops_backpropagates_iteratively():
    x = leaf([0.5])
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.sum().backward()  # a recursive engine would exceed Python's recursion limit here
    np.testing.assert_allclose(values(x.grad), [1.0])


def test_deep_graph_dropped_without_backward_is_freed():
    import gc
    import weakref

    x = leaf([0.5])
    y = x * 1.0
    first = weakref.ref(y)  # kept alive only by the graph above it
    for _ in range(100_000):
        y = y * 1.0
    node = weakref.ref(y.grad_fn)
    assert first() is not None
    del y  # a recursive teardown of 100,000 nested nodes would crash the interpreter
    gc.collect()
    assert first() is None and node() is None


# ---- grad mode ------------------------------------------------------------------------------
def test_no_grad_records_nothing():
    x = leaf([1.0, 2.0])
    with nerve.no_grad():
        y = x * 2
        assert not nerve.is_grad_enabled()
    assert nerve.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    np.testing.assert_allclose(values(y), [2.0, 4.0])


def test_enable_grad_inside_no_grad():
    x = leaf([1.0])
    with nerve.no_grad():
        with nerve.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and y.grad_fn is not None
    assert not z.requires_grad


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with nerve.no_grad():
            raise ValueError
    assert nerve.is_grad_enabled()


@pytest.mark.parametrize("mode", [False, True])
def test_set_grad_enabled_as_context_manager(mode):
    x = leaf([1.0])
    with nerve.no_grad():
        with nerve.set_grad_enabled(mode):
            y = x * 2
            assert nerve.is_grad_enabled() is mode
        assert not nerve.is_grad_enabled()
    assert y.requires_grad is mode


def test_set_grad_enabled_as_call_takes_effect_at_once():
    try:
        nerve.set_grad_enabled(False)
        assert not nerve.is_grad_enabled()
        assert not (leaf([1.0]) * 2).requires_grad
    finally:
        nerve.set_grad_enabled(True)
    assert nerve.is_grad_enabled()


@pytest.mark.parametrize("decorator, mode", [(lambda: nerve.set_grad_enabled(False), False),
                                             (lambda: nerve.no_grad(), False),
                                             (lambda: nerve.enable_grad(), True)])
def test_grad_mode_decorators(decorator, mode):
    @decorator()
    def double(t, depth=0):
        return double(t, depth - 1) if depth else (t * 2, nerve.is_grad_enabled())

    assert nerve.is_grad_enabled()  # decorating changes nothing
    x = leaf([1.0])
    with nerve.set_grad_enabled(not mode):
        y, enabled = double(x, depth=2)
        assert nerve.is_grad_enabled() is not mode
    assert enabled is mode and y.requires_grad is mode
    assert nerve.is_grad_enabled()
