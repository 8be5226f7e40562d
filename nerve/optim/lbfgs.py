"""``LBFGS``: limited-memory BFGS, with the signature and iterates of ``torch.optim.LBFGS``."""
from __future__ import annotations

from ._flat import FlatOptimizer


class LBFGS(FlatOptimizer):
    """Limited-memory BFGS (Nocedal & Wright, Algorithm 7.4, the two-loop recursion).

    The inverse Hessian is never formed: the last ``history_size`` pairs ``s = x_{k+1} - x_k``,
    ``y = g_{k+1} - g_k`` (those with ``y·s > 1e-10``) and the scale ``y·s / y·y`` of the initial
    matrix define the direction ``d = -H g``. ``step(closure)`` runs up to ``max_iter``
    iterations and at most ``max_eval`` closure calls, stopping early when the gradient's
    max-norm falls to ``tolerance_grad`` or the step or loss change to ``tolerance_change``.

    ``line_search_fn``: ``None`` (step ``lr``; the first iteration ever uses
    ``min(1, 1/|g|_1) lr``), ``"strong_wolfe"`` (c1 = ``alpha``, c2 = 0.9), ``"backtracking"``
    (Armijo with ``alpha`` and ``beta``) or a callable with the contract of
    ``nerve.optim.line_search.strong_wolfe``. As in PyTorch, one parameter group only, and the
    closure is required: it zeroes the gradients, computes the loss, calls backward and returns
    the loss.

    >>> import nerve
    >>> x = nerve.tensor([-1.2, 1.0], dtype=nerve.float64, requires_grad=True)
    >>> opt = LBFGS([x], max_iter=200, line_search_fn="strong_wolfe")
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
                 history_size: int = 100, line_search_fn=None, alpha: float = 1e-4,
                 beta: float = 0.5):
        if max_eval is None and isinstance(max_iter, int):
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn,
                        alpha=alpha, beta=beta)
        super().__init__(params, defaults)

    def _direction(self, state: dict, g):
        if state["n_iter"] == 1:
            state.update(old_dirs=[], old_stps=[], ro=[], H_diag=1.0)
            return -g
        old_dirs, old_stps, ro = state["old_dirs"], state["old_stps"], state["ro"]
        s, y, ys = self._secant_pair(state, g)
        if ys > 1e-10:  # keep the pair only where the curvature condition holds
            if len(old_dirs) == self.param_groups[0]["history_size"]:
                old_dirs.pop(0)
                old_stps.pop(0)
                ro.pop(0)
            old_dirs.append(y)
            old_stps.append(s)
            ro.append(1.0 / ys)
            state["H_diag"] = ys / float((y * y).sum())
        # two-loop recursion: q <- (prod of (I - rho y s^T)) (-g), then back with H_diag
        al = [0.0] * len(old_dirs)
        q = -g
        for i in range(len(old_dirs) - 1, -1, -1):
            al[i] = float((old_stps[i] * q).sum()) * ro[i]
            q = q - al[i] * old_dirs[i]
        r = q * state["H_diag"]
        for i in range(len(old_dirs)):
            be_i = float((old_dirs[i] * r).sum()) * ro[i]
            r = r + (al[i] - be_i) * old_stps[i]
        return r
