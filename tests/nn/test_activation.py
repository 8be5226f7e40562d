"""Activation modules: values against NumPy formulas, gradcheck in float64, reprs, and
values/gradients against torch.nn where installed."""
from __future__ import annotations

import math

import numpy as np
import pytest

import nerve
import nerve.nn as nn
from nerve.autograd import gradcheck

ERF = np.vectorize(math.erf)


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# (module, NumPy reference); inputs avoid the kinks at 0
CASES = [
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.ReLU(inplace=True), lambda x: np.maximum(x, 0)),
    (nn.ReLU6(), lambda x: np.clip(x, 0, 6)),
    (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nn.ELU(alpha=0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x))),
    (nn.GELU(), lambda x: 0.5 * x * (1 + ERF(x / math.sqrt(2)))),
    (nn.GELU("tanh"),
     lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (nn.Tanh(), np.tanh),
    (nn.SiLU(), lambda x: x / (1 + np.exp(-x))),
    (nn.Softplus(beta=2.0, threshold=3.0),
     lambda x: np.where(2 * x > 3, x, np.log1p(np.exp(2 * x)) / 2)),
    (nn.Softmax(dim=1), lambda x: softmax(x, 1)),
    (nn.Softmax(dim=-1), lambda x: softmax(x, -1)),
    (nn.LogSoftmax(dim=0), lambda x: np.log(softmax(x, 0))),
    (nn.Hardtanh(-0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5)),
    (nn.Mish(), lambda x: x * np.tanh(np.log1p(np.exp(x)))),
    (nn.Softsign(), lambda x: x / (1 + np.abs(x))),
]


def sample(shape=(3, 4, 5), seed=0):
    r = np.random.default_rng(seed)
    x = r.uniform(0.1, 4.0, shape) * r.choice([-1.0, 1.0], shape)
    return np.where(np.abs(np.abs(x) - 0.5) < 0.05, x + 0.2, x)  # away from Hardtanh's kinks


@pytest.mark.parametrize("module, reference", CASES, ids=lambda c: repr(c)[:30])
def test_values_and_gradients(module, reference):
    x = nerve.tensor(sample(), requires_grad=True)
    np.testing.assert_allclose(module(x).detach().numpy(), reference(sample()), rtol=1e-12,
                               atol=1e-14)
    assert gradcheck(module, (x,))


def test_float32_keeps_dtype():
    x = nerve.tensor(sample().astype(np.float32))
    for module, _ in CASES:
        assert module(x).dtype == np.float32, module


def test_softmax_legacy_dim():
    x = sample((2, 3, 4))
    np.testing.assert_allclose(nn.Softmax()(nerve.tensor(x)).numpy(), softmax(x, 0), rtol=1e-12)
    y = sample((2, 3))
    np.testing.assert_allclose(nn.LogSoftmax()(nerve.tensor(y)).numpy(),
                               np.log(softmax(y, 1)), rtol=1e-12)


def test_prelu_shared_and_per_channel():
    x = nerve.tensor(sample((2, 3, 4)), requires_grad=True)
    shared = nn.PReLU().to(nerve.float64)
    expected = np.where(sample((2, 3, 4)) >= 0, sample((2, 3, 4)), 0.25 * sample((2, 3, 4)))
    np.testing.assert_allclose(shared(x).detach().numpy(), expected, rtol=1e-12)
    per_channel = nn.PReLU(3, init=0.1).to(nerve.float64)
    with nerve.no_grad():
        per_channel.weight.data = np.array([0.1, 0.2, 0.3])
    assert gradcheck(lambda t, w: nn.functional.relu(t) - w.reshape(3, 1) * nn.functional.relu(
        -t), (x, per_channel.weight))
    assert gradcheck(lambda t: per_channel(t), (x,))
    per_channel(x).sum().backward()
    neg = np.minimum(sample((2, 3, 4)), 0).sum(axis=(0, 2))
    np.testing.assert_allclose(per_channel.weight.grad.numpy(), neg, rtol=1e-12)
    with pytest.raises(ValueError, match="PReLU: expected 3 channels"):
        per_channel(nerve.ones(2, 4))


def test_reprs_and_validation():
    assert repr(nn.ReLU()) == "ReLU()" and repr(nn.ReLU(True)) == "ReLU(inplace=True)"
    assert repr(nn.LeakyReLU(0.1)) == "LeakyReLU(negative_slope=0.1)"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match="Hardtanh"):
        nn.Hardtanh(1.0, -1.0)


TORCH_NAMES = {"ReLU", "ReLU6", "LeakyReLU", "ELU", "GELU", "Sigmoid", "Tanh", "SiLU",
               "Softplus", "Softmax", "LogSoftmax", "Hardtanh", "Mish", "Softsign"}


@pytest.mark.parametrize("module", [m for m, _ in CASES], ids=lambda m: repr(m)[:30])
def test_against_torch(module):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    name = type(module).__name__
    assert name in TORCH_NAMES
    kwargs = {k: getattr(module, k) for k in ("negative_slope", "alpha", "approximate", "beta",
                                              "threshold", "dim", "min_val", "max_val")
              if k in vars(module) and not (name == "ReLU6" and k in ("min_val", "max_val"))}
    reference = getattr(torch.nn, name)(**kwargs)
    assert repr(module).replace("inplace=True", "") == repr(reference)
    x = sample()
    tx, nx = torch.tensor(x, requires_grad=True), nerve.tensor(x, requires_grad=True)
    tout, nout = reference(tx), module(nx)
    np.testing.assert_allclose(nout.detach().numpy(), tout.detach().numpy(), rtol=1e-12,
                               atol=1e-14)
    g = np.random.default_rng(3).standard_normal(x.shape)
    tout.backward(torch.tensor(g))
    nout.backward(nerve.tensor(g))
    np.testing.assert_allclose(nx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
