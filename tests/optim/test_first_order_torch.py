"""First-order optimizers against torch.optim: 20 steps on the same small network-like problem
(three parameter tensors, same start, gradients computed by each library), every option that
changes the update (skipped without torch)."""
from __future__ import annotations

import numpy as np
import pytest

import nerve
import nerve.optim as optim

torch = pytest.importorskip("torch", reason="torch.optim is the reference for these tests")


@pytest.fixture(autouse=True)
def float64_scalars():
    """torch keeps some scalar state (NAdam's μ product) in the default dtype."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.4, weight_decay=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.05)),
    ("SGD", dict(lr=0.01, momentum=0.5, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.005, alpha=0.95, centered=True, momentum=0.8, eps=1e-6)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.95), amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, eps=1e-6)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=1e-2)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
]


def problem(seed=0):
    """Data and starting values of mean((tanh(X W1 + b1) W2 - Y)²)."""
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    start = [rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((4, 2))]
    return data, start


def loss_of(lib, X, Y, W1, b1, W2):
    return ((lib.tanh(X @ W1 + b1) @ W2 - Y) ** 2).mean()


def train(lib, name, kwargs, steps, groups=None, dtype="float64"):
    """Run ``steps`` updates in nerve or torch and return the parameters as arrays."""
    (X, Y), start = problem()
    make = nerve.tensor if lib is nerve else torch.tensor
    X, Y = make(X.astype(dtype)), make(Y.astype(dtype))
    params = [make(a.astype(dtype), requires_grad=True) for a in start]
    spec = params if groups is None else [dict(g, params=[params[i] for i in g["params"]])
                                          for g in groups]
    opt = getattr(optim if lib is nerve else torch.optim, name)(spec, **kwargs)
    for _ in range(steps):
        opt.zero_grad()
        loss_of(lib, X, Y, *params).backward()
        opt.step()
    return [p.detach().numpy() for p in params]


def assert_same(ours, theirs, tol):
    for a, b in zip(ours, theirs):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("name, kwargs", CASES,
                         ids=[f"{n}-{'-'.join(k) or 'defaults'}" for n, k in CASES])
def test_twenty_steps_match_torch(name, kwargs):
    ours, theirs = train(nerve, name, kwargs, 20), train(torch, name, kwargs, 20)
    start = problem()[1]
    assert any(not np.allclose(a, s) for a, s in zip(ours, start))  # it moved
    assert_same(ours, theirs, 1e-10)  # float64 on both sides: far inside the 1e-6 asked for


@pytest.mark.parametrize("name, kwargs", [("SGD", dict(lr=0.1, momentum=0.9)),
                                          ("Adam", dict(lr=0.01, amsgrad=True)),
                                          ("RMSprop", dict(lr=0.01, centered=True))])
def test_parameter_groups_match_torch(name, kwargs):
    groups = [{"params": [0, 1]}, {"params": [2], "lr": 0.003, "weight_decay": 0.2}]
    assert_same(train(nerve, name, kwargs, 20, groups), train(torch, name, kwargs, 20, groups),
                1e-10)


@pytest.mark.parametrize("name, kwargs", [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                                          ("AdamW", dict(lr=0.01)),
                                          ("Adagrad", dict(lr=0.1))])
def test_float32_matches_torch(name, kwargs):
    assert_same(train(nerve, name, kwargs, 20, dtype="float32"),
                train(torch, name, kwargs, 20, dtype="float32"), 1e-5)
