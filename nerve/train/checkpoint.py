"""Training checkpoints: everything a run needs to continue, in one file.

A checkpoint is a dict written with ``nerve.save`` (atomically: a crash mid-save leaves the
previous file intact)::

    {"format": "nerve.checkpoint", "version": 1,
     "epoch": 3,                      # epochs completed
     "model": model.state_dict(), "optimizer": ..., "scheduler": ... or None,
     "rng": nerve.backend.random.get_rng_state(),
     "loader": train_loader.state_dict(),      # its seed and epoch: the next epoch's order
     "history": {...}, "callbacks": {...},     # for logs and early stopping to carry on
     "meta": {...}}                   # free-form: model name and config, dataset, classes

``resume`` puts all of it back, so that continuing a run gives the very weights an
uninterrupted run would have reached (bit for bit on the CPU; on a GPU the dropout masks come
from CuPy's generator, whose state is not saved).

>>> import nerve, nerve.nn as nn, tempfile, os
>>> model = nn.Linear(2, 1)
>>> path = os.path.join(tempfile.mkdtemp(), "ckpt.nrv")
>>> save_checkpoint(path, model, epoch=1, meta={"model": "linear"})
>>> load_checkpoint(path)["meta"]
{'model': 'linear'}
"""
from __future__ import annotations

from pathlib import Path

from ..backend import random as backend_random
from ..io import CheckpointError, load, save

__all__ = ["save_checkpoint", "load_checkpoint", "checkpoint_state", "restore", "resume",
           "CheckpointError", "FORMAT"]

FORMAT, VERSION = "nerve.checkpoint", 1


def _serializable(value):
    """Drop what a file cannot hold (functions in LambdaLR's state: the code that makes the
    scheduler again supplies them)."""
    if callable(value):
        return None
    if isinstance(value, dict):
        return {k: _serializable(v) for k, v in value.items() if not callable(v)
                and not (isinstance(v, (list, tuple)) and any(callable(x) for x in v))}
    if isinstance(value, (list, tuple)):
        return type(value)(_serializable(v) for v in value)
    return value


def _callback_key(callbacks):
    """Stable names for callbacks: the class name, numbered when a class appears twice."""
    seen: dict = {}
    for cb in callbacks:
        name = type(cb).__name__
        seen[name] = seen.get(name, 0) + 1
        yield (name if seen[name] == 1 else f"{name}#{seen[name]}"), cb


def checkpoint_state(model, optimizer=None, scheduler=None, epoch: int = 0, loader=None,
                     history=None, callbacks=(), meta: dict | None = None) -> dict:
    """The checkpoint dict (see the module docstring) for these objects."""
    return {
        "format": FORMAT, "version": VERSION, "epoch": int(epoch),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": _serializable(scheduler.state_dict()) if scheduler is not None else None,
        "rng": backend_random.get_rng_state(),
        "loader": loader.state_dict() if hasattr(loader, "state_dict") else None,
        "history": history.state_dict() if history is not None else None,
        "callbacks": {key: cb.state_dict() for key, cb in _callback_key(callbacks)
                      if cb.state_dict()},
        "meta": dict(meta or {}),
    }


def save_checkpoint(path, model, optimizer=None, scheduler=None, *, epoch: int = 0,
                    loader=None, history=None, callbacks=(), meta: dict | None = None) -> None:
    """Write a checkpoint to ``path`` atomically (see ``checkpoint_state``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save(checkpoint_state(model, optimizer, scheduler, epoch, loader, history, callbacks, meta),
         path)


def load_checkpoint(path, map_location=None) -> dict:
    """Read a checkpoint written by ``save_checkpoint``, with clear errors for a missing,
    corrupt or foreign file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"load_checkpoint: no checkpoint at {path}")
    if path.is_dir():
        raise IsADirectoryError(f"load_checkpoint: {path} is a folder; pass a checkpoint file "
                                f"(e.g. {path / 'best.nrv'})")
    state = load(path, map_location=map_location)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        what = "a state dict or another object" if isinstance(state, dict) else \
            type(state).__name__
        raise CheckpointError(f"load_checkpoint: {path} is a nerve file but not a training "
                              f"checkpoint (it holds {what}); checkpoints are written by "
                              f"save_checkpoint, ModelCheckpoint and `nerve train`")
    if state.get("version", 0) > VERSION:
        raise CheckpointError(f"load_checkpoint: {path} has checkpoint version "
                              f"{state['version']}, newer than this nerve understands "
                              f"({VERSION}); upgrade nerve")
    return state


def restore(state: dict, model=None, optimizer=None, scheduler=None, loader=None, history=None,
            callbacks=(), rng: bool = True) -> int:
    """Load a checkpoint dict into the given objects; returns the number of epochs done."""
    if model is not None:
        model.load_state_dict(state["model"])
    if optimizer is not None:
        if state.get("optimizer") is None:
            raise CheckpointError("restore: the checkpoint holds no optimizer state")
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    if loader is not None and state.get("loader") is not None and hasattr(loader,
                                                                           "load_state_dict"):
        loader.load_state_dict(state["loader"])
    if history is not None and state.get("history") is not None:
        history.load_state_dict(state["history"])
    saved = state.get("callbacks") or {}
    for key, cb in _callback_key(callbacks):
        if key in saved:
            cb.load_state_dict(saved[key])
    if rng and state.get("rng") is not None:
        backend_random.set_rng_state(state["rng"])
    return int(state["epoch"])


def resume(path, model, optimizer=None, scheduler=None, loader=None, history=None,
           callbacks=(), map_location=None) -> dict:
    """``restore`` from the file at ``path``; returns the checkpoint (its ``epoch`` is where
    training continues)."""
    state = load_checkpoint(path, map_location)
    restore(state, model, optimizer, scheduler, loader, history, callbacks)
    return state
