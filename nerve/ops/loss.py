"""Loss functions with ``torch.nn.functional``'s names, signatures and reduction semantics.

Cross-entropy and the two binary cross-entropies are fused primitives (stable for extreme
logits, one pass forward and one backward); the rest are composites of nerve ops. Every loss
takes ``reduction`` = 'mean' | 'sum' | 'none' (the deprecated ``size_average``/``reduce``
flags are translated as in PyTorch). Input and target shapes must match exactly where PyTorch
would broadcast with only a warning.
"""
from __future__ import annotations

import numpy

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import dtypes, get_array_module
from . import math as M
from .elementwise import _requires_grad
from .indexing import gather
from .shape import broadcast_to, squeeze

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
           "hinge_embedding_loss", "hinge_loss", "multi_margin_loss", "cosine_similarity",
           "cosine_embedding_loss", "margin_ranking_loss"]

REDUCTIONS = ("none", "mean", "sum")


# ---- shared argument handling -------------------------------------------------------------------
def legacy_reduction(name, size_average=None, reduce=None, reduction="mean",
                     allowed=REDUCTIONS) -> str:
    """The reduction string, from the deprecated flags when either is given (as PyTorch)."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        return "mean" if size_average and reduce else "sum" if reduce else "none"
    if reduction not in allowed:
        raise ValueError(f"{name}: reduction must be one of {', '.join(map(repr, allowed))}, "
                         f"got {reduction!r}")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _tensor(x, like: Tensor | None = None) -> Tensor:
    """``x`` as a Tensor; with ``like``, a floating ``x`` takes like's dtype and device."""
    t = x if isinstance(x, Tensor) else Tensor(numpy.asarray(x))
    if like is None:
        return t
    if t.dtype.kind == "f" and like.dtype.kind == "f" and t.dtype != like.dtype:
        t = t.to(like.dtype)
    return t.to(like.device) if like.device != t.device else t


def _floating(name, what, x: Tensor) -> Tensor:
    if not dtypes.is_floating(x.dtype):
        raise TypeError(f"{name}: expected a floating-point {what}, got dtype {x.dtype}")
    return x


def _pair(name, input, target, target_float=True):
    """(input, target) as Tensors of the same shape, or a clear error naming both shapes."""
    x = _floating(name, "input", _tensor(input))
    t = _tensor(target, x)
    if tuple(t.shape) != tuple(x.shape):
        raise ValueError(f"{name}: input shape {tuple(x.shape)} and target shape "
                         f"{tuple(t.shape)} must be the same (nerve does not broadcast them; "
                         "reshape one, e.g. target.reshape(input.shape))")
    if target_float and t.dtype != x.dtype:
        t = t.to(x.dtype)
    return x, t


def _broadcastable(name, what, w, x: Tensor) -> Tensor:
    """``w`` as a Tensor that broadcasts to x's shape without enlarging it."""
    w = _tensor(w, x)
    try:
        ok = numpy.broadcast_shapes(w.shape, x.shape) == tuple(x.shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{name}: {what} of shape {tuple(w.shape)} does not broadcast to the "
                         f"input shape {tuple(x.shape)}")
    return w


def _data(x):
    return x.data if isinstance(x, Tensor) else x


# ---- cross-entropy and negative log-likelihood --------------------------------------------------
class SoftmaxCrossEntropy(Function):
    """``-sum_c q_c log_softmax(x)_c`` along ``axis`` for a target distribution ``q`` of x's
    shape; summed and divided by ``divisor`` unless ``divisor`` is None (no reduction).
    The gradient is the classic ``softmax(x) * sum(q) - q``."""

    def forward(self, x, q):
        xp = self.xp
        shifted = x - x.max(axis=self.axis, keepdims=True)
        logp = shifted - xp.log(xp.exp(shifted).sum(axis=self.axis, keepdims=True))
        # a -inf logit of a class the target does not weigh must not give 0 * -inf = nan
        xp.maximum(logp, xp.finfo(logp.dtype).min, out=logp)
        loss = -(q * logp).sum(axis=self.axis)
        if self.divisor is not None:
            with numpy.errstate(invalid="ignore"):  # every target ignored: nan, as PyTorch
                loss = loss.sum() / self.divisor
        self.save(x, q, logp)
        return loss

    def backward(self, F, g):
        x, q, logp = self.saved
        if isinstance(x, Tensor):  # create_graph: softmax as a differentiable function of x
            logp = M.log_softmax(x, self.axis)
        g = F.expand_dims(g, self.axis) if self.divisor is None else g / self.divisor
        gx = g * (F.exp(logp) * q.sum(axis=self.axis, keepdims=True) - q)
        return gx, (-(g * logp) if _requires_grad(self.inputs[1]) else None)


def _index_target(name, target) -> Tensor:
    """``target`` as a Tensor of integer class indices, else a TypeError naming ``name``."""
    t = _tensor(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must hold integer class indices, got dtype {t.dtype}")
    return t


def _class_axis(name, x):
    if x.ndim == 0:
        raise ValueError(f"{name}: input must have a class dimension, got a 0-d tensor")
    return 0 if x.ndim == 1 else 1


def _class_weight(name, weight, x, n_classes):
    if weight is None:
        return None
    w = _data(_tensor(weight, x))
    if tuple(w.shape) != (n_classes,):
        raise ValueError(f"{name}: weight must have shape ({n_classes},) (one per class), got "
                         f"{tuple(w.shape)}")
    return w.astype(x.dtype, copy=False)


def _class_indices(name, x, target, axis, ignore_index):
    """Validate integer class targets; return (indices with ignored ones set to 0, mask of the
    targets that count, or None when all do)."""
    y = _data(target)
    expected = tuple(x.shape[:axis] + x.shape[axis + 1:])
    if tuple(y.shape) != expected:
        raise ValueError(f"{name}: target of class indices must have shape {expected} for input "
                         f"of shape {tuple(x.shape)} (classes on dim {axis}), got "
                         f"{tuple(y.shape)}")
    n_classes = x.shape[axis]
    if y.size == 0 or (y.min() >= 0 and y.max() < n_classes):  # the common case: all in range
        if ignore_index is None or not 0 <= ignore_index < n_classes:
            return y, None
    valid = y != ignore_index
    bad = valid & ((y < 0) | (y >= n_classes))
    if bad.any():
        raise IndexError(f"{name}: target {int(y[bad].ravel()[0])} is out of bounds for "
                         f"{n_classes} classes (input shape {tuple(x.shape)})")
    return get_array_module(y).where(valid, y, 0), valid


def _insert_axis(a, axis):
    return a.reshape(a.shape[:axis] + (1,) + a.shape[axis:])


def _index_distribution(x, y, valid, axis, w, smoothing):
    """The target distribution q (x's shape) of class indices, smoothed and weighted, and the
    'mean' divisor: the summed weights of the targets that count."""
    xp = get_array_module(y)
    n_classes = x.shape[axis]
    classes = xp.arange(n_classes).reshape(tuple(n if i == axis else 1
                                                 for i, n in enumerate(x.shape)))
    q = (_insert_axis(y, axis) == classes).astype(x.dtype)
    valid_c = None if valid is None else _insert_axis(valid, axis).astype(x.dtype)
    if valid_c is not None:
        q *= valid_c
    if smoothing:
        q = q * (1 - smoothing) + (1 if valid_c is None else valid_c) * (smoothing / n_classes)
    if w is not None:
        q *= w.reshape(classes.shape)
        return q, (w[y] if valid is None else w[y] * valid).sum()
    return q, (y.size if valid is None else valid.sum())


def cross_entropy(input, target, weight=None, size_average=None, ignore_index: int = -100,
                  reduce=None, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy from logits (classes on dim 1, or dim 0 for an unbatched input).

    ``target`` holds class indices (shape of input without the class dim) or class
    probabilities (input's shape). With indices, ``weight`` rescales each class and 'mean'
    divides by the summed weights of the non-ignored targets, as PyTorch.

    >>> logits = nerve.tensor([[2.0, 0.5, -1.0]])
    >>> round(cross_entropy(logits, nerve.tensor([0])).item(), 4)
    0.2413
    """
    name = "cross_entropy"
    reduction = legacy_reduction(name, size_average, reduce, reduction)
    x = _floating(name, "input", _tensor(input))
    t = _tensor(target)
    axis = _class_axis(name, x)
    n_classes = x.shape[axis]
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing}")
    w = _class_weight(name, weight, x, n_classes)
    xp = get_array_module(x.data)
    if t.dtype.kind in "iu":
        y, valid = _class_indices(name, x, t, axis, ignore_index)
        q, count = _index_distribution(x, y, valid, axis, w, label_smoothing)
    elif dtypes.is_floating(t.dtype):  # class probabilities
        if tuple(t.shape) != tuple(x.shape):
            raise ValueError(f"{name}: a target of class probabilities must have the input's "
                             f"shape {tuple(x.shape)}, got {tuple(t.shape)}")
        q = t.to(x.dtype)
        if label_smoothing:
            q = q * (1 - label_smoothing) + label_smoothing / n_classes
        if w is not None:
            q = q * w.reshape(tuple(n if i == axis else 1 for i, n in enumerate(x.shape)))
        count = x.data.size // max(n_classes, 1)
    else:
        raise TypeError(f"{name}: target must hold class indices (integers) or class "
                        f"probabilities (floats), got dtype {t.dtype}")
    divisor = None
    if reduction != "none":
        divisor = xp.asarray(count if reduction == "mean" else 1, dtype=x.dtype)
    return SoftmaxCrossEntropy.apply(x, q, axis=axis, divisor=divisor)


def nll_loss(input, target, weight=None, size_average=None, ignore_index: int = -100,
             reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices given log-probabilities (classes on dim 1);
    'mean' divides by the summed class weights of the non-ignored targets, as PyTorch.

    >>> logp = nerve.log(nerve.tensor([[0.5, 0.25, 0.25]]))
    >>> round(nll_loss(logp, nerve.tensor([1])).item(), 4)
    1.3863
    """
    name = "nll_loss"
    reduction = legacy_reduction(name, size_average, reduce, reduction)
    x = _floating(name, "input", _tensor(input))
    t = _index_target(name, target)
    axis = _class_axis(name, x)
    w = _class_weight(name, weight, x, x.shape[axis])
    y, valid = _class_indices(name, x, t, axis, ignore_index)
    picked = squeeze(gather(x, axis, _insert_axis(y, axis)), axis)
    wy = None if w is None else w[y]
    if valid is not None:
        wy = valid.astype(x.dtype) if wy is None else wy * valid
    if wy is None:
        return _reduce(-picked, reduction)
    loss = -picked * wy
    return loss.sum() / wy.sum() if reduction == "mean" else _reduce(loss, reduction)


# ---- regression losses --------------------------------------------------------------------------
def _weighted(name, loss, weight, reduction, x, mean_by_weight=True):
    """Elementwise ``weight`` (input's shape) as PyTorch's mse/l1/huber: 'mean' divides by the
    summed weights (mse, l1) or by the element count (huber)."""
    if weight is None:
        return _reduce(loss, reduction)
    w = _tensor(weight, x)
    if tuple(w.shape) != tuple(x.shape):
        raise ValueError(f"{name}: weight shape {tuple(w.shape)} must equal the input shape "
                         f"{tuple(x.shape)}")
    loss = loss * w
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / w.sum()
    return _reduce(loss, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
             weight=None) -> Tensor:
    """Mean squared error ``(input - target)**2``.

    >>> mse_loss(nerve.tensor([1.0, 2.0]), nerve.tensor([0.0, 0.0])).item()
    2.5
    """
    reduction = legacy_reduction("mse_loss", size_average, reduce, reduction)
    x, t = _pair("mse_loss", input, target)
    d = x - t
    return _weighted("mse_loss", d * d, weight, reduction, x)


def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
            weight=None) -> Tensor:
    """Mean absolute error ``|input - target|`` (gradient 0 where they are equal).

    >>> l1_loss(nerve.tensor([1.0, -2.0]), nerve.tensor([0.0, 0.0])).item()
    1.5
    """
    reduction = legacy_reduction("l1_loss", size_average, reduce, reduction)
    x, t = _pair("l1_loss", input, target)
    return _weighted("l1_loss", M.abs(x - t), weight, reduction, x)


def _quadratic_then_linear(d, threshold, quad_scale, lin_scale):
    """``quad_scale * d**2 / 2`` below ``threshold`` in magnitude, else
    ``lin_scale * (|d| - threshold / 2)``: smooth L1 and Huber."""
    a = M.abs(d)
    return M.where(a.data < threshold, (0.5 * quad_scale) * d * d,
                   lin_scale * (a - 0.5 * threshold))


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """``0.5 d**2 / beta`` where ``|d| < beta``, else ``|d| - beta / 2`` (``d = input - target``;
    ``beta=0`` is the L1 loss).

    >>> smooth_l1_loss(nerve.tensor([0.5, 3.0]), nerve.tensor([0.0, 0.0])).item()
    1.3125
    """
    name = "smooth_l1_loss"
    reduction = legacy_reduction(name, size_average, reduce, reduction)
    if beta < 0:
        raise ValueError(f"{name}: beta must be non-negative, got {beta}")
    x, t = _pair(name, input, target)
    if beta == 0:
        return _reduce(M.abs(x - t), reduction)
    return _reduce(_quadratic_then_linear(x - t, beta, 1.0 / beta, 1.0), reduction)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0,
               weight=None) -> Tensor:
    """``0.5 d**2`` where ``|d| < delta``, else ``delta (|d| - delta / 2)``.

    >>> huber_loss(nerve.tensor([0.5, 3.0]), nerve.tensor([0.0, 0.0]), delta=2.0).item()
    2.0625
    """
    reduction = legacy_reduction("huber_loss", reduction=reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    x, t = _pair("huber_loss", input, target)
    loss = _quadratic_then_linear(x - t, delta, 1.0, delta)
    return _weighted("huber_loss", loss, weight, reduction, x, mean_by_weight=False)


# ---- binary cross-entropy -----------------------------------------------------------------------
def _clamped_log(F, a):
    """log(a) clamped below at -100 (log(0) = -100), as PyTorch's binary cross-entropy."""
    floor = numpy.exp(-100.0)
    return F.where(a > floor, F.log(F.where(a > floor, a, 1.0)), -100.0)


class BinaryCrossEntropy(Function):
    """``-(t log(x) + (1 - t) log(1 - x))`` with each log clamped at -100; the input gradient is
    ``(x - t) / max(x (1 - x), 1e-12)`` as PyTorch."""

    def forward(self, x, t):
        xp = self.xp
        with numpy.errstate(divide="ignore"):
            log_x = xp.maximum(xp.log(x), -100)
            log_1mx = xp.maximum(xp.log1p(-x), -100)
        self.save(x, t)
        return -(t * log_x + (1 - t) * log_1mx)

    def backward(self, F, g):
        x, t = self.saved
        den = x * (1 - x)
        gx = g * (x - t) / F.where(den > 1e-12, den, 1e-12)
        gt = None
        if _requires_grad(self.inputs[1]):
            gt = g * (_clamped_log(F, 1 - x) - _clamped_log(F, x))
        return gx, gt


class BinaryCrossEntropyWithLogits(Function):
    """``(1 - t) x + lw * softplus(-x)`` with ``lw = 1 + (pos_weight - 1) t``: the stable form of
    ``-(pos_weight t log σ(x) + (1 - t) log(1 - σ(x)))``, finite for any logit."""

    def forward(self, x, t, pos_weight):
        sp = self.xp.logaddexp(0, -x)  # softplus(-x) = -log σ(x), without overflow
        self.save(x, t, pos_weight)
        if pos_weight is None:
            return (1 - t) * x + sp
        return (1 - t) * x + (1 + (pos_weight - 1) * t) * sp

    def backward(self, F, g):
        x, t, pw = self.saved
        lw = 1 if pw is None else 1 + (pw - 1) * t
        gx = g * ((1 - t) - lw * F.sigmoid(-x))
        gt = gpw = None
        if _requires_grad(self.inputs[1]) or _requires_grad(self.inputs[2]):
            # softplus(-x) = max(-x, 0) + log(1 + exp(-|x|))
            sp = F.where(x < 0, -x, 0) + F.log(1 + F.exp(-x * F.sign(x)))
            gt = g * (-x if pw is None else (pw - 1) * sp - x)
            gpw = g * t * sp if pw is not None else None
        return gx, gt, gpw


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities ``input`` in [0, 1]; logs clamped at -100.

    >>> round(binary_cross_entropy(nerve.tensor([0.8]), nerve.tensor([1.0])).item(), 4)
    0.2231
    """
    name = "binary_cross_entropy"
    reduction = legacy_reduction(name, size_average, reduce, reduction)
    x, t = _pair(name, input, target)
    if x.data.size and (x.data.min() < 0 or x.data.max() > 1):
        raise ValueError(f"{name}: all elements of input should be between 0 and 1 (input "
                         f"shape {tuple(x.shape)}); apply sigmoid first, or use "
                         "binary_cross_entropy_with_logits")
    loss = BinaryCrossEntropy.apply(x, t)
    if weight is not None:
        loss = loss * _broadcastable(name, "weight", weight, x)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable step: ``max(x, 0) - x t + log(1 +
    exp(-|x|))``; ``pos_weight`` (broadcast along the last dim) weighs the positive term.

    >>> round(binary_cross_entropy_with_logits(nerve.tensor([2.0]),
    ...                                        nerve.tensor([1.0])).item(), 4)
    0.1269
    """
    name = "binary_cross_entropy_with_logits"
    reduction = legacy_reduction(name, size_average, reduce, reduction)
    x, t = _pair(name, input, target)
    pw = None if pos_weight is None else _broadcastable(name, "pos_weight", pos_weight, x)
    loss = BinaryCrossEntropyWithLogits.apply(x, t, pw)
    if weight is not None:
        loss = loss * _broadcastable(name, "weight", weight, x)
    return _reduce(loss, reduction)


# ---- divergences and margins --------------------------------------------------------------------
def _xlogx(t: Tensor) -> Tensor:
    """``t log t`` with 0 at t = 0 (and no nan gradient there)."""
    positive = t.data > 0
    return M.where(positive, t * M.log(M.where(positive, t, 1.0)), 0.0)


def kl_div(input, target, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence with ``input`` as log-probabilities: pointwise
    ``target (log target - input)`` (``exp(target) (target - input)`` with ``log_target``).
    'batchmean' divides the sum by the batch size (the true KL); 'mean' by the element count.

    >>> p = nerve.tensor([[0.5, 0.5]])
    >>> kl_div(nerve.log(p), p, reduction="batchmean").item()
    0.0
    """
    name = "kl_div"
    reduction = legacy_reduction(name, size_average, reduce, reduction,
                                 allowed=REDUCTIONS + ("batchmean",))
    x, t = _pair(name, input, target)
    loss = M.exp(t) * (t - x) if log_target else _xlogx(t) - t * x
    if reduction == "batchmean":
        return loss.sum() / x.shape[0] if x.ndim else loss.sum()
    return _reduce(loss, reduction)


def _sign_target(name, x, target):
    x, t = _pair(name, x, target, target_float=False)
    return x, t.data


def hinge_embedding_loss(input, target, margin: float = 1.0, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """``x`` where ``target == 1``, ``max(0, margin - x)`` where ``target == -1`` (input is
    typically a distance).

    >>> hinge_embedding_loss(nerve.tensor([0.5, 0.25]), nerve.tensor([1, -1])).item()
    0.625
    """
    name = "hinge_embedding_loss"
    reduction = legacy_reduction(name, size_average, reduce, reduction)
    x, y = _sign_target(name, input, target)
    # PyTorch's form: a label that is neither 1 nor -1 gets both terms
    loss = M.where(y != 1, M.clamp(margin - x, min=0), 0.0) + M.where(y != -1, x, 0.0)
    return _reduce(loss, reduction)


def hinge_loss(input, target, margin: float = 1.0, reduction: str = "mean") -> Tensor:
    """Binary hinge loss ``max(0, margin - target * input)`` for labels ±1 (the SVM loss;
    ``margin=0`` is the perceptron criterion). Not in PyTorch, which has the multi-class
    ``multi_margin_loss``.

    >>> hinge_loss(nerve.tensor([2.0, 0.5]), nerve.tensor([1.0, -1.0])).item()
    0.75
    """
    reduction = legacy_reduction("hinge_loss", reduction=reduction)
    x, t = _pair("hinge_loss", input, target)
    return _reduce(M.clamp(margin - t * x, min=0), reduction)


def multi_margin_loss(input, target, p: int = 1, margin: float = 1.0, weight=None,
                      size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss: ``sum_{j != y} max(0, margin - x[y] + x[j])**p / C`` per sample
    (p = 1 or 2), times ``weight[y]``.

    >>> x = nerve.tensor([[0.1, 0.2, 0.4, 0.8]])
    >>> round(multi_margin_loss(x, nerve.tensor([3])).item(), 4)
    0.325
    """
    name = "multi_margin_loss"
    reduction = legacy_reduction(name, size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError(f"{name}: only p == 1 and p == 2 are supported, got {p}")
    x = _floating(name, "input", _tensor(input))
    if x.ndim not in (1, 2):
        raise ValueError(f"{name}: expected input of shape (N, C) or (C,), got "
                         f"{tuple(x.shape)}")
    t = _index_target(name, target)
    axis = x.ndim - 1
    n_classes = x.shape[axis]
    w = _class_weight(name, weight, x, n_classes)
    y, _ = _class_indices(name, x, t, axis, ignore_index=None)
    xp = get_array_module(y)
    y_c = _insert_axis(y, axis)
    margins = M.clamp(margin - gather(x, axis, y_c) + x, min=0)
    margins = M.where(y_c == xp.arange(n_classes), 0.0, margins)  # j == y does not count
    if p == 2:
        margins = margins * margins
    if w is not None:
        margins = margins * _insert_axis(w[y], axis)
    return _reduce(margins.sum(axis) / n_classes, reduction)


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``x1 . x2 / (max(|x1|, eps) max(|x2|, eps))`` along ``dim`` (x1 and x2 broadcast).

    >>> cosine_similarity(nerve.tensor([[1.0, 0.0]]), nerve.tensor([[1.0, 1.0]])).item()
    0.7071067690849304
    """
    a = _floating("cosine_similarity", "x1", _tensor(x1))
    b = _tensor(x2, a)
    try:
        shape = numpy.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"cosine_similarity: shapes {tuple(a.shape)} and {tuple(b.shape)} "
                         "do not broadcast") from None
    # broadcast first, as PyTorch: a size-1 dim along ``dim`` counts once per copy in the norm
    a, b = broadcast_to(a, shape), broadcast_to(b, shape)

    def unit(v):  # sqrt(max(|v|^2, eps^2)) = max(|v|, eps), with a finite gradient at 0
        return v / M.sqrt(M.clamp((v * v).sum(dim, keepdim=True), min=eps * eps))

    return (unit(a) * unit(b)).sum(dim)


def _paired_target(name, x1, x2, target):
    a = _floating(name, "input1", _tensor(x1))
    b = _tensor(x2, a)
    y = _tensor(target)
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"{name}: input1 shape {tuple(a.shape)} and input2 shape "
                         f"{tuple(b.shape)} must be the same")
    return a, b, y.data


def cosine_embedding_loss(input1, input2, target, margin: float = 0.0, size_average=None,
                          reduce=None, reduction: str = "mean") -> Tensor:
    """``1 - cos(x1, x2)`` where ``target == 1``, ``max(0, cos(x1, x2) - margin)`` where
    ``target == -1``; cosine along the last dim of (N, D) or (D,) inputs.

    >>> cosine_embedding_loss(nerve.tensor([[1.0, 0.0]]), nerve.tensor([[0.0, 1.0]]),
    ...                       nerve.tensor([1])).item()
    1.0
    """
    name = "cosine_embedding_loss"
    reduction = legacy_reduction(name, size_average, reduce, reduction)
    a, b, y = _paired_target(name, input1, input2, target)
    if a.ndim not in (1, 2) or tuple(y.shape) != tuple(a.shape[:-1]):
        raise ValueError(f"{name}: expected inputs of shape (N, D) or (D,) and target of shape "
                         f"(N,) or (), got inputs {tuple(a.shape)} and target "
                         f"{tuple(y.shape)}")
    eps = 1e-12  # PyTorch's
    dot = (a * b).sum(-1)
    cos = dot / M.sqrt(((a * a).sum(-1) + eps) * ((b * b).sum(-1) + eps))
    loss = M.where(y == 1, 1 - cos, 0.0) + M.where(y == -1, M.clamp(cos - margin, min=0), 0.0)
    return _reduce(loss, reduction)


def margin_ranking_loss(input1, input2, target, margin: float = 0.0, size_average=None,
                        reduce=None, reduction: str = "mean") -> Tensor:
    """``max(0, -target (x1 - x2) + margin)``: x1 should rank above x2 where target is 1.

    >>> margin_ranking_loss(nerve.tensor([1.0]), nerve.tensor([2.0]), nerve.tensor([1.0])).item()
    1.0
    """
    name = "margin_ranking_loss"
    reduction = legacy_reduction(name, size_average, reduce, reduction)
    a, b, y = _paired_target(name, input1, input2, target)
    if tuple(y.shape) != tuple(a.shape):
        raise ValueError(f"{name}: target shape {tuple(y.shape)} must equal the input shape "
                         f"{tuple(a.shape)}")
    return _reduce(M.clamp(-Tensor(y.astype(a.dtype)) * (a - b) + margin, min=0), reduction)

