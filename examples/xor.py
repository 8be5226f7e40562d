"""XOR: a linear model cannot separate it, one hidden layer can (Minsky & Papert, 1969;
Rumelhart, Hinton & Williams, 1986).

No line puts (0,0) and (1,1) on one side and (0,1) and (1,0) on the other, so a linear
classifier (logistic regression, the zoo's ``logreg``) gets at most 3 of the 4 corners right;
trained with cross-entropy it does worse, since the symmetric optimum predicts 1/2 everywhere.
A hidden layer of 8 tanh units bends the boundary and classifies every corner.

Both models train full-batch with Adam on noisy clouds around the four corners (50 points
each, noise 0.15) and are evaluated on the exact truth table and on fresh clouds.

    python examples/xor.py [--quick] [--out DIR]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Timer, figure, main_for, out_dir, save, seed, write_result

import nerve
from nerve import nn, optim
from nerve.data.datasets.synthetic import xor
from nerve.models import get_model
from nerve.nn import functional as F

NAME = "xor"


def hidden_layer_net(hidden: int = 8):
    return nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 2))


def train(model, X, y, steps: int, lr: float = 0.05) -> list[float]:
    opt = optim.Adam(model.parameters(), lr=lr)
    xt, yt = nerve.tensor(X), nerve.tensor(y)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def accuracy(model, X, y) -> float:
    with nerve.no_grad():
        return float((model(nerve.tensor(X)).numpy().argmax(1) == y).mean())


def run(quick: bool = False, out=None) -> dict:
    out = out_dir(out, NAME)
    seed(0)
    steps = 300 if quick else 1000
    X, y = xor(n_per_corner=50, noise=0.15, seed=0)
    X_fresh, y_fresh = xor(n_per_corner=50, noise=0.15, seed=1)
    table, table_y = xor()
    models = {"linear (logreg)": get_model("logreg"), "one hidden layer (8 tanh)":
              hidden_layer_net()}
    runs = {}
    with Timer() as t:
        for name, model in models.items():
            losses = train(model, X, y, steps)
            runs[name] = {"final_loss": losses[-1], "losses": losses[::10],
                          "truth_table_accuracy": accuracy(model, table, table_y),
                          "fresh_cloud_accuracy": accuracy(model, X_fresh, y_fresh),
                          "train_accuracy": accuracy(model, X, y)}
            r = runs[name]
            print(f"{name:26s} loss {r['final_loss']:.3f}; accuracy: truth table "
                  f"{100 * r['truth_table_accuracy']:.0f}%, fresh clouds "
                  f"{100 * r['fresh_cloud_accuracy']:.1f}%")
    figures = {}
    fig, axes = figure(1, 2, figsize=(9, 4.3), squeeze=False)
    if fig is not None:
        from nerve.tasks.points import plot_decision_regions

        for ax, (name, model) in zip(axes[0], models.items()):
            plot_decision_regions(model, X, y, ax=ax, title=(
                f"{name}: truth table {100 * runs[name]['truth_table_accuracy']:.0f}%"))
        figures["boundaries"] = save(fig, out / "xor.png")
    hidden = runs["one hidden layer (8 tanh)"]
    linear = runs["linear (logreg)"]
    return write_result(
        out, NAME, quick=quick, data="XOR: 4 noisy clouds of 50 points (noise 0.15)",
        metric="truth-table accuracy: linear / one hidden layer",
        value=[linear["truth_table_accuracy"], hidden["truth_table_accuracy"]],
        wall_time_s=t.seconds, details={"steps": steps, "optimizer": "adam lr 0.05",
                                        "runs": runs, "figures": figures})


def main(argv=None):
    return main_for(run, NAME, argv, __doc__)


if __name__ == "__main__":
    main()
