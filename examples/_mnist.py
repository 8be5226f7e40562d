"""MNIST helpers shared by the MLP experiments (optimizers, learning-rate schedules,
regularization, mini-batch size): the arrays, the model, plain training and evaluation loops
written out so that each experiment shows what it varies."""
from __future__ import annotations

import numpy

import nerve
from nerve.data.datasets import find_shared_data
from nerve.models import get_model
from nerve.nn import functional as F
from nerve.train.recipes import load_image_data


def mnist_arrays(quick: bool, n_train: int, n_test: int | None = None):
    """``(x_train, y_train), (x_test, y_test), description``: flattened, normalized MNIST.

    Real MNIST from the shared data folder, unless ``quick`` or the folder is missing: then
    the subset shipped with nerve (6,000 train / 1,000 test images). The first ``n_train``
    training and ``n_test`` (default all) test images are kept.
    """
    shared = find_shared_data()
    if quick or shared is None:
        data = load_image_data("embedded-mnist")
    else:
        data = load_image_data("mnist", shared / "mnist", download=False)

    def arrays(ds, n):
        x = ds.data[:n].reshape(-1, 784).astype(numpy.float32) / 255.0
        return (x - data.mean[0]) / data.std[0], numpy.asarray(ds.targets[:n])

    train, test = arrays(data.train, n_train), arrays(data.test, n_test)
    where = "embedded MNIST subset" if data.name == "embedded-mnist" else "MNIST"
    note = f" ({data.fallback_reason})" if data.fallback_reason else ""
    return train, test, f"{where}: {len(train[1])} train / {len(test[1])} test images{note}"


def mlp(hidden=(128,), dropout: float = 0.0):
    """The zoo's MLP (784 inputs, ReLU hidden layers, 10 outputs)."""
    return get_model("mlp", hidden=tuple(hidden), dropout=dropout)


def minibatches(n: int, batch_size: int, rng):
    """Index arrays of one shuffled epoch (the last batch may be smaller)."""
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def evaluate(model, x, y, batch_size: int = 2000) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on arrays, in eval mode."""
    was_training = model.training
    model.eval()
    loss = correct = 0.0
    with nerve.no_grad():
        for i in range(0, len(y), batch_size):
            logits = model(nerve.tensor(x[i:i + batch_size]))
            target = nerve.tensor(y[i:i + batch_size])
            loss += F.cross_entropy(logits, target, reduction="sum").item()
            correct += float((logits.numpy().argmax(1) == y[i:i + batch_size]).sum())
    model.train(was_training)
    return loss / len(y), correct / len(y)


def sgd_step(model, opt, x, y) -> float:
    """One update on the batch ``(x, y)``; returns the batch loss before it."""
    opt.zero_grad()
    loss = F.cross_entropy(model(nerve.tensor(x)), nerve.tensor(y))
    loss.backward()
    opt.step()
    return loss.item()
