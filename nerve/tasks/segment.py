"""Semantic segmentation (segnet_small): a class for every pixel, scored by mean IoU.

Data: ``mnist-canvas`` (``nerve.data.datasets.MNISTCanvas``), 1-3 real MNIST digits on a
64x64 canvas, 11 classes (0 background, 1 + d for digit d); training canvases from MNIST's
training digits, test canvases from its test digits. The canvases are fixed (seed 0), so every
run and ``nerve evaluate`` score on the same test canvases; their settings (``canvas_size``,
``train_canvases``, ``test_canvases``, ``digits``, ``threshold``) are ``CANVAS_DEFAULTS``
unless the model's ``train_defaults`` say otherwise, and are stored in the checkpoint.

Loss: the per-pixel cross-entropy, weighted per class by median frequency balancing as in the
SegNet paper (``class_weights`` setting: ``"median-frequency"``, the default, or ``"none"``);
the ``loss`` in the test results is the plain, unweighted mean. Metrics, over all the pixels
of a split at once (not averaged over batches):

- pixel accuracy: the fraction of pixels whose predicted class is the true one;
- IoU of class c: ``TP / (TP + FP + FN)`` counted over every pixel of the split, from the
  confusion matrix; undefined (NaN, left out of the means) for a class that is neither in
  the ground truth nor predicted anywhere; no class or pixel is ignored;
- mean IoU: the mean IoU over the classes that are defined, background included (the
  PASCAL VOC convention); ``digit_mean_iou`` leaves the background out.
"""
from __future__ import annotations

import numpy

from ..train.metrics import Accuracy, Metric, confusion_matrix
from .base import Run, Task, TaskData, register_task

__all__ = ["MeanIoU", "PixelAccuracy", "SegmentTask", "iou_per_class", "mean_iou",
           "median_frequency_weights"]

DATA_SEED = 0  # the canvases are the dataset: the same for every run
CANVAS_DEFAULTS = {"canvas_size": 64, "train_canvases": 6000, "test_canvases": 1000,
                   "digits": (1, 3), "threshold": 0.5}
CLASS_WEIGHTS = ("median-frequency", "none")


def iou_per_class(cm) -> numpy.ndarray:
    """IoU ``TP / (TP + FP + FN)`` of each class from a confusion matrix ``cm[true, pred]``;
    NaN where a class is neither true nor predicted anywhere (its IoU is undefined).

    >>> iou_per_class([[3, 1], [0, 0]]).round(2).tolist()
    [0.75, 0.0]
    """
    cm = numpy.asarray(cm, dtype=numpy.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"iou_per_class: expected a square confusion matrix, got shape "
                         f"{cm.shape}")
    tp = numpy.diag(cm)
    union = cm.sum(axis=0) + cm.sum(axis=1) - tp
    return numpy.divide(tp, union, out=numpy.full_like(tp, numpy.nan), where=union > 0)


def mean_iou(cm, skip_background: bool = False) -> float:
    """The mean of ``iou_per_class(cm)`` over the classes whose IoU is defined (without
    class 0 when ``skip_background``); NaN when none is.

    >>> mean_iou([[3, 1, 0], [0, 0, 0], [0, 0, 0]])  # class 2 absent: mean of 0.75 and 0
    0.375
    """
    iou = iou_per_class(cm)[1 if skip_background else 0:]
    iou = iou[~numpy.isnan(iou)]
    return float(iou.mean()) if iou.size else float("nan")


class PixelAccuracy(Accuracy):
    """The fraction of pixels classified right, over everything seen since ``reset``."""

    name = "pixel_accuracy"


class MeanIoU(Metric):
    """Mean IoU over everything seen since ``reset`` (the confusion matrix is accumulated, so
    the result is the split's, not a mean of batch values)."""

    name = "mean_iou"

    def __init__(self, num_classes: int):
        self.num_classes = int(num_classes)
        super().__init__()

    def reset(self) -> None:
        self.cm = numpy.zeros((self.num_classes, self.num_classes), numpy.int64)

    def update(self, output, target, loss=None):
        self.cm = self.cm + confusion_matrix(output, target, self.num_classes)

    def compute(self) -> float:
        return mean_iou(self.cm)


def median_frequency_weights(dataset, num_classes: int, chunk: int = 500) -> numpy.ndarray:
    """SegNet's class weights for the loss (median frequency balancing, Eigen and Fergus
    2015): ``median(freq) / freq(c)``, where ``freq(c)`` is the number of pixels of class c
    divided by the number of pixels of the images in which c appears; the median is over the
    classes that appear, and a class that never appears gets weight 0 (it has no pixels to
    weigh). ``dataset`` yields ``(image, mask)`` batches through ``get_batch``.

    >>> class Two:  # two 1x4 masks: class 0 everywhere but one pixel of class 1
    ...     def __len__(self): return 2
    ...     def get_batch(self, i): return None, numpy.array([[[0, 0, 0, 1]], [[0, 0, 0, 0]]])[i]
    >>> median_frequency_weights(Two(), 3).tolist()  # freq 7/8 and 1/4, median 9/16
    [0.6428571428571429, 2.25, 0.0]
    """
    pixels = numpy.zeros(num_classes, numpy.int64)
    seen_in = numpy.zeros(num_classes, numpy.int64)  # pixels of the images holding the class
    for start in range(0, len(dataset), chunk):
        _, masks = dataset.get_batch(numpy.arange(start, min(start + chunk, len(dataset))))
        masks = numpy.asarray(masks).reshape(len(masks), -1)
        for mask in masks:
            counts = numpy.bincount(mask, minlength=num_classes)
            pixels += counts
            seen_in += (counts > 0) * mask.size
    present = seen_in > 0
    freq = numpy.divide(pixels, seen_in, out=numpy.zeros(num_classes), where=present)
    median = numpy.median(freq[present]) if present.any() else 1.0
    return numpy.divide(median, freq, out=numpy.zeros(num_classes), where=present)


@register_task
class SegmentTask(Task):
    name = "segment"
    datasets = ("mnist-canvas",)
    monitor = "val_mean_iou"
    unit = "canvases"

    def load(self, run: Run, meta: dict | None = None) -> TaskData:
        from ..data.datasets.segmentation import MNISTCanvas

        # a checkpoint's canvases, else the run's settings (a model's train_defaults may set
        # CANVAS_DEFAULTS keys), else the defaults
        given = {**run.settings, **((meta or {}).get("canvas") or {})}
        s = {k: given.get(k, v) for k, v in CANVAS_DEFAULTS.items()}
        common = {"size": int(s["canvas_size"]), "digits": tuple(s["digits"]),
                  "threshold": float(s["threshold"]), "seed": DATA_SEED,
                  "root": getattr(run.args, "data_dir", None)}
        train = MNISTCanvas(True, s["train_canvases"], **common)
        test = MNISTCanvas(False, s["test_canvases"], **common)
        notes = []
        if train.embedded:
            notes = [f"note: no MNIST files in --data-dir, $NERVE_DATA/~/.cache/nerve or the "
                     f"shared data folder; composing the canvases from the EMBEDDED MNIST "
                     f"SUBSET shipped with nerve ({train.source})."]
        size = common["size"]
        return TaskData(
            "mnist-canvas", train, None, test,
            f"{len(train):,} training / {len(test):,} test {size}x{size} canvases of "
            f"{common['digits'][0]}-{common['digits'][1]} MNIST digits from {train.source}",
            meta={"classes": list(train.classes), "input_shape": [1, size, size],
                  "canvas": {**s, "seed": DATA_SEED}},
            config={"in_channels": 1, "num_classes": len(train.classes)}, notes=notes)

    def loss(self, run: Run, data: TaskData):
        """Per-pixel cross-entropy, weighted by ``median_frequency_weights`` of the training
        canvases unless the setting ``class_weights`` is ``"none"`` (the background covers
        about 95% of the pixels: unweighted, a network first learns to paint everything
        background)."""
        import nerve

        from .. import nn

        how = run.settings.get("class_weights", "median-frequency")
        if how not in CLASS_WEIGHTS:
            raise ValueError(f"segment: class_weights must be one of {', '.join(CLASS_WEIGHTS)},"
                             f" got {how!r}")
        if how == "none":
            return nn.CrossEntropyLoss()
        w = median_frequency_weights(data.train, len(data.meta["classes"]))
        data.extra["class_weights"] = w
        return nn.CrossEntropyLoss(weight=nerve.tensor(w.astype(numpy.float32),
                                                       device=run.device))

    @property
    def metrics(self):
        from ..data.datasets.segmentation import CANVAS_CLASSES

        return (PixelAccuracy(), MeanIoU(len(CANVAS_CLASSES)))

    def test(self, run: Run, model, data: TaskData) -> dict:
        report = self.report(model, data.test, len(data.meta["classes"]), run.device)
        data.extra["report"] = (model, report)  # for plots, when they draw this model
        classes = data.meta["classes"]
        iou = iou_per_class(report["confusion_matrix"])
        return {"loss": report["loss"], "pixel_accuracy": report["pixel_accuracy"],
                "mean_iou": mean_iou(report["confusion_matrix"]),
                "digit_mean_iou": mean_iou(report["confusion_matrix"], skip_background=True),
                "per_class_iou": {c: (None if numpy.isnan(v) else float(v))
                                  for c, v in zip(classes, iou)}}

    @staticmethod
    def report(model, dataset, num_classes: int, device=None, batch_size: int = 100,
               keep: int = 8) -> dict:
        """Loss, pixel accuracy and confusion matrix over ``dataset`` batch by batch (the
        logits of a whole split would be large), and the predicted masks of the first
        ``keep`` samples."""
        import nerve

        from ..nn import functional as F

        cm = numpy.zeros((num_classes, num_classes), numpy.int64)
        total, kept = 0.0, []
        was_training = model.training
        model.eval()
        try:
            with nerve.no_grad():
                for start in range(0, len(dataset), batch_size):
                    x, y = dataset.get_batch(numpy.arange(start, min(start + batch_size,
                                                                     len(dataset))))
                    logits = model(nerve.tensor(x, device=device)).to("cpu")
                    total += F.cross_entropy(logits, nerve.Tensor(y)).item() * len(y)
                    cm += confusion_matrix(logits, y, num_classes)
                    if sum(len(k) for k in kept) < keep:
                        kept.append(logits.numpy().argmax(axis=1))
        finally:
            model.train(was_training)
        pixels = cm.sum()
        return {"loss": total / len(dataset), "confusion_matrix": cm,
                "pixel_accuracy": float(numpy.trace(cm) / pixels) if pixels else float("nan"),
                "predictions": numpy.concatenate(kept)[:keep] if kept else None}

    def summary(self, results: dict) -> str:
        return (f"test mean IoU {results['mean_iou']:.4f} (digits only "
                f"{results['digit_mean_iou']:.4f}), pixel accuracy "
                f"{100 * results['pixel_accuracy']:.2f}% (cross-entropy "
                f"{results['loss']:.4f})")

    def details(self, results: dict) -> list[str]:
        return [f"{'class':>12}  IoU"] + [
            f"{cls:>12}  {'undefined' if v is None else f'{v:.4f}'}"
            for cls, v in results["per_class_iou"].items()]

    def plots(self, run: Run, model, data: TaskData, history, results: dict) -> list[str]:
        written = super().plots(run, model, data, history, results)
        tested, report = data.extra.get("report", (None, None))
        if tested is not model:  # (nerve train also tests best.nrv, after this model)
            report = self.report(model, data.test, len(data.meta["classes"]), run.device)
        n = len(report["predictions"])
        x, y = data.test.get_batch(numpy.arange(n))
        plot_segmentation(x[:, 0], y, report["predictions"], data.meta["classes"],
                          run.out / "predictions.png")
        return written + ["predictions.png"]


def plot_segmentation(images, targets, predictions, classes, path=None):
    """Columns of test samples; rows: the input, the true mask and the predicted mask (one
    colour per class, background black), each prediction titled with its pixel accuracy."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    from ..train.plots import _figure, _finish

    k = len(classes)
    cmap = ListedColormap([(0.0, 0.0, 0.0)] + list(colormaps["tab10"].colors)[:k - 1])
    n = len(images)
    fig = _figure((1.6 * n + 1.2, 5.2))
    axes = fig.subplots(3, n, squeeze=False)
    shown = None
    for j in range(n):
        right = float((predictions[j] == targets[j]).mean())
        for i, (img, title) in enumerate(((images[j], "input"), (targets[j], "truth"),
                                          (predictions[j], f"prediction {100 * right:.1f}%"))):
            ax = axes[i, j]
            ax.set_axis_off()
            if i == 0:
                ax.imshow(img, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            else:
                shown = ax.imshow(img, cmap=cmap, vmin=-0.5, vmax=k - 0.5,
                                  interpolation="nearest")
            ax.set_title(title, fontsize=7)
    bar = fig.colorbar(shown, ax=axes.ravel().tolist(), ticks=range(k), shrink=0.8)
    bar.ax.set_yticklabels(classes, fontsize=7)
    return _finish(fig, path)
