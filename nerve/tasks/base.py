"""What ``nerve train``/``evaluate``/``sample`` do for one family of models.

Each registered model names its task in ``train_defaults["task"]`` (``"classify"`` when
absent). A task knows its datasets and how to load them, how a model of the family trains
(usually ``nerve.train.fit`` with a loss; a GAN brings its own ``train_step``), how it is
tested, which plots it draws and, for generative models, how it samples. The command line
(nerve/cli_train.py) only sequences these steps, so a new family plugs in by subclassing
``Task`` and registering it with ``@register_task``.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Run", "Task", "TaskData", "register_task", "get_task", "TASKS"]

TASKS: dict = {}


def register_task(cls):
    """Class decorator: make a ``Task`` subclass available by its ``name``."""
    if not cls.name or cls.name in TASKS and TASKS[cls.name] is not cls:
        raise ValueError(f"register_task: the name {cls.name!r} is empty or taken")
    TASKS[cls.name] = cls
    return cls


def get_task(name: str) -> "Task":
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}")
    return TASKS[name]()


@dataclass
class Run:
    """One command-line run: the parsed ``args``, the resolved ``settings`` (the model's
    ``train_defaults`` overridden by the command line: dataset, epochs, batch_size, lr,
    optimizer, momentum, weight_decay, schedule, and any model-specific keys), the device and
    the output folder."""

    args: argparse.Namespace
    settings: dict
    device: object
    out: Path
    seed: int = 0

    @property
    def quiet(self) -> bool:
        return bool(getattr(self.args, "quiet", False))

    def say(self, *lines) -> None:
        if not self.quiet:
            print(*lines, sep="\n", flush=True)

    def optimizer(self, params, **overrides):
        """The optimizer the settings name (``--optimizer``, ``--lr``, ...)."""
        from ..train.recipes import make_optimizer

        s = {**self.settings, **overrides}
        return make_optimizer(s["optimizer"], params, s["lr"], s["momentum"], s["weight_decay"])

    def scheduler(self, optimizer, steps_per_epoch: int):
        """``(scheduler or None, interval)`` for ``--schedule``."""
        from ..train.recipes import make_scheduler

        return make_scheduler(self.settings["schedule"], optimizer, self.settings["epochs"],
                              steps_per_epoch)

    def split(self, train, val=None, hold_out: bool = True):
        """``(train, val)``: unless ``val`` is given (or ``hold_out`` is False), ``--val-split``
        of ``train`` held out (seeded); then ``--limit-train`` applied to the training part."""
        from ..data import Subset, random_split

        frac = (getattr(self.args, "val_split", 0.0) or 0.0) if hold_out else 0.0
        if val is None and frac > 0:
            k = max(1, int(round(len(train) * frac)))
            train, val = random_split(train, [len(train) - k, k], seed=self.seed)
        limit = getattr(self.args, "limit_train", None)
        if limit is not None and limit < len(train):
            train = Subset(train, range(limit))
        return train, val

    def loader(self, dataset, shuffle: bool = True, batch_size: int | None = None, **kwargs):
        from ..data import DataLoader

        return DataLoader(dataset, batch_size=batch_size or self.settings["batch_size"],
                          shuffle=shuffle, seed=self.seed, **kwargs)


@dataclass
class TaskData:
    """The data of one run. ``meta`` is what a checkpoint must keep to use the model later
    (class names, vocabulary, normalization, input shape); ``config`` holds model config
    entries that follow from the data (``num_classes``, ``vocab_size``, ``in_channels``, ...;
    only the keys a model declares are passed to it)."""

    name: str
    train: object
    val: object
    test: object
    source: str = ""
    meta: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # anything else the task wants to carry


class Task:
    """Base class. Override ``load`` and ``test``; the defaults train with ``fit`` on
    ``loss()`` and ``metrics``, monitor ``val_loss`` and draw the learning curves."""

    name = ""
    datasets: tuple = ()  # --dataset choices; the model's train_defaults pick the default
    metrics: tuple = ()
    monitor = "val_loss"  # picks best.nrv (falls back to "loss" without validation data)
    # False: the task judges its model without held-out data (a GAN's score is computed on
    # generated samples), so --val-split holds nothing out of the training set
    validates = True
    unit = "samples"  # what a dataset's items are, for messages

    # ---- data -----------------------------------------------------------------------------
    def load(self, run: Run, meta: dict | None = None) -> TaskData:
        """The train/val/test data. ``meta`` is a checkpoint's meta when one is evaluated
        or resumed (reuse its vocabulary etc. so the model's inputs mean the same)."""
        raise NotImplementedError

    # ---- training -------------------------------------------------------------------------
    def loss(self, run: Run, data: TaskData):
        """The loss ``(output, target) -> scalar`` for the default ``train``."""
        from .. import nn

        return nn.CrossEntropyLoss()

    def train_step(self, run: Run, data: TaskData):
        """None, or a ``(trainer, batch) -> logs`` step replacing fit's default."""
        return None

    def collate(self, run: Run, data: TaskData):
        """None (the loader's default) or the ``collate_fn`` of the training loader."""
        return None

    def train(self, run: Run, model, data: TaskData, callbacks, meta: dict):
        """Train ``model`` and return its ``History``."""
        from ..train import fit

        collate = self.collate(run, data)
        kwargs = {} if collate is None else {"collate_fn": collate}
        loader = run.loader(data.train, shuffle=True, **kwargs)
        val = None if data.val is None else run.loader(data.val, shuffle=False, **kwargs)
        opt = run.optimizer(model.parameters())
        sched, interval = run.scheduler(opt, len(loader))
        return fit(model, loader, self.loss(run, data), opt, run.settings["epochs"],
                   val_data=val, scheduler=sched, scheduler_interval=interval,
                   metrics=self.metrics, callbacks=callbacks, device=run.device,
                   progress=not run.quiet, resume=getattr(run.args, "resume", None),
                   meta=meta, clip_grad_norm=run.settings.get("clip_grad_norm"),
                   train_step=self.train_step(run, data))

    # ---- results --------------------------------------------------------------------------
    def test(self, run: Run, model, data: TaskData) -> dict:
        """The test-split results as a JSON-able dict (written to metrics.json["test"])."""
        raise NotImplementedError

    def summary(self, results: dict) -> str:
        """One line for the end of ``nerve train``/``nerve evaluate``."""
        return ", ".join(f"{k} {v:.4f}" for k, v in results.items()
                         if isinstance(v, (int, float)))

    def details(self, results: dict) -> list[str]:
        """More lines for ``nerve evaluate`` (e.g. per-class precision and recall)."""
        return []

    def plots(self, run: Run, model, data: TaskData, history, results: dict) -> list[str]:
        """Draw the task's figures into ``run.out``; returns the file names written."""
        from ..train import plots

        plots.plot_history(history, run.out / "curves.png")
        return ["curves.png"]

    # ---- generative models ----------------------------------------------------------------
    def add_sample_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Extra ``nerve sample`` options (all tasks' options are registered)."""

    def sample(self, model, meta: dict, args) -> int:
        raise ValueError(f"nerve sample: {meta.get('model', 'this')} model is not generative "
                         f"(its task is {self.name!r}); use nerve evaluate or nerve predict")


class ImageTask(Task):
    """A task on the image datasets of ``nerve.train.recipes`` (MNIST, Fashion-MNIST, CIFAR-10,
    the embedded MNIST subset)."""

    unit = "images"

    @property
    def datasets(self):
        from ..train.recipes import IMAGE_DATASETS

        return tuple(IMAGE_DATASETS)
