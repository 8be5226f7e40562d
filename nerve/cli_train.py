"""``nerve train``, ``nerve evaluate``, ``nerve predict`` and ``nerve datasets``.

Registered with nerve/cli.py's ``@command``; models come from the registry in
``nerve.models``, so a model that registers itself can be trained here at once.
"""
from __future__ import annotations

import argparse
import math
import shlex
import time
from pathlib import Path

import numpy

from .cli import command

_EPILOG = ("Files are looked for in --data-dir (default $NERVE_DATA or ~/.cache/nerve) and "
           "downloaded when missing (unless --offline or $NERVE_OFFLINE=1). Without files or "
           "network, MNIST models train on the MNIST subset shipped with nerve.")


def _say(args, *lines) -> None:
    if not getattr(args, "quiet", False):
        print(*lines, sep="\n", flush=True)


def _count(n: int) -> str:
    return f"{n:,}"


# ---- nerve train ------------------------------------------------------------------------------
def setup_train(p: argparse.ArgumentParser) -> None:
    from .models import list_models
    from .train.recipes import IMAGE_DATASETS, OPTIMIZERS, SCHEDULES

    p.epilog = _EPILOG
    p.add_argument("model", help=f"a registered model: {', '.join(list_models())}")
    p.add_argument("--dataset", choices=list(IMAGE_DATASETS),
                   help="default: the model's (mnist for mlp and lenet)")
    p.add_argument("--epochs", type=int, help="default: the model's (10)")
    p.add_argument("--batch-size", type=int, help="default: the model's (128)")
    p.add_argument("--lr", type=float, help="learning rate (default: the model's)")
    p.add_argument("--optimizer", choices=list(OPTIMIZERS), help="default: the model's")
    p.add_argument("--momentum", type=float, help="for sgd/rmsprop (default: the model's)")
    p.add_argument("--weight-decay", type=float, help="L2 penalty (default: the model's)")
    p.add_argument("--schedule", choices=list(SCHEDULES), help="learning-rate schedule "
                   "(default: the model's)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--data-dir", help="folder holding the dataset files")
    p.add_argument("--out", help="output folder (default runs/MODEL-DATASET)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--resume", metavar="PATH", help="continue from a checkpoint (last.nrv)")
    p.add_argument("--limit-train", type=int, metavar="N", help="train on the first N "
                   "training images only (quick runs)")
    p.add_argument("--val-split", type=float, default=0.1, help="fraction of the training set "
                   "held out for validation, which picks best.nrv (default 0.1; 0 for none)")
    p.add_argument("--offline", action="store_true", help="never download")
    p.add_argument("--no-plots", action="store_true", help="skip the plots")
    p.add_argument("--quiet", action="store_true", help="no progress, only the result")


def _settings(args, spec, resumed_meta):
    keys = ("dataset", "epochs", "batch_size", "lr", "optimizer", "momentum", "weight_decay",
            "schedule")
    settings = {"dataset": "mnist", "optimizer": "sgd", "lr": 0.01, "momentum": 0.0,
                "weight_decay": 0.0, "batch_size": 64, "epochs": 10, "schedule": "none",
                **spec.train_defaults, **(resumed_meta.get("train") or {})}
    for key in keys:
        value = getattr(args, key)
        if value is not None:
            settings[key] = value
    for key in ("epochs", "batch_size"):
        if settings[key] < 1:
            raise ValueError(f"--{key.replace('_', '-')} must be at least 1, got "
                             f"{settings[key]}")
    if not settings["lr"] > 0:
        raise ValueError(f"--lr must be positive, got {settings['lr']}")
    if not 0 <= args.val_split < 1:
        raise ValueError(f"--val-split must be in [0, 1), got {args.val_split}")
    if args.limit_train is not None and args.limit_train < 1:
        raise ValueError(f"--limit-train must be at least 1, got {args.limit_train}")
    return settings


def _split(data, args):
    from .data import Subset, random_split

    train, val = data.train, None
    if args.val_split > 0:
        k = max(1, int(round(len(train) * args.val_split)))
        train, val = random_split(train, [len(train) - k, k], seed=args.seed)
    if args.limit_train is not None and args.limit_train < len(train):
        train = Subset(train, range(args.limit_train))
    return train, val


def _resumed_meta(args) -> dict:
    if args.resume is None:
        return {}
    from .train.checkpoint import load_checkpoint

    meta = load_checkpoint(args.resume).get("meta") or {}
    if meta.get("model") not in (None, args.model):
        raise ValueError(f"--resume {args.resume} holds a {meta['model']!r} model, not "
                         f"{args.model!r}")
    return meta


@command("train", help="train a model (mlp, lenet, ...) and evaluate it on the test split",
         setup=setup_train)
def run_train(args) -> int:
    import nerve

    from . import nn
    from .data import DataLoader
    from .models import get_model, model_spec
    from .train import CSVLogger, JSONLogger, ModelCheckpoint, fit
    from .train.recipes import load_image_data, make_optimizer, make_scheduler

    started = time.perf_counter()
    spec = model_spec(args.model)
    meta_in = _resumed_meta(args)
    s = _settings(args, spec, meta_in)
    device = nerve.device(args.device)
    nerve.manual_seed(args.seed)
    data = load_image_data(s["dataset"], args.data_dir, download=not args.offline)
    if data.fallback_reason:
        print(f"note: {data.fallback_reason.rstrip('.')}.\n"
              f"note: training on the EMBEDDED MNIST SUBSET shipped with nerve instead "
              f"({_count(len(data.train))} training / {_count(len(data.test))} test images, "
              f"10% of MNIST); expect a lower accuracy than on full MNIST.", flush=True)
    train_set, val_set = _split(data, args)
    out = Path(args.out or f"runs/{args.model}-{data.name}")
    config = dict(meta_in.get("config") or {})
    model = get_model(args.model, **config).to(device)
    loader = DataLoader(train_set, batch_size=s["batch_size"], shuffle=True, seed=args.seed)
    opt = make_optimizer(s["optimizer"], model.parameters(), s["lr"], s["momentum"],
                         s["weight_decay"])
    sched, interval = make_scheduler(s["schedule"], opt, s["epochs"], len(loader))
    meta = {"model": args.model, "config": model.config, "dataset": data.name,
            "classes": data.classes, "input_shape": list(data.input_shape),
            "mean": list(data.mean), "std": list(data.std), "train": s,
            "nerve_version": nerve.__version__}
    monitor = "val_accuracy" if val_set is not None else "loss"
    json_log = JSONLogger(out / "metrics.json", monitor=monitor)
    checkpoints = ModelCheckpoint(out, monitor=monitor, meta=meta)
    callbacks = [checkpoints, CSVLogger(out / "history.csv"), json_log]
    _say(args, f"nerve train {args.model}: {data.name} from {data.source}",
         f"  {_count(len(train_set))} training images"
         + (f", {_count(len(val_set))} for validation" if val_set is not None else "")
         + f", {_count(len(data.test))} test; {s['epochs']} epochs, batch {s['batch_size']}, "
         f"{s['optimizer']} lr {s['lr']}"
         + (f" momentum {s['momentum']}" if s["optimizer"] in ("sgd", "rmsprop") else "")
         + f", {s['schedule']} schedule, seed {args.seed}, {device}")
    history = fit(model, loader, nn.CrossEntropyLoss(), opt, s["epochs"],
                  val_data=val_set, scheduler=sched, scheduler_interval=interval,
                  callbacks=callbacks, device=device, progress=not args.quiet,
                  batch_size=512, resume=args.resume, meta=meta)
    test = _test_report(model, data, device)
    results = {"test": test["summary"]}
    best = _best_report(checkpoints, len(history), data, device)
    if best is not None:
        results["test_best_checkpoint"] = best
    wall = time.perf_counter() - started
    json_log.extra = {**results, "model": args.model, "config": model.config,
                      "dataset": data.name, "settings": s, "seed": args.seed,
                      "device": str(device), "train_samples": len(train_set),
                      "val_samples": len(val_set) if val_set is not None else 0,
                      "test_samples": len(data.test), "epochs_done": len(history),
                      "train_time_s": sum(history["time"]), "wall_time_s": wall,
                      "command": "nerve " + shlex.join(getattr(args, "argv", [])),
                      "nerve_version": nerve.__version__}
    json_log.write()
    written = ["last.nrv", "best.nrv", "history.csv", "metrics.json"]
    if not args.no_plots:
        written += _train_plots(args, out, history, model, data, test)
    wall = time.perf_counter() - started
    best_line = "" if best is None else (f" (best.nrv, epoch {best['epoch']}: "
                                         f"{100 * best['accuracy']:.2f}%)")
    print(f"test accuracy {100 * test['summary']['accuracy']:.2f}% (loss "
          f"{test['summary']['loss']:.4f}) on {_count(len(data.test))} {data.name} test images "
          f"after {len(history)} epochs{best_line}; {wall:.1f}s in all")
    print(f"wrote {out}/: {', '.join(w for w in written if (out / w).is_file())}")
    return 0


def _best_report(checkpoints, epochs_done: int, data, device):
    """The test results of best.nrv when it is not the final model (else None)."""
    best_epoch = checkpoints.tracker.best_epoch
    if not checkpoints.best_path.is_file() or best_epoch is None or best_epoch + 1 == epochs_done:
        return None
    from .models import from_checkpoint

    model, _ = from_checkpoint(checkpoints.best_path)
    return {"epoch": best_epoch + 1,
            **_test_report(model.to(device), data, device)["summary"]}


def _test_report(model, data, device) -> dict:
    """Outputs, loss, accuracy and confusion matrix on the test split, in one pass."""
    import nerve

    from .train import predict
    from .train.metrics import accuracy, confusion_matrix, precision_recall

    logits = predict(model, data.test, batch_size=1000, device=device).to("cpu")
    loss = nerve.nn.functional.cross_entropy(logits, nerve.Tensor(data.test.targets)).item()
    cm = confusion_matrix(logits, data.test.targets, num_classes=len(data.classes))
    precision, recall = precision_recall(cm)
    summary = {"loss": loss, "accuracy": accuracy(logits, data.test.targets),
               "per_class": {str(c): {"precision": float(p), "recall": float(r)}
                             for c, p, r in zip(data.classes, precision, recall)}}
    return {"summary": summary, "logits": logits, "confusion_matrix": cm}


def _train_plots(args, out, history, model, data, test) -> list:
    from .train import plots

    try:
        plots.require_matplotlib()
    except ImportError as exc:
        _say(args, f"note: no plots: {exc}")
        return []
    plots.plot_history(history, out / "curves.png")
    plots.plot_weights(plots.first_layer_weight(model), out / "weights.png",
                       title=f"{args.model}: first-layer weights")
    plots.plot_confusion_matrix(test["confusion_matrix"], data.classes, out / "confusion.png")
    logits = test["logits"].numpy()
    probs = _softmax(logits)
    n = 32
    plots.plot_predictions(data.test.data[:n], data.test.targets[:n], probs[:n].argmax(1),
                           data.classes, out / "predictions.png", probs[:n].max(1))
    return ["curves.png", "weights.png", "confusion.png", "predictions.png"]


def _softmax(logits: numpy.ndarray) -> numpy.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = numpy.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# ---- nerve evaluate ---------------------------------------------------------------------------
def setup_evaluate(p: argparse.ArgumentParser) -> None:
    from .train.recipes import IMAGE_DATASETS

    p.epilog = _EPILOG
    p.add_argument("checkpoint", help="a checkpoint written by nerve train (best.nrv, last.nrv)")
    p.add_argument("--dataset", choices=list(IMAGE_DATASETS),
                   help="default: the one the checkpoint was trained on")
    p.add_argument("--data-dir", help="folder holding the dataset files")
    p.add_argument("--device", default="cpu")
    p.add_argument("--offline", action="store_true", help="never download")


def _load_model(path, device):
    from .models import from_checkpoint

    model, state = from_checkpoint(Path(path), map_location="cpu")
    return model.to(device), state.get("meta") or {}


@command("evaluate", help="evaluate a trained checkpoint on a dataset's test split",
         setup=setup_evaluate)
def run_evaluate(args) -> int:
    import nerve

    from .train.recipes import load_image_data

    device = nerve.device(args.device)
    model, meta = _load_model(args.checkpoint, device)
    name = args.dataset or meta.get("dataset", "mnist")
    data = load_image_data(name, args.data_dir, download=not args.offline)
    if data.fallback_reason:
        print(f"note: {data.fallback_reason.rstrip('.')}.\nnote: evaluating on the embedded "
              f"MNIST subset instead", flush=True)
    report = _test_report(model, data, device)["summary"]
    print(f"{meta.get('model', '?')} from {args.checkpoint} on {data.name} test "
          f"({_count(len(data.test))} images): accuracy {100 * report['accuracy']:.2f}%, "
          f"loss {report['loss']:.4f}")
    print(f"{'class':>12}  precision  recall")
    for cls, pr in report["per_class"].items():
        print(f"{cls:>12}  {pr['precision']:9.4f}  {pr['recall']:6.4f}")
    return 0


# ---- nerve predict ----------------------------------------------------------------------------
def setup_predict(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="a checkpoint written by nerve train")
    p.add_argument("images", nargs="+", metavar="IMAGE",
                   help="PNG/JPEG files (needs Pillow) or .npy arrays, of the training images' "
                        "size (28x28 for MNIST models)")
    p.add_argument("--top", type=int, default=1, help="show the K most likely classes")
    p.add_argument("--invert", action="store_true",
                   help="invert the images first (dark digits on a light background)")
    p.add_argument("--device", default="cpu")


def load_image(path, shape) -> numpy.ndarray:
    """An image file as float32 ``shape`` = (C, H, W) in [0, 1]: PNG/JPEG (via Pillow) or a
    ``.npy`` array (uint8 is scaled by 1/255; floats are taken as they are)."""
    path = Path(path)
    c, h, w = shape
    if not path.is_file():
        raise FileNotFoundError(f"no image file at {path}")
    if path.suffix.lower() == ".npy":
        try:
            arr = numpy.load(path, allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"{path} is not a readable .npy array ({exc})") from exc
        if arr.ndim == 3 and arr.shape[-1] == c and arr.shape[0] != c:
            arr = arr.transpose(2, 0, 1)  # HWC -> CHW
    else:
        try:
            from PIL import Image, UnidentifiedImageError
        except ImportError:
            raise ImportError(f"reading {path.name} needs Pillow: pip install pillow (or give "
                              f".npy files)") from None
        try:
            with Image.open(path) as img:
                arr = numpy.asarray(img.convert("L" if c == 1 else "RGB"))
        except (UnidentifiedImageError, OSError) as exc:
            raise ValueError(f"{path} is not a readable image ({exc})") from exc
        if arr.ndim == 3:
            arr = arr.transpose(2, 0, 1)
    if arr.ndim == 2 and c == 1:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[0] != c:
        raise ValueError(f"{path}: expected a {'grayscale' if c == 1 else f'{c}-channel'} image,"
                         f" got an array of shape {arr.shape}")
    if arr.shape[1:] != (h, w):
        raise ValueError(f"{path} is {arr.shape[2]}x{arr.shape[1]} pixels, but the model takes "
                         f"{w}x{h} images; resize it first (e.g. with Pillow: "
                         f"Image.open(path).resize(({w}, {h})))")
    if arr.dtype == numpy.uint8:
        return arr.astype(numpy.float32) / 255.0
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"{path}: expected numbers, got dtype {arr.dtype}")
    return arr.astype(numpy.float32)


@command("predict", help="classify image files with a trained checkpoint",
         setup=setup_predict)
def run_predict(args) -> int:
    import nerve

    from .train import predict

    device = nerve.device(args.device)
    model, meta = _load_model(args.checkpoint, device)
    shape = tuple(meta.get("input_shape") or (1, 28, 28))
    classes = meta.get("classes") or [str(i) for i in range(10)]
    images = numpy.stack([load_image(p, shape) for p in args.images])
    if args.invert:
        images = 1.0 - images
    mean = numpy.asarray(meta.get("mean", [0.0]), numpy.float32).reshape(-1, 1, 1)
    std = numpy.asarray(meta.get("std", [1.0]), numpy.float32).reshape(-1, 1, 1)
    probs = _softmax(predict(model, (images - mean) / std, device=device).numpy())
    k = max(1, min(args.top, probs.shape[1]))
    for path, p in zip(args.images, probs):
        best = numpy.argsort(-p, kind="stable")[:k]
        print(f"{path}: " + ", ".join(f"{classes[i]} (p={p[i]:.4f})" for i in best))
    return 0


# ---- nerve datasets ---------------------------------------------------------------------------
def setup_datasets(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="also look in this folder")


def _where(name: str, root: Path):
    """The folder holding dataset ``name`` under ``root``, or None (file checks only)."""
    from .data.datasets import CIFAR10, MNIST, FashionMNIST, MissingDataError
    from .data.datasets.download import find_folder

    if name in ("mnist", "fashion-mnist"):
        cls = MNIST if name == "mnist" else FashionMNIST
        names = [n for split in cls.resources.values() for n, _ in split]
        return find_folder(root, cls.subdirs, names)
    if name == "cifar10":
        probe = CIFAR10.__new__(CIFAR10)
        probe.root, probe.train = root, False
        try:
            found = probe._find()
        except MissingDataError:
            return None
        return found[1][0].parent if found else None
    if name == "tinyshakespeare":
        for p in (root / "tinyshakespeare" / "input.txt", root / "input.txt"):
            if p.is_file():
                return p.parent
        return None
    if name == "tatoeba-fra-eng":
        for p in (root / "tatoeba-fra-eng" / "fra.txt", root / "fra-eng" / "fra.txt"):
            if p.is_file():
                return p.parent
        return None
    raise ValueError(name)


@command("datasets", help="list the datasets available locally and where they are",
         setup=setup_datasets)
def run_datasets(args) -> int:
    import os

    from .data.datasets import data_home, find_shared_data
    from .data.datasets.embedded import MNIST_SUBSET

    home = data_home()
    source = ("$NERVE_DATA" if os.environ.get("NERVE_DATA")
              else "default; set $NERVE_DATA to move it")
    roots = [(Path(args.data_dir).expanduser(), "--data-dir")] if args.data_dir else []
    roots.append((home, source))
    shared = find_shared_data()
    if shared is not None:
        roots.append((shared, "shared data beside the repository"))
    print("data folders searched:")
    for root, why in roots:
        print(f"  {root}  ({why}{'' if root.is_dir() else ', does not exist'})")
    print(f"\n{'dataset':<16} {'status':<10} where")
    size = MNIST_SUBSET.stat().st_size / 2**20 if MNIST_SUBSET.is_file() else math.nan
    print(f"{'embedded-mnist':<16} {'available':<10} {MNIST_SUBSET} ({size:.1f} MB, 6,000 train"
          f" / 1,000 test images, shipped with nerve)")
    for name in ("mnist", "fashion-mnist", "cifar10", "tinyshakespeare", "tatoeba-fra-eng"):
        found = next(((r, f) for r, f in ((r, _where(name, r)) for r, _ in roots)
                      if f is not None), None)
        if found is None:
            where = f"put the files in {home}/{name}" + (
                " or let `nerve train` download them" if name in ("mnist", "fashion-mnist")
                else "")
        else:
            root, folder = found
            used = root == home or (args.data_dir and root == roots[0][0])
            where = str(folder) + ("" if used else f" (pass --data-dir {root})")
        print(f"{name:<16} {'available' if found else 'missing':<10} {where}")
    print("\n`nerve train` uses mnist, fashion-mnist and embedded-mnist (--dataset); "
          "see nerve.data.datasets for the loaders.")
    return 0
