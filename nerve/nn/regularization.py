"""Explicit weight penalties and optimizer parameter groups for weight decay.

``l1_penalty`` and ``l2_penalty`` return a scalar Tensor to add to the loss. ``l2_penalty`` is
the plain sum of squares, **without** a 1/2 factor: its gradient is ``2 * weight * p``, so
SGD's ``weight_decay=wd`` (which adds ``wd * p`` to the gradient) equals adding
``l2_penalty(model, weight=wd / 2)`` to the loss.

``param_groups_for_weight_decay`` splits a model's parameters into a decayed group and an
undecayed one (biases, normalization layers' scales and shifts, optionally embeddings), the
usual recipe for AdamW and friends.
"""
from __future__ import annotations

import re

from ..autograd.tensor import Tensor
from ..ops import creation
from .module import Module

__all__ = ["l1_penalty", "l2_penalty", "param_groups_for_weight_decay"]


def _tensors(module_or_params, what: str) -> list:
    if isinstance(module_or_params, Module):
        return list(module_or_params.parameters())
    if isinstance(module_or_params, Tensor):
        return [module_or_params]
    params = []
    for p in module_or_params:
        if isinstance(p, dict):  # an optimizer param group
            params.extend(p["params"])
        elif isinstance(p, Tensor):
            params.append(p)
        else:
            raise TypeError(f"{what}: expected a Module, Tensors or param groups, got an item "
                            f"of type {type(p).__name__}")
    return params


def _penalty(module_or_params, weight, what, term) -> Tensor:
    params = _tensors(module_or_params, what)
    if not params:
        return creation.zeros(())
    total = None
    for p in params:
        s = term(p).sum()
        total = s if total is None else total + s
    return total * weight


def l1_penalty(module_or_params, weight: float = 1.0) -> Tensor:
    """``weight * sum(|p|)`` over all parameters (of a Module, a Tensor, an iterable of
    Tensors, or optimizer param groups): add it to the loss for L1 regularization (lasso).

    >>> import nerve
    >>> l1_penalty(nerve.tensor([1.0, -2.0]), weight=0.5).item()
    1.5
    """
    return _penalty(module_or_params, weight, "l1_penalty", lambda p: p.abs())


def l2_penalty(module_or_params, weight: float = 1.0) -> Tensor:
    """``weight * sum(p ** 2)`` over all parameters — the plain sum of squares, no 1/2 factor
    (gradient ``2 * weight * p``; ``weight = wd / 2`` matches SGD's ``weight_decay=wd``).

    >>> import nerve
    >>> l2_penalty(nerve.tensor([1.0, -2.0]), weight=0.5).item()
    2.5
    """
    return _penalty(module_or_params, weight, "l2_penalty", lambda p: p * p)


# Normalization layers, found by class name so this file needs none of them imported.
_NORM = re.compile(r"^_?(Sync)?(BatchNorm|InstanceNorm|LazyBatchNorm|LazyInstanceNorm)\d?d?$"
                   r"|^(LayerNorm|GroupNorm|RMSNorm|LocalResponseNorm|_NormBase)$")


def _is_norm(module) -> bool:
    return any(_NORM.match(cls.__name__) for cls in type(module).__mro__)


def _is_embedding(module) -> bool:
    return any(cls.__name__ in ("Embedding", "EmbeddingBag") for cls in type(module).__mro__)


def param_groups_for_weight_decay(module: Module, weight_decay: float,
                                  exclude=("bias", "norm")) -> list[dict]:
    """``[{"params": decay, "weight_decay": weight_decay}, {"params": no_decay,
    "weight_decay": 0.0}]`` for an optimizer, each parameter once (tied weights included).

    ``exclude`` names what goes to the undecayed group: ``"norm"`` — every parameter of a
    normalization layer (BatchNorm*, InstanceNorm*, LayerNorm, GroupNorm, RMSNorm, detected by
    class name, subclasses included); ``"embedding"`` — Embedding weights; any other string —
    parameters with that attribute name (``"bias"`` for all biases, or e.g. ``"pos_embed"``).
    Both groups are always returned, possibly empty.

    >>> import nerve.nn as nn
    >>> groups = param_groups_for_weight_decay(nn.Linear(3, 2), 0.01)
    >>> [len(g["params"]) for g in groups]
    [1, 1]
    """
    if not isinstance(module, Module):
        raise TypeError(f"param_groups_for_weight_decay: expected a Module, got "
                        f"{type(module).__name__}")
    exclude = (exclude,) if isinstance(exclude, str) else tuple(exclude)
    names = {e for e in exclude if e not in ("norm", "embedding")}
    decay, no_decay, seen = [], [], set()
    for _, mod in module.named_modules():
        layer_excluded = ("norm" in exclude and _is_norm(mod)) or (
            "embedding" in exclude and _is_embedding(mod))
        for name, p in mod._parameters.items():
            if p is None or id(p) in seen:
                continue
            seen.add(id(p))
            (no_decay if layer_excluded or name in names else decay).append(p)
    return [{"params": decay, "weight_decay": float(weight_decay)},
            {"params": no_decay, "weight_decay": 0.0}]
