"""Training plots (matplotlib, an optional dependency: ``pip install "nerve[plots]"``).

Every function builds a ``matplotlib.figure.Figure`` drawn by the Agg backend, without pyplot
(so it works on a headless machine and never changes the user's backend), saves it when
given ``path`` and returns it.

>>> from nerve.train import plots
>>> fig = plots.plot_history(history, "curves.png")                 # doctest: +SKIP
>>> fig = plots.plot_weights(plots.first_layer_weight(model), "w1.png")  # doctest: +SKIP
"""
from __future__ import annotations

import math

import numpy

from ..autograd.tensor import Tensor
from ..backend import CPU, to_device

__all__ = ["plot_history", "plot_weights", "plot_confusion_matrix", "plot_predictions",
           "first_layer_weight", "require_matplotlib"]


def require_matplotlib(who: str = "nerve.train.plots"):
    """The ``matplotlib.figure`` module, or an ImportError that says how to install it."""
    try:
        import matplotlib.figure
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError as exc:
        raise ImportError(f"{who} needs matplotlib, which is not installed: pip install "
                          f"matplotlib (or pip install 'nerve[plots]')") from exc
    return matplotlib.figure, FigureCanvasAgg


def _figure(figsize):
    figure, canvas = require_matplotlib()
    fig = figure.Figure(figsize=figsize, layout="constrained")
    canvas(fig)
    return fig


def _finish(fig, path):
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def _host(x) -> numpy.ndarray:
    a = x.data if isinstance(x, Tensor) else x
    if not isinstance(a, numpy.ndarray) and hasattr(a, "shape") and hasattr(a, "dtype"):
        a = to_device(a, CPU)
    return numpy.asarray(a)


def _series(history) -> tuple[list, dict]:
    """(epoch numbers from 1, {key: values}) from a History, its rows, or a dict of lists."""
    if hasattr(history, "rows"):
        history = history.rows()
    if isinstance(history, dict):
        n = len(next(iter(history.values()), []))
        return list(range(1, n + 1)), {k: list(v) for k, v in history.items()}
    rows = list(history)
    keys = [k for k in (rows[0] if rows else {}) if k != "epoch"]
    epochs = [r.get("epoch", i + 1) for i, r in enumerate(rows)]
    return epochs, {k: [r.get(k) for r in rows] for k in keys}


def plot_history(history, path=None, keys=None):
    """Training and validation curves: one panel per quantity (``loss``, ``accuracy``, ...),
    the training value and its ``val_`` twin in each."""
    epochs, series = _series(history)
    skip = {"lr", "time", "samples_per_s"}
    if keys is None:
        keys = [k for k in series if not k.startswith("val_") and k not in skip]
        keys += [k[4:] for k in series if k.startswith("val_") and k[4:] not in keys]
    if not keys:
        raise ValueError("plot_history: nothing to plot (the history is empty)")
    fig = _figure((4.2 * len(keys), 3.4))
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    for ax, key in zip(axes, keys):
        for name, label, style in ((key, "training", "-o"), (f"val_{key}", "validation", "-s")):
            values = series.get(name)
            if values and any(v is not None for v in values):
                ax.plot(epochs, [math.nan if v is None else v for v in values], style,
                        markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    return _finish(fig, path)


def first_layer_weight(model):
    """The weight of the first ``Linear`` or ``Conv2d`` in ``model`` (what ``plot_weights``
    shows)."""
    from ..nn import Conv2d, Linear

    for module in model.modules():
        if isinstance(module, (Linear, Conv2d)):
            return module.weight
    raise ValueError(f"first_layer_weight: {type(model).__name__} has no Linear or Conv2d layer")


def _tiles(w, image_shape):
    """(count, H, W) or (count, H, W, 3) images from a weight matrix or conv filters."""
    if w.ndim == 4:  # conv filters (O, C, kh, kw): RGB when C == 3, else the channel mean
        return w.transpose(0, 2, 3, 1) if w.shape[1] == 3 else w.mean(axis=1)
    if w.ndim != 2:
        raise ValueError(f"plot_weights: expected a (units, inputs) matrix or conv filters "
                         f"(O, C, kh, kw), got shape {w.shape}")
    if image_shape is None:
        side = math.isqrt(w.shape[1])
        for channels in (1, 3):
            side = math.isqrt(w.shape[1] // channels)
            if side * side * channels == w.shape[1]:
                image_shape = (side, side) if channels == 1 else (channels, side, side)
                break
        else:
            raise ValueError(f"plot_weights: cannot guess an image shape for {w.shape[1]} inputs;"
                             f" pass image_shape=(H, W)")
    if math.prod(image_shape) != w.shape[1]:
        raise ValueError(f"plot_weights: image_shape {tuple(image_shape)} does not hold "
                         f"{w.shape[1]} inputs")
    tiles = w.reshape((-1,) + tuple(image_shape))
    return tiles.transpose(0, 2, 3, 1) if len(image_shape) == 3 else tiles


def plot_weights(weight, path=None, image_shape=None, max_images: int = 64,
                 title: str | None = "first-layer weights"):
    """A grid of the first layer's weights as images: each hidden unit's input weights (a
    ``(units, 784)`` matrix as 28x28 pictures) or each conv filter. Each tile is scaled to
    its own range, so the pattern shows whatever the weights' size."""
    tiles = _tiles(_host(weight).astype(numpy.float64), image_shape)[:max_images]
    n = len(tiles)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    fig = _figure((1.1 * cols, 1.1 * rows + (0.3 if title else 0)))
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k < n:
            t = tiles[k]
            lo, hi = t.min(), t.max()
            t = (t - lo) / (hi - lo) if hi > lo else numpy.zeros_like(t)
            ax.imshow(t, cmap="gray" if t.ndim == 2 else None, interpolation="nearest")
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def plot_confusion_matrix(cm, classes=None, path=None, normalize: bool = False,
                          title: str = "confusion matrix"):
    """The confusion matrix as a heat map (rows: true class, columns: predicted), with the
    counts (or, with ``normalize``, the fraction of each true class) written in the cells."""
    cm = numpy.asarray(cm, dtype=numpy.float64)
    k = cm.shape[0]
    classes = [str(c) for c in (classes if classes is not None else range(k))]
    if normalize:
        cm = cm / numpy.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig = _figure((0.55 * k + 2.5, 0.55 * k + 2))
    ax = fig.subplots()
    image = ax.imshow(cm, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(k), classes, rotation=45 if max(map(len, classes)) > 2 else 0)
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    threshold = cm.max() / 2 if cm.size else 0
    for i in range(k):
        for j in range(k):
            text = f"{cm[i, j]:.2f}" if normalize else f"{int(cm[i, j])}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if cm[i, j] > threshold else "black")
    return _finish(fig, path)


def plot_predictions(images, labels, predictions, classes=None, path=None,
                     probabilities=None, max_images: int = 32):
    """A grid of sample images titled with the predicted class (and probability) and the
    true one; mistakes in red."""
    imgs = _host(images)
    if imgs.ndim == 4:  # (N, C, H, W), or (N, H, W, C) as datasets store RGB images
        if imgs.shape[1] not in (1, 3) and imgs.shape[3] in (1, 3):
            imgs = imgs.transpose(0, 3, 1, 2)
        imgs = imgs[:, 0] if imgs.shape[1] == 1 else imgs.transpose(0, 2, 3, 1)
    labels, predictions = _host(labels).reshape(-1), _host(predictions).reshape(-1)
    probs = _host(probabilities).reshape(-1) if probabilities is not None else None
    n = min(len(imgs), max_images)
    cols = min(8, n)
    rows = math.ceil(n / cols)
    fig = _figure((1.4 * cols, 1.6 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    name = (lambda c: str(classes[int(c)])) if classes is not None else (lambda c: str(int(c)))
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k >= n:
            continue
        img = imgs[k].astype(numpy.float64)
        lo, hi = img.min(), img.max()
        ax.imshow((img - lo) / (hi - lo) if hi > lo else img, cmap="gray" if img.ndim == 2
                  else None, interpolation="nearest")
        right = predictions[k] == labels[k]
        p = f" {100 * probs[k]:.0f}%" if probs is not None else ""
        ax.set_title(f"{name(predictions[k])}{p}\n(true {name(labels[k])})", fontsize=7,
                     color="black" if right else "red")
    return _finish(fig, path)
