"""The Adam family: ``Adam`` (optionally AMSGrad), ``AdamW`` (decoupled weight decay) and
``NAdam`` (Nesterov momentum), each update one function over arrays with torch's formula."""
from __future__ import annotations

import math

from ..backend import get_array_module
from .optimizer import Optimizer, check_hyper, check_lr_eps_decay, count_step, state_buffer


def _moments(param, grad, state, *, lr, betas, weight_decay, decoupled_weight_decay, maximize):
    """The part Adam and NAdam share: weight decay, ``step``, and the two moment averages
    ``m = β1 m + (1-β1) g``, ``v = β2 v + (1-β2) g²`` (updated in ``state``).

    Decoupled (AdamW) decay shrinks the parameter, ``θ ← θ (1 - lr·wd)``, before the step;
    otherwise ``wd·θ`` is added to the gradient (L2). Returns (param, grad, m, v, step) with
    the gradient the rule sees."""
    step = count_step(state, param, exp_avg=0, exp_avg_sq=0)
    if maximize:
        grad = -grad
    if weight_decay != 0:
        if decoupled_weight_decay:
            param = param * (1 - lr * weight_decay)
        else:
            grad = grad + weight_decay * param
    beta1, beta2 = betas
    m, v = state["exp_avg"], state["exp_avg_sq"]
    m += (1 - beta1) * (grad - m)
    v *= beta2
    v += (1 - beta2) * grad * grad
    return param, grad, m, v, step


def adam_update(param, grad, state, *, lr, betas, eps, weight_decay, amsgrad, maximize,
                decoupled_weight_decay):
    """``θ ← θ - lr/(1-β1ᵗ) · m / (√v̂/√(1-β2ᵗ) + eps)``, ``v̂ = v`` or, with AMSGrad, the
    running maximum of ``v`` (Kingma & Ba 2015; Reddi et al. 2018)."""
    param, _, m, v, step = _moments(param, grad, state, lr=lr, betas=betas,
                                    weight_decay=weight_decay, maximize=maximize,
                                    decoupled_weight_decay=decoupled_weight_decay)
    xp = get_array_module(param)
    if amsgrad:
        vmax = state_buffer(state, "max_exp_avg_sq", param)
        xp.maximum(vmax, v, out=vmax)
        v = vmax
    beta1, beta2 = betas
    denom = xp.sqrt(v) / math.sqrt(1 - beta2 ** step) + eps
    return param - lr / (1 - beta1 ** step) * (m / denom)


def nadam_update(param, grad, state, *, lr, betas, eps, weight_decay, momentum_decay,
                 maximize, decoupled_weight_decay):
    """NAdam (Dozat 2016) with torch's momentum schedule ``μ_t = β1 (1 - ½·0.96^(t·ψ))``:
    ``θ ← θ - lr(1-μ_t)/(1-Πμ) · g/d - lr·μ_{t+1}/(1-Πμ·μ_{t+1}) · m/d``,
    ``d = √(v/(1-β2ᵗ)) + eps``."""
    param, grad, m, v, step = _moments(param, grad, state, lr=lr, betas=betas,
                                       weight_decay=weight_decay, maximize=maximize,
                                       decoupled_weight_decay=decoupled_weight_decay)
    xp = get_array_module(param)
    beta1, beta2 = betas
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
    state["mu_product"] = mu_product = state.get("mu_product", 1.0) * mu
    denom = xp.sqrt(v / (1 - beta2 ** step)) + eps
    param = param - lr * (1.0 - mu) / (1.0 - mu_product) * (grad / denom)
    return param - lr * mu_next / (1.0 - mu_product * mu_next) * (m / denom)


def _check_adam(opt, group):
    check_lr_eps_decay(opt, group)
    betas = group["betas"]
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{type(opt).__name__}: betas must be a pair (beta1, beta2), "
                         f"got {betas!r}")
    for i, beta in enumerate(betas):
        check_hyper(opt, f"beta{i + 1}", beta, 0.0, 1.0, high_open=True)


class Adam(Optimizer):
    """Adam with bias correction; ``weight_decay`` is L2 added to the gradient unless
    ``decoupled_weight_decay`` (then it is ``AdamW``).

    >>> import nerve
    >>> w = nerve.tensor([1.0, -3.0], requires_grad=True)
    >>> (w * w).sum().backward()
    >>> _ = Adam([w], lr=0.1).step()
    >>> w  # the first step moves every coordinate by about lr
    tensor([ 0.9, -2.9], requires_grad=True)
    """

    _rule = adam_update

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False,
                 decoupled_weight_decay: bool = False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=bool(amsgrad),
                                      maximize=bool(maximize),
                                      decoupled_weight_decay=bool(decoupled_weight_decay)))

    def _validate_group(self, group):
        _check_adam(self, group)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019): ``θ ← θ(1 - lr·wd)``
    before the Adam step, so the decay scales with the (scheduled) learning rate.

    >>> import nerve
    >>> w = nerve.tensor([2.0], requires_grad=True)
    >>> w.grad = nerve.tensor([0.0])
    >>> _ = AdamW([w], lr=0.1, weight_decay=0.5).step()
    >>> round(w.item(), 6)  # 2 * (1 - 0.1 * 0.5); the zero gradient moves nothing
    1.9
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, maximize: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True)


class NAdam(Optimizer):
    """Adam with Nesterov momentum (Dozat 2016), as ``torch.optim.NAdam``.

    >>> import nerve
    >>> w = nerve.tensor([1.0, -3.0], requires_grad=True)
    >>> (w * w).sum().backward()
    >>> _ = NAdam([w], lr=0.1).step()
    >>> [round(x, 3) for x in w.tolist()]
    [0.894, -2.894]
    """

    _rule = nadam_update

    def __init__(self, params, lr: float = 2e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, maximize: bool = False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, momentum_decay=momentum_decay,
                                      decoupled_weight_decay=bool(decoupled_weight_decay),
                                      maximize=bool(maximize)))

    def _validate_group(self, group):
        _check_adam(self, group)
        check_hyper(self, "momentum_decay", group["momentum_decay"])
