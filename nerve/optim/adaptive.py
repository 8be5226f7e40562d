"""Per-coordinate adaptive step sizes: ``Adagrad``, ``RMSprop``, ``Adadelta``.

Each update is one function over arrays, with ``torch.optim``'s formula and defaults.
"""
from __future__ import annotations

from ..backend import get_array_module
from .optimizer import (
    Optimizer,
    check_hyper,
    check_lr_eps_decay,
    count_step,
    decayed_grad,
    state_buffer,
)


def adagrad_update(param, grad, state, *, lr, lr_decay, weight_decay, initial_accumulator_value,
                   eps, maximize):
    """``G += g²``;  ``θ ← θ - lr/(1 + (t-1)·lr_decay) · g / (√G + eps)``."""
    xp = get_array_module(param)
    step = count_step(state, param, sum=initial_accumulator_value)
    grad = decayed_grad(param, grad, weight_decay, maximize)
    clr = lr / (1 + (step - 1) * lr_decay)
    acc = state["sum"]
    acc += grad * grad
    return param - clr * (grad / (xp.sqrt(acc) + eps))


def rmsprop_update(param, grad, state, *, lr, alpha, eps, weight_decay, momentum, centered,
                   maximize):
    """``v = α v + (1-α) g²``; centered: ``ḡ = α ḡ + (1-α) g``, ``v - ḡ²`` in place of ``v``;
    ``θ ← θ - lr·g/(√v + eps)``, or through a momentum buffer ``b = μ b + g/(√v + eps)``."""
    xp = get_array_module(param)
    count_step(state, param, square_avg=0)
    grad = decayed_grad(param, grad, weight_decay, maximize)
    sq = state["square_avg"]
    sq *= alpha
    sq += (1 - alpha) * grad * grad
    if centered:
        avg = state_buffer(state, "grad_avg", param)
        avg += (1 - alpha) * (grad - avg)
        denom = xp.sqrt(sq - avg * avg) + eps
    else:
        denom = xp.sqrt(sq) + eps
    if momentum > 0:
        buf = state_buffer(state, "momentum_buffer", param)
        buf *= momentum
        buf += grad / denom
        return param - lr * buf
    return param - lr * (grad / denom)


def adadelta_update(param, grad, state, *, lr, rho, eps, weight_decay, maximize):
    """``v = ρ v + (1-ρ) g²``;  ``Δ = √(u + eps)/√(v + eps) · g``;  ``u = ρ u + (1-ρ) Δ²``;
    ``θ ← θ - lr·Δ`` (Zeiler 2012, with torch's ``lr`` factor)."""
    xp = get_array_module(param)
    count_step(state, param, square_avg=0, acc_delta=0)
    grad = decayed_grad(param, grad, weight_decay, maximize)
    sq, acc = state["square_avg"], state["acc_delta"]
    sq *= rho
    sq += (1 - rho) * grad * grad
    delta = xp.sqrt(acc + eps) / xp.sqrt(sq + eps) * grad
    acc *= rho
    acc += (1 - rho) * delta * delta
    return param - lr * delta


class Adagrad(Optimizer):
    """Adagrad (Duchi et al. 2011): steps shrink with the accumulated squared gradients.

    >>> import nerve
    >>> w = nerve.tensor([1.0], requires_grad=True)
    >>> (w * w).sum().backward()
    >>> _ = Adagrad([w], lr=0.5).step()
    >>> round(w.item(), 6)  # 1 - 0.5 * 2 / sqrt(4)
    0.5
    """

    _rule = adagrad_update

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10,
                 maximize: bool = False):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=bool(maximize)))

    def _validate_group(self, group):
        check_lr_eps_decay(self, group)
        check_hyper(self, "lr_decay", group["lr_decay"])
        check_hyper(self, "initial_accumulator_value", group["initial_accumulator_value"])


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), optionally centered (Graves 2013) and with momentum.

    >>> import nerve
    >>> w = nerve.tensor([1.0], requires_grad=True)
    >>> (w * w).sum().backward()
    >>> _ = RMSprop([w], lr=0.01, alpha=0.75, eps=0.0).step()
    >>> round(w.item(), 6)  # 1 - 0.01 * 2 / sqrt(0.25 * 4)
    0.98
    """

    _rule = rmsprop_update

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 maximize: bool = False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=bool(centered),
                                      maximize=bool(maximize)))

    def _validate_group(self, group):
        check_lr_eps_decay(self, group)
        check_hyper(self, "alpha", group["alpha"], 0.0, 1.0)
        check_hyper(self, "momentum", group["momentum"], 0.0, 1.0, high_open=True)


class Adadelta(Optimizer):
    """Adadelta (Zeiler 2012): unit-correct steps from running averages of g² and Δθ².

    >>> import nerve
    >>> w = nerve.tensor([1.0], requires_grad=True)
    >>> (w * w).sum().backward()
    >>> _ = Adadelta([w], rho=0.0, eps=1e-6).step()
    >>> round(w.item(), 6)  # 1 - sqrt(1e-6) / sqrt(4 + 1e-6) * 2
    0.999
    """

    _rule = adadelta_update

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, maximize: bool = False):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=bool(maximize)))

    def _validate_group(self, group):
        check_lr_eps_decay(self, group)
        check_hyper(self, "rho", group["rho"], 0.0, 1.0)
