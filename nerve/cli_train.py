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
def _all_datasets() -> list:
    from .tasks import TASKS

    names = []
    for cls in TASKS.values():
        names += [n for n in cls().datasets if n not in names]
    return names


def _config_items(items) -> dict:
    """``--config KEY=VALUE`` pairs; values are Python literals (``2``, ``(64, 64)``,
    ``'gru'``) or else plain strings (``gru``)."""
    import ast

    config = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--config expects KEY=VALUE, got {item!r}")
        try:
            config[key.strip()] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            config[key.strip()] = value
    return config


def setup_train(p: argparse.ArgumentParser) -> None:
    from .models import list_models
    from .train.recipes import OPTIMIZERS, SCHEDULES

    p.epilog = _EPILOG
    p.add_argument("model", help=f"a registered model: {', '.join(list_models())}")
    p.add_argument("--dataset", choices=_all_datasets(),
                   help="default: the model's (mnist for mlp and lenet)")
    p.add_argument("--epochs", type=int, help="default: the model's (10)")
    p.add_argument("--batch-size", type=int, help="default: the model's (128)")
    p.add_argument("--lr", type=float, help="learning rate (default: the model's)")
    p.add_argument("--optimizer", choices=list(OPTIMIZERS), help="default: the model's")
    p.add_argument("--momentum", type=float, help="for sgd/rmsprop (default: the model's)")
    p.add_argument("--weight-decay", type=float, help="L2 penalty (default: the model's)")
    p.add_argument("--schedule", choices=list(SCHEDULES), help="learning-rate schedule "
                   "(default: the model's)")
    p.add_argument("--config", action="append", metavar="KEY=VALUE",
                   help="set a model config entry, e.g. --config hidden=256 (repeatable; "
                        "see `nerve models`)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--data-dir", help="folder holding the dataset files")
    p.add_argument("--out", help="output folder (default runs/MODEL-DATASET)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--resume", metavar="PATH", help="continue from a checkpoint (last.nrv)")
    p.add_argument("--limit-train", type=int, metavar="N", help="train on the first N "
                   "training samples only (quick runs)")
    p.add_argument("--val-split", type=float, default=0.1, help="fraction of the training set "
                   "held out for validation, which picks best.nrv (default 0.1; 0 for none; "
                   "gan and dcgan, scored on their samples, hold nothing out)")
    p.add_argument("--offline", action="store_true", help="never download")
    p.add_argument("--no-plots", action="store_true", help="skip the plots")
    p.add_argument("--quiet", action="store_true", help="no progress, only the result")


_SETTINGS = ("dataset", "epochs", "batch_size", "lr", "optimizer", "momentum", "weight_decay",
             "schedule")


def _settings(args, spec, task, resumed_meta):
    settings = {"dataset": "mnist", "optimizer": "sgd", "lr": 0.01, "momentum": 0.0,
                "weight_decay": 0.0, "batch_size": 64, "epochs": 10, "schedule": "none",
                **spec.train_defaults, **(resumed_meta.get("train") or {})}
    settings.pop("task", None)
    for key in _SETTINGS:
        value = getattr(args, key, None)
        if value is not None:
            settings[key] = value
    if settings["dataset"] not in task.datasets:
        raise ValueError(f"{args.model} is a {task.name} model: --dataset must be one of "
                         f"{', '.join(task.datasets)}, got {settings['dataset']!r}")
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


def _resumed_meta(args) -> dict:
    if args.resume is None:
        return {}
    from .train.checkpoint import load_checkpoint

    meta = load_checkpoint(args.resume).get("meta") or {}
    if meta.get("model") not in (None, args.model):
        raise ValueError(f"--resume {args.resume} holds a {meta['model']!r} model, not "
                         f"{args.model!r}")
    return meta


def _model_config(spec, data, meta_in, args) -> dict:
    """The data's config entries the model declares, then the resumed run's, then --config."""
    config = {k: v for k, v in data.config.items() if k in spec.default_config}
    config.update(meta_in.get("config") or {})
    given = _config_items(getattr(args, "config", None))
    if meta_in and given:
        raise ValueError("--config cannot change a resumed run's model; drop --config or "
                         "--resume")
    config.update(given)
    return config


@command("train", help="train a model (mlp, lenet, ...) and evaluate it on the test split",
         setup=setup_train)
def run_train(args) -> int:
    import nerve

    from .models import get_model, model_spec
    from .tasks import Run, task_of
    from .train import CSVLogger, JSONLogger, ModelCheckpoint

    started = time.perf_counter()
    spec = model_spec(args.model)
    task = task_of(spec)
    meta_in = _resumed_meta(args)
    s = _settings(args, spec, task, meta_in)
    device = nerve.device(args.device)
    nerve.manual_seed(args.seed)
    run = Run(args, s, device, Path("."), args.seed)
    data = task.load(run, meta_in or None)
    for note in data.notes:
        print(note, flush=True)
    data.train, data.val = run.split(data.train, data.val, hold_out=task.validates)
    run.out = Path(args.out or f"runs/{args.model}-{data.name}")
    model = get_model(args.model, **_model_config(spec, data, meta_in, args)).to(device)
    meta = {"model": args.model, "config": model.config, "dataset": data.name, **data.meta,
            "train": s, "nerve_version": nerve.__version__}
    monitor = task.monitor if data.val is not None or not task.validates else "loss"
    json_log = JSONLogger(run.out / "metrics.json", monitor=monitor)
    checkpoints = ModelCheckpoint(run.out, monitor=monitor, meta=meta)
    callbacks = [checkpoints, CSVLogger(run.out / "history.csv"), json_log]
    run.say(f"nerve train {args.model}: {data.name} from {data.source}",
            f"  {_count(len(data.train))} training {task.unit}"
            + (f", {_count(len(data.val))} for validation" if data.val is not None else "")
            + f", {_count(len(data.test))} test; {s['epochs']} epochs, batch {s['batch_size']}, "
            f"{s['optimizer']} lr {s['lr']}"
            + (f" momentum {s['momentum']}" if s["optimizer"] in ("sgd", "rmsprop") else "")
            + f", {s['schedule']} schedule, seed {args.seed}, {device}")
    history = task.train(run, model, data, callbacks, meta)
    test = task.test(run, model, data)
    results = {"test": test}
    best = _best_report(task, run, checkpoints, len(history), data)
    if best is not None:
        results["test_best_checkpoint"] = best
    wall = time.perf_counter() - started
    json_log.extra = {**results, "model": args.model, "config": model.config,
                      "dataset": data.name, "settings": s, "seed": args.seed,
                      "device": str(device), "train_samples": len(data.train),
                      "val_samples": len(data.val) if data.val is not None else 0,
                      "test_samples": len(data.test), "epochs_done": len(history),
                      "train_time_s": sum(history["time"]), "wall_time_s": wall,
                      "command": "nerve " + shlex.join(getattr(args, "argv", None) or []),
                      "nerve_version": nerve.__version__}
    json_log.write()
    written = ["last.nrv", "best.nrv", "history.csv", "metrics.json"]
    if not args.no_plots:
        written += _train_plots(task, run, model, data, history, test)
    wall = time.perf_counter() - started
    best_line = "" if best is None else (f" (best.nrv, epoch {best['epoch']}: "
                                         f"{task.summary(best)})")
    print(f"{task.summary(test)} on {_count(len(data.test))} {data.name} test {task.unit} "
          f"after {len(history)} epochs{best_line}; {wall:.1f}s in all")
    print(f"wrote {run.out}/: {', '.join(w for w in written if (run.out / w).is_file())}")
    return 0


def _best_report(task, run, checkpoints, epochs_done: int, data):
    """The test results of best.nrv when it is not the final model (else None)."""
    best_epoch = checkpoints.tracker.best_epoch
    if not checkpoints.best_path.is_file() or best_epoch is None or best_epoch + 1 == epochs_done:
        return None
    from .models import from_checkpoint

    model, _ = from_checkpoint(checkpoints.best_path)
    return {"epoch": best_epoch + 1, **task.test(run, model.to(run.device), data)}


def _train_plots(task, run, model, data, history, test) -> list:
    from .train import plots

    try:
        plots.require_matplotlib()
    except ImportError as exc:
        run.say(f"note: no plots: {exc}")
        return []
    return task.plots(run, model, data, history, test)


# ---- nerve evaluate ---------------------------------------------------------------------------
def setup_evaluate(p: argparse.ArgumentParser) -> None:
    p.epilog = _EPILOG
    p.add_argument("checkpoint", help="a checkpoint written by nerve train (best.nrv, last.nrv)")
    p.add_argument("--dataset", choices=_all_datasets(),
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

    from .models import model_spec
    from .tasks import Run, task_of

    device = nerve.device(args.device)
    model, meta = _load_model(args.checkpoint, device)
    task = task_of(model_spec(meta["model"]))
    settings = {**(meta.get("train") or {}),
                "dataset": args.dataset or meta.get("dataset", "mnist")}
    if settings["dataset"] not in task.datasets:
        raise ValueError(f"{meta['model']} is a {task.name} model: --dataset must be one of "
                         f"{', '.join(task.datasets)}, got {settings['dataset']!r}")
    run = Run(args, settings, device, Path("."))
    data = task.load(run, meta)
    for note in data.notes:
        print(note.replace("using the", "evaluating on the"), flush=True)
    results = task.test(run, model, data)
    print(f"{meta.get('model', '?')} from {args.checkpoint} on {data.name} test "
          f"({_count(len(data.test))} {task.unit}): {task.summary(results)}")
    for line in task.details(results):
        print(line)
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

    from .tasks.classify import softmax
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
    probs = softmax(predict(model, (images - mean) / std, device=device).numpy())
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
    print(f"\n`nerve train MODEL --dataset D` takes: {', '.join(_all_datasets())} "
          f"(`nerve models` shows each model's default); see nerve.data.datasets for the "
          f"loaders.")
    return 0


# ---- nerve sample / nerve models -------------------------------------------------------------
def setup_sample(p: argparse.ArgumentParser) -> None:
    from .tasks import TASKS

    p.add_argument("checkpoint", help="a checkpoint of a generative model (char_rnn, vae, gan, "
                   "...) written by nerve train")
    p.add_argument("--n", type=int, default=None, help="how many samples (or characters)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", help="where to write images or text (default: beside the "
                   "checkpoint)")
    p.add_argument("--device", default="cpu")
    for cls in TASKS.values():
        cls().add_sample_arguments(p)


@command("sample", help="draw samples from a trained generative model", setup=setup_sample)
def run_sample(args) -> int:
    import nerve

    from .models import model_spec
    from .tasks import task_of

    device = nerve.device(args.device)
    model, meta = _load_model(args.checkpoint, device)
    nerve.manual_seed(args.seed)
    model.eval()
    return task_of(model_spec(meta["model"])).sample(model, meta, args)


@command("models", help="list the registered models, their tasks and default settings")
def run_models(args) -> int:
    from .models import list_models, model_spec

    for name in list_models():
        spec = model_spec(name)
        d = spec.train_defaults
        doc = (spec.__doc__ or "").strip().splitlines()
        print(f"{name:<16} {d.get('task', 'classify'):<10} {d.get('dataset', '?'):<16} "
              f"{doc[0] if doc else ''}")
        print(f"{'':<16} config: {spec.default_config}")
    return 0
