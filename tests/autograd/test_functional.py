"""nerve.func transforms against analytic derivatives, NumPy finite differences and torch."""
import math

import numpy as np
import pytest

import nerve
from nerve import func


def t64(values, requires_grad=False):
    return nerve.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def numeric_jacobian(fn, x, eps=1e-6):
    """Central differences of a NumPy function: shape fn(x).shape + x.shape."""
    x = np.asarray(x, dtype=np.float64)
    out_shape = np.shape(fn(x))
    jac = np.zeros(out_shape + x.shape)
    for k in range(x.size):
        d = np.zeros(x.size)
        d[k] = eps
        d = d.reshape(x.shape)
        col = (np.asarray(fn(x + d)) - np.asarray(fn(x - d))) / (2 * eps)
        jac.reshape(out_shape + (x.size,))[..., k] = col
    return jac


def quadratic(a):
    return lambda x: 0.5 * (x[0] ** 2 + a * x[1] ** 2)


# ---- hessian, Newton -------------------------------------------------------------------------
@pytest.mark.parametrize("a", [1.0, 10.0, 0.25])
def test_hessian_of_quadratic_and_newton_step(a):
    x = t64([1.0, 1.0])
    h = func.hessian(quadratic(a))(x)
    np.testing.assert_allclose(h.numpy(), np.diag([1.0, a]), atol=1e-12)
    jac_of_grad = func.jacobian(func.grad(quadratic(a)))(x)
    np.testing.assert_allclose(jac_of_grad.numpy(), h.numpy(), atol=1e-12)
    g = func.grad(quadratic(a))(x)
    np.testing.assert_allclose(g.numpy(), [1.0, a])
    step = np.linalg.solve(h.numpy(), g.numpy())
    np.testing.assert_allclose(x.numpy() - step, [0.0, 0.0], atol=1e-12)


def nonquadratic(x):
    return (x.sin() * x ** 2).sum() + (x[0] * x[1]) ** 2 + (x[1] * x[2]).exp()


def nonquadratic_np(x):
    return np.sum(np.sin(x) * x ** 2) + (x[0] * x[1]) ** 2 + np.exp(x[1] * x[2])


def test_hessian_matches_finite_differences_of_gradient():
    x0 = np.array([0.3, -0.7, 0.5])
    h = func.hessian(nonquadratic)(t64(x0)).numpy()
    grad_np = lambda x: func.grad(nonquadratic)(t64(x)).numpy()  # noqa: E731
    np.testing.assert_allclose(h, numeric_jacobian(grad_np, x0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(h, h.T, atol=1e-12)


def test_hessian_and_jacobian_match_torch():
    torch = pytest.importorskip("torch")
    x0 = np.array([0.3, -0.7, 0.5])

    def f_torch(x):
        return (x.sin() * x ** 2).sum() + (x[0] * x[1]) ** 2 + (x[1] * x[2]).exp()

    ref = torch.func.hessian(f_torch)(torch.tensor(x0)).numpy()
    np.testing.assert_allclose(func.hessian(nonquadratic)(t64(x0)).numpy(), ref, rtol=1e-10)
    ref_j = torch.func.jacrev(lambda x: x.exp() * x.sum())(torch.tensor(x0)).numpy()
    ours = func.jacobian(lambda x: x.exp() * x.sum())(t64(x0)).numpy()
    np.testing.assert_allclose(ours, ref_j, rtol=1e-10)


def test_hessian_argnums_tuple_gives_blocks():
    x0, y0 = np.array([0.5, -1.0]), np.array([2.0])

    def f(x, y):
        return (x ** 2 * y).sum() + (x[0] * y[0]) ** 3

    hx = func.hessian(f, argnums=(0, 1))(t64(x0), t64(y0))
    full = numeric_jacobian(lambda z: func.grad(lambda v: f(v[:2], v[2:]))(t64(z)).numpy(),
                            np.concatenate([x0, y0]))
    assert [[tuple(b.shape) for b in row] for row in hx] == [[(2, 2), (2, 1)], [(1, 2), (1, 1)]]
    np.testing.assert_allclose(hx[0][0].numpy(), full[:2, :2], rtol=1e-6)
    np.testing.assert_allclose(hx[0][1].numpy(), full[:2, 2:], rtol=1e-6)
    np.testing.assert_allclose(hx[1][0].numpy(), full[2:, :2], rtol=1e-6)
    np.testing.assert_allclose(hx[1][1].numpy(), full[2:, 2:], rtol=1e-6, atol=1e-8)


# ---- jacobian, jvp, vjp, hvp ------------------------------------------------------------------
def vector_fn(x):
    return nerve.stack([x[0] * x[1], x[0].sin() + x[2] ** 2, x[1].exp() * x[2], x.sum()])


def vector_fn_np(x):
    return np.array([x[0] * x[1], np.sin(x[0]) + x[2] ** 2, np.exp(x[1]) * x[2], x.sum()])


X0 = np.array([0.4, -1.2, 0.8])


def test_jacobian_of_vector_function_vs_finite_differences():
    jac = func.jacobian(vector_fn)(t64(X0))
    assert jac.shape == (4, 3)
    np.testing.assert_allclose(jac.numpy(), numeric_jacobian(vector_fn_np, X0), rtol=1e-6,
                               atol=1e-9)


def test_jacobian_shape_is_output_shape_plus_input_shape():
    w0 = np.arange(6.0).reshape(2, 3) / 7

    def f(w):
        return (w * w).sum(axis=1).exp()

    jac = func.jacobian(f)(t64(w0))
    assert jac.shape == (2, 2, 3)
    ref = numeric_jacobian(lambda w: np.exp((w * w).sum(axis=1)), w0)
    np.testing.assert_allclose(jac.numpy(), ref, rtol=1e-6)


def test_jacobian_tuple_output_and_argnums():
    x, y = t64([1.0, 2.0]), t64([3.0])
    (jxx, jxy), (jyx, jyy) = func.jacobian(lambda a, b: (a * b, (a * a).sum() + b),
                                          argnums=(0, 1))(x, y)
    np.testing.assert_allclose(jxx.numpy(), np.diag([3.0, 3.0]))
    np.testing.assert_allclose(jxy.numpy(), [[1.0], [2.0]])
    np.testing.assert_allclose(jyx.numpy(), [[2.0, 4.0]])
    np.testing.assert_allclose(jyy.numpy(), [[1.0]])


@pytest.mark.parametrize("seed", [0, 1])
def test_jvp_equals_jacobian_times_tangent(seed):
    v = np.random.default_rng(seed).standard_normal(3)
    out, jv = func.jvp(vector_fn, (t64(X0),), (t64(v),))
    np.testing.assert_allclose(out.numpy(), vector_fn_np(X0))
    jac = func.jacobian(vector_fn)(t64(X0)).numpy()
    np.testing.assert_allclose(jv.numpy(), jac @ v, rtol=1e-10)
    assert jv.grad_fn is None and not jv.requires_grad


def test_jvp_with_two_primals_and_tuple_output():
    x, y = t64([1.0, 2.0]), t64([0.5, -1.0])
    dx, dy = t64([1.0, 0.0]), t64([0.0, 2.0])
    (p, s), (dp, ds) = func.jvp(lambda a, b: (a * b, (a + b).sum()), (x, y), (dx, dy))
    np.testing.assert_allclose(dp.numpy(), dx.numpy() * y.numpy() + x.numpy() * dy.numpy())
    np.testing.assert_allclose(ds.numpy(), 3.0)


def test_vjp_equals_jacobian_transpose_times_cotangent_and_is_reusable():
    u = np.array([1.0, -2.0, 0.5, 3.0])
    out, vjp_fn = func.vjp(vector_fn, t64(X0))
    jac = numeric_jacobian(vector_fn_np, X0)
    for _ in range(2):  # vjp_fn keeps the graph: it can be called again
        (g,) = vjp_fn(t64(u))
        np.testing.assert_allclose(g.numpy(), jac.T @ u, rtol=1e-6)
    assert out.grad_fn is None
    with pytest.raises(ValueError, match="shape"):
        vjp_fn(t64([1.0, 2.0]))


def test_hvp_equals_hessian_times_vector():
    x0, v = np.array([0.3, -0.7, 0.5]), np.array([1.0, 2.0, -1.0])
    value, hv = func.hvp(nonquadratic, t64(x0), t64(v))
    assert value.item() == pytest.approx(nonquadratic_np(x0))
    h = func.hessian(nonquadratic)(t64(x0)).numpy()
    np.testing.assert_allclose(hv.numpy(), h @ v, rtol=1e-10)
    _, (hv_tuple,) = func.hvp(nonquadratic, (t64(x0),), (t64(v),))
    np.testing.assert_allclose(hv_tuple.numpy(), hv.numpy())


# ---- grad: nesting, aux, argnums ---------------------------------------------------------------
CHAINS = [
    (lambda x: x.exp().sin(),
     lambda x: math.cos(math.exp(x)) * math.exp(x),
     lambda x: -math.sin(math.exp(x)) * math.exp(2 * x) + math.cos(math.exp(x)) * math.exp(x)),
    (lambda x: x.sin().exp(),
     lambda x: math.exp(math.sin(x)) * math.cos(x),
     lambda x: math.exp(math.sin(x)) * (math.cos(x) ** 2 - math.sin(x))),
]


@pytest.mark.parametrize("f, d1, d2", CHAINS)
@pytest.mark.parametrize("x0", [-0.8, 0.3, 1.1])
def test_grad_of_grad_of_sin_exp_chains(f, d1, d2, x0):
    x = t64(x0)
    assert func.grad(f)(x).item() == pytest.approx(d1(x0), rel=1e-12)
    assert func.grad(func.grad(f))(x).item() == pytest.approx(d2(x0), rel=1e-12)
    # third derivative against central differences of the second
    eps = 1e-5
    d3 = func.grad(func.grad(func.grad(f)))(x).item()
    assert d3 == pytest.approx((d2(x0 + eps) - d2(x0 - eps)) / (2 * eps), rel=1e-6)


def test_value_and_grad_and_has_aux():
    x = t64([1.0, -2.0])

    def loss(x):
        y = x ** 2
        return y.sum(), {"y": y, "tag": "sq"}

    (value, aux), g = func.value_and_grad(loss, has_aux=True)(x)
    assert value.item() == 5.0
    np.testing.assert_allclose(g.numpy(), [2.0, -4.0])
    np.testing.assert_allclose(aux["y"].numpy(), [1.0, 4.0])
    assert aux["tag"] == "sq" and aux["y"].grad_fn is None
    g2, aux2 = func.grad(loss, has_aux=True)(x)
    np.testing.assert_allclose(g2.numpy(), g.numpy())
    assert set(aux2) == {"y", "tag"}


def test_argnums_tuple_negative_and_pytree():
    x, y = t64([1.0, 2.0]), t64([3.0, -1.0])

    def f(x, y):
        return (x * y ** 2).sum()

    gx, gy = func.grad(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx.numpy(), y.numpy() ** 2)
    np.testing.assert_allclose(gy.numpy(), 2 * x.numpy() * y.numpy())
    np.testing.assert_allclose(func.grad(f, argnums=-1)(x, y).numpy(), gy.numpy())
    params = {"w": t64([2.0]), "b": (t64(1.0),)}
    g = func.grad(lambda p, z: ((p["w"] * z + p["b"][0]) ** 2).sum())(params, x)
    r = 2 * (2.0 * x.numpy() + 1.0)
    np.testing.assert_allclose(g["w"].numpy(), [(r * x.numpy()).sum()])
    np.testing.assert_allclose(g["b"][0].numpy(), r.sum())
    assert isinstance(g["b"], tuple)


def test_unused_argument_gets_zeros():
    g = func.grad(lambda x, y: (x * 2).sum(), argnums=(0, 1))(t64([1.0]), t64([5.0, 6.0]))
    np.testing.assert_allclose(g[1].numpy(), [0.0, 0.0])
    np.testing.assert_allclose(func.grad(lambda x: t64(3.0))(t64(1.0)).numpy(), 0.0)


@pytest.mark.parametrize("shape", [(3,), (1,), (2, 2)])
def test_grad_of_non_scalar_output_raises_clearly(shape):
    with pytest.raises(RuntimeError, match=r"scalar \(0-d\).*shape \(.*vjp or jacobian"):
        func.grad(lambda x: x * 2)(nerve.ones(*shape, dtype=nerve.float64))


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: func.grad(lambda x: x.sum())([1.0, 2.0]), TypeError, "argument 0 must be a Tensor"),
    (lambda: func.grad(lambda x: x.sum())(nerve.tensor([1, 2])), TypeError, "dtype int64"),
    (lambda: func.grad(lambda x: x.sum(), argnums=2)(t64(1.0)), ValueError, "out of range"),
    (lambda: func.grad(lambda x: x.sum(), argnums=(0, 0))(t64(1.0)), ValueError, "duplicates"),
    (lambda: func.grad(lambda x: x.sum(), argnums=1.5)(t64(1.0)), TypeError, "argnums"),
    (lambda: func.grad(lambda x: x.sum(), has_aux=True)(t64(1.0)), TypeError, "pair"),
    (lambda: func.jvp(lambda x: x, (t64([1.0]),), (t64([1.0, 2.0]),)), ValueError, "shape"),
    (lambda: func.jvp(lambda x: x, (t64([1.0]),), ()), ValueError, "expected 1 tangents"),
    (lambda: func.hvp(lambda x: x, t64([1.0, 2.0]), t64([1.0, 2.0])), RuntimeError, "scalar"),
    (lambda: func.jacobian(lambda x: 3.0)(t64(1.0)), TypeError, "output of f"),
])
def test_errors(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


# ---- graph recording: first-order results are constants, nested ones are differentiable ---------
def test_first_order_results_record_no_graph():
    x = t64([1.0, 2.0])
    results = [func.grad(lambda x: (x.sin() * x).sum())(x),
               func.jacobian(lambda x: x.exp())(x),
               func.vjp(lambda x: x.exp(), x)[1](t64([1.0, 1.0]))[0],
               func.hvp(lambda x: (x ** 3).sum(), x, x)[1]]
    xr = t64([1.0, 2.0], requires_grad=True)
    results.append(nerve.autograd.grad((xr.sin() * xr).sum(), xr)[0])
    for r in results:
        assert r.grad_fn is None and not r.requires_grad


def test_input_that_requires_grad_keeps_result_differentiable():
    x = t64([0.5, 1.5], requires_grad=True)
    g = func.grad(lambda x: (x ** 3).sum())(x)  # 3x^2, still a function of x
    assert g.requires_grad
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.detach().numpy())


def test_closure_over_outer_tensor_keeps_result_differentiable():
    w = t64([2.0, -1.0], requires_grad=True)
    x = t64([1.0, 3.0])
    g = func.grad(lambda x: (w * x ** 2).sum())(x)  # 2 w x
    np.testing.assert_allclose(g.detach().numpy(), [4.0, -6.0])
    (g ** 2).sum().backward()  # d/dw sum (2wx)^2 = 8 w x^2
    np.testing.assert_allclose(w.grad.numpy(), 8 * w.detach().numpy() * x.numpy() ** 2)


def test_outer_graph_survives_a_transform_under_no_grad():
    w0 = t64([2.0, -1.0], requires_grad=True)
    w = w0 * 3  # an outer graph that f closes over
    with nerve.no_grad():
        g = func.grad(lambda x: (w * x ** 2).sum())(t64([1.0, 1.0]))
        h = func.hessian(lambda x: (w * x ** 3).sum())(t64([1.0, 1.0]))
        _, jv = func.jvp(lambda x: w * x ** 2, (t64([1.0, 1.0]),), (t64([1.0, 0.0]),))
    np.testing.assert_allclose(g.numpy(), [12.0, -6.0])
    np.testing.assert_allclose(h.numpy(), np.diag([36.0, -18.0]))
    np.testing.assert_allclose(jv.numpy(), [12.0, 0.0])
    assert not g.requires_grad and not h.requires_grad and not jv.requires_grad
    w.sum().backward()  # the outer graph was not freed by the transforms
    np.testing.assert_allclose(w0.grad.numpy(), [3.0, 3.0])


def test_no_perturbation_confusion():
    x = t64(3.0)
    # d/dx [x * d/dy (x*y)] = d/dx x^2 = 2x, not 2x + x (the closure's x is a constant inside)
    assert func.grad(lambda x: x * func.grad(lambda y: x * y)(x))(x).item() == 6.0
    assert func.grad(lambda x: func.grad(lambda y: x * y)(t64(1.0)))(x).item() == 1.0


def test_under_no_grad_derivatives_are_computed_but_not_recorded():
    x = t64([1.0, 2.0], requires_grad=True)
    with nerve.no_grad():
        g = func.grad(lambda x: (x ** 2).sum())(x)
        h = func.hessian(lambda x: (x ** 3).sum())(x)
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])
    np.testing.assert_allclose(h.numpy(), np.diag([6.0, 12.0]))
    assert not g.requires_grad and not h.requires_grad


def test_importable_from_autograd():
    from nerve.autograd.functional import grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp

    assert (grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp) == (
        func.grad, func.hessian, func.hvp, func.jacobian, func.jvp, func.value_and_grad,
        func.vjp)
