"""Attention and transformer layers shaped like ``torch.nn``: ``MultiheadAttention``,
``TransformerEncoderLayer``, ``TransformerDecoderLayer``, ``TransformerEncoder``,
``TransformerDecoder`` and ``Transformer``.

Parameter names and shapes are PyTorch's (``self_attn.in_proj_weight``, ``linear1.weight``,
``norm1.weight``, ...), so a PyTorch ``state_dict`` loads unchanged. Boolean masks follow
PyTorch's modules: True marks a position that may NOT be attended to.
"""
from __future__ import annotations

import copy
import math

from ..autograd.tensor import Tensor
from ..ops import creation
from ..ops.attention import multi_head_attention_forward
from ..ops.math import gelu, relu
from . import init
from .containers import ModuleList
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm
from .parameter import Parameter

__all__ = ["MultiheadAttention", "TransformerEncoderLayer", "TransformerDecoderLayer",
           "TransformerEncoder", "TransformerDecoder", "Transformer"]


def _param(device, dtype, *shape) -> Parameter:
    return Parameter(creation.empty(*shape, dtype=dtype, device=device))


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al., 2017) with PyTorch's parameters:
    ``in_proj_weight`` (3E, E) — or ``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight``
    when ``kdim``/``vdim`` differ from ``embed_dim`` — ``in_proj_bias`` (3E),
    ``out_proj.weight``/``out_proj.bias`` and, with ``add_bias_kv``, ``bias_k``/``bias_v``.

    Default init (as PyTorch): xavier_uniform_ for the input projections, zeros for
    ``in_proj_bias`` and ``out_proj.bias``, xavier_normal_ for ``bias_k``/``bias_v``,
    ``out_proj.weight`` as a Linear layer (U(-1/sqrt(E), 1/sqrt(E))).

    forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False) -> (output, weights or None). Inputs are
    (L, N, E) — (N, L, E) with ``batch_first`` — or unbatched (L, E).

    >>> import nerve
    >>> mha = MultiheadAttention(16, 4, batch_first=True)
    >>> x = nerve.randn(2, 5, 16)
    >>> out, w = mha(x, x, x)
    >>> out.shape, w.shape
    ((2, 5, 16), (2, 5, 5))
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device=None, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be a positive "
                             f"multiple of num_heads ({num_heads})")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first = float(dropout), batch_first
        self.head_dim = embed_dim // num_heads
        if self._qkv_same_embed_dim:
            self.in_proj_weight = _param(device, dtype, 3 * embed_dim, embed_dim)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = _param(device, dtype, embed_dim, embed_dim)
            self.k_proj_weight = _param(device, dtype, embed_dim, self.kdim)
            self.v_proj_weight = _param(device, dtype, embed_dim, self.vdim)
        self.register_parameter("in_proj_bias", _param(device, dtype, 3 * embed_dim)
                                if bias else None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        if add_bias_kv:
            self.bias_k = _param(device, dtype, 1, 1, embed_dim)
            self.bias_v = _param(device, dtype, 1, 1, embed_dim)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        for name in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
            if getattr(self, name) is not None:
                init.xavier_uniform_(getattr(self, name))
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        for p in (self.bias_k, self.bias_v):
            if p is not None:
                init.xavier_normal_(p)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask=None,
                need_weights: bool = True, attn_mask=None, average_attn_weights: bool = True,
                is_causal: bool = False):
        self._check(query, key, value)
        if self.batch_first and query.ndim == 3:
            # keep "query is key is value" (self-attention: one packed projection)
            same_qk, same_kv = query is key, key is value
            query = query.transpose(0, 1)
            key = query if same_qk else key.transpose(0, 1)
            value = key if same_kv else value.transpose(0, 1)
        out, weights = multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            self.out_proj.weight, self.out_proj.bias, training=self.training,
            key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight, average_attn_weights=average_attn_weights,
            is_causal=is_causal)
        if self.batch_first and query.ndim == 3:
            out = out.transpose(0, 1)
        return out, weights

    def _check(self, query, key, value):
        order = "(batch, seq, feature)" if self.batch_first else "(seq, batch, feature)"
        for name, t, dim in (("query", query, self.embed_dim), ("key", key, self.kdim),
                             ("value", value, self.vdim)):
            if not isinstance(t, Tensor):
                raise TypeError(f"MultiheadAttention: {name} must be a Tensor, got "
                                f"{type(t).__name__}")
            if t.ndim not in (2, 3) or t.ndim != query.ndim:
                raise ValueError(f"MultiheadAttention: expected 3-D {order} or 2-D (seq, "
                                 f"feature) query, key and value, got {name} of shape "
                                 f"{tuple(t.shape)} (query {tuple(query.shape)})")
            if t.shape[-1] != dim:
                raise ValueError(f"MultiheadAttention: expected {name} with last dimension "
                                 f"{dim}, got shape {tuple(t.shape)}")

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"


def _activation(activation):
    if callable(activation):
        return activation
    if activation == "relu":
        return relu
    if activation == "gelu":
        return gelu
    raise ValueError(f"activation should be 'relu', 'gelu' or a callable, got {activation!r}")


class _FeedForwardLayer(Module):
    """Constructor, feed-forward block and norms shared by the encoder and decoder layers:
    one attention per name in ``_attentions``, then one norm and dropout per sublayer."""

    _attentions: tuple = ()

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        factory = dict(device=device, dtype=dtype)
        for attn in self._attentions:  # registered first: PyTorch's order of submodules
            setattr(self, attn, MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                   batch_first=batch_first, **factory))
        n_norms = len(self._attentions) + 1
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        for i in range(1, n_norms + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias,
                                                **factory))
        for i in range(1, n_norms + 1):
            setattr(self, f"dropout{i}", Dropout(dropout))
        self.activation = _activation(activation)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def _attend(self, attn, dropout, x, mem, mask, padding, is_causal):
        out = attn(x, mem, mem, attn_mask=mask, key_padding_mask=padding, need_weights=False,
                   is_causal=is_causal)[0]
        return dropout(out)


def _check_d_model(layer, name, x, d_model):
    if not isinstance(x, Tensor) or x.ndim not in (2, 3) or x.shape[-1] != d_model:
        raise ValueError(f"{layer}: expected {name} of shape (seq, batch, {d_model}), (batch, "
                         f"seq, {d_model}) or (seq, {d_model}), got "
                         f"{tuple(getattr(x, 'shape', ()))}")


class TransformerEncoderLayer(_FeedForwardLayer):
    """Self-attention then a feed-forward block, each wrapped in dropout, a residual
    connection and LayerNorm (after the sum, or before the block with ``norm_first``).
    Submodules as PyTorch: self_attn, linear1, dropout, linear2, norm1, norm2, dropout1,
    dropout2 (each with its own default init).

    >>> import nerve
    >>> layer = TransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=True)
    >>> layer(nerve.randn(2, 5, 16)).shape
    (2, 5, 16)
    """

    _attentions = ("self_attn",)

    def forward(self, src: Tensor, src_mask=None, src_key_padding_mask=None,
                is_causal: bool = False) -> Tensor:
        _check_d_model(type(self).__name__, "src", src, self.self_attn.embed_dim)
        x = src

        def sa(y):
            return self._attend(self.self_attn, self.dropout1, y, y, src_mask,
                                src_key_padding_mask, is_causal)

        if self.norm_first:
            x = x + sa(self.norm1(x))
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + sa(x))
        return self.norm2(x + self._ff_block(x))


class TransformerDecoderLayer(_FeedForwardLayer):
    """Masked self-attention, attention over the encoder's ``memory``, then a feed-forward
    block; each with dropout, a residual connection and LayerNorm (``norm_first`` as in the
    encoder layer). Submodules as PyTorch: self_attn, multihead_attn, linear1, dropout,
    linear2, norm1-3, dropout1-3.

    >>> import nerve
    >>> layer = TransformerDecoderLayer(16, 4, dim_feedforward=32)
    >>> layer(nerve.randn(5, 2, 16), nerve.randn(7, 2, 16)).shape
    (5, 2, 16)
    """

    _attentions = ("self_attn", "multihead_attn")

    def _ff_block(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask=None, memory_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None,
                tgt_is_causal: bool = False, memory_is_causal: bool = False) -> Tensor:
        name, d_model = type(self).__name__, self.self_attn.embed_dim
        _check_d_model(name, "tgt", tgt, d_model)
        _check_d_model(name, "memory", memory, d_model)
        x = tgt

        def sa(y):
            return self._attend(self.self_attn, self.dropout1, y, y, tgt_mask,
                                tgt_key_padding_mask, tgt_is_causal)

        def mha(y):
            return self._attend(self.multihead_attn, self.dropout2, y, memory, memory_mask,
                                memory_key_padding_mask, memory_is_causal)

        if self.norm_first:
            x = x + sa(self.norm1(x))
            x = x + mha(self.norm2(x))
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + sa(x))
        x = self.norm2(x + mha(x))
        return self.norm3(x + self._ff_block(x))


def _clones(layer: Module, n: int) -> ModuleList:
    return ModuleList([copy.deepcopy(layer) for _ in range(n)])


class TransformerEncoder(Module):
    """``num_layers`` deep copies of ``encoder_layer`` applied in turn, then ``norm`` if given.

    >>> import nerve
    >>> enc = TransformerEncoder(TransformerEncoderLayer(16, 4, 32), num_layers=2)
    >>> enc(nerve.randn(5, 2, 16)).shape
    (5, 2, 16)
    """

    def __init__(self, encoder_layer: Module, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True):
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers, self.norm = num_layers, norm

    def forward(self, src: Tensor, mask=None, src_key_padding_mask=None,
                is_causal: bool | None = None) -> Tensor:
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=bool(is_causal))
        return x if self.norm is None else self.norm(x)


class TransformerDecoder(Module):
    """``num_layers`` deep copies of ``decoder_layer`` applied in turn, then ``norm``."""

    def __init__(self, decoder_layer: Module, num_layers: int, norm: Module | None = None):
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers, self.norm = num_layers, norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask=None, memory_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)


class Transformer(Module):
    """Encoder-decoder transformer as ``torch.nn.Transformer``; every parameter with more
    than one dimension is re-initialised with xavier_uniform_, as PyTorch does.

    >>> import nerve
    >>> model = Transformer(d_model=16, nhead=4, num_encoder_layers=1, num_decoder_layers=1,
    ...                     dim_feedforward=32)
    >>> model(nerve.randn(7, 2, 16), nerve.randn(5, 2, 16)).shape
    (5, 2, 16)
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", custom_encoder=None,
                 custom_decoder=None, layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device=None, dtype=None):
        super().__init__()
        factory = dict(device=device, dtype=dtype)
        common = dict(dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
                      layer_norm_eps=layer_norm_eps, batch_first=batch_first,
                      norm_first=norm_first, bias=bias, **factory)
        self.encoder = custom_encoder or TransformerEncoder(
            TransformerEncoderLayer(d_model, nhead, **common), num_encoder_layers,
            LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory))
        self.decoder = custom_decoder or TransformerDecoder(
            TransformerDecoderLayer(d_model, nhead, **common), num_decoder_layers,
            LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory))
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(self, src: Tensor, tgt: Tensor, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal: bool | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
        """A float (sz, sz) causal mask: 0 on and below the diagonal, -inf above."""
        mask = creation.full((sz, sz), -math.inf, dtype=dtype, device=device)
        return mask.triu(1)
