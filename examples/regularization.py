"""Regularization on a small training set: over-fitting and four cures.

A 784-256-256-10 ReLU MLP trained on only 1,000 MNIST images learns them by heart (training
accuracy 100%, training loss near 0) while its test accuracy stays far lower: it over-fits.
The same network and training run (SGD, momentum 0.9, lr 0.01, batches of 50, same initial
weights and batch order) with one regularizer each:

- L2: weight decay 1e-2 on every parameter (``SGD(weight_decay=...)``, Krogh & Hertz 1992);
- dropout: p = 0.2 on the inputs and 0.5 after each hidden layer (Srivastava et al. 2014);
- noise augmentation: fresh Gaussian noise of standard deviation 1 (in the normalized pixel
  units) added to every training batch (Bishop 1995: training with noise is Tikhonov
  regularization);
- batch norm: ``BatchNorm1d`` before each ReLU (Ioffe & Szegedy 2015), whose batch
  statistics are a noisy, regularizing part of each forward pass.

Reported per setting: training and test accuracy and loss, and two generalization gaps:
train minus test accuracy, and test minus training cross-entropy (the loss gap, the clearer
signal: the unregularized net drives its training loss to ~0 while its test loss grows).
Full run: the first 1,000 training images of the shared MNIST files, the 10,000 test images,
100 epochs; ``--quick``: 1,000 images of the MNIST subset shipped with nerve, its 1,000 test
images, 30 epochs.

    python examples/regularization.py [--quick] [--out DIR]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy
from _common import Timer, figure, main_for, out_dir, save, seed, write_result
from _mnist import evaluate, minibatches, mnist_arrays, sgd_step

from nerve import nn, optim

NAME = "regularization"
N_TRAIN, BATCH_SIZE, LR, MOMENTUM = 1000, 50, 0.01, 0.9
SETTINGS = {  # name -> (network options, weight decay, input noise std)
    "none": ({}, 0.0, 0.0),
    "L2 (1e-2)": ({}, 1e-2, 0.0),
    "dropout (0.2 in, 0.5 hidden)": ({"input_dropout": 0.2, "dropout": 0.5}, 0.0, 0.0),
    "noise (std 1)": ({}, 0.0, 1.0),
    "batch norm": ({"batch_norm": True}, 0.0, 0.0),
}


def net(hidden=(256, 256), dropout: float = 0.0, input_dropout: float = 0.0,
        batch_norm: bool = False) -> nn.Module:
    layers, width = [nn.Dropout(input_dropout)] if input_dropout else [], 784
    for h in hidden:
        layers.append(nn.Linear(width, h))
        if batch_norm:
            layers.append(nn.BatchNorm1d(h))
        layers.append(nn.ReLU())
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = h
    return nn.Sequential(*layers, nn.Linear(width, 10))


def train(options, weight_decay, noise, train_xy, test_xy, epochs: int) -> dict:
    seed(0)  # the same initial weights (batch norm adds layers but no draws) for every setting
    model = net(**options)
    opt = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=weight_decay)
    rng = numpy.random.default_rng(1)  # the same batch order for every setting
    noise_rng = numpy.random.default_rng(2)
    x, y = train_xy
    curves = {"train_accuracy": [], "test_accuracy": [], "train_loss": [], "test_loss": []}
    model.train()
    with Timer() as t:
        for epoch in range(epochs):
            for idx in minibatches(len(y), BATCH_SIZE, rng):
                xb = x[idx]
                if noise:
                    xb = xb + noise * noise_rng.standard_normal(xb.shape).astype(xb.dtype)
                sgd_step(model, opt, xb, y[idx])
            if (epoch + 1) % max(1, epochs // 30) == 0 or epoch + 1 == epochs:
                for split, xy in (("train", train_xy), ("test", test_xy)):
                    loss, acc = evaluate(model, *xy)
                    curves[f"{split}_loss"].append((epoch + 1, loss))
                    curves[f"{split}_accuracy"].append((epoch + 1, acc))
    train_loss, train_acc = evaluate(model, x, y)
    test_loss, test_acc = evaluate(model, *test_xy)
    return {"train_accuracy": train_acc, "test_accuracy": test_acc, "train_loss": train_loss,
            "test_loss": test_loss, "gap": train_acc - test_acc,
            "loss_gap": test_loss - train_loss, "curves": curves,
            "wall_time_s": t.seconds}


def plot(runs, path):
    fig, (ax1, ax3, ax2) = figure(1, 3, figsize=(16, 4.6))
    if fig is None:
        return None
    for i, (name, r) in enumerate(runs.items()):
        for key, style in (("train_accuracy", "--"), ("test_accuracy", "-")):
            epochs, acc = zip(*r["curves"][key])
            ax1.plot(epochs, acc, style, color=f"C{i}",
                     label=f"{name} ({key.split('_')[0]})")
        ax3.plot(*zip(*r["curves"]["test_loss"]), color=f"C{i}", label=name)
    ax1.set(title="accuracy (dashed: train, solid: test)", xlabel="epoch", ylim=(0.75, 1.005))
    ax1.legend(fontsize=7, ncol=2)
    ax3.set(title="test loss (over-fitting: it rises again)", xlabel="epoch")
    ax3.legend(fontsize=8)
    names = list(runs)
    pos = numpy.arange(len(names))
    ax2.bar(pos - 0.2, [runs[n]["train_accuracy"] for n in names], 0.4, label="train")
    ax2.bar(pos + 0.2, [runs[n]["test_accuracy"] for n in names], 0.4, label="test")
    for p, n in zip(pos, names):
        ax2.text(p, 0.81, f"gap\n{100 * runs[n]['gap']:.1f}", ha="center", fontsize=8)
    ax2.set_xticks(pos, [n.replace(" (", "\n(") for n in names], fontsize=8)
    ax2.set(ylim=(0.8, 1.005), title="final accuracy and train - test gap (points)")
    ax2.legend(fontsize=8)
    return save(fig, path)


def run(quick: bool = False, out=None) -> dict:
    out = out_dir(out, NAME)
    epochs = 30 if quick else 100
    train_xy, test_xy, data = mnist_arrays(quick, N_TRAIN)
    with Timer() as t:
        runs = {name: train(*setting, train_xy, test_xy, epochs)
                for name, setting in SETTINGS.items()}
    for name, r in runs.items():
        print(f"{name:14s} train {100 * r['train_accuracy']:6.2f}%  test "
              f"{100 * r['test_accuracy']:6.2f}%  gap {100 * r['gap']:5.2f}  losses "
              f"{r['train_loss']:.4f} / {r['test_loss']:.4f} (gap {r['loss_gap']:.3f}, "
              f"{r['wall_time_s']:.1f} s)")
    figure_path = plot(runs, out / "regularization.png")
    return write_result(
        out, NAME, quick=quick, data=data, metric="test accuracy (train - test gap)",
        value={name: {"test_accuracy": r["test_accuracy"], "gap": r["gap"],
                      "loss_gap": r["loss_gap"]}
               for name, r in runs.items()},
        wall_time_s=t.seconds,
        details={"setting": {"model": "784-256-256-10 ReLU", "optimizer": "SGD", "lr": LR,
                             "momentum": MOMENTUM, "batch_size": BATCH_SIZE, "epochs": epochs,
                             "train_images": len(train_xy[1])},
                 "runs": runs, "figures": {"regularization": figure_path}})


def main(argv=None):
    return main_for(run, NAME, argv, __doc__)


if __name__ == "__main__":
    main()
