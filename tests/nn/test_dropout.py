"""Dropout (elementwise and channel-wise) and DropConnect."""
from __future__ import annotations

import numpy as np
import pytest

import nerve
import nerve.nn as nn
import nerve.nn.functional as F
from nerve.autograd import gradcheck, gradgradcheck


def x64(*shape, seed=0, requires_grad=True):
    data = np.random.default_rng(seed).uniform(0.5, 2.0, shape)
    return nerve.tensor(data, requires_grad=requires_grad)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_mask_scaling_and_gradient(p):
    nerve.manual_seed(0)
    x = x64(200, 300)
    out = F.dropout(x, p)
    ratio = out.detach().numpy() / x.detach().numpy()
    kept = ratio != 0
    np.testing.assert_allclose(ratio[kept], 1 / (1 - p), rtol=1e-12)
    assert kept.mean() == pytest.approx(1 - p, abs=0.01)
    g = np.random.default_rng(1).standard_normal(x.shape)
    out.backward(nerve.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), g * ratio, rtol=1e-12)  # the same mask


def test_identity_cases_and_p_one():
    x = x64(3, 4)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert F.dropout2d(x64(2, 3, 4, 4), 0.7, training=False).shape == (2, 3, 4, 4)
    out = F.dropout(x, 1.0)
    assert np.all(out.detach().numpy() == 0)
    out.sum().backward()
    assert np.all(x.grad.numpy() == 0)


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5", True])
def test_invalid_probability(p):
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x64(2), p)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout2d(p)


def test_seeded_and_fresh_masks():
    x = x64(50)
    nerve.manual_seed(3)
    a, b = F.dropout(x, 0.5), F.dropout(x, 0.5)
    nerve.manual_seed(3)
    c = F.dropout(x, 0.5)
    assert np.array_equal(a.detach().numpy(), c.detach().numpy())
    assert not np.array_equal(a.detach().numpy(), b.detach().numpy())


def test_float32_stays_float32():
    out = F.dropout(nerve.ones(10, dtype=nerve.float32), 0.3)
    assert out.dtype == np.float32
    with pytest.raises(TypeError, match="floating"):
        F.dropout(nerve.tensor([1, 2]), 0.3)


def seeded(fn):
    """The same mask on every call, so finite differences see one function."""
    def call(t):
        nerve.manual_seed(7)
        return fn(t)
    return call


@pytest.mark.parametrize("fn", [lambda t: F.dropout(t, 0.4),
                                lambda t: F.dropout2d(t, 0.4)])
def test_gradcheck(fn):
    x = x64(2, 3, 2, 2)
    assert gradcheck(seeded(fn), (x,))
    assert gradgradcheck(seeded(lambda t: fn(t) * t), (x,))


@pytest.mark.parametrize("fn, shape, channel_axes", [
    (F.dropout1d, (4, 6, 5), (0, 1)), (F.dropout1d, (6, 5), (0,)),
    (F.dropout2d, (4, 6, 3, 3), (0, 1)), (F.dropout2d, (6, 3, 3), (0,)),
    (F.dropout3d, (2, 6, 2, 3, 3), (0, 1)),
])
def test_channel_dropout_zeroes_whole_channels(fn, shape, channel_axes):
    nerve.manual_seed(0)
    x = x64(*shape)
    ratio = fn(x, 0.5).detach().numpy() / x.detach().numpy()
    spatial = tuple(range(len(channel_axes), len(shape)))
    per_channel = ratio.reshape(ratio.shape[:len(channel_axes)] + (-1,))
    assert np.all(per_channel == per_channel[..., :1])  # one value per channel
    assert set(np.unique(ratio)) <= {0.0, 2.0}
    assert 0 < (ratio.max(axis=spatial) == 0).mean() < 1


def test_channel_dropout_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r"dropout2d: expected a 4-D input \(N, C, H, W\)"):
        F.dropout2d(x64(2, 3), 0.5)


@pytest.mark.parametrize("cls, shape", [(nn.Dropout, (2, 4)), (nn.Dropout1d, (2, 4, 3)),
                                        (nn.Dropout2d, (2, 4, 3, 3)),
                                        (nn.Dropout3d, (2, 4, 3, 3, 3))])
def test_modules_follow_training_mode(cls, shape):
    layer = cls(0.5)
    x = x64(*shape)
    nerve.manual_seed(0)
    assert np.any(layer(x).detach().numpy() == 0)
    assert layer.eval()(x) is x
    assert repr(layer) == f"{cls.__name__}(p=0.5, inplace=False)"


def test_dropconnect_masks_the_weight_per_call():
    layer = nn.Linear(6, 4, dtype=nerve.float64)
    wrapped = nn.DropConnect(layer, p=0.5)
    x = x64(3, 6)
    nerve.manual_seed(11)
    out = wrapped(x)
    nerve.manual_seed(11)  # the same draw gives the same mask on a weight-shaped tensor
    mask = F.dropout(nerve.ones(4, 6, dtype=nerve.float64), 0.5).numpy()
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    np.testing.assert_allclose(out.detach().numpy(), x.detach().numpy() @ (w * mask).T + b,
                               rtol=1e-12)
    g = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(nerve.tensor(g))
    np.testing.assert_allclose(layer.weight.grad.numpy(), (g.T @ x.detach().numpy()) * mask,
                               rtol=1e-12)
    assert layer.weight is layer._parameters["weight"] and layer.__dict__["weight"] is \
        layer.weight  # restored after the call
    wrapped.eval()
    np.testing.assert_allclose(wrapped(x).detach().numpy(), layer(x).detach().numpy())
    assert list(wrapped.state_dict()) == ["module.weight", "module.bias"]


def test_dropconnect_restores_weights_after_an_error():
    layer = nn.Linear(3, 2)
    wrapped = nn.DropConnect(layer, 0.5)
    with pytest.raises(ValueError):
        wrapped(nerve.ones(2, 5))
    assert layer.__dict__["weight"] is layer._parameters["weight"]


def test_dropconnect_validation():
    with pytest.raises(ValueError, match="no parameter 'weight_hh'"):
        nn.DropConnect(nn.Linear(2, 2), 0.5, weights="weight_hh")
    with pytest.raises(TypeError, match="Module"):
        nn.DropConnect(lambda x: x, 0.5)
