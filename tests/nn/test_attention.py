"""Attention: scaled_dot_product_attention and multi-head attention against NumPy formulas,
float64 gradient checks, masks (bool, float, causal, key padding, fully masked rows), shapes of
every layout, errors; and, where torch is installed, MultiheadAttention and the transformer
layers against PyTorch with copied weights (outputs, weights, input and parameter grads)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import nerve
import nerve.nn as nn
import nerve.nn.functional as F
from nerve.autograd import gradcheck, gradgradcheck

try:
    import torch
except ImportError:  # the torch comparisons below are skipped
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def leaf(a, dtype=np.float64):
    return nerve.tensor(np.asarray(a, dtype=dtype), requires_grad=True)


def arr(t):
    return t.detach().numpy()


def ref_attention(q, k, v, add_mask=None, scale=None):
    scores = q @ np.swapaxes(k, -1, -2) * (scale or 1 / math.sqrt(q.shape[-1]))
    if add_mask is not None:
        scores = scores + add_mask
    e = np.exp(scores - scores.max(-1, keepdims=True))
    w = e / e.sum(-1, keepdims=True)
    return w @ v, w


# ---- scaled_dot_product_attention --------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mask_kind", ["none", "bool", "float", "causal", "scale"])
def test_sdpa_values(mask_kind, dtype):
    q, k, v = rand((2, 3, 4, 5)), rand((2, 3, 6, 5), 1), rand((2, 3, 6, 7), 2)
    kwargs, add, scale = {}, None, None
    if mask_kind == "bool":
        mask = rand((4, 6), 3) > -0.5
        mask[:, 0] = True
        kwargs["attn_mask"] = nerve.tensor(mask)
        add = np.where(mask, 0, -np.inf)
    elif mask_kind == "float":
        add = rand((3, 1, 6), 4)
        kwargs["attn_mask"] = nerve.tensor(add.astype(dtype))
    elif mask_kind == "causal":
        kwargs["is_causal"] = True
        add = np.where(np.tri(4, 6, dtype=bool), 0, -np.inf)
    elif mask_kind == "scale":
        kwargs["scale"] = scale = 0.3
    out = F.scaled_dot_product_attention(*(nerve.tensor(a.astype(dtype)) for a in (q, k, v)),
                                         **kwargs)
    assert out.dtype == dtype and out.shape == (2, 3, 4, 7)
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(arr(out), ref_attention(q, k, v, add, scale)[0], **tol)


def test_sdpa_gradcheck_with_float_mask():
    q, k, v, m = leaf(rand((2, 3, 4))), leaf(rand((2, 5, 4), 1)), leaf(rand((2, 5, 3), 2)), \
        leaf(rand((3, 5), 3))

    def fn(q, k, v, m):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=m)

    assert gradcheck(fn, (q, k, v, m))
    assert gradgradcheck(fn, (q, k, v, m))


def test_sdpa_fully_masked_row_gives_zeros_and_finite_grads():
    q, k, v = leaf(rand((1, 3, 4))), leaf(rand((1, 4, 4), 1)), leaf(rand((1, 4, 2), 2))
    mask = np.ones((3, 4), bool)
    mask[1] = False  # query 1 may attend to nothing
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=nerve.tensor(mask))
    np.testing.assert_array_equal(arr(out)[0, 1], 0)
    np.testing.assert_allclose(arr(out)[0, [0, 2]],
                               ref_attention(arr(q), arr(k), arr(v))[0][0, [0, 2]], rtol=1e-12)
    out.sum().backward()
    for t in (q, k, v):
        assert np.isfinite(t.grad.numpy()).all()
    np.testing.assert_array_equal(q.grad.numpy()[0, 1], 0)


def test_sdpa_dropout():
    q = nerve.randn(2, 4, 3)
    np.testing.assert_array_equal(arr(F.scaled_dot_product_attention(q, q, q, dropout_p=1.0)), 0)
    nerve.manual_seed(0)
    a = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    assert not np.allclose(arr(a), arr(F.scaled_dot_product_attention(q, q, q)))


def test_sdpa_errors():
    q = nerve.randn(2, 4, 3)
    with pytest.raises(ValueError, match=r"query \(2, 4, 3\), key \(2, 4, 5\)"):
        F.scaled_dot_product_attention(q, nerve.randn(2, 4, 5), nerve.randn(2, 4, 5))
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=nerve.ones(4, 4), is_causal=True)
    with pytest.raises(ValueError, match=r"attn_mask of shape \(3, 4\) does not broadcast"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=nerve.ones(3, 4))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        F.scaled_dot_product_attention(nerve.randn(3), q, q)


# ---- MultiheadAttention -----------------------------------------------------------------
def ref_mha(mha, q, k, v, add_mask=None):
    """NumPy multi-head attention, sequence-first (L, N, E), packed projection weights."""
    p = {name: arr(t) for name, t in mha.state_dict().items()}
    e, h = mha.embed_dim, mha.num_heads
    wq, wk, wv = np.split(p["in_proj_weight"], 3)
    bq, bk, bv = np.split(p["in_proj_bias"], 3)

    def heads(x):  # (S, N, E) -> (N, h, S, E/h)
        return x.reshape(x.shape[0], x.shape[1], h, e // h).transpose(1, 2, 0, 3)

    out, w = ref_attention(heads(q @ wq.T + bq), heads(k @ wk.T + bk), heads(v @ wv.T + bv),
                           add_mask)
    out = out.transpose(2, 0, 1, 3).reshape(q.shape[0], q.shape[1], e)
    return out @ p["out_proj.weight"].T + p["out_proj.bias"], w.mean(1)


def test_mha_values_with_masks_match_numpy():
    mha = nn.MultiheadAttention(8, 2, dtype=nerve.float64)
    with nerve.no_grad():
        mha.in_proj_bias.copy_(nerve.tensor(rand(24, 5)))
        mha.out_proj.bias.copy_(nerve.tensor(rand(8, 6)))
    q, kv = rand((4, 3, 8)), rand((6, 3, 8), 1)
    padding = np.zeros((3, 6), bool)
    padding[1, 4:] = True
    causal = np.triu(np.ones((4, 6), bool), 1)
    out, w = mha(nerve.tensor(q), nerve.tensor(kv), nerve.tensor(kv),
                 key_padding_mask=nerve.tensor(padding), attn_mask=nerve.tensor(causal))
    add = np.where(causal, -np.inf, 0)[None, None] + \
        np.where(padding, -np.inf, 0)[:, None, None, :]
    ref_out, ref_w = ref_mha(mha, q, kv, kv, add)
    np.testing.assert_allclose(arr(out), ref_out, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(arr(w), ref_w, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_shapes(batch_first):
    mha = nn.MultiheadAttention(12, 3, batch_first=batch_first, kdim=5, vdim=7)
    assert [k for k in mha.state_dict()] == ["q_proj_weight", "k_proj_weight", "v_proj_weight",
                                             "in_proj_bias", "out_proj.weight",
                                             "out_proj.bias"]
    seq = (lambda s, d: (2, s, d)) if batch_first else (lambda s, d: (s, 2, d))
    q, k, v = nerve.randn(*seq(4, 12)), nerve.randn(*seq(6, 5)), nerve.randn(*seq(6, 7))
    out, w = mha(q, k, v)
    assert out.shape == seq(4, 12) and w.shape == (2, 4, 6)
    out, w = mha(q, k, v, average_attn_weights=False)
    assert w.shape == (2, 3, 4, 6)
    assert mha(q, k, v, need_weights=False)[1] is None
    out, w = mha(nerve.randn(4, 12), nerve.randn(6, 5), nerve.randn(6, 7))  # unbatched
    assert out.shape == (4, 12) and w.shape == (4, 6)


def test_mha_is_causal_builds_the_causal_mask():
    mha = nn.MultiheadAttention(8, 2)
    x = nerve.randn(5, 2, 8)
    causal = nerve.tensor(np.triu(np.ones((5, 5), bool), 1))
    a, wa = mha(x, x, x, is_causal=True)
    b, wb = mha(x, x, x, attn_mask=causal, is_causal=True)
    np.testing.assert_array_equal(arr(a), arr(b))
    np.testing.assert_array_equal(np.triu(arr(wa), 1), 0)
    assert not np.allclose(arr(a), arr(mha(x, x, x)[0]))


def test_mha_bias_kv_and_zero_attn_add_key_positions():
    mha = nn.MultiheadAttention(8, 2, add_bias_kv=True, add_zero_attn=True)
    assert mha.bias_k.shape == (1, 1, 8)
    x = nerve.randn(5, 2, 8)
    out, w = mha(x, x, x, key_padding_mask=nerve.zeros(2, 5, dtype=nerve.bool_))
    assert out.shape == (5, 2, 8) and w.shape == (2, 5, 7)


def test_mha_default_init():
    mha = nn.MultiheadAttention(16, 4)
    np.testing.assert_array_equal(arr(mha.in_proj_bias), 0)
    np.testing.assert_array_equal(arr(mha.out_proj.bias), 0)
    bound = math.sqrt(6 / (16 + 48))  # xavier_uniform_ on (48, 16)
    w = arr(mha.in_proj_weight)
    assert np.abs(w).max() <= bound and w.std() > bound / 3


def test_mha_gradcheck():
    mha = nn.MultiheadAttention(4, 2, dtype=nerve.float64)
    x, kv = leaf(rand((3, 2, 4))), leaf(rand((5, 2, 4), 1))
    padding = nerve.tensor(np.array([[False] * 5, [False, False, False, True, True]]))

    def fn(x, kv, *params):
        return mha(x, kv, kv, key_padding_mask=padding)

    assert gradcheck(fn, [x, kv] + list(mha.parameters()), random_directions=20)


def test_mha_errors():
    mha = nn.MultiheadAttention(8, 2)
    with pytest.raises(ValueError, match=r"MultiheadAttention: expected query with last "
                                         r"dimension 8, got shape \(4, 2, 6\)"):
        mha(nerve.randn(4, 2, 6), nerve.randn(4, 2, 8), nerve.randn(4, 2, 8))
    with pytest.raises(ValueError, match=r"MultiheadAttention: expected 3-D .* got query of "
                                         r"shape \(1, 4, 2, 8\)"):
        x = nerve.randn(1, 4, 2, 8)
        mha(x, x, x)
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(2, 4\)"):
        x = nerve.randn(4, 2, 8)
        mha(x, x, x, key_padding_mask=nerve.zeros(2, 3, dtype=nerve.bool_))
    with pytest.raises(ValueError, match="divisible|multiple"):
        nn.MultiheadAttention(10, 3)


# ---- transformer layers -------------------------------------------------------------------
@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_is_residual_attention_then_feed_forward(norm_first):
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, norm_first=norm_first,
                                       dtype=nerve.float64)
    x = nerve.tensor(rand((5, 3, 8)))
    sa = layer.self_attn(x, x, x, need_weights=False)[0]

    def ff(y):
        return layer.linear2(F.relu(layer.linear1(y)))

    if norm_first:
        n1 = layer.norm1(x)
        h = x + layer.self_attn(n1, n1, n1, need_weights=False)[0]
        expected = h + ff(layer.norm2(h))
    else:
        h = layer.norm1(x + sa)
        expected = layer.norm2(h + ff(h))
    np.testing.assert_allclose(arr(layer(x)), arr(expected), rtol=1e-12, atol=1e-13)


def test_layer_shapes_dropout_and_stacks():
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2)
    assert enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight  # deep copies
    x = nerve.randn(3, 5, 8)
    a, b = arr(enc(x)), arr(enc(x))
    assert a.shape == (3, 5, 8) and not np.allclose(a, b)  # dropout in training mode
    enc.eval()
    np.testing.assert_array_equal(arr(enc(x)), arr(enc(x)))
    dec = nn.TransformerDecoderLayer(8, 2, 16, activation="gelu")
    assert dec(nerve.randn(4, 2, 8), nerve.randn(6, 2, 8)).shape == (4, 2, 8)
    model = nn.Transformer(8, 2, 1, 1, 16)
    assert model(nerve.randn(6, 2, 8), nerve.randn(4, 2, 8)).shape == (4, 2, 8)
    mask = arr(nn.Transformer.generate_square_subsequent_mask(3))
    np.testing.assert_array_equal(mask, [[0, -np.inf, -np.inf], [0, 0, -np.inf], [0, 0, 0]])


def test_layer_errors():
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    with pytest.raises(ValueError, match=r"TransformerEncoderLayer: expected src of shape "
                                         r"\(seq, batch, 8\).* got \(5, 3, 4\)"):
        layer(nerve.randn(5, 3, 4))
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


# ---- against PyTorch ----------------------------------------------------------------------
TOL = dict(rtol=1e-9, atol=1e-11)


def copy_pair(ref):
    """``ref`` (a float64 torch module) and a nerve twin with the same state."""
    ref = ref.double()
    return {k: v.detach().numpy() for k, v in ref.state_dict().items()}


def compare(ref_out, out, ref_leaves, leaves, seed=0):
    outs = [(r, m) for r, m in zip(ref_out, out) if r is not None]
    loss_r, loss_m = 0, 0
    for r, m in outs:
        assert tuple(r.shape) == tuple(m.shape)
        np.testing.assert_allclose(arr(m), r.detach().numpy(), **TOL)
        w = rand(tuple(r.shape), seed)
        loss_r = loss_r + (r * torch.tensor(w)).sum()
        loss_m = loss_m + (m * nerve.tensor(w)).sum()
    loss_r.backward()
    loss_m.backward()
    for r, m in zip(ref_leaves, leaves):
        np.testing.assert_allclose(m.grad.numpy(), r.grad.numpy(), **TOL)


def tensors(array):
    return torch.tensor(array, requires_grad=True), nerve.tensor(array, requires_grad=True)


MHA_CASES = [
    dict(mask="causal_bool", padding=True, batch_first=False),
    dict(mask="float", padding=True, batch_first=True),
    dict(mask="per_head", padding=False, batch_first=True, average=False),
    dict(mask=None, padding=True, kdim=5, vdim=3),
    dict(mask="causal_bool", padding=True, bias_kv=True, zero_attn=True, self_attn=True),
]


@needs_torch
@pytest.mark.parametrize("case", MHA_CASES)
def test_mha_matches_torch(case):
    torch.manual_seed(0)
    kw = dict(batch_first=case.get("batch_first", False), kdim=case.get("kdim"),
              vdim=case.get("vdim"), add_bias_kv=case.get("bias_kv", False),
              add_zero_attn=case.get("zero_attn", False))
    ref = torch.nn.MultiheadAttention(8, 2, **kw).double()
    mine = nn.MultiheadAttention(8, 2, **kw, dtype=nerve.float64)
    state = copy_pair(ref)
    assert list(state) == list(mine.state_dict())
    mine.load_state_dict(state)
    n, lq, s = 3, 4, 4 if case.get("self_attn") else 6
    shape = (lambda ln, d: (n, ln, d)) if kw["batch_first"] else (lambda ln, d: (ln, n, d))
    tq, q = tensors(rand(shape(lq, 8), 1))
    (tk, k), (tv, v) = tensors(rand(shape(s, kw["kdim"] or 8), 2)), \
        tensors(rand(shape(s, kw["vdim"] or 8), 3))
    if case.get("self_attn"):
        tk = tv = tq
        k = v = q
    masks_r, masks_m = {}, {}
    if case["padding"]:
        pad = np.zeros((n, s), bool)
        pad[1, -2:] = True
        if case["mask"] == "float":  # same kind as attn_mask (torch warns on mixed kinds)
            pad = np.where(pad, -np.inf, 0.0)
        masks_r["key_padding_mask"], masks_m["key_padding_mask"] = torch.tensor(pad), \
            nerve.tensor(pad)
    if case["mask"] == "causal_bool":
        m = np.triu(np.ones((lq, s), bool), 1)
    elif case["mask"] == "float":
        m = rand((lq, s), 4)
    elif case["mask"] == "per_head":
        m = rand((n * 2, lq, s), 5)
    if case["mask"]:
        masks_r["attn_mask"], masks_m["attn_mask"] = torch.tensor(m), nerve.tensor(m)
    avg = case.get("average", True)
    r = ref(tq, tk, tv, average_attn_weights=avg, **masks_r)
    o = mine(q, k, v, average_attn_weights=avg, **masks_m)
    leaves_r = [t for t in {id(t): t for t in (tq, tk, tv)}.values()]
    leaves_m = [t for t in {id(t): t for t in (q, k, v)}.values()]
    compare(r, o, leaves_r + list(ref.parameters()), leaves_m + list(mine.parameters()))


@needs_torch
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_transformer_layer_matches_torch(kind, norm_first, activation):
    torch.manual_seed(0)
    name = "TransformerEncoderLayer" if kind == "encoder" else "TransformerDecoderLayer"
    kw = dict(dim_feedforward=16, dropout=0.0, activation=activation, norm_first=norm_first,
              batch_first=True, layer_norm_eps=1e-6)
    ref = getattr(torch.nn, name)(8, 2, **kw).double().eval()
    mine = getattr(nn, name)(8, 2, **kw, dtype=nerve.float64).eval()
    state = copy_pair(ref)
    assert list(state) == list(mine.state_dict())
    mine.load_state_dict(state)
    tx, x = tensors(rand((3, 5, 8), 1))
    pad = np.zeros((3, 5), bool)
    pad[2, -2:] = True
    causal = np.triu(np.ones((5, 5), bool), 1)
    if kind == "encoder":
        r = ref(tx, src_mask=torch.tensor(causal), src_key_padding_mask=torch.tensor(pad))
        o = mine(x, src_mask=nerve.tensor(causal), src_key_padding_mask=nerve.tensor(pad))
        leaves_r, leaves_m = [tx], [x]
    else:
        tm, m = tensors(rand((3, 6, 8), 2))
        mpad = np.zeros((3, 6), bool)
        mpad[0, -1] = True
        r = ref(tx, tm, tgt_mask=torch.tensor(causal), tgt_key_padding_mask=torch.tensor(pad),
                memory_key_padding_mask=torch.tensor(mpad))
        o = mine(x, m, tgt_mask=nerve.tensor(causal), tgt_key_padding_mask=nerve.tensor(pad),
                 memory_key_padding_mask=nerve.tensor(mpad))
        leaves_r, leaves_m = [tx, tm], [x, m]
    compare([r], [o], leaves_r + list(ref.parameters()), leaves_m + list(mine.parameters()))


@needs_torch
def test_transformer_encoder_stack_matches_torch():
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0)
    ref = torch.nn.TransformerEncoder(layer, 2, norm=torch.nn.LayerNorm(8),
                                      enable_nested_tensor=False).double().eval()
    mine = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), 2,
                                 norm=nn.LayerNorm(8)).double().eval()
    state = copy_pair(ref)
    assert list(state) == list(mine.state_dict())
    mine.load_state_dict(state)
    tx, x = tensors(rand((5, 2, 8), 3))
    mask = nn.Transformer.generate_square_subsequent_mask(5, dtype=nerve.float64)
    r = ref(tx, mask=torch.tensor(arr(mask)))
    o = mine(x, mask=mask)
    compare([r], [o], [tx] + list(ref.parameters()), [x] + list(mine.parameters()))
