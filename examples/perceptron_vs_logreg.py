"""The perceptron stops improving on non-separable data; logistic regression converges.

Rosenblatt's perceptron changes its weights on every mistake. On linearly separable data
the mistakes stop after finitely many updates (Novikoff, 1962); when the classes overlap
some point is always misclassified, so the weights never settle: the boundary keeps
jumping and the accuracy after each epoch oscillates instead of improving. Logistic
regression minimises a smooth, convex loss whose minimum exists on overlapping data, so
the same SGD loop converges to it (Bishop, *Pattern Recognition and Machine Learning*,
section 4.1.7 and 4.3.2).

Both are the zoo's models (``perceptron``, ``logreg``; one Linear layer, nerve/models/
linear.py), trained by per-example SGD with a constant learning rate on the same shuffles:
the perceptron criterion with lr 1 (exactly Rosenblatt's rule) and cross-entropy with lr
0.05. Data: the ``points`` task's ``blobs`` (two overlapping Gaussians) and, for contrast,
``linear`` (separable with a margin): 400 training points each (200 with ``--quick``).
On ``linear`` logistic regression's weights keep growing slowly (separable data has no
finite minimiser of the cross-entropy), while the perceptron simply stops.

    python examples/perceptron_vs_logreg.py [--quick] [--out DIR]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy
from _common import Timer, figure, main_for, out_dir, save, seed, write_result

import nerve
from nerve import optim
from nerve.models import get_model
from nerve.tasks.points import make_points

NAME = "perceptron_vs_logreg"
LR = {"perceptron": 1.0, "logreg": 0.05}


def weights(model) -> numpy.ndarray:
    return numpy.concatenate([p.detach().numpy().ravel() for p in model.parameters()])


def train(name: str, X, y, epochs: int, rng) -> dict:
    """Per-example SGD; after each epoch: loss, accuracy, mistakes, relative weight change."""
    nerve.manual_seed(0)
    model = get_model(name)
    opt = optim.SGD(model.parameters(), lr=LR[name])
    xt, yt = nerve.tensor(X), nerve.tensor(y)
    log = {k: [] for k in ("loss", "accuracy", "mistakes", "weight_change", "weight_norm")}
    for _ in range(epochs):
        before = weights(model)
        mistakes = 0
        for i in rng.permutation(len(y)):
            scores = model(xt[i:i + 1])
            mistakes += int(scores.detach().numpy().argmax() != y[i])
            opt.zero_grad()
            model.criterion(scores, yt[i:i + 1]).backward()
            opt.step()
        after = weights(model)
        with nerve.no_grad():
            scores = model(xt)
            log["loss"].append(model.criterion(scores, yt).item())
            log["accuracy"].append(float((scores.numpy().argmax(1) == y).mean()))
        log["mistakes"].append(mistakes)
        log["weight_change"].append(float(numpy.linalg.norm(after - before)
                                          / numpy.linalg.norm(after)))
        log["weight_norm"].append(float(numpy.linalg.norm(after)))
    log["model"] = model
    return log


def tail_summary(log, k: int) -> dict:
    """How much the last ``k`` epochs still move."""
    acc, loss = numpy.array(log["accuracy"][-k:]), numpy.array(log["loss"][-k:])
    return {"accuracy_range": float(acc.max() - acc.min()), "final_accuracy": float(acc[-1]),
            "loss_range_relative": float((loss.max() - loss.min()) / max(loss.mean(), 1e-12)),
            "mean_weight_change": float(numpy.mean(log["weight_change"][-k:])),
            "min_mistakes": int(min(log["mistakes"][-k:]))}


def run(quick: bool = False, out=None) -> dict:
    out = out_dir(out, NAME)
    rng = seed(0)
    epochs, n = (12, 200) if quick else (60, 400)
    k = epochs // 2
    runs = {}
    with Timer() as t:
        for dataset in ("blobs", "linear"):
            X, y = make_points(dataset, n, seed=0)
            for name in ("perceptron", "logreg"):
                log = train(name, X, y, epochs, rng)
                summary = tail_summary(log, k)
                runs[f"{name} / {dataset}"] = {"log": log, "last_half": summary}
                print(f"{name:10s} on {dataset:6s}: last {k} epochs: accuracy "
                      f"{100 * min(log['accuracy'][-k:]):.1f}-"
                      f"{100 * max(log['accuracy'][-k:]):.1f}%, loss moves by "
                      f"{100 * summary['loss_range_relative']:.1f}%, weights move by "
                      f"{100 * summary['mean_weight_change']:.2f}%/epoch, "
                      f"mistakes/epoch >= {summary['min_mistakes']}")
    figures = {}
    fig, axes = figure(2, 4, figsize=(17, 7.5), squeeze=False)
    if fig is not None:
        from nerve.tasks.points import plot_decision_regions

        for row, dataset in enumerate(("blobs", "linear")):
            ax_acc, ax_loss, ax_mis, ax_bound = axes[row]
            X, y = make_points(dataset, n, seed=0)
            for name in ("perceptron", "logreg"):
                log = runs[f"{name} / {dataset}"]["log"]
                ep = range(1, epochs + 1)
                ax_acc.plot(ep, 100 * numpy.array(log["accuracy"]), "o-", ms=3, label=name)
                ax_loss.plot(ep, log["loss"], "o-", ms=3, label=f"{name}'s criterion")
                ax_mis.plot(ep, log["mistakes"], "o-", ms=3, label=name)
            ax_acc.set_title(f"{dataset}: training accuracy after each epoch", fontsize=10)
            ax_loss.set_title(f"{dataset}: training loss (each model's own)", fontsize=10)
            ax_loss.set_yscale("symlog", linthresh=1e-2)
            ax_mis.set_title(f"{dataset}: mistakes during the epoch", fontsize=10)
            for ax in (ax_acc, ax_loss, ax_mis):
                ax.set_xlabel("epoch")
                ax.grid(True, alpha=0.3)
                ax.legend(fontsize=8)
            plot_decision_regions(runs[f"perceptron / {dataset}"]["log"]["model"], X, y,
                                  ax=ax_bound, title=f"{dataset}: the perceptron at the end")
        figures["curves"] = save(fig, out / "perceptron_vs_logreg.png")
    for r in runs.values():
        r["log"] = {key: v for key, v in r["log"].items() if key != "model"}
    blobs_p, blobs_l = runs["perceptron / blobs"], runs["logreg / blobs"]
    return write_result(
        out, NAME, quick=quick, data=f"points task: blobs (overlapping) and linear, {n} points",
        metric=f"training-accuracy range over the last {k} epochs on blobs: perceptron / logreg",
        value=[blobs_p["last_half"]["accuracy_range"], blobs_l["last_half"]["accuracy_range"]],
        wall_time_s=t.seconds, details={"epochs": epochs, "lr": LR, "runs": runs,
                                        "figures": figures})


def main(argv=None):
    return main_for(run, NAME, argv, __doc__)


if __name__ == "__main__":
    main()
