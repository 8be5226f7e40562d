"""Classifying 2-D synthetic point sets (and, for linear models, the image sets too).

The point sets come from ``nerve.data.datasets.synthetic``: ``linear`` (separable by a line,
with a margin), ``xor`` (four noisy corners), ``moons``, ``spirals`` and ``blobs`` (two
overlapping Gaussian clouds: not linearly separable, the Bayes error is about 8%). Each is
drawn once (seeded), shuffled and split in half: train and test. The image datasets of the
``classify`` task (MNIST, Fashion-MNIST, the embedded subset) are accepted as well, so
``nerve train logreg --dataset mnist`` trains softmax regression on pixels.

The loss is the model's own ``criterion(scores, target)`` when it has one (the perceptron's
criterion, see nerve/models/linear.py), else cross-entropy. Results: test accuracy and loss;
plots: learning curves, the confusion matrix and, for point sets, the decision regions.

>>> X, y = make_points("blobs", 8)
>>> X.shape, y.shape, sorted(set(y.tolist()))
((8, 2), (8,), [0, 1])
"""
from __future__ import annotations

import numpy

from ..data.datasets import synthetic
from .base import Run, TaskData, register_task
from .classify import Classify, softmax

__all__ = ["POINT_SETS", "Points", "decision_grid", "make_points", "plot_decision_regions"]

# name -> (n points -> (X, y)); every set is roughly inside [-2, 2]^2
POINT_SETS = {
    "linear": lambda n, seed: synthetic.linearly_separable(n, margin=0.1, seed=seed),
    "xor": lambda n, seed: synthetic.xor(max(1, n // 4), noise=0.15, seed=seed),
    "moons": lambda n, seed: synthetic.two_moons(n, noise=0.15, seed=seed),
    "spirals": lambda n, seed: synthetic.two_spirals(n, noise=0.03, seed=seed),
    "blobs": lambda n, seed: synthetic.gaussian_blobs(n, centers=[[-1.0, -1.0], [1.0, 1.0]],
                                                      std=1.0, seed=seed),
}
POINTS_PER_SPLIT = 400


def make_points(name: str, n: int, seed: int = 0):
    """``n`` shuffled points ``(X float32 (n, 2), y int64 (n,))`` of the named set."""
    if name not in POINT_SETS:
        raise ValueError(f"unknown point set {name!r}; available: {', '.join(POINT_SETS)}")
    X, y = POINT_SETS[name](n, seed)
    order = numpy.random.default_rng(seed + 1).permutation(len(y))
    return X[order], y[order]


def decision_grid(model, X, steps: int = 200, pad: float = 0.5):
    """``(xx, yy, probs)``: the model's class probabilities on a ``steps x steps`` grid
    covering the points ``X`` (numpy arrays; ``probs`` has shape (steps, steps, C))."""
    from .. import tensor
    from ..train import predict

    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    xx, yy = numpy.meshgrid(numpy.linspace(lo[0], hi[0], steps),
                            numpy.linspace(lo[1], hi[1], steps))
    grid = numpy.stack([xx.ravel(), yy.ravel()], axis=1).astype(numpy.float32)
    scores = predict(model, tensor(grid), batch_size=10_000).to("cpu").numpy()
    return xx, yy, softmax(scores).reshape(steps, steps, -1)


def plot_decision_regions(model, X, y, ax=None, path=None, title: str | None = None):
    """Draw the model's decision regions with the points on top (on ``ax`` or into ``path``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
    xx, yy, probs = decision_grid(model, X)
    k = probs.shape[-1]
    if k == 2:  # a smooth map of P(class 1), the 0.5 contour as the boundary
        ax.contourf(xx, yy, probs[..., 1], levels=20, cmap="RdBu_r", alpha=0.5, vmin=0, vmax=1)
        ax.contour(xx, yy, probs[..., 1], levels=[0.5], colors="k", linewidths=1)
    else:
        ax.contourf(xx, yy, probs.argmax(-1), levels=numpy.arange(k + 1) - 0.5,
                    cmap="tab10", alpha=0.35)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r" if k == 2 else "tab10", s=12,
               edgecolors="k", linewidths=0.3)
    ax.set_xlim(xx.min(), xx.max())
    ax.set_ylim(yy.min(), yy.max())
    if title:
        ax.set_title(title, fontsize=10)
    if fig is not None:
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return ax


@register_task
class Points(Classify):
    name = "points"
    unit = "points"

    @property
    def datasets(self):
        return tuple(POINT_SETS) + super().datasets

    def load(self, run: Run, meta: dict | None = None) -> TaskData:
        from ..data import ArrayDataset

        name = run.settings["dataset"]
        if name not in POINT_SETS:
            data = super().load(run, meta)
            self.unit = "images"
            return data
        X, y = make_points(name, 2 * POINTS_PER_SPLIT, seed=run.seed)
        half = POINTS_PER_SPLIT
        classes = [str(c) for c in range(int(y.max()) + 1)]
        return TaskData(
            name, ArrayDataset(X[:half], y[:half]), None, ArrayDataset(X[half:], y[half:]),
            f"nerve.data.datasets.synthetic (seed {run.seed})",
            meta={"classes": classes, "input_shape": [2], "points": True},
            config={"in_features": 2, "num_classes": len(classes)})

    def train(self, run: Run, model, data: TaskData, callbacks, meta: dict):
        data.extra["criterion"] = getattr(model, "criterion", None)
        return super().train(run, model, data, callbacks, meta)

    def loss(self, run: Run, data: TaskData):
        return data.extra.get("criterion") or super().loss(run, data)

    def test(self, run: Run, model, data: TaskData) -> dict:
        import nerve

        results = super().test(run, model, data)
        criterion = getattr(model, "criterion", None)
        if criterion is not None:  # report the loss the model was trained on
            logits = data.extra["report"]["logits"]
            results["loss"] = float(criterion(logits, nerve.Tensor(data.test.targets)).item())
        return results

    def plots(self, run: Run, model, data: TaskData, history, results: dict) -> list[str]:
        if not data.meta.get("points"):
            return super().plots(run, model, data, history, results)
        from ..train import plots

        plots.plot_history(history, run.out / "curves.png")
        report = data.extra.get("report") or self.report(model, data, run.device)
        plots.plot_confusion_matrix(report["confusion_matrix"], data.meta["classes"],
                                    run.out / "confusion.png")
        X, y = data.test.data, data.test.targets
        title = (f"{getattr(model, 'model_name', 'model')} on {data.name}: test accuracy "
                 f"{100 * results['accuracy']:.1f}%")
        plot_decision_regions(model.to("cpu"), X, y, path=run.out / "decision.png", title=title)
        return ["curves.png", "confusion.png", "decision.png"]
