"""The backward engine: iterative reverse topological order, gradient accumulation, freeing.

Gradients are plain arrays during a first-order backward (``create_graph=False``), so nothing
is recorded and no Tensor objects are made; with ``create_graph=True`` they are Tensors and
every rule runs through the Tensor namespace, recording a differentiable graph.
"""
from __future__ import annotations

import numpy

from . import grad_mode
from .tensor import Tensor

ARRAY_NAMESPACES: dict = {}  # xp module -> namespace of array ops, filled by nerve.ops
TENSOR_NAMESPACE = None  # namespace of Tensor ops, filled by nerve.ops

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or to use its saved values after "
    "they were freed). Saved values are freed by .backward() and autograd.grad(); pass "
    "retain_graph=True to the first call if you need to backward through the graph again.")


def backward(tensor: Tensor, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """``tensor.backward(...)``: accumulate gradients into the leaves' ``.grad``."""
    if not tensor._rg:
        raise RuntimeError("backward: the tensor does not require grad and has no grad_fn; "
                           "did you forget requires_grad=True, or run under no_grad()?")
    seed = _seed_gradient("backward", tensor, gradient, create_graph)
    retain = create_graph if retain_graph is None else retain_graph
    if inputs is None:
        run_backward([tensor], [seed], retain, create_graph)
        return
    # only ``inputs`` (leaves or not) get .grad, and only the nodes leading to them run
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if not inputs:
        raise RuntimeError("backward: `inputs` cannot be empty; pass None to accumulate into "
                           "every leaf")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t._rg:
            raise RuntimeError(f"backward: inputs[{i}] is not a tensor that requires grad")
    found = run_backward([tensor], [seed], retain, create_graph, targets=inputs)
    handed = set()
    for t in inputs:
        g = found.pop(id(t), None)
        if g is not None:
            _accumulate_leaf(t, g, create_graph, handed)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned (not accumulated).

    >>> import nerve
    >>> x = nerve.tensor(3.0, requires_grad=True)
    >>> nerve.autograd.grad(x ** 2, x)
    (tensor(6.),)
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t._rg:
            raise RuntimeError(f"grad: input {i} does not require grad")
    seeds, roots = [], []
    for out, g in zip(outputs, grad_outputs):
        if not out._rg:
            raise RuntimeError("grad: an output does not require grad and has no grad_fn")
        roots.append(out)
        seeds.append(_seed_gradient("grad", out, g, create_graph))
    retain = create_graph if retain_graph is None else retain_graph
    found = run_backward(roots, seeds, retain, create_graph, targets=inputs)
    result = []
    for i, t in enumerate(inputs):
        g = found.get(id(t))
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"grad: input {i} (shape {tuple(t.shape)}) was not used to "
                                   "compute the outputs; pass allow_unused=True to get None")
            result.append(None)
        else:
            result.append(g if isinstance(g, Tensor) else Tensor._make(_as_array(g), None))
    return tuple(result)


def _seed_gradient(where, tensor, gradient, create_graph):
    data = tensor.data
    if gradient is None:
        if data.size != 1:
            raise RuntimeError(
                f"{where}: gradient can be implicitly created only for scalar outputs, but the "
                f"output has shape {tuple(data.shape)}; pass gradient=<tensor of that shape>")
        g = data.__array_namespace__().ones_like(data) if hasattr(
            data, "__array_namespace__") else numpy.ones_like(data)
        return Tensor._make(g, None) if create_graph else g
    if not isinstance(gradient, Tensor):
        gradient = Tensor(numpy.asarray(gradient, dtype=data.dtype))
    if gradient.shape != data.shape:
        raise RuntimeError(f"{where}: gradient has shape {tuple(gradient.shape)} but the output "
                           f"has shape {tuple(data.shape)}; they must match")
    if type(gradient.data) is not type(data):
        raise RuntimeError(f"{where}: gradient is on {gradient.device} but the output is on "
                           f"{tensor.device}")
    return gradient if create_graph else gradient.data


def topological_order(nodes):
    """Nodes reachable from ``nodes``, each after every node that consumes it (no recursion)."""
    order, visited = [], set()
    stack = [(n, False) for n in nodes]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        if node.inputs is None:
            raise RuntimeError(FREED_MESSAGE)
        stack.append((node, True))
        for t in node.inputs:
            if isinstance(t, Tensor):
                fn = t.grad_fn
                if fn is not None and fn not in visited:
                    stack.append((fn, False))
    order.reverse()
    return order


def unbroadcast(g, shape):
    """Sum a broadcast gradient back to ``shape`` (the one place broadcasting is undone)."""
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    if lead:
        g = g.reshape(shape)
    return g


def run_backward(roots, seeds, retain_graph, create_graph, targets=None):
    """Propagate ``seeds`` from ``roots``. With ``targets``, return {id(tensor): grad} for
    them and touch no ``.grad``; otherwise accumulate into every leaf's ``.grad``."""
    pending = {}  # node -> summed gradient of its output
    at_leaves = {}  # id(leaf) -> [leaf, summed gradient]: hooks see the total, once
    target_ids = {id(t) for t in targets} if targets is not None else None
    target_nodes = {t.grad_fn: id(t) for t in targets or () if t.grad_fn is not None}
    found = {}

    def send(t, g):
        fn = t.grad_fn
        if fn is None:
            entry = at_leaves.get(id(t))
            if entry is None:
                at_leaves[id(t)] = [t, g]
            else:
                entry[1] = entry[1] + g
        else:
            prev = pending.get(fn)
            pending[fn] = g if prev is None else prev + g

    with grad_mode.set_grad_enabled(create_graph):
        for root, g in zip(roots, seeds):
            send(root, g)
        order = topological_order(list(pending))
        needed = _needed_nodes(order, target_ids, target_nodes) if targets is not None else None
        for node in order:
            g = pending.pop(node, None)
            if g is not None and (needed is None or node in needed):
                if node.hooks:
                    g = _run_hooks(node.hooks, g, create_graph)
                if node in target_nodes:
                    found[target_nodes[node]] = g
                if create_graph:
                    in_grads = _backward_on_tensors(node, g, TENSOR_NAMESPACE)
                else:
                    in_grads = node.backward(ARRAY_NAMESPACES[node.xp], g)
                if type(in_grads) is not tuple:
                    in_grads = (in_grads,)
                for t, ig in zip(node.inputs, in_grads):
                    if ig is not None and isinstance(t, Tensor) and t._rg:
                        if ig.shape != t.data.shape:
                            ig = unbroadcast(ig, t.data.shape)
                        if ig.dtype != t.data.dtype:  # as torch: a gradient has its tensor's dtype
                            ig = ig.to(t.data.dtype) if create_graph else ig.astype(t.data.dtype)
                        send(t, ig)
            if not retain_graph:
                node.inputs = None
                node.saved = ()
                node.out = None
        handed = {id(s) for s in seeds}  # arrays a .grad must not share (see _accumulate_leaf)
        for t, g in at_leaves.values():
            if target_ids is not None and id(t) not in target_ids:
                continue  # autograd.grad: other leaves get nothing, their hooks do not run
            if t._hooks:
                g = _run_hooks(t._hooks, g, create_graph)
            if target_ids is None:
                _accumulate_leaf(t, g, create_graph, handed)
            else:
                found[id(t)] = g
    return found


def _needed_nodes(order, target_ids, target_nodes):
    """Nodes through which some gradient reaches a target (the rest are skipped)."""
    needed = set(target_nodes)
    for node in reversed(order):  # inputs before consumers
        for t in node.inputs:
            if isinstance(t, Tensor) and t._rg and (
                    id(t) in target_ids or t.grad_fn in needed):
                needed.add(node)
                break
    return needed


def _run_hooks(hooks, g, create_graph):
    for hook in list(hooks):
        result = hook(g if create_graph else Tensor._make(g, None))
        if result is not None:
            if not isinstance(result, Tensor):
                raise TypeError(f"hook {hook!r} must return a Tensor or None, got "
                                f"{type(result).__name__}")
            g = result if create_graph else result.data
    return g


def _accumulate_leaf(t, g, create_graph, handed):
    """Add ``g`` into ``t.grad``. A new ``.grad`` owns its array: views (a broadcast seed, a
    reshape) and arrays already handed elsewhere (``handed``: the ids of seeds and of arrays
    given to other leaves, e.g. Add's one ``g`` for both inputs) are copied, fresh results kept."""
    if create_graph:
        if not isinstance(g, Tensor):
            g = Tensor._make(g, None)
        t.grad = g if t.grad is None else t.grad + g
        return
    if g.dtype != t.data.dtype:
        g = g.astype(t.data.dtype)
    if t.grad is None:
        if g.base is not None or id(g) in handed:
            g = g.copy()
        handed.add(id(g))
        t.grad = Tensor._make(_as_array(g), None)
    elif t.grad._rg:  # a grad kept from an earlier create_graph backward
        t.grad = t.grad.detach() + Tensor._make(g, None)
    else:
        t.grad.data = t.grad.data + g


def _as_array(g):
    """NumPy turns 0-d results into scalars; tensors always hold arrays."""
    return numpy.asarray(g) if isinstance(g, numpy.generic) else g


def _backward_on_tensors(node, g, tensor_ns):
    """Run ``node.backward`` on Tensors: inputs and output become graph tensors, other saved
    arrays constants, so the gradient it returns is differentiable."""
    inputs = node.inputs
    out_tensor = None

    def lift(value):
        nonlocal out_tensor
        if not hasattr(value, "__array_namespace__") or isinstance(value, numpy.generic):
            return value
        for t in inputs:
            if isinstance(t, Tensor) and t.data is value:
                return t
        if value is node.out:
            if out_tensor is None:
                out_tensor = Tensor._make(node.out, node)
            return out_tensor
        return Tensor._make(value, None)

    saved = node.saved
    node.saved = tuple(lift(s) for s in saved)
    try:
        return node.backward(tensor_ns, g)
    finally:
        node.saved = saved
