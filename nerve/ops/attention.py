"""Attention, as ``torch.nn.functional``: ``scaled_dot_product_attention`` and
``multi_head_attention_forward``.

Both are compositions of matmul, a masked softmax and dropout. Masks become one additive
float mask (0 where attending, -inf where not): a boolean ``attn_mask`` of
``scaled_dot_product_attention`` marks with True the positions that TAKE PART, while the
boolean masks of multi-head attention (``attn_mask``, ``key_padding_mask``) mark with True the
positions that are MASKED OUT, exactly as PyTorch. A query whose keys are all masked gets zero
weights and a zero output (not NaN).
"""
from __future__ import annotations

import math

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import get_array_module
from .dropout import dropout
from .linalg import matmul
from .linear import linear
from .shape import broadcast_to, cat, pad, split

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


class MaskedSoftmax(Function):
    """Softmax over the last axis; a row that is all -inf (fully masked) gives zeros."""

    def forward(self, a):
        xp = self.xp
        m = a.max(axis=-1, keepdims=True)
        e = xp.exp(a - xp.where(xp.isfinite(m), m, 0))
        s = e.sum(axis=-1, keepdims=True)
        out = e / xp.where(s == 0, 1, s)
        self.save(out)
        return out

    def backward(self, F, g):
        out = self.saved[0]
        return out * (g - (g * out).sum(axis=-1, keepdims=True))


def _additive(mask, dtype, true_attends: bool, what: str):
    """A boolean or float mask as an additive float mask (an array, or the float Tensor)."""
    if mask is None:
        return None
    data = mask.data if isinstance(mask, Tensor) else mask
    xp = get_array_module(data)
    data = xp.asarray(data)
    if data.dtype == bool:
        keep = data if true_attends else ~data
        return xp.where(keep, 0, -math.inf).astype(dtype)
    if data.dtype.kind != "f":
        raise TypeError(f"{what}: expected a bool or floating-point mask, got dtype {data.dtype}")
    if isinstance(mask, Tensor):
        return mask if mask.dtype == dtype else mask.to(dtype)
    return data.astype(dtype, copy=False)


def _merge(a, b):
    if a is None or b is None:
        return a if b is None else b
    return a + b


def _attend(q, k, v, mask, dropout_p: float, scale: float):
    """softmax(q k^T * scale + mask) v over the last two dims; returns (output, weights)."""
    scores = matmul(q * scale, k.transpose(-2, -1))
    if mask is not None:
        scores = scores + mask
    weights = MaskedSoftmax.apply(scores)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p)
    return matmul(weights, v), weights


def _check_tensor(what, name, t, min_ndim):
    if not isinstance(t, Tensor):
        raise TypeError(f"{what}: {name} must be a Tensor, got {type(t).__name__}")
    if t.ndim < min_ndim:
        raise ValueError(f"{what}: {name} needs at least {min_ndim} dimensions, got shape "
                         f"{tuple(t.shape)}")


def _check_mask_shape(what, name, mask, target):
    shape = tuple(getattr(mask, "shape", ()))
    ok = len(shape) <= len(target) and all(
        m in (1, t) for m, t in zip(shape[::-1], target[::-1]))
    if not ok:
        raise ValueError(f"{what}: {name} of shape {shape} does not broadcast to the attention "
                         f"scores' shape {target}")


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask=None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: float | None = None, enable_gqa: bool = False) -> Tensor:
    """softmax(Q K^T / sqrt(E) + mask) V for query (..., L, E), key (..., S, E) and value
    (..., S, Ev) -> (..., L, Ev). ``attn_mask`` broadcasts to (..., L, S): bool (True =
    attend) or float (added to the scores). ``is_causal`` lets query i see keys j <= i.
    ``dropout_p`` drops attention weights (always, like PyTorch: pass 0 in evaluation).

    >>> import nerve
    >>> q = nerve.randn(2, 4, 5, 8)
    >>> scaled_dot_product_attention(q, q, q, is_causal=True).shape
    (2, 4, 5, 8)
    """
    what = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        _check_tensor(what, name, t, 2)
    if enable_gqa:
        raise NotImplementedError(f"{what}: enable_gqa is not supported; repeat the key and "
                                  "value heads to the number of query heads instead")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(f"{what}: query {tuple(query.shape)}, key {tuple(key.shape)} and value "
                         f"{tuple(value.shape)} do not fit: query and key need the same last "
                         "dimension, key and value the same sequence length (dim -2)")
    if not 0 <= dropout_p <= 1:
        raise ValueError(f"{what}: dropout_p must be in [0, 1], got {dropout_p!r}")
    target_len, source_len = query.shape[-2], key.shape[-2]
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"{what}: pass either attn_mask or is_causal=True, not both")
        xp = get_array_module(query.data)
        attn_mask = xp.tri(target_len, source_len, dtype=bool)
    if attn_mask is not None:
        _check_mask_shape(what, "attn_mask", attn_mask, tuple(query.shape[:-1]) +
                          (source_len,))
    mask = _additive(attn_mask, query.dtype, True, what)
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    return _attend(query, key, value, mask, dropout_p, scale)[0]


# ---- multi-head attention ---------------------------------------------------------------
def _in_projection(query, key, value, w, b, separate):
    """q, k, v projections; one matmul when query, key and value are the same tensor."""
    if separate is None and query is key and key is value:
        return split(linear(query, w, b), w.shape[0] // 3, -1)
    ws = separate if separate is not None else split(w, w.shape[0] // 3, 0)
    bs = (None,) * 3 if b is None else split(b, b.shape[0] // 3, 0)
    return tuple(linear(x, wi, bi) for x, wi, bi in zip((query, key, value), ws, bs))


def _heads(x, batch, heads, head_dim):
    """(S, N, E) -> (N, heads, S, head_dim)."""
    return x.reshape(x.shape[0], batch, heads, head_dim).permute(1, 2, 0, 3)


def multi_head_attention_forward(query, key, value, embed_dim_to_check: int, num_heads: int,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v,
                                 add_zero_attn: bool, dropout_p: float, out_proj_weight,
                                 out_proj_bias, training: bool = True, key_padding_mask=None,
                                 need_weights: bool = True, attn_mask=None,
                                 use_separate_proj_weight: bool = False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights: bool = True,
                                 is_causal: bool = False):
    """PyTorch's multi-head attention on sequence-first inputs: query (L, N, E), key (S, N,
    kdim), value (S, N, vdim), or unbatched (L, E). Returns (output (L, N, E), weights
    (N, L, S) averaged over heads, (N, heads, L, S) if not ``average_attn_weights``, or None
    without ``need_weights``). Boolean masks: True = masked out. ``attn_mask`` is (L, S) or
    (N * heads, L, S); ``key_padding_mask`` (N, S). ``is_causal`` with no ``attn_mask`` applies
    a causal mask (PyTorch requires the mask as well; here it is built for you).
    """
    what = "multi_head_attention_forward"
    for name, t in (("query", query), ("key", key), ("value", value)):
        _check_tensor(what, name, t, 2)
    if static_k is not None or static_v is not None:
        raise NotImplementedError(f"{what}: static_k / static_v are not supported")
    batched = query.ndim == 3
    if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
        raise ValueError(f"{what}: expected query, key and value all 3-D (seq, batch, feature) "
                         f"or all 2-D (seq, feature), got shapes {tuple(query.shape)}, "
                         f"{tuple(key.shape)} and {tuple(value.shape)}")
    if not batched:
        same_kv, same_qk = key is value, query is key
        query = query.unsqueeze(1)
        key = query if same_qk else key.unsqueeze(1)
        value = key if same_kv else value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = _expand_mask(key_padding_mask, 0)
    target_len, batch, embed = query.shape
    if embed != embed_dim_to_check:
        raise ValueError(f"{what}: expected query with embed_dim {embed_dim_to_check} in its "
                         f"last dimension, got shape {tuple(query.shape)}")
    if embed % num_heads:
        raise ValueError(f"{what}: embed_dim {embed} is not divisible by num_heads {num_heads}")
    if key.shape[:2] != value.shape[:2] or key.shape[1] != batch:
        raise ValueError(f"{what}: key {tuple(key.shape)} and value {tuple(value.shape)} must "
                         f"share (seq, batch) and match the query's batch {batch}")
    head_dim = embed // num_heads
    separate = (q_proj_weight, k_proj_weight, v_proj_weight) if use_separate_proj_weight \
        else None
    q, k, v = _in_projection(query, key, value, in_proj_weight, in_proj_bias, separate)
    if bias_k is not None and bias_v is not None:
        k = cat([k, broadcast_to(bias_k.reshape(1, 1, embed), (1, batch, embed))], 0)
        v = cat([v, broadcast_to(bias_v.reshape(1, 1, embed), (1, batch, embed))], 0)
        attn_mask = _pad_mask(attn_mask)
        key_padding_mask = _pad_mask(key_padding_mask)
    q, k, v = (_heads(x, batch, num_heads, head_dim) for x in (q, k, v))
    if add_zero_attn:
        zeros = get_array_module(k.data).zeros((batch, num_heads, 1, head_dim), dtype=k.dtype)
        k, v = cat([k, zeros], 2), cat([v, zeros], 2)
        attn_mask = _pad_mask(attn_mask)
        key_padding_mask = _pad_mask(key_padding_mask)
    source_len = k.shape[2]
    mask = _mha_mask(what, attn_mask, key_padding_mask, is_causal, q.dtype, batch, num_heads,
                     target_len, source_len, get_array_module(q.data))
    out, weights = _attend(q, k, v, mask, dropout_p if training else 0.0,
                           1 / math.sqrt(head_dim))
    out = out.permute(2, 0, 1, 3).reshape(target_len, batch, embed)
    out = linear(out, out_proj_weight, out_proj_bias)
    if need_weights:
        if average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            weights = weights.squeeze(0)
    else:
        weights = None
    return (out if batched else out.squeeze(1)), weights


def _expand_mask(mask, dim):
    if isinstance(mask, Tensor):
        return mask.unsqueeze(dim)
    xp = get_array_module(mask)
    return xp.expand_dims(xp.asarray(mask), dim)


def _pad_mask(mask):
    """Append one key column that every query may attend to (bias_k / zero attention)."""
    if mask is None:
        return None
    if isinstance(mask, Tensor) and mask.dtype != bool:
        return pad(mask, (0, 1))
    xp = get_array_module(mask.data if isinstance(mask, Tensor) else mask)
    data = xp.asarray(mask.data if isinstance(mask, Tensor) else mask)
    return xp.pad(data, [(0, 0)] * (data.ndim - 1) + [(0, 1)])


def _mha_mask(what, attn_mask, key_padding_mask, is_causal, dtype, batch, heads, target_len,
              source_len, xp):
    """One additive mask broadcasting to the scores (N, heads, L, S), or None."""
    if attn_mask is None and is_causal:
        attn_mask = ~xp.tri(target_len, source_len, dtype=bool)
    mask = None
    if attn_mask is not None:
        shape = tuple(attn_mask.shape)
        if shape == (target_len, source_len):
            mask = _additive(attn_mask, dtype, False, what)
        elif shape == (batch * heads, target_len, source_len):
            mask = _additive(attn_mask, dtype, False, what).reshape(
                batch, heads, target_len, source_len)
        else:
            raise ValueError(f"{what}: attn_mask must have shape {(target_len, source_len)} or "
                             f"{(batch * heads, target_len, source_len)}, got {shape}")
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (batch, source_len):
            raise ValueError(f"{what}: key_padding_mask must have shape {(batch, source_len)}"
                             f" (batch, source length), got {tuple(key_padding_mask.shape)}")
        pad_mask = _additive(key_padding_mask, dtype, False, what).reshape(
            batch, 1, 1, source_len)
        mask = _merge(mask, pad_mask)
    return mask
