"""What the graph keeps alive: saved arrays are released by backward (kept with
retain_graph=True until the root goes), and nothing at all is recorded under no_grad."""
import gc
import weakref

import numpy as np
import pytest

import nerve
from nerve.autograd import Function, grad

STEPS = 1_000


def build_chain(x, steps=STEPS):
    """``steps`` ops (alternating sin and mul), with weak references to every intermediate
    tensor and to the arrays that the nodes saved (other than ``x``'s own)."""
    tensors, arrays = [], []
    y = x
    for i in range(steps):
        y = y * 0.5 if i % 2 else y.sin()
        tensors.append(weakref.ref(y))
        arrays.extend(weakref.ref(a) for a in y.grad_fn.saved
                      if isinstance(a, np.ndarray) and a is not x.data)  # x itself stays
    return y, tensors[:-1], arrays


def alive(refs):
    return sum(r() is not None for r in refs)


def function_count():
    gc.collect()
    return sum(isinstance(o, Function) for o in gc.get_objects())


def test_backward_releases_saved_arrays_and_intermediates():
    x = nerve.randn(4, requires_grad=True)
    y, tensors, arrays = build_chain(x)
    assert alive(tensors) == len(tensors) > 0  # the graph keeps them before backward
    assert alive(arrays) == len(arrays) > 0
    y.sum().backward()
    # y (still held) and its node remain, but the node no longer holds the saved arrays
    assert y.grad_fn is not None
    assert alive(tensors) == 0
    assert alive(arrays) == 0
    assert x.grad is not None


def test_retain_graph_keeps_graph_until_root_is_dropped():
    x = nerve.randn(4, requires_grad=True)
    y, tensors, arrays = build_chain(x)
    loss = y.sum()
    loss.backward(retain_graph=True)
    assert alive(tensors) == len(tensors) and alive(arrays) == len(arrays)
    first = x.grad.numpy().copy()
    loss.backward()  # possible only because the graph was kept
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-6)
    assert alive(arrays) == 0
    x.grad = None
    y, tensors, arrays = build_chain(x)
    loss = y.sum()
    loss.backward(retain_graph=True)
    del y, loss
    assert alive(tensors) == 0 and alive(arrays) == 0  # plain reference counting, no cycles


def test_autograd_grad_releases_graph():
    x = nerve.randn(4, requires_grad=True)
    y, tensors, arrays = build_chain(x)
    grad(y.sum(), x)
    assert alive(tensors) == 0 and alive(arrays) == 0


def test_dropping_graph_without_backward_frees_it():
    x = nerve.randn(4, requires_grad=True)
    y, tensors, arrays = build_chain(x)
    del y
    assert alive(tensors) == 0 and alive(arrays) == 0


def test_no_grad_keeps_no_nodes():
    x = nerve.randn(4, requires_grad=True)
    before = function_count()
    with nerve.no_grad():
        outs = [(x * 2).sin() for _ in range(50)]
    assert all(o.grad_fn is None for o in outs)
    assert function_count() == before
    recorded = [(x * 2).sin() for _ in range(50)]  # the same ops with grad mode on do keep nodes
    assert function_count() >= before + 100
    del recorded


@pytest.mark.parametrize("retain_graph", [False, True])
def test_leaf_keeps_only_its_grad(retain_graph):
    # after backward a leaf holds its .grad and nothing that leads back into the graph
    x = nerve.randn(3, requires_grad=True)
    y, tensors, _ = build_chain(x, steps=10)
    y.sum().backward(retain_graph=retain_graph)
    del y
    assert alive(tensors) == 0
    assert x.grad.grad_fn is None
