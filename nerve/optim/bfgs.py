"""``BFGS``: quasi-Newton with a dense inverse-Hessian approximation."""
from __future__ import annotations

from ..backend import get_array_module
from ._flat import FlatOptimizer


class BFGS(FlatOptimizer):
    """BFGS (Nocedal & Wright, Algorithm 6.1) with the dense inverse-Hessian update

        F_{k+1} = (I - rho s y^T) F_k (I - rho y s^T) + rho s s^T,   rho = 1 / (y^T s),

    where ``s = x_{k+1} - x_k`` and ``y = g_{k+1} - g_k``; the direction is ``d = -F g``. The
    update is skipped when ``y^T s <= 1e-10`` (it would lose positive definiteness: a Wolfe
    line search guarantees ``y^T s > 0``). ``F_0 = I``, rescaled to ``(y^T s / y^T y) I`` just
    before the first update (N&W eq. 6.20). Memory is ``n^2`` for ``n`` parameters: for large
    models use ``LBFGS``.

    ``step(closure)`` runs up to ``max_iter`` iterations like ``LBFGS`` (same stopping rules and
    first step ``min(1, 1/|g|_1) lr``); ``max_eval`` defaults to
    ``max(max_iter * 5 // 4, max_iter + 25)``, so that ``max_iter=1`` (one iteration per step,
    for drawing trajectories) still leaves the line search room. ``line_search_fn`` is
    ``"strong_wolfe"`` (default), ``"backtracking"``, ``None`` (fixed step ``lr``) or a
    callable; ``alpha`` (Armijo constant, c1 for Wolfe) and ``beta`` (backtracking factor).

    >>> import nerve
    >>> x = nerve.tensor([-1.2, 1.0], dtype=nerve.float64, requires_grad=True)
    >>> opt = BFGS([x], max_iter=100)
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = nerve.optim.problems.rosenbrock(x)
    ...     loss.backward()
    ...     return loss
    >>> _ = opt.step(closure)
    >>> [round(v, 4) for v in x.tolist()]
    [1.0, 1.0]
    """

    def __init__(self, params, lr: float = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9,
                 line_search_fn="strong_wolfe", alpha: float = 1e-4, beta: float = 0.5):
        if max_eval is None and isinstance(max_iter, int):
            max_eval = max(max_iter * 5 // 4, max_iter + 25)
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        line_search_fn=line_search_fn, alpha=alpha, beta=beta)
        super().__init__(params, defaults)

    def _direction(self, state: dict, g):
        if state["n_iter"] == 1:
            state["F"] = None  # the identity, not yet formed
            return -g
        s, y, ys = self._secant_pair(state, g)
        F = state["F"]
        if ys > 1e-10:
            xp = get_array_module(g)
            if F is None:
                F = (ys / float((y * y).sum())) * xp.eye(g.size, dtype=g.dtype)
            rho = 1.0 / ys
            Fy = F @ y
            # the product form expanded (F symmetric): O(n^2) instead of two n^3 products
            F = (F - rho * (xp.outer(s, Fy) + xp.outer(Fy, s))
                 + (rho * rho * float((y * Fy).sum()) + rho) * xp.outer(s, s))
            state["F"] = F
        return -g if F is None else -(F @ g)
