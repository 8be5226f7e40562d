"""The model registry: ``@register_model(name)`` on a Module class, ``get_model(name,
**config)`` to build one, ``list_models()`` for the names.

A registered class declares ``default_config`` (its constructor arguments) and
``train_defaults`` (how ``nerve train NAME`` trains it: dataset, optimizer, lr, batch size,
epochs, schedule, ...). ``nerve train`` finds models only through this registry, so a new
model file that registers itself (and is imported in ``nerve/models/__init__.py``) is
trainable from the command line at once.

>>> import nerve.models as models
>>> "mlp" in models.list_models()
True
>>> models.get_model("mlp", hidden=(32,)).config["hidden"]
(32,)
"""
from __future__ import annotations

import copy

__all__ = ["register_model", "get_model", "list_models", "model_spec", "from_checkpoint",
           "UnknownModelError"]

_REGISTRY: dict = {}


class UnknownModelError(KeyError):
    def __str__(self):  # KeyError would quote the message
        return self.args[0]


def register_model(name: str):
    """Class decorator: make the class buildable as ``get_model(name, **config)``."""
    if not isinstance(name, str) or not name or name != name.strip():
        raise ValueError(f"register_model: expected a non-empty name, got {name!r}")

    def decorate(cls):
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"register_model: the name {name!r} is taken by "
                             f"{_REGISTRY[name].__module__}.{_REGISTRY[name].__qualname__}")
        cls.model_name = name
        cls.default_config = dict(getattr(cls, "default_config", {}))
        cls.train_defaults = dict(getattr(cls, "train_defaults", {}))
        _REGISTRY[name] = cls
        return cls

    return decorate


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def model_spec(name: str):
    """The registered class for ``name`` (its ``default_config``, ``train_defaults``,
    docstring), or an error listing the available names."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise UnknownModelError(f"unknown model {name!r}; available models: "
                                f"{', '.join(list_models()) or 'none'}") from None


def get_model(name: str, **config):
    """Build the model registered as ``name``; ``config`` overrides its ``default_config``.
    The model remembers its name and full config (``model.config``), which checkpoints store
    so the model can be rebuilt."""
    cls = model_spec(name)
    unknown = sorted(set(config) - set(cls.default_config))
    if unknown:
        raise TypeError(f"get_model({name!r}): unknown config key(s) {', '.join(unknown)}; "
                        f"{name} takes {', '.join(sorted(cls.default_config)) or 'none'}")
    full = {**copy.deepcopy(cls.default_config), **config}
    model = cls(**full)
    model.config = full
    return model


def from_checkpoint(path, map_location=None):
    """``(model, checkpoint)``: the model a ``nerve train`` checkpoint was made from, rebuilt
    from the name and config stored in it, with its trained weights."""
    from ..train.checkpoint import CheckpointError, load_checkpoint

    state = load_checkpoint(path, map_location)
    meta = state.get("meta") or {}
    if "model" not in meta:
        raise CheckpointError(f"{path}: the checkpoint does not say which model it holds (no "
                              f"'model' in its meta); rebuild the model yourself and use "
                              f"model.load_state_dict(load_checkpoint(path)['model'])")
    model = get_model(meta["model"], **dict(meta.get("config") or {}))
    try:
        model.load_state_dict(state["model"])
    except (KeyError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: its weights do not fit the model {meta['model']!r} "
                              f"with config {meta.get('config')}: {exc}") from exc
    return model, state
