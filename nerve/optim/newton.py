"""``Newton``: Newton's method with the exact Hessian from autograd, for small models."""
from __future__ import annotations

import numpy

from ..backend import get_array_module
from ._flat import (
    FlatOptimizer,
    call_closure,
    closure_gradients,
    flatten,
    hessian_vector_product,
    release_graph,
)


class Newton(FlatOptimizer):
    """Newton's method: ``x <- x + lr d`` with ``(H + damping I) d = -g``.

    ``H`` is the exact Hessian of the closure's loss, built by autograd one column per
    Hessian-vector product (``n`` double-backward passes for ``n`` parameters), so the method
    is for models with few parameters: above ``max_params`` (default 2000) construction fails.
    ``damping`` (``lambda`` >= 0) shifts the spectrum (Levenberg-style), which also makes
    singular or indefinite Hessians usable. With a line search (``"backtracking"``,
    ``"strong_wolfe"`` or a callable; it starts at ``t = lr``) a direction that is not a
    descent direction (``H`` indefinite) is replaced by ``-g``; without one, the pure Newton
    step is taken whatever its direction (and heads for saddle points, as the lectures show).
    One iteration per ``step``.

    The closure must leave second derivatives reachable: it zeroes the gradients and returns
    the loss *without* calling ``loss.backward()`` (Newton differentiates it), or calls
    ``loss.backward(create_graph=True)``. A plain ``backward()`` frees the graph and is
    reported as an error.

    >>> import nerve
    >>> x = nerve.tensor([3.0, -2.0], dtype=nerve.float64, requires_grad=True)
    >>> opt = Newton([x])
    >>> def closure():
    ...     opt.zero_grad()
    ...     return nerve.optim.problems.quadratic(x, a=10.0)
    >>> _ = opt.step(closure)  # a quadratic: the minimum in one step
    >>> x.tolist()
    [0.0, 0.0]
    """

    _descent_only = False  # pure Newton steps even where H is indefinite (towards saddles)

    def __init__(self, params, lr: float = 1, damping: float = 0.0, max_params: int = 2000,
                 line_search_fn=None, alpha: float = 1e-4, beta: float = 0.5):
        defaults = dict(lr=lr, damping=damping, max_params=max_params,
                        line_search_fn=line_search_fn, alpha=alpha, beta=beta)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict) -> None:
        super()._validate_group(group)
        n = sum(p.numel() for p in group["params"])
        if n > group["max_params"]:
            raise ValueError(
                f"Newton: the parameters have {n} entries, above the limit "
                f"max_params={group['max_params']} (the exact Hessian would be {n} x {n} and "
                f"take {n} backward passes per step); use LBFGS or HessianFree, or raise "
                "max_params")

    def _first_evaluation(self, closure):
        loss = call_closure(closure)
        grads = closure_gradients("Newton", loss, self._params, create_graph=True)
        g = flatten(grads, self._params)
        xp = get_array_module(g)
        n = g.size
        H = xp.empty((n, n), dtype=g.dtype)
        unit = xp.zeros(n, dtype=g.dtype)
        for j in range(n):
            unit[j] = 1
            H[:, j] = hessian_vector_product(grads, self._params, unit)
            unit[j] = 0
        self.state_for(self._params[0])["hessian"] = (H + H.T) / 2  # exact up to rounding
        release_graph(self._params)
        return loss, g

    def _direction(self, state: dict, g):
        group = self.param_groups[0]
        xp = get_array_module(g)
        A = state["hessian"] + group["damping"] * xp.eye(g.size, dtype=g.dtype)
        try:
            d = xp.linalg.solve(A, -g)
        except numpy.linalg.LinAlgError:  # CuPy raises NumPy's class too
            d = None
        if d is None or not bool(xp.isfinite(d).all()):
            raise RuntimeError(f"Newton: the Hessian plus damping={group['damping']} is "
                               "singular at this point; pass damping > 0")
        if group["line_search_fn"] is not None and float((g * d).sum()) >= 0:
            return -g
        return d

    def _initial_step(self, state: dict, g, d, gtd: float, lr: float) -> float:
        return lr
