"""Learning-rate schedules: constant vs step decay vs cosine vs linear warm-up + cosine.

The same 784-128-10 ReLU MLP (same initial weights, same batch order) is trained on MNIST by
SGD with momentum 0.9 and a peak learning rate of 0.1, mini-batches of 128, the schedule
advanced after every update (``nerve.optim.lr_scheduler``):

- constant: ``lr = 0.1``;
- step: ``StepLR(step_size=T/3, gamma=0.1)``, the learning rate divided by 10 after each
  third of the run (Krizhevsky et al. 2012; He et al. 2016);
- cosine: ``CosineAnnealingLR(T_max=T)``, from 0.1 down to 0 (Loshchilov & Hutter 2017);
- warm-up + cosine: ``LinearWarmup`` from 0 over the first 10% of the updates, then cosine
  down to 0 over the rest (``SequentialLR``; Goyal et al. 2017).

The decaying schedules end with small steps, so they settle lower than the constant rate,
whose last updates still bounce around the minimum. Full run: the 60,000 training images
of the shared MNIST files, 5 epochs (2,345 updates), test accuracy on the 10,000 test images;
``--quick``: 1,000 images of the MNIST subset shipped with nerve, 3 epochs.

    python examples/lr_schedules.py [--quick] [--out DIR]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy
from _common import Timer, figure, main_for, out_dir, save, seed, write_result
from _mnist import evaluate, minibatches, mlp, mnist_arrays, sgd_step

from nerve import optim
from nerve.optim import lr_scheduler

NAME = "lr_schedules"
LR, MOMENTUM, BATCH_SIZE = 0.1, 0.9, 128
WARMUP_FRACTION = 0.1


def schedules(total: int) -> dict:
    """name -> ``factory(optimizer) -> scheduler or None`` for a run of ``total`` updates."""
    warmup = max(1, int(WARMUP_FRACTION * total))

    def warmup_cosine(opt):
        return lr_scheduler.SequentialLR(
            opt, [lr_scheduler.LinearWarmup(opt, warmup),
                  lr_scheduler.CosineAnnealingLR(opt, T_max=total - warmup)], [warmup])

    return {
        "constant": lambda opt: None,
        "step": lambda opt: lr_scheduler.StepLR(opt, step_size=max(1, total // 3), gamma=0.1),
        "cosine": lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=total),
        "warm-up + cosine": warmup_cosine,
    }


def train(make_scheduler, train_xy, test_xy, epochs: int) -> dict:
    seed(0)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    sched = make_scheduler(opt)
    rng = numpy.random.default_rng(1)  # the same batch order for every schedule
    lrs, batch_losses = [], []
    epoch_losses = [evaluate(model, *train_xy)[0]]
    with Timer() as t:
        for _ in range(epochs):
            for idx in minibatches(len(train_xy[1]), BATCH_SIZE, rng):
                lrs.append(opt.param_groups[0]["lr"])  # the rate this update uses
                batch_losses.append(sgd_step(model, opt, train_xy[0][idx], train_xy[1][idx]))
                if sched is not None:
                    sched.step()
            epoch_losses.append(evaluate(model, *train_xy)[0])
    test_loss, test_acc = evaluate(model, *test_xy)
    return {"lr": lrs, "batch_loss": batch_losses, "train_loss": epoch_losses,
            "final_train_loss": epoch_losses[-1], "test_loss": test_loss,
            "test_accuracy": test_acc, "wall_time_s": t.seconds}


def smooth(values, k: int):
    v = numpy.asarray(values)
    return numpy.convolve(v, numpy.ones(k) / k, mode="valid") if len(v) >= k else v


def plot(runs, path, steps_per_epoch: int):
    fig, (ax1, ax2, ax3) = figure(1, 3, figsize=(14, 4))
    if fig is None:
        return None
    k = max(1, steps_per_epoch // 4)
    for name, r in runs.items():
        ax1.plot(r["lr"], label=name)
        ax2.plot(numpy.arange(len(smooth(r["batch_loss"], k))) + k - 1,
                 smooth(r["batch_loss"], k), label=name)
        ax3.plot(r["train_loss"], ".-", label=f"{name} ({100 * r['test_accuracy']:.2f}%)")
    ax1.set(title="learning rate per update", xlabel="update", ylabel="lr")
    ax2.set(title=f"mini-batch loss (moving mean of {k})", xlabel="update", yscale="log")
    ax3.set(title="training loss per epoch (test accuracy)", xlabel="epoch", yscale="log")
    ax1.legend(fontsize=8)
    ax3.legend(fontsize=8)
    return save(fig, path)


def run(quick: bool = False, out=None) -> dict:
    out = out_dir(out, NAME)
    epochs = 3 if quick else 5
    train_xy, test_xy, data = mnist_arrays(quick, 1000 if quick else 60000)
    steps_per_epoch = -(-len(train_xy[1]) // BATCH_SIZE)
    total = epochs * steps_per_epoch
    with Timer() as t:
        runs = {name: train(make, train_xy, test_xy, epochs)
                for name, make in schedules(total).items()}
    for name, r in runs.items():
        print(f"{name:18s} train loss {r['final_train_loss']:.4f}  test loss "
              f"{r['test_loss']:.4f}  test accuracy {100 * r['test_accuracy']:.2f}%  "
              f"({r['wall_time_s']:.1f} s)")
    figure_path = plot(runs, out / "lr_schedules.png", steps_per_epoch)
    return write_result(
        out, NAME, quick=quick, data=data,
        metric=f"test accuracy after {epochs} epochs",
        value={name: r["test_accuracy"] for name, r in runs.items()}, wall_time_s=t.seconds,
        details={"setting": {"model": "784-128-10 ReLU", "optimizer": "SGD",
                             "lr": LR, "momentum": MOMENTUM, "batch_size": BATCH_SIZE,
                             "epochs": epochs, "total_updates": total,
                             "step_size": max(1, total // 3), "gamma": 0.1,
                             "warmup_updates": max(1, int(WARMUP_FRACTION * total))},
                 "runs": runs, "figures": {"schedules": figure_path}})


def main(argv=None):
    return main_for(run, NAME, argv, __doc__)


if __name__ == "__main__":
    main()
