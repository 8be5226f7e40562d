"""Line searches: the Armijo condition at every accepted step, the strong Wolfe conditions,
the backtracking sequence t0 beta^k, and construction-time checks of alpha and beta."""
from __future__ import annotations

import numpy as np
import pytest

from nerve.optim import BFGS, GD, LBFGS, ConjugateGradient, Newton
from nerve.optim.line_search import _cubic_minimizer, backtracking, check_armijo, strong_wolfe
from nerve.optim.problems import rosenbrock, trajectory


def rosen_np(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def rosen_grad_np(x):
    return np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2),
                     200 * (x[1] - x[0] ** 2)])


def along(x, d, trials=None):
    """obj(t) = (f, g) at x + t d for Rosenbrock, recording each trial t."""
    def obj(t):
        if trials is not None:
            trials.append(t)
        z = x + t * d
        return rosen_np(z), rosen_grad_np(z)
    return obj


# ---- backtracking ---------------------------------------------------------------------------
@pytest.mark.parametrize("alpha,beta", [(1e-4, 0.5), (0.3, 0.8), (0.01, 0.1)])
def test_backtracking_takes_first_t0_beta_k_that_passes_armijo(alpha, beta):
    x = np.array([-1.2, 1.0])
    g = rosen_grad_np(x)
    d = -g
    f, gtd = rosen_np(x), float(g @ d)
    trials = []
    res = backtracking(along(x, d, trials), f, gtd, t=1.0, alpha=alpha, beta=beta)
    assert trials == pytest.approx([beta ** k for k in range(len(trials))])  # 1, beta, ...
    for t in trials[:-1]:  # every rejected trial violates Armijo ...
        assert rosen_np(x + t * d) > f + alpha * t * gtd
    assert res.t == trials[-1]  # ... and the accepted one satisfies it
    assert res.f == rosen_np(x + res.t * d) <= f + alpha * res.t * gtd
    np.testing.assert_allclose(res.g, rosen_grad_np(x + res.t * d))
    assert res.evals == len(trials)


def test_backtracking_refuses_ascent_and_gives_up_with_t_zero():
    x = np.array([-1.2, 1.0])
    g = rosen_grad_np(x)
    f = rosen_np(x)
    up = backtracking(along(x, g), f, float(g @ g), g=g)  # an ascent direction: no step
    assert (up.t, up.f, up.evals) == (0.0, f, 0)
    short = backtracking(along(x, -g), f, -float(g @ g), t=1.0, max_evals=3, g=g)
    assert (short.t, short.f, short.evals) == (0.0, f, 3)  # 1, 1/2, 1/4 all fail
    assert short.g is g


@pytest.mark.parametrize("cls,alpha,kwargs", [
    (GD, 0.3, dict(lr=1.0, beta=0.5)),
    (LBFGS, 0.1, dict(max_iter=1, max_eval=40)),
    (BFGS, 0.2, dict(max_iter=1, beta=0.7)),
    (Newton, 0.25, dict(damping=1.0)),
], ids=["GD", "LBFGS", "BFGS", "Newton"])
def test_armijo_holds_at_every_accepted_step(cls, alpha, kwargs):
    path = trajectory(lambda p: cls(p, line_search_fn="backtracking", alpha=alpha, **kwargs),
                      rosenbrock, (-1.2, 1.0), steps=60)
    moved = 0
    for x, x_next, f, f_next in zip(path.points, path.points[1:], path.losses,
                                    path.losses[1:]):
        s = x_next - x  # t d
        assert f_next <= f + alpha * float(rosen_grad_np(x) @ s) + 1e-12
        moved += bool(np.any(s != 0))
    assert moved >= 30 and path.losses[-1] < path.losses[0] / 10


def test_gd_backtracking_step_is_largest_lr_beta_k_that_passes():
    path = trajectory(lambda p: GD(p, lr=1.0, line_search_fn="backtracking", alpha=0.3,
                                   beta=0.5), rosenbrock, (-1.2, 1.0), steps=20)
    for x, x_next in zip(path.points, path.points[1:]):
        g = rosen_grad_np(x)
        t = float(np.linalg.norm(x_next - x) / np.linalg.norm(g))
        k = round(np.log(t) / np.log(0.5))
        assert t == pytest.approx(0.5 ** k, rel=1e-9) and k >= 0
        t_bigger = 2 * t  # when t < lr, the trial before it failed Armijo
        assert k == 0 or rosen_np(x - t_bigger * g) > rosen_np(x) - 0.3 * t_bigger * float(g @ g)


# ---- strong Wolfe ---------------------------------------------------------------------------
@pytest.mark.parametrize("start", [(-1.2, 1.0), (0.0, 0.0), (2.0, -1.0), (1.5, 2.5)])
@pytest.mark.parametrize("c2", [0.9, 0.1])
@pytest.mark.parametrize("t0", [1e-3, 1.0, 50.0])
def test_strong_wolfe_conditions_hold(start, c2, t0):
    x = np.array(start)
    g = rosen_grad_np(x)
    d = -g / np.linalg.norm(g)
    f, gtd = rosen_np(x), float(g @ d)
    res = strong_wolfe(along(x, d), d, f, g, gtd, t=t0, c1=1e-4, c2=c2, max_evals=50)
    z = x + res.t * d
    assert res.f == rosen_np(z) <= f + 1e-4 * res.t * gtd
    assert abs(float(rosen_grad_np(z) @ d)) <= c2 * abs(gtd)
    np.testing.assert_allclose(res.g, rosen_grad_np(z))


@pytest.mark.parametrize("make,c2", [
    (lambda p: LBFGS(p, max_iter=1, max_eval=30, line_search_fn="strong_wolfe"), 0.9),
    (lambda p: BFGS(p, max_iter=1), 0.9),
    (lambda p: ConjugateGradient(p, max_iter=1), 0.1),
], ids=["LBFGS", "BFGS", "CG"])
def test_strong_wolfe_holds_along_optimizer_paths(make, c2):
    path = trajectory(make, rosenbrock, (-1.2, 1.0), steps=25)
    for x, x_next, f, f_next in zip(path.points, path.points[1:], path.losses,
                                    path.losses[1:]):
        s = x_next - x
        gts = float(rosen_grad_np(x) @ s)
        assert gts < 0
        assert f_next <= f + 1e-4 * gts
        assert abs(float(rosen_grad_np(x_next) @ s)) <= c2 * abs(gts) + 1e-12


def test_cubic_minimizer_is_exact_on_a_cubic_and_safeguarded():
    # f(t) = t^3 - 3 t on [0, 2]: minimum at t = 1
    f, df = (lambda t: t ** 3 - 3 * t), (lambda t: 3 * t ** 2 - 3)
    assert _cubic_minimizer(0.0, f(0.0), df(0.0), 2.0, f(2.0), df(2.0)) == pytest.approx(1.0)
    assert _cubic_minimizer(2.0, f(2.0), df(2.0), 0.0, f(0.0), df(0.0)) == pytest.approx(1.0)
    assert _cubic_minimizer(0.0, f(0.0), df(0.0), 2.0, f(2.0), df(2.0),
                            bounds=(1.5, 3.0)) == 1.5
    # no real minimizer (d2^2 < 0): the middle of the bounds
    assert _cubic_minimizer(0.0, 0.0, 1.0, 1.0, 2 / 3, 1.0, bounds=(0.0, 4.0)) == 2.0


# ---- bad constants --------------------------------------------------------------------------
@pytest.mark.parametrize("alpha,beta,word", [
    (0.0, 0.5, "alpha"), (0.5, 0.5, "alpha"), (-0.1, 0.5, "alpha"), (0.7, 0.5, "alpha"),
    (1e-4, 0.0, "beta"), (1e-4, 1.0, "beta"), (1e-4, 1.5, "beta"), (float("nan"), 0.5, "alpha"),
])
def test_alpha_beta_outside_their_intervals_are_refused(alpha, beta, word):
    with pytest.raises(ValueError, match=word):
        check_armijo("backtracking", alpha, beta)
    with pytest.raises(ValueError, match=word):
        backtracking(lambda t: (0.0, None), 1.0, -1.0, alpha=alpha, beta=beta)
