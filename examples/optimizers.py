"""Optimizers on the toy problems and on an MNIST MLP.

Part 1, the lectures' playground (``nerve.optim.problems``), every iterate recorded:

- gradient descent on the two-weight problem ``(w1 w2 - 1.5)^2 + 0.04 (w1^2 + w2^2)``, whose
  Hessian at the minimum has eigenvalues 5.84 and 0.16: with ``lr = 0.25`` (below
  ``2 / 5.84 = 0.342``) the loss falls at every step but crawls along the flat direction; with
  ``lr = 0.35`` the steep coordinate ``(w1 + w2) / sqrt(2)`` overshoots at every step and the
  iterates end bouncing between two points on either side of the valley, never converging;
- GD, momentum, Nesterov, Adagrad, RMSprop, Adam, Newton, BFGS and L-BFGS (one iteration per
  step, strong-Wolfe line search for the quasi-Newton methods) on the ill-conditioned
  quadratic ``0.5 (x1^2 + 10 x2^2)`` and on Rosenbrock's banana valley, on contour plots.
  Newton lands on the quadratic's minimum in one step; on Rosenbrock, GD must keep
  ``lr < 2 / 1000`` (the valley's steep curvature) and barely moves in 300 steps, while
  momentum and Adam reach the valley floor near (1, 1).

Part 2: the first-order methods train a 784-128-10 ReLU MLP (the zoo's ``mlp`` with one hidden
layer, no dropout) on MNIST with mini-batches of 128; training loss on the whole training
set after every epoch, against epochs and against wall time. Full run: the 60,000 training
images of the shared MNIST files, 6 epochs, accuracy on the 10,000 test images; ``--quick``:
1,000 images of the MNIST subset shipped with nerve, 2 epochs.

The helpers ``mnist_arrays``, ``mlp``, ``minibatches`` and ``evaluate`` are shared by the
other MNIST-MLP experiments (``lr_schedules``, ``regularization``, ``minibatch``).

    python examples/optimizers.py [--quick] [--out DIR]
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy
from _common import Timer, figure, main_for, out_dir, save, seed, write_result
from _mnist import evaluate, minibatches, mlp, mnist_arrays, sgd_step

from nerve import optim
from nerve.optim import problems

NAME = "optimizers"
TWO_WEIGHT_START = (0.5, 1.5)
QUADRATIC_START = (-1.8, 1.0)
ROSENBROCK_START = (-1.5, 2.0)
TWO_WEIGHT_LOSS = 0.04 ** 2 + 0.08 * 1.46  # (1.46 - 1.5)^2 + 0.04 (2 * 1.46) at the minimum
QUASI_NEWTON = dict(max_iter=1, max_eval=25, line_search_fn="strong_wolfe")  # 1 iteration/step


# ---- part 1: the toy problems ----------------------------------------------------------------
def toy_optimizers(problem: str) -> dict:
    """name -> optimizer factory, with learning rates suited to each problem."""
    gd_lr = {"quadratic": 0.18, "rosenbrock": 1e-3}[problem]  # below 2 / largest curvature
    mom_lr = {"quadratic": 0.05, "rosenbrock": 1e-3}[problem]
    adaptive = {"quadratic": dict(adagrad=1.0, rmsprop=0.1, adam=0.1),
                "rosenbrock": dict(adagrad=0.5, rmsprop=0.02, adam=0.2)}[problem]
    return {
        f"GD (lr {gd_lr:g})": lambda p: optim.GD(p, lr=gd_lr),
        "momentum 0.9": lambda p: optim.SGD(p, lr=mom_lr, momentum=0.9),
        "Nesterov 0.9": lambda p: optim.SGD(p, lr=mom_lr, momentum=0.9, nesterov=True),
        "Adagrad": lambda p: optim.Adagrad(p, lr=adaptive["adagrad"]),
        "RMSprop": lambda p: optim.RMSprop(p, lr=adaptive["rmsprop"]),
        "Adam": lambda p: optim.Adam(p, lr=adaptive["adam"]),
        "Newton": lambda p: optim.Newton(p),
        "BFGS": lambda p: optim.BFGS(p, **QUASI_NEWTON),
        "L-BFGS": lambda p: optim.LBFGS(p, history_size=5, **QUASI_NEWTON),
    }


def steep_coordinate(points):
    """Signed distance of each iterate from the two-weight minimum along the steep direction
    ``(1, 1) / sqrt(2)`` of the Hessian there."""
    return (points.sum(1) - 2 * problems.TWO_WEIGHT_MINIMUM) / math.sqrt(2)


def gd_learning_rates(steps: int) -> dict:
    runs = {}
    for lr in (0.25, 0.35):
        path = problems.trajectory(lambda p: optim.GD(p, lr=lr), problems.two_weight,
                                   TWO_WEIGHT_START, steps)
        steep = steep_coordinate(path.points)
        tail = steep[-20:]
        runs[str(lr)] = {
            "points": path.points, "losses": path.losses, "steep_coordinate": steep,
            "loss_monotone": bool((numpy.diff(path.losses) <= 1e-12).all()),
            "final_distance": float(numpy.abs(path.points[-1]
                                              - problems.TWO_WEIGHT_MINIMUM).max()),
            "tail_sign_changes": int((numpy.sign(tail[1:]) != numpy.sign(tail[:-1])).sum()),
            "tail_min_amplitude": float(numpy.abs(tail).min()),
        }
    return runs


def toy_runs(steps: dict) -> dict:
    runs = {}
    for problem, start in (("quadratic", QUADRATIC_START), ("rosenbrock", ROSENBROCK_START)):
        fn = getattr(problems, problem)
        runs[problem] = {}
        for name, factory in toy_optimizers(problem).items():
            path = problems.trajectory(factory, fn, start, steps[problem])
            runs[problem][name] = {"points": path.points, "losses": path.losses}
    return runs


# ---- part 2: the MNIST MLP -------------------------------------------------------------------
MNIST_OPTIMIZERS = {
    "SGD (lr 0.1)": lambda p: optim.SGD(p, lr=0.1),
    "momentum 0.9 (lr 0.01)": lambda p: optim.SGD(p, lr=0.01, momentum=0.9),
    "Nesterov 0.9 (lr 0.01)": lambda p: optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True),
    "Adagrad (lr 0.01)": lambda p: optim.Adagrad(p, lr=0.01),
    "RMSprop (lr 1e-3)": lambda p: optim.RMSprop(p, lr=1e-3),
    "Adam (lr 1e-3)": lambda p: optim.Adam(p, lr=1e-3),
}


def train_mnist(factory, train, test, epochs: int, batch_size: int = 128) -> dict:
    """Train a fresh MLP (same initial weights for every optimizer); per-epoch curves."""
    seed(0)
    model = mlp()
    opt = factory(model.parameters())
    rng = numpy.random.default_rng(1)  # same batch order for every optimizer
    loss0 = evaluate(model, *train)[0]
    losses, times, elapsed = [loss0], [0.0], 0.0
    for _ in range(epochs):
        with Timer() as t:
            for idx in minibatches(len(train[1]), batch_size, rng):
                sgd_step(model, opt, train[0][idx], train[1][idx])
        elapsed += t.seconds  # training time only, without the evaluations
        losses.append(evaluate(model, *train)[0])
        times.append(elapsed)
    return {"train_loss": losses, "wall_time_s": times, "test_accuracy": evaluate(model, *test)[1]}


# ---- figures ---------------------------------------------------------------------------------
def _contour(ax, fn, xlim, ylim, levels):
    X, Y, Z = problems.contour_grid(fn, xlim, ylim, n=121)
    ax.contour(X, Y, Z, levels=levels, colors="0.75", linewidths=0.7)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)


def _path(ax, points, label=None, color=None):
    ax.plot(points[:, 0], points[:, 1], ".-", ms=3, lw=1, label=label, color=color)
    ax.plot(*points[0], "ko", ms=4)


def plot_gd_learning_rates(runs, path):
    fig, (ax1, ax2) = figure(1, 2, figsize=(10, 4.2))
    if fig is None:
        return None
    levels = TWO_WEIGHT_LOSS + numpy.geomspace(0.002, 3, 16)
    _contour(ax1, problems.two_weight, (0.0, 2.0), (0.0, 2.0), levels)
    for (lr, run), color in zip(runs.items(), ("C0", "C3")):
        _path(ax1, run["points"][:60], f"GD lr {lr}", color)
        ax2.semilogy(numpy.maximum(run["losses"] - TWO_WEIGHT_LOSS, 1e-16), label=f"GD lr {lr}",
                     color=color)
    m = problems.TWO_WEIGHT_MINIMUM
    ax1.plot([m], [m], "k*", ms=10)
    ax1.set(title="two-weight problem: GD, first 60 steps", xlabel="w1", ylabel="w2")
    ax1.legend(fontsize=8)
    ax2.set(title="distance to the minimum value 0.1184", xlabel="step",
            ylabel="loss - minimum (floored at 1e-16)")
    ax2.legend(fontsize=8)
    return save(fig, path)


def plot_trajectories(runs, problem, path, xlim, ylim, levels):
    fig, axes = figure(3, 3, figsize=(11, 10), sharex=True, sharey=True)
    if fig is None:
        return None
    fn = getattr(problems, problem)
    for ax, (name, run) in zip(axes.flat, runs.items()):
        _contour(ax, fn, xlim, ylim, levels)
        _path(ax, run["points"], color="C3")
        minimum = getattr(problems, problem.upper() + "_MINIMUM")
        ax.plot(*minimum, "k*", ms=9)
        ax.set_title(f"{name}: f = {run['losses'][-1]:.2g} after {len(run['losses']) - 1}",
                     fontsize=9)
    fig.suptitle(f"{problem}: trajectories from {runs[next(iter(runs))]['points'][0].tolist()}")
    return save(fig, path)


def plot_toy_losses(runs, path):
    fig, axes = figure(1, 2, figsize=(11, 4.2))
    if fig is None:
        return None
    for ax, (problem, by_opt) in zip(axes, runs.items()):
        for name, run in by_opt.items():
            ax.semilogy(numpy.maximum(run["losses"], 1e-16), label=name)
        ax.set(title=problem, xlabel="step", ylabel="loss (floored at 1e-16)")
    axes[1].legend(fontsize=7, ncol=2)
    return save(fig, path)


def plot_mnist(runs, path):
    fig, (ax1, ax2) = figure(1, 2, figsize=(11, 4.2), sharey=True)
    if fig is None:
        return None
    for name, run in runs.items():
        ax1.plot(run["train_loss"], ".-", label=name)
        ax2.plot(run["wall_time_s"], run["train_loss"], ".-", label=name)
    ax1.set(xlabel="epoch", ylabel="training loss", yscale="log", title="MNIST MLP 784-128-10")
    ax2.set(xlabel="training wall time (s, shared 2-core CPU)", title="same runs vs time")
    ax1.legend(fontsize=8)
    return save(fig, path)


# ---- the experiment --------------------------------------------------------------------------
def run(quick: bool = False, out=None) -> dict:
    out = out_dir(out, NAME)
    with Timer() as t:
        gd = gd_learning_rates(200 if quick else 300)
        toys = toy_runs({"quadratic": 100, "rosenbrock": 300 if quick else 1000})
        train, test, data = mnist_arrays(quick, 1000 if quick else 60000)
        epochs = 2 if quick else 6
        mnist = {name: train_mnist(f, train, test, epochs)
                 for name, f in MNIST_OPTIMIZERS.items()}
    for name, r in mnist.items():
        print(f"{name:24s} train loss {r['train_loss'][-1]:.4f}  test accuracy "
              f"{100 * r['test_accuracy']:.2f}%  ({r['wall_time_s'][-1]:.1f} s)")
    figures = {
        "gd_learning_rates": plot_gd_learning_rates(gd, out / "gd_learning_rates.png"),
        "quadratic": plot_trajectories(toys["quadratic"], "quadratic", out / "quadratic.png",
                                       (-2, 2), (-1.2, 1.2), numpy.geomspace(0.01, 8, 12)),
        "rosenbrock": plot_trajectories(toys["rosenbrock"], "rosenbrock",
                                        out / "rosenbrock.png", (-2, 2), (-1, 3),
                                        numpy.geomspace(0.05, 800, 14)),
        "toy_losses": plot_toy_losses(toys, out / "toy_losses.png"),
        "mnist": plot_mnist(mnist, out / "mnist.png"),
    }
    toy_summary = {p: {name: {"final_loss": r["losses"][-1], "final_point": r["points"][-1],
                              "first_step": r["points"][1]}
                       for name, r in by_opt.items()} for p, by_opt in toys.items()}
    for problem, rows in toy_summary.items():
        print(problem + ": " + ", ".join(f"{n} {r['final_loss']:.2g}" for n, r in rows.items()))
    gd_summary = {lr: {k: v for k, v in r.items() if k not in ("points", "losses")}
                  | {"final_loss": r["losses"][-1], "losses": r["losses"][:40]}
                  for lr, r in gd.items()}
    mnist_summary = {n: r | {"final_train_loss": r["train_loss"][-1]} for n, r in mnist.items()}
    best = min(mnist, key=lambda n: mnist[n]["train_loss"][-1])
    return write_result(
        out, NAME, quick=quick, data=f"toy problems; {data}",
        metric=f"final MNIST training loss after {epochs} epochs (best optimizer)",
        value={best: mnist[best]["train_loss"][-1]}, wall_time_s=t.seconds,
        details={"two_weight_gd": gd_summary, "toys": toy_summary, "mnist": mnist_summary,
                 "mnist_setting": {"model": "784-128-10 ReLU", "batch_size": 128,
                                   "epochs": epochs},
                 "figures": figures})


def main(argv=None):
    return main_for(run, NAME, argv, __doc__)


if __name__ == "__main__":
    main()
