"""The training loop: ``fit``, ``evaluate``, ``predict`` and the ``Trainer`` behind them.

>>> import nerve, nerve.nn as nn, nerve.optim as optim
>>> from nerve.data.datasets import xor
>>> nerve.manual_seed(0)
>>> model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
>>> history = fit(model, xor(as_dataset=True), nn.CrossEntropyLoss(),
...               optim.Adam(model.parameters(), lr=0.05), epochs=200, batch_size=4,
...               progress=False)
>>> history["accuracy"][-1]
1.0
"""
from __future__ import annotations

import time

from .. import nn
from ..autograd import grad_mode
from ..autograd.tensor import Tensor
from ..backend import device as as_device
from ..backend import get_array_module
from ..data import DataLoader, TensorDataset
from ..data.dataset import Dataset, IterableDataset
from ..optim.clip import clip_grad_norm_
from ..optim.lr_scheduler import ReduceLROnPlateau
from .callbacks import CallbackList, LRSchedulerCallback
from .checkpoint import load_checkpoint, restore, save_checkpoint
from .metrics import MeanLoss, get_metric
from .progress import ProgressBar, iterate

__all__ = ["fit", "evaluate", "predict", "Trainer", "History", "as_loader"]

_LOSSES = {"cross_entropy": nn.CrossEntropyLoss, "nll": nn.NLLLoss, "mse": nn.MSELoss,
           "l1": nn.L1Loss, "bce": nn.BCELoss, "bce_with_logits": nn.BCEWithLogitsLoss}


def _loss_fn(loss):
    if isinstance(loss, str):
        if loss not in _LOSSES:
            raise ValueError(f"unknown loss {loss!r}; expected one of {sorted(_LOSSES)} or a "
                             f"callable (output, target) -> scalar Tensor")
        return _LOSSES[loss]()
    if loss is not None and not callable(loss):
        raise TypeError(f"loss must be a callable (output, target) -> scalar Tensor or a name, "
                        f"got {type(loss).__name__}")
    return loss


class History:
    """What ``fit`` returns: ``history["loss"]`` (one value per epoch), ``history.epoch``
    (0-based epoch numbers, as Keras), ``history.rows()`` (one dict per epoch)."""

    def __init__(self):
        self.epoch: list = []
        self.history: dict = {}

    def append(self, epoch: int, logs: dict) -> None:
        n = len(self.epoch)
        self.epoch.append(int(epoch))
        for key, value in logs.items():
            self.history.setdefault(key, [None] * n).append(value)
        for values in self.history.values():
            if len(values) < n + 1:
                values.append(None)

    def __getitem__(self, key: str) -> list:
        if key not in self.history:
            raise KeyError(f"History: no {key!r}; recorded: {', '.join(self.history) or 'none'}")
        return self.history[key]

    def __contains__(self, key) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epoch)

    def keys(self):
        return self.history.keys()

    def rows(self) -> list[dict]:
        return [{"epoch": e + 1, **{k: v[i] for k, v in self.history.items()}}
                for i, e in enumerate(self.epoch)]

    def state_dict(self) -> dict:
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in
                                                        self.history.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = [int(e) for e in state["epoch"]]
        self.history = {k: list(v) for k, v in state["history"].items()}

    def __repr__(self) -> str:
        return f"History({len(self)} epochs: {', '.join(self.history)})"


def as_loader(data, batch_size: int = 32, shuffle: bool = False, seed: int | None = None,
              who: str = "fit"):
    """A ``DataLoader`` for ``data``: a loader (used as it is), a dataset, an ``(X, y)`` pair
    of arrays/tensors, or a single array/tensor of inputs."""
    if isinstance(data, DataLoader):
        return data
    if isinstance(data, (Dataset, IterableDataset)) or (
            hasattr(data, "__getitem__") and hasattr(data, "__len__")
            and not isinstance(data, (tuple, list, str, bytes, dict)) and not hasattr(data,
                                                                                       "shape")):
        dataset = data
    elif isinstance(data, (tuple, list)) and data and all(hasattr(a, "shape") for a in data):
        dataset = TensorDataset(*data)
    elif hasattr(data, "shape"):
        dataset = TensorDataset(data)
    else:
        raise TypeError(f"{who}: expected a DataLoader, a Dataset, an (inputs, targets) pair of "
                        f"arrays or an array of inputs, got {type(data).__name__}")
    if isinstance(dataset, IterableDataset):
        shuffle = False
    # a fixed seed for unshuffled loaders, so making one does not draw from nerve's generator
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle,
                      seed=seed if seed is not None or shuffle else 0)


def _samples_per_epoch(loader):
    try:
        n = len(loader.dataset)
    except TypeError:
        return None
    if loader.batch_size is None or loader.batch_sampler is None:
        return n
    if getattr(loader.batch_sampler, "drop_last", False):
        return n - n % loader.batch_size
    return n


def _model_device(model):
    for p in model.parameters():
        return p.device
    return None


def _move(x, dev):
    if dev is None:
        return x
    if isinstance(x, Tensor):
        return x if x.device == dev else x.to(dev)
    if isinstance(x, (tuple, list)):
        return type(x)(_move(v, dev) for v in x)
    if isinstance(x, dict):
        return {k: _move(v, dev) for k, v in x.items()}
    return x


def _split(batch, who: str):
    """(inputs tuple, target) from a batch: ``(x, y)``, ``(x1, ..., xk, y)`` or a dict with
    ``"input"``/``"target"``."""
    if isinstance(batch, dict):
        if "input" not in batch or "target" not in batch:
            raise ValueError(f"{who}: a dict batch needs 'input' and 'target' keys, got "
                             f"{sorted(batch)}")
        return (batch["input"],), batch["target"]
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return tuple(batch[:-1]), batch[-1]
    got = type(batch).__name__
    if isinstance(batch, (tuple, list)):
        got += f" of length {len(batch)}"
    raise ValueError(f"{who}: expected batches of (inputs, targets), got {got}")


def _inputs_only(batch):
    if isinstance(batch, dict):
        return (batch["input"],)
    if isinstance(batch, (tuple, list)):
        return tuple(batch[:-1]) if len(batch) >= 2 else tuple(batch)
    return (batch,)


def _data(x):
    return x.data if isinstance(x, Tensor) else x


class Trainer:
    """Trains one model with one loss and optimizer; ``fit`` is a one-call wrapper around it.

    Besides ``fit``/``evaluate``/``predict``, a Trainer is what callbacks see as
    ``self.trainer``: ``model``, ``optimizer``, ``scheduler``, ``history``, ``epoch``,
    ``epochs``, ``train_loader``, ``stop_training``, and ``save_checkpoint(path)``.
    """

    def __init__(self, model, loss, optimizer=None, *, scheduler=None,
                 scheduler_interval: str = "epoch", scheduler_monitor: str = "val_loss",
                 metrics=("accuracy",), callbacks=(), clip_grad_norm: float | None = None,
                 device=None, progress=True, meta: dict | None = None, train_step=None):
        if not isinstance(model, nn.Module):
            raise TypeError(f"Trainer: model must be a nerve.nn.Module, got "
                            f"{type(model).__name__}")
        self.model = model
        self.loss_fn = _loss_fn(loss)
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.metric_specs = tuple(metrics or ())
        for m in self.metric_specs:
            get_metric(m)  # unknown names fail here, before training
        self.clip_grad_norm = clip_grad_norm
        self.device = as_device(device) if device is not None else None
        if self.device is not None:
            model.to(self.device)
        self.meta = dict(meta or {})
        if train_step is not None and not callable(train_step):
            raise TypeError(f"Trainer: train_step must be a callable (trainer, batch) -> dict, "
                            f"got {type(train_step).__name__}")
        self.train_step = train_step
        extra = []
        if scheduler is not None:
            extra.append(LRSchedulerCallback(scheduler, scheduler_interval, scheduler_monitor))
        if progress:
            extra.append(progress if isinstance(progress, ProgressBar) else ProgressBar())
        self.callbacks = CallbackList(list(callbacks) + extra, trainer=self)
        self.history = History()
        self.stop_training = False
        self.epoch = self.start_epoch = self.epochs = 0
        self.train_loader = self.samples_per_epoch = None

    # ---- checkpoints ------------------------------------------------------------------------
    def save_checkpoint(self, path, meta: dict | None = None) -> None:
        """Everything needed to resume after the current epoch, written atomically."""
        save_checkpoint(path, self.model, self.optimizer, self.scheduler, epoch=self.epoch + 1,
                        loader=self.train_loader, history=self.history,
                        callbacks=self.callbacks, meta={**self.meta, **(meta or {})})

    def _resume(self, path) -> int:
        state = load_checkpoint(path)
        return restore(state, self.model, self.optimizer, self.scheduler, self.train_loader,
                       self.history, self.callbacks)

    # ---- training ---------------------------------------------------------------------------
    def fit(self, train_data, epochs: int, val_data=None, batch_size: int = 32,
            shuffle: bool = True, seed: int | None = None, resume=None) -> History:
        """Train for ``epochs`` epochs in all (a resumed run continues up to the same total).

        ``train_data``/``val_data``: DataLoaders, datasets or ``(X, y)`` pairs (datasets and
        pairs are batched with ``batch_size``, training data shuffled with ``seed``).
        ``resume``: a checkpoint path to continue from.
        """
        if self.optimizer is None or (self.loss_fn is None and self.train_step is None):
            raise ValueError("Trainer.fit needs an optimizer and a loss (or a train_step)")
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"fit: epochs must be a non-negative integer, got {epochs!r}")
        self.train_loader = as_loader(train_data, batch_size, shuffle, seed, "fit")
        val_loader = None if val_data is None else as_loader(val_data, batch_size, False,
                                                             None, "fit (val_data)")
        self.samples_per_epoch = _samples_per_epoch(self.train_loader)
        self.epochs, self.stop_training = epochs, False
        self.start_epoch = self._resume(resume) if resume is not None else len(self.history)
        if self.start_epoch > epochs:
            raise ValueError(f"fit: the checkpoint has {self.start_epoch} epochs done, more "
                             f"than epochs={epochs}")
        self.callbacks.call("on_train_begin", {})
        for epoch in range(self.start_epoch, epochs):
            self.epoch = epoch
            logs, timing = self._train_epoch(epoch)
            if val_loader is not None:
                val = self.evaluate(val_loader)
                logs.update({f"val_{k}": v for k, v in val.items()})
            logs.update(timing)
            self.history.append(epoch, logs)
            self.callbacks.call("on_epoch_end", epoch, logs)
            if self.stop_training:
                break
        self.callbacks.call("on_train_end", {"history": self.history})
        return self.history

    def _train_epoch(self, epoch: int) -> dict:
        model, opt = self.model, self.optimizer
        lr = opt.param_groups[0].get("lr") if opt.param_groups else None
        self.callbacks.call("on_epoch_begin", epoch, {})
        model.train()
        mean_loss = MeanLoss()
        # a custom train_step logs its own numbers; the metrics need outputs it does not return
        metrics = [] if self.train_step else [get_metric(m) for m in self.metric_specs]
        dev = self.device or _model_device(model)
        start = time.perf_counter()
        seen = 0
        extras: dict = {}  # name -> MeanLoss, for the other numbers a train_step logs
        for step, batch in enumerate(self.train_loader):
            self.callbacks.call("on_batch_begin", step, {})
            if self.train_step is not None:
                seen += self._custom_step(step, _move(batch, dev), mean_loss, extras)
                continue
            inputs, target = _split(_move(batch, dev), "fit")
            output = model(*inputs)
            loss = self.loss_fn(output, target)
            opt.zero_grad()
            loss.backward()
            if self.clip_grad_norm is not None:
                clip_grad_norm_(model.parameters(), self.clip_grad_norm)
            opt.step()
            value = loss.item()
            out, tgt = _data(output), _data(target)
            mean_loss.update(None, tgt, value)
            for m in metrics:
                m.update(out, tgt, value)
            n = len(tgt)
            seen += n
            batch_logs = {"loss": mean_loss.compute(),
                          **{m.name: m.compute() for m in metrics}, "size": n}
            self.callbacks.call("on_batch_end", step, batch_logs)
        elapsed = time.perf_counter() - start
        logs = {"loss": mean_loss.compute(), **{m.name: m.compute() for m in metrics},
                **{k: m.compute() for k, m in extras.items()}}
        timing = {"lr": lr} if lr is not None else {}
        timing["time"] = elapsed
        timing["samples_per_s"] = seen / elapsed if elapsed > 0 else float("nan")
        return logs, timing

    def _custom_step(self, step: int, batch, mean_loss, extras: dict) -> int:
        """One step by ``train_step(trainer, batch)``: it does forward, backward and the update
        itself and returns its logs, ``loss`` (a float) and ``size`` (the batch's samples)
        among them; other numbers (e.g. a GAN's two losses) are averaged over the epoch too."""
        logs = dict(self.train_step(self, batch))
        if "loss" not in logs or "size" not in logs:
            raise ValueError(f"train_step must return a dict with 'loss' and 'size', got "
                             f"{sorted(logs)}")
        n = int(logs.pop("size"))
        for key, value in logs.items():  # sample-weighted means, as MeanLoss.update
            meter = mean_loss if key == "loss" else extras.setdefault(key, MeanLoss())
            meter.total += float(value) * n
            meter.count += n
        self.callbacks.call("on_batch_end", step, {
            "loss": mean_loss.compute(), **{k: m.compute() for k, m in extras.items()},
            "size": n})
        return n

    # ---- evaluation -------------------------------------------------------------------------
    def evaluate(self, data, batch_size: int = 256, progress: bool = False) -> dict:
        """Mean loss (when the Trainer has one) and metrics over ``data``, in eval mode."""
        return evaluate(self.model, data, self.loss_fn, self.metric_specs, batch_size,
                        self.device, progress)

    def predict(self, data, batch_size: int = 256) -> Tensor:
        return predict(self.model, data, batch_size, self.device)


def fit(model, train_data, loss, optimizer, epochs: int, val_data=None, scheduler=None,
        scheduler_interval: str = "epoch", metrics=("accuracy",), callbacks=(),
        clip_grad_norm: float | None = None, device=None, progress=True, batch_size: int = 32,
        shuffle: bool = True, seed: int | None = None, resume=None,
        meta: dict | None = None, train_step=None) -> History:
    """Train ``model`` on ``train_data`` and return its ``History``.

    Each epoch: ``model.train()``, then for each batch ``(x, y)``: forward, ``loss(output,
    y)``, backward, optional gradient clipping (``clip_grad_norm``: max global norm),
    ``optimizer.step()``; ``scheduler`` is stepped per ``scheduler_interval`` ("epoch" or
    "step"; ``ReduceLROnPlateau`` gets ``val_loss``). Then ``val_data`` is evaluated and the
    epoch's logs (``loss``, each metric, ``val_...``, ``lr``, ``time``) go to the history and
    the callbacks. ``device`` moves the model and every batch there. ``progress``: True shows
    a bar on a terminal and one line per epoch otherwise (see ``ProgressBar``). ``resume``: a
    checkpoint (from ``ModelCheckpoint`` or ``Trainer.save_checkpoint``) to continue from.
    ``train_step``: a callable ``(trainer, batch) -> logs`` that replaces the default step
    (for models trained otherwise, e.g. a GAN's two updates); see ``Trainer._custom_step``.
    """
    if isinstance(scheduler, ReduceLROnPlateau) and val_data is None:
        raise ValueError("fit: ReduceLROnPlateau is stepped on val_loss, so it needs val_data")
    trainer = Trainer(model, loss, optimizer, scheduler=scheduler,
                      scheduler_interval=scheduler_interval, metrics=metrics,
                      callbacks=callbacks, clip_grad_norm=clip_grad_norm, device=device,
                      progress=progress, meta=meta, train_step=train_step)
    return trainer.fit(train_data, epochs, val_data, batch_size, shuffle, seed, resume)


def evaluate(model, data, loss=None, metrics=("accuracy",), batch_size: int = 256,
             device=None, progress: bool = False) -> dict:
    """``{"loss": ..., "accuracy": ...}`` of ``model`` over ``data`` (a loader, dataset or
    ``(X, y)`` pair), in eval mode and without building graphs; the model's train/eval mode
    is restored afterwards. ``loss`` may be None (then only the metrics)."""
    loss_fn = _loss_fn(loss)
    loader = as_loader(data, batch_size, False, None, "evaluate")
    dev = as_device(device) if device is not None else _model_device(model)
    mean_loss = MeanLoss()
    found = [get_metric(m) for m in (metrics or ())]
    was_training = model.training
    model.eval()
    try:
        with grad_mode.no_grad():
            for batch in iterate(loader, len(loader) if hasattr(loader, "__len__") else None,
                                 "evaluate", progress):
                inputs, target = _split(_move(batch, dev), "evaluate")
                output = model(*inputs)
                value = loss_fn(output, target).item() if loss_fn is not None else None
                out, tgt = _data(output), _data(target)
                if loss_fn is not None:
                    mean_loss.update(None, tgt, value)
                for m in found:
                    m.update(out, tgt, value)
    finally:
        model.train(was_training)
    result = {"loss": mean_loss.compute()} if loss_fn is not None else {}
    result.update({m.name: m.compute() for m in found})
    return result


def predict(model, data, batch_size: int = 256, device=None) -> Tensor:
    """The model's outputs for every sample of ``data`` (inputs, or ``(inputs, targets)``
    batches whose targets are ignored), concatenated in order, in eval mode."""
    loader = as_loader(data, batch_size, False, None, "predict")
    dev = as_device(device) if device is not None else _model_device(model)
    outs = []
    was_training = model.training
    model.eval()
    try:
        with grad_mode.no_grad():
            for batch in loader:
                outs.append(_data(model(*_inputs_only(_move(batch, dev)))))
    finally:
        model.train(was_training)
    if not outs:
        raise ValueError("predict: the data is empty")
    return Tensor(get_array_module(outs[0]).concatenate(outs))
