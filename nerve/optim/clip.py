"""Gradient clipping: ``clip_grad_norm_`` (one global norm over all gradients) and
``clip_grad_value_`` (elementwise), in place on ``p.grad`` as ``torch.nn.utils``."""
from __future__ import annotations

import math

from ..autograd.tensor import Tensor
from ..backend import device_of, get_array_module, to_device


def _grads(parameters, op: str) -> list:
    """The gradient arrays of ``parameters`` (a Tensor or an iterable of Tensors) that have
    one."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = []
    for i, p in enumerate(parameters):
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: parameter {i} is a {type(p).__name__}, not a Tensor")
        if p.grad is not None:
            grads.append(p.grad)
    return grads


def _check_norm_type(norm_type, op: str) -> float:
    norm_type = float(norm_type)
    if not norm_type > 0:  # 0 counts nonzeros and is no norm of the concatenation
        raise ValueError(f"{op}: norm_type must be positive or inf, got {norm_type}")
    return norm_type


def _vector_norm(xp, a, p: float):
    a = xp.abs(a.ravel())
    if a.size == 0:
        return xp.zeros((), dtype=a.dtype)
    if p == math.inf:
        return a.max()
    if p == 1:
        return a.sum()
    if p == 2:
        return xp.sqrt((a * a).sum())
    return (a ** p).sum() ** (1.0 / p)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """The ``norm_type``-norm of all ``tensors`` joined into one vector (a 0-d Tensor on the
    first one's device); ``error_if_nonfinite`` raises for a nan or inf norm."""
    norm_type = _check_norm_type(norm_type, "get_total_norm")
    arrays = [t.data if isinstance(t, Tensor) else t for t in tensors]
    if not arrays:
        return Tensor._make(get_array_module().zeros((), dtype="float32"), None)
    xp = get_array_module(arrays[0])
    dev = device_of(arrays[0])
    # the norm of the per-tensor norms is the norm of the concatenation (for p > 0 and inf)
    norms = xp.stack([to_device(_vector_norm(get_array_module(a), a, norm_type), dev)
                      for a in arrays])
    total = _vector_norm(xp, norms, norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
            f"{float(total)}, so they cannot be clipped; pass error_if_nonfinite=False to "
            "scale them anyway (they then become nan or zero)")
    return Tensor._make(xp.asarray(total), None)


def clip_grads_with_norm_(parameters, max_norm: float, total_norm) -> None:
    """Scale the gradients by ``min(1, max_norm / (total_norm + 1e-6))`` in place."""
    total = total_norm.data if isinstance(total_norm, Tensor) else total_norm
    for g in _grads(parameters, "clip_grads_with_norm_"):
        xp = get_array_module(g.data)
        coef = xp.minimum(max_norm / (to_device(total, g.device) + 1e-6), 1.0)
        g.data *= coef.astype(g.data.dtype)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Rescale the gradients so their global ``norm_type``-norm is at most ``max_norm``.

    Returns the norm before clipping (a 0-d Tensor). Gradients under the limit are left as
    they are (scaled by exactly 1); above it, all are multiplied by
    ``max_norm / (norm + 1e-6)``, so their joint direction is kept. A nan or inf norm raises
    a RuntimeError with ``error_if_nonfinite=True``; otherwise the gradients are scaled by
    ``max_norm / norm`` all the same (as PyTorch: nan everywhere for a nan norm, zeros and nan
    for an inf one), and the returned norm lets a training loop detect that and skip the
    step.

    >>> import nerve
    >>> w = nerve.tensor([0.0, 0.0], requires_grad=True)
    >>> w.grad = nerve.tensor([3.0, 4.0])
    >>> clip_grad_norm_([w], max_norm=1.0)
    tensor(5.)
    >>> [round(x, 4) for x in w.grad.tolist()]
    [0.6, 0.8]
    """
    max_norm = float(max_norm)
    if not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be non-negative, got {max_norm}")
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parameters = list(parameters)
    grads = _grads(parameters, "clip_grad_norm_")
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    if grads:
        clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient entry into ``[-clip_value, clip_value]`` in place.

    >>> import nerve
    >>> w = nerve.tensor([0.0, 0.0], requires_grad=True)
    >>> w.grad = nerve.tensor([-3.0, 0.5])
    >>> clip_grad_value_([w], 1.0)
    >>> w.grad
    tensor([-1. ,  0.5])
    """
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be non-negative, got {clip_value}")
    for g in _grads(parameters, "clip_grad_value_"):
        xp = get_array_module(g.data)
        xp.clip(g.data, -clip_value, clip_value, out=g.data)
