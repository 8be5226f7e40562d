"""L-BFGS against torch.optim.LBFGS: the same iterates (to 1e-6) on the same problem, with a
fixed step and with the strong Wolfe line search; skipped without PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

import nerve
from nerve.optim import LBFGS

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(7)
X = RNG.normal(size=(16, 3))
Y = np.tanh(X @ RNG.normal(size=(3, 2)) + 0.1) + 0.05 * RNG.normal(size=(16, 2))
W0, B0 = 0.5 * RNG.normal(size=(3, 2)), np.zeros(2)


def regression_loss(lib, W, b):
    """A small nonconvex least-squares problem with two parameters of different shapes."""
    Xt, Yt = lib.tensor(X, dtype=lib.float64), lib.tensor(Y, dtype=lib.float64)
    return ((lib.tanh(Xt @ W + b) - Yt) ** 2).mean() + 0.01 * (W ** 4).sum()


def rosenbrock(lib, x, y):
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


CASES = {
    "regression-fixed": (regression_loss, (W0, B0), dict(lr=0.5, max_iter=4)),
    "regression-fixed-short-history": (regression_loss, (W0, B0),
                                       dict(lr=0.5, max_iter=6, history_size=2)),
    "regression-wolfe": (regression_loss, (W0, B0),
                         dict(max_iter=5, line_search_fn="strong_wolfe")),
    "rosenbrock-wolfe": (rosenbrock, (np.array(-1.2), np.array(1.0)),
                         dict(max_iter=4, line_search_fn="strong_wolfe", history_size=5)),
    "rosenbrock-wolfe-few-evals": (rosenbrock, (np.array(-1.2), np.array(1.0)),
                                   dict(max_iter=8, max_eval=9, line_search_fn="strong_wolfe")),
}


def run(lib, make_opt, loss_fn, start, kwargs, steps):
    params = [lib.tensor(v, dtype=lib.float64, requires_grad=True) for v in start]
    opt = make_opt(params, **kwargs)

    def closure():
        opt.zero_grad()
        loss = loss_fn(lib, *params)
        loss.backward()
        return loss

    iterates, losses = [], []
    for _ in range(steps):
        losses.append(float(opt.step(closure).detach()))
        iterates.append(np.concatenate([np.array(p.detach().tolist()).ravel()
                                        for p in params]))
    state = opt.state[params[0]]
    return np.array(iterates), losses, (int(state["n_iter"]), int(state["func_evals"]))


@pytest.mark.parametrize("case", list(CASES))
def test_lbfgs_matches_torch_iterates(case):
    loss_fn, start, kwargs = CASES[case]
    ours = run(nerve, LBFGS, loss_fn, start, kwargs, steps=6)
    theirs = run(torch, torch.optim.LBFGS, loss_fn, start, kwargs, steps=6)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-6, atol=1e-12)
    assert ours[2] == theirs[2]  # the same iteration and evaluation counts
    assert ours[1][-1] < ours[1][0]  # and it made progress (the comparison is not vacuous)
