"""``HessianFree``: truncated Newton with conjugate gradient on curvature-vector products."""
from __future__ import annotations

import math

from ..autograd import grad_mode
from ..autograd.engine import grad as autograd_grad
from ..autograd.tensor import Tensor
from ..backend import get_array_module
from ._flat import (
    FlatOptimizer,
    add_to_params,
    call_closure,
    closure_gradients,
    flat_params,
    flatten,
    graph_vector_product,
    hessian_vector_product,
    release_graph,
    set_params,
    unflatten,
)
from .line_search import backtracking
from .optimizer import check_hyper

CURVATURES = ("hessian", "gauss_newton")


class HessianFree(FlatOptimizer):
    """Hessian-free optimization (Martens, "Deep learning via Hessian-free optimization",
    ICML 2010): each step minimizes the damped quadratic model

        q(p) = g·p + 1/2 p^T (B + lambda I) p

    by linear conjugate gradient, using only products ``B v`` (never ``B`` itself):

    * ``curvature="hessian"``: ``B = H``, products by double backward (``H v = d(g·v)/dx``).
      CG stops early on a direction of negative curvature.
    * ``curvature="gauss_newton"``: ``B = J^T H_L J``, with ``J`` the Jacobian of the model's
      output and ``H_L`` the Hessian of the loss with respect to that output; positive
      semi-definite for convex losses (MSE, cross-entropy), Martens' choice for networks.

    Details from the paper: CG is warm-started from ``cg_decay`` times the previous step,
    capped at ``max_cg`` iterations and stopped when the model's relative progress over the
    last ``k = max(10, i/10)`` iterations falls below ``k * 5e-4`` (or the residual below
    ``cg_tol |g|``); ``lambda`` (Tikhonov damping, initial ``damping``) follows the
    Levenberg-Marquardt rule on the reduction ratio ``rho = (f(x + p) - f(x)) / q(p)``:
    ``lambda *= 3/2`` when ``rho < 1/4``, ``lambda *= 2/3`` when ``rho > 3/4`` (turn off with
    ``adapt_damping=False``). The step is ``lr p``, shortened by a backtracking (Armijo) line
    search unless ``line_search_fn=None``. One outer iteration per ``step``; the current
    lambda, rho and CG iteration count are in ``optimizer.state[first_param]``.

    The closure zeroes the gradients and returns the loss without calling backward (or after
    ``loss.backward(create_graph=True)``); for Gauss-Newton it returns ``(loss, output)``
    where ``loss`` is computed from the Tensor ``output`` (the model's prediction).

    >>> import nerve
    >>> x = nerve.tensor([-1.2, 1.0], dtype=nerve.float64, requires_grad=True)
    >>> opt = HessianFree([x], damping=0.1)
    >>> def closure():
    ...     opt.zero_grad()
    ...     return nerve.optim.problems.rosenbrock(x)
    >>> for _ in range(60):
    ...     _ = opt.step(closure)
    >>> [round(v, 4) for v in x.tolist()]
    [1.0, 1.0]
    """

    def __init__(self, params, lr: float = 1, damping: float = 1.0, curvature: str = "hessian",
                 max_cg: int = 50, cg_tol: float = 1e-10, cg_decay: float = 0.95,
                 adapt_damping: bool = True, line_search_fn="backtracking", alpha: float = 1e-4,
                 beta: float = 0.5):
        defaults = dict(lr=lr, damping=damping, curvature=curvature, max_cg=max_cg,
                        cg_tol=cg_tol, cg_decay=cg_decay, adapt_damping=adapt_damping,
                        line_search_fn=line_search_fn, alpha=alpha, beta=beta)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict) -> None:
        super()._validate_group(group)
        if group["curvature"] not in CURVATURES:
            raise ValueError(f"HessianFree: curvature must be one of {CURVATURES}, got "
                             f"{group['curvature']!r}")
        if group["line_search_fn"] not in (None, "backtracking"):
            raise ValueError("HessianFree: line_search_fn must be None or 'backtracking', got "
                             f"{group['line_search_fn']!r}")
        check_hyper(self, "cg_tol", group["cg_tol"])
        check_hyper(self, "cg_decay", group["cg_decay"], 0.0, 1.0)

    def step(self, closure=None):
        """One outer iteration; returns the closure's loss at the starting point."""
        if closure is None:
            raise TypeError("HessianFree.step: a closure is required (it zeroes the gradients "
                            "and returns the loss, or (loss, output) for Gauss-Newton)")
        group = self.param_groups[0]
        params = self._params
        state = self.state_for(params[0])
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        state.setdefault("damping", float(group["damping"]))

        loss, product, g = self._curvature(call_closure(closure), group["curvature"])
        release_graph(params)
        f = float(loss)
        state["func_evals"] += 1
        state["n_iter"] += 1
        if not bool((g != 0).any()):
            return loss
        lam = state["damping"]

        def damped(v):
            return product(v) + lam * v

        previous = state.get("prev_step")
        start = None if previous is None else group["cg_decay"] * previous
        p, q_p, state["cg_iters"] = _conjugate_gradient(damped, g, start, group["max_cg"],
                                                        group["cg_tol"])
        gtd = float((g * p).sum())
        if not gtd < 0:  # (only after a poor warm start) fall back to steepest descent
            p = -g
            gtd = float((g * p).sum())
            q_p = gtd + 0.5 * float((p * damped(p)).sum())
        state["prev_step"] = p

        x = flat_params(params)
        lr = group["lr"]
        trials = []

        def obj(t):
            add_to_params(params, t, p)
            value = call_closure(closure)
            set_params(params, x)
            trials.append(float(value[0] if isinstance(value, (tuple, list)) else value))
            return trials[-1], None

        if group["line_search_fn"] is None:
            t, evals = lr, 1
            obj(lr)
        else:
            found = backtracking(obj, f, gtd, lr, group["alpha"], group["beta"],
                                 max_evals=self._ls_budget)
            t, evals = found.t, found.evals
        add_to_params(params, t, p)
        state["func_evals"] += evals
        # Levenberg-Marquardt on the full step's agreement with the model
        q_full = lr * gtd + lr * lr * (q_p - gtd)
        rho = (trials[0] - f) / q_full if q_full < 0 else -math.inf
        state["rho"] = rho
        if group["adapt_damping"]:
            if rho < 0.25:
                state["damping"] = lam * 1.5
            elif rho > 0.75:
                state["damping"] = lam * (2.0 / 3.0)
        return loss

    def _curvature(self, out, kind: str):
        """(loss, v -> B v, flat gradient) from the closure's return value."""
        params = self._params
        if kind == "hessian":
            loss = out[0] if isinstance(out, (tuple, list)) else out
            grads = closure_gradients("HessianFree", loss, params, create_graph=True)
            return loss, (lambda v: hessian_vector_product(grads, params, v)), \
                flatten(grads, params)
        if not (isinstance(out, (tuple, list)) and len(out) == 2
                and all(isinstance(o, Tensor) for o in out)):
            raise TypeError("HessianFree(curvature='gauss_newton'): the closure must return "
                            "(loss, output) Tensors, the loss computed from the model's output, "
                            f"got {type(out).__name__}")
        loss, output = out
        if not (loss.requires_grad and output.requires_grad):
            raise RuntimeError("HessianFree: the loss and output must depend on the parameters "
                               "(return them without calling backward)")
        xp = get_array_module(output.data)
        with grad_mode.enable_grad():
            try:
                grads = autograd_grad(loss, [output, *params], create_graph=True,
                                      allow_unused=True)
            except RuntimeError as err:
                raise RuntimeError("HessianFree(curvature='gauss_newton'): the closure's graph "
                                   "was freed; return (loss, output) without calling "
                                   "loss.backward()") from err
            g_out = grads[0]
            # J^T u for a dummy u: linear in u, so differentiating it by u gives J v
            u = Tensor(xp.zeros_like(output.data), requires_grad=True)
            jt_u = autograd_grad(output, params, grad_outputs=u, create_graph=True,
                                 retain_graph=True, allow_unused=True)

        def gauss_newton_product(v):
            jv = graph_vector_product(jt_u, [u], unflatten(v, params))
            hjv = graph_vector_product([g_out], [output], [jv.reshape(output.shape)])
            return graph_vector_product([output], params, [hjv.reshape(output.shape)])

        return loss, gauss_newton_product, flatten(grads[1:], params)


def _conjugate_gradient(B, g, start, max_iter: int, tol: float):
    """Minimize ``q(p) = g·p + p^T B p / 2`` (solve ``B p = -g``) by linear CG from ``start``.

    Returns ``(p, q(p), iterations)``. Stops on negative curvature, a small residual, or
    Martens' relative-progress test.
    """
    xp = get_array_module(g)
    if start is None or start.shape != g.shape:
        x, r = xp.zeros_like(g), -g
    else:
        x = start
        r = -g - B(x)
        if 0.5 * float((x * (g - r)).sum()) >= 0:  # the warm start is no better than 0
            x, r = xp.zeros_like(g), -g
    phis = [0.5 * float((x * (g - r)).sum())]  # q(x) = x·(g - r)/2 since B x = -g - r
    d = r.copy()
    rr = float((r * r).sum())
    g_norm = math.sqrt(float((g * g).sum()))
    i = 0
    while i < max_iter:
        Bd = B(d)
        curvature = float((d * Bd).sum())
        if curvature <= 0:  # negative curvature: keep what we have (or go along -g)
            if i == 0 and not bool((x != 0).any()):
                x = d
                phis.append(float((g * x).sum()) + 0.5 * curvature)
            break
        i += 1
        a = rr / curvature
        x = x + a * d
        r = r - a * Bd
        phis.append(0.5 * float((x * (g - r)).sum()))
        rr_new = float((r * r).sum())
        if math.sqrt(rr_new) <= tol * g_norm:
            break
        k = max(10, int(0.1 * i))
        if i > k and phis[-1] < 0 and (phis[-1] - phis[-1 - k]) / phis[-1] < k * 5e-4:
            break
        d = r + (rr_new / rr) * d
        rr = rr_new
    return x, phis[-1], i
