"""Loss modules shaped like ``torch.nn``'s: each keeps its options (``reduction`` and the rest)
and calls the functional form in ``nerve/ops/loss.py``. Class weights are buffers (they appear
in ``state_dict`` as ``weight``/``pos_weight`` when given), as in PyTorch."""
from __future__ import annotations

from ..ops import loss as L
from .module import Module

__all__ = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss",
           "BCELoss", "BCEWithLogitsLoss", "KLDivLoss", "HingeEmbeddingLoss", "MultiMarginLoss",
           "CosineSimilarity", "CosineEmbeddingLoss", "MarginRankingLoss"]


class _Loss(Module):
    _allowed = L.REDUCTIONS

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__()
        self.reduction = L.legacy_reduction(type(self).__name__, size_average, reduce,
                                            reduction, allowed=self._allowed)


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy of logits (N, C, *) against class indices (N, *) or class probabilities
    (N, C, *); see ``nerve.nn.functional.cross_entropy``.

    >>> loss = CrossEntropyLoss(label_smoothing=0.1)
    >>> loss(nerve.randn(4, 3, requires_grad=True), nerve.tensor([0, 2, 1, 0])).shape
    ()
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return L.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices given log-probabilities (after LogSoftmax).

    >>> NLLLoss()(nerve.log(nerve.tensor([[0.5, 0.5]])), nerve.tensor([1])).item()
    0.6931471824645996
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return L.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error; input and target must have the same shape.

    >>> MSELoss()(nerve.tensor([1.0, 3.0]), nerve.tensor([1.0, 1.0])).item()
    2.0
    """

    def forward(self, input, target):
        return L.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error; input and target must have the same shape.

    >>> L1Loss(reduction="sum")(nerve.tensor([1.0, 3.0]), nerve.tensor([1.0, 1.0])).item()
    2.0
    """

    def forward(self, input, target):
        return L.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Quadratic below ``beta``, linear above (see ``functional.smooth_l1_loss``).

    >>> SmoothL1Loss(beta=0.5)(nerve.tensor([1.0]), nerve.tensor([0.0])).item()
    0.75
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 beta: float = 1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        return L.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """``0.5 d**2`` below ``delta``, ``delta (|d| - delta/2)`` above.

    >>> HuberLoss(delta=0.5)(nerve.tensor([1.0]), nerve.tensor([0.0])).item()
    0.375
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        return L.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities (logs clamped at -100, as PyTorch).

    >>> round(BCELoss()(nerve.tensor([0.5]), nerve.tensor([1.0])).item(), 4)
    0.6931
    """

    def forward(self, input, target):
        return L.binary_cross_entropy(input, target, weight=self.weight,
                                      reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Sigmoid and binary cross-entropy in one stable step; ``pos_weight`` (a buffer, one per
    class along the last dim) weighs the positive examples.

    >>> round(BCEWithLogitsLoss()(nerve.tensor([0.0]), nerve.tensor([1.0])).item(), 4)
    0.6931
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean",
                 pos_weight=None):
        super().__init__(weight, size_average, reduce, reduction)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return L.binary_cross_entropy_with_logits(input, target, weight=self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class KLDivLoss(_Loss):
    """KL divergence with log-probability input; use ``reduction='batchmean'`` for the true KL.

    >>> p = nerve.tensor([[0.25, 0.75]])
    >>> KLDivLoss(reduction="batchmean")(nerve.log(p), p).item()
    0.0
    """

    _allowed = L.REDUCTIONS + ("batchmean",)

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 log_target: bool = False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return L.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class HingeEmbeddingLoss(_Loss):
    """``x`` for target 1, ``max(0, margin - x)`` for target -1.

    >>> HingeEmbeddingLoss(margin=2.0)(nerve.tensor([0.5]), nerve.tensor([-1.0])).item()
    1.5
    """

    def __init__(self, margin: float = 1.0, size_average=None, reduce=None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input, target):
        return L.hinge_embedding_loss(input, target, margin=self.margin,
                                      reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """Multi-class hinge loss (see ``functional.multi_margin_loss``).

    >>> x = nerve.tensor([[0.1, 0.2, 0.4, 0.8]])
    >>> round(MultiMarginLoss()(x, nerve.tensor([3])).item(), 4)
    0.325
    """

    def __init__(self, p: int = 1, margin: float = 1.0, weight=None, size_average=None,
                 reduce=None, reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p == 1 and p == 2 are supported, got {p}")
        self.p, self.margin = p, margin

    def forward(self, input, target):
        return L.multi_margin_loss(input, target, p=self.p, margin=self.margin,
                                   weight=self.weight, reduction=self.reduction)


class CosineSimilarity(Module):
    """Cosine similarity along ``dim`` (no reduction; a similarity, not a loss).

    >>> CosineSimilarity(dim=0)(nerve.tensor([1.0, 0.0]), nerve.tensor([2.0, 0.0])).item()
    1.0
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return L.cosine_similarity(x1, x2, self.dim, self.eps)


class CosineEmbeddingLoss(_Loss):
    """``1 - cos`` for target 1, ``max(0, cos - margin)`` for target -1.

    >>> CosineEmbeddingLoss()(nerve.tensor([[1.0, 0.0]]), nerve.tensor([[1.0, 0.0]]),
    ...                       nerve.tensor([-1])).item()
    1.0
    """

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return L.cosine_embedding_loss(input1, input2, target, margin=self.margin,
                                       reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """``max(0, -target (x1 - x2) + margin)``.

    >>> MarginRankingLoss()(nerve.tensor([3.0]), nerve.tensor([1.0]), nerve.tensor([-1.0])).item()
    2.0
    """

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return L.margin_ranking_loss(input1, input2, target, margin=self.margin,
                                     reduction=self.reduction)
