"""Fused affine map and embedding lookup: ``linear`` and ``embedding`` (torch.nn.functional).

``linear`` flattens the leading dimensions into one matrix product, so the weight gradient of
a ``(batch, time, in)`` input is one ``(out, N) @ (N, in)`` product instead of a batched
product summed afterwards. ``embedding``'s backward is a scatter-add of the output gradient
into the rows that were looked up (repeated indices accumulate); the ``padding_idx`` row gets
no gradient.
"""
from __future__ import annotations

from ..autograd import grad_mode
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import get_array_module, to_device
from .indexing import _index_array

__all__ = ["linear", "embedding"]


def _needs_grad(node, k) -> bool:
    """Whether input ``k`` wants a gradient (first-order backward may skip the others)."""
    return node.inputs is None or getattr(node.inputs[k], "_rg", False)


class Linear(Function):
    """``x @ w.T + b`` over the last dimension of ``x``."""

    def forward(self, x, w, b):
        self.save(x, w)
        out = x.reshape(-1, x.shape[-1]) @ w.T
        if b is not None:
            out += b
        return out.reshape(x.shape[:-1] + (w.shape[0],))

    def backward(self, F, g):
        x, w = self.saved
        if getattr(g, "flags", None) is not None and not g.flags.c_contiguous:
            g = self.xp.ascontiguousarray(g)  # e.g. sum()'s broadcast seed: BLAS needs strides
        g2 = g.reshape((-1, w.shape[0]))
        gx = F.matmul(g2, w).reshape(x.shape) if _needs_grad(self, 0) else None
        gw = (F.matmul(F.swapaxes(g2, 0, 1), x.reshape((-1, w.shape[1])))
              if _needs_grad(self, 1) else None)
        gb = g2.sum(axis=0) if self.has_bias and _needs_grad(self, 2) else None
        return gx, gw, gb


class Embedding(Function):
    """Rows ``w[index]``; backward scatter-adds into a zero weight-shaped gradient."""

    def forward(self, w):
        self.w_shape = w.shape
        return self.xp.take(w, self.index, axis=0)

    def backward(self, F, g):
        g = g.reshape((-1, self.w_shape[1]))
        if self.row_scale is not None:  # zeros at padding_idx, 1/count with scale_grad_by_freq
            g = g * self.row_scale
        return F.index_add_zeros(g, self.w_shape, 0, self.index.reshape(-1))


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` with ``weight`` of shape ``(out_features, in_features)``.

    >>> import nerve
    >>> linear(nerve.ones(2, 3), nerve.ones(4, 3)).shape
    (2, 4)
    """
    if not isinstance(input, Tensor):
        input = Tensor(input)
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape "
                         f"{tuple(weight.shape)}")
    out_f, in_f = weight.shape
    if input.ndim == 0 or input.shape[-1] != in_f:
        raise ValueError(f"linear: expected input with last dimension {in_f} (in_features), "
                         f"got shape {tuple(input.shape)}")
    if bias is not None and tuple(bias.shape) != (out_f,):
        raise ValueError(f"linear: bias must have shape ({out_f},), got {tuple(bias.shape)}")
    for name, t in (("input", input), ("bias", bias)):
        if t is not None and t.dtype != weight.dtype:
            raise TypeError(f"linear: {name} has dtype {t.dtype} but weight has dtype "
                            f"{weight.dtype}; convert with .to({weight.dtype})")
    return Linear.apply(input, weight, bias, has_bias=bias is not None)


def embedding(input, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False,
              sparse: bool = False) -> Tensor:
    """Look up rows of ``weight`` (``(num_embeddings, dim)``) at integer ``input``; the result
    has shape ``input.shape + (dim,)``.

    ``padding_idx`` marks a row that receives no gradient; ``max_norm`` first rescales (in
    place, outside the graph) every looked-up row whose ``norm_type``-norm exceeds it;
    ``scale_grad_by_freq`` divides each row's gradient by the row's count in ``input``.

    >>> import nerve
    >>> embedding(nerve.tensor([[0, 2]]), nerve.eye(3)).shape
    (1, 2, 3)
    """
    if sparse:
        raise NotImplementedError("embedding: sparse gradients are not supported")
    # indices are small: moving them to the weight is cheap
    index = to_device(_index_array(input, "embedding", "indices"), weight.device)
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {tuple(weight.shape)}")
    num = weight.shape[0]
    if index.size and (int(index.min()) < 0 or int(index.max()) >= num):
        raise IndexError(f"embedding: indices must lie in [0, {num}) for a table of {num} rows, "
                         f"got range [{int(index.min())}, {int(index.max())}]")
    if padding_idx is not None:
        padding_idx = _check_padding_idx(padding_idx, num, "embedding")
    if max_norm is not None:
        _renorm_rows_(weight, index, max_norm, norm_type)
    xp = get_array_module(index)
    flat = index.reshape(-1)
    scale = None
    if scale_grad_by_freq:
        counts = xp.bincount(flat, minlength=num)
        scale = (1.0 / counts[flat])[:, None]
    if padding_idx is not None:
        keep = (flat != padding_idx)[:, None]
        scale = keep if scale is None else scale * keep
    if scale is not None:
        scale = scale.astype(weight.dtype)
    return Embedding.apply(weight, index=index, row_scale=scale)


def _check_padding_idx(padding_idx: int, num: int, what: str) -> int:
    if not -num <= padding_idx < num:
        raise ValueError(f"{what}: padding_idx {padding_idx} must be within [-{num}, {num})")
    return padding_idx % num


def _renorm_rows_(weight: Tensor, index, max_norm: float, norm_type: float) -> None:
    """Scale the looked-up rows of ``weight`` down to norm ``max_norm`` (torch's in-place
    ``embedding_renorm_``; not recorded in any graph)."""
    xp = get_array_module(weight.data)
    rows = xp.unique(index.reshape(-1))
    with grad_mode.no_grad():
        data = weight.data.copy()
        norms = (xp.abs(data[rows]) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
        factor = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        data[rows] *= factor[:, None].astype(data.dtype)
        weight.data = data
