"""Affine and shape layers: ``Linear``, ``Identity``, ``Flatten``, ``Unflatten``, ``Embedding``."""
from __future__ import annotations

import math

from ..autograd import grad_mode
from ..ops import creation, shape
from ..ops.linear import _check_padding_idx, embedding, linear
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Identity", "Linear", "Flatten", "Unflatten", "Embedding"]


class Identity(Module):
    """Returns its input unchanged (arguments are accepted and ignored, as torch)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """``y = x @ weight.T + bias`` over the last dimension of ``x``.

    ``weight`` has shape ``(out_features, in_features)``, ``bias`` ``(out_features,)``.
    Default init (as PyTorch): ``kaiming_uniform_(weight, a=sqrt(5))``, i.e.
    U(-1/sqrt(in_features), 1/sqrt(in_features)), and the bias from the same interval.
    For DropConnect on the weight, wrap the layer: ``nn.DropConnect(nn.Linear(...), p)``.

    >>> import nerve
    >>> layer = Linear(3, 2)
    >>> layer(nerve.ones(5, 3)).shape
    (5, 2)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = Parameter(creation.empty(out_features, in_features, dtype=dtype,
                                               device=device))
        self.register_parameter("bias", Parameter(creation.empty(
            out_features, dtype=dtype, device=device)) if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            raise ValueError(f"{self!r}: expected input of shape (..., {self.in_features}), got "
                             f"{tuple(input.shape)}")
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Flatten(Module):
    """Flattens dimensions ``start_dim..end_dim`` into one (default: all but the batch)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        for d in (self.start_dim, self.end_dim):
            if not -max(input.ndim, 1) <= d < max(input.ndim, 1):
                raise IndexError(f"{self!r}: dimension {d} is out of range for an input of "
                                 f"shape {tuple(input.shape)}")
        return shape.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits dimension ``dim`` into ``unflattened_size`` (one entry may be -1).

    >>> import nerve
    >>> Unflatten(1, (2, 3))(nerve.ones(4, 6)).shape
    (4, 2, 3)
    """

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input):
        d = self.dim % input.ndim if -input.ndim <= self.dim < input.ndim else None
        sizes = self.unflattened_size
        known = math.prod(s for s in sizes if s != -1)
        n = None if d is None else input.shape[d]
        ok = d is not None and sum(s == -1 for s in sizes) <= 1 and (
            known == n if -1 not in sizes else known > 0 and n % known == 0)
        if not ok:
            raise ValueError(f"{self!r}: cannot unflatten dimension {self.dim} of an input of "
                             f"shape {tuple(input.shape)} into {sizes}")
        sizes = tuple(n // known if s == -1 else s for s in sizes)
        return shape.reshape(input, input.shape[:d] + sizes + input.shape[d + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Embedding(Module):
    """A lookup table: integer indices of any shape -> ``indices.shape + (embedding_dim,)``.

    Default init (as PyTorch): ``weight ~ N(0, 1)``, with the ``padding_idx`` row set to zero;
    that row never receives a gradient, so it stays as it is. The backward pass scatter-adds
    the output gradient into the looked-up rows.

    >>> import nerve
    >>> emb = Embedding(10, 4, padding_idx=0)
    >>> emb(nerve.tensor([[0, 3, 3]])).shape
    (1, 3, 4)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False, _weight=None,
                 _freeze: bool = False, device=None, dtype=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if padding_idx is not None:
            padding_idx = _check_padding_idx(padding_idx, self.num_embeddings, "Embedding")
        self.padding_idx = padding_idx
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if sparse:
            raise NotImplementedError("Embedding: sparse gradients are not supported")
        if _weight is None:
            self.weight = Parameter(creation.empty(num_embeddings, embedding_dim, dtype=dtype,
                                                   device=device), requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (self.num_embeddings, self.embedding_dim):
                raise ValueError(f"Embedding: _weight has shape {tuple(_weight.shape)}, expected "
                                 f"({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        self._zero_padding_row()

    def _zero_padding_row(self) -> None:
        if self.padding_idx is not None:
            with grad_mode.no_grad():
                data = self.weight.data.copy()
                data[self.padding_idx] = 0
                self.weight.data = data

    def forward(self, input):
        return embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                         self.scale_grad_by_freq)

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, sparse: bool = False) -> Embedding:
        """An Embedding whose weight is (a copy-free view of) the 2-D ``embeddings``; frozen
        unless ``freeze=False``. The padding row keeps its given values."""
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape "
                             f"{tuple(embeddings.shape)}")
        rows, dim = embeddings.shape
        return cls(rows, dim, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse, _weight=embeddings,
                   _freeze=freeze)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        return s
