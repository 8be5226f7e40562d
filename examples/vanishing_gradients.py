"""Vanishing gradients: per-layer gradient norms of 20-layer MLPs, and their training curves.

Three 20-layer networks of width 64 on MNIST (the subset shipped with nerve):

- sigmoid: every backward step multiplies by sigmoid' <= 1/4 (Xavier init, the best case
  for sigmoid), so the gradient shrinks geometrically on its way to the first layers;
- ReLU (Kaiming init): ReLU' is 0 or 1 and the init keeps variances constant, so the
  gradient reaches the first layer at about the same size;
- residual + LayerNorm (pre-norm blocks ``x + W relu(LN(x))``, He et al. 2016, Ba et al.
  2016): the identity path carries the gradient unchanged around every block.

The gradient norms ``||dL/dW_l||`` are taken at initialization on one batch of 256 images;
then each net trains with plain SGD + momentum (same learning rate) for a few hundred steps.

    python examples/vanishing_gradients.py [--quick] [--out DIR]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy
from _common import Timer, figure, main_for, out_dir, save, seed, write_result

import nerve
from nerve import nn, optim
from nerve.data.datasets import embedded_mnist
from nerve.nn import functional as F
from nerve.nn import init

NAME = "vanishing_gradients"
DEPTH = 20  # Linear layers, the output layer included


class PlainMLP(nn.Module):
    """``DEPTH`` Linear layers with ``activation`` between them."""

    def __init__(self, activation: str, width: int = 64, depth: int = DEPTH):
        super().__init__()
        sizes = [784] + [width] * (depth - 1) + [10]
        self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])])
        self.act = nerve.sigmoid if activation == "sigmoid" else nerve.relu
        for layer in self.layers:
            if activation == "sigmoid":
                init.xavier_normal_(layer.weight)
            else:
                init.kaiming_normal_(layer.weight, nonlinearity="relu")
            init.zeros_(layer.bias)

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = self.act(layer(x))
        return self.layers[-1](x)


class ResidualMLP(nn.Module):
    """Input layer, ``DEPTH - 2`` pre-norm residual blocks ``x + W relu(LN(x))``, output layer."""

    def __init__(self, width: int = 64, depth: int = DEPTH):
        super().__init__()
        self.inp = nn.Linear(784, width)
        self.norms = nn.ModuleList([nn.LayerNorm(width) for _ in range(depth - 2)])
        self.blocks = nn.ModuleList([nn.Linear(width, width) for _ in range(depth - 2)])
        self.out_norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, 10)

    @property
    def layers(self):
        return [self.inp, *self.blocks, self.out]

    def forward(self, x):
        x = self.inp(x)
        for norm, block in zip(self.norms, self.blocks):
            x = x + block(F.relu(norm(x)))
        return self.out(self.out_norm(x))


NETS = {"sigmoid": lambda: PlainMLP("sigmoid"), "relu": lambda: PlainMLP("relu"),
        "residual+layernorm": ResidualMLP}


def mnist_arrays(n_train: int):
    """Flattened, normalized images and labels of the embedded MNIST subset."""
    def arrays(ds, n):
        x = ds.data[:n].reshape(-1, 784).astype(numpy.float32) / 255.0
        return (x - 0.1307) / 0.3081, ds.targets[:n]

    return arrays(embedded_mnist(True), n_train), arrays(embedded_mnist(False), 1000)


def layer_grad_norms(model, x, y) -> list[float]:
    model.zero_grad()
    F.cross_entropy(model(nerve.tensor(x)), nerve.tensor(y)).backward()
    return [float(numpy.linalg.norm(layer.weight.grad.numpy())) for layer in model.layers]


def train(model, train_xy, test_xy, steps: int, lr: float, batch: int = 128, rng=None):
    """Plain SGD + momentum; returns the training-loss curve (per step) and test accuracy."""
    x, y = train_xy
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    losses = []
    for _ in range(steps):
        idx = rng.integers(0, len(y), batch)
        opt.zero_grad()
        loss = F.cross_entropy(model(nerve.tensor(x[idx])), nerve.tensor(y[idx]))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with nerve.no_grad():
        pred = model(nerve.tensor(test_xy[0])).numpy().argmax(1)
    return losses, float((pred == test_xy[1]).mean())


def smooth(values, k: int = 10):
    v = numpy.asarray(values)
    return numpy.convolve(v, numpy.ones(k) / k, mode="valid") if len(v) >= k else v


def run(quick: bool = False, out=None) -> dict:
    out = out_dir(out, NAME)
    rng = seed(0)
    steps = 30 if quick else 400
    train_xy, test_xy = mnist_arrays(1000 if quick else 6000)
    probe = (train_xy[0][:256], train_xy[1][:256])
    runs = {}
    with Timer() as t:
        for name, make in NETS.items():
            nerve.manual_seed(1)
            model = make()
            norms = layer_grad_norms(model, *probe)
            losses, acc = train(model, train_xy, test_xy, steps, lr=0.02, rng=rng)
            runs[name] = {"grad_norms": norms, "first_over_last": norms[0] / norms[-1],
                          "losses": losses, "final_loss": float(numpy.mean(losses[-10:])),
                          "test_accuracy": acc}
            print(f"{name:19s} ||dW_1|| / ||dW_{DEPTH}|| = {norms[0] / norms[-1]:9.2e}; "
                  f"after {steps} SGD steps: loss {runs[name]['final_loss']:.3f}, "
                  f"test accuracy {100 * acc:.1f}%")
    figures = {}
    fig, axes = figure(1, 2, figsize=(11, 4), squeeze=False)
    if fig is not None:
        ax1, ax2 = axes[0]
        for name, r in runs.items():
            ax1.semilogy(range(1, DEPTH + 1), r["grad_norms"], "o-", ms=3, label=name)
            ax2.plot(smooth(r["losses"]), label=name)
        ax1.set_xlabel("layer (1 = input side)")
        ax1.set_ylabel("||dL/dW_l|| at initialization")
        ax1.set_title("Per-layer gradient norms, 20-layer MLPs", fontsize=10)
        ax2.set_xlabel("SGD step")
        ax2.set_ylabel("training loss (10-step mean)")
        ax2.set_title("Training on MNIST (embedded subset)", fontsize=10)
        for ax in (ax1, ax2):
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
        figures["gradients_and_curves"] = save(fig, out / "vanishing_gradients.png")
    return write_result(
        out, NAME, quick=quick,
        data=f"embedded MNIST subset: {len(train_xy[1])} train / 1000 test images",
        metric="||dW_1|| / ||dW_20|| of the sigmoid MLP at init",
        value=runs["sigmoid"]["first_over_last"], wall_time_s=t.seconds,
        details={"steps": steps, "lr": 0.02, "momentum": 0.9, "batch": 128,
                 "runs": runs, "figures": figures})


def main(argv=None):
    return main_for(run, NAME, argv, __doc__)


if __name__ == "__main__":
    main()
