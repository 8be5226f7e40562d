"""L1/L2 penalties and the weight-decay parameter groups."""
from __future__ import annotations

import numpy as np
import pytest

import nerve
import nerve.nn as nn
from nerve.nn import Module, Parameter
from nerve.nn.regularization import l1_penalty, l2_penalty, param_groups_for_weight_decay


def model():
    nerve.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4, dtype=nerve.float64), nn.Linear(4, 2, bias=False,
                                                                          dtype=nerve.float64))


def flat(module):
    return np.concatenate([p.detach().numpy().ravel() for p in module.parameters()])


@pytest.mark.parametrize("penalty, value, grad", [
    (l1_penalty, lambda w: np.abs(w).sum(), np.sign),
    (l2_penalty, lambda w: (w ** 2).sum(), lambda w: 2 * w),  # no 1/2 factor
])
def test_penalty_values_and_gradients(penalty, value, grad):
    net = model()
    loss = penalty(net, weight=0.3)
    assert loss.item() == pytest.approx(0.3 * value(flat(net)), rel=1e-12)
    loss.backward()
    grads = np.concatenate([p.grad.numpy().ravel() for p in net.parameters()])
    np.testing.assert_allclose(grads, 0.3 * grad(flat(net)), rtol=1e-12)


def test_penalty_inputs():
    net = model()
    expected = l2_penalty(net).item()
    assert l2_penalty(list(net.parameters())).item() == pytest.approx(expected)
    assert l2_penalty([{"params": list(net.parameters())}]).item() == pytest.approx(expected)
    assert l1_penalty(nerve.tensor([3.0, -4.0])).item() == 7.0
    assert l1_penalty([]).item() == 0.0
    with pytest.raises(TypeError, match="l2_penalty"):
        l2_penalty([1.0])


def test_l2_penalty_matches_sgd_weight_decay():
    # SGD's weight_decay=wd adds wd * p to the gradient; l2_penalty(weight=wd / 2) does too
    p = Parameter(nerve.tensor([1.5, -2.0], dtype=nerve.float64))
    l2_penalty([p], weight=0.1 / 2).backward()
    np.testing.assert_allclose(p.grad.numpy(), 0.1 * p.detach().numpy())


class LayerNorm(Module):  # stands in for nn.LayerNorm: found by class name
    def __init__(self, n):
        super().__init__()
        self.weight = Parameter(nerve.ones(n))
        self.bias = Parameter(nerve.zeros(n))


class BatchNorm2d(LayerNorm):
    pass


class MyNorm(LayerNorm):  # a subclass of a normalization layer counts as one
    pass


class Model(Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.fc = nn.Linear(4, 4)
        self.ln = LayerNorm(4)
        self.bn = BatchNorm2d(4)
        self.custom = MyNorm(4)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.emb.weight  # tied
        self.pos_embed = Parameter(nerve.zeros(4))


def ids(group):
    return {id(p) for p in group["params"]}


def test_param_groups_default_excludes_biases_and_norms():
    m = Model()
    decay, no_decay = param_groups_for_weight_decay(m, 0.05)
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    assert ids(decay) == {id(m.emb.weight), id(m.fc.weight), id(m.pos_embed)}
    expected = {id(m.fc.bias)} | {id(p) for layer in (m.ln, m.bn, m.custom)
                                  for p in layer.parameters()}
    assert ids(no_decay) == expected
    # every parameter exactly once, the tied one included
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(m.parameters()))


def test_param_groups_embedding_and_names():
    m = Model()
    decay, no_decay = param_groups_for_weight_decay(m, 0.1, exclude=("bias", "norm",
                                                                     "embedding", "pos_embed"))
    assert ids(decay) == {id(m.fc.weight)}
    assert id(m.emb.weight) in ids(no_decay) and id(m.pos_embed) in ids(no_decay)
    decay, no_decay = param_groups_for_weight_decay(m, 0.1, exclude=())
    assert no_decay["params"] == [] and len(decay["params"]) == len(list(m.parameters()))
    with pytest.raises(TypeError, match="Module"):
        param_groups_for_weight_decay([m.fc.weight], 0.1)


@pytest.mark.skipif(not all(hasattr(nn, n) for n in ("BatchNorm1d", "LayerNorm")),
                    reason="the normalization layers are not available")
def test_param_groups_with_the_real_normalization_layers():
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.LayerNorm(4))
    decay, no_decay = param_groups_for_weight_decay(m, 0.01)
    assert ids(decay) == {id(m[0].weight)}
    assert len(no_decay["params"]) == 5
