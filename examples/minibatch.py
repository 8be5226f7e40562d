"""Mini-batch size: 1, 32, 128, 1024 and the full batch, per update and per second.

The same 784-128-10 ReLU MLP (same initial weights) is trained by plain SGD with the same
learning rate 0.01 on N MNIST training images with batches of 1, 32, 128, 1024 and N (full-batch
gradient descent). Each batch size runs ``epochs`` epochs, but at least ``min_updates`` and at
most ``max_updates`` updates. The training loss on a fixed evaluation slice of the training
set is recorded after every one of the first ``dense`` updates and at log-spaced updates after
that, with the training wall time (evaluations excluded).

What it shows (Bottou, Curtis & Nocedal 2018, section 3-4):

- per update, a larger batch is a better gradient estimate: the loss falls more smoothly
  (smaller spread ``diff_std`` of the per-update loss changes ``d_k = L_k - L_{k-1}``,
  smaller ``roughness`` = std of ``d_k - d_{k-1}``, which is blind to the common downward
  trend, fewer updates that increase the loss), and the full batch decreases the loss at
  every step;
- per epoch, a small batch makes N / B updates where the full batch makes one, so per
  example seen (and, on a CPU, per second) small batches get further until their noise floor;
  batches too small to fill the arithmetic units (B = 1) pay a fixed cost per update.

Full run: the first 10,000 training images of the shared MNIST files (evaluation slice:
2,000 of them), 2 epochs, 300 to 20,000 updates; ``--quick``: 2,000 images of the MNIST
subset shipped with nerve (slice 400), 1 epoch, 100 to 1,000 updates.

    python examples/minibatch.py [--quick] [--out DIR]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy
from _common import Timer, figure, main_for, out_dir, save, seed, write_result
from _mnist import evaluate, mlp, mnist_arrays, sgd_step

from nerve import optim

NAME = "minibatch"
LR = 0.01
FULL = "full"


def eval_points(updates: int, dense: int, n_log: int = 60) -> set:
    """Updates after which the loss is measured: every one of the first ``dense``, then
    about ``n_log`` log-spaced ones, and the last."""
    log = numpy.geomspace(dense, max(dense, updates), n_log).astype(int)
    return set(range(dense + 1)) | {int(u) for u in log if u <= updates} | {updates}


def train(batch_size: int, train_xy, eval_xy, updates: int, dense: int) -> dict:
    seed(0)  # the same initial weights for every batch size
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=LR)
    rng = numpy.random.default_rng(1)
    x, y = train_xy
    n = len(y)
    points = eval_points(updates, dense)
    curve = [(0, 0.0, evaluate(model, *eval_xy)[0])]  # (update, training seconds, loss)
    seconds, order, pos = 0.0, rng.permutation(n), 0
    for u in range(1, updates + 1):
        with Timer() as t:
            if pos + batch_size > n:  # next epoch: reshuffle (a partial last batch is dropped)
                order, pos = rng.permutation(n), 0
            idx = order[pos:pos + batch_size]
            pos += batch_size
            sgd_step(model, opt, x[idx], y[idx])
        seconds += t.seconds
        if u in points:
            curve.append((u, seconds, evaluate(model, *eval_xy)[0]))
    u_, s_, loss = (numpy.array(c) for c in zip(*curve))
    diffs = numpy.diff(loss[:dense + 1])  # per-update changes over the first `dense` updates
    return {"updates": u_, "seconds": s_, "loss": loss, "final_loss": float(loss[-1]),
            "updates_per_epoch": n // batch_size, "epochs": updates * batch_size / n,
            "diff_std": float(diffs.std()), "roughness": float(numpy.diff(diffs).std()),
            "increase_fraction": float((diffs > 0).mean()),
            "wall_time_s": seconds, "seconds_per_update": seconds / updates}


def plot(runs, path, n: int):
    fig, axes = figure(1, 3, figsize=(15, 4.3), sharey=True)
    if fig is None:
        return None
    for name, r in runs.items():
        label = f"B = {name}"
        axes[0].plot(r["updates"], r["loss"], label=label)
        axes[1].plot(r["updates"] * (n if name == FULL else int(name)) / n, r["loss"],
                     label=label)
        axes[2].plot(r["seconds"][1:], r["loss"][1:], label=label)
    axes[0].set(xscale="log", xlabel="update", ylabel="training loss", yscale="log",
                title="loss vs updates")
    axes[1].set(xscale="log", xlabel="epochs (examples seen / N)", title="loss vs epochs")
    axes[2].set(xscale="log", xlabel="training wall time (s, shared 2-core CPU)",
                title="loss vs wall time")
    axes[0].legend(fontsize=8)
    return save(fig, path)


def run(quick: bool = False, out=None) -> dict:
    out = out_dir(out, NAME)
    n = 2000 if quick else 10000
    epochs, min_updates, max_updates, dense = (1, 100, 1000, 100) if quick else \
        (2, 300, 20000, 100)
    train_xy, _, data = mnist_arrays(quick, n, 0)
    eval_xy = (train_xy[0][:n // 5], train_xy[1][:n // 5])
    sizes = {str(b): b for b in (1, 32, 128, 1024)} | {FULL: n}
    with Timer() as t:
        runs = {}
        for name, b in sizes.items():
            updates = min(max_updates, max(min_updates, epochs * (n // b)))
            runs[name] = train(b, train_xy, eval_xy, updates, dense)
            r = runs[name]
            print(f"B = {name:5s} {updates:6d} updates ({r['epochs']:6.1f} epochs) loss "
                  f"{r['final_loss']:.4f}  per-update change: std {r['diff_std']:.2e}, "
                  f"roughness {r['roughness']:.2e}, {100 * r['increase_fraction']:.0f}% up  "
                  f"({r['wall_time_s']:.1f} s, "
                  f"{1000 * r['seconds_per_update']:.2f} ms/update)")
    figure_path = plot(runs, out / "minibatch.png", n)
    return write_result(
        out, NAME, quick=quick, data=data.split(":")[0] + f": {n} training images",
        metric=f"roughness (std of the change of the per-update loss change), first {dense} "
               "updates",
        value={name: r["roughness"] for name, r in runs.items()}, wall_time_s=t.seconds,
        details={"setting": {"model": "784-128-10 ReLU", "optimizer": "SGD", "lr": LR,
                             "train_images": n, "eval_images": len(eval_xy[1]),
                             "epochs": epochs, "min_updates": min_updates,
                             "max_updates": max_updates, "dense": dense},
                 "runs": runs, "figures": {"minibatch": figure_path}})


def main(argv=None):
    return main_for(run, NAME, argv, __doc__)


if __name__ == "__main__":
    main()
