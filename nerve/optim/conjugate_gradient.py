"""``ConjugateGradient``: nonlinear conjugate gradient (Fletcher-Reeves, Polak-Ribiere)."""
from __future__ import annotations

from ._flat import FlatOptimizer

VARIANTS = ("FR", "PR", "PR+")


class ConjugateGradient(FlatOptimizer):
    """Nonlinear conjugate gradient (Nocedal & Wright, section 5.2): ``d = -g + beta d_prev``

    * ``"FR"`` Fletcher-Reeves:  ``beta = g·g / g_prev·g_prev``
    * ``"PR"`` Polak-Ribiere:    ``beta = g·(g - g_prev) / g_prev·g_prev``
    * ``"PR+"`` (default):       ``max(beta_PR, 0)``, which restarts by itself when PR stalls.

    Restarts (``d = -g``) every ``restart_every`` iterations (default: the number of
    parameters), when consecutive gradients are far from orthogonal
    (``|g·g_prev| >= 0.1 g·g``, Powell) and whenever ``d`` is not a descent direction. The
    line search is strong Wolfe with c2 = 0.1 (CG needs a tighter one than quasi-Newton
    methods); later iterations start it at ``t_prev (g_prev·d_prev) / (g·d)`` (N&W eq. 3.60).
    Loop, stopping rules and ``max_eval`` default as ``BFGS``.

    >>> import nerve
    >>> x = nerve.tensor([3.0, 1.0], dtype=nerve.float64, requires_grad=True)
    >>> opt = ConjugateGradient([x], max_iter=10)
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = nerve.optim.problems.quadratic(x, a=10.0)
    ...     loss.backward()
    ...     return loss
    >>> _ = opt.step(closure)
    >>> bool(abs(x.detach()).max() < 1e-6)
    True
    """

    _c2 = 0.1

    def __init__(self, params, lr: float = 1, variant: str = "PR+", max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, restart_every: int | None = None,
                 line_search_fn="strong_wolfe", alpha: float = 1e-4, beta: float = 0.5):
        if variant not in VARIANTS:
            raise ValueError(f"ConjugateGradient: variant must be one of {VARIANTS}, "
                             f"got {variant!r}")
        if max_eval is None and isinstance(max_iter, int):
            max_eval = max(max_iter * 5 // 4, max_iter + 25)
        defaults = dict(lr=lr, variant=variant, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        restart_every=restart_every, line_search_fn=line_search_fn,
                        alpha=alpha, beta=beta)
        super().__init__(params, defaults)

    def _direction(self, state: dict, g):
        group = self.param_groups[0]
        every = group["restart_every"] or g.size
        gg = float((g * g).sum())
        if state["n_iter"] > 1 and state["since_restart"] + 1 < every:
            g_prev = state["prev_flat_grad"]
            gg_prev = float((g_prev * g_prev).sum())
            g_gprev = float((g * g_prev).sum())
            if abs(g_gprev) < 0.1 * gg and gg_prev > 0:
                if group["variant"] == "FR":
                    beta = gg / gg_prev
                else:
                    beta = (gg - g_gprev) / gg_prev
                    if group["variant"] == "PR+":
                        beta = max(beta, 0.0)
                d = -g + beta * state["d"]
                if float((g * d).sum()) < 0:
                    state["since_restart"] += 1
                    return d
        state["since_restart"] = 0
        return -g

    def _initial_step(self, state: dict, g, d, gtd: float, lr: float) -> float:
        if state["n_iter"] > 1 and gtd < 0:
            t = state["t"] * state["gtd"] / gtd
            if 0 < t < float("inf"):  # not after a failed search (t = 0)
                return t
        return super()._initial_step(state, g, d, gtd, lr)
