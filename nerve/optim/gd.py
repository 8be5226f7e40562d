"""``GD``: full-batch gradient descent with a fixed step or a line search."""
from __future__ import annotations

from ..backend import get_array_module
from ._flat import FlatOptimizer
from .optimizer import Optimizer, required


class GD(FlatOptimizer):
    """Gradient descent ``x <- x - lr grad f(x)``.

    With ``line_search_fn=None`` (default) this is the fixed-step method of the lectures: it
    accepts parameter groups with their own ``lr`` and, like ``SGD``, ``step()`` works with or
    without a closure. With ``line_search_fn="backtracking"`` each step starts at ``t = lr`` and
    halves (``t <- beta t``) until the Armijo condition
    ``f(x - t g) <= f(x) - alpha t |g|^2`` holds (Boyd & Vandenberghe, Algorithm 9.2);
    ``"strong_wolfe"`` or a callable also work. A line search needs the closure and one group.

    >>> import nerve
    >>> x = nerve.tensor([1.0, 1.0], dtype=nerve.float64, requires_grad=True)
    >>> opt = GD([x], lr=0.1)
    >>> nerve.optim.problems.quadratic(x, a=10.0).backward()
    >>> opt.step()
    >>> x.tolist()  # x - 0.1 * (1, 10)
    [0.9, 0.0]
    """

    _ls_budget = 50

    def __init__(self, params, lr: float = required, line_search_fn=None, alpha: float = 1e-4,
                 beta: float = 0.5):
        defaults = dict(lr=lr, line_search_fn=line_search_fn, alpha=alpha, beta=beta)
        super().__init__(params, defaults)

    def _single_group(self) -> bool:
        return self.defaults["line_search_fn"] is not None

    def _validate_group(self, group: dict) -> None:
        super()._validate_group(group)
        if group["line_search_fn"] != self.defaults["line_search_fn"]:
            raise ValueError("GD: line_search_fn is an optimizer-wide option; pass it to GD(), "
                             "not in a parameter group")

    def step(self, closure=None):
        if self.defaults["line_search_fn"] is None:
            return Optimizer.step(self, closure)
        return super().step(closure)

    def _update(self, group: dict, params: list) -> None:
        for p in params:
            p.data = get_array_module(p.data).asarray(p.data - group["lr"] * p.grad.data)

    def _direction(self, state: dict, g):
        return -g

    def _initial_step(self, state: dict, g, d, gtd: float, lr: float) -> float:
        return lr
