"""Callbacks: code that runs at fixed points of ``fit`` (the Keras hook API).

A callback overrides any of ``on_train_begin/end``, ``on_epoch_begin/end``,
``on_batch_begin/end``; each gets ``logs``, a dict of the current numbers (``loss``,
``accuracy``, ``val_loss``, ... at epoch end; the running ``loss`` and the batch ``size`` at
batch end). ``self.trainer`` is the running ``Trainer`` (its ``model``, ``optimizer``,
``history``; set ``trainer.stop_training = True`` to stop after this epoch). Callbacks run in
the order given, stably sorted by their ``order`` (schedulers first, then the rest).
``state_dict``/``load_state_dict`` let a checkpoint carry a callback's state across a resume.

>>> seen = []
>>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
"""
from __future__ import annotations

import copy
import csv
import json
import math
import os
import uuid
from pathlib import Path

from ..optim.lr_scheduler import ReduceLROnPlateau

__all__ = ["Callback", "CallbackList", "LambdaCallback", "EarlyStopping", "ModelCheckpoint",
           "LRSchedulerCallback", "CSVLogger", "JSONLogger", "missing_key_error", "Monitor"]


class Callback:
    """Base class: every hook does nothing."""

    order = 0
    trainer = None

    def set_trainer(self, trainer) -> None:
        self.trainer = trainer

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch: int, logs=None):
        pass

    def on_epoch_end(self, epoch: int, logs=None):
        pass

    def on_batch_begin(self, batch: int, logs=None):
        pass

    def on_batch_end(self, batch: int, logs=None):
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class CallbackList:
    """Dispatches every hook to each callback, in ``order``."""

    def __init__(self, callbacks=(), trainer=None):
        callbacks = list(callbacks)
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be nerve.train.Callback instances, got "
                                f"{type(cb).__name__}")
        self.callbacks = sorted(callbacks, key=lambda cb: cb.order)
        if trainer is not None:
            for cb in self.callbacks:
                cb.set_trainer(trainer)

    def __iter__(self):
        return iter(self.callbacks)

    def call(self, hook: str, *args) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(*args)


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``
    (``on_train_begin``/``on_train_end`` take ``logs`` only)."""

    def __init__(self, **hooks):
        for name, fn in hooks.items():
            if not name.startswith("on_") or not hasattr(Callback, name):
                raise ValueError(f"LambdaCallback: unknown hook {name!r}")
            setattr(self, name, fn)


def missing_key_error(who: str, key: str, logs) -> KeyError:
    available = ", ".join(sorted(logs or {})) or "none"
    hint = " (it needs val_data)" if key.startswith("val_") else ""
    return KeyError(f"{who}: monitored value {key!r} is not in the logs{hint}; available: "
                    f"{available}")


class Monitor:
    """Tracks the best value of one logged quantity (``mode`` min/max, ``auto`` guesses from the
    name: accuracies (and precision, recall, F1, IoU) are maximized, the rest minimized)."""

    def __init__(self, who: str, monitor: str, mode: str = "auto", min_delta: float = 0.0):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{who}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":
            higher = any(w in monitor for w in ("acc", "precision", "recall", "f1"))
            mode = "max" if higher or monitor.split("_")[-1] in ("iou", "miou") else "min"
        self.who, self.monitor, self.mode = who, monitor, mode
        self.min_delta = abs(float(min_delta))
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch = None

    def value(self, logs) -> float:
        if not logs or self.monitor not in logs:
            raise missing_key_error(self.who, self.monitor, logs)
        return float(logs[self.monitor])

    def improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def update(self, epoch: int, logs) -> bool:
        """Record this epoch's value; True when it is a new best."""
        value = self.value(logs)
        if self.improved(value):
            self.best, self.best_epoch = value, epoch
            return True
        return False

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch = float(state["best"]), state["best_epoch"]


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs. With ``restore_best``, the model gets the best epoch's weights back when training
    ends."""

    def __init__(self, monitor: str = "val_loss", patience: int = 5, mode: str = "auto",
                 min_delta: float = 0.0, restore_best: bool = False):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an integer >= 0, got {patience!r}")
        self.tracker = Monitor("EarlyStopping", monitor, mode, min_delta)
        self.monitor, self.patience, self.restore_best = monitor, patience, restore_best
        self.wait = 0
        self.stopped_epoch = None
        self.best_state = None

    def on_epoch_end(self, epoch, logs=None):
        if self.tracker.update(epoch, logs):
            self.wait = 0
            if self.restore_best:
                self.best_state = _copy_state(self.trainer.model.state_dict())
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best and self.best_state is not None:
            self.trainer.model.load_state_dict(self.best_state)

    @property
    def best(self) -> float:
        return self.tracker.best

    def state_dict(self) -> dict:
        state = {"tracker": self.tracker.state_dict(), "wait": self.wait,
                 "stopped_epoch": self.stopped_epoch}
        if self.best_state is not None:
            state["best_state"] = self.best_state
        return state

    def load_state_dict(self, state):
        self.tracker.load_state_dict(state["tracker"])
        self.wait, self.stopped_epoch = state["wait"], state["stopped_epoch"]
        self.best_state = state.get("best_state")


def _copy_state(state: dict) -> dict:
    return {k: v.detach().clone() if hasattr(v, "clone") else copy.deepcopy(v)
            for k, v in state.items()}


class ModelCheckpoint(Callback):
    """Save full checkpoints (model, optimizer, scheduler, epoch, random state; see
    ``nerve.train.checkpoint``) into ``dirpath``: ``last.nrv`` after every epoch and
    ``best.nrv`` whenever ``monitor`` improves. ``meta`` (a dict, e.g. the model's name and
    config) is stored in each file. ``every`` saves ``last`` only every that many epochs."""

    def __init__(self, dirpath, monitor: str = "val_loss", mode: str = "auto",
                 save_best: bool = True, save_last: bool = True, best_name: str = "best.nrv",
                 last_name: str = "last.nrv", meta: dict | None = None, every: int = 1):
        self.dirpath = Path(dirpath)
        self.tracker = Monitor("ModelCheckpoint", monitor, mode)
        self.monitor = monitor
        self.save_best, self.save_last, self.every = save_best, save_last, int(every)
        self.best_path = self.dirpath / best_name
        self.last_path = self.dirpath / last_name
        self.meta = dict(meta or {})

    def on_epoch_end(self, epoch, logs=None):
        improved = self.save_best and self.tracker.update(epoch, logs)
        self.dirpath.mkdir(parents=True, exist_ok=True)
        # the tracker is updated first, so each file holds the state a resume should see
        if self.save_last and ((epoch + 1) % self.every == 0 or self.trainer.stop_training
                               or epoch + 1 == self.trainer.epochs):
            self.trainer.save_checkpoint(self.last_path, meta=self.meta)
        if improved:
            self.trainer.save_checkpoint(self.best_path, meta={
                **self.meta, "best": {"monitor": self.monitor, "value": self.tracker.best,
                                      "epoch": epoch + 1}})

    @property
    def best(self) -> float:
        return self.tracker.best

    def state_dict(self) -> dict:
        return {"tracker": self.tracker.state_dict()}

    def load_state_dict(self, state):
        self.tracker.load_state_dict(state["tracker"])


class LRSchedulerCallback(Callback):
    """Step a learning-rate scheduler after every batch (``interval="step"``) or every epoch.
    ``ReduceLROnPlateau`` is stepped with the epoch's ``monitor`` value. Runs before other
    callbacks (``order = -10``), so checkpoints see the stepped schedule."""

    order = -10

    def __init__(self, scheduler, interval: str = "epoch", monitor: str = "val_loss"):
        if interval not in ("epoch", "step"):
            raise ValueError(f"LRSchedulerCallback: interval must be 'epoch' or 'step', got "
                             f"{interval!r}")
        plateau = isinstance(scheduler, ReduceLROnPlateau)
        if plateau and interval != "epoch":
            raise ValueError("LRSchedulerCallback: ReduceLROnPlateau steps once per epoch "
                             "(interval='epoch'), on a validation value")
        self.scheduler, self.interval, self.monitor = scheduler, interval, monitor
        self.plateau = plateau

    def on_batch_end(self, batch, logs=None):
        if self.interval == "step":
            self.scheduler.step()

    def on_epoch_end(self, epoch, logs=None):
        if self.interval != "epoch":
            return
        if self.plateau:
            if not logs or self.monitor not in logs:
                raise missing_key_error("ReduceLROnPlateau", self.monitor, logs)
            self.scheduler.step(float(logs[self.monitor]))
        else:
            self.scheduler.step()


def _replace_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _cell(value):
    if isinstance(value, float):
        return repr(value)
    return "" if value is None else value


class CSVLogger(Callback):
    """Append one row per epoch to ``filename`` (``epoch`` and the epoch's logs). With
    ``append`` (as on a resume) an existing file is continued, else it is replaced."""

    def __init__(self, filename, separator: str = ",", append: bool = False):
        self.filename = Path(filename)
        self.separator, self.append = separator, append
        self.keys = None

    def on_train_begin(self, logs=None):
        resumed = self.trainer is not None and self.trainer.start_epoch > 0
        if (self.append or resumed) and self.filename.is_file():
            with open(self.filename, newline="", encoding="utf-8") as f:
                header = next(csv.reader(f, delimiter=self.separator), None)
            self.keys = header[1:] if header else None
            if resumed:  # drop rows past the checkpoint, so a resumed run does not repeat them
                self._truncate(self.trainer.start_epoch)
        else:
            self.filename.parent.mkdir(parents=True, exist_ok=True)
            self.filename.write_text("", encoding="utf-8")
            self.keys = None

    def _truncate(self, epochs: int) -> None:
        with open(self.filename, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f, delimiter=self.separator))
        kept = rows[:1] + [r for r in rows[1:] if r and int(r[0]) <= epochs]
        with open(self.filename, "w", newline="", encoding="utf-8") as f:
            csv.writer(f, delimiter=self.separator).writerows(kept)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        with open(self.filename, "a", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, delimiter=self.separator)
            if self.keys is None:
                self.keys = list(logs)
                writer.writerow(["epoch"] + self.keys)
            writer.writerow([epoch + 1] + [_cell(logs.get(k)) for k in self.keys])


class JSONLogger(Callback):
    """Keep ``filename`` (e.g. ``metrics.json``) holding the whole history so far, rewritten
    atomically after every epoch: ``{"history": [{"epoch": 1, "loss": ...}, ...], "best":
    {...}}`` plus whatever is in ``extra`` (the command line adds the test results)."""

    def __init__(self, filename, monitor: str | None = None, mode: str = "auto"):
        self.filename = Path(filename)
        self.monitor, self.mode = monitor, mode
        self.extra: dict = {}

    def on_epoch_end(self, epoch, logs=None):
        self.write()

    def on_train_end(self, logs=None):
        self.write()

    def content(self) -> dict:
        history = self.trainer.history if self.trainer is not None else None
        rows = history.rows() if history is not None else []
        out = {"history": rows}
        if rows and self.monitor and self.monitor in rows[-1]:
            tracker = Monitor("JSONLogger", self.monitor, self.mode)
            for row in rows:
                tracker.update(row["epoch"], row)
            best = next(r for r in rows if r["epoch"] == tracker.best_epoch) \
                if tracker.best_epoch is not None else None
            out["best"] = {"monitor": self.monitor, **(best or {})}
        out.update(self.extra)
        return out

    def write(self) -> None:
        self.filename.parent.mkdir(parents=True, exist_ok=True)
        _replace_atomically(self.filename, json.dumps(_jsonable(self.content()), indent=2)
                            + "\n")


def _jsonable(x):
    """Strict JSON: nan/inf become null; numpy scalars become Python numbers."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "item") and not hasattr(x, "__len__"):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
