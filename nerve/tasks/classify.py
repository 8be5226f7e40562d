"""Image classification (mlp, lenet, ...): cross-entropy, accuracy, a confusion matrix."""
from __future__ import annotations

import numpy

from .base import ImageTask, Run, TaskData, register_task


def softmax(logits: numpy.ndarray) -> numpy.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = numpy.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@register_task
class Classify(ImageTask):
    name = "classify"
    metrics = ("accuracy",)
    monitor = "val_accuracy"

    def load(self, run: Run, meta: dict | None = None) -> TaskData:
        from ..train.recipes import load_image_data

        name = run.settings["dataset"]
        data = load_image_data(name, getattr(run.args, "data_dir", None),
                               download=not getattr(run.args, "offline", False))
        notes = list(data.notes)
        if data.fallback_reason:
            notes = [f"note: {data.fallback_reason.rstrip('.')}.",
                     f"note: using the EMBEDDED MNIST SUBSET shipped with nerve instead "
                     f"({len(data.train):,} training / {len(data.test):,} test images, 10% of "
                     f"MNIST); expect a lower accuracy than on full MNIST."]
        c, h, w = data.input_shape
        train, val = self._split_augmented(run, data)
        return TaskData(
            data.name, train, val, data.test, data.source,
            meta={"classes": data.classes, "input_shape": list(data.input_shape),
                  "mean": list(data.mean), "std": list(data.std)},
            config={"in_channels": c, "in_features": c * h * w, "image_size": h,
                    "num_classes": len(data.classes)},
            notes=notes, extra={"images": data})

    @staticmethod
    def _split_augmented(run: Run, data):
        """``(train, None)``, or for an augmented training set ``(train, val)`` with the
        ``--val-split`` held out as ``Run.split`` would (same seed), but validated on the
        images without augmentation."""
        frac = getattr(run.args, "val_split", 0.0) or 0.0
        if data.train_eval is None or frac <= 0:
            return data.train, None
        from ..data import Subset, random_split

        k = max(1, int(round(len(data.train) * frac)))
        train, val = random_split(range(len(data.train)), [len(data.train) - k, k],
                                  seed=run.seed)
        return Subset(data.train, train.indices), Subset(data.train_eval, val.indices)

    def test(self, run: Run, model, data: TaskData) -> dict:
        report = self.report(model, data, run.device)
        data.extra["report"] = report
        return report["summary"]

    @staticmethod
    def report(model, data: TaskData, device) -> dict:
        """Outputs, loss, accuracy and confusion matrix on the test split, in one pass."""
        import nerve

        from ..train import predict
        from ..train.metrics import accuracy, confusion_matrix, precision_recall

        classes, test = data.meta["classes"], data.test
        logits = predict(model, test, batch_size=1000, device=device).to("cpu")
        loss = nerve.nn.functional.cross_entropy(logits, nerve.Tensor(test.targets)).item()
        cm = confusion_matrix(logits, test.targets, num_classes=len(classes))
        precision, recall = precision_recall(cm)
        summary = {"loss": loss, "accuracy": accuracy(logits, test.targets),
                   "per_class": {str(c): {"precision": float(p), "recall": float(r)}
                                 for c, p, r in zip(classes, precision, recall)}}
        return {"summary": summary, "logits": logits, "confusion_matrix": cm}

    def summary(self, results: dict) -> str:
        return f"test accuracy {100 * results['accuracy']:.2f}% (loss {results['loss']:.4f})"

    def details(self, results: dict) -> list[str]:
        return [f"{'class':>12}  precision  recall"] + [
            f"{cls:>12}  {pr['precision']:9.4f}  {pr['recall']:6.4f}"
            for cls, pr in results["per_class"].items()]

    def plots(self, run: Run, model, data: TaskData, history, results: dict) -> list[str]:
        from ..train import plots

        written = super().plots(run, model, data, history, results)
        report = data.extra.get("report") or self.report(model, data, run.device)
        classes, test, out = data.meta["classes"], data.test, run.out
        plots.plot_weights(plots.first_layer_weight(model), out / "weights.png",
                           title=f"{getattr(model, 'model_name', 'model')}: first-layer weights")
        plots.plot_confusion_matrix(report["confusion_matrix"], classes, out / "confusion.png")
        probs = softmax(report["logits"].numpy())
        # evenly spaced test images: some test sets (CIFAR-10's JPEGs) are sorted by class
        pick = numpy.linspace(0, len(test) - 1, min(32, len(test))).astype(numpy.int64)
        plots.plot_predictions(test.data[pick], test.targets[pick], probs[pick].argmax(1),
                               classes, out / "predictions.png", probs[pick].max(1))
        return written + ["weights.png", "confusion.png", "predictions.png"]
