"""nerve's autograd against PyTorch's: higher derivatives, accumulation, retain_grad, hooks.

Each scenario is written once as ``scenario(M, *leaves)``, where ``M`` is ``nerve`` or
``torch``; ``both`` runs it on each with the same float64 leaves and compares every tensor it
returns (values of gradients, Hessian-vector products, ``.grad`` fields).
"""
from __future__ import annotations

import numpy as np
import pytest

import nerve
import nerve.nn.functional  # noqa: F401  (makes nerve.nn.functional an attribute, as torch's)

torch = pytest.importorskip(
    "torch", reason="PyTorch is not installed: the reference suite compares nerve with it")


def _flatten(out):
    if isinstance(out, (tuple, list)):
        return [leaf for item in out for leaf in _flatten(item)]
    return [out]


def both(scenario, shapes, *, low=-1.0, high=1.0, seed=0, rtol=1e-9, atol=1e-11):
    """Run ``scenario`` on nerve and torch with the same leaves; compare what it returns."""
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(low, high, size=s) for s in shapes]
    results = {}
    for M in (nerve, torch):
        leaves = [M.tensor(a, requires_grad=True) for a in arrays]
        results[M] = _flatten(scenario(M, *leaves))
    assert len(results[nerve]) == len(results[torch])
    for i, (n, t) in enumerate(zip(results[nerve], results[torch])):
        assert (n is None) == (t is None), f"result {i}: nerve {n}, torch {t}"
        if t is not None:
            assert tuple(n.shape) == tuple(t.shape), f"result {i}: {n.shape} != {t.shape}"
            np.testing.assert_allclose(n.detach().numpy(), t.detach().numpy(), rtol, atol,
                                       err_msg=f"result {i}")


# ---- second (and third) derivatives -------------------------------------------------------
def _vector_products(M, fn, xs, vs, order):
    """Gradients of fn(*xs), then ``order - 1`` times the gradient of <previous, vs>."""
    results = []
    current = fn(M, *xs)
    for _ in range(order):
        grads = M.autograd.grad(current, xs, create_graph=True, allow_unused=True)
        grads = [M.zeros_like(x) if g is None else g for x, g in zip(xs, grads)]
        results += grads
        current = sum((g * v).sum() for g, v in zip(grads, vs))
    return results


COMPOSITES = {  # name -> (function of the leaves, their shapes)
    "tanh_matmul": (lambda M, x, w: M.tanh(x @ w).sum(), [(3, 4), (4, 2)]),
    "softmax_log": (lambda M, x, c: (x.softmax(-1).log() * c).sum(), [(3, 4), (3, 4)]),
    "log_softmax_matmul": (lambda M, x, w, c: ((x @ w).log_softmax(1) * c).sum(),
                           [(3, 4), (4, 5), (3, 5)]),
    "sigmoid_chain": (lambda M, x, y: M.sigmoid(M.sigmoid(x) * y + x).sum(), [(2, 3), (2, 3)]),
    "exp_div": (lambda M, x: (x.exp() / (1 + x * x)).sum(), [(5,)]),
    "pow_tensor": (lambda M, x, y: ((x + 2) ** y).sum(), [(4,), (4,)]),
    "logsumexp_mean": (lambda M, x: x.logsumexp(1).mean() * x.mean(), [(3, 4)]),
    "var_std": (lambda M, x: (x.var(1) * x.std(0).sum()).sum(), [(3, 4)]),
    "gelu_softplus": (lambda M, x: (M.nn.functional.gelu(x) * M.nn.functional.softplus(
        x, beta=2.0)).sum(), [(6,)]),
    "gelu_tanh_elu": (lambda M, x: (M.nn.functional.gelu(x, approximate="tanh") ** 2).sum()
                      + M.nn.functional.elu(x).sum(), [(6,)]),
    "mlp": (lambda M, x, w1, w2: (M.relu(x @ w1) @ w2).sin().sum(),
            [(3, 4), (4, 5), (5, 2)]),
    "matvec_batched": (lambda M, x, v: (x @ v).tanh().sum(), [(2, 3, 4), (4,)]),
    "indexing": (lambda M, x: (x[:, [0, 0, 2]] ** 2).sum() + x[1:, ::2].exp().sum(),
                 [(3, 4)]),
    "gather_cumsum": (lambda M, x: (x.gather(1, M.tensor([[0, 0], [3, 1]])) ** 3).sum()
                      + (x.cumsum(1) ** 2).sum(), [(2, 4)]),
    "prod_sqrt": (lambda M, x: (x + 2).prod(1).sqrt().sum(), [(3, 4)]),
    "cat_stack": (lambda M, x, y: (M.cat([x, y], 0).sin() ** 2).sum() * M.stack([x, y]).mean(),
                  [(2, 3), (2, 3)]),
    "einsum": (lambda M, x, w: M.einsum("ij,jk->ik", x, w).sin().sum(), [(3, 4), (4, 2)]),
}


@pytest.mark.parametrize("name", COMPOSITES)
def test_hessian_vector_product(name):
    fn, shapes = COMPOSITES[name]
    n = len(shapes)
    both(lambda M, *leaves: _vector_products(M, fn, leaves[:n], leaves[n:], 2),
         shapes + shapes)


@pytest.mark.parametrize("name", ["tanh_matmul", "sigmoid_chain", "exp_div"])
def test_third_derivative(name):
    fn, shapes = COMPOSITES[name]
    n = len(shapes)
    both(lambda M, *leaves: _vector_products(M, fn, leaves[:n], leaves[n:], 3),
         shapes + shapes)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_double_backward_through_grad_field():
    """Gradient penalty: backward(create_graph=True), then backward of a function of .grad."""
    def scenario(M, x, w):
        (x @ w).tanh().sum().backward(create_graph=True)
        first = [x.grad.detach().clone(), w.grad.detach().clone()]
        ((x.grad ** 2).sum() + (w.grad ** 2).sum()).backward()
        return first + [x.grad, w.grad]

    both(scenario, [(3, 4), (4, 2)])


# ---- accumulation, retain_grad, hooks -----------------------------------------------------
def test_gradient_accumulates_over_two_backward_calls():
    def scenario(M, x, w):
        (x @ w).tanh().sum().backward()
        (x * x * w.sum()).sum().backward()
        return x.grad, w.grad

    both(scenario, [(3, 4), (4, 2)])


def test_backward_twice_through_a_retained_graph():
    def scenario(M, x, c):
        loss = (x.sigmoid() * c).sum()
        loss.backward(retain_graph=True)
        once = x.grad.clone()
        loss.backward()
        return once, x.grad, c.grad

    both(scenario, [(3, 4), (3, 4)])


def test_retain_grad_on_non_leaves():
    def scenario(M, x, w, c):
        h = x @ w
        h.retain_grad()
        y = h.tanh()
        y.retain_grad()
        (y * c).sum().backward(retain_graph=True)
        first = [h.grad.clone(), y.grad.clone()]
        (y * y).sum().backward()  # non-leaf .grad accumulates too
        return first + [h.grad, y.grad, x.grad, w.grad]

    both(scenario, [(3, 4), (4, 2), (3, 2)])


def test_hook_on_leaf_modifies_its_grad():
    def scenario(M, x, c):
        x.register_hook(lambda g: g * 2)
        (x.exp() * c).sum().backward()
        (x * c).sum().backward()
        return x.grad, c.grad

    both(scenario, [(3, 4), (3, 4)])


def test_hook_on_non_leaf_changes_what_flows_back():
    def scenario(M, x, w, c):
        h = x @ w
        h.register_hook(lambda g: g.clamp(-0.1, 0.1))
        h.register_hook(lambda g: g * 3)  # hooks run in order of registration
        h.retain_grad()
        (h.sin() * c).sum().backward()
        return h.grad, x.grad, w.grad

    both(scenario, [(3, 4), (4, 2), (3, 2)], low=-2, high=2)


def test_hook_that_observes_and_handle_remove():
    seen = {}

    def scenario(M, x, c):
        h = x * c
        h.register_hook(lambda g: seen.setdefault(M.__name__, []).append(g.clone()))
        handle = h.register_hook(lambda g: g * 100)
        handle.remove()
        (h ** 2).sum().backward()
        return x.grad, seen[M.__name__]

    both(scenario, [(2, 3), (2, 3)])


def test_hooks_apply_in_autograd_grad():
    def scenario(M, x, w):
        h = x @ w
        h.register_hook(lambda g: g * -0.5)
        x.register_hook(lambda g: g + 1)
        return M.autograd.grad(h.tanh().sum(), [x, w])

    both(scenario, [(3, 4), (4, 2)])


def test_grad_with_grad_outputs_and_retain_graph():
    def scenario(M, x, g1, g2):
        y = x.tanh() * x
        first = M.autograd.grad(y, x, grad_outputs=g1.detach(), retain_graph=True)
        second = M.autograd.grad([y, y.sum(0)], [x], [g2.detach(), g1[0].detach()])
        return first, second

    both(scenario, [(3, 4), (3, 4), (3, 4)])
