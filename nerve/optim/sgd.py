"""``SGD``: stochastic gradient descent with heavy-ball (Polyak) or Nesterov momentum."""
from __future__ import annotations

from .optimizer import Optimizer, check_hyper, decayed_grad


def sgd_update(param, grad, state, *, lr, momentum, dampening, weight_decay, nesterov,
               maximize):
    """One SGD step on arrays (``torch.optim.SGD``'s formula); returns the new parameter.

    ``g = ∇ + wd·θ``;  ``b = g`` on the first step, then ``b = μ b + (1 - τ) g``;
    ``θ ← θ - lr·(g + μ b)`` with Nesterov, else ``θ ← θ - lr·b``.
    """
    grad = decayed_grad(param, grad, weight_decay, maximize)
    if momentum != 0:
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = grad.copy()
        else:
            buf *= momentum
            buf += (1 - dampening) * grad
        grad = grad + momentum * buf if nesterov else buf
    return param - lr * grad


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum, as ``torch.optim.SGD``.

    >>> import nerve
    >>> w = nerve.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1, momentum=0.9)
    >>> (w * w).sum().backward()
    >>> _ = opt.step()
    >>> w
    tensor([ 0.8, -1.6], requires_grad=True)
    """

    _rule = sgd_update

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, maximize: bool = False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=bool(nesterov),
                                      maximize=bool(maximize)))

    def _validate_group(self, group):
        check_hyper(self, "lr", group["lr"])
        check_hyper(self, "momentum", group["momentum"], 0.0, 1.0, high_open=True)
        check_hyper(self, "dampening", group["dampening"], 0.0, 1.0)
        check_hyper(self, "weight_decay", group["weight_decay"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires momentum > 0 and dampening = 0, "
                             f"got momentum={group['momentum']}, "
                             f"dampening={group['dampening']}")
