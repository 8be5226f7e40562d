"""The degradation problem: plain CNNs of 20 and 56 layers against ResNets (He et al., 2016).

He et al. (CVPR 2016, Figure 6) observed that a deeper "plain" convolutional network
(conv-BN-ReLU stacks) reaches a *higher* training error than a shallower one, although it
could represent it: an optimization difficulty, not over-fitting. Identity shortcuts
(``relu(F(x) + x)``) remove it. Here plain and residual networks of 20 and 56 layers
(``nerve train plain20`` / ``resnet20``, with ``blocks`` 3 and 9: the same conv layers with
batch norm and the same initialization, with and without shortcuts) train with identical
settings (data order, SGD + momentum, warm-up + cosine schedule, seed) on the first 2,000
CIFAR-10 training images (of the shared data folder's 4,000, or of full CIFAR-10), without
augmentation, for 6 epochs. Their training losses are compared step by step and, after
training, over the whole training set in eval mode (``details["claims"]``).

    python examples/degradation.py [--quick] [--out DIR]

``--quick`` (seconds, for the tests) trains only plain-20 and ResNet-20, at half width
(8/16/32 filters), on 512 images for 4 epochs, without warm-up (a quarter of its 32 steps
would go to it). ``FULL`` below is sized for about ten
minutes on a 2-core CPU; the paper trains on 45k images for 64k steps.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy
from _common import Timer, figure, main_for, out_dir, save, seed, write_result

import nerve
from nerve.data import DataLoader, Subset
from nerve.data.datasets import CIFAR10, MissingDataError, data_home, find_shared_data
from nerve.data.transforms import Compose, Normalize, ToTensor
from nerve.models import get_model
from nerve.nn import functional as F
from nerve.optim import SGD, lr_scheduler
from nerve.train.recipes import IMAGE_DATASETS

NAME = "degradation"
KINDS = ("plain", "resnet")  # registered as plain20 / resnet20; depth = 6 * blocks + 2
FULL = {"images": 2000, "epochs": 6, "batch_size": 64, "lr": 0.1, "widths": (16, 32, 64),
        "depths": (20, 56), "warmup_epochs": 1, "seed": 0}
QUICK = {"images": 512, "epochs": 4, "batch_size": 64, "lr": 0.1, "widths": (8, 16, 32),
         "depths": (20,), "warmup_epochs": 0, "seed": 0}


def cifar_train(n: int):
    """The first ``n`` CIFAR-10 training images, normalized (no augmentation): from
    ``$NERVE_DATA``/~/.cache/nerve (full CIFAR-10) or else the shared data folder."""
    _, mean, std = IMAGE_DATASETS["cifar10"]
    t = Compose([ToTensor(), Normalize(mean, std)])
    for root in (data_home(), find_shared_data()):
        if root is None:
            continue
        try:
            data = CIFAR10(root, train=True, transform=t)
        except MissingDataError:
            continue
        return Subset(data, range(min(n, len(data)))), str(data.files[0])
    raise MissingDataError(f"{NAME}: no CIFAR-10 training images in {data_home()} nor in a "
                           f"shared data folder (see nerve.data.datasets.CIFAR10)")


def train(kind: str, depth: int, data, cfg: dict) -> dict:
    """Train one network; the per-step training losses and the final full-set loss."""
    nerve.manual_seed(cfg["seed"])  # the same initial weights in the shared conv layers
    model = get_model(f"{kind}20", widths=cfg["widths"], blocks=(depth - 2) // 6)
    loader = DataLoader(data, batch_size=cfg["batch_size"], shuffle=True, seed=cfg["seed"])
    opt = SGD(model.parameters(), lr=cfg["lr"], momentum=0.9, weight_decay=1e-4)
    # linear warm-up, then cosine decay: without the warm-up lr 0.1 throws the 56-layer
    # ResNet off in its first steps (He et al. warm up their ResNet-110 too)
    warm, total = cfg["warmup_epochs"] * len(loader), cfg["epochs"] * len(loader)
    sched = lr_scheduler.LambdaLR(opt, lambda k: (k + 1) / warm if k < warm else
                                  0.5 * (1 + math.cos(math.pi * (k - warm) / (total - warm))))
    steps, epochs = [], []
    model.train()
    with Timer() as t:
        for _ in range(cfg["epochs"]):
            losses = []
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                losses.append(loss.item())
            steps += losses
            epochs.append(float(numpy.mean(losses)))
    model.eval()
    total, correct = 0.0, 0
    with nerve.no_grad():
        for x, y in DataLoader(data, batch_size=500, shuffle=False):
            out = model(x)
            total += F.cross_entropy(out, y).item() * len(y)
            correct += int((out.argmax(1).numpy() == y.numpy()).sum())
    return {"step_loss": steps, "epoch_loss": epochs, "final_train_loss": total / len(data),
            "final_train_accuracy": correct / len(data), "train_time_s": t.seconds,
            "parameters": sum(p.numel() for p in model.parameters())}


def smooth(values, k: int):
    """Moving average over ``k`` steps (shorter at the start)."""
    c = numpy.cumsum(numpy.insert(numpy.asarray(values, dtype=float), 0, 0.0))
    return [(c[i + 1] - c[max(0, i + 1 - k)]) / min(i + 1, k) for i in range(len(values))]


def plot(runs: dict, path, title: str):
    fig, ax = figure(figsize=(6.5, 4))
    if fig is None:
        return None
    colors = {20: "tab:orange", 56: "tab:purple"}
    for name, r in runs.items():
        losses, color = r["step_loss"], colors.get(r["depth"], "tab:gray")
        style = "--" if r["kind"] == "plain" else "-"
        steps = range(1, len(losses) + 1)
        ax.plot(steps, losses, style, color=color, alpha=0.2, lw=0.8)
        ax.plot(steps, smooth(losses, 10), style, color=color,
                label=f"{name} (final train loss {r['final_train_loss']:.3f})")
    ax.set_xlabel("SGD step")
    ax.set_ylabel("training loss (cross-entropy)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save(fig, path)


def run(quick: bool = False, out=None) -> dict:
    out = out_dir(out, NAME)
    cfg = QUICK if quick else FULL
    seed(0)
    data, source = cifar_train(cfg["images"])
    runs = {}
    with Timer() as t:
        for depth in cfg["depths"]:
            for kind in KINDS:
                runs[f"{kind}{depth}"] = {"kind": kind, "depth": depth,
                                          **train(kind, depth, data, cfg)}
    final = {name: round(r["final_train_loss"], 4) for name, r in runs.items()}
    claims = {f"resnet{d}_below_plain{d}": final[f"resnet{d}"] < final[f"plain{d}"]
              for d in cfg["depths"]}
    if len(cfg["depths"]) > 1:  # the degradation itself: the deeper plain net ends higher
        lo, hi = min(cfg["depths"]), max(cfg["depths"])
        claims[f"plain{hi}_above_plain{lo}"] = final[f"plain{hi}"] > final[f"plain{lo}"]
        claims[f"resnet{hi}_below_plain{hi}"] = final[f"resnet{hi}"] < final[f"plain{hi}"]
    figure_path = plot(runs, out / "degradation.png",
                       f"plain (dashed) vs residual (solid), {len(data):,} CIFAR-10 images, "
                       f"{cfg['epochs']} epochs, widths {cfg['widths']}")
    return write_result(
        out, NAME, quick=quick, data=f"CIFAR-10, first {len(data):,} training images "
        f"({source}), no augmentation", metric="final training loss (whole training set, "
        "eval mode)", value=final, wall_time_s=t.seconds,
        details={"settings": {**cfg, "optimizer": "SGD momentum 0.9, weight decay 1e-4",
                              "schedule": "linear warm-up, then cosine, per step"},
                 "claims": claims, "figure": figure_path, "runs": runs})


def main(argv=None):
    return main_for(run, NAME, argv, __doc__)


if __name__ == "__main__":
    main()
