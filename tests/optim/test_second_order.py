"""Full-batch and second-order optimizers: one step by hand (float64) against step(),
convergence facts (Newton in one step, BFGS in n steps, Rosenbrock to 1e-8), HessianFree on
least squares and a tiny MLP, state-dict round trips, and construction-time errors."""
from __future__ import annotations

import numpy as np
import pytest

import nerve
from nerve.optim import BFGS, GD, LBFGS, SGD, ConjugateGradient, HessianFree, Newton, problems
from nerve.optim._flat import hessian_vector_product
from nerve.optim.hessian_free import _conjugate_gradient


def rosen_np(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def rosen_grad_np(x):
    return np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2),
                     200 * (x[1] - x[0] ** 2)])


def rosen_hess_np(x):
    return np.array([[2 - 400 * (x[1] - 3 * x[0] ** 2), -400 * x[0]],
                     [-400 * x[0], 200.0]])


def leaf(values):
    return nerve.tensor(values, dtype=nerve.float64, requires_grad=True)


def closure_for(opt, params, loss_fn, backward=True):
    """The torch.optim.LBFGS closure; ``backward=False`` returns the loss with its graph
    (what Newton and HessianFree differentiate)."""
    def closure():
        opt.zero_grad()
        loss = loss_fn(*params)
        if backward:
            loss.backward()
        return loss
    return closure


def random_spd(n, seed=0, cond=30.0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    return Q @ np.diag(np.geomspace(1.0, cond, n)) @ Q.T, rng.normal(size=n)


# ---- one step by hand ------------------------------------------------------------------------
def test_gd_step_is_x_minus_lr_grad_per_group():
    a, b = leaf([1.0, -2.0]), leaf([[0.5], [3.0]])
    opt = GD([{"params": [a]}, {"params": [b], "lr": 0.01}], lr=0.1)
    ((a ** 3).sum() + (b * a.reshape(2, 1)).sum()).backward()
    ga, gb = 3 * np.array([1.0, -2.0]) ** 2 + np.array([0.5, 3.0]), np.array([[1.0], [-2.0]])
    opt.step()
    np.testing.assert_allclose(a.numpy(force=True), [1.0, -2.0] - 0.1 * ga, rtol=0, atol=1e-15)
    np.testing.assert_allclose(b.numpy(force=True), [[0.5], [3.0]] - 0.01 * gb, rtol=0,
                               atol=1e-15)


def test_gd_backtracking_step_by_hand():
    x0 = np.array([-1.2, 1.0])
    x = leaf(x0)
    opt = GD([x], lr=1.0, line_search_fn="backtracking", alpha=0.25, beta=0.5)
    opt.step(closure_for(opt, [x], problems.rosenbrock))
    g, t = rosen_grad_np(x0), 1.0
    while rosen_np(x0 - t * g) > rosen_np(x0) - 0.25 * t * g @ g:
        t *= 0.5
    np.testing.assert_allclose(x.numpy(force=True), x0 - t * g, rtol=0, atol=1e-14)
    assert opt.state[x]["t"] == t


def test_bfgs_first_update_by_hand():
    x0 = np.array([-0.3, 0.8])
    x = leaf(x0)
    opt = BFGS([x], max_iter=1, line_search_fn=None)  # fixed steps: t0 = min(1, 1/|g|_1), 1
    closure = closure_for(opt, [x], problems.rosenbrock)
    opt.step(closure)
    g0 = rosen_grad_np(x0)
    t0 = min(1.0, 1.0 / np.abs(g0).sum())
    x1 = x0 - t0 * g0
    np.testing.assert_allclose(x.numpy(force=True), x1, rtol=0, atol=1e-15)
    opt.step(closure)
    s, y = x1 - x0, rosen_grad_np(x1) - g0
    rho = 1.0 / (y @ s)
    F0 = (y @ s) / (y @ y) * np.eye(2)  # Nocedal & Wright (6.20)
    I = np.eye(2)
    F1 = (I - rho * np.outer(s, y)) @ F0 @ (I - rho * np.outer(y, s)) + rho * np.outer(s, s)
    np.testing.assert_allclose(opt.state[x]["F"], F1, rtol=1e-12, atol=0)
    np.testing.assert_allclose(x.numpy(force=True), x1 - F1 @ rosen_grad_np(x1), rtol=1e-12)


@pytest.mark.parametrize("damping,lr", [(0.0, 1.0), (0.5, 0.7)])
def test_newton_step_by_hand(damping, lr):
    x0 = np.array([-1.2, 1.0])
    x = leaf(x0)
    opt = Newton([x], lr=lr, damping=damping)
    opt.step(closure_for(opt, [x], problems.rosenbrock, backward=False))
    H = rosen_hess_np(x0)
    expected = x0 - lr * np.linalg.solve(H + damping * np.eye(2), rosen_grad_np(x0))
    np.testing.assert_allclose(x.numpy(force=True), expected, rtol=1e-13)
    np.testing.assert_allclose(opt.state[x]["hessian"], H, rtol=1e-13)


def test_hessian_vector_product_is_exact_and_spans_parameters():
    a, b = leaf([0.7]), leaf([[-0.4]])
    loss = problems.rosenbrock(nerve.cat([a, b.reshape(1)]))
    grads = nerve.autograd.grad(loss, [a, b], create_graph=True)
    H = rosen_hess_np(np.array([0.7, -0.4]))
    for v in (np.array([1.0, 0.0]), np.array([0.3, -2.0])):
        np.testing.assert_allclose(hessian_vector_product(grads, [a, b], v), H @ v, rtol=1e-13)


# ---- convergence facts -----------------------------------------------------------------------
@pytest.mark.parametrize("n", [2, 5])
def test_newton_reaches_the_quadratic_minimum_in_one_step(n):
    A, b = random_spd(n, seed=n)
    f = problems.quadratic_form(A, b)
    x = leaf(np.ones(n))
    opt = Newton([x])
    opt.step(closure_for(opt, [x], f, backward=False))
    np.testing.assert_allclose(x.numpy(force=True), np.linalg.solve(A, b), rtol=1e-12)
    path = problems.trajectory(lambda p: Newton(p), problems.quadratic, (3.0, -2.0), steps=1)
    np.testing.assert_allclose(path.points[1], [0.0, 0.0], atol=1e-15)


def test_pure_newton_jumps_to_a_saddle_and_line_search_newton_descends():
    def saddle(v):  # H = diag(2, -2); from (0.2, 1) the Newton direction points uphill
        return v[0] ** 2 - v[1] ** 2 + 0.1 * v[1]

    start = [0.2, 1.0]
    x = leaf(start)
    opt = Newton([x])
    opt.step(closure_for(opt, [x], saddle, backward=False))
    np.testing.assert_allclose(x.numpy(force=True), [0.0, 0.05], atol=1e-15)  # the saddle
    y = leaf(start)
    opt = Newton([y], line_search_fn="backtracking")
    opt.step(closure_for(opt, [y], saddle, backward=False))
    g = np.array([0.4, -1.9])  # the uphill direction is replaced by -g, then Armijo
    t = opt.state[y]["t"]
    np.testing.assert_allclose(y.numpy(force=True), start - t * g, rtol=1e-14)
    assert t > 0 and float(saddle(y.detach())) < float(saddle(leaf(start).detach()))


def test_newton_accepts_a_closure_that_calls_backward_with_create_graph():
    x = leaf([-1.2, 1.0])
    opt = Newton([x])

    def closure():
        opt.zero_grad()
        loss = problems.rosenbrock(x)
        loss.backward(create_graph=True)
        return loss

    opt.step(closure)
    x0 = np.array([-1.2, 1.0])
    expected = x0 - np.linalg.solve(rosen_hess_np(x0), rosen_grad_np(x0))
    np.testing.assert_allclose(x.numpy(force=True), expected, rtol=1e-13)
    assert x.grad is None or not x.grad.requires_grad  # the graph is not kept alive


def exact_quadratic_line_search(obj, d, f, g, gtd, t):
    """Exact minimizer along d of a quadratic: phi'(t) is linear, two derivatives fix it."""
    _, g1 = obj(1.0)
    t_star = -gtd / (float(g1 @ d) - gtd)
    f_star, g_star = obj(t_star)
    return t_star, f_star, g_star, 2


@pytest.mark.parametrize("n", [3, 6])
def test_bfgs_on_a_quadratic_terminates_in_n_steps_with_exact_line_search(n):
    A, b = random_spd(n, seed=10 + n)
    f = problems.quadratic_form(A, b)
    x = leaf(np.zeros(n))
    opt = BFGS([x], max_iter=1, tolerance_grad=0.0, line_search_fn=exact_quadratic_line_search)
    closure = closure_for(opt, [x], f)
    for _ in range(n):
        opt.step(closure)
    np.testing.assert_allclose(x.numpy(force=True), np.linalg.solve(A, b), rtol=1e-9)
    opt.step(closure)  # applies the n-th update: with exact line searches F_n = A^-1
    np.testing.assert_allclose(opt.state[x]["F"], np.linalg.inv(A), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("variant", ["FR", "PR", "PR+"])
def test_conjugate_gradient_on_a_quadratic_terminates_in_n_steps(variant):
    n = 5
    A, b = random_spd(n, seed=3)
    f = problems.quadratic_form(A, b)
    x = leaf(np.zeros(n))
    opt = ConjugateGradient([x], variant=variant, max_iter=1,
                            line_search_fn=exact_quadratic_line_search)
    closure = closure_for(opt, [x], f)
    for _ in range(n):
        opt.step(closure)
    np.testing.assert_allclose(x.numpy(force=True), np.linalg.solve(A, b), rtol=1e-9)


# Observed iteration counts from (-1.2, 1): BFGS 39-40, L-BFGS 35-39, CG (PR+) 37.
ROSENBROCK_MAX_ITER = 60


@pytest.mark.parametrize("make", [
    lambda p: BFGS(p, max_iter=500),
    lambda p: BFGS(p, max_iter=500, line_search_fn="backtracking"),
    lambda p: LBFGS(p, max_iter=500, line_search_fn="strong_wolfe"),
    lambda p: LBFGS(p, max_iter=500, line_search_fn="backtracking"),
    lambda p: ConjugateGradient(p, max_iter=500),
], ids=["BFGS-wolfe", "BFGS-armijo", "LBFGS-wolfe", "LBFGS-armijo", "CG-PR+"])
def test_rosenbrock_to_1e8_within_bounded_iterations(make):
    x = leaf([-1.2, 1.0])
    opt = make([x])
    opt.step(closure_for(opt, [x], problems.rosenbrock))
    assert rosen_np(x.numpy(force=True)) <= 1e-8
    np.testing.assert_allclose(x.numpy(force=True), [1.0, 1.0], atol=1e-4)
    assert opt.state[x]["n_iter"] <= ROSENBROCK_MAX_ITER


def test_bfgs_skips_the_update_when_curvature_is_not_positive():
    x = leaf([0.0, 0.0])
    opt = BFGS([x], max_iter=1, line_search_fn=None)
    # a concave direction: f = -x1^2 + x2^2 + x1 has y^T s < 0 along the first step
    closure = closure_for(opt, [x], lambda v: -v[0] ** 2 + v[1] ** 2 + v[0])
    opt.step(closure)
    opt.step(closure)
    assert opt.state[x]["F"] is None  # still the identity: no update was made


# ---- HessianFree -----------------------------------------------------------------------------
@pytest.mark.parametrize("line_search_fn", [None, "backtracking"])
def test_hessian_free_solves_least_squares(line_search_fn):
    rng = np.random.default_rng(0)
    A, b = rng.normal(size=(30, 6)), rng.normal(size=30)
    At, bt = nerve.tensor(A), nerve.tensor(b)
    w = leaf(np.zeros(6))
    opt = HessianFree([w], damping=1.0, line_search_fn=line_search_fn)
    closure = closure_for(opt, [w], lambda v: 0.5 * ((At @ v - bt) ** 2).sum(), backward=False)
    damping = [1.0]
    for _ in range(8):
        opt.step(closure)
        damping.append(opt.state[w]["damping"])
    np.testing.assert_allclose(w.numpy(force=True), np.linalg.lstsq(A, b, rcond=None)[0],
                               rtol=1e-6)
    # a quadratic agrees with its model better than the damped model predicts (rho > 3/4),
    # so Levenberg-Marquardt shrinks lambda by 2/3 every step (until the loss changes are
    # rounding noise)
    np.testing.assert_allclose(damping[:6], [(2 / 3) ** k for k in range(6)], rtol=1e-12)


def tiny_mlp(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(40, 1))
    Y = np.sin(1.5 * X)
    params = [leaf(rng.normal(size=(1, 8)) * 0.8), leaf(np.zeros(8)),
              leaf(rng.normal(size=(8, 1)) * 0.3), leaf(np.zeros(1))]

    def forward(W1, b1, W2, b2):
        return nerve.tanh(nerve.tensor(X) @ W1 + b1) @ W2 + b2

    def loss_of(out):
        return ((out - nerve.tensor(Y)) ** 2).mean()

    return params, forward, loss_of


@pytest.mark.parametrize("curvature", ["gauss_newton", "hessian"])
def test_hessian_free_trains_a_tiny_mlp(curvature):
    params, forward, loss_of = tiny_mlp()
    opt = HessianFree(params, damping=1.0, curvature=curvature, max_cg=30)

    def closure():
        opt.zero_grad()
        out = forward(*params)
        return (loss_of(out), out) if curvature == "gauss_newton" else loss_of(out)

    with nerve.no_grad():
        start = float(loss_of(forward(*params)))
    losses = [float(opt.step(closure)) for _ in range(25)]  # step returns the loss
    assert all(b <= a for a, b in zip(losses, losses[1:]))  # the line search keeps it monotone
    with nerve.no_grad():
        end = float(loss_of(forward(*params)))
    assert end < 2e-3 < start / 50


def test_gauss_newton_product_is_jt_hl_j():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(7, 3)), rng.normal(size=7)
    w = leaf(rng.normal(size=3))
    opt = HessianFree([w], curvature="gauss_newton")
    out = nerve.tanh(nerve.tensor(X) @ w)
    loss = 0.5 * ((out - nerve.tensor(Y)) ** 2).sum()  # H_L = I
    _, product, g = opt._curvature((loss, out), "gauss_newton")
    o = np.tanh(X @ w.numpy(force=True))
    J = (1 - o ** 2)[:, None] * X
    v = rng.normal(size=3)
    np.testing.assert_allclose(product(v), J.T @ J @ v, rtol=1e-12)
    np.testing.assert_allclose(g, J.T @ (o - Y), rtol=1e-12)


def test_linear_cg_solves_spd_systems_and_stops_on_negative_curvature():
    A, b = random_spd(6, seed=4)
    p, q, iters = _conjugate_gradient(lambda v: A @ v, -b, None, 50, 1e-12)
    np.testing.assert_allclose(p, np.linalg.solve(A, b), rtol=1e-9)
    assert q == pytest.approx(-0.5 * b @ np.linalg.solve(A, b)) and iters <= 6
    p, _, iters = _conjugate_gradient(lambda v: -v, -b, None, 50, 1e-12)  # negative definite
    np.testing.assert_allclose(p, b)  # falls back to -g
    assert iters == 0


# ---- momentum on the two-weight problem (GD vs SGD with heavy ball) -------------------------
def test_momentum_damps_the_gd_oscillation_at_lr_035():
    start = (0.5, 2.0)
    gd = problems.trajectory(lambda p: GD(p, lr=0.35), problems.two_weight, start, 300)
    heavy = problems.trajectory(lambda p: SGD(p, lr=0.35, momentum=0.5), problems.two_weight,
                                start, 300)
    m = problems.TWO_WEIGHT_MINIMUM
    assert np.abs(gd.points[-20:] - m).max() > 0.05  # still bouncing
    np.testing.assert_allclose(heavy.points[-1], [m, m], atol=1e-8)
    amplitude = np.abs(np.diff(heavy.points[:, 0]))
    assert amplitude[-50:].max() < 1e-8 < amplitude[:10].max()


# ---- closures, state dicts, errors -----------------------------------------------------------
ALL = {
    "GD": lambda p: GD(p, lr=1e-3),
    "GD-armijo": lambda p: GD(p, lr=1.0, line_search_fn="backtracking"),
    "LBFGS": lambda p: LBFGS(p, max_iter=3, history_size=2),
    "LBFGS-wolfe": lambda p: LBFGS(p, max_iter=3, line_search_fn="strong_wolfe"),
    "BFGS": lambda p: BFGS(p, max_iter=2),
    "CG": lambda p: ConjugateGradient(p, max_iter=2),
    "Newton": lambda p: Newton(p, damping=0.1, line_search_fn="backtracking"),
    "HessianFree": lambda p: HessianFree(p, max_cg=5),
}
NEEDS_GRAPH = ("Newton", "HessianFree")


@pytest.mark.parametrize("name", list(ALL))
def test_state_dict_round_trip_continues_bit_identically(name):
    def run(opt, x, steps):
        closure = closure_for(opt, [x], problems.rosenbrock, backward=name not in NEEDS_GRAPH)
        for _ in range(steps):
            opt.step(closure)

    x = leaf([-1.2, 1.0])
    opt = ALL[name]([x])
    run(opt, x, 3)
    saved, x_saved = opt.state_dict(), x.numpy(force=True).copy()
    run(opt, x, 3)
    y = leaf(x_saved)
    resumed = ALL[name]([y])
    resumed.load_state_dict(saved)
    run(resumed, y, 3)
    assert np.array_equal(x.numpy(force=True), y.numpy(force=True))
    assert not np.array_equal(x_saved, y.numpy(force=True))


def test_plain_backward_closure_is_refused_by_newton_with_a_clear_message():
    x = leaf([1.0, 2.0])
    opt = Newton([x])
    with pytest.raises(RuntimeError, match="create_graph=True"):
        opt.step(closure_for(opt, [x], problems.rosenbrock))


def test_newton_size_limit_names_the_count_and_the_limit():
    big = leaf(np.zeros((50, 50)))
    with pytest.raises(ValueError, match=r"2500 entries.*max_params=2000"):
        Newton([big])
    with pytest.raises(ValueError, match=r"2500 entries.*max_params=100"):
        Newton([big], max_params=100)
    Newton([big], max_params=2500)  # the limit is configurable


def test_newton_singular_hessian_asks_for_damping():
    x = leaf([1.0, 2.0])
    opt = Newton([x])
    closure = closure_for(opt, [x], lambda v: v[0] ** 2, backward=False)  # x2 is flat
    with pytest.raises(RuntimeError, match="damping"):
        opt.step(closure)
    Newton([x], damping=1e-3).step(closure)  # damped, it steps
    assert x.numpy(force=True)[0] == pytest.approx(0.0, abs=1e-3)


@pytest.mark.parametrize("name", list(ALL))
def test_step_requires_a_closure(name):
    opt = ALL[name]([leaf([1.0])])
    if name == "GD":
        return  # fixed-step GD works without a closure, like SGD
    with pytest.raises(TypeError, match="closure"):
        opt.step()


CLASSES = [GD, LBFGS, BFGS, ConjugateGradient, Newton, HessianFree]


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("kwargs,error,word", [
    (dict(lr=-0.1), ValueError, "lr"),
    (dict(lr=float("nan")), ValueError, "lr"),
    (dict(lr=1.0, alpha=0.0), ValueError, "alpha"),
    (dict(lr=1.0, alpha=0.5), ValueError, "alpha"),
    (dict(lr=1.0, alpha=0.6), ValueError, "alpha"),
    (dict(lr=1.0, beta=0.0), ValueError, "beta"),
    (dict(lr=1.0, beta=1.0), ValueError, "beta"),
    (dict(lr=1.0, line_search_fn="armijo"), ValueError, "line_search_fn"),
])
def test_bad_hyperparameters_fail_at_construction(cls, kwargs, error, word):
    with pytest.raises(error, match=word):
        cls([leaf([1.0])], **kwargs)


@pytest.mark.parametrize("cls", CLASSES)
def test_bad_parameter_lists_fail_at_construction(cls):
    with pytest.raises(ValueError, match="empty"):
        cls([], lr=1.0)
    with pytest.raises(TypeError, match="not a Tensor"):
        cls([np.zeros(2)], lr=1.0)


@pytest.mark.parametrize("make,word", [
    (lambda p: LBFGS(p, max_iter=0), "max_iter"),
    (lambda p: LBFGS(p, history_size=0), "history_size"),
    (lambda p: LBFGS(p, tolerance_grad=-1.0), "tolerance_grad"),
    (lambda p: BFGS(p, max_eval=0), "max_eval"),
    (lambda p: ConjugateGradient(p, variant="HS"), "variant"),
    (lambda p: ConjugateGradient(p, restart_every=0), "restart_every"),
    (lambda p: ConjugateGradient(p, alpha=0.2), "alpha < c2"),
    (lambda p: Newton(p, damping=-1.0), "damping"),
    (lambda p: Newton(p, max_params=0), "max_params"),
    (lambda p: HessianFree(p, curvature="fisher"), "curvature"),
    (lambda p: HessianFree(p, max_cg=0), "max_cg"),
    (lambda p: HessianFree(p, cg_decay=1.5), "cg_decay"),
    (lambda p: HessianFree(p, line_search_fn="strong_wolfe"), "line_search_fn"),
    (lambda p: GD([{"params": p}, {"params": [leaf([2.0])], "line_search_fn": "backtracking"}],
                  lr=0.1), "optimizer-wide"),
])
def test_bad_options_fail_at_construction(make, word):
    with pytest.raises(ValueError, match=word):
        make([leaf([1.0])])


@pytest.mark.parametrize("cls", [LBFGS, BFGS, ConjugateGradient, Newton, HessianFree])
def test_flat_methods_refuse_parameter_groups(cls):
    groups = [{"params": [leaf([1.0])]}, {"params": [leaf([2.0])]}]
    with pytest.raises(ValueError, match="parameter groups"):
        cls(groups, lr=1.0)
    with pytest.raises(ValueError, match="parameter groups"):
        GD(groups, lr=1.0, line_search_fn="backtracking")
    GD(groups, lr=1.0)  # fixed-step GD takes groups


def test_gauss_newton_needs_loss_and_output_with_their_graph():
    x = leaf([1.0, 2.0])
    opt = HessianFree([x], curvature="gauss_newton")
    with pytest.raises(TypeError, match=r"\(loss, output\)"):
        opt.step(closure_for(opt, [x], problems.rosenbrock, backward=False))

    def freed():
        opt.zero_grad()
        out = x * 2.0
        loss = (out ** 2).sum()
        loss.backward()
        return loss, out

    with pytest.raises(RuntimeError, match="without calling"):
        opt.step(freed)
