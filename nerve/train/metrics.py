"""Classification metrics: functions on whole arrays, and streaming ``Metric`` objects that
``fit``/``evaluate`` update batch by batch.

Outputs follow ``CrossEntropyLoss``'s layout: scores ``(N, C)`` or ``(N, C, d1, ...)`` with the
classes on axis 1, or already-decided labels of the target's shape. Targets are class indices.
Results are Python floats or NumPy arrays, whatever device the inputs were on.

>>> import numpy
>>> scores = numpy.array([[2.0, 1.0, 0.0], [0.0, 1.0, 2.0], [0.0, 2.0, 1.0]])
>>> accuracy(scores, [0, 2, 0])
0.6666666666666666
>>> confusion_matrix(scores, [0, 2, 0], num_classes=3).tolist()
[[1, 1, 0], [0, 0, 0], [0, 0, 1]]
"""
from __future__ import annotations

import copy
import math

import numpy

from ..autograd.tensor import Tensor
from ..backend import CPU, get_array_module, to_device

__all__ = ["accuracy", "top_k_accuracy", "confusion_matrix", "precision_recall", "perplexity",
           "Metric", "Accuracy", "TopKAccuracy", "MeanLoss", "Perplexity", "get_metric"]


def _array(x):
    """The array behind a Tensor, array or list (on whatever device it lives)."""
    if isinstance(x, Tensor):
        return x.data
    return x if hasattr(x, "shape") and hasattr(x, "dtype") else numpy.asarray(x)


def _host(a) -> numpy.ndarray:
    return a if isinstance(a, numpy.ndarray) else numpy.asarray(to_device(a, CPU))


def _scores_and_target(output, target, who: str):
    out, tgt = _array(output), _array(target)
    xp = get_array_module(out)
    if xp is not get_array_module(tgt):  # e.g. GPU scores, NumPy labels: compare on the GPU
        tgt = xp.asarray(tgt)
    if tgt.dtype.kind not in "iu":
        raise TypeError(f"{who}: the target must hold integer class indices, got {tgt.dtype}")
    if out.ndim == tgt.ndim + 1:
        if out.ndim == 1 or out.shape[:1] + out.shape[2:] != tgt.shape:
            raise ValueError(f"{who}: scores of shape {tuple(out.shape)} do not fit a target of "
                             f"shape {tuple(tgt.shape)}; expected scores (N, C, ...) for a "
                             f"target (N, ...)")
        return out, tgt
    if out.shape != tgt.shape:
        raise ValueError(f"{who}: expected scores (N, C, ...) or labels of the target's shape "
                         f"{tuple(tgt.shape)}, got {tuple(out.shape)}")
    return None, tgt


def predicted_labels(output, target_ndim: int | None = None):
    """Class decisions: argmax over axis 1 of scores (labels are returned as they are)."""
    out = _array(output)
    if target_ndim is not None and out.ndim == target_ndim:
        return out
    return out.argmax(axis=1) if out.ndim >= 2 else out


def _counts(output, target, who: str, ignore_index=None):
    """(number correct, number counted) as Python ints."""
    scores, tgt = _scores_and_target(output, target, who)
    pred = scores.argmax(axis=1) if scores is not None else _array(output)
    hit = pred == tgt
    if ignore_index is not None:
        keep = tgt != ignore_index
        return int((hit & keep).sum()), int(keep.sum())
    return int(hit.sum()), int(tgt.size)


def accuracy(output, target, ignore_index: int | None = None) -> float:
    """Fraction of samples whose top-scoring class (or given label) is the target."""
    correct, total = _counts(output, target, "accuracy", ignore_index)
    return correct / total if total else float("nan")


def _top_k_counts(output, target, k: int, who: str):
    scores, tgt = _scores_and_target(output, target, who)
    if scores is None:
        raise ValueError(f"{who}: needs scores (N, C, ...), not labels")
    if not isinstance(k, int) or not 1 <= k <= scores.shape[1]:
        raise ValueError(f"{who}: k must be an integer in [1, {scores.shape[1]}] (the number of "
                         f"classes), got {k!r}")
    xp = get_array_module(scores)
    # the target is in the top k when fewer than k classes score strictly higher than it
    mine = xp.take_along_axis(scores, xp.expand_dims(tgt, 1), axis=1)
    higher = (scores > mine).sum(axis=1)
    return int((higher < k).sum()), int(tgt.size)


def top_k_accuracy(output, target, k: int = 5) -> float:
    """Fraction of samples whose target is among the ``k`` highest scores (ties count for the
    target, as ``torch.topk`` may order them either way)."""
    correct, total = _top_k_counts(output, target, k, "top_k_accuracy")
    return correct / total if total else float("nan")


def confusion_matrix(output, target, num_classes: int | None = None) -> numpy.ndarray:
    """``cm[i, j]``: how many samples of true class ``i`` were predicted as ``j`` (int64)."""
    scores, tgt = _scores_and_target(output, target, "confusion_matrix")
    pred = _host(scores.argmax(axis=1) if scores is not None else _array(output)).reshape(-1)
    tgt = _host(tgt).reshape(-1)
    if num_classes is None:
        num_classes = int(max(pred.max(initial=-1), tgt.max(initial=-1))) + 1
        if scores is not None:
            num_classes = max(num_classes, scores.shape[1])
    for what, a in (("target", tgt), ("prediction", pred)):
        if a.size and (a.min() < 0 or a.max() >= num_classes):
            raise ValueError(f"confusion_matrix: a {what} lies outside 0..{num_classes - 1}")
    flat = tgt.astype(numpy.int64) * num_classes + pred.astype(numpy.int64)
    return numpy.bincount(flat, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def precision_recall(cm) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Per-class precision (column-wise) and recall (row-wise) of a confusion matrix; a class
    never predicted (or never present) gets 0, as scikit-learn's ``zero_division=0``."""
    cm = numpy.asarray(cm, dtype=numpy.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"precision_recall: expected a square confusion matrix, got shape "
                         f"{cm.shape}")
    tp = numpy.diag(cm)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = numpy.divide(tp, predicted, out=numpy.zeros_like(tp), where=predicted > 0)
    recall = numpy.divide(tp, actual, out=numpy.zeros_like(tp), where=actual > 0)
    return precision, recall


def perplexity(mean_loss: float) -> float:
    """``exp`` of a mean cross-entropy in nats per token (overflow gives inf)."""
    try:
        return math.exp(float(mean_loss))
    except OverflowError:
        return math.inf


# ---- streaming metrics, as fit/evaluate use them --------------------------------------------
class Metric:
    """Accumulates over batches: ``reset()``, ``update(output, target, loss)`` (``loss`` is the
    batch's mean loss as a float), ``compute() -> float``. ``name`` is the key in the logs."""

    name = "metric"

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0

    def __init__(self):
        self.reset()

    def update(self, output, target, loss: float | None = None) -> None:
        raise NotImplementedError

    def compute(self) -> float:
        return self.total / self.count if self.count else float("nan")


class Accuracy(Metric):
    name = "accuracy"

    def __init__(self, ignore_index: int | None = None):
        self.ignore_index = ignore_index
        super().__init__()

    def update(self, output, target, loss=None):
        correct, total = _counts(output, target, "accuracy", self.ignore_index)
        self.total += correct
        self.count += total


class TopKAccuracy(Metric):
    def __init__(self, k: int = 5):
        self.k = k
        self.name = f"top{k}_accuracy"
        super().__init__()

    def update(self, output, target, loss=None):
        correct, total = _top_k_counts(output, target, self.k, "top_k_accuracy")
        self.total += correct
        self.count += total


class MeanLoss(Metric):
    """The sample-weighted mean of the batch losses (what ``fit`` reports as ``loss``)."""

    name = "loss"

    def update(self, output, target, loss=None):
        n = len(_array(target)) if target is not None else 1
        self.total += float(loss) * n
        self.count += n


class Perplexity(MeanLoss):
    """``exp`` of the mean cross-entropy loss, for language models."""

    name = "perplexity"

    def compute(self) -> float:
        return perplexity(super().compute())


_NAMES = {"accuracy": Accuracy, "acc": Accuracy, "perplexity": Perplexity, "ppl": Perplexity}


def get_metric(metric) -> Metric:
    """A ``Metric`` from a name (``"accuracy"``, ``"top5_accuracy"``, ``"perplexity"``), a
    ``Metric`` instance (a fresh reset copy, so that each epoch and each validation pass
    starts from zero) or a function ``f(output, target) -> float`` (its batch values are
    averaged, weighted by batch size)."""
    if isinstance(metric, Metric):
        fresh = copy.copy(metric)
        fresh.reset()
        return fresh
    if isinstance(metric, str):
        name = metric.lower()
        if name in _NAMES:
            return _NAMES[name]()
        if name.startswith("top") and name.endswith("_accuracy") and name[3:-9].isdigit():
            return TopKAccuracy(int(name[3:-9]))
        raise ValueError(f"unknown metric {metric!r}; expected one of "
                         f"{sorted(_NAMES)}, 'topK_accuracy' (e.g. 'top5_accuracy'), a Metric "
                         f"or a function (output, target) -> float")
    if callable(metric):
        return _FunctionMetric(metric)
    raise TypeError(f"a metric must be a name, a Metric or a function, got {metric!r}")


class _FunctionMetric(Metric):
    def __init__(self, fn):
        self.fn = fn
        self.name = getattr(fn, "__name__", "metric")
        super().__init__()

    def update(self, output, target, loss=None):
        n = len(_array(target))
        self.total += float(self.fn(output, target)) * n
        self.count += n
