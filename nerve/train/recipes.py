"""Named ingredients for ``nerve train``: image datasets, optimizers and learning-rate
schedules, each built from a short name and a few numbers.

>>> import nerve.nn as nn
>>> opt = make_optimizer("sgd", nn.Linear(2, 2).parameters(), lr=0.1, momentum=0.9)
>>> sched, interval = make_scheduler("cosine", opt, epochs=2, steps_per_epoch=10)
>>> type(sched).__name__, interval
('CosineAnnealingLR', 'step')
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .. import optim
from ..data.datasets import (
    MNIST,
    CorruptDataError,
    DownloadError,
    FashionMNIST,
    MissingDataError,
    data_home,
    embedded_mnist,
)
from ..data.transforms import Compose, Normalize, ToTensor
from ..optim import lr_scheduler

__all__ = ["IMAGE_DATASETS", "OPTIMIZERS", "SCHEDULES", "ImageData", "load_image_data",
           "make_optimizer", "make_scheduler", "offline"]


@dataclass
class ImageData:
    """A train/test pair of image datasets and how to feed them to a model."""

    name: str  # the dataset actually used ("embedded-mnist" after a fallback)
    train: object
    test: object
    classes: list
    mean: tuple
    std: tuple
    source: str  # where the files came from, for messages
    fallback_reason: str | None = None  # why the embedded subset stands in for MNIST
    input_shape: tuple = (1, 28, 28)
    notes: list = field(default_factory=list)


# name -> (loader class or None for the embedded subset, mean, std over the training set)
IMAGE_DATASETS = {
    "mnist": (MNIST, (0.1307,), (0.3081,)),
    "fashion-mnist": (FashionMNIST, (0.2860,), (0.3530,)),
    "embedded-mnist": (None, (0.1307,), (0.3081,)),
}


def offline() -> bool:
    """True when ``$NERVE_OFFLINE`` is set to something other than 0/false/no."""
    return os.environ.get("NERVE_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def _transform(mean, std):
    return Compose([ToTensor(), Normalize(mean, std)])


def _embedded(mean, std, reason=None) -> ImageData:
    t = _transform(mean, std)
    train, test = embedded_mnist(True, t), embedded_mnist(False, t)
    return ImageData("embedded-mnist", train, test, list(train.classes), mean, std,
                     f"the MNIST subset shipped with nerve ({train.files[0]})", reason)


def load_image_data(name: str, data_dir=None, download: bool = True) -> ImageData:
    """The train and test splits of ``name`` (see ``IMAGE_DATASETS``), normalized.

    Files are looked for in ``data_dir`` (default ``$NERVE_DATA`` or ``~/.cache/nerve``);
    missing ones are downloaded unless ``download`` is False or ``$NERVE_OFFLINE`` is set.
    For ``mnist``, when neither works, the embedded subset stands in and ``fallback_reason``
    says why. Corrupt files are an error, never silently replaced.
    """
    if name not in IMAGE_DATASETS:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(IMAGE_DATASETS)}")
    cls, mean, std = IMAGE_DATASETS[name]
    if cls is None:
        return _embedded(mean, std)
    root = Path(data_dir).expanduser() if data_dir is not None else data_home()
    t = _transform(mean, std)
    try:
        train = cls(root, train=True, transform=t)
        test = cls(root, train=False, transform=t)
    except MissingDataError as missing:
        where = (f"{cls.name} files are not in {root} (put the four files in "
                 f"{root / cls.folder}, or pass --data-dir)")
        if not download or offline():
            why = f"{where} and downloads are off (--offline or $NERVE_OFFLINE)"
            if name != "mnist":
                raise MissingDataError(f"{why}. {missing}") from None
            return _embedded(mean, std, why)
        try:
            train = cls(root, train=True, transform=t, download=True)
            test = cls(root, train=False, transform=t, download=True)
        except (DownloadError, CorruptDataError) as failed:
            if name != "mnist":
                raise
            return _embedded(mean, std, f"{where} and the download failed: {failed}")
    return ImageData(name, train, test, list(cls.classes), mean, std,
                     f"{train.files[0].parent}")


# ---- optimizers -----------------------------------------------------------------------------
OPTIMIZERS = {
    "sgd": lambda p, lr, momentum, wd: optim.SGD(p, lr=lr, momentum=momentum, weight_decay=wd),
    "nesterov": lambda p, lr, momentum, wd: optim.SGD(p, lr=lr, momentum=momentum or 0.9,
                                                      weight_decay=wd, nesterov=True),
    "adam": lambda p, lr, momentum, wd: optim.Adam(p, lr=lr, weight_decay=wd),
    "adamw": lambda p, lr, momentum, wd: optim.AdamW(p, lr=lr, weight_decay=wd),
    "nadam": lambda p, lr, momentum, wd: optim.NAdam(p, lr=lr, weight_decay=wd),
    "rmsprop": lambda p, lr, momentum, wd: optim.RMSprop(p, lr=lr, momentum=momentum,
                                                         weight_decay=wd),
    "adagrad": lambda p, lr, momentum, wd: optim.Adagrad(p, lr=lr, weight_decay=wd),
}


def make_optimizer(name: str, params, lr: float, momentum: float = 0.0,
                   weight_decay: float = 0.0):
    """An optimizer by name (``OPTIMIZERS``); ``momentum`` applies to sgd/nesterov/rmsprop."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; available: {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name](list(params), lr, momentum, weight_decay)


# ---- schedules ------------------------------------------------------------------------------
def _step(opt, epochs, steps):
    return lr_scheduler.StepLR(opt, step_size=max(1, epochs // 3), gamma=0.1), "epoch"


SCHEDULES = {
    "none": lambda opt, epochs, steps: (None, "epoch"),
    "cosine": lambda opt, epochs, steps: (
        lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs * steps)), "step"),
    "step": _step,
    "exponential": lambda opt, epochs, steps: (lr_scheduler.ExponentialLR(opt, gamma=0.8),
                                               "epoch"),
    "linear": lambda opt, epochs, steps: (
        lr_scheduler.LinearLR(opt, start_factor=1.0, end_factor=0.0,
                              total_iters=max(1, epochs * steps)), "step"),
    "onecycle": lambda opt, epochs, steps: (
        lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in opt.param_groups],
                                total_steps=max(1, epochs * steps)), "step"),
    "plateau": lambda opt, epochs, steps: (
        lr_scheduler.ReduceLROnPlateau(opt, factor=0.1, patience=2), "epoch"),
}


def make_scheduler(name: str, optimizer, epochs: int, steps_per_epoch: int):
    """``(scheduler or None, interval)`` by name (``SCHEDULES``): ``cosine``, ``linear`` and
    ``onecycle`` run per step over the whole run; ``step`` (x0.1 every third of the run),
    ``exponential`` (x0.8) and ``plateau`` (x0.1 after 2 epochs without a better val_loss)
    per epoch."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; available: {', '.join(SCHEDULES)}")
    return SCHEDULES[name](optimizer, epochs, steps_per_epoch)
