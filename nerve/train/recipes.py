"""Named ingredients for ``nerve train``: image datasets, optimizers and learning-rate
schedules, each built from a short name and a few numbers.

>>> import nerve.nn as nn
>>> opt = make_optimizer("sgd", nn.Linear(2, 2).parameters(), lr=0.1, momentum=0.9)
>>> sched, interval = make_scheduler("cosine", opt, epochs=2, steps_per_epoch=10)
>>> type(sched).__name__, interval
('CosineAnnealingLR', 'step')
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path

from .. import optim
from ..data.datasets import (
    CIFAR10,
    MNIST,
    CorruptDataError,
    DownloadError,
    FashionMNIST,
    MissingDataError,
    data_home,
    embedded_mnist,
    find_shared_data,
)
from ..data.transforms import Compose, Normalize, RandomCrop, RandomHorizontalFlip, ToTensor
from ..optim import lr_scheduler

__all__ = ["AUGMENTATIONS", "IMAGE_DATASETS", "OPTIMIZERS", "SCHEDULES", "ImageData",
           "load_image_data", "make_optimizer", "make_scheduler", "offline"]


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
    # the training images without augmentation (for a validation split), when ``train``
    # is augmented; else None
    train_eval: object = None


# name -> (loader class or None for the embedded subset, mean, std over the training set)
IMAGE_DATASETS = {
    "mnist": (MNIST, (0.1307,), (0.3081,)),
    "fashion-mnist": (FashionMNIST, (0.2860,), (0.3530,)),
    "embedded-mnist": (None, (0.1307,), (0.3081,)),
    "cifar10": (CIFAR10, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}

# name -> training augmentation, applied after ToTensor and before Normalize (so crops pad
# with black, as torchvision's RandomCrop on images does)
AUGMENTATIONS = {
    "cifar10": lambda: [RandomCrop(32, padding=4), RandomHorizontalFlip()],
}
# the subset of CIFAR-10 in the shared data folder (see CIFAR10's docstring)
_CIFAR_SUBSET = "data_batch_1_first4000.bin.gz"


def offline() -> bool:
    """True when ``$NERVE_OFFLINE`` is set to something other than 0/false/no."""
    return os.environ.get("NERVE_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def _transform(mean, std, augment=()):
    return Compose([ToTensor(), *augment, Normalize(mean, std)])


def _input_shape(images) -> tuple:
    """(C, H, W) of uint8 images stored as (N, H, W) or (N, H, W, C)."""
    return (1, *images.shape[1:]) if images.ndim == 3 else (images.shape[3], *images.shape[1:3])


def _embedded(mean, std, reason=None) -> ImageData:
    t = _transform(mean, std)
    train, test = embedded_mnist(True, t), embedded_mnist(False, t)
    return ImageData("embedded-mnist", train, test, list(train.classes), mean, std,
                     f"the MNIST subset shipped with nerve ({train.files[0]})", reason)


def load_image_data(name: str, data_dir=None, download: bool = True,
                    augment: bool = True) -> ImageData:
    """The train and test splits of ``name`` (see ``IMAGE_DATASETS``), normalized.

    Files are looked for in ``data_dir`` (default ``$NERVE_DATA`` or ``~/.cache/nerve``; for
    ``cifar10`` without ``data_dir`` also the shared data folder beside the repository,
    ``find_shared_data()``, whose subset holds 4,000 training and the 10,000 test images);
    missing ones are downloaded unless ``download`` is False or ``$NERVE_OFFLINE`` is set.
    For ``mnist``, when neither works, the embedded subset stands in and ``fallback_reason``
    says why. Corrupt files are an error, never silently replaced. With ``augment``, the
    training split of a dataset in ``AUGMENTATIONS`` is augmented (cifar10: random 32x32
    crops of the image padded by 4, horizontal flips) and ``train_eval`` holds the same
    images without augmentation.
    """
    if name not in IMAGE_DATASETS:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(IMAGE_DATASETS)}")
    cls, mean, std = IMAGE_DATASETS[name]
    if cls is None:
        return _embedded(mean, std)
    root = Path(data_dir).expanduser() if data_dir is not None else data_home()
    t = _transform(mean, std)
    try:
        train, test = _load_splits(cls, root, t, name, data_dir)
    except MissingDataError as missing:
        where = (f"{getattr(cls, 'name', cls.__name__)} files are not in {root} (put the "
                 f"files in {root / getattr(cls, 'folder', name)}, or pass --data-dir)")
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
    data = ImageData(name, train, test, list(cls.classes), mean, std,
                     f"{train.files[0].parent}", input_shape=_input_shape(train.data))
    if train.files[0].name == _CIFAR_SUBSET:
        data.notes.append(f"note: CIFAR-10 subset from {data.source}: the first "
                          f"{len(train):,} training images (lossless) and the {len(test):,} "
                          f"test images as JPEG (quality 75); full CIFAR-10 is used when its "
                          f"files are in --data-dir or {data_home()}.")
    if augment and name in AUGMENTATIONS:
        data.train_eval, data.train = train, copy.copy(train)  # shares the image array
        data.train.transform = _transform(mean, std, AUGMENTATIONS[name]())
    return data


def _load_splits(cls, root, transform, name, data_dir):
    """(train, test) from ``root``; for cifar10 without ``data_dir``, from the shared data
    folder when ``root`` lacks the files."""
    shared = find_shared_data() if name == "cifar10" and data_dir is None else None
    for folder in (root, shared):
        try:
            return (cls(folder, train=True, transform=transform),
                    cls(folder, train=False, transform=transform))
        except MissingDataError:
            if folder is root and shared is not None:
                continue
            raise


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
