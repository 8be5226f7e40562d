"""Linear, Identity, Flatten, Unflatten, Embedding: values against NumPy, gradients by
gradcheck, and against torch.nn where installed (weights copied, outputs and grads compared)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import nerve
import nerve.nn as nn
import nerve.nn.functional as F
from nerve.autograd import gradcheck, gradgradcheck


def f64(*shape, seed=0, requires_grad=True):
    data = np.random.default_rng(seed).standard_normal(shape)
    return nerve.tensor(data, requires_grad=requires_grad)


def params64(module):
    return module.to(nerve.float64)


# ---- Linear -------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3,), (5, 3), (2, 4, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_values_and_gradients(shape, bias):
    layer = params64(nn.Linear(3, 2, bias=bias))
    x = f64(*shape)
    w = layer.weight.detach().numpy()
    expected = x.detach().numpy() @ w.T + (layer.bias.detach().numpy() if bias else 0)
    np.testing.assert_allclose(layer(x).detach().numpy(), expected, rtol=1e-12)
    inputs = (x, layer.weight) + ((layer.bias,) if bias else ())
    assert gradcheck(lambda x, w, *b: F.linear(x, w, *b), inputs)
    assert gradgradcheck(lambda x, w, *b: F.linear(x, w, *b), inputs)


def test_linear_skips_unneeded_gradients():
    layer = nn.Linear(3, 2).requires_grad_(False)
    x = nerve.randn(4, 3, requires_grad=True)
    layer(x).sum().backward()
    assert layer.weight.grad is None and x.grad is not None


def test_linear_default_init_and_state():
    nerve.manual_seed(0)
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert w.var() == pytest.approx(bound ** 2 / 3, rel=0.03)
    assert list(layer.state_dict()) == ["weight", "bias"]
    assert nn.Linear(2, 2, dtype=nerve.float64).weight.dtype == np.float64


def test_linear_errors_name_layer_and_shapes():
    layer = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"Linear\(in_features=3.*\(\.\.\., 3\).*\(4, 5\)"):
        layer(nerve.ones(4, 5))
    with pytest.raises(TypeError, match="float64.*float32"):
        layer(nerve.ones(4, 3, dtype=nerve.float64))


def test_identity_flatten_unflatten():
    x = f64(2, 3, 4, 5)
    assert nn.Identity(7, k=1)(x) is x
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 2)(x).shape == (24, 5)
    np.testing.assert_array_equal(nn.Flatten(1, 2)(x).detach().numpy(),
                                  x.detach().numpy().reshape(2, 12, 5))
    y = nn.Unflatten(1, (3, 20))(nn.Flatten()(x))
    np.testing.assert_array_equal(y.detach().numpy(), x.detach().numpy().reshape(2, 3, 20))
    assert nn.Unflatten(-1, (-1, 5))(nerve.ones(2, 10)).shape == (2, 2, 5)
    with pytest.raises(ValueError, match="Unflatten"):
        nn.Unflatten(1, (4, 4))(nerve.ones(2, 10))
    with pytest.raises(IndexError, match="Flatten"):
        nn.Flatten(5)(nerve.ones(2, 3))
    assert gradcheck(lambda t: nn.Unflatten(0, (2, 1))(nn.Flatten(1)(t)), (x,))


# ---- Embedding ----------------------------------------------------------------------------
def test_embedding_lookup_and_scatter_add_gradient():
    emb = params64(nn.Embedding(6, 3))
    idx = nerve.tensor([[1, 4, 1], [0, 1, 5]])
    out = emb(idx)
    w = emb.weight.detach().numpy()
    np.testing.assert_array_equal(out.detach().numpy(), w[idx.numpy()])
    g = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(nerve.tensor(g))
    expected = np.zeros_like(w)
    np.add.at(expected, idx.numpy(), g)
    np.testing.assert_allclose(emb.weight.grad.numpy(), expected, rtol=1e-12)
    assert gradgradcheck(lambda w: F.embedding(idx, w) ** 2, (emb.weight,))


def test_embedding_padding_idx():
    emb = nn.Embedding(5, 2, padding_idx=-1)
    assert emb.padding_idx == 4
    assert np.all(emb.weight.detach().numpy()[4] == 0)
    with nerve.no_grad():
        emb.weight.data[4] = 7.0  # a padding row keeps its values but never learns
    idx = nerve.tensor([4, 1, 4, 0])
    out = emb(idx)
    assert np.all(out.detach().numpy()[0] == 7.0)
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.numpy()[:, 0], [1, 1, 0, 0, 0])


def test_embedding_from_pretrained():
    table = nerve.tensor(np.arange(12.0).reshape(4, 3))
    emb = nn.Embedding.from_pretrained(table)
    assert not emb.weight.requires_grad and emb.weight.data is table.data
    np.testing.assert_array_equal(emb(nerve.tensor([3])).numpy(), [[9.0, 10.0, 11.0]])
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad
    assert "padding_idx=0" in repr(nn.Embedding.from_pretrained(table, padding_idx=0))


def test_embedding_max_norm_and_grad_scaling():
    emb = params64(nn.Embedding(4, 2, max_norm=1.0))
    with nerve.no_grad():
        emb.weight.data = np.array([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0], [1.0, 0.0]])
    emb(nerve.tensor([0, 1]))
    w = emb.weight.detach().numpy()
    np.testing.assert_allclose(w[0], [0.6, 0.8], rtol=1e-6)  # renormed
    np.testing.assert_array_equal(w[1:], [[0.3, 0.4], [6.0, 8.0], [1.0, 0.0]])  # untouched
    freq = nn.Embedding(3, 2, scale_grad_by_freq=True)
    freq(nerve.tensor([0, 0, 0, 2])).sum().backward()
    np.testing.assert_allclose(freq.weight.grad.numpy()[:, 0], [1.0, 0.0, 1.0])


@pytest.mark.parametrize("index, error", [
    ([0, 6], IndexError), ([-1], IndexError), ([0.0, 1.0], TypeError),
])
def test_embedding_bad_indices(index, error):
    with pytest.raises(error, match="embedding"):
        nn.Embedding(6, 2)(nerve.tensor(index))


# ---- against torch ------------------------------------------------------------------------
@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed")


def copy_from_torch(nerve_module, torch_module):
    nerve_module.load_state_dict({k: v.detach().numpy()
                                  for k, v in torch_module.state_dict().items()})


def compare_grads(nerve_module, torch_module):
    tparams = dict(torch_module.named_parameters())
    for name, p in nerve_module.named_parameters():
        if tparams[name].grad is None:
            assert p.grad is None, name
        else:
            np.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(), rtol=1e-10,
                                       atol=1e-12, err_msg=name)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_against_torch(torch, bias):
    tl = torch.nn.Linear(5, 3, bias=bias, dtype=torch.float64)
    nl = nn.Linear(5, 3, bias=bias, dtype=nerve.float64)
    copy_from_torch(nl, tl)
    x = np.random.default_rng(0).standard_normal((2, 4, 5))
    tx, nx = torch.tensor(x, requires_grad=True), nerve.tensor(x, requires_grad=True)
    g = np.random.default_rng(1).standard_normal((2, 4, 3))
    tout, nout = tl(tx), nl(nx)
    np.testing.assert_allclose(nout.detach().numpy(), tout.detach().numpy(), rtol=1e-12)
    tout.backward(torch.tensor(g))
    nout.backward(nerve.tensor(g))
    np.testing.assert_allclose(nx.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    compare_grads(nl, tl)


@pytest.mark.parametrize("kwargs", [{}, dict(padding_idx=2), dict(scale_grad_by_freq=True)])
def test_embedding_against_torch(torch, kwargs):
    te = torch.nn.Embedding(7, 4, dtype=torch.float64, **kwargs)
    ne = nn.Embedding(7, 4, dtype=nerve.float64, **kwargs)
    copy_from_torch(ne, te)
    idx = np.array([[2, 3, 3, 0], [6, 2, 3, 1]])
    tout, nout = te(torch.tensor(idx)), ne(nerve.tensor(idx))
    np.testing.assert_array_equal(nout.detach().numpy(), tout.detach().numpy())
    g = np.random.default_rng(2).standard_normal(tout.shape)
    tout.backward(torch.tensor(g))
    nout.backward(nerve.tensor(g))
    compare_grads(ne, te)


def test_default_init_distribution_and_keys_match_torch(torch):
    layers = [(nn.Linear(3, 4), torch.nn.Linear(3, 4)),
              (nn.Embedding(5, 2, padding_idx=1), torch.nn.Embedding(5, 2, padding_idx=1))]
    for nl, tl in layers:
        assert list(nl.state_dict()) == list(tl.state_dict())
        assert repr(nl) == repr(tl)
        for (name, p), tp in zip(nl.named_parameters(), tl.parameters()):
            assert tuple(p.shape) == tuple(tp.shape), name
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    tseq = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    assert repr(seq) == repr(tseq)
    assert list(seq.state_dict()) == list(tseq.state_dict())
