"""Recurrent layers: values against a NumPy step-by-step reference, float64 gradient checks
(first and second order) of the fused sequence primitives in both directions, module shapes
for every layout, parameter names and init, dropout between layers, and input errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

import nerve
import nerve.nn as nn
from nerve.autograd import gradcheck, gradgradcheck
from nerve.ops.recurrent import GATES, gru_cell, lstm_cell, recurrent_layer

MODES = ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]


def rand(shape, seed=0, scale=1.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


def leaf(a, dtype=np.float64):
    return nerve.tensor(np.asarray(a, dtype=dtype), requires_grad=True)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def ref_layer(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=False):
    """NumPy reference, one step at a time, PyTorch's equations."""
    hidden = h0.shape[-1]
    h, c = h0, c0
    out = [None] * len(x)
    for t in (range(len(x) - 1, -1, -1) if reverse else range(len(x))):
        gi, gh = x[t] @ w_ih.T + b_ih, h @ w_hh.T + b_hh
        if mode == "LSTM":
            i, f, g, o = np.split(gi + gh, 4, axis=-1)
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
        elif mode == "GRU":
            r = sigmoid(gi[:, :hidden] + gh[:, :hidden])
            z = sigmoid(gi[:, hidden:2 * hidden] + gh[:, hidden:2 * hidden])
            n = np.tanh(gi[:, 2 * hidden:] + r * gh[:, 2 * hidden:])
            h = (1 - z) * n + z * h
        else:
            pre = gi + gh
            h = np.tanh(pre) if mode == "RNN_TANH" else np.maximum(pre, 0)
        out[t] = h
    return np.stack(out), h, c


def layer_arrays(mode, steps=4, batch=3, inputs=3, hidden=4, seed=0):
    g = GATES[mode] * hidden
    return dict(x=rand((steps, batch, inputs), seed), h0=rand((batch, hidden), seed + 1),
                c0=rand((batch, hidden), seed + 2), w_ih=rand((g, inputs), seed + 3, 0.5),
                w_hh=rand((g, hidden), seed + 4, 0.5), b_ih=rand(g, seed + 5),
                b_hh=rand(g, seed + 6))


def call_layer(mode, reverse, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    outs = recurrent_layer(mode, x, h0, w_ih, w_hh, b_ih, b_hh,
                           c0=c0 if mode == "LSTM" else None, reverse=reverse)
    return outs


# ---- the fused primitive --------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_layer_values_match_numpy(mode, reverse, dtype):
    a = layer_arrays(mode)
    outs = call_layer(mode, reverse, **{k: nerve.tensor(v.astype(dtype)) for k, v in a.items()})
    ref_out, ref_h, ref_c = ref_layer(mode, reverse=reverse, **a)
    tol = dict(rtol=1e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    assert outs[0].dtype == dtype
    np.testing.assert_allclose(outs[0].detach().numpy(), ref_out, **tol)
    np.testing.assert_allclose(outs[1].detach().numpy(), ref_h, **tol)
    if mode == "LSTM":
        np.testing.assert_allclose(outs[2].detach().numpy(), ref_c, **tol)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_layer_gradcheck_first_and_second_order(mode, reverse):
    a = layer_arrays(mode, steps=3, batch=2, inputs=2, hidden=3, seed=3)
    names = list(a) if mode == "LSTM" else [k for k in a if k != "c0"]
    tensors = [leaf(a[k]) for k in names]

    def fn(*ts):
        kw = dict(zip(names, ts))
        kw.setdefault("c0", None)
        return call_layer(mode, reverse, **kw)

    assert gradcheck(fn, tensors)
    assert gradgradcheck(fn, tensors)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_in_place_backward_matches_graph_backward(mode, reverse, dtype):
    """The first-order backward (in place, on arrays) and the create_graph one (on tensors)
    are two codings of the same BPTT: their gradients agree to the last bit."""
    a = layer_arrays(mode, steps=5, batch=3, inputs=2, hidden=4, seed=7)
    names = list(a) if mode == "LSTM" else [k for k in a if k != "c0"]
    tensors = [leaf(a[k], dtype) for k in names]
    kw = dict(zip(names, tensors))
    kw.setdefault("c0", None)
    outs = call_layer(mode, reverse, **kw)
    loss = sum((o * nerve.tensor(rand(o.shape, i + 20).astype(dtype))).sum()
               for i, o in enumerate(outs))
    plain = nerve.autograd.grad(loss, tensors, retain_graph=True)
    graph = nerve.autograd.grad(loss, tensors, create_graph=True)
    for p, q in zip(plain, graph):
        assert p.dtype == dtype
        np.testing.assert_array_equal(p.numpy(), q.detach().numpy())


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_layer_without_bias(mode):
    a = layer_arrays(mode, steps=3, batch=2, inputs=2, hidden=3, seed=5)
    names = ["x", "h0", "w_ih", "w_hh"] + (["c0"] if mode == "LSTM" else [])
    tensors = [leaf(a[k]) for k in names]

    def fn(x, h0, w_ih, w_hh, c0=None):
        return recurrent_layer(mode, x, h0, w_ih, w_hh, c0=c0)

    assert gradcheck(fn, tensors)
    ref_out, _, _ = ref_layer(mode, a["x"], a["h0"], a["c0"], a["w_ih"], a["w_hh"], 0.0, 0.0)
    np.testing.assert_allclose(fn(*tensors)[0].detach().numpy(), ref_out, rtol=1e-12,
                               atol=1e-13)


def test_cells_match_one_step_of_numpy():
    a = layer_arrays("LSTM", steps=1)
    h, c = lstm_cell(nerve.tensor(a["x"][0]), (nerve.tensor(a["h0"]), nerve.tensor(a["c0"])),
                     *(nerve.tensor(a[k]) for k in ("w_ih", "w_hh", "b_ih", "b_hh")))
    _, ref_h, ref_c = ref_layer("LSTM", **a)
    np.testing.assert_allclose(h.detach().numpy(), ref_h, rtol=1e-12)
    np.testing.assert_allclose(c.detach().numpy(), ref_c, rtol=1e-12)
    g = layer_arrays("GRU", steps=1)
    h = gru_cell(nerve.tensor(g["x"][0]), nerve.tensor(g["h0"]),
                 *(nerve.tensor(g[k]) for k in ("w_ih", "w_hh", "b_ih", "b_hh")))
    np.testing.assert_allclose(h.detach().numpy(), ref_layer("GRU", **g)[1], rtol=1e-12)


def test_long_sequence_backward_is_iterative():
    lstm = nn.LSTM(2, 3)
    out, _ = lstm(nerve.randn(3000, 1, 2))
    out.sum().backward()
    assert np.isfinite(lstm.weight_hh_l0.grad.detach().numpy()).all()


# ---- modules: shapes, layouts, parameters ---------------------------------------------------
CONFIGS = [dict(num_layers=1), dict(num_layers=2, bidirectional=True),
           dict(num_layers=3, batch_first=True), dict(bidirectional=True, batch_first=True),
           dict(num_layers=2, bias=False)]


def make(mode, inputs=5, hidden=6, **kw):
    if mode.startswith("RNN"):
        return nn.RNN(inputs, hidden, nonlinearity=mode[4:].lower(), **kw)
    return getattr(nn, mode)(inputs, hidden, **kw)


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("mode", MODES)
def test_module_shapes(mode, cfg):
    layer = make(mode, **cfg)
    d, layers = 2 if cfg.get("bidirectional") else 1, cfg.get("num_layers", 1)
    x = nerve.randn(*((3, 7, 5) if cfg.get("batch_first") else (7, 3, 5)))
    state_shape = (d * layers, 3, 6)
    hx = nerve.randn(*state_shape)
    out, state = layer(x, (hx, hx) if mode == "LSTM" else hx)
    assert out.shape == ((3, 7, d * 6) if cfg.get("batch_first") else (7, 3, d * 6))
    for s in (state if mode == "LSTM" else (state,)):
        assert s.shape == state_shape
    # unbatched input: (seq, features) and states without the batch dimension
    out, state = layer(nerve.randn(7, 5))
    assert out.shape == (7, d * 6)
    hx = nerve.randn(d * layers, 6)
    out_given, _ = layer(nerve.randn(7, 5), (hx, hx) if mode == "LSTM" else hx)
    assert out_given.shape == (7, d * 6)
    for s in (state if mode == "LSTM" else (state,)):
        assert s.shape == (d * layers, 6)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_final_states_are_the_last_outputs(mode):
    layer = make(mode, num_layers=2, bidirectional=True, batch_first=True)
    out, state = layer(nerve.randn(2, 5, 5))
    h_n = (state[0] if mode == "LSTM" else state).detach().numpy()
    np.testing.assert_array_equal(h_n[2], out.detach().numpy()[:, -1, :6])  # last layer, forward
    np.testing.assert_array_equal(h_n[3], out.detach().numpy()[:, 0, 6:])  # last layer, reverse


def test_stacked_bidirectional_matches_reference():
    layer = nn.GRU(3, 4, num_layers=2, bidirectional=True, dtype=nerve.float64)
    x, h0 = rand((5, 2, 3)), rand((4, 2, 4), 1)
    out, h_n = layer(nerve.tensor(x), nerve.tensor(h0))
    p = {k: v.detach().numpy() for k, v in layer.state_dict().items()}
    inp, finals = x, []
    for k in range(2):
        outs = []
        for d, suffix in enumerate(("", "_reverse")):
            w = [p[f"{n}_l{k}{suffix}"] for n in ("weight_ih", "weight_hh", "bias_ih",
                                                  "bias_hh")]
            o, h, _ = ref_layer("GRU", inp, h0[2 * k + d], None, *w, reverse=d == 1)
            outs.append(o)
            finals.append(h)
        inp = np.concatenate(outs, -1)
    np.testing.assert_allclose(out.detach().numpy(), inp, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(h_n.detach().numpy(), np.stack(finals), rtol=1e-12, atol=1e-13)


def test_module_gradcheck_two_layers_bidirectional():
    lstm = nn.LSTM(2, 3, num_layers=2, bidirectional=True, dtype=nerve.float64)
    x, h0, c0 = leaf(rand((3, 2, 2))), leaf(rand((4, 2, 3), 1)), leaf(rand((4, 2, 3), 2))
    params = list(lstm.parameters())

    def fn(x, h0, c0, *ps):
        out, (h, c) = lstm(x, (h0, c0))
        return out, h, c

    assert gradcheck(fn, [x, h0, c0] + params, random_directions=20)


@pytest.mark.parametrize("mode", MODES)
def test_parameter_names_shapes_and_init(mode):
    layer = make(mode, inputs=5, hidden=16, num_layers=2, bidirectional=True)
    g = GATES[mode] * 16
    expected = []
    for k in range(2):
        for suffix in ("", "_reverse"):
            expected += [(f"weight_ih_l{k}{suffix}", (g, 5 if k == 0 else 32)),
                         (f"weight_hh_l{k}{suffix}", (g, 16)),
                         (f"bias_ih_l{k}{suffix}", (g,)), (f"bias_hh_l{k}{suffix}", (g,))]
    got = [(k, tuple(v.shape)) for k, v in layer.state_dict().items()]
    assert got == expected
    bound = 1 / math.sqrt(16)
    for p in layer.parameters():
        values = p.detach().numpy()
        assert p.dtype == np.float32
        assert np.abs(values).max() <= bound and values.std() > bound / 4


def test_cell_parameters_and_shapes():
    cells = {"RNNCell": (nn.RNNCell(4, 5, nonlinearity="relu"), 1),
             "LSTMCell": (nn.LSTMCell(4, 5), 4), "GRUCell": (nn.GRUCell(4, 5, bias=False), 3)}
    for name, (cell, gates) in cells.items():
        keys = ["weight_ih", "weight_hh"] + ([] if name == "GRUCell" else ["bias_ih", "bias_hh"])
        assert list(cell.state_dict()) == keys
        assert cell.weight_ih.shape == (gates * 5, 4)
        out = cell(nerve.randn(3, 4))
        h = out[0] if name == "LSTMCell" else out
        assert h.shape == (3, 5)
        single = cell(nerve.randn(4))
        assert (single[0] if name == "LSTMCell" else single).shape == (5,)


def test_cell_with_given_state_matches_layer_step():
    cell = nn.LSTMCell(3, 4, dtype=nerve.float64)
    x, h, c = (nerve.tensor(rand(s, i)) for i, s in enumerate([(2, 3), (2, 4), (2, 4)]))
    h1, c1 = cell(x, (h, c))
    w = [getattr(cell, n).detach().numpy() for n in ("weight_ih", "weight_hh", "bias_ih",
                                                      "bias_hh")]
    _, ref_h, ref_c = ref_layer("LSTM", x.numpy()[None], h.numpy(), c.numpy(), *w)
    np.testing.assert_allclose(h1.detach().numpy(), ref_h, rtol=1e-12)
    np.testing.assert_allclose(c1.detach().numpy(), ref_c, rtol=1e-12)


# ---- dropout between layers -----------------------------------------------------------------
def test_dropout_between_layers_only_in_training():
    nerve.manual_seed(0)
    lstm = nn.LSTM(4, 8, num_layers=2, dropout=0.5)
    x = nerve.randn(5, 3, 4)
    lstm.eval()
    a, b = lstm(x)[0].detach().numpy(), lstm(x)[0].detach().numpy()
    np.testing.assert_array_equal(a, b)
    lstm.train()
    c = lstm(x)[0].detach().numpy()
    assert not np.allclose(a, c)
    one_layer = nn.LSTM(4, 8, num_layers=1, dropout=0.5)  # nothing to drop between
    np.testing.assert_array_equal(one_layer(x)[0].detach().numpy(),
                                  one_layer.eval()(x)[0].detach().numpy())


# ---- errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5,), (2, 3, 4, 5)])
def test_wrong_rank_names_layer_and_shape(shape):
    with pytest.raises(ValueError, match=r"LSTM: expected a 2-D .* got shape \(" +
                       ", ".join(map(str, shape))):
        nn.LSTM(5, 3)(nerve.randn(*shape))


def test_wrong_feature_size():
    with pytest.raises(ValueError, match=r"GRU: .*input_size=5, got shape \(7, 2, 4\)"):
        nn.GRU(5, 3)(nerve.randn(7, 2, 4))
    with pytest.raises(ValueError, match=r"LSTMCell: .*input_size=5, got shape \(2, 4\)"):
        nn.LSTMCell(5, 3)(nerve.randn(2, 4))


def test_wrong_state_shape_and_type():
    with pytest.raises(ValueError, match=r"RNN: expected hx of shape \(2, 2, 3\), got \(1, 2, 3\)"):
        nn.RNN(5, 3, num_layers=2)(nerve.randn(7, 2, 5), nerve.randn(1, 2, 3))
    with pytest.raises(TypeError, match="LSTM: hx must be a tuple"):
        nn.LSTM(5, 3)(nerve.randn(7, 2, 5), nerve.randn(1, 2, 3))
    with pytest.raises(ValueError, match=r"LSTM: expected c_0 of shape \(1, 2, 3\)"):
        nn.LSTM(5, 3)(nerve.randn(7, 2, 5), (nerve.randn(1, 2, 3), nerve.randn(2, 3)))
    with pytest.raises(ValueError, match=r"GRUCell: expected hx of shape \(2, 3\)"):
        nn.GRUCell(5, 3)(nerve.randn(2, 5), nerve.randn(3))


def test_dtype_mismatch_and_bad_arguments():
    with pytest.raises(TypeError, match="LSTM: input has dtype float64 but the parameters are "
                                        "float32"):
        nn.LSTM(5, 3)(nerve.randn(7, 2, 5, dtype=nerve.float64))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(5, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout"):
        nn.GRU(5, 3, dropout=1.5)
    with pytest.raises(ValueError, match="empty"):
        nn.GRU(5, 3)(nerve.randn(0, 2, 5))
